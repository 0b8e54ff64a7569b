/*
 * gpt_neox.c - EleutherAI's GPT-NeoX family (Pythia 14m-12b, GPT-NeoX-20B)
 * from Hugging Face checkpoints.
 *
 * Block, use_parallel_residual (all Pythia):
 *     x = x + dense(attn(ln_in(x))) + mlp(ln_post(x))
 * otherwise: x += dense(attn(ln_in(x))); x += mlp(ln_post(x))
 * mlp(h) = dense_4h_to_h(act(dense_h_to_4h(h))), act "gelu" (erf) in Pythia.
 * Then final_layer_norm and the untied embed_out. nn.Linear weights are
 * (out, in) = NK. query_key_value is fused per head: output feature
 * h*3*hd + [0, hd) is head h's query, + [hd, 2hd) its key, + [2hd, 3hd) its
 * value. Rotary embeddings (rotate-half) on the first rotary_pct * hd values
 * of each query/key head only.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

typedef struct {
    const float *ln1_g, *ln1_b;  /* input_layernorm (C) */
    const float *ln2_g, *ln2_b;  /* post_attention_layernorm (C) */
    temper__mat qkv, dense;      /* (3C, C), (C, C) NK */
    const float *b_qkv, *b_dense;/* (3C), (C) or NULL without attention_bias */
    temper__mat up, down;        /* dense_h_to_4h (F, C), dense_4h_to_h (C, F) NK */
    const float *b_up, *b_down;  /* (F), (C) */
} temper__neox_layer;

typedef struct {
    const temper__tensor *embed; /* embed_in (V, C) */
    const float *lnf_g, *lnf_b;  /* final_layer_norm (C) */
    temper__mat head;            /* embed_out (V, C) NK */
    int rot;                     /* rotary values per head (even, <= hd) */
    double theta;                /* rotary base */
    int parallel;                /* use_parallel_residual */
    int gelu_erf;                /* "gelu" (erf) rather than a tanh form */
    temper__neox_layer *layers;  /* (L) */
} temper__neox;

static const char *const temper__neox_prefixes[] = {"gpt_neox.", "", NULL};

static int temper__neox_init(temper_model *m, const cJSON *cfg) {
    temper__hparams *hp = &m->hp;
    int rc;
    double eps, pct, theta;
    if ((rc = temper__cfg_int(cfg, "num_hidden_layers", 44, &hp->n_layer)) < 0 ||
        (rc = temper__cfg_int(cfg, "num_attention_heads", 64, &hp->n_head)) < 0 ||
        (rc = temper__cfg_int(cfg, "hidden_size", 6144, &hp->n_embd)) < 0 ||
        (rc = temper__cfg_int(cfg, "intermediate_size", 24576, &hp->n_ff)) < 0 ||
        (rc = temper__cfg_int(cfg, "max_position_embeddings", 2048, &hp->n_ctx)) < 0 ||
        (rc = temper__cfg_int(cfg, "vocab_size", 50432, &hp->n_vocab)) < 0 ||
        (rc = temper__cfg_num(cfg, "layer_norm_eps", 1e-5, &eps)) < 0 ||
        (rc = temper__cfg_num(cfg, "rotary_pct", 0.25, &pct)) < 0 ||
        (rc = temper__cfg_num(cfg, "partial_rotary_factor", pct, &pct)) < 0 ||
        (rc = temper__cfg_num(cfg, "rotary_emb_base", 10000.0, &theta)) < 0 ||
        (rc = temper__cfg_num(cfg, "rope_theta", theta, &theta)) < 0)
        return temper__error_prefix(rc, "%s", m->path);
    if (hp->n_layer < 1 || hp->n_head < 1 || hp->n_embd < 1 || hp->n_embd % hp->n_head || hp->n_ff < 1 ||
        hp->n_ctx < 1 || hp->n_vocab < 1 || hp->n_embd > (1 << 29))
        return temper__error(TEMPER_EFORMAT,
                             "%s/config.json: inconsistent sizes (layers %d, heads %d, hidden %d, intermediate %d)",
                             m->path, hp->n_layer, hp->n_head, hp->n_embd, hp->n_ff);
    const int hd = hp->n_embd / hp->n_head;
    const int rot = (int)(hd * pct); /* int() as transformers truncates */
    if (!(pct > 0 && pct <= 1) || rot % 2 || theta <= 0)
        return temper__error(TEMPER_EUNSUPPORTED,
                             "%s/config.json: rotary_pct %g gives %d rotary values of a head of %d: temper needs an "
                             "even number between 2 and the head size (and rotary_emb_base > 0)",
                             m->path, pct, rot, hd);
    const cJSON *scaling = cJSON_GetObjectItemCaseSensitive(cfg, "rope_scaling");
    if (scaling && !cJSON_IsNull(scaling)) {
        const char *type = temper__cfg_str(scaling, "rope_type");
        if (!type) type = temper__cfg_str(scaling, "type");
        if (!type || strcmp(type, "default") != 0)
            return temper__error(TEMPER_EUNSUPPORTED,
                                 "%s/config.json: rope_scaling type \"%s\" is not supported (temper implements "
                                 "plain rotary embeddings)",
                                 m->path, type ? type : "?");
    }
    const char *act = temper__cfg_str(cfg, "hidden_act");
    int erf_gelu = !act || strcmp(act, "gelu") == 0;
    if (!erf_gelu && strcmp(act, "gelu_new") != 0 && strcmp(act, "gelu_fast") != 0 &&
        strcmp(act, "gelu_pytorch_tanh") != 0)
        return temper__error(TEMPER_EUNSUPPORTED,
                             "%s/config.json: hidden_act \"%s\" is not supported for gpt_neox (temper implements "
                             "gelu, gelu_new, gelu_fast, gelu_pytorch_tanh)",
                             m->path, act);
    hp->n_kv_head = hp->n_head;
    hp->head_dim = hd;
    hp->norm_eps = (float)eps;
    const int C = hp->n_embd, F = hp->n_ff, L = hp->n_layer, V = hp->n_vocab;
    int bias = temper__cfg_bool(cfg, "attention_bias", 1);

    temper__neox *g = calloc(1, sizeof *g);
    if (!g) return temper__error(TEMPER_ENOMEM, "out of memory");
    m->arch_data = g;
    g->layers = calloc((size_t)L, sizeof *g->layers);
    if (!g->layers) return temper__error(TEMPER_ENOMEM, "out of memory");
    g->rot = rot;
    g->theta = theta;
    g->parallel = temper__cfg_bool(cfg, "use_parallel_residual", 1);
    g->gelu_erf = erf_gelu;
    temper__model_setting(m, "rotary on %d of %d values per head (rotary_pct %g, base %g)", rot, hd, pct, theta);
    temper__model_setting(m, "%s residual", g->parallel ? "parallel" : "sequential");
    temper__model_setting(m, "activation %s", act ? act : "gelu");

    const char *const *P = temper__neox_prefixes;
    if ((rc = temper__model_table(m, P, V, C, &g->embed, "embed_in.weight")) < 0 ||
        (rc = temper__model_vec(m, P, C, &g->lnf_g, "final_layer_norm.weight")) < 0 ||
        (rc = temper__model_vec(m, P, C, &g->lnf_b, "final_layer_norm.bias")) < 0)
        return rc;
    for (int l = 0; l < L; l++) {
        temper__neox_layer *ly = &g->layers[l];
        if ((rc = temper__model_vec(m, P, C, &ly->ln1_g, "layers.%d.input_layernorm.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->ln1_b, "layers.%d.input_layernorm.bias", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->ln2_g, "layers.%d.post_attention_layernorm.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->ln2_b, "layers.%d.post_attention_layernorm.bias", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, 3 * C, &ly->qkv,
                                    "layers.%d.attention.query_key_value.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, C, &ly->dense, "layers.%d.attention.dense.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, F, &ly->up, "layers.%d.mlp.dense_h_to_4h.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, F, &ly->b_up, "layers.%d.mlp.dense_h_to_4h.bias", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, F, C, &ly->down, "layers.%d.mlp.dense_4h_to_h.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->b_down, "layers.%d.mlp.dense_4h_to_h.bias", l)) < 0)
            return rc;
        if (bias &&
            ((rc = temper__model_vec(m, P, 3 * C, &ly->b_qkv, "layers.%d.attention.query_key_value.bias", l)) < 0 ||
             (rc = temper__model_vec(m, P, C, &ly->b_dense, "layers.%d.attention.dense.bias", l)) < 0))
            return rc;
    }
    static const char *const none[] = {"", NULL};
    if (temper__cfg_bool(cfg, "tie_word_embeddings", 0) || !temper__model_find(m, none, "embed_out.weight")) {
        if ((rc = temper__model_tied_head(m, g->embed, C, V, &g->head)) < 0) return rc;
    } else if ((rc = temper__model_mat(m, none, TEMPER__NK, C, V, &g->head, "embed_out.weight")) < 0) {
        return rc;
    }
    return 0;
}

static void temper__neox_free(temper_model *m) {
    temper__neox *g = m->arch_data;
    if (g) free(g->layers);
    free(g);
    m->arch_data = NULL;
}

static void temper__neox_act(const temper__neox *g, float *x, long n) {
    if (g->gelu_erf) temper__gelu_erf(x, n);
    else temper__gelu_tanh(x, n);
}

static int temper__neox_forward(temper_context *ctx, const temper__batch *b) {
    const temper_model *m = ctx->model;
    const temper__neox *g = m->arch_data;
    const temper__hparams *hp = &m->hp;
    const int T = b->n, C = hp->n_embd, F = hp->n_ff, H = hp->n_head, hd = hp->head_dim;
    const int P = ctx->n_ctx;
    /* x (T, C) residual, h (T, C) normed, qkv (T, 3C), q (T, C), att (T, C),
     * ff (T, F), scores (nth, P). */
    size_t nth = (size_t)temper__pool_size(ctx->pool);
    size_t need = (size_t)T * (7 * (size_t)C + F) + nth * P;
    float *x = temper__ctx_scratch(ctx, need);
    if (!x) return TEMPER_ENOMEM;
    float *h = x + (size_t)T * C, *qkv = h + (size_t)T * C, *q = qkv + (size_t)T * 3 * C;
    float *att = q + (size_t)T * C, *ff = att + (size_t)T * C, *scores = ff + (size_t)T * F;

    for (int r = 0; r < T; r++)
        temper__row_f32(x + (size_t)r * C, g->embed->data, g->embed->dtype, C, b->tokens[r]);
    temper__capture_hidden(ctx, 0, x, T, C);

    for (int l = 0; l < hp->n_layer; l++) {
        int stop = temper__ctx_abort(ctx); /* between layers */
        if (stop < 0) return stop;
        const temper__neox_layer *ly = &g->layers[l];
        temper__layernorm(h, x, T, C, ly->ln1_g, ly->ln1_b, hp->norm_eps);
        temper__matmul(ctx->pool, qkv, 3 * C, h, T, &ly->qkv, ly->b_qkv, 0);
        /* Per head [q | k | v] -> q (T, C); k, v in place into the first 2C of each row. */
        float *kc, *vc;
        temper__kv_layer(ctx, l, C, &kc, &vc);
        for (int r = 0; r < T; r++) {
            float *src = qkv + (size_t)r * 3 * C, *k = att + (size_t)r * C; /* att as a k buffer */
            for (int hh = 0; hh < H; hh++) {
                memcpy(q + (size_t)r * C + (size_t)hh * hd, src + (size_t)hh * 3 * hd, (size_t)hd * sizeof(float));
                memcpy(k + (size_t)hh * hd, src + (size_t)hh * 3 * hd + hd, (size_t)hd * sizeof(float));
            }
            size_t at = ((size_t)b->seq[r] * P + b->pos[r]) * C;
            for (int hh = 0; hh < H; hh++)
                memcpy(vc + at + (size_t)hh * hd, src + (size_t)hh * 3 * hd + 2 * hd, (size_t)hd * sizeof(float));
        }
        temper__rope_partial(q, T, b->pos, H, hd, g->rot, g->theta);
        temper__rope_partial(att, T, b->pos, H, hd, g->rot, g->theta);
        for (int r = 0; r < T; r++)
            memcpy(kc + ((size_t)b->seq[r] * P + b->pos[r]) * C, att + (size_t)r * C, (size_t)C * sizeof(float));
        temper__attn_args a = {.out = att, .q = q, .kc = kc, .vc = vc, .H = H, .Hkv = H, .hd = hd,
                               .scale = 1.0f / sqrtf((float)hd), .scratch = scores};
        temper__layer_attention(ctx, b, l, &a);
        if (g->parallel) {
            /* both branches read the block's input x: the MLP's norm first */
            temper__layernorm(h, x, T, C, ly->ln2_g, ly->ln2_b, hp->norm_eps);
            temper__matmul(ctx->pool, x, C, att, T, &ly->dense, ly->b_dense, 1);
        } else {
            temper__matmul(ctx->pool, x, C, att, T, &ly->dense, ly->b_dense, 1);
            temper__layernorm(h, x, T, C, ly->ln2_g, ly->ln2_b, hp->norm_eps);
        }
        temper__matmul(ctx->pool, ff, F, h, T, &ly->up, ly->b_up, 0);
        temper__neox_act(g, ff, (long)T * F);
        temper__matmul(ctx->pool, x, C, ff, T, &ly->down, ly->b_down, 1);
        if (l + 1 < hp->n_layer) temper__capture_hidden(ctx, l + 1, x, T, C);
    }
    const temper__norm lnf = {g->lnf_g, g->lnf_b, hp->norm_eps, 0};
    if (temper__final_norm(ctx, b, x, h, C, &lnf))
        temper__matmul(ctx->pool, b->logits, hp->n_vocab, h, b->n_out, &g->head, NULL, 0);
    return 0;
}

const temper__arch temper__arch_gpt_neox = {
    .name = "gpt_neox",
    .init = temper__neox_init,
    .free = temper__neox_free,
    .forward = temper__neox_forward,
};
