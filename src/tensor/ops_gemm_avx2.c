/*
 * ops_gemm_avx2.c - the cache-blocked matrix-matrix kernel of ops_gemm.c
 * (prefill) for AVX2 + FMA: out (T, N) = act(x (T, K) @ W + bias [+ out])
 * for the columns [n0, n1) of one thread. Panels of W (KC x 16, converted
 * to f32 whatever the stored dtype, q8 included) stay in L1/L2; the
 * micro-kernel holds 6 rows x 16 columns = 12 ymm accumulators, one
 * broadcast of x and two panel loads per 12 FMAs.
 */
#include <string.h>

#include "tensor/simd.h"

#ifdef TEMPER__HAVE_AVX512
#include "tensor/avx2.h"

#define TEMPER__KC2 256
#define TEMPER__KC2_MAX 768
enum { TEMPER__MR2 = 6, TEMPER__NR2 = 16 };

/* C rows [0, MRV) x nn <= 16 columns (masks m) += A (MRV, kc) @ P (kc, 16). */
#define TEMPER__MICRO2(MRV)                                                                                   \
    TEMPER__AVX2 static void temper__micro2_##MRV(float *C, int ldc, const float *A, int lda, const float *P,  \
                                                  int kc, const __m256i *m, int load, const float *bias,       \
                                                  int act) {                                                   \
        __m256 c[MRV][2];                                                                                     \
        _Pragma("GCC unroll 8") for (int r = 0; r < MRV; r++)                                                 \
            _Pragma("GCC unroll 2") for (int j = 0; j < 2; j++)                                               \
                c[r][j] = load ? _mm256_maskload_ps(C + (size_t)r * ldc + 8 * j, m[j]) : _mm256_setzero_ps();  \
        for (int k = 0; k < kc; k++) {                                                                        \
            __m256 b0 = _mm256_load_ps(P + (size_t)k * 16), b1 = _mm256_load_ps(P + (size_t)k * 16 + 8);     \
            _Pragma("GCC unroll 8") for (int r = 0; r < MRV; r++) {                                           \
                __m256 a = _mm256_broadcast_ss(A + (size_t)r * lda + k);                                      \
                c[r][0] = _mm256_fmadd_ps(a, b0, c[r][0]);                                                    \
                c[r][1] = _mm256_fmadd_ps(a, b1, c[r][1]);                                                    \
            }                                                                                                 \
        }                                                                                                     \
        _Pragma("GCC unroll 2") for (int j = 0; j < 2; j++) {                                                 \
            __m256 bv = bias ? _mm256_maskload_ps(bias + 8 * j, m[j]) : _mm256_setzero_ps();                  \
            _Pragma("GCC unroll 8") for (int r = 0; r < MRV; r++) {                                           \
                __m256 v = bias ? _mm256_add_ps(c[r][j], bv) : c[r][j];                                       \
                if (act) v = temper__act8(v, act);                                                            \
                _mm256_maskstore_ps(C + (size_t)r * ldc + 8 * j, m[j], v);                                    \
            }                                                                                                 \
        }                                                                                                     \
    }

TEMPER__MICRO2(1)
TEMPER__MICRO2(2)
TEMPER__MICRO2(3)
TEMPER__MICRO2(4)
TEMPER__MICRO2(5)
TEMPER__MICRO2(6)

typedef void (*temper__micro2_fn)(float *, int, const float *, int, const float *, int, const __m256i *, int,
                                  const float *, int);
static const temper__micro2_fn temper__micros2[TEMPER__MR2 + 1] = {
    NULL, temper__micro2_1, temper__micro2_2, temper__micro2_3, temper__micro2_4, temper__micro2_5, temper__micro2_6};

/* P (kc, 16) = W[k0 .. k0+kc, n .. n+nn) as f32, zero beyond nn. row: (kc) scratch. */
TEMPER__AVX2 static void temper__pack2(float *P, float *row, const temper__mat *w, int k0, int kc, int n, int nn) {
    const int K = w->K, N = w->N;
    if (w->layout == TEMPER__KN && w->dtype != TEMPER__Q8) {
        for (int k = 0; k < kc; k++) {
            size_t at = (size_t)(k0 + k) * N + n;
            float *p = P + (size_t)k * 16;
            if (nn == 16) {
                _mm256_store_ps(p, temper__w8(w->data, w->dtype, at));
                _mm256_store_ps(p + 8, temper__w8(w->data, w->dtype, at + 8));
            } else {
                for (int j = 0; j < 16; j++) p[j] = j < nn ? temper__w1(w->data, w->dtype, at + j) : 0.0f;
            }
        }
        return;
    }
    /* NK (and q8, always NK): row n + j of W becomes column j of P. */
    if (nn < 16) memset(P, 0, (size_t)kc * 16 * sizeof(float));
    for (int j = 0; j < nn; j++) {
        if (w->dtype == TEMPER__Q8) {
            const int8_t *q = (const int8_t *)w->data + (size_t)(n + j) * temper__q8_row_bytes(K);
            const uint16_t *d = (const uint16_t *)(q + K);
            for (int k = 0; k < kc; k++) row[k] = temper__f16_to_f32(d[(k0 + k) / 32]) * (float)q[k0 + k];
        } else {
            size_t at = (size_t)(n + j) * K + k0;
            int k = 0;
            for (; k + 8 <= kc; k += 8) _mm256_storeu_ps(row + k, temper__w8(w->data, w->dtype, at + k));
            for (; k < kc; k++) row[k] = temper__w1(w->data, w->dtype, at + k);
        }
        for (int k = 0; k < kc; k++) P[(size_t)k * 16 + j] = row[k];
    }
}

TEMPER__AVX2 void temper__gemm_avx2(float *out, int ldo, const float *x, int T, const temper__mat *w,
                                    const float *bias, int ep, int n0, int n1) {
    _Alignas(32) float P[TEMPER__KC2_MAX * TEMPER__NR2]; /* the packed panel: 48 KB of stack */
    float row[TEMPER__KC2_MAX];
    const int K = w->K, act = ep & (TEMPER__EP_GELU | TEMPER__EP_RELU);
    const int KB = K <= TEMPER__KC2_MAX ? K : TEMPER__KC2;
    for (int k0 = 0; k0 < K; k0 += KB) {
        int kc = K - k0 < KB ? K - k0 : KB;
        int first = k0 == 0, last = k0 + kc == K;
        for (int n = n0; n < n1; n += TEMPER__NR2) {
            int nn = n1 - n < TEMPER__NR2 ? n1 - n : TEMPER__NR2;
            __m256i m[2] = {temper__m8(nn), temper__m8(nn - 8)};
            temper__pack2(P, row, w, k0, kc, n, nn);
            for (int t = 0; t < T; t += TEMPER__MR2) {
                int mr = T - t < TEMPER__MR2 ? T - t : TEMPER__MR2;
                temper__micros2[mr](out + (size_t)t * ldo + n, ldo, x + (size_t)t * K + k0, K, P, kc, m,
                                    !first || (ep & TEMPER__EP_ACC), first && bias ? bias + n : NULL,
                                    last ? act : 0);
            }
        }
    }
}

#endif
