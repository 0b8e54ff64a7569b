/*
 * ops_avx512.c - AVX-512 matmul kernels (f32, f16 and bf16 weights, f32
 * math), compiled with target attributes and chosen at run time.
 *
 * KN layout (W is (K, N), HF Conv1D): a tile of 4 rows x 64 columns lives in
 * 16 zmm accumulators; each step over k loads 64 weights once and uses them
 * for 4 rows. NK layout (W is (N, K)): a tile of 4 rows x 4 columns of dot
 * products, vectorised over k, reduced at the end.
 */
#include <stdlib.h>
#include <string.h>

#include "tensor/simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TEMPER__AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma")))

/* 16 weights starting at element i, converted to f32; mask selects lanes. */
TEMPER__AVX512 static inline __m512 temper__ld16(const void *base, temper__dtype dt, size_t i,
                                                 __mmask16 m) {
    switch (dt) {
    case TEMPER__F16:
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)base + i));
    case TEMPER__BF16:
        return _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, (const uint16_t *)base + i)), 16));
    default:
        return _mm512_maskz_loadu_ps(m, (const float *)base + i);
    }
}

TEMPER__AVX512 static inline __mmask16 temper__mask(int n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* Rows [t0, t0+TB) x columns [nb, nb+64) of the KN product. */
#define TEMPER__KN_TILE(TB)                                                              \
    TEMPER__AVX512 static void temper__kn_tile_##TB(float *out, int ldo, const float *x, \
                                                    int K, const temper__mat *w,         \
                                                    const float *bias, int accumulate,   \
                                                    int nb, int nn) {                    \
        __m512 acc[TB][4];                                                               \
        __mmask16 m[4];                                                                  \
        for (int c = 0; c < 4; c++) m[c] = temper__mask(nn - 16 * c);                    \
        for (int t = 0; t < TB; t++)                                                     \
            for (int c = 0; c < 4; c++) acc[t][c] = _mm512_setzero_ps();                 \
        const int N = w->N;                                                              \
        for (int k = 0; k < K; k++) {                                                    \
            size_t base = (size_t)k * N + nb;                                            \
            __m512 wv[4];                                                                \
            for (int c = 0; c < 4; c++)                                                  \
                wv[c] = m[c] ? temper__ld16(w->data, w->dtype, base + 16 * c, m[c])      \
                             : _mm512_setzero_ps();                                      \
            for (int t = 0; t < TB; t++) {                                               \
                __m512 xv = _mm512_set1_ps(x[(size_t)t * K + k]);                        \
                for (int c = 0; c < 4; c++) acc[t][c] = _mm512_fmadd_ps(xv, wv[c], acc[t][c]); \
            }                                                                            \
        }                                                                                \
        for (int t = 0; t < TB; t++)                                                     \
            for (int c = 0; c < 4; c++) {                                                \
                if (!m[c]) continue;                                                     \
                float *o = out + (size_t)t * ldo + nb + 16 * c;                          \
                __m512 v = acc[t][c];                                                    \
                if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m[c], bias + nb + 16 * c)); \
                if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m[c], o));    \
                _mm512_mask_storeu_ps(o, m[c], v);                                       \
            }                                                                            \
    }

TEMPER__KN_TILE(1)
TEMPER__KN_TILE(2)
TEMPER__KN_TILE(3)
TEMPER__KN_TILE(4)

/* Rows [0, TB) x columns [n, n+CB) of the NK product (dot products over k). */
#define TEMPER__NK_TILE(TB, CB)                                                          \
    TEMPER__AVX512 static void temper__nk_tile_##TB##_##CB(                              \
        float *out, int ldo, const float *x, int K, const temper__mat *w,               \
        const float *bias, int accumulate, int n) {                                      \
        __m512 acc[TB][CB];                                                              \
        for (int t = 0; t < TB; t++)                                                     \
            for (int c = 0; c < CB; c++) acc[t][c] = _mm512_setzero_ps();                \
        for (int k = 0; k < K; k += 16) {                                                \
            __mmask16 m = temper__mask(K - k);                                           \
            __m512 wv[CB];                                                               \
            for (int c = 0; c < CB; c++)                                                 \
                wv[c] = temper__ld16(w->data, w->dtype, (size_t)(n + c) * K + k, m);     \
            for (int t = 0; t < TB; t++) {                                               \
                __m512 xv = _mm512_maskz_loadu_ps(m, x + (size_t)t * K + k);             \
                for (int c = 0; c < CB; c++) acc[t][c] = _mm512_fmadd_ps(xv, wv[c], acc[t][c]); \
            }                                                                            \
        }                                                                                \
        for (int t = 0; t < TB; t++)                                                     \
            for (int c = 0; c < CB; c++) {                                               \
                float s = _mm512_reduce_add_ps(acc[t][c]) + (bias ? bias[n + c] : 0.0f); \
                float *o = out + (size_t)t * ldo + n + c;                                \
                *o = accumulate ? *o + s : s;                                            \
            }                                                                            \
    }

TEMPER__NK_TILE(1, 4)
TEMPER__NK_TILE(2, 4)
TEMPER__NK_TILE(3, 4)
TEMPER__NK_TILE(4, 4)
TEMPER__NK_TILE(1, 1)
TEMPER__NK_TILE(2, 1)
TEMPER__NK_TILE(3, 1)
TEMPER__NK_TILE(4, 1)

typedef void (*temper__kn_fn)(float *, int, const float *, int, const temper__mat *, const float *,
                              int, int, int);
typedef void (*temper__nk_fn)(float *, int, const float *, int, const temper__mat *, const float *,
                              int, int);

TEMPER__AVX512 void temper__matmul_avx512(float *out, int ldo, const float *x, int T,
                                          const temper__mat *w, const float *bias, int accumulate,
                                          int n0, int n1) {
    const int K = w->K;
    if (w->layout == TEMPER__KN) {
        static const temper__kn_fn tiles[5] = {NULL, temper__kn_tile_1, temper__kn_tile_2,
                                               temper__kn_tile_3, temper__kn_tile_4};
        for (int nb = n0; nb < n1; nb += 64) {
            int nn = n1 - nb < 64 ? n1 - nb : 64;
            for (int t = 0; t < T; t += 4) {
                int tb = T - t < 4 ? T - t : 4;
                tiles[tb](out + (size_t)t * ldo, ldo, x + (size_t)t * K, K, w, bias, accumulate, nb, nn);
            }
        }
        return;
    }
    static const temper__nk_fn tiles4[5] = {NULL, temper__nk_tile_1_4, temper__nk_tile_2_4,
                                            temper__nk_tile_3_4, temper__nk_tile_4_4};
    static const temper__nk_fn tiles1[5] = {NULL, temper__nk_tile_1_1, temper__nk_tile_2_1,
                                            temper__nk_tile_3_1, temper__nk_tile_4_1};
    /* Blocks of 64 columns keep their weights in cache across row tiles. */
    for (int nb = n0; nb < n1; nb += 64) {
        int ne = n1 - nb < 64 ? n1 : nb + 64;
        for (int t = 0; t < T; t += 4) {
            int tb = T - t < 4 ? T - t : 4;
            int n = nb;
            for (; n + 4 <= ne; n += 4)
                tiles4[tb](out + (size_t)t * ldo, ldo, x + (size_t)t * K, K, w, bias, accumulate, n);
            for (; n < ne; n++)
                tiles1[tb](out + (size_t)t * ldo, ldo, x + (size_t)t * K, K, w, bias, accumulate, n);
        }
    }
}

temper__matmul_kernel temper__matmul_select(const temper__mat *w) {
    static int have = -1;
    if (have < 0) {
        const char *off = getenv("TEMPER_NO_SIMD");
        __builtin_cpu_init();
        have = !(off && *off && strcmp(off, "0") != 0) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma");
    }
    if (have && (w->dtype == TEMPER__F32 || w->dtype == TEMPER__F16 || w->dtype == TEMPER__BF16))
        return temper__matmul_avx512;
    return temper__matmul_generic;
}

#else /* not x86-64 */

temper__matmul_kernel temper__matmul_select(const temper__mat *w) {
    (void)w;
    return temper__matmul_generic;
}

#endif
