/*
 * ops_gemm.c - AVX-512 cache-blocked matrix-matrix kernel (prefill): out
 * (T, N) = act(x (T, K) @ W + bias [+ out]) for the columns [n0, n1) of one
 * thread.
 *
 * Blocking: K is cut into blocks of KC (or kept whole when small); for each
 * block, the thread packs a panel of W (KC x NR, converted to f32 whatever
 * the stored dtype, q8 included) into a buffer that stays in L2, then runs a register-blocked
 * micro-kernel over all rows: MR rows x NR columns = 8 x 48 accumulators in
 * 24 zmm registers, one broadcast of x and three panel loads per 24 FMAs.
 * The block of x (T x KC) stays in L2 across the panels. The epilogue (bias
 * on the first block, activation on the last) runs on the registers.
 */
#include <string.h>

#include "tensor/simd.h"

#ifdef TEMPER__HAVE_AVX512
#include "tensor/avx512.h"

/* K in one block up to TEMPER__KC_MAX (out written once), else blocks of
 * TEMPER__KC (out re-read per block, but small enough then to stay cached). */
#ifndef TEMPER__KC
#define TEMPER__KC 512
#endif
#define TEMPER__KC_MAX 1024
enum { TEMPER__MR = 8, TEMPER__NR = 48 };

/* C rows [0, MR) x 48 columns (masks m) += A (MR, kc; row stride lda) @ P
 * (kc, 48). init: start from C (load) or from zero; bias added if not NULL;
 * act: epilogue activation flags. */
#define TEMPER__MICRO(MRV)                                                                       \
    TEMPER__AVX512 static void temper__micro_##MRV(float *C, int ldc, const float *A, int lda,   \
                                                   const float *P, int kc, const __mmask16 *m,   \
                                                   int load, const float *bias, int act) {       \
        __m512 c[MRV][3];                                                                        \
        _Pragma("GCC unroll 16") for (int r = 0; r < MRV; r++)                                                            \
            _Pragma("GCC unroll 16") for (int j = 0; j < 3; j++)                                                          \
                c[r][j] = load ? _mm512_maskz_loadu_ps(m[j], C + (size_t)r * ldc + 16 * j)      \
                               : _mm512_setzero_ps();                                            \
        for (int k = 0; k < kc; k++) {                                                           \
            __m512 b0 = _mm512_load_ps(P + (size_t)k * 48), b1 = _mm512_load_ps(P + (size_t)k * 48 + 16), \
                   b2 = _mm512_load_ps(P + (size_t)k * 48 + 32);                                 \
            _Pragma("GCC unroll 16") for (int r = 0; r < MRV; r++) {                                                      \
                __m512 a = _mm512_set1_ps(A[(size_t)r * lda + k]);                               \
                c[r][0] = _mm512_fmadd_ps(a, b0, c[r][0]);                                       \
                c[r][1] = _mm512_fmadd_ps(a, b1, c[r][1]);                                       \
                c[r][2] = _mm512_fmadd_ps(a, b2, c[r][2]);                                       \
            }                                                                                    \
        }                                                                                        \
        _Pragma("GCC unroll 16") for (int j = 0; j < 3; j++) {                                                            \
            __m512 bv = bias ? _mm512_maskz_loadu_ps(m[j], bias + 16 * j) : _mm512_setzero_ps(); \
            _Pragma("GCC unroll 16") for (int r = 0; r < MRV; r++) {                                                      \
                __m512 v = bias ? _mm512_add_ps(c[r][j], bv) : c[r][j];                          \
                if (act) v = temper__act16(v, act);                                             \
                _mm512_mask_storeu_ps(C + (size_t)r * ldc + 16 * j, m[j], v);                    \
            }                                                                                    \
        }                                                                                        \
    }

TEMPER__MICRO(1)
TEMPER__MICRO(2)
TEMPER__MICRO(3)
TEMPER__MICRO(4)
TEMPER__MICRO(5)
TEMPER__MICRO(6)
TEMPER__MICRO(7)
TEMPER__MICRO(8)

typedef void (*temper__micro_fn)(float *, int, const float *, int, const float *, int, const __mmask16 *, int,
                                 const float *, int);
static const temper__micro_fn temper__micros[TEMPER__MR + 1] = {
    NULL, temper__micro_1, temper__micro_2, temper__micro_3, temper__micro_4,
    temper__micro_5, temper__micro_6, temper__micro_7, temper__micro_8};

/* P (kc, 48) = W[k0 .. k0+kc, n .. n+nn) as f32, zero beyond nn. */
TEMPER__AVX512 static void temper__pack(float *P, const temper__mat *w, int k0, int kc, int n, int nn) {
    const int K = w->K, N = w->N;
    if (w->layout == TEMPER__KN && w->dtype != TEMPER__Q8) {
        __mmask16 m[3];
        _Pragma("GCC unroll 16") for (int j = 0; j < 3; j++) m[j] = temper__m16(nn - 16 * j);
        for (int k = 0; k < kc; k++) {
            size_t at = (size_t)(k0 + k) * N + n;
            _Pragma("GCC unroll 16") for (int j = 0; j < 3; j++) _mm512_store_ps(P + (size_t)k * 48 + 16 * j, temper__w16(w->data, w->dtype, at + 16 * j, m[j]));
        }
        return;
    }
    /* NK (and q8, always NK): row n + j of W becomes column j of P. */
    const __m512i stride = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                              _mm512_set1_epi32(48));
    if (nn < 48) memset(P, 0, (size_t)kc * 48 * sizeof(float));
    for (int j = 0; j < nn; j++) {
        for (int k = 0; k < kc; k += 16) {
            __mmask16 m = temper__m16(kc - k);
            __m512 v;
            if (w->dtype == TEMPER__Q8) {
                const int8_t *row = (const int8_t *)w->data + (size_t)(n + j) * temper__q8_row_bytes(K);
                const int8_t *q = row + k0 + k;
                float s = temper__f16_to_f32(((const uint16_t *)(row + K))[(k0 + k) / 32]);
                v = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, q)));
                v = _mm512_mul_ps(v, _mm512_set1_ps(s));
            } else {
                v = temper__w16(w->data, w->dtype, (size_t)(n + j) * K + k0 + k, m);
            }
            _mm512_mask_i32scatter_ps(P + (size_t)k * 48 + j, m, stride, v, 4);
        }
    }
}

TEMPER__AVX512 void temper__gemm_avx512(float *out, int ldo, const float *x, int T, const temper__mat *w,
                                        const float *bias, int ep, int n0, int n1) {
    _Alignas(64) float P[TEMPER__KC_MAX * TEMPER__NR]; /* the packed panel: 192 KB of stack */
    const int K = w->K, act = ep & (TEMPER__EP_GELU | TEMPER__EP_RELU);
    const int KB = K <= TEMPER__KC_MAX ? K : TEMPER__KC;
    for (int k0 = 0; k0 < K; k0 += KB) {
        int kc = K - k0 < KB ? K - k0 : KB;
        int first = k0 == 0, last = k0 + kc == K;
        for (int n = n0; n < n1; n += TEMPER__NR) {
            int nn = n1 - n < TEMPER__NR ? n1 - n : TEMPER__NR;
            __mmask16 m[3];
            _Pragma("GCC unroll 16") for (int j = 0; j < 3; j++) m[j] = temper__m16(nn - 16 * j);
            temper__pack(P, w, k0, kc, n, nn);
            for (int t = 0; t < T; t += TEMPER__MR) {
                int mr = T - t < TEMPER__MR ? T - t : TEMPER__MR;
                temper__micros[mr](out + (size_t)t * ldo + n, ldo, x + (size_t)t * K + k0, K, P, kc, m,
                                   !first || (ep & TEMPER__EP_ACC), first && bias ? bias + n : NULL,
                                   last ? act : 0);
            }
        }
    }
}

#endif
