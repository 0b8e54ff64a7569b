/*
 * avx512.h - small AVX-512 helpers shared by the SIMD kernel files: lane
 * masks, weight loads converted to f32, exp, GELU, and the merge of 16
 * horizontal sums. Include only under TEMPER__HAVE_AVX512; every function
 * is static inline and compiled with the target attribute below.
 */
#ifndef TEMPER_AVX512_H
#define TEMPER_AVX512_H

#include <immintrin.h>

#include "tensor/simd.h"

#define TEMPER__AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))
#define TEMPER__INLINE __attribute__((always_inline)) inline

/* Lanes [0, n) of 16. */
TEMPER__AVX512 static TEMPER__INLINE __mmask16 temper__m16(long n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* 16 weights from element i on, as f32 (f32, f16, bf16; lanes outside m read as 0). */
TEMPER__AVX512 static TEMPER__INLINE __m512 temper__w16(const void *base, temper__dtype dt, size_t i,
                                                        __mmask16 m) {
    if (dt == TEMPER__F16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)base + i));
    if (dt == TEMPER__BF16)
        return _mm512_castsi512_ps(
            _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, (const uint16_t *)base + i)), 16));
    return _mm512_maskz_loadu_ps(m, (const float *)base + i);
}

/* exp(r) and n for x = n ln2 + r, |r| <= ln2/2 (ln2 split in two so n ln2
 * is exact), exp(r) by its Taylor series to degree 7 (truncation < 6e-9);
 * exp(x) = 2^n exp(r) (_mm512_scalef_ps). x must be finite and within
 * [-104, 89]. */
TEMPER__AVX512 static TEMPER__INLINE __m512 temper__exp16_reduced(__m512 x, __m512 *n) {
    *n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(*n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(*n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
}

/* exp(x) in 16 lanes, relative error below 2 ulp. Overflows to +inf,
 * underflows to 0, keeps NaN. */
TEMPER__AVX512 static TEMPER__INLINE __m512 temper__exp16(__m512 x) {
    __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(89.0f)), n;
    __m512 p = temper__exp16_reduced(xc, &n); /* before n is read */
    __m512 y = _mm512_scalef_ps(p, n);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), y, x);
}

/* gelu_new(v) = 0.5 v (1 + tanh(u)) = v / (1 + exp(-2u)), u = sqrt(2/pi) (v + 0.044715 v^3):
 * the second form has no cancellation for negative v. */
TEMPER__AVX512 static TEMPER__INLINE __m512 temper__gelu16(__m512 v) {
    const __m512 c2 = _mm512_set1_ps(-2.0f * 0.7978845608028654f);
    __m512 v2 = _mm512_mul_ps(v, v);
    __m512 inner = _mm512_fmadd_ps(_mm512_mul_ps(v2, _mm512_set1_ps(0.044715f)), v, v); /* v + 0.044715 v^3 */
    __m512 e = temper__exp16(_mm512_mul_ps(c2, inner));
    return _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

/* The epilogue activation (ep flags) in registers. */
TEMPER__AVX512 static TEMPER__INLINE __m512 temper__act16(__m512 v, int ep) {
    if (ep & TEMPER__EP_GELU) v = temper__gelu16(v);
    if (ep & TEMPER__EP_RELU) v = _mm512_max_ps(v, _mm512_setzero_ps());
    return v;
}

/* r[i] = sum of the lanes of a[i], for 16 vectors, by pairwise merging:
 * 256-bit halves, then 128-bit lanes, then within lanes; the last step
 * leaves the sums in the order 0,8,4,12 | 1,9,5,13 | ... which one
 * permutation puts back. */
TEMPER__AVX512 static TEMPER__INLINE __m512 temper__hsum16x16(__m512 a[16]) {
    __m512 b[8], c[4], d[2];
    _Pragma("GCC unroll 16") for (int i = 0; i < 8; i++)
        b[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    _Pragma("GCC unroll 16") for (int i = 0; i < 4; i++)
        c[i] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                             _mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    _Pragma("GCC unroll 16") for (int i = 0; i < 2; i++)
        d[i] = _mm512_add_ps(_mm512_unpacklo_ps(c[2 * i], c[2 * i + 1]), _mm512_unpackhi_ps(c[2 * i], c[2 * i + 1]));
    __m512 e = _mm512_add_ps(_mm512_unpacklo_ps(d[0], d[1]), _mm512_unpackhi_ps(d[0], d[1]));
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 2, 6, 10, 14, 1, 5, 9, 13, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(idx, e);
}

#endif
