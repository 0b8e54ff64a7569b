/*
 * processors.c - the stages that depend on the token history or on lists
 * of ids: logit bias, repetition penalty, presence/frequency penalties,
 * no-repeat-ngram, bans (min-new-tokens and suppressed tokens).
 *
 * They touch a handful of scores, so they write x[id] directly (the
 * first write copies the caller's logits: temper__row_write). On a
 * sparse row a token outside the candidate list stays removed whatever
 * they write, as transformers' -inf stays -inf under +bias or *penalty.
 */
#include <math.h>
#include <string.h>

#include "decode/decode.h"

void temper__apply_logit_bias(temper__row *r, const temper_logit_bias *b,
                              int n) {
    float *x = temper__row_write(r);
    for (int i = 0; i < n; i++) x[b[i].id] += b[i].bias;
}

/* transformers' RepetitionPenaltyLogitsProcessor: gather the scores of the
 * ids in the history, penalise, scatter back, so every distinct token is
 * penalised once however often it occurs. mark/stamp dedupe in O(n_hist). */
void temper__apply_repetition(temper__row *r, float penalty,
                              const temper_token *hist, int n_hist,
                              uint32_t *mark, uint32_t *stamp) {
    if (n_hist == 0) return;
    float *x = temper__row_write(r);
    if (++*stamp == 0) { /* wrapped: old stamps could collide */
        memset(mark, 0, sizeof(uint32_t) * (size_t)r->V);
        *stamp = 1;
    }
    for (int i = 0; i < n_hist; i++) {
        temper_token id = hist[i];
        if (mark[id] == *stamp) continue;
        mark[id] = *stamp;
        float s = x[id];
        x[id] = s < 0 ? s * penalty : s / penalty;
    }
}

/* OpenAI: mu[j] - c[j] * frequency - (c[j] > 0) * presence, c[j] = count of
 * j among the generated tokens (not the prompt). counts is (V) zeros and is
 * left zeroed. */
void temper__apply_presence_frequency(temper__row *r, float presence,
                                      float frequency,
                                      const temper_token *gen, int n_gen,
                                      int32_t *counts) {
    if (n_gen == 0) return;
    float *x = temper__row_write(r);
    for (int i = 0; i < n_gen; i++) counts[gen[i]]++;
    for (int i = 0; i < n_gen; i++) {
        temper_token id = gen[i];
        if (counts[id] == 0) continue; /* already done */
        x[id] -= (float)counts[id] * frequency + presence;
        counts[id] = 0;
    }
}

/* transformers' NoRepeatNGramLogitsProcessor: every n-gram of the history
 * whose first n-1 tokens equal the last n-1 tokens bans its last token.
 * Nothing is banned while the history is shorter than n-1 tokens. */
void temper__apply_no_repeat_ngram(temper__row *r, int n,
                                   const temper_token *hist, int n_hist) {
    if (n <= 0 || n_hist + 1 < n) return;
    const temper_token *prefix = hist + n_hist - (n - 1); /* (n-1) */
    for (int i = 0; i + n <= n_hist; i++) {
        if (memcmp(hist + i, prefix, sizeof(temper_token) * (size_t)(n - 1)))
            continue;
        temper__row_write(r)[hist[i + n - 1]] = -INFINITY;
    }
}

void temper__apply_ban(temper__row *r, const temper_token *ids, int n) {
    if (n == 0) return;
    float *x = temper__row_write(r);
    for (int i = 0; i < n; i++) x[ids[i]] = -INFINITY;
}
