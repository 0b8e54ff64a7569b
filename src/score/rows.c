/*
 * rows.c - log-probabilities of target tokens under rows of logits, and
 * the evaluation loop that feeds them (shared by score.c and perplexity.c).
 *
 * One row: z (V), target t, temperature T.
 *   m = max z;  log p(t) = (z_t - m) - log sum_v exp(z_v - m)
 *   tempered:   log softmax(z / T)(t) = (z_t - m)/T - log sum_v exp((z_v - m)/T)
 * Shifting by m keeps every exponent <= 0, so nothing overflows; the sums
 * are in double.
 */
#include <math.h>
#include <stdlib.h>

#include "score/score.h"

typedef struct rows_job {
    const float *logits; /* (rows, V) */
    int rows, V;
    const temper_token *targets; /* (rows) */
    double T;
    double *lp, *tlp; /* (rows); tlp may be NULL */
} rows_job;

static void row_logprob(const float *z, int V, int t, double T, double *lp, double *tlp) {
    float m = z[0];
    for (int v = 1; v < V; v++) m = z[v] > m ? z[v] : m;
    double s = 0;
    for (int v = 0; v < V; v++) s += exp((double)z[v] - m);
    *lp = ((double)z[t] - m) - log(s);
    if (!tlp) return;
    if (T == 1.0) {
        *tlp = *lp;
        return;
    }
    double st = 0;
    for (int v = 0; v < V; v++) st += exp(((double)z[v] - m) / T);
    *tlp = ((double)z[t] - m) / T - log(st);
}

static void rows_worker(void *arg, int ith, int nth) {
    const rows_job *j = arg;
    long r0, r1;
    temper__split(j->rows, 1, ith, nth, &r0, &r1);
    for (long r = r0; r < r1; r++)
        row_logprob(j->logits + (size_t)r * j->V, j->V, j->targets[r], j->T, &j->lp[r],
                    j->tlp ? &j->tlp[r] : NULL);
}

void temper__score_rows(temper_context *ctx, const float *logits, int rows,
                        const temper_token *targets, double T, double *lp, double *tlp) {
    rows_job j = {.logits = logits, .rows = rows, .V = ctx->model->hp.n_vocab,
                  .targets = targets, .T = T, .lp = lp, .tlp = tlp};
    if (rows <= 1) rows_worker(&j, 0, 1);
    else temper__pool_run(ctx->pool, rows_worker, &j);
}

int temper__score_span(temper_context *ctx, int seq, const temper_token *tokens, int n,
                       int first, double T, double *lp, double *tlp) {
    const int V = ctx->model->hp.n_vocab;
    /* The last token is only a target, never evaluated: check every id here. */
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return temper__error(TEMPER_ERANGE, "token id %d at index %d is outside the vocabulary "
                                 "[0, %d)", tokens[i], i, V);
    /* Positions before first - 1 only fill the KV cache: no logits. */
    int rc = temper_eval(ctx, seq, tokens, first - 1, NULL, 0);
    if (rc < 0) return rc;
    float *logits = malloc((size_t)TEMPER__SCORE_CHUNK * V * sizeof *logits); /* (CHUNK, V) */
    if (!logits) return temper__error(TEMPER_ENOMEM, "out of memory for the logits of %d positions",
                                      TEMPER__SCORE_CHUNK);
    /* Row r of a chunk starting at position p predicts token p + r + 1. */
    for (int p = first - 1; p < n - 1 && rc == 0; p += TEMPER__SCORE_CHUNK) {
        int rows = n - 1 - p < TEMPER__SCORE_CHUNK ? n - 1 - p : TEMPER__SCORE_CHUNK;
        rc = temper_eval(ctx, seq, tokens + p, rows, logits, TEMPER_EVAL_ALL_LOGITS);
        if (rc == 0)
            temper__score_rows(ctx, logits, rows, tokens + p + 1, T, lp + p + 1,
                               tlp ? tlp + p + 1 : NULL);
    }
    free(logits);
    return rc;
}
