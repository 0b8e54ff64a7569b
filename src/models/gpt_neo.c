/*
 * gpt_neo.c - EleutherAI's GPT-Neo (gpt-neo-125m, 1.3B, 2.7B) from Hugging
 * Face checkpoints.
 *
 * Block (pre-LN, as GPT-2): x += out_proj(attn(ln_1(x))); x += c_proj(gelu_new(c_fc(ln_2(x))))
 * then ln_f and the head tied to wte. Differences from GPT-2: nn.Linear
 * weights (out, in) = NK, q/k/v without bias, attention scores NOT scaled by
 * 1/sqrt(hd), and layers alternate between global (full causal) attention
 * and local attention over the last window_size positions (attention_types,
 * e.g. [[["global", "local"], 6]] for 12 layers).
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

typedef struct {
    const float *ln1_g, *ln1_b;  /* (C) */
    temper__mat q, k, v, o;      /* (C, C) NK */
    const float *bo;             /* (C) out_proj bias */
    const float *ln2_g, *ln2_b;  /* (C) */
    temper__mat fc, proj;        /* (F, C), (C, F) NK */
    const float *b_fc, *b_proj;  /* (F), (C) */
    int window;                  /* 0: global; window_size: local */
} temper__gpt_neo_layer;

typedef struct {
    const temper__tensor *wte;   /* (V, C) */
    const temper__tensor *wpe;   /* (P, C) */
    const float *lnf_g, *lnf_b;  /* (C) */
    temper__mat head;            /* (V, C) NK: wte or lm_head */
    temper__gpt_neo_layer *layers; /* (L) */
} temper__gpt_neo;

static const char *const temper__gpt_neo_prefixes[] = {"transformer.", "", NULL};

/* Layer n is of kind k ("global" or "local"). */
static int temper__gpt_neo_kind(temper_model *m, temper__gpt_neo *g, int n, const cJSON *k, int window) {
    const char *kind = cJSON_IsString(k) ? k->valuestring : "(not a string)";
    if (n >= m->hp.n_layer) return 0; /* counted, reported by the caller */
    if (strcmp(kind, "global") == 0) g->layers[n].window = 0;
    else if (strcmp(kind, "local") == 0) g->layers[n].window = window;
    else
        return temper__error(TEMPER_EUNSUPPORTED,
                             "%s/config.json: attention_types: layer %d has kind \"%s\", which temper does not "
                             "implement (it runs \"global\" and \"local\")",
                             m->path, n, kind);
    return 0;
}

/* Layer kinds from attention_types ([[kinds, repeat], ...], expanded as
 * transformers does) or, without it, from the list attention_layers. */
static int temper__gpt_neo_kinds(temper_model *m, const cJSON *cfg, temper__gpt_neo *g, int window) {
    const int L = m->hp.n_layer;
    int n = 0, rc;
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(cfg, "attention_types");
    const cJSON *flat = cJSON_GetObjectItemCaseSensitive(cfg, "attention_layers"), *k, *item;
    if (cJSON_IsArray(types)) {
        cJSON_ArrayForEach(item, types) {
            const cJSON *list = cJSON_GetArrayItem(item, 0), *rep = cJSON_GetArrayItem(item, 1);
            if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) != 2 || !cJSON_IsArray(list) ||
                !cJSON_IsNumber(rep) || rep->valuedouble < 0 || rep->valuedouble > L)
                return temper__error(TEMPER_EFORMAT,
                                     "%s/config.json: attention_types should be a list of [[kinds...], count] "
                                     "pairs such as [[[\"global\", \"local\"], 6]]",
                                     m->path);
            for (int r = 0; r < (int)rep->valuedouble && n <= L; r++)
                cJSON_ArrayForEach(k, list) {
                    if ((rc = temper__gpt_neo_kind(m, g, n++, k, window)) < 0) return rc;
                }
        }
    } else if (cJSON_IsArray(flat)) {
        cJSON_ArrayForEach(k, flat) {
            if ((rc = temper__gpt_neo_kind(m, g, n++, k, window)) < 0) return rc;
        }
    } else {
        return temper__error(TEMPER_EFORMAT, "%s/config.json: attention_types is missing (gpt_neo needs the "
                             "kind of attention of each layer)", m->path);
    }
    if (n != L)
        return temper__error(TEMPER_EFORMAT,
                             "%s/config.json: attention_types gives %s%d layer kinds but num_layers is %d",
                             m->path, n > L ? "more than " : "", n > L ? L : n, L);
    int local = 0;
    for (int l = 0; l < L; l++) local += g->layers[l].window > 0;
    temper__model_setting(m, "local attention (window_size %d) in %d of %d layers", window, local, L);
    temper__model_setting(m, "attention scores not scaled by 1/sqrt(head_dim)");
    return 0;
}

static int temper__gpt_neo_init(temper_model *m, const cJSON *cfg) {
    temper__hparams *hp = &m->hp;
    int rc, n_inner, window;
    double eps;
    if ((rc = temper__cfg_int(cfg, "num_layers", 24, &hp->n_layer)) < 0 ||
        (rc = temper__cfg_int(cfg, "num_heads", 16, &hp->n_head)) < 0 ||
        (rc = temper__cfg_int(cfg, "hidden_size", 2048, &hp->n_embd)) < 0 ||
        (rc = temper__cfg_int(cfg, "max_position_embeddings", 2048, &hp->n_ctx)) < 0 ||
        (rc = temper__cfg_int(cfg, "vocab_size", 50257, &hp->n_vocab)) < 0 ||
        (rc = temper__cfg_int(cfg, "intermediate_size", 0, &n_inner)) < 0 ||
        (rc = temper__cfg_int(cfg, "window_size", 256, &window)) < 0 ||
        (rc = temper__cfg_num(cfg, "layer_norm_epsilon", 1e-5, &eps)) < 0)
        return temper__error_prefix(rc, "%s", m->path);
    if (hp->n_layer < 1 || hp->n_layer > 65536 || hp->n_head < 1 || hp->n_embd < 1 || hp->n_embd % hp->n_head ||
        hp->n_ctx < 1 || hp->n_vocab < 1 || n_inner < 0 || window < 1 || (!n_inner && hp->n_embd > INT_MAX / 4))
        return temper__error(TEMPER_EFORMAT,
                             "%s/config.json: inconsistent sizes (num_layers %d, num_heads %d, hidden_size %d, "
                             "intermediate_size %d, window_size %d)",
                             m->path, hp->n_layer, hp->n_head, hp->n_embd, n_inner, window);
    const char *act = temper__cfg_str(cfg, "activation_function");
    if (act && strcmp(act, "gelu_new") != 0 && strcmp(act, "gelu_pytorch_tanh") != 0 && strcmp(act, "gelu_fast") != 0)
        return temper__error(TEMPER_EUNSUPPORTED,
                             "%s/config.json: activation_function \"%s\" is not supported for gpt_neo (temper "
                             "implements gelu_new)",
                             m->path, act);
    hp->n_kv_head = hp->n_head;
    hp->head_dim = hp->n_embd / hp->n_head;
    hp->n_ff = n_inner ? n_inner : 4 * hp->n_embd;
    hp->norm_eps = (float)eps;
    const int C = hp->n_embd, F = hp->n_ff, L = hp->n_layer;

    temper__gpt_neo *g = calloc(1, sizeof *g);
    if (!g) return temper__error(TEMPER_ENOMEM, "out of memory");
    m->arch_data = g;
    g->layers = calloc((size_t)L, sizeof *g->layers);
    if (!g->layers) return temper__error(TEMPER_ENOMEM, "out of memory");
    if ((rc = temper__gpt_neo_kinds(m, cfg, g, window)) < 0) return rc;

    const char *const *P = temper__gpt_neo_prefixes;
    if ((rc = temper__model_table(m, P, hp->n_vocab, C, &g->wte, "wte.weight")) < 0 ||
        (rc = temper__model_table(m, P, hp->n_ctx, C, &g->wpe, "wpe.weight")) < 0 ||
        (rc = temper__model_vec(m, P, C, &g->lnf_g, "ln_f.weight")) < 0 ||
        (rc = temper__model_vec(m, P, C, &g->lnf_b, "ln_f.bias")) < 0)
        return rc;
    for (int l = 0; l < L; l++) {
        temper__gpt_neo_layer *ly = &g->layers[l];
        if ((rc = temper__model_vec(m, P, C, &ly->ln1_g, "h.%d.ln_1.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->ln1_b, "h.%d.ln_1.bias", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, C, &ly->q, "h.%d.attn.attention.q_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, C, &ly->k, "h.%d.attn.attention.k_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, C, &ly->v, "h.%d.attn.attention.v_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, C, &ly->o, "h.%d.attn.attention.out_proj.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->bo, "h.%d.attn.attention.out_proj.bias", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->ln2_g, "h.%d.ln_2.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->ln2_b, "h.%d.ln_2.bias", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, F, &ly->fc, "h.%d.mlp.c_fc.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, F, &ly->b_fc, "h.%d.mlp.c_fc.bias", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, F, C, &ly->proj, "h.%d.mlp.c_proj.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->b_proj, "h.%d.mlp.c_proj.bias", l)) < 0)
            return rc;
    }
    static const char *const none[] = {"", NULL};
    if (!temper__cfg_bool(cfg, "tie_word_embeddings", 1) && temper__model_find(m, none, "lm_head.weight")) {
        if ((rc = temper__model_mat(m, none, TEMPER__NK, C, hp->n_vocab, &g->head, "lm_head.weight")) < 0)
            return rc;
    } else if ((rc = temper__model_tied_head(m, g->wte, C, hp->n_vocab, &g->head)) < 0) {
        return rc;
    }
    return 0;
}

static void temper__gpt_neo_free(temper_model *m) {
    temper__gpt_neo *g = m->arch_data;
    if (g) free(g->layers);
    free(g);
    m->arch_data = NULL;
}

static int temper__gpt_neo_forward(temper_context *ctx, const temper__batch *b) {
    const temper_model *m = ctx->model;
    const temper__gpt_neo *g = m->arch_data;
    const temper__hparams *hp = &m->hp;
    const int T = b->n, C = hp->n_embd, F = hp->n_ff, H = hp->n_head, hd = hp->head_dim;
    const int P = ctx->n_ctx;
    /* x (T, C) residual, h (T, C) normed, q, k, v, att (T, C), ff (T, F), scores (nth, P). */
    size_t nth = (size_t)temper__pool_size(ctx->pool);
    size_t need = (size_t)T * (6 * (size_t)C + F) + nth * P;
    float *x = temper__ctx_scratch(ctx, need);
    if (!x) return TEMPER_ENOMEM;
    float *h = x + (size_t)T * C, *q = h + (size_t)T * C, *k = q + (size_t)T * C, *v = k + (size_t)T * C;
    float *att = v + (size_t)T * C, *ff = att + (size_t)T * C, *scores = ff + (size_t)T * F;

    for (int r = 0; r < T; r++) { /* token row + position row */
        float *xr = x + (size_t)r * C;
        temper__row_f32(xr, g->wte->data, g->wte->dtype, C, b->tokens[r]);
        temper__row_f32(h, g->wpe->data, g->wpe->dtype, C, b->pos[r]);
        for (int i = 0; i < C; i++) xr[i] += h[i];
    }
    temper__capture_hidden(ctx, 0, x, T, C);

    for (int l = 0; l < hp->n_layer; l++) {
        int stop = temper__ctx_abort(ctx); /* between layers */
        if (stop < 0) return stop;
        const temper__gpt_neo_layer *ly = &g->layers[l];
        temper__layernorm(h, x, T, C, ly->ln1_g, ly->ln1_b, hp->norm_eps);
        temper__matmul(ctx->pool, q, C, h, T, &ly->q, NULL, 0);
        temper__matmul(ctx->pool, k, C, h, T, &ly->k, NULL, 0);
        temper__matmul(ctx->pool, v, C, h, T, &ly->v, NULL, 0);
        float *kc, *vc;
        temper__kv_store(ctx, b, l, C, k, v, C, &kc, &vc);
        temper__attn_args a = {.out = att, .q = q, .kc = kc, .vc = vc, .H = H, .Hkv = H, .hd = hd,
                               .scale = 1.0f, /* GPT-Neo does not scale */
                               .window = ly->window, .scratch = scores};
        temper__layer_attention(ctx, b, l, &a);
        temper__matmul(ctx->pool, x, C, att, T, &ly->o, ly->bo, 1);
        temper__layernorm(h, x, T, C, ly->ln2_g, ly->ln2_b, hp->norm_eps);
        temper__matmul_ep(ctx->pool, ff, F, h, T, &ly->fc, ly->b_fc, TEMPER__EP_GELU);
        temper__matmul(ctx->pool, x, C, ff, T, &ly->proj, ly->b_proj, 1);
        if (l + 1 < hp->n_layer) temper__capture_hidden(ctx, l + 1, x, T, C);
    }
    const temper__norm lnf = {g->lnf_g, g->lnf_b, hp->norm_eps, 0};
    if (temper__final_norm(ctx, b, x, h, C, &lnf))
        temper__matmul(ctx->pool, b->logits, hp->n_vocab, h, b->n_out, &g->head, NULL, 0);
    return 0;
}

const temper__arch temper__arch_gpt_neo = {
    .name = "gpt_neo",
    .init = temper__gpt_neo_init,
    .free = temper__gpt_neo_free,
    .forward = temper__gpt_neo_forward,
};
