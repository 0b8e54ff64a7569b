/*
 * llama.c - the Llama family (Llama 2/3, TinyLlama, SmolLM, Mistral-style
 * models) from Hugging Face checkpoints, and llama2.c checkpoints (which
 * src/formats/llama2c.c presents with the same tensor names). qwen.c
 * loads Qwen2/Qwen3 into the same layers (llama.h).
 *
 * Block: x += o_proj(attn(rope(q), rope(k), v)) over rmsnorm(x) (input_layernorm);
 *        x += down(silu(gate(h)) * up(h)), h = rmsnorm(x) (post_attention_layernorm)
 * then model.norm and lm_head (or the tied embeddings). nn.Linear weights are
 * (out, in) = NK. Grouped-query attention: H query heads share Hkv key/value
 * heads (H / Hkv each).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/llama.h"

static const char *const temper__llama_prefixes[] = {"model.", "", NULL};

int temper__llama_init_variant(temper_model *m, const cJSON *cfg, const temper__llama_variant *var) {
    temper__hparams *hp = &m->hp;
    int rc, head_dim;
    double eps, theta;
    if ((rc = temper__cfg_int(cfg, "num_hidden_layers", 0, &hp->n_layer)) < 0 ||
        (rc = temper__cfg_int(cfg, "num_attention_heads", 0, &hp->n_head)) < 0 ||
        (rc = temper__cfg_int(cfg, "num_key_value_heads", hp->n_head, &hp->n_kv_head)) < 0 ||
        (rc = temper__cfg_int(cfg, "hidden_size", 0, &hp->n_embd)) < 0 ||
        (rc = temper__cfg_int(cfg, "intermediate_size", 0, &hp->n_ff)) < 0 ||
        (rc = temper__cfg_int(cfg, "max_position_embeddings", 2048, &hp->n_ctx)) < 0 ||
        (rc = temper__cfg_int(cfg, "vocab_size", 32000, &hp->n_vocab)) < 0 ||
        (rc = temper__cfg_int(cfg, "head_dim", hp->n_head ? hp->n_embd / hp->n_head : 0, &head_dim)) < 0 ||
        (rc = temper__cfg_positive(cfg, "rms_norm_eps", 1e-6, &eps)) < 0 ||
        (rc = temper__cfg_positive(cfg, "rope_theta", 10000.0, &theta)) < 0)
        return temper__error_prefix(rc, "%s", m->path);
    if (hp->n_layer < 1 || hp->n_layer > TEMPER__MAX_LAYERS || hp->n_head < 1 || hp->n_kv_head < 1 ||
        hp->n_head % hp->n_kv_head || (int64_t)hp->n_head * head_dim > TEMPER__MAX_CFG_INT ||
        hp->n_embd < 1 || hp->n_ff < 1 || head_dim < 2 || head_dim % 2 || hp->n_ctx < 1 || hp->n_vocab < 1 ||
        theta <= 0)
        return temper__error(TEMPER_EFORMAT,
                             "%s/config.json: inconsistent sizes (layers %d, heads %d, kv heads %d, "
                             "hidden %d, head_dim %d, intermediate %d)",
                             m->path, hp->n_layer, hp->n_head, hp->n_kv_head, hp->n_embd, head_dim, hp->n_ff);
    const cJSON *scaling = cJSON_GetObjectItemCaseSensitive(cfg, "rope_scaling");
    if (scaling && !cJSON_IsNull(scaling)) {
        const char *type = temper__cfg_str(scaling, "rope_type");
        if (!type) type = temper__cfg_str(scaling, "type");
        if (!type || strcmp(type, "default") != 0)
            return temper__error(TEMPER_EUNSUPPORTED,
                                 "%s/config.json: rope_scaling type \"%s\" is not supported (temper "
                                 "implements plain RoPE)",
                                 m->path, type ? type : "?");
    }
    const char *act = temper__cfg_str(cfg, "hidden_act");
    if (act && strcmp(act, "silu") != 0)
        return temper__error(TEMPER_EUNSUPPORTED, "%s/config.json: hidden_act \"%s\" is not supported (silu only)",
                             m->path, act);
    /* Mistral: a sliding window only matters beyond its length: cap the context. */
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(cfg, "sliding_window");
    if (var->cap_ctx_to_window && cJSON_IsNumber(sw) && sw->valuedouble >= 1 && sw->valuedouble < hp->n_ctx)
        hp->n_ctx = (int)sw->valuedouble;
    if ((int64_t)hp->n_head * head_dim > (1 << 29) || (int64_t)hp->n_kv_head * head_dim > (1 << 29))
        return temper__error(TEMPER_EFORMAT, "%s/config.json: heads x head_dim too large (%d x %d)", m->path,
                             hp->n_head, head_dim);
    hp->head_dim = head_dim;
    hp->norm_eps = (float)eps;
    const int C = hp->n_embd, F = hp->n_ff, L = hp->n_layer, QD = hp->n_head * head_dim,
              KD = hp->n_kv_head * head_dim;
    /* attention_bias: q/k/v/o biases; Qwen2: q/k/v biases, never o's */
    int bias = !var->qkv_bias && temper__cfg_bool(cfg, "attention_bias", 0), qkv_bias = bias || var->qkv_bias;
    if (temper__cfg_bool(cfg, "mlp_bias", 0))
        return temper__error(TEMPER_EUNSUPPORTED, "%s/config.json: mlp_bias is not supported", m->path);

    temper__llama *g = calloc(1, sizeof *g);
    if (!g) return temper__error(TEMPER_ENOMEM, "out of memory");
    m->arch_data = g;
    g->layers = calloc((size_t)L, sizeof *g->layers);
    if (!g->layers) return temper__error(TEMPER_ENOMEM, "out of memory");
    g->rope_theta = theta;
    g->rope_interleaved = temper__cfg_bool(cfg, "temper_rope_interleaved", 0);

    const char *const *P = temper__llama_prefixes;
    if ((rc = temper__model_table(m, P, hp->n_vocab, C, &g->embed, "embed_tokens.weight")) < 0 ||
        (rc = temper__model_vec(m, P, C, &g->norm, "norm.weight")) < 0)
        return rc;
    for (int l = 0; l < L; l++) {
        temper__llama_layer *ly = &g->layers[l];
        if ((rc = temper__model_vec(m, P, C, &ly->attn_norm, "layers.%d.input_layernorm.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, QD, &ly->wq, "layers.%d.self_attn.q_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, KD, &ly->wk, "layers.%d.self_attn.k_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, KD, &ly->wv, "layers.%d.self_attn.v_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, QD, C, &ly->wo, "layers.%d.self_attn.o_proj.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->ffn_norm, "layers.%d.post_attention_layernorm.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, F, &ly->gate, "layers.%d.mlp.gate_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, F, &ly->up, "layers.%d.mlp.up_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, F, C, &ly->down, "layers.%d.mlp.down_proj.weight", l)) < 0)
            return rc;
        if (qkv_bias &&
            ((rc = temper__model_vec(m, P, QD, &ly->bq, "layers.%d.self_attn.q_proj.bias", l)) < 0 ||
             (rc = temper__model_vec(m, P, KD, &ly->bk, "layers.%d.self_attn.k_proj.bias", l)) < 0 ||
             (rc = temper__model_vec(m, P, KD, &ly->bv, "layers.%d.self_attn.v_proj.bias", l)) < 0))
            return rc;
        if (bias && (rc = temper__model_vec(m, P, C, &ly->bo, "layers.%d.self_attn.o_proj.bias", l)) < 0)
            return rc;
        if (var->qk_norm &&
            ((rc = temper__model_vec(m, P, head_dim, &ly->q_norm, "layers.%d.self_attn.q_norm.weight", l)) < 0 ||
             (rc = temper__model_vec(m, P, head_dim, &ly->k_norm, "layers.%d.self_attn.k_norm.weight", l)) < 0))
            return rc;
    }
    static const char *const none[] = {"", NULL};
    if (temper__cfg_bool(cfg, "tie_word_embeddings", 0) || !temper__model_find(m, none, "lm_head.weight")) {
        if ((rc = temper__model_tied_head(m, g->embed, C, hp->n_vocab, &g->head)) < 0) return rc;
    } else if ((rc = temper__model_mat(m, none, TEMPER__NK, C, hp->n_vocab, &g->head, "lm_head.weight")) < 0) {
        return rc;
    }
    return 0;
}

static int temper__llama_init(temper_model *m, const cJSON *cfg) {
    static const temper__llama_variant llama = {.cap_ctx_to_window = 1};
    return temper__llama_init_variant(m, cfg, &llama);
}

void temper__llama_free(temper_model *m) {
    temper__llama *g = m->arch_data;
    if (g) free(g->layers);
    free(g);
    m->arch_data = NULL;
}

int temper__llama_forward(temper_context *ctx, const temper__batch *b) {
    const temper_model *m = ctx->model;
    const temper__llama *g = m->arch_data;
    const temper__hparams *hp = &m->hp;
    const int T = b->n, C = hp->n_embd, F = hp->n_ff, H = hp->n_head, Hkv = hp->n_kv_head,
              hd = hp->head_dim, QD = H * hd, KD = Hkv * hd;
    const int P = ctx->n_ctx;
    /* x (T, C) residual, h (T, C) normed, q (T, QD), k (T, KD), v (T, KD),
     * att (T, QD), gate (T, F), up (T, F), scores (nth, P). */
    size_t nth = (size_t)temper__pool_size(ctx->pool);
    size_t need = (size_t)T * (2 * C + 2 * QD + 2 * KD + 2 * F) + nth * P;
    float *x = temper__ctx_scratch(ctx, need);
    if (!x) return TEMPER_ENOMEM;
    float *h = x + (size_t)T * C, *q = h + (size_t)T * C, *k = q + (size_t)T * QD, *v = k + (size_t)T * KD;
    float *att = v + (size_t)T * KD, *gate = att + (size_t)T * QD, *up = gate + (size_t)T * F;
    float *scores = up + (size_t)T * F;

    for (int r = 0; r < T; r++)
        temper__row_f32(x + (size_t)r * C, g->embed->data, g->embed->dtype, C, b->tokens[r]);
    temper__capture_hidden(ctx, 0, x, T, C);

    for (int l = 0; l < hp->n_layer; l++) {
        int stop = temper__ctx_abort(ctx); /* between layers */
        if (stop < 0) return stop;
        const temper__llama_layer *ly = &g->layers[l];
        temper__rmsnorm(h, x, T, C, ly->attn_norm, hp->norm_eps);
        temper__matmul(ctx->pool, q, QD, h, T, &ly->wq, ly->bq, 0);
        temper__matmul(ctx->pool, k, KD, h, T, &ly->wk, ly->bk, 0);
        temper__matmul(ctx->pool, v, KD, h, T, &ly->wv, ly->bv, 0);
        if (ly->q_norm) { /* Qwen3: RMSNorm of each head's query and key */
            temper__rmsnorm(q, q, T * H, hd, ly->q_norm, hp->norm_eps);
            temper__rmsnorm(k, k, T * Hkv, hd, ly->k_norm, hp->norm_eps);
        }
        temper__rope(q, T, b->pos, H, hd, g->rope_theta, g->rope_interleaved);
        temper__rope(k, T, b->pos, Hkv, hd, g->rope_theta, g->rope_interleaved);
        float *kc, *vc;
        temper__kv_store(ctx, b, l, KD, k, v, KD, &kc, &vc);
        temper__attn_args a = {.out = att, .q = q, .kc = kc, .vc = vc, .H = H, .Hkv = Hkv, .hd = hd,
                               .scale = 1.0f / sqrtf((float)hd), .window = ly->window, .scratch = scores};
        temper__layer_attention(ctx, b, l, &a);
        temper__matmul(ctx->pool, x, C, att, T, &ly->wo, ly->bo, 1);
        temper__rmsnorm(h, x, T, C, ly->ffn_norm, hp->norm_eps);
        temper__matmul(ctx->pool, gate, F, h, T, &ly->gate, NULL, 0);
        temper__matmul(ctx->pool, up, F, h, T, &ly->up, NULL, 0);
        temper__silu_mul(gate, up, (long)T * F);
        temper__matmul(ctx->pool, x, C, gate, T, &ly->down, NULL, 1);
        if (l + 1 < hp->n_layer) temper__capture_hidden(ctx, l + 1, x, T, C);
    }
    const temper__norm norm = {g->norm, NULL, hp->norm_eps, 1};
    if (temper__final_norm(ctx, b, x, h, C, &norm))
        temper__matmul(ctx->pool, b->logits, hp->n_vocab, h, b->n_out, &g->head, NULL, 0);
    return 0;
}

const temper__arch temper__arch_llama = {
    .name = "llama",
    .init = temper__llama_init,
    .free = temper__llama_free,
    .forward = temper__llama_forward,
};

const temper__arch temper__arch_mistral = {
    .name = "mistral",
    .init = temper__llama_init,
    .free = temper__llama_free,
    .forward = temper__llama_forward,
};
