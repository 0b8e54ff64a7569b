/* context.c - KV cache slots, scratch memory and the evaluation entry points. */
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

temper_context_params temper_context_default_params(void) {
    temper_context_params p = {.n_ctx = 0, .n_seq = 1, .n_threads = 0, .pool = NULL};
    return p;
}

int temper_context_init(temper_model *model, const temper_context_params *params, temper_context **out) {
    if (!out) return temper__error(TEMPER_EINVAL, "temper_context_init: out is NULL");
    *out = NULL;
    if (!model) return temper__error(TEMPER_EINVAL, "temper_context_init: model is NULL");
    temper_context_params p = params ? *params : temper_context_default_params();
    const temper__hparams *hp = &model->hp;
    if (p.n_ctx < 0 || p.n_seq < 0 || p.n_threads < 0)
        return temper__error(TEMPER_EINVAL, "context parameters must not be negative");
    if (p.n_ctx == 0 || p.n_ctx > hp->n_ctx) p.n_ctx = hp->n_ctx;
    if (p.n_seq == 0) p.n_seq = 1;
    if (p.n_threads == 0) p.n_threads = temper__n_cores();

    temper_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return temper__error(TEMPER_ENOMEM, "out of memory");
    ctx->model = model;
    ctx->n_ctx = p.n_ctx;
    ctx->n_seq = p.n_seq;
    size_t kv = temper__mul_size(temper__mul_size((size_t)hp->n_layer * p.n_seq, (size_t)p.n_ctx),
                                 (size_t)hp->n_kv_head * hp->head_dim);
    ctx->seq_len = calloc((size_t)p.n_seq, sizeof *ctx->seq_len);
    /* calloc: pages are only touched (and counted in RSS) as positions fill. */
    ctx->k_cache = kv ? calloc(kv, sizeof(float)) : NULL;
    ctx->v_cache = kv ? calloc(kv, sizeof(float)) : NULL;
    int rc = 0;
    if (!ctx->seq_len || !ctx->k_cache || !ctx->v_cache)
        rc = temper__error(TEMPER_ENOMEM, "out of memory for the KV cache (%d sequences x %d positions): "
                           "use a smaller context or fewer sequences", p.n_seq, p.n_ctx);
    if (rc == 0 && p.pool) ctx->pool = p.pool;
    else if (rc == 0) {
        rc = temper__pool_new(p.n_threads, &ctx->pool);
        ctx->own_pool = 1;
    }
    if (rc < 0) {
        temper_context_free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

void temper_context_free(temper_context *ctx) {
    if (!ctx) return;
    if (ctx->own_pool) temper__pool_free(ctx->pool);
    free(ctx->seq_len);
    free(ctx->k_cache);
    free(ctx->v_cache);
    free(ctx->scratch);
    free(ctx);
}

int temper_context_n_threads(const temper_context *ctx) { return temper__pool_size(ctx->pool); }

void temper_context_set_abort(temper_context *ctx, temper_abort_callback fn, void *user) {
    if (!ctx) return;
    ctx->abort_fn = fn;
    ctx->abort_user = user;
}

/* One forward call, holding the pool (which other contexts may share). */
static int temper__forward(temper_context *ctx, const temper__batch *b) {
    temper__pool_lock(ctx->pool);
    int rc = ctx->model->arch->forward(ctx, b);
    temper__pool_unlock(ctx->pool);
    return rc;
}

float *temper__ctx_scratch(temper_context *ctx, size_t n) {
    if (n <= ctx->scratch_floats) return ctx->scratch;
    free(ctx->scratch);
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    ctx->scratch = aligned_alloc(64, bytes);
    ctx->scratch_floats = ctx->scratch ? n : 0;
    if (!ctx->scratch) temper__error(TEMPER_ENOMEM, "out of memory for activations (%zu floats)", n);
    return ctx->scratch;
}

static int temper__check_seq(const temper_context *ctx, int seq) {
    if (!ctx) return temper__error(TEMPER_EINVAL, "context is NULL");
    if (seq < 0 || seq >= ctx->n_seq)
        return temper__error(TEMPER_ERANGE, "sequence slot %d does not exist (the context has %d)", seq,
                             ctx->n_seq);
    return 0;
}

static int temper__check_tokens(const temper_context *ctx, const temper_token *tokens, int n) {
    int V = ctx->model->hp.n_vocab;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return temper__error(TEMPER_ERANGE, "token id %d at index %d is outside the vocabulary [0, %d)",
                                 tokens[i], i, V);
    return 0;
}

/* Rows of one call are evaluated in chunks so that activations stay small. */
#define TEMPER__MAX_ROWS 512

int temper_eval(temper_context *ctx, int seq, const temper_token *tokens, int n, float *logits, int flags) {
    return temper_eval_capture(ctx, seq, tokens, n, logits, flags, NULL, NULL);
}

int temper_eval_capture(temper_context *ctx, int seq, const temper_token *tokens, int n, float *logits, int flags,
                        float *attn, float *hidden) {
    return temper_eval_capture_layers(ctx, seq, tokens, n, logits, flags, NULL, -1, attn, hidden);
}

/* layers (n_layers) checked, as slot numbers per layer into slot (L). */
static int temper__capture_slots(const temper_context *ctx, const int *layers, int n_layers, int *slot) {
    const int L = ctx->model->hp.n_layer;
    if (n_layers < 0 || (n_layers > 0 && !layers))
        return temper__error(TEMPER_EINVAL, "temper_eval_capture_layers: %d layers given%s", n_layers,
                             n_layers > 0 ? " but the list is NULL" : ": give 0 or more");
    for (int l = 0; l < L; l++) slot[l] = -1;
    for (int i = 0; i < n_layers; i++) {
        if (layers[i] < 0 || layers[i] >= L)
            return temper__error(TEMPER_EINVAL, "layer %d: the model has %d layers: give 0 to %d", layers[i], L,
                                 L - 1);
        if (i > 0 && layers[i] <= layers[i - 1])
            return temper__error(TEMPER_EINVAL, "layers %d then %d: list the layers in increasing order, once "
                                 "each", layers[i - 1], layers[i]);
        slot[layers[i]] = i;
    }
    return 0;
}

int temper_eval_capture_layers(temper_context *ctx, int seq, const temper_token *tokens, int n, float *logits,
                               int flags, const int *layers, int n_layers, float *attn, float *hidden) {
    int rc = temper__check_seq(ctx, seq);
    if (rc < 0) return rc;
    if (n < 0 || (n > 0 && !tokens)) return temper__error(TEMPER_EINVAL, "temper_eval: bad token array");
    if (n == 0) return 0;
    if ((rc = temper__check_tokens(ctx, tokens, n)) < 0) return rc;
    int start = ctx->seq_len[seq];
    if (start + n > ctx->n_ctx)
        return temper__error(TEMPER_ECONTEXT,
                             "%d tokens after %d already held exceed the context window of %d positions: "
                             "shorten the prompt (or truncate it from the left)",
                             n, start, ctx->n_ctx);
    const int V = ctx->model->hp.n_vocab, all = flags & TEMPER_EVAL_ALL_LOGITS;
    int *slot = NULL; /* (L) when layers are chosen */
    if (attn && n_layers >= 0) {
        slot = malloc(sizeof(int) * (size_t)ctx->model->hp.n_layer);
        if (!slot) return temper__error(TEMPER_ENOMEM, "out of memory");
        if ((rc = temper__capture_slots(ctx, layers, n_layers, slot)) < 0) {
            free(slot);
            return rc;
        }
    }
    int seqs[TEMPER__MAX_ROWS], pos[TEMPER__MAX_ROWS], rows[TEMPER__MAX_ROWS];
    for (int done = 0; done < n; done += TEMPER__MAX_ROWS) {
        int T = n - done < TEMPER__MAX_ROWS ? n - done : TEMPER__MAX_ROWS;
        for (int r = 0; r < T; r++) {
            seqs[r] = seq;
            pos[r] = start + done + r;
            rows[r] = r;
        }
        temper__batch b = {.n = T, .tokens = tokens + done, .seq = seqs, .pos = pos};
        if (logits && all) {
            b.n_out = T;
            b.out_rows = rows;
            b.logits = logits + (size_t)done * V;
        } else if (logits && done + T == n) {
            b.n_out = 1;
            rows[0] = T - 1;
            b.out_rows = rows;
            b.logits = logits;
        }
        const temper__hparams *hp = &ctx->model->hp;
        const size_t K = (size_t)start + n;
        ctx->capture = (temper__capture){
            .attn = attn ? attn + (size_t)done * K : NULL,
            .slot = slot,
            .attn_layer = (size_t)hp->n_head * n * K, .attn_head = (size_t)n * K, .attn_len = (int)K,
            .hidden = hidden ? hidden + (size_t)done * hp->n_embd : NULL,
            .hidden_layer = (size_t)n * hp->n_embd,
        };
        rc = temper__forward(ctx, &b);
        ctx->capture = (temper__capture){0};
        if (rc < 0) break;
        ctx->seq_len[seq] = start + done + T;
    }
    if (rc < 0) ctx->seq_len[seq] = start; /* nothing appended */
    free(slot);
    return rc;
}

int temper_eval_batch(temper_context *ctx, const int *seqs, const temper_token *tokens, int n_seqs,
                      float *logits) {
    if (!ctx || n_seqs < 0 || (n_seqs > 0 && (!seqs || !tokens)))
        return temper__error(TEMPER_EINVAL, "temper_eval_batch: bad arguments");
    if (n_seqs > TEMPER__MAX_ROWS)
        return temper__error(TEMPER_EINVAL, "temper_eval_batch: at most %d sequences per step", TEMPER__MAX_ROWS);
    int rc = temper__check_tokens(ctx, tokens, n_seqs);
    if (rc < 0) return rc;
    int pos[TEMPER__MAX_ROWS], rows[TEMPER__MAX_ROWS];
    for (int i = 0; i < n_seqs; i++) {
        if ((rc = temper__check_seq(ctx, seqs[i])) < 0) return rc;
        for (int j = 0; j < i; j++)
            if (seqs[j] == seqs[i])
                return temper__error(TEMPER_EINVAL, "temper_eval_batch: sequence %d appears twice", seqs[i]);
        if (ctx->seq_len[seqs[i]] >= ctx->n_ctx)
            return temper__error(TEMPER_ECONTEXT, "sequence %d is full (%d positions): the context window is exceeded",
                                 seqs[i], ctx->n_ctx);
        pos[i] = ctx->seq_len[seqs[i]];
        rows[i] = i;
    }
    temper__batch b = {.n = n_seqs, .tokens = tokens, .seq = seqs, .pos = pos,
                       .n_out = logits ? n_seqs : 0, .out_rows = rows, .logits = logits};
    if ((rc = temper__forward(ctx, &b)) < 0) return rc;
    for (int i = 0; i < n_seqs; i++) ctx->seq_len[seqs[i]]++;
    return 0;
}

int temper_seq_len(const temper_context *ctx, int seq) {
    int rc = temper__check_seq(ctx, seq);
    return rc < 0 ? rc : ctx->seq_len[seq];
}

int temper_seq_truncate(temper_context *ctx, int seq, int n_keep) {
    int rc = temper__check_seq(ctx, seq);
    if (rc < 0) return rc;
    if (n_keep < 0) return temper__error(TEMPER_EINVAL, "temper_seq_truncate: n_keep is negative");
    if (n_keep < ctx->seq_len[seq]) ctx->seq_len[seq] = n_keep;
    return 0;
}

int temper_seq_copy(temper_context *ctx, int dst, int src, int n) {
    int rc;
    if ((rc = temper__check_seq(ctx, dst)) < 0 || (rc = temper__check_seq(ctx, src)) < 0) return rc;
    if (n < 0 || n > ctx->seq_len[src]) n = ctx->seq_len[src];
    if (dst != src) {
        const temper__hparams *hp = &ctx->model->hp;
        size_t row = (size_t)hp->n_kv_head * hp->head_dim, slot = (size_t)ctx->n_ctx * row;
        for (int l = 0; l < hp->n_layer; l++) {
            size_t base = (size_t)l * ctx->n_seq * slot;
            memcpy(ctx->k_cache + base + dst * slot, ctx->k_cache + base + src * slot, n * row * sizeof(float));
            memcpy(ctx->v_cache + base + dst * slot, ctx->v_cache + base + src * slot, n * row * sizeof(float));
        }
    }
    ctx->seq_len[dst] = n;
    return 0;
}
