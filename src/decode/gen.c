/*
 * gen.c - step-wise generation (temper_gen): one request, greedy or
 * sampling, in one sequence slot; temper_gen_step() advances many of them
 * with one temper_eval_batch per step.
 *
 * A request's life: NEW (prompt not evaluated) -> READY (logits of the
 * next token in `logits`) -> ... -> DONE (finish_reason set). A step
 * samples from the logits each READY request holds, so what a request
 * draws depends only on its own logits, sampler and random stream: the
 * batch it shares a step with changes nothing (each row of the forward
 * pass is computed as when alone).
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "models/model.h"

enum { GEN_NEW, GEN_READY, GEN_DONE };

struct temper_gen {
    temper_context *ctx;           /* borrowed */
    int seq;                       /* the slot */
    const temper_tokenizer *tok;   /* borrowed from the model; may be NULL */
    temper_generate_params p;      /* copy; p.stop, p.eos_ids point at ours */
    temper_token *prompt;          /* (n_prompt) owned */
    int n_prompt, V, cap, n_top;
    temper_token *eos;             /* (n_eos) stop ids, owned; empty with ignore_eos */
    int n_eos;
    char **stop;                   /* (p.n_stop) owned copies */
    temper_sampler *sampler;       /* owned */
    temper_rng rng;
    temper_token *hist;            /* (n_prompt + cap) prompt then generated */
    float *logits;                 /* (V) the next token's logits when READY */
    int state;
    int n_cached;                  /* prompt tokens the slot already holds */
    atomic_int cancel;
    temper_sequence out;           /* arrays of cap tokens, owned */
    temper_utf8_stream utf8;
    char *text;                    /* (text_cap) stop-string scratch */
    size_t text_cap;
    char *piece;                   /* (piece_cap) the callback's text */
    size_t piece_cap;
    int64_t n_forward;
};

void temper_gen_free(temper_gen *g) {
    if (!g) return;
    for (int k = 0; k < g->p.n_stop && g->stop; k++) free(g->stop[k]);
    free(g->stop);
    free(g->prompt);
    free(g->eos);
    temper_sampler_free(g->sampler);
    free(g->hist);
    free(g->logits);
    free(g->out.ids);
    free(g->out.probs);
    free(g->out.top);
    free(g->text);
    free(g->piece);
    free(g);
}

int temper_gen_new(temper_context *ctx, int seq, const temper_token *prompt, int n_prompt,
                   const temper_generate_params *p, uint64_t stream, temper_gen **out) {
    if (!out) return temper__error(TEMPER_EINVAL, "temper_gen_new: out is NULL");
    *out = NULL;
    if (!ctx || !p) return temper__error(TEMPER_EINVAL, "temper_gen_new: ctx or params is NULL");
    if (n_prompt < 1 || !prompt)
        return temper__error(TEMPER_EINVAL, "the prompt is empty: give at least one token "
                             "(GPT-2: <|endoftext|> as a start)");
    if (seq < 0 || seq >= ctx->n_seq)
        return temper__error(TEMPER_ERANGE, "sequence slot %d does not exist (the context has %d)",
                             seq, ctx->n_seq);
    if (p->num_beams != 1)
        return temper__error(TEMPER_EINVAL, "num_beams is %d: a step-wise request decodes one "
                             "sequence by greedy search or sampling: use temper_generate for "
                             "beam search", p->num_beams);
    temper_generate_params one = *p;
    one.num_return_sequences = 1;
    const temper_tokenizer *tok = temper_model_tokenizer(ctx->model);
    int rc = temper__check_generate(ctx, tok, &one, 1);
    if (rc < 0) return rc;
    int V = temper_model_n_vocab(ctx->model);
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= V)
            return temper__error(TEMPER_EINVAL, "prompt token %d is %d, outside the "
                                 "vocabulary [0, %d)", i, (int)prompt[i], V);
    if (n_prompt > ctx->n_ctx)
        return temper__error(TEMPER_ECONTEXT, "the prompt has %d tokens and the context "
                             "window %d", n_prompt, ctx->n_ctx);

    temper_gen *g = calloc(1, sizeof *g);
    if (!g) return temper__error(TEMPER_ENOMEM, "out of memory");
    g->ctx = ctx;
    g->seq = seq;
    g->tok = tok;
    g->p = one;
    g->p.stop = NULL;
    g->p.n_stop = 0;
    g->p.eos_ids = NULL;
    g->p.n_eos = 0;
    g->p.sampling.eos_ids = NULL; /* the sampler keeps its own copies */
    g->p.sampling.suppress_tokens = NULL;
    g->p.sampling.logit_bias = NULL;
    g->p.sampling.samplers = NULL;
    g->n_prompt = n_prompt;
    g->V = V;
    g->n_top = p->n_top;
    g->cap = ctx->n_ctx - n_prompt;
    if (g->cap > p->max_new_tokens) g->cap = p->max_new_tokens;
    temper_rng_seed(&g->rng, p->seed, stream);

    g->prompt = malloc(sizeof(temper_token) * (size_t)n_prompt);
    g->hist = malloc(sizeof(temper_token) * ((size_t)n_prompt + (size_t)g->cap));
    g->logits = malloc(sizeof(float) * (size_t)V);
    g->stop = p->n_stop ? calloc((size_t)p->n_stop, sizeof *g->stop) : NULL;
    if (!g->prompt || !g->hist || !g->logits || (p->n_stop && !g->stop))
        rc = temper__error(TEMPER_ENOMEM, "out of memory");
    for (int k = 0; rc == 0 && k < p->n_stop; k++) {
        g->stop[k] = temper__strdup(p->stop[k]);
        g->p.n_stop = k + 1;
        if (!g->stop[k]) rc = temper__error(TEMPER_ENOMEM, "out of memory");
    }
    g->p.stop = (const char *const *)g->stop;
    if (rc == 0) {
        memcpy(g->prompt, prompt, sizeof(temper_token) * (size_t)n_prompt);
        memcpy(g->hist, prompt, sizeof(temper_token) * (size_t)n_prompt);
        rc = temper__generate_eos(ctx, p, &g->eos, &g->n_eos);
    }
    if (rc == 0) {
        /* the sampler: min_new_tokens bans these EOS ids even with ignore_eos */
        temper_sampling_params sp = p->sampling;
        if (!sp.eos_ids) {
            sp.eos_ids = g->eos;
            sp.n_eos = g->n_eos;
        }
        rc = temper_sampler_init(&sp, V, &g->sampler);
        if (p->ignore_eos) g->n_eos = 0;
    }
    if (rc == 0) rc = temper__seq_alloc_n(g->cap, g->n_top, &g->out);
    if (rc < 0) {
        temper_gen_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

int temper_gen_prefill(temper_gen *g) {
    if (!g) return temper__error(TEMPER_EINVAL, "temper_gen_prefill: the request is NULL");
    if (g->state != GEN_NEW) return 0;
    int k = g->n_cached;
    int rc = temper_seq_truncate(g->ctx, g->seq, k);
    if (rc == 0) rc = temper_eval(g->ctx, g->seq, g->prompt + k, g->n_prompt - k, g->logits, 0);
    if (rc < 0) return rc;
    g->n_forward += g->n_prompt - k;
    g->state = GEN_READY;
    return 0;
}

int temper_gen_reuse_prefix(temper_gen *g, int n_cached) {
    if (!g) return temper__error(TEMPER_EINVAL, "temper_gen_reuse_prefix: the request is NULL");
    if (g->state != GEN_NEW)
        return temper__error(TEMPER_ESTATE, "temper_gen_reuse_prefix: the prompt is already evaluated");
    int held = temper_seq_len(g->ctx, g->seq);
    if (n_cached < 0 || n_cached > held)
        return temper__error(TEMPER_EINVAL, "temper_gen_reuse_prefix: %d cached tokens, and slot %d "
                             "holds %d positions", n_cached, g->seq, held);
    /* the last prompt token is always evaluated: its logits are the first step's */
    g->n_cached = n_cached < g->n_prompt ? n_cached : g->n_prompt - 1;
    return 0;
}

int temper_gen_share_prompt(temper_gen *g, const temper_gen *src) {
    if (!g || !src) return temper__error(TEMPER_EINVAL, "temper_gen_share_prompt: a request is NULL");
    if (g->ctx != src->ctx)
        return temper__error(TEMPER_EINVAL, "temper_gen_share_prompt: the requests are in two contexts");
    if (g->state != GEN_NEW || src->state != GEN_READY || src->out.n_ids != 0)
        return temper__error(TEMPER_ESTATE, "temper_gen_share_prompt: the request must be new and "
                             "the source must have evaluated its prompt and taken no token");
    if (g->n_prompt != src->n_prompt ||
        memcmp(g->prompt, src->prompt, sizeof(temper_token) * (size_t)g->n_prompt) != 0)
        return temper__error(TEMPER_EINVAL, "temper_gen_share_prompt: the prompts differ");
    int rc = temper_seq_copy(g->ctx, g->seq, src->seq, -1);
    if (rc < 0) return rc;
    memcpy(g->logits, src->logits, sizeof(float) * (size_t)g->V);
    g->state = GEN_READY;
    return 0;
}

void temper_gen_cancel(temper_gen *g) {
    if (g) atomic_store(&g->cancel, 1);
}

int temper_gen_finish_reason(const temper_gen *g) { return g ? g->out.finish_reason : TEMPER_FINISH_NONE; }

const temper_sequence *temper_gen_sequence(const temper_gen *g) { return g ? &g->out : NULL; }

int64_t temper_gen_n_forward(const temper_gen *g) { return g ? g->n_forward : 0; }

void temper__gen_take(temper_gen *g, temper_sequence *dst) {
    *dst = g->out;
    memset(&g->out, 0, sizeof g->out);
}

static void finish(temper_gen *g, int reason) {
    g->out.finish_reason = reason;
    g->state = GEN_DONE;
}

/* Make room for n more bytes of callback text after *len. */
static int piece_room(temper_gen *g, size_t len, size_t n) {
    if (len + n + 1 <= g->piece_cap) return 0;
    size_t cap = (len + n + 1) * 2;
    char *t = realloc(g->piece, cap);
    if (!t) return temper__error(TEMPER_ENOMEM, "out of memory for the token text");
    g->piece = t;
    g->piece_cap = cap;
    return 0;
}

/* The text id completes (the flush of what remains when last), into
 * g->piece; *len gets its length. */
static int piece_of(temper_gen *g, temper_token id, int last, size_t *len) {
    *len = 0;
    if (piece_room(g, 0, 64) < 0) return TEMPER_ENOMEM;
    if (!g->tok) return 0;
    if (!temper_token_is_special(g->tok, id)) {
        int n;
        while ((n = temper_detokenize_stream(g->tok, &g->utf8, id, g->piece, g->piece_cap)) >= 0 &&
               (size_t)n >= g->piece_cap)
            if (piece_room(g, 0, (size_t)n) < 0) return TEMPER_ENOMEM;
        if (n < 0) return n;
        *len = (size_t)n;
    }
    if (last) {
        int n;
        while ((n = temper_utf8_stream_flush(&g->utf8, g->piece + *len, g->piece_cap - *len)) >= 0 &&
               (size_t)n >= g->piece_cap - *len)
            if (piece_room(g, *len, (size_t)n) < 0) return TEMPER_ENOMEM;
        if (n < 0) return n;
        *len += (size_t)n;
    }
    g->piece[*len] = '\0';
    return 0;
}

/* Pick, record and announce g's next token. Returns 1 when g goes on (its
 * token is to be evaluated), 0 when it finished, or a negative error. */
static int take_token(temper_gen *g) {
    temper_sequence *s = &g->out;
    if (g->cap == 0) {
        finish(g, g->p.max_new_tokens == 0 ? TEMPER_FINISH_LENGTH : TEMPER_FINISH_CONTEXT);
        return 0;
    }
    temper_token id;
    int rc;
    if ((rc = temper_sampler_apply(g->sampler, g->logits, g->hist, g->n_prompt + s->n_ids,
                                   g->n_prompt)) < 0 ||
        (rc = temper_sampler_sample(g->sampler, &g->rng, &id)) < 0)
        return rc;
    int k = s->n_ids++;
    temper_token_prob *top = s->top ? s->top + (size_t)k * g->n_top : NULL;
    temper__record_with(g->sampler, g->n_top, id, &s->probs[k], top);
    s->ids[k] = id;
    s->sum_logprob += s->probs[k].logprob_processed;
    g->hist[g->n_prompt + k] = id;
    int stop = temper__stop_hit(g->tok, g->p.stop, g->p.n_stop, s->ids, s->n_ids, &g->text,
                                &g->text_cap);
    if (stop < 0) return stop;
    int reason = TEMPER_FINISH_NONE;
    for (int e = 0; e < g->n_eos; e++)
        if (g->eos[e] == id) reason = TEMPER_FINISH_EOS;
    if (reason == TEMPER_FINISH_NONE) {
        if (stop) reason = TEMPER_FINISH_STOP;
        else if (s->n_ids == g->p.max_new_tokens) reason = TEMPER_FINISH_LENGTH;
        else if (s->n_ids == g->cap) reason = TEMPER_FINISH_CONTEXT;
    }
    if (g->p.on_token) {
        size_t len;
        if ((rc = piece_of(g, id, reason != TEMPER_FINISH_NONE, &len)) < 0) return rc;
        temper_token_event e = {
            .seq = g->seq, .index = k, .id = id, .prob = &s->probs[k], .top = top,
            .n_top = g->n_top, .piece = g->piece, .piece_len = len, .finish_reason = reason,
        };
        if (g->p.on_token(&e, g->p.user) != 0 && reason == TEMPER_FINISH_NONE)
            reason = TEMPER_FINISH_CANCELED;
    }
    if (reason != TEMPER_FINISH_NONE) {
        finish(g, reason);
        return 0;
    }
    return 1;
}

int temper_gen_step(temper_gen *const *gens, int n) {
    if (n < 0 || (n > 0 && !gens)) return temper__error(TEMPER_EINVAL, "temper_gen_step: bad request array");
    temper_context *ctx = NULL;
    for (int i = 0; i < n; i++) {
        if (!gens[i]) return temper__error(TEMPER_EINVAL, "temper_gen_step: request %d is NULL", i);
        if (gens[i]->state == GEN_DONE) continue;
        if (ctx && gens[i]->ctx != ctx)
            return temper__error(TEMPER_EINVAL, "temper_gen_step: the requests are in two contexts: "
                                 "step each context on its own");
        ctx = gens[i]->ctx;
        for (int j = 0; j < i; j++)
            if (gens[j]->state != GEN_DONE && gens[j]->seq == gens[i]->seq)
                return temper__error(TEMPER_EINVAL, "temper_gen_step: requests %d and %d share slot %d",
                                     j, i, gens[i]->seq);
    }
    int n_next = 0, rc = 0;
    int slots[512];
    temper_token next[512];
    temper_gen *batch[512];
    for (int i = 0; i < n; i++) {
        temper_gen *g = gens[i];
        if (g->state == GEN_DONE) continue;
        if (atomic_load(&g->cancel)) {
            finish(g, TEMPER_FINISH_CANCELED);
            continue;
        }
        int go = n_next == 512 ? temper__error(TEMPER_EINVAL, "temper_gen_step: more than 512 "
                                               "requests in one step") : temper_gen_prefill(g);
        if (go == 0) go = take_token(g);
        if (go < 0) { /* this request and those that took a token end here */
            finish(g, TEMPER_FINISH_CANCELED);
            for (int j = 0; j < n_next; j++) finish(batch[j], TEMPER_FINISH_CANCELED);
            return go;
        }
        if (!go) continue;
        slots[n_next] = g->seq;
        next[n_next] = g->out.ids[g->out.n_ids - 1];
        batch[n_next++] = g;
    }
    if (n_next == 0) return 0;
    float *logits = malloc(sizeof(float) * (size_t)n_next * (size_t)batch[0]->V); /* (n_next, V) */
    if (!logits) rc = temper__error(TEMPER_ENOMEM, "out of memory for %d rows of logits", n_next);
    if (rc == 0) rc = temper_eval_batch(ctx, slots, next, n_next, logits);
    for (int j = 0; j < n_next; j++) {
        temper_gen *g = batch[j];
        if (rc < 0) {
            finish(g, TEMPER_FINISH_CANCELED);
            continue;
        }
        memcpy(g->logits, logits + (size_t)j * g->V, sizeof(float) * (size_t)g->V);
        g->n_forward++;
    }
    free(logits);
    return rc < 0 ? rc : n_next;
}
