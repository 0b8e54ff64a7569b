/* forward.c - the steps every architecture's forward pass shares: the key
 * and value cache of a layer, attention over it, and the final norm before
 * the head. The architecture files keep what differs (projections, norms,
 * positions); these only move the same floats through the same kernels. */
#include "models/model.h"

void temper__kv_layer(const temper_context *ctx, int l, int KD, float **kc, float **vc) {
    size_t layer = (size_t)l * ctx->n_seq * ctx->n_ctx * KD;
    *kc = ctx->k_cache + layer;
    *vc = ctx->v_cache + layer;
}

void temper__kv_store(const temper_context *ctx, const temper__batch *b, int l, int KD, const float *k,
                      const float *v, size_t stride, float **kc, float **vc) {
    temper__kv_layer(ctx, l, KD, kc, vc);
    for (int r = 0; r < b->n; r++) {
        size_t at = ((size_t)b->seq[r] * ctx->n_ctx + b->pos[r]) * KD;
        memcpy(*kc + at, k + (size_t)r * stride, (size_t)KD * sizeof(float));
        memcpy(*vc + at, v + (size_t)r * stride, (size_t)KD * sizeof(float));
    }
}

void temper__layer_attention(temper_context *ctx, const temper__batch *b, int l, temper__attn_args *a) {
    a->seq = b->seq;
    a->pos = b->pos;
    a->T = b->n;
    a->n_ctx = ctx->n_ctx;
    temper__capture_attn(ctx, l, a);
    temper__attention(ctx->pool, a);
}

void temper__norm_rows(float *out, const float *x, int T, int C, const temper__norm *n) {
    if (!n->g) memcpy(out, x, (size_t)T * C * sizeof(float));
    else if (n->rms) temper__rmsnorm(out, x, T, C, n->g, n->eps);
    else temper__layernorm(out, x, T, C, n->g, n->b, n->eps);
}

int temper__final_norm(temper_context *ctx, const temper__batch *b, const float *x, float *h, int C,
                       const temper__norm *n) {
    const temper__hparams *hp = &ctx->model->hp;
    if (ctx->capture.hidden && n->g) /* the last hidden state is after the final norm, as in transformers */
        temper__norm_rows(ctx->capture.hidden + (size_t)hp->n_layer * ctx->capture.hidden_layer, x, b->n, C, n);
    if (!b->logits || b->n_out == 0) return 0;
    /* only the rows whose logits are wanted */
    for (int i = 0; i < b->n_out; i++)
        temper__norm_rows(h + (size_t)i * C, x + (size_t)b->out_rows[i] * C, 1, C, n);
    return b->n_out;
}
