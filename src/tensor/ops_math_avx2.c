/*
 * ops_math_avx2.c - the element-wise kernels of ops_math.c for AVX2 + FMA:
 * GELU / ReLU, softmax, layer norm, and the attention of one (row, head)
 * over the KV cache. Tails shorter than 8 use masked loads and stores.
 */
#include <math.h>

#include "tensor/simd.h"

#ifdef TEMPER__HAVE_AVX512
#include "tensor/avx2.h"

TEMPER__AVX2 void temper__act_avx2(float *x, long n, int ep) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, temper__act8(_mm256_loadu_ps(x + i), ep));
    if (i < n) {
        __m256i m = temper__m8(n - i);
        _mm256_maskstore_ps(x + i, m, temper__act8(_mm256_maskload_ps(x + i, m), ep));
    }
}

TEMPER__AVX2 void temper__softmax_avx2(float *x, int n) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 mv = ninf;
    int i = 0;
    for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
    float mx = temper__hmax8(mv);
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    if (mx == -INFINITY) { /* everything masked: zeros, never NaN */
        for (i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    __m256 m = _mm256_set1_ps(mx);
    __m256d sum = _mm256_setzero_pd(); /* in f64: 8 lanes of f32 lose a few 1e-8 more than 16 */
    for (i = 0; i < n; i += 8) {
        __m256i k = temper__m8(n - i);
        /* masked-off lanes read 0 - max: their exp is cleared */
        __m256 e = temper__exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, k), m));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(k));
        sum = _mm256_add_pd(sum, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        sum = _mm256_add_pd(sum, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
        _mm256_maskstore_ps(x + i, k, e);
    }
    __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(sum), _mm256_extractf128_pd(sum, 1));
    __m256 inv = _mm256_set1_ps((float)(1.0 / _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)))));
    for (i = 0; i < n; i += 8) {
        __m256i k = temper__m8(n - i);
        _mm256_maskstore_ps(x + i, k, _mm256_mul_ps(_mm256_maskload_ps(x + i, k), inv));
    }
}

TEMPER__AVX2 static inline double temper__hsum4d(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* out (C) = (x - mean) / sqrt(var + eps) * g + b; mean and variance in f64. */
TEMPER__AVX2 void temper__layernorm_avx2(float *out, const float *x, int C, const float *g, const float *b,
                                         float eps) {
    __m256d s = _mm256_setzero_pd();
    int i = 0;
    for (; i + 8 <= C; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        s = _mm256_add_pd(s, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        s = _mm256_add_pd(s, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    double sum = temper__hsum4d(s);
    for (; i < C; i++) sum += x[i];
    double mean = sum / C;
    __m256d ss = _mm256_setzero_pd(), md = _mm256_set1_pd(mean);
    for (i = 0; i + 8 <= C; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256d lo = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), md);
        __m256d hi = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), md);
        ss = _mm256_fmadd_pd(lo, lo, ss);
        ss = _mm256_fmadd_pd(hi, hi, ss);
    }
    double var = temper__hsum4d(ss);
    for (; i < C; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= C;
    const float invs = (float)(1.0 / sqrt(var + eps)), ms = (float)mean;
    __m256 inv = _mm256_set1_ps(invs), m = _mm256_set1_ps(ms);
    for (i = 0; i + 8 <= C; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), inv);
        v = _mm256_mul_ps(v, _mm256_loadu_ps(g + i));
        if (b) v = _mm256_add_ps(v, _mm256_loadu_ps(b + i));
        _mm256_storeu_ps(out + i, v);
    }
    for (; i < C; i++) out[i] = (x[i] - ms) * invs * g[i] + (b ? b[i] : 0.0f);
}

/* Attention of one (row, head): out (hd) = softmax(scale K q) V over npos
 * positions; scores (npos) left holding the probabilities. */
TEMPER__AVX2 void temper__attn_row_avx2(float *out, const float *q, const float *kbase, const float *vbase, int npos,
                                        int hd, int kvdim, float scale, float *scores) {
    const int nv = (hd + 7) / 8;
    const __m256i last = temper__m8(hd - 8 * (nv - 1)), all = _mm256_set1_epi32(-1);
    const __m256 sc = _mm256_set1_ps(scale);
    /* Scores: 8 positions at a time, one dot product per lane. */
    int j = 0;
    for (; j + 8 <= npos; j += 8) {
        __m256 acc[8];
        _Pragma("GCC unroll 8") for (int p = 0; p < 8; p++) {
            const float *k = kbase + (size_t)(j + p) * kvdim;
            __m256i m0 = nv == 1 ? last : all;
            __m256 s = _mm256_mul_ps(_mm256_maskload_ps(q, m0), _mm256_maskload_ps(k, m0));
            for (int v = 1; v < nv; v++) {
                __m256i m = v == nv - 1 ? last : all;
                s = _mm256_fmadd_ps(_mm256_maskload_ps(q + 8 * v, m), _mm256_maskload_ps(k + 8 * v, m), s);
            }
            acc[p] = s;
        }
        _mm256_storeu_ps(scores + j, _mm256_mul_ps(temper__hsum8x8(acc), sc));
    }
    for (; j < npos; j++) {
        const float *k = kbase + (size_t)j * kvdim;
        __m256 s = _mm256_setzero_ps();
        for (int v = 0; v < nv; v++) {
            __m256i m = v == nv - 1 ? last : all;
            s = _mm256_fmadd_ps(_mm256_maskload_ps(q + 8 * v, m), _mm256_maskload_ps(k + 8 * v, m), s);
        }
        scores[j] = temper__hsum8(s) * scale;
    }
    temper__softmax_avx2(scores, npos);
    /* Output: probability-weighted sum of value rows, 4 vectors of the
     * head at a time, two interleaved sets of accumulators. */
    for (int v0 = 0; v0 < nv; v0 += 4) {
        int vb = nv - v0 < 4 ? nv - v0 : 4;
        __m256i m[4];
        for (int c = 0; c < 4; c++) m[c] = v0 + c < nv - 1 ? all : v0 + c == nv - 1 ? last : _mm256_setzero_si256();
        __m256 o0[4], o1[4];
        _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) o0[c] = o1[c] = _mm256_setzero_ps();
        for (j = 0; j + 2 <= npos; j += 2) {
            const float *r0 = vbase + (size_t)j * kvdim + 8 * v0, *r1 = r0 + kvdim;
            __m256 p0 = _mm256_broadcast_ss(scores + j), p1 = _mm256_broadcast_ss(scores + j + 1);
            _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) {
                o0[c] = _mm256_fmadd_ps(p0, _mm256_maskload_ps(r0 + 8 * c, m[c]), o0[c]);
                o1[c] = _mm256_fmadd_ps(p1, _mm256_maskload_ps(r1 + 8 * c, m[c]), o1[c]);
            }
        }
        if (j < npos) {
            const float *r0 = vbase + (size_t)j * kvdim + 8 * v0;
            __m256 p0 = _mm256_broadcast_ss(scores + j);
            _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++)
                o0[c] = _mm256_fmadd_ps(p0, _mm256_maskload_ps(r0 + 8 * c, m[c]), o0[c]);
        }
        for (int c = 0; c < vb; c++) _mm256_maskstore_ps(out + 8 * (v0 + c), m[c], _mm256_add_ps(o0[c], o1[c]));
    }
}

#endif
