/*
 * gemma3.c - Google's Gemma 3 text models (gemma-3-270m, gemma-3-1b:
 * model_type "gemma3_text") from Hugging Face checkpoints.
 *
 * x = embed_tokens[ids] * sqrt(C)
 * Block (every norm is RMSNorm with weight (1 + w)):
 *     x += post_attention_layernorm(o_proj(attn(input_layernorm(x))))
 *     x += post_feedforward_layernorm(down(gelu_tanh(gate(h)) * up(h))), h = pre_feedforward_layernorm(x)
 * attn: grouped-query attention with an RMSNorm of each query and key head
 * (q_norm, k_norm) before RoPE, scores scaled by query_pre_attn_scalar^-0.5;
 * "sliding_attention" layers see the last sliding_window positions and use
 * rope_local_base_freq, "full_attention" layers see everything and use
 * rope_theta (layer_types; by default every sliding_window_pattern-th layer
 * is full). Then norm, the head tied to embed_tokens, and
 * cap * tanh(logits / cap) when final_logit_softcapping is set.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

typedef struct {
    const float *attn_norm, *post_attn_norm;  /* (C), 1 + weight */
    const float *pre_ffn_norm, *post_ffn_norm;/* (C), 1 + weight */
    temper__mat wq, wk, wv, wo;               /* (H*hd, C), (Hkv*hd, C) x2, (C, H*hd) NK */
    const float *bq, *bk, *bv, *bo;           /* attention_bias, else NULL */
    const float *q_norm, *k_norm;             /* (hd), 1 + weight */
    temper__mat gate, up, down;               /* (F, C), (F, C), (C, F) NK */
    int window;                               /* sliding window, 0: full attention */
    double theta;                             /* RoPE base of the layer */
} temper__gemma3_layer;

typedef struct {
    const temper__tensor *embed; /* (V, C) */
    float embed_scale;           /* sqrt(C) */
    const float *norm;           /* (C), 1 + weight */
    temper__mat head;            /* (V, C) NK */
    float scale;                 /* query_pre_attn_scalar^-0.5 */
    float softcap;               /* final_logit_softcapping, 0: none */
    temper__gemma3_layer *layers;/* (L) */
} temper__gemma3;

static const char *const temper__gemma3_prefixes[] = {"model.", "", NULL};

/* A Gemma RMSNorm weight w, kept as 1 + w (the model's f32 copy). */
static int temper__gemma3_norm(temper_model *m, int n, const float **out, const char *name, int l) {
    char full[128];
    snprintf(full, sizeof full, name, l);
    int rc = temper__model_vec(m, temper__gemma3_prefixes, n, out, "%s", full);
    if (rc < 0) return rc;
    float *w = (float *)*out; /* temper__model_vec's copy, owned by the weight table */
    for (int i = 0; i < n; i++) w[i] += 1.0f;
    return 0;
}

/* An unsupported setting present in config.json (not null / false / default). */
static int temper__gemma3_refuse(temper_model *m, const cJSON *cfg, const char *key, const char *what) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v)) return 0;
    if (cJSON_IsObject(v)) { /* rope_scaling {"rope_type": "default"} is plain RoPE */
        const char *type = temper__cfg_str(v, "rope_type");
        if (!type) type = temper__cfg_str(v, "type");
        if (type && strcmp(type, "default") == 0) return 0;
        return temper__error(TEMPER_EUNSUPPORTED, "%s/config.json: %s type \"%s\" is not supported (%s)", m->path,
                             key, type ? type : "?", what);
    }
    char *text = cJSON_PrintUnformatted(v);
    int rc = temper__error(TEMPER_EUNSUPPORTED, "%s/config.json: %s %s is not supported (%s)", m->path, key,
                           text ? text : "?", what);
    free(text);
    return rc;
}

static int temper__gemma3_init(temper_model *m, const cJSON *cfg) {
    temper__hparams *hp = &m->hp;
    int rc, head_dim, window, pattern;
    double eps, theta, theta_local, qscalar, softcap;
    if ((rc = temper__cfg_int(cfg, "num_hidden_layers", 26, &hp->n_layer)) < 0 ||
        (rc = temper__cfg_int(cfg, "num_attention_heads", 8, &hp->n_head)) < 0 ||
        (rc = temper__cfg_int(cfg, "num_key_value_heads", 4, &hp->n_kv_head)) < 0 ||
        (rc = temper__cfg_int(cfg, "hidden_size", 2304, &hp->n_embd)) < 0 ||
        (rc = temper__cfg_int(cfg, "intermediate_size", 9216, &hp->n_ff)) < 0 ||
        (rc = temper__cfg_int(cfg, "max_position_embeddings", 131072, &hp->n_ctx)) < 0 ||
        (rc = temper__cfg_int(cfg, "vocab_size", 262208, &hp->n_vocab)) < 0 ||
        (rc = temper__cfg_int(cfg, "head_dim", 256, &head_dim)) < 0 ||
        (rc = temper__cfg_int(cfg, "sliding_window", 4096, &window)) < 0 ||
        (rc = temper__cfg_int(cfg, "sliding_window_pattern", 6, &pattern)) < 0 ||
        (rc = temper__cfg_num(cfg, "rms_norm_eps", 1e-6, &eps)) < 0 ||
        (rc = temper__cfg_num(cfg, "rope_theta", 1000000.0, &theta)) < 0 ||
        (rc = temper__cfg_num(cfg, "rope_local_base_freq", 10000.0, &theta_local)) < 0 ||
        (rc = temper__cfg_num(cfg, "query_pre_attn_scalar", 256, &qscalar)) < 0 ||
        (rc = temper__cfg_num(cfg, "final_logit_softcapping", 0.0, &softcap)) < 0)
        return temper__error_prefix(rc, "%s", m->path);
    if (hp->n_layer < 1 || hp->n_head < 1 || hp->n_kv_head < 1 || hp->n_head % hp->n_kv_head || hp->n_embd < 1 ||
        hp->n_ff < 1 || head_dim < 2 || head_dim % 2 || hp->n_ctx < 1 || hp->n_vocab < 1 || window < 1 ||
        pattern < 1 || theta <= 0 || theta_local <= 0 || qscalar <= 0 || softcap < 0 ||
        (int64_t)hp->n_head * head_dim > (1 << 29))
        return temper__error(TEMPER_EFORMAT,
                             "%s/config.json: inconsistent sizes (layers %d, heads %d, kv heads %d, hidden %d, "
                             "head_dim %d, intermediate %d, sliding_window %d)",
                             m->path, hp->n_layer, hp->n_head, hp->n_kv_head, hp->n_embd, head_dim, hp->n_ff, window);
    if ((rc = temper__gemma3_refuse(m, cfg, "rope_scaling", "temper implements plain RoPE")) < 0 ||
        (rc = temper__gemma3_refuse(m, cfg, "attn_logit_softcapping",
                                    "temper does not soft-cap attention scores")) < 0 ||
        (rc = temper__gemma3_refuse(m, cfg, "use_bidirectional_attention",
                                    "temper runs causal language models")) < 0)
        return rc;
    const char *act = temper__cfg_str(cfg, "hidden_activation");
    if (act && strcmp(act, "gelu_pytorch_tanh") != 0 && strcmp(act, "gelu_new") != 0)
        return temper__error(TEMPER_EUNSUPPORTED,
                             "%s/config.json: hidden_activation \"%s\" is not supported for gemma3_text (temper "
                             "implements gelu_pytorch_tanh)",
                             m->path, act);
    hp->head_dim = head_dim;
    hp->norm_eps = (float)eps;
    const int C = hp->n_embd, F = hp->n_ff, L = hp->n_layer, QD = hp->n_head * head_dim,
              KD = hp->n_kv_head * head_dim;
    int bias = temper__cfg_bool(cfg, "attention_bias", 0);

    temper__gemma3 *g = calloc(1, sizeof *g);
    if (!g) return temper__error(TEMPER_ENOMEM, "out of memory");
    m->arch_data = g;
    g->layers = calloc((size_t)L, sizeof *g->layers);
    if (!g->layers) return temper__error(TEMPER_ENOMEM, "out of memory");
    g->embed_scale = (float)sqrt((double)C);
    g->scale = (float)(1.0 / sqrt(qscalar));
    g->softcap = (float)softcap;
    int *sliding = calloc((size_t)L, sizeof *sliding), n_sliding = 0;
    if (!sliding) return temper__error(TEMPER_ENOMEM, "out of memory");
    for (int l = 0; l < L; l++) sliding[l] = (l + 1) % pattern != 0;
    rc = temper__cfg_layer_types(m, cfg, sliding);
    for (int l = 0; l < L; l++) {
        g->layers[l].window = sliding[l] ? window : 0;
        g->layers[l].theta = sliding[l] ? theta_local : theta;
        n_sliding += sliding[l];
    }
    free(sliding);
    if (rc < 0) return rc;
    temper__model_setting(m, "sliding window %d (rope base %g) in %d of %d layers, full attention (rope base %g) "
                          "in the others", window, theta_local, n_sliding, L, theta);
    temper__model_setting(m, "query_pre_attn_scalar %g", qscalar);
    if (softcap > 0) temper__model_setting(m, "final_logit_softcapping %g", softcap);

    const char *const *P = temper__gemma3_prefixes;
    if ((rc = temper__model_table(m, P, hp->n_vocab, C, &g->embed, "embed_tokens.weight")) < 0 ||
        (rc = temper__gemma3_norm(m, C, &g->norm, "norm.weight", 0)) < 0)
        return rc;
    for (int l = 0; l < L; l++) {
        temper__gemma3_layer *ly = &g->layers[l];
        if ((rc = temper__gemma3_norm(m, C, &ly->attn_norm, "layers.%d.input_layernorm.weight", l)) < 0 ||
            (rc = temper__gemma3_norm(m, C, &ly->post_attn_norm, "layers.%d.post_attention_layernorm.weight", l)) < 0 ||
            (rc = temper__gemma3_norm(m, C, &ly->pre_ffn_norm, "layers.%d.pre_feedforward_layernorm.weight", l)) < 0 ||
            (rc = temper__gemma3_norm(m, C, &ly->post_ffn_norm, "layers.%d.post_feedforward_layernorm.weight", l)) < 0 ||
            (rc = temper__gemma3_norm(m, head_dim, &ly->q_norm, "layers.%d.self_attn.q_norm.weight", l)) < 0 ||
            (rc = temper__gemma3_norm(m, head_dim, &ly->k_norm, "layers.%d.self_attn.k_norm.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, QD, &ly->wq, "layers.%d.self_attn.q_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, KD, &ly->wk, "layers.%d.self_attn.k_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, KD, &ly->wv, "layers.%d.self_attn.v_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, QD, C, &ly->wo, "layers.%d.self_attn.o_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, F, &ly->gate, "layers.%d.mlp.gate_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, F, &ly->up, "layers.%d.mlp.up_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, F, C, &ly->down, "layers.%d.mlp.down_proj.weight", l)) < 0)
            return rc;
        if (bias &&
            ((rc = temper__model_vec(m, P, QD, &ly->bq, "layers.%d.self_attn.q_proj.bias", l)) < 0 ||
             (rc = temper__model_vec(m, P, KD, &ly->bk, "layers.%d.self_attn.k_proj.bias", l)) < 0 ||
             (rc = temper__model_vec(m, P, KD, &ly->bv, "layers.%d.self_attn.v_proj.bias", l)) < 0 ||
             (rc = temper__model_vec(m, P, C, &ly->bo, "layers.%d.self_attn.o_proj.bias", l)) < 0))
            return rc;
    }
    static const char *const none[] = {"", NULL};
    if (!temper__cfg_bool(cfg, "tie_word_embeddings", 1) && temper__model_find(m, none, "lm_head.weight")) {
        if ((rc = temper__model_mat(m, none, TEMPER__NK, C, hp->n_vocab, &g->head, "lm_head.weight")) < 0) return rc;
    } else if ((rc = temper__model_tied_head(m, g->embed, C, hp->n_vocab, &g->head)) < 0) {
        return rc;
    }
    return 0;
}

static void temper__gemma3_free(temper_model *m) {
    temper__gemma3 *g = m->arch_data;
    if (g) free(g->layers);
    free(g);
    m->arch_data = NULL;
}

static int temper__gemma3_forward(temper_context *ctx, const temper__batch *b) {
    const temper_model *m = ctx->model;
    const temper__gemma3 *g = m->arch_data;
    const temper__hparams *hp = &m->hp;
    const int T = b->n, C = hp->n_embd, F = hp->n_ff, H = hp->n_head, Hkv = hp->n_kv_head,
              hd = hp->head_dim, QD = H * hd, KD = Hkv * hd;
    const int P = ctx->n_ctx;
    const float eps = hp->norm_eps;
    /* x (T, C) residual, h (T, C) normed, o (T, C) branch output, q (T, QD),
     * k, v (T, KD), att (T, QD), gate, up (T, F), scores (nth, P). */
    size_t nth = (size_t)temper__pool_size(ctx->pool);
    size_t need = (size_t)T * (3 * (size_t)C + 2 * (size_t)QD + 2 * (size_t)KD + 2 * (size_t)F) + nth * P;
    float *x = temper__ctx_scratch(ctx, need);
    if (!x) return TEMPER_ENOMEM;
    float *h = x + (size_t)T * C, *o = h + (size_t)T * C, *q = o + (size_t)T * C, *k = q + (size_t)T * QD;
    float *v = k + (size_t)T * KD, *att = v + (size_t)T * KD, *gate = att + (size_t)T * QD;
    float *up = gate + (size_t)T * F, *scores = up + (size_t)T * F;

    for (int r = 0; r < T; r++) {
        float *xr = x + (size_t)r * C;
        temper__row_f32(xr, g->embed->data, g->embed->dtype, C, b->tokens[r]);
        for (int i = 0; i < C; i++) xr[i] *= g->embed_scale;
    }
    temper__capture_hidden(ctx, 0, x, T, C);

    for (int l = 0; l < hp->n_layer; l++) {
        int stop = temper__ctx_abort(ctx); /* between layers */
        if (stop < 0) return stop;
        const temper__gemma3_layer *ly = &g->layers[l];
        temper__rmsnorm(h, x, T, C, ly->attn_norm, eps);
        temper__matmul(ctx->pool, q, QD, h, T, &ly->wq, ly->bq, 0);
        temper__matmul(ctx->pool, k, KD, h, T, &ly->wk, ly->bk, 0);
        temper__matmul(ctx->pool, v, KD, h, T, &ly->wv, ly->bv, 0);
        temper__rmsnorm(q, q, T * H, hd, ly->q_norm, eps); /* each head's query and key */
        temper__rmsnorm(k, k, T * Hkv, hd, ly->k_norm, eps);
        temper__rope(q, T, b->pos, H, hd, ly->theta, 0);
        temper__rope(k, T, b->pos, Hkv, hd, ly->theta, 0);
        float *kc, *vc;
        temper__kv_store(ctx, b, l, KD, k, v, KD, &kc, &vc);
        temper__attn_args a = {.out = att, .q = q, .kc = kc, .vc = vc, .H = H, .Hkv = Hkv, .hd = hd,
                               .scale = g->scale, .window = ly->window, .scratch = scores};
        temper__layer_attention(ctx, b, l, &a);
        temper__matmul(ctx->pool, o, C, att, T, &ly->wo, ly->bo, 0);
        temper__rmsnorm(o, o, T, C, ly->post_attn_norm, eps);
        for (size_t i = 0; i < (size_t)T * C; i++) x[i] += o[i];
        temper__rmsnorm(h, x, T, C, ly->pre_ffn_norm, eps);
        temper__matmul(ctx->pool, gate, F, h, T, &ly->gate, NULL, 0);
        temper__matmul(ctx->pool, up, F, h, T, &ly->up, NULL, 0);
        temper__gelu_tanh(gate, (long)T * F);
        for (size_t i = 0; i < (size_t)T * F; i++) gate[i] *= up[i];
        temper__matmul(ctx->pool, o, C, gate, T, &ly->down, NULL, 0);
        temper__rmsnorm(o, o, T, C, ly->post_ffn_norm, eps);
        for (size_t i = 0; i < (size_t)T * C; i++) x[i] += o[i];
        if (l + 1 < hp->n_layer) temper__capture_hidden(ctx, l + 1, x, T, C);
    }
    const temper__norm norm = {g->norm, NULL, eps, 1};
    if (!temper__final_norm(ctx, b, x, h, C, &norm)) return 0;
    temper__matmul(ctx->pool, b->logits, hp->n_vocab, h, b->n_out, &g->head, NULL, 0);
    if (g->softcap > 0) {
        float *lg = b->logits, cap = g->softcap;
        for (size_t i = 0; i < (size_t)b->n_out * hp->n_vocab; i++) lg[i] = cap * tanhf(lg[i] / cap);
    }
    return 0;
}

const temper__arch temper__arch_gemma3_text = {
    .name = "gemma3_text",
    .init = temper__gemma3_init,
    .free = temper__gemma3_free,
    .forward = temper__gemma3_forward,
};
