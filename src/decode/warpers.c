/*
 * warpers.c - temperature and the filters (top-k, top-p, min-p, typical,
 * epsilon, eta), with transformers' formulas and edge cases.
 *
 * Every filter keeps the min_keep best tokens, ties with the min_keep-th
 * included (transformers' topk(scores, min_keep)[..., -1] test). Every
 * filter but typical keeps a set {x >= threshold}, so none sorts the
 * vocabulary: top-k finds its threshold by a selection among the scores
 * above a bound from set maxima, top-p with a quickselect weighted by
 * probability mass, typical with one weighted by probability (row.c).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"

/* On a dense row the division waits (decode.h): a top-k or min-p next
 * divides only the scores it keeps. A score that the division takes past
 * the largest float is an error (transformers' softmax would give NaN);
 * one taken below it is -inf, a removed token, as in transformers. */
int temper__apply_temperature(temper__row *r, float t) {
    float m = temper__row_max(r);
    if (m != -INFINITY && m / t == INFINITY)
        return temper__error(TEMPER_EINVAL,
                             "temperature %g takes the score %g past the largest float "
                             "(3.4e38): use a larger temperature",
                             (double)t, (double)m);
    if (r->sparse) {
        float *x = temper__row_write(r);
        for (int j = 0; j < r->n; j++) x[r->ids[j]] /= t;
        return 0;
    }
    temper__row_settle(r); /* a second temperature: the first is divided */
    r->temp = t;
    return 0;
}

/* The score every filter keeps regardless: the min_keep-th largest. */
static float keep_threshold(temper__row *r, float m, int min_keep) {
    return min_keep <= 1 ? m : temper__row_kth(r, min_keep);
}

void temper__apply_top_k(temper__row *r, int k, int min_keep) {
    if (k < min_keep) k = min_keep;
    if (k >= r->n) return; /* transformers clamps k to V: nothing removed */
    float t = temper__row_kth(r, k);
    if (t == -INFINITY) return; /* fewer than k tokens left */
    temper__row_keep_ge(r, t);
}

/* The shortest decimal that rounds to the float p, as a double: the value
 * the user wrote (0.8f -> 0.8, not 0.800000012). Remembered per thread. */
static double decimal_of(float p) {
    static _Thread_local float last_p = NAN;
    static _Thread_local double last_d;
    if (p == last_p) return last_d;
    double d = p;
    for (int digits = 1; digits <= 9; digits++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%.*g", digits, (double)p);
        double v = strtod(buf, NULL);
        if ((float)v == p) {
            d = v;
            break;
        }
    }
    last_p = p, last_d = d;
    return d;
}

/* Masses within float rounding (a few ulps) of p's count as reaching it
 * (see temper__apply_top_p). */
#define TOP_P_ROUNDING (1.0 - 8 * (double)FLT_EPSILON)

/*
 * Top-p of a dense row without sorting or exponentiating it twice: z is
 * one exp-sum pass; then the scores above m - gap are collected with
 * their exps. If those hold the target mass p z, no other token can be
 * kept (each has all of them strictly above it), so the selection runs on
 * them alone; else gap widens. It stops widening at llama2.c's bound: a
 * token with probability below (1 - p) / (n - 1) is never kept (the
 * tokens below it cannot reach 1 - p), nor one below the min_keep score.
 * Leaves the kept candidates in ids (sparse) and their exps in e.
 */
static void top_p_dense(temper__row *r, float p, float m, float t_keep) {
    temper__row_settle(r);
    double z = temper__exp_sub_sum(r->x, m, r->e, r->V);
    double target = decimal_of(p) * TOP_P_ROUNDING * z; /* see temper__apply_top_p */
    float floor_t = -FLT_MAX;
    if (r->V > 1) {
        double cut = (1.0 - p) / (r->V - 1) * z * 0.999;
        floor_t = m + (float)(log(cut) - 0.01); /* exp(x - m) < cut below */
    }
    if (floor_t > t_keep) floor_t = t_keep;
    float d = r->gap_p;
    int c;
    for (;;) {
        float t = m - d;
        if (!(t > floor_t)) t = floor_t;
        if (t > t_keep) t = t_keep;
        c = temper__row_collect(r, t);
        double s = 0.0;
        for (int j = 0; j < c; j++) s += r->e[r->g[j]];
        if (s >= target || t == floor_t) break;
        d = 1.25f * d + 1.0f;
    }
    for (int j = 0; j < c; j++) r->f[j] = r->e[r->g[j]];
    float thr = temper__mass_select(r->f, c, target);
    int n = 0;
    float low = m;
    for (int j = 0; j < c; j++) {
        int32_t id = r->g[j];
        float ej = r->e[id];
        r->ids[n] = id;
        r->e[n] = ej;
        int keep = (ej >= thr) | (r->x[id] >= t_keep);
        if (keep && r->x[id] < low) low = r->x[id];
        n += keep;
    }
    r->n = n;
    r->sparse = 1;
    r->max_ok = 0;
    r->gap_p = (m - low) + 0.5f;
}

/*
 * transformers' TopPLogitsWarper removes, in ascending order, the tokens
 * whose cumulative probability is <= 1 - p. The same set: keep a token iff
 * the mass of the tokens strictly above it is < p (the token crossing p is
 * kept; tied tokens are kept together). At the boundary transformers'
 * answer is the one of exact arithmetic (its test: p = 0.8 on [.3 .1 .1 .5]
 * removes both 0.1s, whose cumulative 0.2 is exactly 1 - 0.8): so p is
 * the decimal the user wrote, and a mass within float rounding (a few
 * ulps) of p counts as reaching it.
 */
void temper__apply_top_p(temper__row *r, float p, int min_keep) {
    float m = temper__row_max(r);
    if (m == -INFINITY) return;
    float t_keep = keep_threshold(r, m, min_keep);
    if (!r->sparse) {
        top_p_dense(r, p, m, t_keep);
        return;
    }
    double z = temper__row_exp(r, m), target = decimal_of(p) * TOP_P_ROUNDING * z;
    /* below llama2.c's bound a token is never kept (see top_p_dense) */
    float cut = r->n > 1 ? (float)((1.0 - p) / (r->n - 1) * z * 0.999) : 0.0f;
    if (cut <= 0.0f) cut = FLT_MIN; /* never select e == 0 */
    int na = 0; /* the possible members' masses, in f */
    for (int j = 0; j < r->n; j++)
        if (r->e[j] >= cut) r->f[na++] = r->e[j];
    float thr = temper__mass_select(r->f, na, target);
    temper__row_keep_e(r, m, thr, t_keep, 1);
}

/* transformers' MinPLogitsWarper: remove p < min_p * max p, i.e.
 * exp(x - max) < min_p. */
void temper__apply_min_p(temper__row *r, float min_p, int min_keep) {
    float m = temper__row_max(r);
    if (m == -INFINITY) return;
    temper__row_keep_e(r, m, min_p, keep_threshold(r, m, min_keep), 0);
}

/* transformers' EpsilonLogitsWarper: remove p < epsilon. */
void temper__apply_epsilon(temper__row *r, float eps, int min_keep) {
    float m = temper__row_max(r);
    if (m == -INFINITY) return;
    double z = temper__row_exp(r, m);
    temper__row_keep_e(r, m, eps * z, keep_threshold(r, m, min_keep), 1);
}

/* Entropy in nats of softmax over the candidates, -sum p log p =
 * log z - sum e (x - m) / z, with e their exps (summing to z) and xs
 * their scores (temper__row_scores). */
static double entropy(const temper__row *r, const float *xs, float m, double z) {
    return log(z) - temper__dot_shift(r->e, xs, m, r->n) / z;
}

/* transformers' EtaLogitsWarper: remove p < min(eta, sqrt(eta) * exp(-H)),
 * H the entropy of p in nats. */
void temper__apply_eta(temper__row *r, float eta, int min_keep) {
    float m = temper__row_max(r);
    if (m == -INFINITY) return;
    const float *xs = temper__row_scores(r);
    double z = temper__exp_sub_sum(xs, m, r->e, r->n);
    double cut = fmin((double)eta, sqrt((double)eta) * exp(-entropy(r, xs, m, z)));
    temper__row_keep_e(r, m, cut * z, keep_threshold(r, m, min_keep), 1);
}

/*
 * transformers' TypicalLogitsWarper: with H the entropy, sort the tokens
 * by |-log p - H| ascending, accumulate p in that order, let last =
 * #(cumulative < mass) (at most n - 1), and remove the tokens whose
 * |-log p - H| is above the last-th one's; the first min_keep of the order
 * are kept. Unlike the other filters it can remove the most likely token.
 * The limit is a weighted selection (no sort): the smallest key whose
 * keys at or below it hold the mass.
 */
int temper__apply_typical(temper__row *r, float mass, int min_keep) {
    float m = temper__row_max(r);
    if (m == -INFINITY) return 0;
    int n = r->n;
    const float *xs = temper__row_scores(r);
    double z = temper__exp_sub_sum(xs, m, r->e, n);
    double h = entropy(r, xs, m, z);
    /* |-log p - H| = |x - c|, c = m + log z - H (+inf for -inf scores);
     * nkey holds the negated keys, so that keeping key <= limit is a
     * vectorised collect of nkey >= -limit */
    double c = (double)m + log(z) - h;
    float *nkey = r->h, *sel = r->f; /* (n) by position; (n) scratch */
    for (int j = 0; j < n; j++) nkey[j] = -(float)fabs((double)xs[j] - c);
    for (int j = 0; j < n; j++) sel[j] = -nkey[j];
    float limit = temper__mass_select_asc(sel, r->e, n, (double)mass * z);
    int k = 0;
    if (min_keep <= 1) { /* the smallest key is always <= limit */
        k = temper__collect_ge(nkey, n, -limit, r->g);
        for (int j = 0; j < k; j++) r->ids[j] = temper__row_id(r, r->g[j]);
    } else {
        /* the first min_keep of the order (key, then position) stay too:
         * the keys below the min_keep-th smallest, then ties by position */
        float kk = INFINITY;
        int ties = n;
        if (min_keep < n) {
            memcpy(sel, nkey, sizeof(float) * (size_t)n);
            kk = -temper__select_desc(sel, n, min_keep);
            ties = min_keep;
            for (int j = 0; j < n; j++) ties -= -nkey[j] < kk;
        }
        for (int j = 0; j < n; j++) {
            float key = -nkey[j];
            int first = key < kk;
            if (key == kk && ties > 0) {
                first = 1;
                ties--;
            }
            r->ids[k] = temper__row_id(r, j);
            k += key <= limit || first;
        }
    }
    r->n = k;
    r->sparse = 1;
    r->max_ok = 0;
    return 0;
}
