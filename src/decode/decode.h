/*
 * decode.h - private pieces of the decoding layer: the working row the
 * stages transform, the stage table, and the row helpers (max, exp-sum,
 * threshold filters) that keep the cost per token low.
 *
 * The working row. Stages act on `x` (V scores) and a candidate set:
 *   dense  (sparse == 0): every id 0..V-1 is a candidate;
 *   sparse (sparse == 1): only ids[0..n) are, in increasing id order.
 * A token outside the candidate set is removed, whatever x holds for it;
 * a candidate whose score is -inf is removed too. Filters never rewrite
 * the whole row: they shrink the candidate list, so after a top-k of 50
 * every later stage touches 50 tokens, not 50,257.
 */
#ifndef TEMPER_DECODE_H
#define TEMPER_DECODE_H

#include <stdint.h>

#include "core/core.h"

typedef struct temper__row {
    int V;
    float *x;      /* (V) scores; meaningful for candidates only */
    int32_t *ids;  /* (V) candidate ids when sparse, increasing */
    int n;         /* number of candidates (V when dense) */
    int sparse;
    float *e;      /* (V) scratch: exp(x - max) per candidate position */
    float *f;      /* (V) scratch for the selections */
    int32_t *g;    /* (V) scratch positions */
} temper__row;

/* Candidate j's token id. */
static inline int temper__row_id(const temper__row *r, int j) {
    return r->sparse ? r->ids[j] : j;
}

/* ---- row helpers (row.c) */

/* Dense array passes (vectorised, AVX2 when the CPU has it). */
/* Copy in to out (n) and return the index of the first NaN or +inf, or
 * -1; *max gets the largest value. */
int temper__copy_checked(const float *in, float *out, int n, float *max);
float temper__max_array(const float *x, int n);
/* out = exp(in - m) (n); returns the sum. */
double temper__exp_sub_sum(const float *in, float m, float *out, int n);
/* The same, with the mass ladder used by top-p: ladder[k] = sum of the out
 * values >= temper__ladder[k] (decreasing powers of 2). */
#define TEMPER__LADDER 6
extern const float temper__ladder[TEMPER__LADDER];
double temper__exp_sub_sum_ladder(const float *in, float m, float *out, int n,
                                  double *ladder);
/* Indices i with x[i] >= t, increasing, into ids; returns their count. */
int temper__collect_ge(const float *x, int n, float t, int32_t *ids);
/* First i with x[i] == v, or -1. */
int temper__first_eq(const float *x, int n, float v);
/* Top-p's weighted quickselect (row.c): the smallest value v of a (n)
 * such that the values > v sum to < target; INFINITY if none. */
float temper__mass_select(float *a, int n, double target);
/* Sampling: first index whose running sum of e (n) exceeds target. */
int temper__walk_cdf(const float *e, int n, double target);
/* k-th largest finite value (heap: (k) scratch); -inf if < k finite. */
float temper__kth_array(const float *x, int n, int k, float *heap);

/* Largest candidate score (-inf when every candidate is -inf). */
float temper__row_max(const temper__row *r);
/* e[j] = exp(x[id_j] - m) for every candidate j; returns sum of e. With
 * ladder (TEMPER__LADDER), also the sums of the e >= temper__ladder[k]. */
double temper__row_exp(temper__row *r, float m, double *ladder);
/* Keep the candidates with x >= t. */
void temper__row_keep_ge(temper__row *r, float t);
/* Keep the candidates with e[j] >= thr or x >= t_keep (e from row_exp;
 * it stays valid for the kept candidates only when the row was sparse). */
void temper__row_keep_e(temper__row *r, float thr, float t_keep);
/* The k-th largest candidate score (k >= 1); -inf if fewer than k are
 * finite. */
float temper__row_kth(temper__row *r, int k);
/* Number of finite candidates. */
int temper__row_n_finite(const temper__row *r);

/* exp over an array, the same vectorisable polynomial everywhere so that
 * the dense and sparse paths give bit-identical values. Inputs below
 * -87.3 (and -inf) give 0. */
void temper__exp_array(const float *in, float *out, int n);
float temper__expf(float x);
/* x[i] /= t (a division, as transformers does, not a product by 1/t). */
void temper__div_array(float *x, int n, float t);

/* ---- stages (processors.c, warpers.c) */

enum temper__stage {
    TEMPER__ST_LOGIT_BIAS,
    TEMPER__ST_REPETITION,
    TEMPER__ST_PRESENCE_FREQUENCY,
    TEMPER__ST_NO_REPEAT_NGRAM,
    TEMPER__ST_MIN_NEW_TOKENS,
    TEMPER__ST_SUPPRESS,
    TEMPER__ST_TEMPERATURE, /* first warper */
    TEMPER__ST_TOP_K,
    TEMPER__ST_TOP_P,
    TEMPER__ST_MIN_P,
    TEMPER__ST_TYPICAL_P,
    TEMPER__ST_EPSILON,
    TEMPER__ST_ETA,
    TEMPER__ST_COUNT
};

extern const char *const temper__stage_names[TEMPER__ST_COUNT];

/* Parse a stage name or alias; -1 if unknown. */
int temper__stage_from_name(const char *name, size_t len);

/* History-based processors. hist: (n_hist), its first n_prompt are the
 * prompt. mark: (V) scratch of stamps, counts: (V) scratch of zeros
 * (left zeroed on return). */
void temper__apply_logit_bias(temper__row *r, const temper_logit_bias *b,
                              int n);
void temper__apply_repetition(temper__row *r, float penalty,
                              const temper_token *hist, int n_hist,
                              uint32_t *mark, uint32_t *stamp);
void temper__apply_presence_frequency(temper__row *r, float presence,
                                      float frequency,
                                      const temper_token *gen, int n_gen,
                                      int32_t *counts);
void temper__apply_no_repeat_ngram(temper__row *r, int n,
                                   const temper_token *hist, int n_hist);
void temper__apply_ban(temper__row *r, const temper_token *ids, int n);

/* Warpers: transformers' formulas over the candidate set. */
void temper__apply_temperature(temper__row *r, float t);
void temper__apply_top_k(temper__row *r, int k, int min_keep);
void temper__apply_top_p(temper__row *r, float p, int min_keep);
void temper__apply_min_p(temper__row *r, float min_p, int min_keep);
int temper__apply_typical(temper__row *r, float mass, int min_keep);
void temper__apply_epsilon(temper__row *r, float eps, int min_keep);
void temper__apply_eta(temper__row *r, float eta, int min_keep);

/* ---- generation (generate.c, beam.c) */

/* What both decoders share for one temper_generate() call. */
typedef struct temper__gen {
    temper_context *ctx;
    const temper_generate_params *p;
    const temper_tokenizer *tok;   /* borrowed; NULL if the model has none */
    const temper_token *prompt;    /* (n_prompt) borrowed */
    int n_prompt;
    int V;
    int cap;                       /* most new tokens: max_new_tokens, or
                                      what the context window leaves */
    int n_top;
    temper_token *eos;             /* (n_eos) owned; empty with ignore_eos */
    int n_eos;
    temper_sampler *sampler;       /* owned */
    temper_generation *out;        /* owned until returned */
    char *text;                    /* (text_cap) scratch for stop strings */
    size_t text_cap;
} temper__gen;

int temper__is_eos(const temper__gen *g, temper_token id);
/* 1 if the decoded generated ids (n) contain a stop string, 0 if not, or a
 * negative error. */
int temper__hits_stop(temper__gen *g, const temper_token *ids, int n);
/* Record in probs/top the token id of the row last applied to g->sampler. */
void temper__record(temper__gen *g, temper_token id, temper_token_prob *prob,
                    temper_token_prob *top);
/* Allocate seq's arrays for g->cap tokens. */
int temper__seq_alloc(const temper__gen *g, temper_sequence *seq);
int temper__beam_search(temper__gen *g);

#endif
