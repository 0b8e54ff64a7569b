/*
 * pass.c - the dense passes over a whole row (V = 50,257 scores for
 * GPT-2): check-and-max, max, exp-and-sum, divide, collect, argmax, the
 * inverse-CDF walk. Each public function runs the AVX-512 version
 * (pass_avx512.c) when the CPU has it (and TEMPER_NO_SIMD is not set),
 * else the portable one below.
 *
 * glibc's expf costs ~6 ns, so exp is a polynomial evaluated in vector
 * lanes (GCC vector extensions: SSE2/AVX2 on x86-64, NEON on arm64).
 */
#include <math.h>
#include <string.h>

#include "decode/decode.h"
#include "tensor/ops.h"
#include "tensor/simd.h"

#ifdef TEMPER__HAVE_AVX512
#define SIMD(call) \
    do { \
        if (temper__simd_enabled()) return call; \
    } while (0)
#else
#define SIMD(call) (void)0
#endif

/*
 * The portable passes are written once with 8-lane vectors and compiled twice
 * (target_clones): an AVX2+FMA version (x86-64-v3), chosen at load time on
 * CPUs that have it, and a baseline one where each 8-lane operation becomes
 * two SSE2 (or NEON) ones. Within one process every row goes through the
 * same version, so dense and gathered (sparse) rows give the same bits; the
 * FMA version's exps may differ from the baseline's in the last bit.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define TEMPER__CLONES __attribute__((target_clones("arch=x86-64-v3", "default"), optimize("fp-contract=fast")))
#else
#define TEMPER__CLONES
#endif

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

/* Any of x[0..32) >= t? One reduction per 32 values. */
V8_INLINE int v8_any32_ge(const float *x, temper__v8f t) {
    temper__v8f a = v8_load(x), b = v8_load(x + 8), c = v8_load(x + 16),
                d = v8_load(x + 24);
    return v8_any((a >= t) | (b >= t) | (c >= t) | (d >= t));
}

/*
 * exp(x) for x <= 0 (every input is a score minus the max) = 2^n exp(r),
 * n = round(x / ln 2), r = x - n ln 2 in [-0.347, 0.347] (ln 2 split in
 * two parts, Cody & Waite), exp(r) by its Taylor polynomial of degree 7
 * (truncation error < 6e-9, so the result is within about 1 ulp of the
 * exact value), evaluated in Estrin's form: a shorter dependency chain
 * than Horner's. 2^n is built in the exponent bits. Inputs below -87
 * (and -inf) give 0: their probability is < 2e-38. Tails go through the
 * same vector code, padded, so an element's exp does not depend on its
 * position.
 */
#define EXP_LO (-87.0f)
#define EXP_LOG2E 1.44269504088896341f
#define EXP_LN2_HI 0.693359375f
#define EXP_LN2_LO (-2.12194440e-4f)
#define EXP_ROUND 12582912.0f /* 1.5 * 2^23: adding it rounds to an integer */

V8_INLINE temper__v8f v8_exp(temper__v8f x) {
    temper__v8i under = x < v8_splat(EXP_LO);
    x = v8_select(under, v8_splat(EXP_LO), x);
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

/* out = exp(in - m), returns the sum: 16 float lanes, then the lanes and
 * the tail in double (each lane sums ~3,100 values in [0, 1] for V =
 * 50,257). out may be NULL. */
TEMPER__CLONES
static double exp_sub_sum_v8(const float *in, float m, float *out, int n) {
    int i = 0;
    temper__v8f mv = v8_splat(m), acc = v8_splat(0.0f), acc2 = acc;
    for (; i + 16 <= n; i += 16) {
        temper__v8f y = v8_exp(v8_load(in + i) - mv);
        temper__v8f y2 = v8_exp(v8_load(in + i + 8) - mv);
        if (out) {
            v8_store(out + i, y);
            v8_store(out + i + 8, y2);
        }
        acc += y;
        acc2 += y2;
    }
    for (; i < n; i += 8) { /* the tail, padded with -inf (exp 0) */
        float pad[8];
        int k = n - i < 8 ? n - i : 8;
        for (int l = 0; l < 8; l++) pad[l] = l < k ? in[i + l] : -INFINITY;
        temper__v8f y = v8_exp(v8_load(pad) - mv);
        v8_store(pad, y);
        if (out) memcpy(out + i, pad, sizeof(float) * (size_t)k);
        acc += y;
    }
    double z = 0.0;
    for (int l = 0; l < 8; l++) z += (double)acc[l] + (double)acc2[l];
    return z;
}

double temper__exp_sub_sum(const float *in, float m, float *out, int n) {
    SIMD(temper__exp_sub_sum_avx512(in, m, out, n));
    return exp_sub_sum_v8(in, m, out, n);
}

/* Sums in 8 float lanes per block of 1,024, then in double. */
TEMPER__CLONES
static double dot_shift_v8(const float *e, const float *x, float m, int n) {
    double s = 0.0;
    temper__v8f mv = v8_splat(m), zero = v8_splat(0.0f);
    for (int b0 = 0; b0 < n; b0 += 1024) {
        int b1 = b0 + 1024 < n ? b0 + 1024 : n, i = b0;
        temper__v8f acc = zero;
        for (; i + 8 <= b1; i += 8) {
            temper__v8f ev = v8_load(e + i);
            acc += v8_select(ev != zero, ev * (v8_load(x + i) - mv), zero);
        }
        for (int l = 0; l < 8; l++) s += (double)acc[l];
        for (; i < b1; i++)
            if (e[i] != 0.0f) s += (double)(e[i] * (x[i] - m));
    }
    return s;
}

double temper__dot_shift(const float *e, const float *x, float m, int n) {
    SIMD(temper__dot_shift_avx512(e, x, m, n));
    return dot_shift_v8(e, x, m, n);
}

TEMPER__CLONES
static float div_array_v8(const float *in, float *out, int n, float t) {
    int i = 0;
    temper__v8f tv = v8_splat(t), a = v8_splat(-INFINITY);
    for (; i + 8 <= n; i += 8) {
        temper__v8f y = v8_load(in + i) / tv;
        v8_store(out + i, y);
        a = v8_select(y > a, y, a);
    }
    float m = -INFINITY;
    for (int l = 0; l < 8; l++)
        if (a[l] > m) m = a[l];
    for (; i < n; i++) {
        out[i] = in[i] / t;
        if (out[i] > m) m = out[i];
    }
    return m;
}

float temper__div_array(const float *in, float *out, int n, float t) {
    SIMD(temper__div_array_avx512(in, out, n, t));
    return div_array_v8(in, out, n, t);
}

TEMPER__CLONES
static float max_array_v8(const float *x, int n) {
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

float temper__max_array(const float *x, int n) {
    SIMD(temper__max_array_avx512(x, n));
    return max_array_v8(x, n);
}

/* Groups of 1,024 values as 32 rows of 32: four 8-lane chains of vertical
 * maxes, then lanes of chains 0 and 2 (1 and 3) merged, so each of the 16
 * outputs is the max of a set of 64 values; the tail is one more set. */
TEMPER__CLONES
static int set_max_v8(const float *x, int n, float *out) {
    int i = 0, k = 0;
    for (; i + 1024 <= n; i += 1024, k += 16) {
        temper__v8f a = v8_load(x + i), b = v8_load(x + i + 8), c = v8_load(x + i + 16),
                    d = v8_load(x + i + 24);
        for (int r = 32; r < 1024; r += 32) {
            temper__v8f u = v8_load(x + i + r), v = v8_load(x + i + r + 8),
                        w = v8_load(x + i + r + 16), y = v8_load(x + i + r + 24);
            a = v8_select(u > a, u, a);
            b = v8_select(v > b, v, b);
            c = v8_select(w > c, w, c);
            d = v8_select(y > d, y, d);
        }
        v8_store(out + k, v8_select(c > a, c, a));
        v8_store(out + k + 8, v8_select(d > b, d, b));
    }
    if (i < n) {
        float m = -INFINITY;
        for (; i < n; i++)
            if (x[i] > m) m = x[i];
        out[k++] = m;
    }
    return k;
}

int temper__set_max(const float *x, int n, float *out) {
    SIMD(temper__set_max_avx512(x, n, out));
    return set_max_v8(x, n, out);
}

TEMPER__CLONES
static int check_max_v8(const float *x, int n, float *max) {
    int i = 0;
    temper__v8f a = v8_splat(-INFINITY), inf = v8_splat(INFINITY);
    temper__v8f b = a;
    temper__v8i bad = {0};
    for (; i + 16 <= n; i += 16) {
        temper__v8f u = v8_load(x + i), v = v8_load(x + i + 8);
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
        tail_bad |= isnan(x[i]) || x[i] == INFINITY;
        if (x[i] > m) m = x[i];
    }
    *max = m;
    if (v8_any(bad) || tail_bad)
        for (i = 0; i < n; i++)
            if (isnan(x[i]) || x[i] == INFINITY) return i;
    return -1;
}

int temper__check_max(const float *x, int n, float *max) {
    SIMD(temper__check_max_avx512(x, n, max));
    return check_max_v8(x, n, max);
}

TEMPER__CLONES
static int collect_ge_v8(const float *x, int n, float t, int32_t *ids) {
    int i = 0, k = 0;
    temper__v8f tv = v8_splat(t);
    for (; i + 32 <= n; i += 32) {
        if (!v8_any32_ge(x + i, tv)) continue; /* the common case */
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

int temper__collect_ge(const float *x, int n, float t, int32_t *ids) {
    SIMD(temper__collect_ge_avx512(x, n, t, ids));
    return collect_ge_v8(x, n, t, ids);
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

/* Blocks of 8 are skipped whole by their sum. */
TEMPER__CLONES
static int walk_cdf_v8(const float *e, int n, double target) {
    double cum = 0.0;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        temper__v8f v = v8_load(e + i);
        double b = (double)((v[0] + v[1]) + (v[2] + v[3])) +
                   (double)((v[4] + v[5]) + (v[6] + v[7]));
        if (cum + b > target) break;
        cum += b;
    }
    return temper__walk_rest(e, n, i, cum, target);
}

int temper__walk_cdf(const float *e, int n, double target) {
    SIMD(temper__walk_cdf_avx512(e, n, target));
    return walk_cdf_v8(e, n, target);
}
