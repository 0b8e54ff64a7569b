/*
 * row.c - the working row (decode.h): copy-on-write scores, max, exp over
 * the candidates, threshold filters, k-th largest, and the two weighted
 * quickselects of top-p and typical-p. The passes over a whole row are in
 * pass.c.
 *
 * A dense row is never sorted: a search first bounds its answer with one
 * vectorised pass, collects the few scores past the bound and works on
 * those.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "decode/decode.h"

/* A dense row with a pending temperature holds raw scores in x and means
 * x / temp. Dividing is monotonic (x <= y gives x/t <= y/t in floating
 * point), so the max, the k-th largest and a threshold keep can be found
 * on the raw scores and only the survivors divided. */
void temper__row_settle(temper__row *r) {
    if (r->temp == 1.0f) return;
    r->max = temper__div_array(r->x, r->buf, r->V, r->temp);
    r->max_ok = 1;
    r->x = r->buf;
    r->temp = 1.0f;
}

float *temper__row_write(temper__row *r) {
    temper__row_settle(r);
    if (r->x != r->buf) {
        if (!r->sparse) {
            memcpy(r->buf, r->x, sizeof(float) * (size_t)r->V);
        } else {
            for (int j = 0; j < r->n; j++) r->buf[r->ids[j]] = r->x[r->ids[j]];
        }
        r->x = r->buf;
    }
    r->max_ok = 0;
    return r->buf;
}

float temper__row_max(temper__row *r) {
    if (!r->sparse) {
        if (!r->max_ok) {
            r->max = temper__max_array(r->x, r->V);
            r->max_ok = 1;
        }
        return r->temp == 1.0f ? r->max : r->max / r->temp;
    }
    float m = -INFINITY;
    for (int j = 0; j < r->n; j++)
        if (r->x[r->ids[j]] > m) m = r->x[r->ids[j]];
    return m;
}

const float *temper__row_scores(temper__row *r) {
    if (!r->sparse) {
        temper__row_settle(r);
        return r->x;
    }
    for (int j = 0; j < r->n; j++) r->f[j] = r->x[r->ids[j]];
    return r->f;
}

double temper__row_exp(temper__row *r, float m) {
    return temper__exp_sub_sum(temper__row_scores(r), m, r->e, r->n);
}

double temper__row_exp_sum(temper__row *r, float m) {
    return temper__exp_sub_sum(temper__row_scores(r), m, NULL, r->n);
}

void temper__row_keep_ge(temper__row *r, float t) {
    int n = 0;
    if (r->sparse) {
        for (int j = 0; j < r->n; j++) {
            int32_t id = r->ids[j];
            r->ids[n] = id;
            n += r->x[id] >= t;
        }
    } else if (r->temp == 1.0f) {
        n = temper__collect_ge(r->x, r->V, t, r->ids);
    } else {
        /* every x with x / temp >= t is above t * temp less a few ulp:
         * collect those raw, then divide and test each */
        float u = t * r->temp;
        float lo = t == -INFINITY ? -INFINITY : u - (fabsf(u) * 0x1p-20f + FLT_MIN);
        int c = temper__collect_ge(r->x, r->V, lo, r->ids);
        for (int j = 0; j < c; j++) {
            int32_t id = r->ids[j];
            float v = r->x[id] / r->temp;
            r->buf[id] = v;
            r->ids[n] = id;
            n += v >= t;
        }
        r->x = r->buf;
        r->temp = 1.0f;
    }
    r->sparse = 1;
    r->max_ok = 0;
    r->n = n;
}

void temper__row_keep_e(temper__row *r, float m, double thr, float t_keep, int have_e) {
    if (!r->sparse) {
        /* exp is monotonic and accurate to a few ulp: every score with
         * exp(x - m) >= thr is >= m + ln(thr) - 0.01. Keep those first
         * (one vectorised pass), then test the few exactly. */
        float t0 = m + (float)(log(thr) - 0.01);
        temper__row_keep_ge(r, t0 < t_keep ? t0 : t_keep);
        have_e = 0; /* the candidates changed */
    }
    if (!have_e) temper__row_exp(r, m);
    float thr_f = (float)thr;
    int n = 0;
    for (int j = 0; j < r->n; j++) {
        int32_t id = r->ids[j];
        float ej = r->e[j];
        r->ids[n] = id;
        r->e[n] = ej;
        n += (ej >= thr_f) | (r->x[id] >= t_keep);
    }
    r->n = n;
}

int temper__row_collect(temper__row *r, float t) {
    return temper__collect_ge(r->x, r->V, t, r->g);
}

/*
 * The k-th largest of a dense row without sorting it: the maxima of ~64-value
 * sets (one pass) give a lower bound, their k-th largest t, since k sets
 * each hold a value >= t. The values >= t are collected (a few more than
 * k) and the k-th is selected among them. With fewer than 4k sets (k in
 * the thousands), the bound is too loose: select over the whole row.
 */
static float dense_kth(temper__row *r, int k) {
    float *f = r->f;
    int nb = temper__set_max(r->x, r->V, f), nf = 0;
    float t = -FLT_MAX;
    if (nb >= 4 * k) {
        for (int j = 0; j < nb; j++)
            if (f[j] != -INFINITY) f[nf++] = f[j];
        /* fewer than k sets with a finite value: no bound, collect all */
        if (nf >= k) t = temper__select_desc(f, nf, k);
    }
    int c = temper__row_collect(r, t); /* -FLT_MAX: every finite score */
    if (c < k) return -INFINITY;
    for (int j = 0; j < c; j++) f[j] = r->x[r->g[j]];
    return temper__select_desc(f, c, k);
}

float temper__row_kth(temper__row *r, int k) {
    if (r->sparse) { /* the finite candidates' scores, gathered into f */
        int c = 0;
        for (int j = 0; j < r->n; j++) {
            float v = r->x[r->ids[j]];
            r->f[c] = v;
            c += v != -INFINITY;
        }
        return c < k ? -INFINITY : temper__select_desc(r->f, c, k);
    }
    if (temper__row_max(r) == -INFINITY) return -INFINITY;
    float kth = dense_kth(r, k); /* on the raw scores */
    return r->temp == 1.0f ? kth : kth / r->temp;
}

int temper__row_n_finite(const temper__row *r) {
    int c = 0;
    for (int j = 0; j < r->n; j++) c += r->x[temper__row_id(r, j)] != -INFINITY;
    return c;
}

/* Sum of a (n) in double. */
static double sum_array(const float *a, int n) {
    double z = 0.0;
    for (int i = 0; i < n; i++) z += a[i];
    return z;
}

/* The median of three values: the pivot of the quickselects below. */
static inline float median3(float x, float y, float z) {
    return x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
}

/* Move the values of a[lo..hi) that are > pivot (gt) or == pivot (!gt) to
 * the front; returns where they end. Branchless (Lomuto): the comparisons
 * are unpredictable, the swaps are not. */
static inline int partition(float *a, int lo, int hi, float pivot, int gt) {
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
        float pivot = median3(a[lo], a[lo + (hi - lo) / 2], a[hi - 1]);
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

/* The k-th largest value of a (n, 1 <= k <= n); a is reordered. */
float temper__select_desc(float *a, int n, int k) {
    int lo = 0, hi = n; /* the answer is the k-th largest of a[lo..hi) */
    while (hi - lo > 16) {
        float pivot = median3(a[lo], a[lo + (hi - lo) / 2], a[hi - 1]);
        int g = partition(a, lo, hi, pivot, 1); /* [lo, g) > pivot */
        if (k <= g - lo) {
            hi = g;
            continue;
        }
        int e = partition(a, g, hi, pivot, 0); /* [g, e) == pivot */
        if (k <= e - lo) return pivot;
        k -= e - lo;
        lo = e;
    }
    for (int i = lo + 1; i < hi; i++) { /* insertion sort, descending */
        float v = a[i];
        int j = i;
        for (; j > lo && a[j - 1] < v; j--) a[j] = a[j - 1];
        a[j] = v;
    }
    return a[lo + k - 1];
}

/* Move the keys of key[lo..hi) that are < pivot (lt) or == pivot (!lt)
 * to the front, their weights with them; returns where they end. */
static inline int partition2(float *key, float *w, int lo, int hi,
                             float pivot, int lt) {
    int p = lo;
    for (int i = lo; i < hi; i++) {
        float k = key[i], v = w[i];
        key[i] = key[p];
        w[i] = w[p];
        key[p] = k;
        w[p] = v;
        p += lt ? k < pivot : k == pivot;
    }
    return p;
}

/*
 * Weighted quickselect for typical-p, ascending: the smallest key v such
 * that the weights of the keys <= v sum to >= target, the largest key if
 * they never do. Like temper__mass_select: split around a median-of-three
 * pivot; if the keys below it already reach the target the answer is
 * among them, else they and the keys equal to it are counted and the
 * search goes on above. Expected O(n).
 */
/*
 * A first radix step for typical-p's selection on a large row: keys are
 * >= 0, so their bits order them as integers; a weighted histogram of the
 * top 11 bits (exponent and 2 bits of mantissa: buckets 1.19x wide) finds
 * the bucket where the mass crosses target, and only that bucket's keys
 * are kept (moved to the front, with their weights) for the quickselect.
 * Four interleaved histograms keep the adds to one bucket independent.
 * Returns the bucket's size (*below: the weight of the keys under it), or
 * -1 if the total weight stays under target.
 */
#define RADIX_SHIFT 21
#define RADIX_BUCKETS (1 << (31 - RADIX_SHIFT))

static int radix_bucket(float *key, float *w, int n, double target, double *below) {
    static _Thread_local double hist[4][RADIX_BUCKETS];
    memset(hist, 0, sizeof hist);
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int q = 0; q < 4; q++) {
            uint32_t b;
            memcpy(&b, &key[i + q], sizeof b);
            hist[q][b >> RADIX_SHIFT] += w[i + q];
        }
    for (; i < n; i++) {
        uint32_t b;
        memcpy(&b, &key[i], sizeof b);
        hist[0][b >> RADIX_SHIFT] += w[i];
    }
    double acc = 0.0;
    for (uint32_t b = 0; b < RADIX_BUCKETS; b++) {
        double h = hist[0][b] + hist[1][b] + hist[2][b] + hist[3][b];
        if (acc + h < target) {
            acc += h;
            continue;
        }
        int m = 0;
        for (i = 0; i < n; i++) {
            uint32_t kb;
            memcpy(&kb, &key[i], sizeof kb);
            if (kb >> RADIX_SHIFT != b) continue;
            key[m] = key[i];
            w[m++] = w[i];
        }
        *below = acc;
        return m;
    }
    return -1;
}

float temper__mass_select_asc(float *key, float *w, int n, double target) {
    float largest = temper__max_array(key, n);
    double acc = 0.0; /* weight of the keys below key[lo..hi) */
    int lo = 0, hi = n, inside = 0; /* inside: the answer is in [lo, hi) */
    if (n > 4096) {
        hi = radix_bucket(key, w, n, target, &acc);
        if (hi < 0) return largest;
        inside = 1;
    }
    while (hi - lo > 16) {
        float pivot = median3(key[lo], key[lo + (hi - lo) / 2], key[hi - 1]);
        int l = partition2(key, w, lo, hi, pivot, 1); /* [lo, l) < pivot */
        double wl = sum_array(w + lo, l - lo);
        if (acc + wl >= target) {
            hi = l;
            inside = 1;
            continue;
        }
        int q = partition2(key, w, l, hi, pivot, 0); /* [l, q) == pivot */
        acc += wl + sum_array(w + l, q - l);
        if (acc >= target) return pivot;
        lo = q;
    }
    for (int i = lo + 1; i < hi; i++) { /* insertion sort, ascending */
        float k = key[i], v = w[i];
        int j = i;
        for (; j > lo && key[j - 1] > k; j--) {
            key[j] = key[j - 1];
            w[j] = w[j - 1];
        }
        key[j] = k;
        w[j] = v;
    }
    for (int j = lo; j < hi;) {
        float k = key[j];
        for (; j < hi && key[j] == k; j++) acc += w[j];
        if (acc >= target) return k;
    }
    /* not reached: rounding (the same weights summed in another order) */
    return inside && hi > lo ? key[hi - 1] : largest;
}
