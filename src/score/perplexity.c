/*
 * perplexity.c - sliding-window perplexity, the loop of transformers'
 * guide "Perplexity of fixed-length models" (see temper.h): windows of
 * max_length tokens moved by stride, each scoring only the tokens the
 * previous windows did not, with the guide's weighting of the windows.
 *
 * In window [begin, end), HF masks the labels before index len - trg_len
 * (len = end - begin) and its internal shift drops label 0, so the scored
 * tokens are the window indices [max(1, len - trg_len), len): with
 * disjoint windows the first token of each window is never scored. The last
 * token of a window is fed to the model only for its own label, which
 * needs no forward pass: temper__score_span skips it.
 */
#include <math.h>
#include <stdlib.h>

#include "score/score.h"

temper_perplexity_params temper_perplexity_default_params(void) {
    temper_perplexity_params p = {.max_length = 0, .stride = 0, .seq = 0};
    return p;
}

/* Number of windows of the guide's loop. */
static int count_windows(int n, int max_length, int stride) {
    int count = 0;
    for (long begin = 0; begin < n; begin += stride) {
        count++;
        if (begin + max_length >= n) break;
    }
    return count;
}

int temper_perplexity(temper_context *ctx, const temper_token *tokens, int n,
                      const temper_perplexity_params *params, temper_perplexity_result *out,
                      temper_ppl_window *windows, int cap, double *token_nll) {
    temper_perplexity_params p = params ? *params : temper_perplexity_default_params();
    if (!ctx || !out || (n > 0 && !tokens) || cap < 0 || (cap > 0 && !windows))
        return temper__error(TEMPER_EINVAL, "temper_perplexity: ctx, tokens, out (and windows when "
                             "cap > 0) must not be NULL");
    if (n < 2)
        return temper__error(TEMPER_EINVAL, "a text of %d token%s has nothing to score (the first "
                             "token is never scored): give a longer text", n, n == 1 ? "" : "s");
    int max_length = p.max_length ? p.max_length : ctx->n_ctx;
    int stride = p.stride ? p.stride : max_length;
    if (max_length < 2 || max_length > ctx->n_ctx)
        return temper__error(TEMPER_EINVAL, "max_length %d: give a window of 2 to %d tokens (the "
                             "context window)", max_length, ctx->n_ctx);
    if (stride < 1 || stride > max_length)
        return temper__error(TEMPER_EINVAL, "stride %d: give 1 to max_length (%d); a larger stride "
                             "would leave tokens between the windows unscored", stride, max_length);
    int rc = temper_seq_truncate(ctx, p.seq, 0);
    if (rc < 0) return rc;

    double *nll = malloc((size_t)n * sizeof *nll); /* (n) log-probs, then NLLs; NAN: not scored */
    if (!nll) return temper__error(TEMPER_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) nll[i] = NAN;
    const int n_windows = count_windows(n, max_length, stride);
    double weighted = 0;
    long weight_sum = 0;
    int prev_end = 0, index = 0;
    for (int begin = 0; index < n_windows; begin += stride, index++) {
        int end = begin + max_length < n ? begin + max_length : n;
        int len = end - begin, trg_len = end - prev_end;
        int first = len - trg_len > 1 ? len - trg_len : 1; /* window index of the first scored token */
        temper_ppl_window w = {.begin = begin, .end = end, .trg_len = trg_len,
                               .n_scored = len - first,
                               .weight = (trg_len < len ? trg_len : len) - 1};
        if ((rc = temper_seq_truncate(ctx, p.seq, 0)) < 0) break;
        if ((rc = temper__score_span(ctx, p.seq, tokens + begin, len, first, 1.0, nll + begin, NULL)) < 0)
            break;
        double s = 0;
        for (int i = begin + first; i < end; i++) s -= nll[i], nll[i] = -nll[i];
        w.nll = w.n_scored > 0 ? s / w.n_scored : 0;
        if (w.n_scored > 0) {
            weighted += w.nll * w.weight;
            weight_sum += w.weight;
        }
        if (index < cap) windows[index] = w;
        prev_end = end;
        if (p.progress && p.progress(&w, index, n_windows, p.user) != 0) {
            rc = temper__error(TEMPER_ECANCELED, "perplexity canceled after window %d of %d",
                               index + 1, n_windows);
            break;
        }
    }
    temper_seq_truncate(ctx, p.seq, 0);
    if (rc < 0) {
        free(nll);
        return rc;
    }
    /* Token-level mean over the scored tokens and its standard error
     * (two passes for accuracy). */
    double mean = 0, ss = 0;
    int scored = 0;
    for (int i = 1; i < n; i++)
        if (!isnan(nll[i])) mean += nll[i], scored++;
    mean /= scored;
    for (int i = 1; i < n; i++)
        if (!isnan(nll[i])) ss += (nll[i] - mean) * (nll[i] - mean);
    double se = scored > 1 ? sqrt(ss / (scored - 1)) / sqrt((double)scored) : 0;
    double guide = weight_sum > 0 ? weighted / (double)weight_sum : mean;
    *out = (temper_perplexity_result){
        .n_tokens = n,
        .n_windows = n_windows,
        .max_length = max_length,
        .stride = stride,
        .nll = guide,
        .perplexity = exp(guide),
        .n_scored = scored,
        .token_nll = mean,
        .token_perplexity = exp(mean),
        .nll_stderr = se,
        .perplexity_stderr = exp(mean) * se,
    };
    if (token_nll) {
        for (int i = 0; i < n; i++) token_nll[i] = nll[i];
    }
    free(nll);
    return n_windows;
}
