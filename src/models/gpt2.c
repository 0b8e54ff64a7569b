/*
 * gpt2.c - GPT-2 (gpt2, distilgpt2, gpt2-medium/large/xl) from Hugging Face
 * checkpoints.
 *
 * Block (pre-LN): x += c_proj(attn(ln_1(x))); x += mlp_proj(gelu_new(c_fc(ln_2(x))))
 * then ln_f and the head tied to wte. Conv1D weights are (in, out) = KN.
 * Names appear with or without the "transformer." prefix.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

typedef struct {
    const float *ln1_g, *ln1_b;  /* (C) */
    temper__mat c_attn;          /* (C, 3C) */
    const float *c_attn_b;       /* (3C) */
    temper__mat c_proj;          /* (C, C) */
    const float *c_proj_b;       /* (C) */
    const float *ln2_g, *ln2_b;  /* (C) */
    temper__mat c_fc;            /* (C, F) */
    const float *c_fc_b;         /* (F) */
    temper__mat mlp_proj;        /* (F, C) */
    const float *mlp_proj_b;     /* (C) */
} temper__gpt2_layer;

typedef struct {
    const temper__tensor *wte;   /* (V, C) */
    const temper__tensor *wpe;   /* (P, C) */
    const float *lnf_g, *lnf_b;  /* (C) */
    temper__mat head;            /* (V, C) NK: wte or lm_head */
    float attn_scale_layer;      /* scale_attn_by_inverse_layer_idx */
    int scale_attn;              /* scale_attn_weights */
    temper__gpt2_layer *layers;  /* (L) */
} temper__gpt2;

static const char *const temper__gpt2_prefixes[] = {"transformer.", "", NULL};

static int temper__gpt2_init(temper_model *m, const cJSON *cfg) {
    temper__hparams *hp = &m->hp;
    int n_inner, rc;
    double eps;
    const char *act = temper__cfg_str(cfg, "activation_function");
    if ((rc = temper__cfg_int(cfg, "n_layer", 12, &hp->n_layer)) < 0 ||
        (rc = temper__cfg_int(cfg, "n_head", 12, &hp->n_head)) < 0 ||
        (rc = temper__cfg_int(cfg, "n_embd", 768, &hp->n_embd)) < 0 ||
        (rc = temper__cfg_int(cfg, "n_positions", 1024, &hp->n_ctx)) < 0 ||
        (rc = temper__cfg_int(cfg, "vocab_size", 50257, &hp->n_vocab)) < 0 ||
        (rc = temper__cfg_int(cfg, "n_inner", 0, &n_inner)) < 0 ||
        (rc = temper__cfg_positive(cfg, "layer_norm_epsilon", 1e-5, &eps)) < 0)
        return temper__error_prefix(rc, "%s", m->path);
    if (hp->n_layer < 1 || hp->n_layer > TEMPER__MAX_LAYERS || hp->n_head < 1 || hp->n_embd < 1 ||
        hp->n_embd % hp->n_head != 0 ||
        hp->n_ctx < 1 || hp->n_vocab < 1 || n_inner < 0)
        return temper__error(TEMPER_EFORMAT,
                             "%s/config.json: inconsistent sizes (n_layer %d, n_head %d, n_embd %d, "
                             "n_positions %d, vocab_size %d)",
                             m->path, hp->n_layer, hp->n_head, hp->n_embd, hp->n_ctx, hp->n_vocab);
    if (act && strcmp(act, "gelu_new") != 0 && strcmp(act, "gelu_pytorch_tanh") != 0)
        return temper__error(TEMPER_EUNSUPPORTED,
                             "%s/config.json: activation_function \"%s\" is not supported for gpt2 "
                             "(temper implements gelu_new)",
                             m->path, act);
    hp->n_kv_head = hp->n_head;
    hp->head_dim = hp->n_embd / hp->n_head;
    hp->n_ff = n_inner ? n_inner : 4 * hp->n_embd;
    hp->norm_eps = (float)eps;
    const int C = hp->n_embd, F = hp->n_ff, L = hp->n_layer;

    temper__gpt2 *g = calloc(1, sizeof *g);
    if (!g) return temper__error(TEMPER_ENOMEM, "out of memory");
    m->arch_data = g;
    g->layers = calloc((size_t)L, sizeof *g->layers);
    if (!g->layers) return temper__error(TEMPER_ENOMEM, "out of memory");
    g->scale_attn = temper__cfg_bool(cfg, "scale_attn_weights", 1);
    g->attn_scale_layer = temper__cfg_bool(cfg, "scale_attn_by_inverse_layer_idx", 0);

    const char *const *P = temper__gpt2_prefixes;
    if ((rc = temper__model_table(m, P, hp->n_vocab, C, &g->wte, "wte.weight")) < 0 ||
        (rc = temper__model_table(m, P, hp->n_ctx, C, &g->wpe, "wpe.weight")) < 0 ||
        (rc = temper__model_vec(m, P, C, &g->lnf_g, "ln_f.weight")) < 0 ||
        (rc = temper__model_vec(m, P, C, &g->lnf_b, "ln_f.bias")) < 0)
        return rc;
    for (int l = 0; l < L; l++) {
        temper__gpt2_layer *ly = &g->layers[l];
        if ((rc = temper__model_vec(m, P, C, &ly->ln1_g, "h.%d.ln_1.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->ln1_b, "h.%d.ln_1.bias", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__KN, C, 3 * C, &ly->c_attn, "h.%d.attn.c_attn.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, 3 * C, &ly->c_attn_b, "h.%d.attn.c_attn.bias", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__KN, C, C, &ly->c_proj, "h.%d.attn.c_proj.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->c_proj_b, "h.%d.attn.c_proj.bias", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->ln2_g, "h.%d.ln_2.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->ln2_b, "h.%d.ln_2.bias", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__KN, C, F, &ly->c_fc, "h.%d.mlp.c_fc.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, F, &ly->c_fc_b, "h.%d.mlp.c_fc.bias", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__KN, F, C, &ly->mlp_proj, "h.%d.mlp.c_proj.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->mlp_proj_b, "h.%d.mlp.c_proj.bias", l)) < 0)
            return rc;
    }
    /* HF ties lm_head to wte unless tie_word_embeddings is false. */
    static const char *const none[] = {"", NULL};
    if (!temper__cfg_bool(cfg, "tie_word_embeddings", 1)) {
        if ((rc = temper__model_mat(m, none, TEMPER__NK, C, hp->n_vocab, &g->head, "lm_head.weight")) < 0)
            return rc;
    } else {
        if ((rc = temper__model_tied_head(m, g->wte, C, hp->n_vocab, &g->head)) < 0) return rc;
    }
    return 0;
}

static void temper__gpt2_free(temper_model *m) {
    temper__gpt2 *g = m->arch_data;
    if (g) free(g->layers);
    free(g);
    m->arch_data = NULL;
}

static int temper__gpt2_forward(temper_context *ctx, const temper__batch *b) {
    const temper_model *m = ctx->model;
    const temper__gpt2 *g = m->arch_data;
    const temper__hparams *hp = &m->hp;
    const int T = b->n, C = hp->n_embd, F = hp->n_ff, H = hp->n_head, hd = hp->head_dim;
    const int P = ctx->n_ctx;
    /* Activations: x (T, C) residual, h (T, C) normed, qkv (T, 3C), att (T, C),
     * ff (T, F), scores (nth, P). */
    size_t nth = (size_t)temper__pool_size(ctx->pool);
    size_t need = (size_t)T * (C + C + 3 * C + C + F) + nth * P;
    float *x = temper__ctx_scratch(ctx, need);
    if (!x) return TEMPER_ENOMEM;
    float *h = x + (size_t)T * C, *qkv = h + (size_t)T * C, *att = qkv + (size_t)T * 3 * C;
    float *ff = att + (size_t)T * C, *scores = ff + (size_t)T * F;

    float *tmp = h; /* embeddings: token row + position row */
    for (int r = 0; r < T; r++) {
        float *xr = x + (size_t)r * C;
        temper__row_f32(xr, g->wte->data, g->wte->dtype, C, b->tokens[r]);
        temper__row_f32(tmp, g->wpe->data, g->wpe->dtype, C, b->pos[r]);
        for (int i = 0; i < C; i++) xr[i] += tmp[i];
    }
    temper__capture_hidden(ctx, 0, x, T, C);

    for (int l = 0; l < hp->n_layer; l++) {
        int stop = temper__ctx_abort(ctx); /* between layers */
        if (stop < 0) return stop;
        const temper__gpt2_layer *ly = &g->layers[l];
        temper__layernorm(h, x, T, C, ly->ln1_g, ly->ln1_b, hp->norm_eps);
        temper__matmul(ctx->pool, qkv, 3 * C, h, T, &ly->c_attn, ly->c_attn_b, 0);
        /* Keys and values of every row go to the cache before anyone attends;
         * then the queries are packed into the first C of each row's 3C. */
        float *kc, *vc;
        temper__kv_store(ctx, b, l, C, qkv + C, qkv + 2 * C, 3 * (size_t)C, &kc, &vc);
        for (int r = 1; r < T; r++) memmove(qkv + (size_t)r * C, qkv + (size_t)r * 3 * C, (size_t)C * sizeof(float));
        float scale = g->scale_attn ? 1.0f / sqrtf((float)hd) : 1.0f;
        if (g->attn_scale_layer) scale /= (float)(l + 1);
        temper__attn_args a = {.out = att, .q = qkv, .kc = kc, .vc = vc, .H = H, .Hkv = H, .hd = hd,
                               .scale = scale, .scratch = scores};
        temper__layer_attention(ctx, b, l, &a);
        temper__matmul(ctx->pool, x, C, att, T, &ly->c_proj, ly->c_proj_b, 1);
        temper__layernorm(h, x, T, C, ly->ln2_g, ly->ln2_b, hp->norm_eps);
        temper__matmul_ep(ctx->pool, ff, F, h, T, &ly->c_fc, ly->c_fc_b, TEMPER__EP_GELU); /* GELU fused */
        temper__matmul(ctx->pool, x, C, ff, T, &ly->mlp_proj, ly->mlp_proj_b, 1);
        if (l + 1 < hp->n_layer) temper__capture_hidden(ctx, l + 1, x, T, C);
    }
    const temper__norm lnf = {g->lnf_g, g->lnf_b, hp->norm_eps, 0};
    if (temper__final_norm(ctx, b, x, h, C, &lnf))
        temper__matmul(ctx->pool, b->logits, hp->n_vocab, h, b->n_out, &g->head, NULL, 0);
    return 0;
}

const temper__arch temper__arch_gpt2 = {
    .name = "gpt2",
    .init = temper__gpt2_init,
    .free = temper__gpt2_free,
    .forward = temper__gpt2_forward,
};
