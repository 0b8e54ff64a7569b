/*
 * score.c - the log-likelihood of a sequence, its power score and its
 * temperature score (../shared/reference/power-sampling.md, section 4):
 *
 *   log p(x)   = sum_{i>=1} log softmax(z_{i-1})[x_i]
 *   power      = alpha * log p(x)              (same order as log p)
 *   temperature= sum_{i>=1} log softmax(z_{i-1} / T)[x_i]
 *              = alpha log p(x) + (alpha - 1) sum_i H_alpha(p(.|x_<i)),
 *                alpha = 1/T: a bonus for uncertain contexts, which can
 *                reverse the order of two sequences.
 */
#include <math.h>
#include <stdlib.h>

#include "score/score.h"

temper_score_params temper_score_default_params(void) {
    temper_score_params p = {.alpha = 2.0, .temperature = 0.5, .seq = 0};
    return p;
}

int temper_score_sequence(temper_context *ctx, const temper_token *tokens, int n,
                          const temper_score_params *params, temper_sequence_score *out,
                          double *logprobs, double *temp_logprobs) {
    temper_score_params p = params ? *params : temper_score_default_params();
    if (!ctx || !out || (n > 0 && !tokens))
        return temper__error(TEMPER_EINVAL, "temper_score_sequence: ctx, tokens and out must not be NULL");
    if (n < 2)
        return temper__error(TEMPER_EINVAL,
                             "a sequence of %d token%s has nothing to score (the first token is never "
                             "scored): add the BOS token in front", n, n == 1 ? "" : "s");
    if (!(p.alpha > 0) || !isfinite(p.alpha))
        return temper__error(TEMPER_EINVAL, "alpha is %g: give a finite number > 0", p.alpha);
    if (!(p.temperature > 0) || !isfinite(p.temperature))
        return temper__error(TEMPER_EINVAL, "temperature is %g: give a finite number > 0", p.temperature);
    int rc = temper_seq_truncate(ctx, p.seq, 0);
    if (rc < 0) return rc;
    if (n > ctx->n_ctx)
        return temper__error(TEMPER_ECONTEXT, "%d tokens exceed the context window of %d positions: "
                             "shorten the text or use the sliding-window perplexity", n, ctx->n_ctx);
    double *lp = malloc(2 * (size_t)n * sizeof *lp); /* (2, n): log p, tempered log p */
    if (!lp) return temper__error(TEMPER_ENOMEM, "out of memory");
    double *tlp = lp + n;
    rc = temper__score_span(ctx, p.seq, tokens, n, 1, p.temperature, lp, tlp);
    if (rc == 0) {
        double sum = 0, tsum = 0;
        for (int i = 1; i < n; i++) sum += lp[i], tsum += tlp[i];
        lp[0] = tlp[0] = NAN;
        *out = (temper_sequence_score){
            .n_tokens = n,
            .n_scored = n - 1,
            .log_prob = sum,
            .power_score = p.alpha * sum,
            .temp_score = tsum,
            .mean_log_prob = sum / (n - 1),
            .perplexity = exp(-sum / (n - 1)),
        };
        for (int i = 0; i < n; i++) {
            if (logprobs) logprobs[i] = lp[i];
            if (temp_logprobs) temp_logprobs[i] = tlp[i];
        }
    }
    free(lp);
    return rc;
}
