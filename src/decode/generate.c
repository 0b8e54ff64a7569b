/*
 * generate.c - temper_generate(): checks, the pieces both decoders share
 * (EOS, stop strings, recording a token), and the greedy / sampling loop.
 *
 * Greedy and sampling decode the N returned sequences as one batch: the
 * prompt runs once in slot 0, is copied to slots 1..N-1, and every step
 * runs the new token of each unfinished sequence through
 * temper_eval_batch. One sampler serves them all, one row after another;
 * sequence i draws from its own random stream.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "models/model.h"

temper_generate_params temper_generate_default_params(void) {
    temper_generate_params p;
    temper__params_defaults(&p); /* the table's defaults: transformers' */
    return p;
}

int temper__is_eos(const temper__gen *g, temper_token id) {
    for (int i = 0; i < g->n_eos; i++)
        if (g->eos[i] == id) return 1;
    return 0;
}

int temper__stop_hit(const temper_tokenizer *tok, const char *const *stop, int n_stop,
                     const temper_token *ids, int n, char **text, size_t *cap) {
    if (n_stop == 0 || n == 0) return 0;
    for (;;) {
        int len = temper_detokenize(tok, ids, n, TEMPER_DETOKENIZE_SKIP_SPECIAL, *text, *cap);
        if (len < 0) return len;
        if ((size_t)len < *cap) break;
        char *t = realloc(*text, (size_t)len + 64);
        if (!t) return temper__error(TEMPER_ENOMEM, "out of memory for stop strings");
        *text = t;
        *cap = (size_t)len + 64;
    }
    for (int k = 0; k < n_stop; k++)
        if (strstr(*text, stop[k])) return 1;
    return 0;
}

int temper__hits_stop(temper__gen *g, const temper_token *ids, int n) {
    return temper__stop_hit(g->tok, g->p->stop, g->p->n_stop, ids, n, &g->text, &g->text_cap);
}

void temper__record_with(temper_sampler *s, int n_top, temper_token id, temper_token_prob *prob,
                         temper_token_prob *top) {
    prob->id = id;
    prob->logprob = temper_sampler_logprob(s, id, TEMPER_LOGPROB_RAW);
    prob->logprob_processed = temper_sampler_logprob(s, id, TEMPER_LOGPROB_PROCESSED);
    if (n_top == 0) return;
    temper_token ids[64];
    float lps[64];
    int n = temper_sampler_top(s, TEMPER_LOGPROB_RAW, n_top, ids, lps);
    for (int k = 0; k < n_top; k++) {
        top[k].id = k < n ? ids[k] : -1;
        top[k].logprob = k < n ? lps[k] : -INFINITY;
        top[k].logprob_processed =
            k < n ? temper_sampler_logprob(s, ids[k], TEMPER_LOGPROB_PROCESSED) : -INFINITY;
    }
}

void temper__record(temper__gen *g, temper_token id, temper_token_prob *prob,
                    temper_token_prob *top) {
    temper__record_with(g->sampler, g->n_top, id, prob, top);
}

int temper__seq_alloc_n(int cap_tokens, int n_top, temper_sequence *seq) {
    size_t cap = (size_t)(cap_tokens > 0 ? cap_tokens : 1);
    seq->ids = malloc(sizeof(temper_token) * cap);
    seq->probs = malloc(sizeof(temper_token_prob) * cap);
    seq->top = n_top ? malloc(sizeof(temper_token_prob) * cap * (size_t)n_top) : NULL;
    seq->n_ids = 0;
    seq->finish_reason = TEMPER_FINISH_NONE;
    seq->sum_logprob = 0;
    seq->score = NAN;
    if (!seq->ids || !seq->probs || (n_top && !seq->top))
        return temper__error(TEMPER_ENOMEM, "out of memory for %zu tokens", cap);
    return 0;
}

int temper__seq_alloc(const temper__gen *g, temper_sequence *seq) {
    return temper__seq_alloc_n(g->cap, g->n_top, seq);
}

const char *temper_finish_reason_name(int r) {
    static const char *const names[] = {"none", "eos", "length", "stop", "context", "canceled"};
    return r >= 0 && r < (int)(sizeof names / sizeof names[0]) ? names[r] : NULL;
}

void temper_generation_free(temper_generation *gen) {
    if (!gen) return;
    for (int i = 0; i < gen->n_seqs; i++) {
        free(gen->seqs[i].ids);
        free(gen->seqs[i].probs);
        free(gen->seqs[i].top);
    }
    free(gen->seqs);
    free(gen);
}

int temper_generation_append(temper_generation *dst, temper_generation *src) {
    if (!dst || !src) return temper__error(TEMPER_EINVAL, "temper_generation_append: a NULL generation");
    if (src->n_top != dst->n_top || src->n_prompt != dst->n_prompt)
        return temper__error(TEMPER_EINVAL, "temper_generation_append: the generations differ in "
                             "n_top or n_prompt: append only batches of one run");
    size_t n = (size_t)dst->n_seqs + (size_t)src->n_seqs;
    temper_sequence *seqs = realloc(dst->seqs, (n ? n : 1) * sizeof *seqs); /* (n) */
    if (!seqs) return temper__error(TEMPER_ENOMEM, "out of memory appending sequences");
    memcpy(seqs + dst->n_seqs, src->seqs, (size_t)src->n_seqs * sizeof *seqs);
    dst->seqs = seqs;
    dst->n_seqs = (int)n;
    dst->n_steps = dst->n_steps > src->n_steps ? dst->n_steps : src->n_steps;
    dst->n_forward += src->n_forward;
    dst->prompt_seconds += src->prompt_seconds;
    dst->decode_seconds += src->decode_seconds;
    free(src->seqs); /* the sequences' arrays now belong to dst */
    free(src);
    return 0;
}

int temper__check_generate(temper_context *ctx, const temper_tokenizer *tok,
                           const temper_generate_params *p, int slots) {
    int greedy = !p->sampling.do_sample || p->sampling.temperature == 0.0f;
    int rc = temper__params_check(p, 0); /* the ranges of the table */
    if (rc < 0) return rc;
    if (p->num_beams > 1 && p->num_return_sequences > p->num_beams)
        return temper__error(TEMPER_EINVAL,
                             "num_return_sequences (%d) is larger than num_beams (%d): "
                             "beam search returns at most num_beams sequences",
                             p->num_return_sequences, p->num_beams);
    if (p->num_beams == 1 && p->num_return_sequences > 1 && greedy)
        return temper__error(TEMPER_EINVAL,
                             "num_return_sequences is %d with greedy decoding, which "
                             "gives %d copies of one text: turn sampling on, or use "
                             "num_beams >= %d",
                             p->num_return_sequences, p->num_return_sequences,
                             p->num_return_sequences);
    if (p->num_beams > 1 && !greedy)
        return temper__error(TEMPER_EUNSUPPORTED,
                             "beam search with sampling (beam-sample) is not supported: "
                             "use num_beams 1 to sample, or turn sampling off");
    if (p->first_stream < 0)
        return temper__error(TEMPER_EINVAL, "first_stream is %d: use a stream >= 0",
                             p->first_stream);
    if (p->n_eos < 0 || (p->n_eos > 0 && !p->eos_ids) || p->n_stop < 0 ||
        (p->n_stop > 0 && !p->stop))
        return temper__error(TEMPER_EINVAL, "eos_ids or stop: a count without an array");
    for (int k = 0; k < p->n_stop; k++)
        if (!p->stop[k] || !p->stop[k][0])
            return temper__error(TEMPER_EINVAL, "stop string %d is empty", k);
    if (p->n_stop > 0 && ctx && !tok)
        return temper__error(TEMPER_EINVAL, "stop strings need the model's tokenizer, "
                             "which is missing");
    if (ctx && slots > ctx->n_seq)
        return temper__error(TEMPER_EINVAL,
                             "the context has %d sequence slots and this needs %d: create "
                             "it with temper_context_params.n_seq >= %d",
                             ctx->n_seq, slots, slots);
    return 0;
}

int temper__generate_eos(const temper_context *ctx, const temper_generate_params *p,
                         temper_token **out, int *n) {
    const temper_token *ids = p->eos_ids;
    int count = p->n_eos;
    if (!ids) count = temper_model_eos_ids(ctx->model, &ids);
    *out = malloc(sizeof(temper_token) * (size_t)(count + 1));
    if (!*out) return temper__error(TEMPER_ENOMEM, "out of memory");
    if (count) memcpy(*out, ids, sizeof(temper_token) * (size_t)count);
    *n = count;
    return 0;
}

/* Greedy or sampling: N = num_return_sequences requests in slots 0..N-1,
 * the prompt evaluated once, one temper_gen_step per token. */
static int sample_loop(temper_context *ctx, const temper_token *prompt, int n_prompt,
                       const temper_generate_params *p, temper_generation *out) {
    int N = p->num_return_sequences, rc = 0;
    temper_gen **gens = calloc((size_t)N, sizeof *gens);
    if (!gens) return temper__error(TEMPER_ENOMEM, "out of memory for %d sequences", N);
    for (int i = 0; i < N && rc == 0; i++)
        rc = temper_gen_new(ctx, i, prompt, n_prompt, p, (uint64_t)p->first_stream + (uint64_t)i, &gens[i]);
    double t0 = temper__now();
    if (rc == 0) rc = temper_gen_prefill(gens[0]);
    for (int i = 1; i < N && rc == 0; i++) rc = temper_gen_share_prompt(gens[i], gens[0]);
    double t1 = temper__now();
    out->prompt_seconds = t1 - t0;
    while (rc == 0 && (rc = temper_gen_step(gens, N)) > 0) rc = 0;
    out->decode_seconds = temper__now() - t1;
    for (int i = 0; i < N && gens[i]; i++) {
        out->n_forward += temper_gen_n_forward(gens[i]);
        temper__gen_take(gens[i], &out->seqs[i]);
        if (out->seqs[i].n_ids > out->n_steps) out->n_steps = out->seqs[i].n_ids;
    }
    for (int i = 0; i < N; i++) temper_gen_free(gens[i]);
    free(gens);
    return rc;
}

int temper_generate(temper_context *ctx, const temper_token *prompt, int n_prompt,
                    const temper_generate_params *p, temper_generation **out) {
    if (!ctx || !p || !out) return temper__error(TEMPER_EINVAL, "ctx, params or out is NULL");
    *out = NULL;
    if (n_prompt < 1 || !prompt)
        return temper__error(TEMPER_EINVAL, "the prompt is empty: give at least one token "
                             "(GPT-2: <|endoftext|> as a start)");
    temper__gen g;
    memset(&g, 0, sizeof g);
    g.ctx = ctx;
    g.p = p;
    g.tok = temper_model_tokenizer(ctx->model);
    g.prompt = prompt;
    g.n_prompt = n_prompt;
    g.V = temper_model_n_vocab(ctx->model);
    g.n_top = p->n_top;
    int slots = p->num_beams > p->num_return_sequences ? p->num_beams : p->num_return_sequences;
    int rc = temper__check_generate(ctx, g.tok, p, slots);
    if (rc < 0) return rc;
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= g.V)
            return temper__error(TEMPER_EINVAL, "prompt token %d is %d, outside the "
                                 "vocabulary [0, %d)", i, (int)prompt[i], g.V);
    if (n_prompt > ctx->n_ctx)
        return temper__error(TEMPER_ECONTEXT, "the prompt has %d tokens and the context "
                             "window %d", n_prompt, ctx->n_ctx);
    g.cap = ctx->n_ctx - n_prompt;
    if (g.cap > p->max_new_tokens) g.cap = p->max_new_tokens;

    int n_seqs = p->num_return_sequences;
    g.out = calloc(1, sizeof *g.out);
    if (g.out) g.out->seqs = calloc((size_t)n_seqs, sizeof(temper_sequence));
    if (!g.out || !g.out->seqs) {
        if (g.out) free(g.out);
        return temper__error(TEMPER_ENOMEM, "out of memory");
    }
    g.out->n_seqs = n_seqs;
    g.out->n_top = g.n_top;
    g.out->n_prompt = n_prompt;
    if (p->num_beams == 1) {
        rc = sample_loop(ctx, prompt, n_prompt, p, g.out);
    } else {
        /* the sampler: min_new_tokens bans these EOS ids even with ignore_eos */
        rc = temper__generate_eos(ctx, p, &g.eos, &g.n_eos);
        temper_sampling_params sp = p->sampling;
        if (rc == 0 && !sp.eos_ids) {
            sp.eos_ids = g.eos;
            sp.n_eos = g.n_eos;
        }
        if (p->ignore_eos) g.n_eos = 0;
        sp.do_sample = 0; /* processors only, on log-softmax */
        if (rc == 0) rc = temper_sampler_init(&sp, g.V, &g.sampler);
        for (int i = 0; i < n_seqs && rc == 0; i++) rc = temper__seq_alloc(&g, &g.out->seqs[i]);
        if (rc == 0) rc = temper__beam_search(&g);
    }
    temper_sampler_free(g.sampler);
    free(g.eos);
    free(g.text);
    if (rc < 0) {
        temper_generation_free(g.out);
        return rc;
    }
    *out = g.out;
    return 0;
}
