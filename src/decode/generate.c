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
    memset(&p, 0, sizeof p);
    p.sampling = temper_sampling_default_params();
    p.max_new_tokens = 20;
    p.num_return_sequences = 1;
    p.num_beams = 1;
    p.length_penalty = 1.0f;
    p.early_stopping = TEMPER_EARLY_STOPPING_FALSE;
    return p;
}

int temper__is_eos(const temper__gen *g, temper_token id) {
    for (int i = 0; i < g->n_eos; i++)
        if (g->eos[i] == id) return 1;
    return 0;
}

int temper__hits_stop(temper__gen *g, const temper_token *ids, int n) {
    if (g->p->n_stop == 0 || n == 0) return 0;
    for (;;) {
        int len = temper_detokenize(g->tok, ids, n, TEMPER_DETOKENIZE_SKIP_SPECIAL,
                                    g->text, g->text_cap);
        if (len < 0) return len;
        if ((size_t)len < g->text_cap) break;
        char *t = realloc(g->text, (size_t)len + 64);
        if (!t) return temper__error(TEMPER_ENOMEM, "out of memory for stop strings");
        g->text = t;
        g->text_cap = (size_t)len + 64;
    }
    for (int k = 0; k < g->p->n_stop; k++)
        if (strstr(g->text, g->p->stop[k])) return 1;
    return 0;
}

void temper__record(temper__gen *g, temper_token id, temper_token_prob *prob,
                    temper_token_prob *top) {
    prob->id = id;
    prob->logprob = temper_sampler_logprob(g->sampler, id, TEMPER_LOGPROB_RAW);
    prob->logprob_processed =
        temper_sampler_logprob(g->sampler, id, TEMPER_LOGPROB_PROCESSED);
    if (g->n_top == 0) return;
    temper_token ids[64];
    float lps[64];
    int n = temper_sampler_top(g->sampler, TEMPER_LOGPROB_RAW, g->n_top, ids, lps);
    for (int k = 0; k < g->n_top; k++) {
        top[k].id = k < n ? ids[k] : -1;
        top[k].logprob = k < n ? lps[k] : -INFINITY;
        top[k].logprob_processed =
            k < n ? temper_sampler_logprob(g->sampler, ids[k], TEMPER_LOGPROB_PROCESSED)
                  : -INFINITY;
    }
}

int temper__seq_alloc(const temper__gen *g, temper_sequence *seq) {
    size_t cap = (size_t)(g->cap > 0 ? g->cap : 1);
    seq->ids = malloc(sizeof(temper_token) * cap);
    seq->probs = malloc(sizeof(temper_token_prob) * cap);
    seq->top = g->n_top ? malloc(sizeof(temper_token_prob) * cap * (size_t)g->n_top) : NULL;
    seq->n_ids = 0;
    seq->finish_reason = TEMPER_FINISH_NONE;
    seq->sum_logprob = 0;
    seq->score = NAN;
    if (!seq->ids || !seq->probs || (g->n_top && !seq->top))
        return temper__error(TEMPER_ENOMEM, "out of memory for %zu tokens", cap);
    return 0;
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

/* The greedy / sampling loop over N = num_return_sequences sequences. */
static int sample_loop(temper__gen *g) {
    const temper_generate_params *p = g->p;
    temper_context *ctx = g->ctx;
    int N = p->num_return_sequences, V = g->V;
    temper_sequence *seqs = g->out->seqs;
    size_t hist_len = (size_t)g->n_prompt + (size_t)g->cap;
    float *logits = malloc(sizeof(float) * (size_t)V * (size_t)N);  /* (N, V) */
    temper_token *hist = malloc(sizeof(temper_token) * hist_len * (size_t)N); /* (N, hist_len) */
    temper_rng *rng = malloc(sizeof(temper_rng) * (size_t)N);
    int *alive = malloc(sizeof(int) * (size_t)N), *slots = malloc(sizeof(int) * (size_t)N);
    temper_token *next = malloc(sizeof(temper_token) * (size_t)N);
    int rc = 0;
    if (!logits || !hist || !rng || !alive || !slots || !next) {
        rc = temper__error(TEMPER_ENOMEM, "out of memory for %d sequences", N);
        goto done;
    }
    double t0 = temper__now();
    /* Every slot is overwritten: start from an empty slot 0. */
    if ((rc = temper_seq_truncate(ctx, 0, 0)) < 0) goto done;
    if ((rc = temper_eval(ctx, 0, g->prompt, g->n_prompt, logits, 0)) < 0) goto done;
    g->out->n_forward += g->n_prompt;
    for (int i = 1; i < N; i++) {
        if ((rc = temper_seq_copy(ctx, i, 0, -1)) < 0) goto done;
        memcpy(logits + (size_t)i * V, logits, sizeof(float) * (size_t)V);
    }
    double t1 = temper__now();
    g->out->prompt_seconds = t1 - t0;
    for (int i = 0; i < N; i++) {
        memcpy(hist + (size_t)i * hist_len, g->prompt, sizeof(temper_token) * (size_t)g->n_prompt);
        temper_rng_seed(&rng[i], p->seed, (uint64_t)(p->first_stream + i));
        alive[i] = 1;
    }
    if (g->cap == 0)
        for (int i = 0; i < N; i++)
            seqs[i].finish_reason = p->max_new_tokens == 0 ? TEMPER_FINISH_LENGTH
                                                           : TEMPER_FINISH_CONTEXT;

    /* logits row of sequence i: (i, V) of the previous batch, in order */
    for (int step = 0; step < g->cap; step++) {
        int n_next = 0;
        for (int i = 0; i < N; i++) {
            if (!alive[i]) continue;
            temper_sequence *s = &seqs[i];
            temper_token *h = hist + (size_t)i * hist_len;
            temper_token id;
            if ((rc = temper_sampler_apply(g->sampler, logits + (size_t)i * V, h,
                                           g->n_prompt + s->n_ids, g->n_prompt)) < 0 ||
                (rc = temper_sampler_sample(g->sampler, &rng[i], &id)) < 0)
                goto done;
            int k = s->n_ids++;
            temper__record(g, id, &s->probs[k], s->top ? s->top + (size_t)k * g->n_top : NULL);
            s->ids[k] = id;
            s->sum_logprob += s->probs[k].logprob_processed;
            h[g->n_prompt + k] = id;
            if (p->on_token) p->on_token(p->user, i, id);
            int stop = temper__hits_stop(g, s->ids, s->n_ids);
            if (stop < 0) {
                rc = stop;
                goto done;
            }
            if (temper__is_eos(g, id)) s->finish_reason = TEMPER_FINISH_EOS;
            else if (stop) s->finish_reason = TEMPER_FINISH_STOP;
            else if (s->n_ids == p->max_new_tokens) s->finish_reason = TEMPER_FINISH_LENGTH;
            else if (s->n_ids == g->cap) s->finish_reason = TEMPER_FINISH_CONTEXT;
            if (s->finish_reason != TEMPER_FINISH_NONE) {
                alive[i] = 0;
                continue;
            }
            slots[n_next] = i;
            next[n_next++] = id;
        }
        g->out->n_steps = step + 1;
        if (n_next == 0) break;
        if ((rc = temper_eval_batch(ctx, slots, next, n_next, logits)) < 0) goto done;
        g->out->n_forward += n_next;
        /* spread the (n_next, V) rows back to the rows of their sequences,
         * from the last one down so that no row is overwritten early */
        for (int j = n_next - 1; j >= 0; j--)
            if (slots[j] != j)
                memcpy(logits + (size_t)slots[j] * V, logits + (size_t)j * V,
                       sizeof(float) * (size_t)V);
    }
    g->out->decode_seconds = temper__now() - t1;
done:
    free(logits);
    free(hist);
    free(rng);
    free(alive);
    free(slots);
    free(next);
    return rc;
}

static int check_params(const temper__gen *g, const temper_generate_params *p) {
    int slots = p->num_beams > p->num_return_sequences ? p->num_beams : p->num_return_sequences;
    int greedy = !p->sampling.do_sample || p->sampling.temperature == 0.0f;
    if (p->max_new_tokens < 0)
        return temper__error(TEMPER_EINVAL, "max_new_tokens is %d: use a count >= 0",
                             p->max_new_tokens);
    if (p->num_beams < 1)
        return temper__error(TEMPER_EINVAL, "num_beams is %d: use 1 (no beam search) or more",
                             p->num_beams);
    if (p->num_return_sequences < 1)
        return temper__error(TEMPER_EINVAL, "num_return_sequences is %d: use 1 or more",
                             p->num_return_sequences);
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
    if (!(p->length_penalty == p->length_penalty) || isinf(p->length_penalty))
        return temper__error(TEMPER_EINVAL, "length_penalty is %g: use a finite number",
                             (double)p->length_penalty);
    if (p->early_stopping < TEMPER_EARLY_STOPPING_FALSE ||
        p->early_stopping > TEMPER_EARLY_STOPPING_NEVER)
        return temper__error(TEMPER_EINVAL, "early_stopping is %d: use 0 (false), 1 (true) "
                             "or 2 (never)", p->early_stopping);
    if (p->first_stream < 0)
        return temper__error(TEMPER_EINVAL, "first_stream is %d: use a stream >= 0",
                             p->first_stream);
    if (p->n_top < 0 || p->n_top > 64)
        return temper__error(TEMPER_EINVAL, "n_top is %d: use 0 to 64 alternatives", p->n_top);
    if (p->n_eos < 0 || (p->n_eos > 0 && !p->eos_ids) || p->n_stop < 0 ||
        (p->n_stop > 0 && !p->stop))
        return temper__error(TEMPER_EINVAL, "eos_ids or stop: a count without an array");
    for (int k = 0; k < p->n_stop; k++)
        if (!p->stop[k] || !p->stop[k][0])
            return temper__error(TEMPER_EINVAL, "stop string %d is empty", k);
    if (p->n_stop > 0 && !g->tok)
        return temper__error(TEMPER_EINVAL, "stop strings need the model's tokenizer, "
                             "which is missing");
    if (slots > g->ctx->n_seq)
        return temper__error(TEMPER_EINVAL,
                             "the context has %d sequence slots and this needs %d: create "
                             "it with temper_context_params.n_seq >= %d",
                             g->ctx->n_seq, slots, slots);
    return 0;
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
    int rc = check_params(&g, p);
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

    /* EOS: the given ids, else the model's */
    temper_model_info info;
    temper_model_get_info(ctx->model, &info);
    int n_eos = p->eos_ids ? p->n_eos : (info.eos_id >= 0);
    g.eos = malloc(sizeof(temper_token) * (size_t)(n_eos + 1));
    if (!g.eos) return temper__error(TEMPER_ENOMEM, "out of memory");
    if (p->eos_ids) memcpy(g.eos, p->eos_ids, sizeof(temper_token) * (size_t)n_eos);
    else if (n_eos) g.eos[0] = info.eos_id;
    g.n_eos = n_eos;

    /* the sampler: min_new_tokens bans these EOS ids even with ignore_eos */
    temper_sampling_params sp = p->sampling;
    if (!sp.eos_ids) {
        sp.eos_ids = g.eos;
        sp.n_eos = g.n_eos;
    }
    if (p->ignore_eos) g.n_eos = 0;
    if (p->num_beams > 1) sp.do_sample = 0; /* processors only, on log-softmax */
    rc = temper_sampler_init(&sp, g.V, &g.sampler);

    int n_seqs = p->num_return_sequences;
    if (rc == 0) {
        g.out = calloc(1, sizeof *g.out);
        if (g.out) g.out->seqs = calloc((size_t)n_seqs, sizeof(temper_sequence));
        if (!g.out || !g.out->seqs) rc = temper__error(TEMPER_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        g.out->n_seqs = n_seqs;
        g.out->n_top = g.n_top;
        g.out->n_prompt = n_prompt;
        for (int i = 0; i < n_seqs && rc == 0; i++) rc = temper__seq_alloc(&g, &g.out->seqs[i]);
    }
    if (rc == 0) rc = p->num_beams > 1 ? temper__beam_search(&g) : sample_loop(&g);
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
