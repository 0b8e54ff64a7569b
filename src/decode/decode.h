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
 *
 * x starts as the caller's logits, read in place: the row is copied into
 * buf only when a stage changes a score (temper__row_write), and then
 * only the candidates when the row is already sparse.
 */
#ifndef TEMPER_DECODE_H
#define TEMPER_DECODE_H

#include <stdint.h>

#include "core/core.h"

typedef struct temper__row {
    int V;
    const float *x; /* (V) scores, meaningful for candidates only: the
                       caller's logits (borrowed) until a stage writes,
                       then buf */
    float *buf;     /* (V) owned: the written scores */
    int32_t *ids;   /* (V) candidate ids when sparse, increasing */
    int n;          /* number of candidates (V when dense) */
    int sparse;
    float temp;     /* dense rows: a temperature not yet divided out (the
                       scores are x / temp), else 1 */
    float max;      /* largest x of a dense row, when max_ok */
    int max_ok;
    float gap_p;    /* max - threshold of the last dense top-p: where the
                       next row's search starts */
    float *e;       /* (V) scratch: exp(x - max) per candidate position */
    float *f;       /* (V) scratch for the selections */
    float *h;       /* (V) scratch for the selections */
    int32_t *g;     /* (V) scratch positions */
} temper__row;

/* Candidate j's token id. */
static inline int temper__row_id(const temper__row *r, int j) {
    return r->sparse ? r->ids[j] : j;
}

/* ---- dense array passes (pass.c; AVX-512 in pass_avx512.c when the CPU
 * has it, else portable 8-lane vectors) */

/* Index of the first NaN or +inf of x (n), or -1; *max gets the largest
 * value. */
int temper__check_max(const float *x, int n, float *max);
float temper__max_array(const float *x, int n);
/* Maxima of disjoint sets of about 64 values that cover x (n), into out
 * (n); returns how many. The k-th largest of them bounds the
 * k-th largest value from below. */
int temper__set_max(const float *x, int n, float *out);
/* out = exp(in - m) (n; out may be NULL: the sum only); returns the sum.
 * in - m <= 0; below -87 the exp is 0. */
double temper__exp_sub_sum(const float *in, float m, float *out, int n);
/* The sum of e[i] (x[i] - m) over the i with e[i] != 0 (n). */
double temper__dot_shift(const float *e, const float *x, float m, int n);
/* out = in / t (n; a division, as transformers does, not a product by
 * 1/t; in == out allowed); returns the largest quotient. */
float temper__div_array(const float *in, float *out, int n, float t);
/* Indices i with x[i] >= t, increasing, into ids; returns their count. */
int temper__collect_ge(const float *x, int n, float t, int32_t *ids);
/* First i with x[i] == v, or -1. */
int temper__first_eq(const float *x, int n, float v);
/* Sampling: first index whose running sum of e (n) exceeds target; if
 * rounding leaves the total at or below target, the last nonzero one; -1
 * if all are zero. */
int temper__walk_cdf(const float *e, int n, double target);

/* The end of temper__walk_cdf once whole blocks are skipped: the running
 * sum cum of e[0..i) is at most target. */
static inline int temper__walk_rest(const float *e, int n, int i, double cum, double target) {
    for (; i < n; i++) {
        cum += e[i];
        if (cum > target) return i; /* e[i] > 0: cum just grew past */
    }
    for (i = n - 1; i >= 0; i--) /* rounding left the total at target */
        if (e[i] != 0.0f) return i;
    return -1;
}

/* The same passes, AVX-512 (pass_avx512.c; x86-64 only). */
int temper__check_max_avx512(const float *x, int n, float *max);
float temper__max_array_avx512(const float *x, int n);
int temper__set_max_avx512(const float *x, int n, float *out);
double temper__exp_sub_sum_avx512(const float *in, float m, float *out, int n);
double temper__dot_shift_avx512(const float *e, const float *x, float m, int n);
float temper__div_array_avx512(const float *in, float *out, int n, float t);
int temper__collect_ge_avx512(const float *x, int n, float t, int32_t *ids);
int temper__walk_cdf_avx512(const float *e, int n, double target);

/* Top-p's weighted quickselect (row.c): the smallest value v of a (n)
 * such that the values > v sum to < target; INFINITY if none. */
float temper__mass_select(float *a, int n, double target);
/* The k-th largest value of a (n, 1 <= k <= n); a is reordered. */
float temper__select_desc(float *a, int n, int k);
/* Typical's weighted quickselect (row.c): the smallest key v such that
 * the weights w of the keys <= v sum to >= target (the largest key if
 * none). key and w (n) are reordered together. */
float temper__mass_select_asc(float *key, float *w, int n, double target);

/* ---- the row */

/* Divide out a pending temperature (a pass over a dense row). */
void temper__row_settle(temper__row *r);
/* x made writable (copied into buf if it is still the caller's). */
float *temper__row_write(temper__row *r);
/* Largest candidate score (-inf when every candidate is -inf). */
float temper__row_max(temper__row *r);
/* The candidates' scores, contiguous: x itself (dense), or gathered
 * into f (sparse). */
const float *temper__row_scores(temper__row *r);
/* e[j] = exp(x[id_j] - m) for every candidate j; returns sum of e. */
double temper__row_exp(temper__row *r, float m);
/* The same sum without storing e. */
double temper__row_exp_sum(temper__row *r, float m);
/* Keep the candidates with x >= t. */
void temper__row_keep_ge(temper__row *r, float t);
/* Keep the candidates with exp(x - m) >= thr or x >= t_keep; e holds the
 * exps of the kept candidates on return. have_e: e already holds
 * exp(x - m) of the current candidates (temper__row_exp), not to redo. */
void temper__row_keep_e(temper__row *r, float m, double thr, float t_keep, int have_e);
/* The k-th largest candidate score (k >= 1); -inf if fewer than k are
 * finite. */
float temper__row_kth(temper__row *r, int k);
/* Collect the ids of a dense row's scores >= t into g; returns their
 * count. */
int temper__row_collect(temper__row *r, float t);
/* Number of finite candidates. */
int temper__row_n_finite(const temper__row *r);

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
int temper__apply_temperature(temper__row *r, float t);
void temper__apply_top_k(temper__row *r, int k, int min_keep);
void temper__apply_top_p(temper__row *r, float p, int min_keep);
void temper__apply_min_p(temper__row *r, float min_p, int min_keep);
int temper__apply_typical(temper__row *r, float mass, int min_keep);
void temper__apply_epsilon(temper__row *r, float eps, int min_keep);
void temper__apply_eta(temper__row *r, float eta, int min_keep);

/* ---- the parameter table (param_table.c) */

/* Every parameter of the table at its default (the rest zero). */
void temper__params_defaults(temper_generate_params *p);
/* Check every parameter of the table (only those of p->sampling when
 * sampling_only). Returns 0 or TEMPER_EINVAL naming the first bad one. */
int temper__params_check(const temper_generate_params *p, int sampling_only);

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
/* 1 if the decoded ids (n; special tokens left out) contain one of the
 * n_stop strings, 0 if not, or a negative error. *text (*cap bytes) is
 * scratch, grown as needed. */
int temper__stop_hit(const temper_tokenizer *tok, const char *const *stop, int n_stop,
                     const temper_token *ids, int n, char **text, size_t *cap);
/* 1 if the decoded generated ids (n) contain a stop string, 0 if not, or a
 * negative error. */
int temper__hits_stop(temper__gen *g, const temper_token *ids, int n);
/* Record in prob and top (n_top) the token id of the row last applied to s. */
void temper__record_with(temper_sampler *s, int n_top, temper_token id, temper_token_prob *prob,
                         temper_token_prob *top);
/* Record in probs/top the token id of the row last applied to g->sampler. */
void temper__record(temper__gen *g, temper_token id, temper_token_prob *prob,
                    temper_token_prob *top);
/* Allocate seq's arrays for cap tokens (n_top alternatives each). */
int temper__seq_alloc_n(int cap, int n_top, temper_sequence *seq);
/* Allocate seq's arrays for g->cap tokens. */
int temper__seq_alloc(const temper__gen *g, temper_sequence *seq);
/* Check the parameters of a generation that needs `slots` sequence slots
 * of ctx (NULL: only what needs no context). */
int temper__check_generate(temper_context *ctx, const temper_tokenizer *tok,
                           const temper_generate_params *p, int slots);
/* The stop ids of p: p->eos_ids, else the model's (*n of them, a malloc'd
 * copy in *out, owned by the caller). */
int temper__generate_eos(const temper_context *ctx, const temper_generate_params *p,
                         temper_token **out, int *n);
/* Move g's sequence into dst (g keeps an empty one). */
void temper__gen_take(temper_gen *g, temper_sequence *dst);
int temper__beam_search(temper__gen *g);

#endif
