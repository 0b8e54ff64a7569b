/*
 * warpers.c - temperature and the filters (top-k, top-p, min-p, typical,
 * epsilon, eta), with transformers' formulas and edge cases.
 *
 * Every filter keeps the min_keep best tokens, ties with the min_keep-th
 * included (transformers' topk(scores, min_keep)[..., -1] test). Top-k,
 * top-p and min-p keep a set {x >= threshold}, so they never sort the
 * vocabulary: top-k finds its threshold with a heap of k values, top-p
 * with a quickselect weighted by probability mass (row.c).
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "decode/decode.h"

void temper__apply_temperature(temper__row *r, float t) {
    if (r->sparse) {
        for (int j = 0; j < r->n; j++) r->x[r->ids[j]] /= t;
        return;
    }
    temper__div_array(r->x, r->V, t);
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

/*
 * transformers' TopPLogitsWarper removes, in ascending order, the tokens
 * whose cumulative probability is <= 1 - p. The same set: keep a token iff
 * the mass of the tokens strictly above it is < p (the token crossing p is
 * kept; tied tokens are kept together). Tokens with probability below
 * (1 - p) / (n - 1) can never be kept (llama2.c's observation): the
 * quickselect only sees the others.
 */
void temper__apply_top_p(temper__row *r, float p, int min_keep) {
    float m = temper__row_max(r);
    if (m == -INFINITY) return;
    double ladder[TEMPER__LADDER];
    double z = temper__row_exp(r, m, ladder), target = (double)p * z;
    /* A token below cut is never kept: either the llama2.c bound, or a
     * ladder step whose tokens above already hold the target mass (every
     * token below it has at least that much mass strictly above). */
    float cut = 0.0f;
    if (r->n > 1) cut = (float)((1.0 - p) / (r->n - 1) * z * 0.999);
    for (int k = 0; k < TEMPER__LADDER; k++)
        if (ladder[k] >= target) {
            if (temper__ladder[k] > cut) cut = temper__ladder[k];
            break;
        }
    if (cut <= 0.0f) cut = FLT_MIN; /* never select e == 0 */
    int na; /* the possible members' masses, in f */
    if (!r->sparse) {
        na = temper__collect_ge(r->e, r->V, cut, r->g);
        for (int j = 0; j < na; j++) r->f[j] = r->e[r->g[j]];
    } else {
        na = 0;
        for (int j = 0; j < r->n; j++)
            if (r->e[j] >= cut) r->f[na++] = r->e[j];
    }
    float thr = temper__mass_select(r->f, na, target);
    temper__row_keep_e(r, thr, keep_threshold(r, m, min_keep));
}

/* transformers' MinPLogitsWarper: remove p < min_p * max p, i.e.
 * exp(x - max) < min_p. On a dense row, scores far below the cut
 * (x - max < ln(min_p) - 0.01, where exp's error is ~1e-7) are dropped
 * first without computing their exp. */
void temper__apply_min_p(temper__row *r, float min_p, int min_keep) {
    float m = temper__row_max(r);
    if (m == -INFINITY) return;
    float t_keep = keep_threshold(r, m, min_keep);
    if (!r->sparse) {
        float t0 = m + logf(min_p) - 0.01f;
        temper__row_keep_ge(r, t0 < t_keep ? t0 : t_keep);
    }
    temper__row_exp(r, m, NULL);
    temper__row_keep_e(r, min_p, t_keep);
}

/* transformers' EpsilonLogitsWarper: remove p < epsilon. */
void temper__apply_epsilon(temper__row *r, float eps, int min_keep) {
    float m = temper__row_max(r);
    if (m == -INFINITY) return;
    double z = temper__row_exp(r, m, NULL);
    temper__row_keep_e(r, (float)(eps * z), keep_threshold(r, m, min_keep));
}

/* transformers' EtaLogitsWarper: remove p < min(eta, sqrt(eta) * exp(-H)),
 * H the entropy of p in nats. */
void temper__apply_eta(temper__row *r, float eta, int min_keep) {
    float m = temper__row_max(r);
    if (m == -INFINITY) return;
    double z = temper__row_exp(r, m, NULL);
    double logz = log(z), h = 0.0;
    for (int j = 0; j < r->n; j++) {
        if (r->e[j] == 0.0f) continue;
        double lp = (double)(r->x[temper__row_id(r, j)] - m) - logz;
        h -= exp(lp) * lp;
    }
    double cut = fmin((double)eta, sqrt((double)eta) * exp(-h));
    temper__row_keep_e(r, (float)(cut * z), keep_threshold(r, m, min_keep));
}

/* Typical: sort the candidates by |-log p - H| ascending. */
typedef struct typical_item {
    float shifted;
    int32_t pos; /* candidate position, for stable ties */
} typical_item;

static int typical_cmp(const void *a, const void *b) {
    const typical_item *u = a, *v = b;
    if (u->shifted != v->shifted) return u->shifted < v->shifted ? -1 : 1;
    return (u->pos > v->pos) - (u->pos < v->pos);
}

/*
 * transformers' TypicalLogitsWarper: with H the entropy, sort the tokens
 * by |-log p - H| ascending, accumulate p in that order, let last =
 * #(cumulative < mass) (at most n - 1), and remove the tokens whose
 * |-log p - H| is above the last-th one's; the first min_keep of the order
 * are kept. Unlike the other filters it can remove the most likely token.
 */
int temper__apply_typical(temper__row *r, float mass, int min_keep) {
    int n = r->n;
    typical_item *it = malloc(sizeof(typical_item) * (size_t)n);
    if (!it)
        return temper__error(TEMPER_ENOMEM,
                             "typical_p: out of memory for %d tokens", n);
    float m = temper__row_max(r);
    if (m == -INFINITY) {
        free(it);
        return 0;
    }
    double z = temper__row_exp(r, m, NULL);
    double logz = log(z), h = 0.0;
    for (int j = 0; j < n; j++) {
        if (r->e[j] == 0.0f) continue;
        double lp = (double)(r->x[temper__row_id(r, j)] - m) - logz;
        h -= exp(lp) * lp;
    }
    for (int j = 0; j < n; j++) {
        float x = r->x[temper__row_id(r, j)];
        double lp = (double)(x - m) - logz;
        it[j].shifted = x == -INFINITY ? INFINITY : (float)fabs(-lp - h);
        it[j].pos = j;
    }
    qsort(it, (size_t)n, sizeof *it, typical_cmp);
    int last = 0;
    double cum = 0.0;
    for (int j = 0; j < n; j++) {
        cum += r->e[it[j].pos] / z;
        if (cum < mass) last++;
        else break;
    }
    if (last > n - 1) last = n - 1;
    float limit = it[last].shifted;
    /* keep flag in f: 1 kept, 0 removed */
    for (int j = 0; j < n; j++)
        r->f[it[j].pos] = (it[j].shifted <= limit || j < min_keep) ? 1.0f : 0.0f;
    free(it);
    int k = 0;
    for (int j = 0; j < n; j++) {
        r->ids[k] = temper__row_id(r, j);
        k += r->f[j] != 0.0f;
    }
    r->n = k;
    r->sparse = 1;
    return 0;
}
