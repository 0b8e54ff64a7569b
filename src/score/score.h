/*
 * score.h - private helpers of the analysis layer (src/score): the
 * log-softmax of logit rows at a target token, and the evaluation of a
 * span of tokens with the log-prob of each one.
 */
#ifndef TEMPER_SCORE_H
#define TEMPER_SCORE_H

#include "models/model.h"

/* Rows evaluated per forward call when every position's logits are kept:
 * the logits buffer is (TEMPER__SCORE_CHUNK, V) floats (13 MB for GPT-2). */
#define TEMPER__SCORE_CHUNK 64

/* For each row r of logits (rows, V): lp[r] = log softmax(z_r)[targets[r]]
 * and, when tlp is not NULL, tlp[r] = log softmax(z_r / T)[targets[r]],
 * in double. The rows are shared among the threads of ctx's pool. */
void temper__score_rows(temper_context *ctx, const float *logits, int rows,
                        const temper_token *targets, double T, double *lp,
                        double *tlp);

/* Slot seq must be empty. Evaluate tokens[0 .. n-1) from position 0 and
 * write the log-prob of each token i in [first, n) (first >= 1) to lp[i]
 * and, when tlp is not NULL, its tempered log-prob to tlp[i]; lp and tlp
 * are (n), the entries before first are left alone. The last token is
 * never evaluated: nothing after it is scored. */
int temper__score_span(temper_context *ctx, int seq, const temper_token *tokens,
                       int n, int first, double T, double *lp, double *tlp);

#endif
