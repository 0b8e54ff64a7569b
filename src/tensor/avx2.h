/*
 * avx2.h - small AVX2 + FMA + F16C helpers shared by the *_avx2.c kernel
 * files: weight loads converted to f32, exp, GELU, horizontal sums. Include
 * only under TEMPER__HAVE_AVX512 (x86-64 with GCC); every function is static
 * inline and compiled with the target attribute below.
 */
#ifndef TEMPER_AVX2_H
#define TEMPER_AVX2_H

#include <immintrin.h>

#include "tensor/simd.h"

#define TEMPER__AVX2 __attribute__((target("avx2,fma,f16c")))
#define TEMPER__INLINE2 __attribute__((always_inline)) inline

/* 8 weights from element i on, as f32 (f32, f16, bf16). */
TEMPER__AVX2 static TEMPER__INLINE2 __m256 temper__w8(const void *base, temper__dtype dt, size_t i) {
    if (dt == TEMPER__F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)base + i)));
    if (dt == TEMPER__BF16)
        return _mm256_castsi256_ps(
            _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)base + i))), 16));
    return _mm256_loadu_ps((const float *)base + i);
}

/* One weight as f32 (the scalar tails of the kernels). */
static inline float temper__w1(const void *base, temper__dtype dt, size_t i) {
    if (dt == TEMPER__F16) return temper__f16_to_f32(((const uint16_t *)base)[i]);
    if (dt == TEMPER__BF16) {
        uint32_t bits = (uint32_t)((const uint16_t *)base)[i] << 16;
        float f;
        __builtin_memcpy(&f, &bits, 4);
        return f;
    }
    return ((const float *)base)[i];
}

/* Lanes [0, n) set (n in [0, 8]): the mask of _mm256_maskload_ps. */
TEMPER__AVX2 static TEMPER__INLINE2 __m256i temper__m8(long n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 8 ? n : 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

TEMPER__AVX2 static TEMPER__INLINE2 float temper__hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

TEMPER__AVX2 static TEMPER__INLINE2 float temper__hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}

/* r[i] = sum of the lanes of a[i], for 8 vectors (hadd tree; the two 128-bit
 * halves are added last). */
TEMPER__AVX2 static TEMPER__INLINE2 __m256 temper__hsum8x8(const __m256 a[8]) {
    __m256 b0 = _mm256_hadd_ps(a[0], a[1]), b1 = _mm256_hadd_ps(a[2], a[3]);
    __m256 b2 = _mm256_hadd_ps(a[4], a[5]), b3 = _mm256_hadd_ps(a[6], a[7]);
    __m256 c0 = _mm256_hadd_ps(b0, b1), c1 = _mm256_hadd_ps(b2, b3);
    /* c0 = [s0 s1 s2 s3 | s0' s1' s2' s3'] (low, high halves), c1 the same for 4..7 */
    __m256 lo = _mm256_permute2f128_ps(c0, c1, 0x20), hi = _mm256_permute2f128_ps(c0, c1, 0x31);
    return _mm256_add_ps(lo, hi);
}

/* exp(x) in 8 lanes: the same reduction and polynomial as the AVX-512
 * form (x = n ln2 + r, ln2 in two parts, Taylor to degree 7), 2^n applied
 * in two halves so that n in [-150, 128] never leaves the exponent range.
 * Overflows to +inf, underflows to 0, keeps NaN. */
TEMPER__AVX2 static TEMPER__INLINE2 __m256 temper__exp8(__m256 x) {
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-104.0f)), _mm256_set1_ps(89.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i ni = _mm256_cvtps_epi32(n), n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

/* gelu_new(v) = v / (1 + exp(-2u)), u = sqrt(2/pi) (v + 0.044715 v^3). */
TEMPER__AVX2 static TEMPER__INLINE2 __m256 temper__gelu8(__m256 v) {
    const __m256 c2 = _mm256_set1_ps(-2.0f * 0.7978845608028654f);
    __m256 v2 = _mm256_mul_ps(v, v);
    __m256 inner = _mm256_fmadd_ps(_mm256_mul_ps(v2, _mm256_set1_ps(0.044715f)), v, v);
    __m256 e = temper__exp8(_mm256_mul_ps(c2, inner));
    return _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

/* The epilogue activation (ep flags) in registers. */
TEMPER__AVX2 static TEMPER__INLINE2 __m256 temper__act8(__m256 v, int ep) {
    if (ep & TEMPER__EP_GELU) v = temper__gelu8(v);
    if (ep & TEMPER__EP_RELU) v = _mm256_max_ps(v, _mm256_setzero_ps());
    return v;
}

#endif
