/*
 * ops_math.c - AVX-512 versions of the element-wise kernels: exp, GELU,
 * ReLU, softmax, layer norm, and the attention of one (row, head) over the
 * KV cache. Each matches its portable version in ops.c to a few ulp
 * (tests/unit/test_ops.c checks them against double-precision references).
 */
#include <math.h>

#include "tensor/simd.h"

#ifdef TEMPER__HAVE_AVX512
#include "tensor/avx512.h"

TEMPER__AVX512 void temper__act_avx512(float *x, long n, int ep) {
    for (long i = 0; i < n; i += 16) {
        __mmask16 m = temper__m16(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        _mm512_mask_storeu_ps(x + i, m, temper__act16(v, ep));
    }
}

TEMPER__AVX512 void temper__softmax_avx512(float *x, int n) {
    __m512 mv = _mm512_set1_ps(-INFINITY);
    for (int i = 0; i < n; i += 16)
        mv = _mm512_max_ps(mv, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), temper__m16(n - i), x + i));
    float mx = _mm512_reduce_max_ps(mv);
    if (mx == -INFINITY) { /* everything masked: zeros, never NaN */
        for (int i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    __m512 m = _mm512_set1_ps(mx), sum = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = temper__m16(n - i);
        __m512 e = temper__exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m));
        e = _mm512_maskz_mov_ps(k, e);
        sum = _mm512_add_ps(sum, e);
        _mm512_mask_storeu_ps(x + i, k, e);
    }
    __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = temper__m16(n - i);
        _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, x + i), inv));
    }
}

/* Sum of the 16 f32 lanes of v, accumulated in f64. */
TEMPER__AVX512 static inline __m512d temper__widen_add(__m512d acc, __m512 v) {
    acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    return _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
}

/* out (C) = (x - mean) / sqrt(var + eps) * g + b; mean and variance in f64. */
TEMPER__AVX512 void temper__layernorm_avx512(float *out, const float *x, int C, const float *g, const float *b,
                                             float eps) {
    __m512d s = _mm512_setzero_pd();
    for (int i = 0; i < C; i += 16) s = temper__widen_add(s, _mm512_maskz_loadu_ps(temper__m16(C - i), x + i));
    double mean = _mm512_reduce_add_pd(s) / C;
    __m512d ss = _mm512_setzero_pd(), md = _mm512_set1_pd(mean);
    for (int i = 0; i < C; i += 16) {
        __mmask16 k = temper__m16(C - i);
        __m512 v = _mm512_maskz_loadu_ps(k, x + i);
        __m512d lo = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), md);
        __m512d hi = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)), md);
        /* masked-off lanes read 0: remove their (0 - mean)^2 below */
        ss = _mm512_fmadd_pd(lo, lo, ss);
        ss = _mm512_fmadd_pd(hi, hi, ss);
    }
    int pad = (16 - C % 16) % 16;
    double var = (_mm512_reduce_add_pd(ss) - pad * mean * mean) / C;
    __m512 inv = _mm512_set1_ps((float)(1.0 / sqrt(var + eps))), m = _mm512_set1_ps((float)mean);
    for (int i = 0; i < C; i += 16) {
        __mmask16 k = temper__m16(C - i);
        __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m), inv);
        v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(k, g + i));
        if (b) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, b + i));
        _mm512_mask_storeu_ps(out + i, k, v);
    }
}

TEMPER__AVX512 void temper__attn_row_avx512(float *out, const float *q, const float *kbase, const float *vbase,
                                            int npos, int hd, int kvdim, float scale, float *scores) {
    const int nv = (hd + 15) / 16;
    const __mmask16 last = temper__m16(hd - 16 * (nv - 1));
    const __m512 sc = _mm512_set1_ps(scale);
    /* Scores: 16 positions at a time, one dot product per lane (q stays in L1). */
    int j = 0;
    for (; j + 16 <= npos; j += 16) {
        __m512 acc[16];
        _Pragma("GCC unroll 16") for (int p = 0; p < 16; p++) {
            const float *k = kbase + (size_t)(j + p) * kvdim;
            __mmask16 m0 = nv == 1 ? last : 0xffff;
            __m512 s = _mm512_mul_ps(_mm512_maskz_loadu_ps(m0, q), _mm512_maskz_loadu_ps(m0, k));
            for (int v = 1; v < nv; v++) {
                __mmask16 m = v == nv - 1 ? last : 0xffff;
                s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + 16 * v), _mm512_maskz_loadu_ps(m, k + 16 * v), s);
            }
            acc[p] = s;
        }
        _mm512_storeu_ps(scores + j, _mm512_mul_ps(temper__hsum16x16(acc), sc));
    }
    for (; j < npos; j++) {
        const float *k = kbase + (size_t)j * kvdim;
        __m512 s = _mm512_setzero_ps();
        for (int v = 0; v < nv; v++) {
            __mmask16 m = v == nv - 1 ? last : 0xffff;
            s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + 16 * v), _mm512_maskz_loadu_ps(m, k + 16 * v), s);
        }
        scores[j] = _mm512_reduce_add_ps(s) * scale;
    }
    temper__softmax_avx512(scores, npos);
    /* Output: probability-weighted sum of value rows, 8 vectors (128
     * values) of the head per pass, two interleaved sets of accumulators
     * to keep the FMA pipes busy. Any head size. */
    for (int v0 = 0; v0 < nv; v0 += 8) {
        int vb = nv - v0 < 8 ? nv - v0 : 8;
        __mmask16 m[8];
        for (int c = 0; c < 8; c++) m[c] = v0 + c < nv - 1 ? 0xffff : v0 + c == nv - 1 ? last : 0;
        __m512 o0[8], o1[8];
        _Pragma("GCC unroll 8") for (int c = 0; c < 8; c++) o0[c] = o1[c] = _mm512_setzero_ps();
        for (j = 0; j + 2 <= npos; j += 2) {
            const float *r0 = vbase + (size_t)j * kvdim + 16 * v0, *r1 = r0 + kvdim;
            __m512 p0 = _mm512_set1_ps(scores[j]), p1 = _mm512_set1_ps(scores[j + 1]);
            for (int c = 0; c < vb; c++) {
                o0[c] = _mm512_fmadd_ps(p0, _mm512_maskz_loadu_ps(m[c], r0 + 16 * c), o0[c]);
                o1[c] = _mm512_fmadd_ps(p1, _mm512_maskz_loadu_ps(m[c], r1 + 16 * c), o1[c]);
            }
        }
        if (j < npos) {
            const float *r0 = vbase + (size_t)j * kvdim + 16 * v0;
            __m512 p0 = _mm512_set1_ps(scores[j]);
            for (int c = 0; c < vb; c++) o0[c] = _mm512_fmadd_ps(p0, _mm512_maskz_loadu_ps(m[c], r0 + 16 * c), o0[c]);
        }
        for (int c = 0; c < vb; c++) _mm512_mask_storeu_ps(out + 16 * (v0 + c), m[c], _mm512_add_ps(o0[c], o1[c]));
    }
}

/* Attention of up to 4 rows of the same sequence and head (prefill): the
 * scores are 4 x 4 tiles of dot products (each key loaded once for the 4
 * rows), the output 4 rows x 64 values per pass over the value rows (each
 * value row loaded once for the 4 rows). S: (4, lds) scratch, left holding
 * each row's probabilities (zero beyond its npos). */
TEMPER__AVX512 void temper__attn_rows4_avx512(float *out, int ldo, const float *q, int ldq, int R,
                                              const float *kbase, const float *vbase, const int *npos, int hd,
                                              int kvdim, float scale, float *S, int lds) {
    const int nv = (hd + 15) / 16;
    const __mmask16 last = temper__m16(hd - 16 * (nv - 1));
    const __m512 sc = _mm512_set1_ps(scale);
    int nmax = 0;
    for (int r = 0; r < R; r++) nmax = npos[r] > nmax ? npos[r] : nmax;
    const float *qr[4];
    for (int r = 0; r < 4; r++) qr[r] = q + (size_t)(r < R ? r : R - 1) * ldq;
    for (int j = 0; j < nmax; j += 4) {
        int cb = nmax - j < 4 ? nmax - j : 4;
        const float *kr[4];
        _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) kr[c] = kbase + (size_t)(j + (c < cb ? c : cb - 1)) * kvdim;
        __m512 acc[16];
        _Pragma("GCC unroll 16") for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
        for (int v = 0; v < nv; v++) {
            __mmask16 m = v == nv - 1 ? last : 0xffff;
            __m512 kv[4];
            _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) kv[c] = _mm512_maskz_loadu_ps(m, kr[c] + 16 * v);
            _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) {
                __m512 qv = _mm512_maskz_loadu_ps(m, qr[r] + 16 * v);
                _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) acc[4 * r + c] = _mm512_fmadd_ps(qv, kv[c], acc[4 * r + c]);
            }
        }
        __m512 s = _mm512_mul_ps(temper__hsum16x16(acc), sc);
        for (int r = 0; r < R; r++) /* lanes 4r..4r+cb-1 -> S[r][j..j+cb) */
            _mm512_mask_storeu_ps(S + (size_t)r * lds + j - 4 * r, (__mmask16)(((1u << cb) - 1) << (4 * r)), s);
    }
    for (int r = 0; r < R; r++) {
        float *sr = S + (size_t)r * lds;
        temper__softmax_avx512(sr, npos[r]);
        for (int j = npos[r]; j < nmax; j++) sr[j] = 0.0f;
    }
    for (int v0 = 0; v0 < nv; v0 += 4) {
        int vb = nv - v0 < 4 ? nv - v0 : 4;
        __m512 acc[4][4];
        _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++)
            _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) acc[r][c] = _mm512_setzero_ps();
        const float *sr[4];
        for (int r = 0; r < 4; r++) sr[r] = S + (size_t)(r < R ? r : 0) * lds;
        for (int j = 0; j < nmax; j++) {
            const float *vr = vbase + (size_t)j * kvdim + 16 * v0;
            __m512 vv[4];
            _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++)
                vv[c] = c < vb ? _mm512_maskz_loadu_ps(v0 + c == nv - 1 ? last : 0xffff, vr + 16 * c) : _mm512_setzero_ps();
            _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) {
                __m512 p = _mm512_set1_ps(sr[r][j]);
                _Pragma("GCC unroll 4") for (int c = 0; c < 4; c++) acc[r][c] = _mm512_fmadd_ps(p, vv[c], acc[r][c]);
            }
        }
        for (int r = 0; r < R; r++)
            for (int c = 0; c < vb; c++)
                _mm512_mask_storeu_ps(out + (size_t)r * ldo + 16 * (v0 + c), v0 + c == nv - 1 ? last : 0xffff, acc[r][c]);
    }
}

#endif
