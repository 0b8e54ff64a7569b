/*
 * beam.c - transformers' vectorised beam search (generation/utils.py,
 * _beam_search), one prompt, B = num_beams beams:
 *
 *   running scores start at [0, -1e9, ...] (all beams share the prompt)
 *   every step, for each beam b:
 *       s_b = processors(log_softmax(logits_b))          (V)
 *       acc_b = s_b + running_score_b
 *   candidates: the best K = max(2, 1 + #eos) * B of the B*V acc values
 *   finished: a candidate among the best B that ends (EOS, length, stop
 *       string) joins the hypotheses with acc / gen_len ^ length_penalty,
 *       gen_len = generated tokens, this one included; the hypotheses keep
 *       the best B
 *   running: the best B candidates that do not end
 *   stop when no running beam can beat the worst hypothesis (early_stopping
 *       false / never), when B hypotheses exist (true), or when every
 *       candidate ends.
 *
 * KV cache: beam i lives in a slot. A new beam takes over its parent's
 * slot if it is the parent's first child; other children get a copy of
 * the parent's slot in a slot freed by a beam that has no child.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "models/model.h"

#define BEAM_NEG (-1.0e9f) /* transformers' "never chosen" score */

typedef struct beam {
    temper_sequence seq;  /* generated so far (arrays of g->cap) */
    temper_token *hist;   /* (n_prompt + cap) prompt then seq.ids */
    float score;          /* running: sum of processed log-probs */
    int slot;             /* KV slot */
} beam;

typedef struct cand {
    float acc;            /* running score + processed log-prob */
    int beam;
    temper_token id;
} cand;

/* Order of the candidates: higher acc first, then lower flat index
 * (beam * V + id), as a stable top-k would give. */
static int cand_better(const cand *a, const cand *b) {
    if (a->acc != b->acc) return a->acc > b->acc;
    if (a->beam != b->beam) return a->beam < b->beam;
    return a->id < b->id;
}

static int cand_cmp(const void *x, const void *y) {
    const cand *a = x, *b = y;
    return cand_better(a, b) ? -1 : cand_better(b, a) ? 1 : 0;
}

/* Keep the K best of acc (B rows of V) in top (K), unsorted: a min-heap on
 * cand_better with the worst at the root. */
static int top_candidates(const float *acc, int B, int V, int K, cand *top) {
    int n = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < V; t++) {
            cand c = {acc[(size_t)b * V + t], b, t};
            if (c.acc == -INFINITY) continue;
            if (n < K) {
                int i = n++;
                top[i] = c;
                while (i > 0 && cand_better(&top[(i - 1) / 2], &top[i])) {
                    cand tmp = top[i];
                    top[i] = top[(i - 1) / 2];
                    top[(i - 1) / 2] = tmp;
                    i = (i - 1) / 2;
                }
            } else if (cand_better(&c, &top[0])) {
                top[0] = c;
                for (int i = 0;;) {
                    int l = 2 * i + 1, w = i;
                    if (l < K && cand_better(&top[w], &top[l])) w = l;
                    if (l + 1 < K && cand_better(&top[w], &top[l + 1])) w = l + 1;
                    if (w == i) break;
                    cand tmp = top[i];
                    top[i] = top[w];
                    top[w] = tmp;
                    i = w;
                }
            }
        }
    qsort(top, (size_t)n, sizeof *top, cand_cmp);
    return n;
}

/* dst = src + one token (id, prob, top alternatives). */
static void extend(const temper__gen *g, temper_sequence *dst, const temper_sequence *src,
                   temper_token id, const temper_token_prob *prob,
                   const temper_token_prob *alts) {
    int n = src->n_ids;
    if (dst != src) {
        memcpy(dst->ids, src->ids, sizeof(temper_token) * (size_t)n);
        memcpy(dst->probs, src->probs, sizeof(temper_token_prob) * (size_t)n);
        if (g->n_top)
            memcpy(dst->top, src->top, sizeof(temper_token_prob) * (size_t)n * g->n_top);
    }
    dst->ids[n] = id;
    dst->probs[n] = *prob;
    if (g->n_top)
        memcpy(dst->top + (size_t)n * g->n_top, alts, sizeof(temper_token_prob) * g->n_top);
    dst->n_ids = n + 1;
    dst->sum_logprob = src->sum_logprob + prob->logprob_processed;
}

typedef struct beam_state {
    int B, V, K;
    beam *run, *next;      /* (B) each */
    temper_sequence *hyp;  /* (B) finished hypotheses */
    int *filled;           /* (B) */
    float *logits;         /* (B, V) logits, then acc = processed + running score */
    float *lp;             /* (B, V) raw log-softmax */
    float *proc;           /* (B, V) processed scores */
    temper_token_prob *alts; /* (B, n_top) */
    cand *cands;           /* (K) */
    int *slots, *parent_used, *free_slots; /* (B) */
    temper_token *tokens;  /* (B) */
} beam_state;

static int state_alloc(temper__gen *g, beam_state *st) {
    int B = st->B;
    size_t BV = (size_t)B * (size_t)st->V, H = (size_t)g->n_prompt + (size_t)g->cap;
    st->run = calloc((size_t)B, sizeof(beam));
    st->next = calloc((size_t)B, sizeof(beam));
    st->hyp = calloc((size_t)B, sizeof(temper_sequence));
    st->filled = calloc((size_t)B, sizeof(int));
    st->logits = malloc(sizeof(float) * BV);
    st->lp = malloc(sizeof(float) * BV);
    st->proc = malloc(sizeof(float) * BV);
    st->alts = malloc(sizeof(temper_token_prob) * (size_t)B * (size_t)(g->n_top + 1));
    st->cands = malloc(sizeof(cand) * (size_t)st->K);
    st->slots = malloc(sizeof(int) * (size_t)B);
    st->parent_used = malloc(sizeof(int) * (size_t)B);
    st->free_slots = malloc(sizeof(int) * (size_t)B);
    st->tokens = malloc(sizeof(temper_token) * (size_t)B);
    if (!st->run || !st->next || !st->hyp || !st->filled || !st->logits || !st->lp ||
        !st->proc || !st->alts || !st->cands || !st->slots || !st->parent_used ||
        !st->free_slots || !st->tokens)
        return temper__error(TEMPER_ENOMEM, "out of memory for %d beams", B);
    for (int b = 0; b < B; b++) {
        int rc;
        if ((rc = temper__seq_alloc(g, &st->run[b].seq)) < 0 ||
            (rc = temper__seq_alloc(g, &st->next[b].seq)) < 0 ||
            (rc = temper__seq_alloc(g, &st->hyp[b])) < 0)
            return rc;
        st->run[b].hist = malloc(sizeof(temper_token) * H);
        st->next[b].hist = malloc(sizeof(temper_token) * H);
        if (!st->run[b].hist || !st->next[b].hist)
            return temper__error(TEMPER_ENOMEM, "out of memory for %d beams", B);
    }
    return 0;
}

static void state_free(beam_state *st) {
    for (int b = 0; st->run && b < st->B; b++) {
        beam *arr[2] = {&st->run[b], &st->next[b]};
        for (int k = 0; k < 2; k++) {
            free(arr[k]->seq.ids);
            free(arr[k]->seq.probs);
            free(arr[k]->seq.top);
            free(arr[k]->hist);
        }
        if (st->hyp) {
            free(st->hyp[b].ids);
            free(st->hyp[b].probs);
            free(st->hyp[b].top);
        }
    }
    free(st->run);
    free(st->next);
    free(st->hyp);
    free(st->filled);
    free(st->logits);
    free(st->lp);
    free(st->proc);
    free(st->alts);
    free(st->cands);
    free(st->slots);
    free(st->parent_used);
    free(st->free_slots);
    free(st->tokens);
}

/* lp = log_softmax(x), both (V), in float as torch does. */
static void log_softmax(const float *x, float *lp, int V) {
    float m = temper__max_array(x, V);
    double z = temper__exp_sub_sum(x, m, lp, V); /* lp as scratch */
    float logz = (float)log(z);
    for (int i = 0; i < V; i++) lp[i] = (x[i] - m) - logz;
}

/* Put hypothesis (beam b + token c) among the B best, if it is better than
 * the worst one (or a slot is empty). */
static void add_hypothesis(temper__gen *g, beam_state *st, const cand *c, float score,
                           int finish) {
    int worst = 0;
    for (int k = 0; k < st->B; k++) {
        if (!st->filled[k]) {
            worst = k;
            break;
        }
        if (st->hyp[k].score < st->hyp[worst].score) worst = k;
    }
    if (st->filled[worst] && !(score > st->hyp[worst].score)) return;
    const beam *par = &st->run[c->beam];
    const temper_token_prob *alts = st->alts + (size_t)c->beam * g->n_top;
    temper_token_prob prob = {c->id, st->lp[(size_t)c->beam * st->V + c->id],
                              st->proc[(size_t)c->beam * st->V + c->id]};
    extend(g, &st->hyp[worst], &par->seq, c->id, &prob, alts);
    st->hyp[worst].score = score;
    st->hyp[worst].finish_reason = finish;
    st->filled[worst] = 1;
}

static int hyp_cmp(const void *x, const void *y) {
    const temper_sequence *a = x, *b = y;
    return (a->score < b->score) - (a->score > b->score);
}

int temper__beam_search(temper__gen *g) {
    const temper_generate_params *p = g->p;
    temper_context *ctx = g->ctx;
    beam_state st;
    memset(&st, 0, sizeof st);
    st.B = p->num_beams;
    st.V = g->V;
    st.K = (g->n_eos + 1 > 2 ? g->n_eos + 1 : 2) * st.B;
    int B = st.B, V = st.V, rc = state_alloc(g, &st);
    size_t H = (size_t)g->n_prompt + (size_t)g->cap;
    if (rc < 0) goto done;

    double t0 = temper__now();
    /* Every slot is overwritten: start from an empty slot 0. */
    if ((rc = temper_seq_truncate(ctx, 0, 0)) < 0) goto done;
    if ((rc = temper_eval(ctx, 0, g->prompt, g->n_prompt, st.logits, 0)) < 0) goto done;
    g->out->n_forward += g->n_prompt;
    for (int b = 0; b < B; b++) {
        if (b > 0 && (rc = temper_seq_copy(ctx, b, 0, -1)) < 0) goto done;
        if (b > 0) memcpy(st.logits + (size_t)b * V, st.logits, sizeof(float) * (size_t)V);
        memcpy(st.run[b].hist, g->prompt, sizeof(temper_token) * (size_t)g->n_prompt);
        st.run[b].score = b == 0 ? 0.0f : BEAM_NEG;
        st.run[b].slot = b;
    }
    double t1 = temper__now();
    g->out->prompt_seconds = t1 - t0;

    float lpen = p->length_penalty;
    for (int step = 0; step < g->cap; step++) {
        int gen_len = step + 1; /* generated tokens once this step's is added */
        /* 1. processed scores and their sums with the running scores */
        for (int b = 0; b < B; b++) {
            float *lp = st.lp + (size_t)b * V, *proc = st.proc + (size_t)b * V;
            beam *bm = &st.run[b];
            log_softmax(st.logits + (size_t)b * V, lp, V);
            if ((rc = temper_sampler_apply(g->sampler, lp, bm->hist, g->n_prompt + step,
                                           g->n_prompt)) < 0 ||
                (rc = temper_sampler_scores(g->sampler, proc)) < 0)
                goto done;
            if (g->n_top) {
                temper_token ids[64];
                float lps[64];
                int n = temper_sampler_top(g->sampler, TEMPER_LOGPROB_RAW, g->n_top, ids, lps);
                temper_token_prob *a = st.alts + (size_t)b * g->n_top;
                for (int k = 0; k < g->n_top; k++) {
                    a[k].id = k < n ? ids[k] : -1;
                    a[k].logprob = k < n ? lp[ids[k]] : -INFINITY;
                    a[k].logprob_processed = k < n ? proc[ids[k]] : -INFINITY;
                }
            }
            /* the logits are no longer needed: their row takes acc */
            float *acc = st.logits + (size_t)b * V;
            for (int t = 0; t < V; t++) acc[t] = proc[t] + bm->score;
        }
        /* 2. the K best candidates */
        int nc = top_candidates(st.logits, B, V, st.K, st.cands);
        /* 3. which candidates end, hypotheses from the best B of them */
        int all_full = 1;
        for (int k = 0; k < B; k++) all_full &= st.filled[k];
        int full_early = all_full && p->early_stopping == TEMPER_EARLY_STOPPING_TRUE;
        int n_run = 0, n_hits = 0;
        float pen = powf((float)gen_len, lpen);
        for (int k = 0; k < nc; k++) {
            const cand *c = &st.cands[k];
            const beam *par = &st.run[c->beam];
            int finish = TEMPER_FINISH_NONE;
            if (temper__is_eos(g, c->id)) finish = TEMPER_FINISH_EOS;
            else if (gen_len == p->max_new_tokens) finish = TEMPER_FINISH_LENGTH;
            else if (gen_len == g->cap) finish = TEMPER_FINISH_CONTEXT;
            else if (p->n_stop) {
                temper_token *ids = st.next[B - 1].seq.ids; /* scratch: ids + c->id */
                memcpy(ids, par->seq.ids, sizeof(temper_token) * (size_t)par->seq.n_ids);
                ids[par->seq.n_ids] = c->id;
                int hit = temper__hits_stop(g, ids, par->seq.n_ids + 1);
                if (hit < 0) {
                    rc = hit;
                    goto done;
                }
                if (hit) finish = TEMPER_FINISH_STOP;
            }
            if (finish != TEMPER_FINISH_NONE) {
                n_hits++;
                if (k < B && !full_early) add_hypothesis(g, &st, c, c->acc / pen, finish);
                continue;
            }
            if (n_run < B) st.cands[n_run++] = *c; /* k >= n_run: safe in place */
        }
        g->out->n_steps = step + 1;
        /* 4. stop? (transformers' _beam_search_has_unfinished_sequences) */
        all_full = 1;
        float worst = INFINITY;
        for (int k = 0; k < B; k++) {
            all_full &= st.filled[k];
            if (st.filled[k] && st.hyp[k].score < worst) worst = (float)st.hyp[k].score;
        }
        if (!all_full) worst = BEAM_NEG;
        int best_len = gen_len;
        if (p->early_stopping == TEMPER_EARLY_STOPPING_NEVER && lpen > 0)
            best_len = p->max_new_tokens < g->cap ? p->max_new_tokens : g->cap;
        float best_running = n_run > 0 ? st.cands[0].acc / powf((float)best_len, lpen)
                                       : -INFINITY;
        int improvable = best_running > worst;
        int open = !(all_full && p->early_stopping == TEMPER_EARLY_STOPPING_TRUE);
        int valid = n_hits < nc && n_run == B;
        if (!(improvable && open && valid)) break;
        /* 5. the new running beams, their KV slots, one batch step */
        int n_free = 0;
        for (int b = 0; b < B; b++) st.parent_used[b] = 0;
        for (int i = 0; i < B; i++) st.parent_used[st.cands[i].beam]++;
        for (int b = 0; b < B; b++)
            if (!st.parent_used[b]) st.free_slots[n_free++] = st.run[b].slot;
        for (int b = 0; b < B; b++) st.parent_used[b] = 0;
        for (int i = 0; i < B; i++) {
            const cand *c = &st.cands[i];
            beam *par = &st.run[c->beam], *nb = &st.next[i];
            temper_token_prob prob = {c->id, st.lp[(size_t)c->beam * V + c->id],
                                      st.proc[(size_t)c->beam * V + c->id]};
            extend(g, &nb->seq, &par->seq, c->id, &prob,
                   st.alts + (size_t)c->beam * g->n_top);
            memcpy(nb->hist, par->hist, sizeof(temper_token) * H);
            nb->hist[g->n_prompt + step] = c->id;
            nb->score = c->acc;
            if (!st.parent_used[c->beam]++) {
                nb->slot = par->slot;
            } else {
                nb->slot = st.free_slots[--n_free];
                if ((rc = temper_seq_copy(ctx, nb->slot, par->slot, -1)) < 0) goto done;
            }
        }
        beam *tmp = st.run;
        st.run = st.next;
        st.next = tmp;
        for (int i = 0; i < B; i++) {
            st.slots[i] = st.run[i].slot;
            st.tokens[i] = st.run[i].seq.ids[step];
        }
        if ((rc = temper_eval_batch(ctx, st.slots, st.tokens, B, st.logits)) < 0) goto done;
        g->out->n_forward += B;
    }
    /* 6. the best hypotheses, best first (add_hypothesis fills the slots
     * in order, so the filled ones are 0..n_filled-1) */
    int n_filled = 0;
    while (n_filled < B && st.filled[n_filled]) n_filled++;
    qsort(st.hyp, (size_t)n_filled, sizeof *st.hyp, hyp_cmp);
    for (int i = 0; i < g->out->n_seqs; i++) {
        temper_sequence *dst = &g->out->seqs[i];
        if (i >= n_filled) { /* cannot happen: the last step fills them */
            dst->finish_reason = TEMPER_FINISH_LENGTH;
            continue;
        }
        const temper_sequence *src = &st.hyp[i];
        memcpy(dst->ids, src->ids, sizeof(temper_token) * (size_t)src->n_ids);
        memcpy(dst->probs, src->probs, sizeof(temper_token_prob) * (size_t)src->n_ids);
        if (g->n_top)
            memcpy(dst->top, src->top,
                   sizeof(temper_token_prob) * (size_t)src->n_ids * g->n_top);
        dst->n_ids = src->n_ids;
        dst->finish_reason = src->finish_reason;
        dst->sum_logprob = src->sum_logprob;
        dst->score = src->score;
    }
    g->out->decode_seconds = temper__now() - t1;
done:
    state_free(&st);
    return rc;
}
