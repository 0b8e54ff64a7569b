/*
 * row.c - the passes every filter is built from: max, exp-and-sum,
 * threshold filters and k-th largest over the candidate set of a row.
 *
 * Cost matters here: a GPT-2 row has V = 50,257 scores and glibc's expf
 * costs ~6 ns each, so exp runs as a 4-lane polynomial (GCC vector
 * extensions: SSE2 on x86-64, NEON on arm64) and the filters shrink a
 * candidate list instead of rewriting the row.
 */
#include <math.h>
#include <string.h>

#include "decode/decode.h"

/*
 * The dense passes are written once with 8-lane vectors and compiled twice
 * (target_clones): an AVX2 version, chosen at load time on CPUs that have
 * it, and a baseline one where each 8-lane operation becomes two SSE2 (or
 * NEON) ones. Both do the same IEEE operations in the same order, without
 * FMA (-std=c11 implies -ffp-contract=off), so they give the same bits.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TEMPER__CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TEMPER__CLONES
#endif

#pragma GCC diagnostic ignored "-Wpsabi"

typedef float temper__v8f __attribute__((vector_size(32)));
typedef int32_t temper__v8i __attribute__((vector_size(32)));

#define V8_INLINE static inline __attribute__((always_inline))

V8_INLINE temper__v8f v8_load(const float *p) {
    temper__v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

V8_INLINE void v8_store(float *p, temper__v8f v) { memcpy(p, &v, sizeof v); }

V8_INLINE temper__v8f v8_splat(float a) {
    return (temper__v8f){a, a, a, a, a, a, a, a};
}

/* mask ? a : b, lane by lane (mask lanes are 0 or -1). */
V8_INLINE temper__v8f v8_select(temper__v8i mask, temper__v8f a,
                                temper__v8f b) {
    return (temper__v8f)(((temper__v8i)a & mask) | ((temper__v8i)b & ~mask));
}

V8_INLINE int v8_any(temper__v8i m) {
    uint64_t w[4];
    memcpy(w, &m, sizeof w);
    return (w[0] | w[1] | w[2] | w[3]) != 0;
}

/* Any of x[0..32) > t (gt) or >= t (!gt)? One reduction per 32 values. */
V8_INLINE int v8_any32(const float *x, temper__v8f t, int gt) {
    temper__v8f a = v8_load(x), b = v8_load(x + 8), c = v8_load(x + 16),
                d = v8_load(x + 24);
    temper__v8i m = gt ? (a > t) | (b > t) | (c > t) | (d > t)
                       : (a >= t) | (b >= t) | (c >= t) | (d >= t);
    return v8_any(m);
}

/*
 * exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 in
 * [-0.347, 0.347] (ln 2 split in two parts, Cody & Waite), exp(r) by its
 * Taylor polynomial of degree 7 (truncation error < 6e-9, so the result
 * is within about 1 ulp of the exact value), evaluated in Estrin's form:
 * a shorter dependency chain than Horner's. 2^n is built in the exponent
 * bits. Inputs below -87 flush to 0 (their probability is < 2e-38).
 * The scalar version below does the same operations: same bits.
 */
#define EXP_LO (-87.0f)
#define EXP_HI (88.0f)
#define EXP_LOG2E 1.44269504088896341f
#define EXP_LN2_HI 0.693359375f
#define EXP_LN2_LO (-2.12194440e-4f)
#define EXP_ROUND 12582912.0f /* 1.5 * 2^23: adding it rounds to an integer */

V8_INLINE temper__v8f v8_exp(temper__v8f x) {
    temper__v8i under = x < v8_splat(EXP_LO);
    x = v8_select(under, v8_splat(EXP_LO), x);
    x = v8_select(x > v8_splat(EXP_HI), v8_splat(EXP_HI), x);
    temper__v8f n = (x * EXP_LOG2E + EXP_ROUND) - EXP_ROUND;
    temper__v8f r = x - n * EXP_LN2_HI;
    r = r - n * EXP_LN2_LO;
    temper__v8f r2 = r * r;
    temper__v8f r4 = r2 * r2;
    temper__v8f p01 = r + 1.0f;
    temper__v8f p23 = r * (1.0f / 6.0f) + 0.5f;
    temper__v8f p45 = r * (1.0f / 120.0f) + 1.0f / 24.0f;
    temper__v8f p67 = r * (1.0f / 5040.0f) + 1.0f / 720.0f;
    temper__v8f p = (p01 + r2 * p23) + r4 * (p45 + r2 * p67);
    temper__v8i bits = (__builtin_convertvector(n, temper__v8i) + 127) << 23;
    temper__v8f y = p * (temper__v8f)bits;
    return v8_select(under, v8_splat(0.0f), y);
}

V8_INLINE float scalar_exp(float x) {
    if (x < EXP_LO) return 0.0f;
    if (x > EXP_HI) x = EXP_HI;
    float n = (x * EXP_LOG2E + EXP_ROUND) - EXP_ROUND;
    float r = x - n * EXP_LN2_HI;
    r = r - n * EXP_LN2_LO;
    float r2 = r * r;
    float r4 = r2 * r2;
    float p01 = r + 1.0f;
    float p23 = r * (1.0f / 6.0f) + 0.5f;
    float p45 = r * (1.0f / 120.0f) + 1.0f / 24.0f;
    float p67 = r * (1.0f / 5040.0f) + 1.0f / 720.0f;
    float p = (p01 + r2 * p23) + r4 * (p45 + r2 * p67);
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

float temper__expf(float x) { return scalar_exp(x); }

TEMPER__CLONES
void temper__exp_array(const float *in, float *out, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) v8_store(out + i, v8_exp(v8_load(in + i)));
    for (; i < n; i++) out[i] = scalar_exp(in[i]);
}

/* The thresholds of the mass ladder, relative to the largest e (1). */
const float temper__ladder[TEMPER__LADDER] = {0x1p-2f, 0x1p-4f, 0x1p-7f,
                                              0x1p-10f, 0x1p-14f, 0x1p-19f};

/* out = exp(in - m), returns the sum: 16 float lanes, then the lanes and
 * the tail in double (each lane sums ~3,100 values in [0, 1] for V =
 * 50,257). With ladder, also ladder[k] = the sum of the out values >=
 * temper__ladder[k]: the loop waits on exp's latency, so these compares
 * and adds come almost for free. */
V8_INLINE double exp_sub_sum(const float *in, float m, float *out, int n,
                             double *ladder) {
    int i = 0;
    temper__v8f mv = v8_splat(m), acc = v8_splat(0.0f), acc2 = acc;
    temper__v8f lad[TEMPER__LADDER];
    for (int k = 0; k < TEMPER__LADDER; k++) lad[k] = acc;
    for (; i + 16 <= n; i += 16) {
        temper__v8f y = v8_exp(v8_load(in + i) - mv);
        temper__v8f y2 = v8_exp(v8_load(in + i + 8) - mv);
        v8_store(out + i, y);
        v8_store(out + i + 8, y2);
        acc += y;
        acc2 += y2;
        if (ladder)
            for (int k = 0; k < TEMPER__LADDER; k++) {
                temper__v8f t = v8_splat(temper__ladder[k]);
                lad[k] += v8_select(y >= t, y, v8_splat(0.0f)) +
                          v8_select(y2 >= t, y2, v8_splat(0.0f));
            }
    }
    double z = 0.0;
    for (int l = 0; l < 8; l++) z += (double)acc[l] + (double)acc2[l];
    if (ladder)
        for (int k = 0; k < TEMPER__LADDER; k++) {
            ladder[k] = 0.0;
            for (int l = 0; l < 8; l++) ladder[k] += (double)lad[k][l];
        }
    for (; i < n; i++) {
        out[i] = scalar_exp(in[i] - m);
        z += out[i];
        if (ladder)
            for (int k = 0; k < TEMPER__LADDER; k++)
                if (out[i] >= temper__ladder[k]) ladder[k] += out[i];
    }
    return z;
}

TEMPER__CLONES
double temper__exp_sub_sum(const float *in, float m, float *out, int n) {
    return exp_sub_sum(in, m, out, n, NULL);
}

TEMPER__CLONES
double temper__exp_sub_sum_ladder(const float *in, float m, float *out, int n,
                                  double *ladder) {
    return exp_sub_sum(in, m, out, n, ladder);
}

TEMPER__CLONES
void temper__div_array(float *x, int n, float t) {
    int i = 0;
    temper__v8f tv = v8_splat(t);
    for (; i + 8 <= n; i += 8) v8_store(x + i, v8_load(x + i) / tv);
    for (; i < n; i++) x[i] /= t;
}

TEMPER__CLONES
float temper__max_array(const float *x, int n) {
    int i = 0;
    temper__v8f a = v8_splat(-INFINITY), b = a, c = a, d = a;
    for (; i + 32 <= n; i += 32) {
        temper__v8f u = v8_load(x + i), v = v8_load(x + i + 8),
                    w = v8_load(x + i + 16), y = v8_load(x + i + 24);
        a = v8_select(u > a, u, a);
        b = v8_select(v > b, v, b);
        c = v8_select(w > c, w, c);
        d = v8_select(y > d, y, d);
    }
    a = v8_select(b > a, b, a);
    c = v8_select(d > c, d, c);
    a = v8_select(c > a, c, a);
    for (; i + 8 <= n; i += 8) {
        temper__v8f u = v8_load(x + i);
        a = v8_select(u > a, u, a);
    }
    float m = -INFINITY;
    for (int l = 0; l < 8; l++)
        if (a[l] > m) m = a[l];
    for (; i < n; i++)
        if (x[i] > m) m = x[i];
    return m;
}

TEMPER__CLONES
int temper__copy_checked(const float *in, float *out, int n, float *max) {
    int i = 0;
    temper__v8f a = v8_splat(-INFINITY), inf = v8_splat(INFINITY);
    temper__v8f b = a;
    temper__v8i bad = {0};
    for (; i + 16 <= n; i += 16) {
        temper__v8f u = v8_load(in + i), v = v8_load(in + i + 8);
        v8_store(out + i, u);
        v8_store(out + i + 8, v);
        bad |= (u != u) | (u == inf) | (v != v) | (v == inf);
        a = v8_select(u > a, u, a);
        b = v8_select(v > b, v, b);
    }
    a = v8_select(b > a, b, a);
    float m = -INFINITY;
    for (int l = 0; l < 8; l++)
        if (a[l] > m) m = a[l];
    int tail_bad = 0;
    for (; i < n; i++) {
        out[i] = in[i];
        tail_bad |= isnan(in[i]) || in[i] == INFINITY;
        if (in[i] > m) m = in[i];
    }
    *max = m;
    if (v8_any(bad) || tail_bad)
        for (i = 0; i < n; i++)
            if (isnan(in[i]) || in[i] == INFINITY) return i;
    return -1;
}

TEMPER__CLONES
int temper__collect_ge(const float *x, int n, float t, int32_t *ids) {
    int i = 0, k = 0;
    temper__v8f tv = v8_splat(t);
    for (; i + 32 <= n; i += 32) {
        if (!v8_any32(x + i, tv, 0)) continue; /* the common case */
        for (int j = i; j < i + 32; j++) {
            ids[k] = j;
            k += x[j] >= t;
        }
    }
    for (; i < n; i++) {
        ids[k] = i;
        k += x[i] >= t;
    }
    return k;
}

TEMPER__CLONES
int temper__first_eq(const float *x, int n, float v) {
    int i = 0;
    temper__v8f vv = v8_splat(v);
    for (; i + 8 <= n; i += 8)
        if (v8_any(v8_load(x + i) == vv)) break;
    for (; i < n; i++)
        if (x[i] == v) return i;
    return -1;
}

/* Sum of a (n) in 8 float lanes, then the lanes in double. */
V8_INLINE double sum_array(const float *a, int n) {
    int i = 0;
    temper__v8f acc = v8_splat(0.0f);
    for (; i + 8 <= n; i += 8) acc += v8_load(a + i);
    double z = 0.0;
    for (int l = 0; l < 8; l++) z += (double)acc[l];
    for (; i < n; i++) z += a[i];
    return z;
}

/* Move the values of a[lo..hi) that are > pivot (gt) or == pivot (!gt) to
 * the front; returns where they end. Branchless (Lomuto): the comparisons
 * are unpredictable, the swaps are not. */
V8_INLINE int partition(float *a, int lo, int hi, float pivot, int gt) {
    int w = lo;
    for (int i = lo; i < hi; i++) {
        float v = a[i];
        a[i] = a[w];
        a[w] = v;
        w += gt ? v > pivot : v == pivot;
    }
    return w;
}

/*
 * Weighted quickselect for top-p. a: (n) masses. Walking the values from
 * the largest down, a value v is kept iff the mass of the values strictly
 * greater than v is < target; returns the smallest kept value (INFINITY
 * when none is). Each round splits the range around a pivot (median of
 * three): if the values above it already reach the target the boundary is
 * among them; else they and the values equal to the pivot are kept and
 * the search goes on below. Expected O(n). a is reordered.
 */
TEMPER__CLONES
float temper__mass_select(float *a, int n, double target) {
    double acc = 0.0; /* mass of the values above a[lo..hi) */
    float kept = INFINITY;
    int lo = 0, hi = n;
    if (target <= 0) return INFINITY;
    while (hi > lo) {
        if (hi - lo <= 16) { /* insertion sort, descending, then walk */
            for (int i = lo + 1; i < hi; i++) {
                float v = a[i];
                int j = i;
                for (; j > lo && a[j - 1] < v; j--) a[j] = a[j - 1];
                a[j] = v;
            }
            for (int j = lo; j < hi;) {
                if (acc >= target) return kept;
                float v = a[j];
                for (; j < hi && a[j] == v; j++) acc += v;
                kept = v;
            }
            return kept;
        }
        float x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi - 1];
        float pivot = x < y ? (y < z ? y : (x < z ? z : x))
                            : (x < z ? x : (y < z ? z : y)); /* median */
        int g = partition(a, lo, hi, pivot, 1); /* [lo, g) > pivot */
        double mg = sum_array(a + lo, g - lo);
        if (acc + mg >= target) {
            hi = g; /* the boundary is among the greater values */
            continue;
        }
        int e = partition(a, g, hi, pivot, 0); /* [g, e) == pivot */
        acc += mg + sum_array(a + g, e - g);   /* all of them are kept */
        kept = pivot;
        if (acc >= target) return kept;
        lo = e;
    }
    return kept;
}

/* Index of the first value whose running sum exceeds target (blocks of 8
 * are skipped whole by their sum); if rounding leaves the total just
 * below target, the last nonzero one; -1 if all are zero. */
TEMPER__CLONES
int temper__walk_cdf(const float *e, int n, double target) {
    double cum = 0.0;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        temper__v8f v = v8_load(e + i);
        double b = (double)((v[0] + v[1]) + (v[2] + v[3])) +
                   (double)((v[4] + v[5]) + (v[6] + v[7]));
        if (cum + b > target) break;
        cum += b;
    }
    for (; i < n; i++) {
        cum += e[i];
        if (cum > target) return i; /* e[i] > 0: cum just grew past */
    }
    for (i = n - 1; i >= 0; i--)
        if (e[i] != 0.0f) return i;
    return -1;
}

float temper__row_max(const temper__row *r) {
    if (!r->sparse) return temper__max_array(r->x, r->V);
    float m = -INFINITY;
    for (int j = 0; j < r->n; j++)
        if (r->x[r->ids[j]] > m) m = r->x[r->ids[j]];
    return m;
}

double temper__row_exp(temper__row *r, float m, double *ladder) {
    const float *x = r->x;
    if (r->sparse) {
        for (int j = 0; j < r->n; j++) r->f[j] = r->x[r->ids[j]];
        x = r->f;
    }
    if (ladder) return temper__exp_sub_sum_ladder(x, m, r->e, r->n, ladder);
    return temper__exp_sub_sum(x, m, r->e, r->n);
}

void temper__row_keep_ge(temper__row *r, float t) {
    int n = 0;
    if (r->sparse) {
        for (int j = 0; j < r->n; j++) {
            int32_t id = r->ids[j];
            r->ids[n] = id;
            n += r->x[id] >= t;
        }
    } else {
        n = temper__collect_ge(r->x, r->V, t, r->ids);
        r->sparse = 1;
    }
    r->n = n;
}

void temper__row_keep_e(temper__row *r, float thr, float t_keep) {
    if (!r->sparse) {
        /* exp is monotonic, so {e >= thr} is {x >= the smallest x among
         * them}: find that x over the (few) passing positions, then keep
         * by threshold with the vectorised pass. */
        int k = temper__collect_ge(r->e, r->V, thr, r->g);
        float xt = INFINITY;
        for (int j = 0; j < k; j++)
            if (r->x[r->g[j]] < xt) xt = r->x[r->g[j]];
        temper__row_keep_ge(r, xt < t_keep ? xt : t_keep);
        return;
    }
    int n = 0;
    for (int j = 0; j < r->n; j++) {
        int32_t id = r->ids[j];
        float ej = r->e[j];
        r->ids[n] = id;
        r->e[n] = ej;
        n += (ej >= thr) | (r->x[id] >= t_keep);
    }
    r->n = n;
}

/* Min-heap of the k largest values seen so far: h[0] is the k-th. */
V8_INLINE void heap_sift_down(float *h, int k, int i) {
    for (;;) {
        int c = 2 * i + 1;
        if (c >= k) return;
        if (c + 1 < k && h[c + 1] < h[c]) c++;
        if (h[i] <= h[c]) return;
        float t = h[i];
        h[i] = h[c];
        h[c] = t;
        i = c;
    }
}

/* Push v on the min-heap h of `filled` values. */
V8_INLINE void heap_push(float *h, int filled, float v) {
    int i = filled;
    h[i] = v;
    while (i > 0 && h[(i - 1) / 2] > h[i]) {
        float t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* k-th largest finite value of x (n) with the heap h (k); -inf if fewer
 * than k are finite. Blocks of 32 with nothing above the heap's root are
 * skipped with one vector test: after the first few thousand values that
 * is nearly every block. */
TEMPER__CLONES
float temper__kth_array(const float *x, int n, int k, float *h) {
    int filled = 0, i = 0;
    for (; i < n && filled < k; i++)
        if (x[i] != -INFINITY) heap_push(h, filled++, x[i]);
    if (filled < k) return -INFINITY;
    for (; i + 32 <= n; i += 32) {
        if (!v8_any32(x + i, v8_splat(h[0]), 1)) continue;
        for (int j = i; j < i + 32; j++)
            if (x[j] > h[0]) {
                h[0] = x[j];
                heap_sift_down(h, k, 0);
            }
    }
    for (; i < n; i++)
        if (x[i] > h[0]) {
            h[0] = x[i];
            heap_sift_down(h, k, 0);
        }
    return h[0];
}

float temper__row_kth(temper__row *r, int k) {
    if (!r->sparse) return temper__kth_array(r->x, r->V, k, r->f);
    float *h = r->f; /* (k) heap */
    int filled = 0;
    for (int j = 0; j < r->n; j++) {
        float v = r->x[r->ids[j]];
        if (filled < k) {
            if (v != -INFINITY) heap_push(h, filled++, v);
        } else if (v > h[0]) {
            h[0] = v;
            heap_sift_down(h, k, 0);
        }
    }
    return filled < k ? -INFINITY : h[0];
}

int temper__row_n_finite(const temper__row *r) {
    int c = 0;
    for (int j = 0; j < r->n; j++) c += r->x[temper__row_id(r, j)] != -INFINITY;
    return c;
}
