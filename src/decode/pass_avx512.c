/*
 * pass_avx512.c - the dense passes of pass.c in 16-lane AVX-512, for CPUs
 * that have it: 16 scores per instruction, masked loads for the tail (so
 * every element goes through the same arithmetic), exp with FMA.
 *
 * The results are those of the portable passes up to exp's last bit (the
 * polynomial is the same, evaluated with FMA here); the sums are kept in
 * float lanes for blocks of 1,024 values and in double across blocks.
 */
#include "tensor/simd.h"

#ifdef TEMPER__HAVE_AVX512
#include <math.h>

#include "decode/decode.h"
#include "tensor/avx512.h"

/* exp(x) for x <= 0 (or -inf), 0 below -87, as the portable pass: the
 * same reduction and polynomial (tensor/avx512.h), without the overflow
 * and NaN handling that temper__exp16 needs elsewhere. */
TEMPER__AVX512 static TEMPER__INLINE __m512 exp16(__m512 x) {
    __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_GE_OQ);
    __m512 n, p = temper__exp16_reduced(_mm512_max_ps(x, _mm512_set1_ps(-87.5f)), &n);
    return _mm512_maskz_scalef_ps(keep, p, n);
}

/* Sum of the 16 float lanes in double. */
TEMPER__AVX512 static TEMPER__INLINE double hsum_d(__m512 a) {
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(a));
    __m512d hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(a, 1));
    return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
}

TEMPER__AVX512 int temper__check_max_avx512(const float *x, int n, float *max) {
    const __m512 inf = _mm512_set1_ps(INFINITY);
    __m512 a = _mm512_set1_ps(-INFINITY), b = a, c = a, d = a;
    __mmask16 bad = 0;
    int i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 u = _mm512_loadu_ps(x + i), v = _mm512_loadu_ps(x + i + 16),
               w = _mm512_loadu_ps(x + i + 32), y = _mm512_loadu_ps(x + i + 48);
        /* NaN or +inf: not (x < inf) */
        bad |= _mm512_cmp_ps_mask(u, inf, _CMP_NLT_UQ) | _mm512_cmp_ps_mask(v, inf, _CMP_NLT_UQ) |
               _mm512_cmp_ps_mask(w, inf, _CMP_NLT_UQ) | _mm512_cmp_ps_mask(y, inf, _CMP_NLT_UQ);
        a = _mm512_max_ps(a, u);
        b = _mm512_max_ps(b, v);
        c = _mm512_max_ps(c, w);
        d = _mm512_max_ps(d, y);
    }
    for (; i < n; i += 16) {
        __mmask16 m = temper__m16(n - i);
        __m512 u = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), m, x + i);
        bad |= _mm512_cmp_ps_mask(u, inf, _CMP_NLT_UQ);
        a = _mm512_max_ps(a, u);
    }
    a = _mm512_max_ps(_mm512_max_ps(a, b), _mm512_max_ps(c, d));
    *max = _mm512_reduce_max_ps(a);
    if (bad)
        for (i = 0; i < n; i++)
            if (isnan(x[i]) || x[i] == INFINITY) return i;
    return -1;
}

TEMPER__AVX512 float temper__max_array_avx512(const float *x, int n) {
    __m512 a = _mm512_set1_ps(-INFINITY), b = a, c = a, d = a;
    int i = 0;
    for (; i + 64 <= n; i += 64) {
        a = _mm512_max_ps(a, _mm512_loadu_ps(x + i));
        b = _mm512_max_ps(b, _mm512_loadu_ps(x + i + 16));
        c = _mm512_max_ps(c, _mm512_loadu_ps(x + i + 32));
        d = _mm512_max_ps(d, _mm512_loadu_ps(x + i + 48));
    }
    for (; i < n; i += 16)
        a = _mm512_max_ps(a, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), temper__m16(n - i), x + i));
    return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(a, b), _mm512_max_ps(c, d)));
}

/* Groups of 1,024 values as 64 rows of 16 lanes: a lane's max over the
 * group's rows is one set maximum (16 per group, vertical maxes only). */
TEMPER__AVX512 int temper__set_max_avx512(const float *x, int n, float *out) {
    int i = 0, k = 0;
    for (; i + 1024 <= n; i += 1024, k += 16) {
        __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
        __m512 c = _mm512_loadu_ps(x + i + 32), d = _mm512_loadu_ps(x + i + 48);
        for (int r = 64; r < 1024; r += 64) {
            a = _mm512_max_ps(a, _mm512_loadu_ps(x + i + r));
            b = _mm512_max_ps(b, _mm512_loadu_ps(x + i + r + 16));
            c = _mm512_max_ps(c, _mm512_loadu_ps(x + i + r + 32));
            d = _mm512_max_ps(d, _mm512_loadu_ps(x + i + r + 48));
        }
        _mm512_storeu_ps(out + k, _mm512_max_ps(_mm512_max_ps(a, b), _mm512_max_ps(c, d)));
    }
    if (i < n) { /* the tail: one more group, lanes past n read as -inf */
        int lanes = n - i < 16 ? n - i : 16;
        __m512 a = _mm512_set1_ps(-INFINITY);
        for (; i < n; i += 16)
            a = _mm512_max_ps(a, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), temper__m16(n - i), x + i));
        _mm512_mask_storeu_ps(out + k, temper__m16(lanes), a);
        k += lanes;
    }
    return k;
}

TEMPER__AVX512 double temper__exp_sub_sum_avx512(const float *in, float m, float *out, int n) {
    const __m512 mv = _mm512_set1_ps(m);
    double z = 0.0;
    for (int b0 = 0; b0 < n; b0 += 1024) { /* float lanes per block */
        int b1 = b0 + 1024 < n ? b0 + 1024 : n, i = b0;
        __m512 acc = _mm512_setzero_ps(), acc2 = acc;
        for (; i + 32 <= b1; i += 32) {
            __m512 y = exp16(_mm512_sub_ps(_mm512_loadu_ps(in + i), mv));
            __m512 y2 = exp16(_mm512_sub_ps(_mm512_loadu_ps(in + i + 16), mv));
            if (out) {
                _mm512_storeu_ps(out + i, y);
                _mm512_storeu_ps(out + i + 16, y2);
            }
            acc = _mm512_add_ps(acc, y);
            acc2 = _mm512_add_ps(acc2, y2);
        }
        for (; i < b1; i += 16) {
            __mmask16 k = temper__m16(b1 - i);
            __m512 y = _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, in + i), mv)));
            if (out) _mm512_mask_storeu_ps(out + i, k, y);
            acc = _mm512_add_ps(acc, y);
        }
        z += hsum_d(acc) + hsum_d(acc2);
    }
    return z;
}

TEMPER__AVX512 double temper__dot_shift_avx512(const float *e, const float *x, float m, int n) {
    const __m512 mv = _mm512_set1_ps(m);
    double s = 0.0;
    for (int b0 = 0; b0 < n; b0 += 1024) { /* float lanes per block */
        int b1 = b0 + 1024 < n ? b0 + 1024 : n;
        __m512 acc = _mm512_setzero_ps();
        for (int i = b0; i < b1; i += 16) {
            __mmask16 k = temper__m16(b1 - i);
            __m512 ev = _mm512_maskz_loadu_ps(k, e + i);
            k = _mm512_mask_cmp_ps_mask(k, ev, _mm512_setzero_ps(), _CMP_NEQ_OQ);
            __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + i), mv);
            acc = _mm512_fmadd_ps(ev, d, acc);
        }
        s += hsum_d(acc);
    }
    return s;
}

TEMPER__AVX512 float temper__div_array_avx512(const float *in, float *out, int n, float t) {
    const __m512 tv = _mm512_set1_ps(t);
    __m512 a = _mm512_set1_ps(-INFINITY), b = a;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 y = _mm512_div_ps(_mm512_loadu_ps(in + i), tv);
        __m512 y2 = _mm512_div_ps(_mm512_loadu_ps(in + i + 16), tv);
        _mm512_storeu_ps(out + i, y);
        _mm512_storeu_ps(out + i + 16, y2);
        a = _mm512_max_ps(a, y);
        b = _mm512_max_ps(b, y2);
    }
    for (; i < n; i += 16) {
        __mmask16 k = temper__m16(n - i);
        __m512 y = _mm512_div_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), k, in + i), tv);
        _mm512_mask_storeu_ps(out + i, k, y);
        a = _mm512_max_ps(a, y);
    }
    return _mm512_reduce_max_ps(_mm512_max_ps(a, b));
}

/* Blocks of 64 with no value >= t (nearly all of them once t is near the
 * top of the row) cost four compares; the others compress their indices. */
TEMPER__AVX512 int temper__collect_ge_avx512(const float *x, int n, float t, int32_t *ids) {
    const __m512 tv = _mm512_set1_ps(t);
    const __m512i step = _mm512_set1_epi32(16);
    __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int i = 0, k = 0;
    for (; i + 64 <= n; i += 64) {
        __mmask16 m0 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), tv, _CMP_GE_OQ);
        __mmask16 m1 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i + 16), tv, _CMP_GE_OQ);
        __mmask16 m2 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i + 32), tv, _CMP_GE_OQ);
        __mmask16 m3 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i + 48), tv, _CMP_GE_OQ);
        if (m0 | m1 | m2 | m3) {
            __mmask16 ms[4] = {m0, m1, m2, m3};
            for (int q = 0; q < 4; q++) {
                __m512i id = _mm512_add_epi32(idx, _mm512_set1_epi32(16 * q));
                _mm512_mask_compressstoreu_epi32(ids + k, ms[q], id);
                k += __builtin_popcount(ms[q]);
            }
        }
        idx = _mm512_add_epi32(idx, _mm512_set1_epi32(64));
    }
    for (; i < n; i += 16) {
        __mmask16 m = _mm512_mask_cmp_ps_mask(temper__m16(n - i), _mm512_maskz_loadu_ps(temper__m16(n - i), x + i),
                                              tv, _CMP_GE_OQ);
        _mm512_mask_compressstoreu_epi32(ids + k, m, idx);
        k += __builtin_popcount(m);
        idx = _mm512_add_epi32(idx, step);
    }
    return k;
}

/* Blocks of 64 are skipped whole by their sum (in float, then double). */
TEMPER__AVX512 int temper__walk_cdf_avx512(const float *e, int n, double target) {
    double cum = 0.0;
    int i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_loadu_ps(e + i), _mm512_loadu_ps(e + i + 16)),
                                 _mm512_add_ps(_mm512_loadu_ps(e + i + 32), _mm512_loadu_ps(e + i + 48)));
        double b = hsum_d(s);
        if (cum + b > target) break;
        cum += b;
    }
    return temper__walk_rest(e, n, i, cum, target);
}

#endif
