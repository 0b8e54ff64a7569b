/*
 * opt.c - Meta's OPT (facebook/opt-125m ... opt-66b) from Hugging Face
 * checkpoints.
 *
 * Pre-LN (do_layer_norm_before, all sizes but 350m):
 *     x += out_proj(attn(self_attn_layer_norm(x))); x += fc2(relu(fc1(final_layer_norm(x))))
 * Post-LN (350m): x = self_attn_layer_norm(x + attn(x)); x = final_layer_norm(x + fc2(relu(fc1(x))))
 * Learned positions are stored with an offset of 2 (row p + 2 for position p).
 * When word_embed_proj_dim != hidden_size, project_in maps embeddings (E) up to
 * C and project_out maps the last hidden state down to E before the tied head.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

#define TEMPER__OPT_POS_OFFSET 2

typedef struct {
    const float *ln1_g, *ln1_b;              /* self_attn_layer_norm (C) */
    temper__mat q, k, v, o;                  /* (C, C) NK */
    const float *bq, *bk, *bv, *bo;          /* (C) or NULL without enable_bias */
    const float *ln2_g, *ln2_b;              /* final_layer_norm of the block (C) */
    temper__mat fc1, fc2;                    /* (F, C), (C, F) NK */
    const float *b1, *b2;                    /* (F), (C) or NULL */
} temper__opt_layer;

typedef struct {
    const temper__tensor *embed;             /* (V, E) */
    const temper__tensor *pos;               /* (P + 2, C) */
    int E;                                   /* word_embed_proj_dim */
    int has_proj;                            /* project_in / project_out present */
    temper__mat proj_in, proj_out;           /* (C, E) and (E, C) NK */
    const float *lnf_g, *lnf_b;              /* decoder final_layer_norm (C) or NULL */
    int pre_ln;                              /* do_layer_norm_before */
    temper__mat head;                        /* (V, E) NK */
    temper__opt_layer *layers;               /* (L) */
} temper__opt;

static const char *const temper__opt_prefixes[] = {"model.decoder.", "decoder.", NULL};

static int temper__opt_init(temper_model *m, const cJSON *cfg) {
    temper__hparams *hp = &m->hp;
    int rc, E;
    const char *act = temper__cfg_str(cfg, "activation_function");
    if ((rc = temper__cfg_int(cfg, "num_hidden_layers", 12, &hp->n_layer)) < 0 ||
        (rc = temper__cfg_int(cfg, "num_attention_heads", 12, &hp->n_head)) < 0 ||
        (rc = temper__cfg_int(cfg, "hidden_size", 768, &hp->n_embd)) < 0 ||
        (rc = temper__cfg_int(cfg, "ffn_dim", 3072, &hp->n_ff)) < 0 ||
        (rc = temper__cfg_int(cfg, "max_position_embeddings", 2048, &hp->n_ctx)) < 0 ||
        (rc = temper__cfg_int(cfg, "vocab_size", 50272, &hp->n_vocab)) < 0 ||
        (rc = temper__cfg_int(cfg, "word_embed_proj_dim", hp->n_embd, &E)) < 0)
        return temper__error_prefix(rc, "%s", m->path);
    if (hp->n_layer < 1 || hp->n_layer > TEMPER__MAX_LAYERS || hp->n_head < 1 || hp->n_embd % hp->n_head ||
        hp->n_ff < 1 || hp->n_ctx < 1 ||
        hp->n_vocab < 1 || E < 1)
        return temper__error(TEMPER_EFORMAT, "%s/config.json: inconsistent sizes (layers %d, heads %d, hidden %d)",
                             m->path, hp->n_layer, hp->n_head, hp->n_embd);
    if (act && strcmp(act, "relu") != 0)
        return temper__error(TEMPER_EUNSUPPORTED, "%s/config.json: activation_function \"%s\" is not supported "
                             "for opt (relu only)", m->path, act);
    if (!temper__cfg_bool(cfg, "layer_norm_elementwise_affine", 1))
        return temper__error(TEMPER_EUNSUPPORTED, "%s/config.json: layer_norm_elementwise_affine false is not "
                             "supported", m->path);
    hp->n_kv_head = hp->n_head;
    hp->head_dim = hp->n_embd / hp->n_head;
    hp->norm_eps = 1e-5f; /* nn.LayerNorm default; OPT's config has no epsilon */
    const int C = hp->n_embd, F = hp->n_ff, L = hp->n_layer, V = hp->n_vocab;
    int bias = temper__cfg_bool(cfg, "enable_bias", 1);

    temper__opt *g = calloc(1, sizeof *g);
    if (!g) return temper__error(TEMPER_ENOMEM, "out of memory");
    m->arch_data = g;
    g->layers = calloc((size_t)L, sizeof *g->layers);
    if (!g->layers) return temper__error(TEMPER_ENOMEM, "out of memory");
    g->E = E;
    g->pre_ln = temper__cfg_bool(cfg, "do_layer_norm_before", 1);

    const char *const *P = temper__opt_prefixes;
    if ((rc = temper__model_table(m, P, V, E, &g->embed, "embed_tokens.weight")) < 0 ||
        (rc = temper__model_table(m, P, hp->n_ctx + TEMPER__OPT_POS_OFFSET, C, &g->pos,
                                  "embed_positions.weight")) < 0)
        return rc;
    g->has_proj = E != C;
    if (g->has_proj &&
        ((rc = temper__model_mat(m, P, TEMPER__NK, E, C, &g->proj_in, "project_in.weight")) < 0 ||
         (rc = temper__model_mat(m, P, TEMPER__NK, C, E, &g->proj_out, "project_out.weight")) < 0))
        return rc;
    /* The decoder-level final norm exists only in pre-LN models. */
    if (g->pre_ln && !temper__cfg_bool(cfg, "_remove_final_layer_norm", 0) &&
        ((rc = temper__model_vec(m, P, C, &g->lnf_g, "final_layer_norm.weight")) < 0 ||
         (rc = temper__model_vec(m, P, C, &g->lnf_b, "final_layer_norm.bias")) < 0))
        return rc;
    for (int l = 0; l < L; l++) {
        temper__opt_layer *ly = &g->layers[l];
        if ((rc = temper__model_vec(m, P, C, &ly->ln1_g, "layers.%d.self_attn_layer_norm.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->ln1_b, "layers.%d.self_attn_layer_norm.bias", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, C, &ly->q, "layers.%d.self_attn.q_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, C, &ly->k, "layers.%d.self_attn.k_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, C, &ly->v, "layers.%d.self_attn.v_proj.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, C, &ly->o, "layers.%d.self_attn.out_proj.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->ln2_g, "layers.%d.final_layer_norm.weight", l)) < 0 ||
            (rc = temper__model_vec(m, P, C, &ly->ln2_b, "layers.%d.final_layer_norm.bias", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, C, F, &ly->fc1, "layers.%d.fc1.weight", l)) < 0 ||
            (rc = temper__model_mat(m, P, TEMPER__NK, F, C, &ly->fc2, "layers.%d.fc2.weight", l)) < 0)
            return rc;
        if (bias &&
            ((rc = temper__model_vec(m, P, C, &ly->bq, "layers.%d.self_attn.q_proj.bias", l)) < 0 ||
             (rc = temper__model_vec(m, P, C, &ly->bk, "layers.%d.self_attn.k_proj.bias", l)) < 0 ||
             (rc = temper__model_vec(m, P, C, &ly->bv, "layers.%d.self_attn.v_proj.bias", l)) < 0 ||
             (rc = temper__model_vec(m, P, C, &ly->bo, "layers.%d.self_attn.out_proj.bias", l)) < 0 ||
             (rc = temper__model_vec(m, P, F, &ly->b1, "layers.%d.fc1.bias", l)) < 0 ||
             (rc = temper__model_vec(m, P, C, &ly->b2, "layers.%d.fc2.bias", l)) < 0))
            return rc;
    }
    static const char *const none[] = {"", NULL};
    if (!temper__cfg_bool(cfg, "tie_word_embeddings", 1)) {
        if ((rc = temper__model_mat(m, none, TEMPER__NK, E, V, &g->head, "lm_head.weight")) < 0) return rc;
    } else {
        if ((rc = temper__model_tied_head(m, g->embed, E, V, &g->head)) < 0) return rc;
    }
    return 0;
}

static void temper__opt_free(temper_model *m) {
    temper__opt *g = m->arch_data;
    if (g) free(g->layers);
    free(g);
    m->arch_data = NULL;
}

static int temper__opt_forward(temper_context *ctx, const temper__batch *b) {
    const temper_model *m = ctx->model;
    const temper__opt *g = m->arch_data;
    const temper__hparams *hp = &m->hp;
    const int T = b->n, C = hp->n_embd, F = hp->n_ff, H = hp->n_head, hd = hp->head_dim, E = g->E;
    const int P = ctx->n_ctx;
    const int W = E > C ? E : C;
    /* x (T, C) residual, h (T, W) normed / embeddings, q, k, v, att (T, C),
     * ff (T, F), scores (nth, P). */
    size_t nth = (size_t)temper__pool_size(ctx->pool);
    size_t need = (size_t)T * (C + W + 4 * C + F) + nth * P;
    float *x = temper__ctx_scratch(ctx, need);
    if (!x) return TEMPER_ENOMEM;
    float *h = x + (size_t)T * C, *q = h + (size_t)T * W, *k = q + (size_t)T * C, *v = k + (size_t)T * C;
    float *att = v + (size_t)T * C, *ff = att + (size_t)T * C, *scores = ff + (size_t)T * F;

    for (int r = 0; r < T; r++) {
        float *dst = g->has_proj ? h + (size_t)r * E : x + (size_t)r * C;
        temper__row_f32(dst, g->embed->data, g->embed->dtype, E, b->tokens[r]);
    }
    if (g->has_proj) temper__matmul(ctx->pool, x, C, h, T, &g->proj_in, NULL, 0);
    for (int r = 0; r < T; r++) {
        temper__row_f32(q, g->pos->data, g->pos->dtype, C, b->pos[r] + TEMPER__OPT_POS_OFFSET);
        float *xr = x + (size_t)r * C;
        for (int i = 0; i < C; i++) xr[i] += q[i];
    }
    temper__capture_hidden(ctx, 0, x, T, C);

    for (int l = 0; l < hp->n_layer; l++) {
        int stop = temper__ctx_abort(ctx); /* between layers */
        if (stop < 0) return stop;
        const temper__opt_layer *ly = &g->layers[l];
        const float *in = x;
        if (g->pre_ln) {
            temper__layernorm(h, x, T, C, ly->ln1_g, ly->ln1_b, hp->norm_eps);
            in = h;
        }
        temper__matmul(ctx->pool, q, C, in, T, &ly->q, ly->bq, 0);
        temper__matmul(ctx->pool, k, C, in, T, &ly->k, ly->bk, 0);
        temper__matmul(ctx->pool, v, C, in, T, &ly->v, ly->bv, 0);
        float *kc, *vc;
        temper__kv_store(ctx, b, l, C, k, v, C, &kc, &vc);
        temper__attn_args a = {.out = att, .q = q, .kc = kc, .vc = vc, .H = H, .Hkv = H, .hd = hd,
                               .scale = 1.0f / sqrtf((float)hd), .scratch = scores};
        temper__layer_attention(ctx, b, l, &a);
        temper__matmul(ctx->pool, x, C, att, T, &ly->o, ly->bo, 1);
        if (!g->pre_ln) temper__layernorm(x, x, T, C, ly->ln1_g, ly->ln1_b, hp->norm_eps);
        in = x;
        if (g->pre_ln) {
            temper__layernorm(h, x, T, C, ly->ln2_g, ly->ln2_b, hp->norm_eps);
            in = h;
        }
        temper__matmul_ep(ctx->pool, ff, F, in, T, &ly->fc1, ly->b1, TEMPER__EP_RELU); /* ReLU fused */
        temper__matmul(ctx->pool, x, C, ff, T, &ly->fc2, ly->b2, 1);
        if (!g->pre_ln) temper__layernorm(x, x, T, C, ly->ln2_g, ly->ln2_b, hp->norm_eps);
        temper__capture_hidden(ctx, l + 1, x, T, C);
    }
    /* Final norm (pre-LN models; post-LN ones have none), projection to E, then the head. */
    const temper__norm lnf = {g->lnf_g, g->lnf_b, hp->norm_eps, 0};
    if (!temper__final_norm(ctx, b, x, q, C, &lnf)) return 0;
    const float *last = q;
    if (g->has_proj) {
        temper__matmul(ctx->pool, h, E, q, b->n_out, &g->proj_out, NULL, 0);
        last = h;
    }
    temper__matmul(ctx->pool, b->logits, hp->n_vocab, last, b->n_out, &g->head, NULL, 0);
    return 0;
}

const temper__arch temper__arch_opt = {
    .name = "opt",
    .init = temper__opt_init,
    .free = temper__opt_free,
    .forward = temper__opt_forward,
};
