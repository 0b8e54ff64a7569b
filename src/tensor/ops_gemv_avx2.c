/*
 * ops_gemv_avx2.c - the streaming matrix kernels of ops_gemv.c (few rows,
 * T <= TEMPER__GEMV_MAX_T) for AVX2 + FMA + F16C: 8 lanes, 16 registers.
 * The same plan: KN streams weight rows in memory order, 8 at a time, into
 * accumulators kept in L1; NK computes tiles of weight rows x activation
 * rows of dot products, reduced 8 at a time. Column tails (N or K not a
 * multiple of 8) run scalar.
 */
#include "tensor/simd.h"

#ifdef TEMPER__HAVE_AVX512
#include "tensor/avx2.h"

#ifndef TEMPER__KN_PREFETCH
#define TEMPER__KN_PREFETCH 8
#endif

/* acc rows [0, TB) (TB <= 2), columns [n0, n1), += R (8 or 1) weight rows
 * k.. times x. */
TEMPER__AVX2 static TEMPER__INLINE2 void temper__kn8_step(float *acc, int lda, const float *x, int K, const int TB,
                                                          const void *W, temper__dtype dt, int N, int k, const int R,
                                                          int n0, int n1, int prefetch) {
    const size_t esz = dt == TEMPER__F32 ? 4 : 2;
    const char *pf = (const char *)W + ((size_t)k + TEMPER__KN_PREFETCH) * N * esz;
    __m256 xb[2][8];
    _Pragma("GCC unroll 2") for (int t = 0; t < TB; t++)
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) xb[t][r] = _mm256_set1_ps(x[(size_t)t * K + k + r]);
    int j = n0;
    for (; j + 8 <= n1; j += 8) {
        if (prefetch && ((j - n0) & (esz == 4 ? 15 : 31)) == 0) /* one line of 64 bytes ahead per row */
            _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) _mm_prefetch(pf + ((size_t)r * N + j) * esz, _MM_HINT_T0);
        _Pragma("GCC unroll 2") for (int t = 0; t < TB; t++) {
            float *a = acc + (size_t)t * lda + j;
            __m256 p0 = _mm256_mul_ps(xb[t][0], temper__w8(W, dt, (size_t)k * N + j)), p1 = p0;
            if (R > 1) p1 = _mm256_mul_ps(xb[t][1], temper__w8(W, dt, (size_t)(k + 1) * N + j));
            _Pragma("GCC unroll 8") for (int r = 2; r < R; r += 2) {
                p0 = _mm256_fmadd_ps(xb[t][r], temper__w8(W, dt, (size_t)(k + r) * N + j), p0);
                p1 = _mm256_fmadd_ps(xb[t][r + 1], temper__w8(W, dt, (size_t)(k + r + 1) * N + j), p1);
            }
            __m256 p = R > 1 ? _mm256_add_ps(p0, p1) : p0;
            _mm256_storeu_ps(a, _mm256_add_ps(_mm256_loadu_ps(a), p));
        }
    }
    for (; j < n1; j++)
        for (int t = 0; t < TB; t++) {
            float s = 0.0f;
            for (int r = 0; r < R; r++) s += x[(size_t)t * K + k + r] * temper__w1(W, dt, (size_t)(k + r) * N + j);
            acc[(size_t)t * lda + j] += s;
        }
}

TEMPER__AVX2 static TEMPER__INLINE2 void temper__kn8_dt(float *acc, int lda, const float *x, int T,
                                                        const temper__mat *w, temper__dtype dt, int k0, int k1,
                                                        int n0, int n1) {
    const int K = w->K, N = w->N;
    /* columns in chunks whose T accumulator rows stay in L1 */
    const int CW = T <= 1 ? n1 - n0 : 4096 / T > 512 ? 4096 / T : 512;
    for (int c0 = n0; c0 < n1; c0 += CW) {
        int c1 = n1 - c0 < CW ? n1 : c0 + CW, k = k0;
        for (; k + 8 <= k1; k += 8) {
            int pf = k + 8 + TEMPER__KN_PREFETCH <= k1;
            for (int t = 0; t < T; t += 2) {
                float *a = acc + (size_t)t * lda;
                const float *xt = x + (size_t)t * K;
                if (T - t >= 2) temper__kn8_step(a, lda, xt, K, 2, w->data, dt, N, k, 8, c0, c1, pf && t == 0);
                else temper__kn8_step(a, lda, xt, K, 1, w->data, dt, N, k, 8, c0, c1, pf && t == 0);
            }
        }
        for (; k < k1; k++)
            for (int t = 0; t < T; t++)
                temper__kn8_step(acc + (size_t)t * lda, lda, x + (size_t)t * K, K, 1, w->data, dt, N, k, 1, c0, c1, 0);
    }
}

TEMPER__AVX2 void temper__gemv_kn_avx2(float *acc, int lda, const float *x, int T, const temper__mat *w, int k0,
                                       int k1, int n0, int n1) {
    switch (w->dtype) {
    case TEMPER__F16: temper__kn8_dt(acc, lda, x, T, w, TEMPER__F16, k0, k1, n0, n1); break;
    case TEMPER__BF16: temper__kn8_dt(acc, lda, x, T, w, TEMPER__BF16, k0, k1, n0, n1); break;
    default: temper__kn8_dt(acc, lda, x, T, w, TEMPER__F32, k0, k1, n0, n1); break;
    }
}

/* ---- NK -------------------------------------------------------------- */

/* Lanes CB t + c of s (activation row t < tb, weight row n + c, c < cb) to
 * out with bias, accumulation and activation. */
TEMPER__AVX2 static void temper__tile8_store(float *out, int ldo, __m256 s, int CB, int tb, int cb, int n,
                                      const float *bias, int ep) {
    float v[8];
    _mm256_storeu_ps(v, s);
    for (int t = 0; t < tb; t++)
        for (int c = 0; c < cb; c++) {
            if (bias) v[CB * t + c] += bias[n + c];
            if (ep & TEMPER__EP_ACC) v[CB * t + c] += out[(size_t)t * ldo + n + c];
        }
    if (ep & (TEMPER__EP_GELU | TEMPER__EP_RELU)) _mm256_storeu_ps(v, temper__act8(_mm256_loadu_ps(v), ep));
    for (int t = 0; t < tb; t++)
        for (int c = 0; c < cb; c++) out[(size_t)t * ldo + n + c] = v[CB * t + c];
}

/* Tiles of TB activation rows x CB weight rows, TB CB = 8 accumulators:
 * 1 x 8 for decode, 2 x 4, 4 x 2 for batches (rows beyond T repeat the
 * last one and are not stored). */
TEMPER__AVX2 static TEMPER__INLINE2 void temper__nk8_tiles(float *out, int ldo, const float *x, int T,
                                                           const temper__mat *w, temper__dtype dt, const float *bias,
                                                           int ep, int n0, int n1, const int TB) {
    const int K = w->K, CB = 8 / TB, K8 = K / 8 * 8;
    for (int n = n0; n < n1; n += CB) {
        int cb = n1 - n < CB ? n1 - n : CB;
        size_t wr[8];
        _Pragma("GCC unroll 8") for (int c = 0; c < CB; c++) wr[c] = (size_t)(n + (c < cb ? c : cb - 1)) * K;
        for (int t0 = 0; t0 < T; t0 += TB) {
            int tb = T - t0 < TB ? T - t0 : TB;
            const float *xr[4];
            _Pragma("GCC unroll 4") for (int t = 0; t < TB; t++) xr[t] = x + (size_t)(t0 + (t < tb ? t : tb - 1)) * K;
            __m256 acc[8];
            _Pragma("GCC unroll 8") for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();
            for (int k = 0; k < K8; k += 8) {
                __m256 xv[4];
                _Pragma("GCC unroll 4") for (int t = 0; t < TB; t++) xv[t] = _mm256_loadu_ps(xr[t] + k);
                _Pragma("GCC unroll 8") for (int c = 0; c < CB; c++) {
                    __m256 wv = temper__w8(w->data, dt, wr[c] + k);
                    _Pragma("GCC unroll 4") for (int t = 0; t < TB; t++)
                        acc[CB * t + c] = _mm256_fmadd_ps(xv[t], wv, acc[CB * t + c]);
                }
            }
            __m256 s = temper__hsum8x8(acc);
            if (K8 < K) {
                float tail[8];
                for (int t = 0; t < TB; t++)
                    for (int c = 0; c < CB; c++) {
                        float u = 0.0f;
                        for (int k = K8; k < K; k++) u += xr[t][k] * temper__w1(w->data, dt, wr[c] + k);
                        tail[CB * t + c] = u;
                    }
                s = _mm256_add_ps(s, _mm256_loadu_ps(tail));
            }
            temper__tile8_store(out + (size_t)t0 * ldo, ldo, s, CB, tb, cb, n, bias, ep);
        }
    }
}

TEMPER__AVX2 static TEMPER__INLINE2 void temper__nk8_dt(float *out, int ldo, const float *x, int T,
                                                        const temper__mat *w, temper__dtype dt, const float *bias,
                                                        int ep, int n0, int n1) {
    if (T == 1) temper__nk8_tiles(out, ldo, x, T, w, dt, bias, ep, n0, n1, 1);
    else if (T == 2) temper__nk8_tiles(out, ldo, x, T, w, dt, bias, ep, n0, n1, 2);
    else temper__nk8_tiles(out, ldo, x, T, w, dt, bias, ep, n0, n1, 4);
}

TEMPER__AVX2 void temper__gemv_nk_avx2(float *out, int ldo, const float *x, int T, const temper__mat *w,
                                       const float *bias, int ep, int n0, int n1) {
    switch (w->dtype) {
    case TEMPER__F16: temper__nk8_dt(out, ldo, x, T, w, TEMPER__F16, bias, ep, n0, n1); break;
    case TEMPER__BF16: temper__nk8_dt(out, ldo, x, T, w, TEMPER__BF16, bias, ep, n0, n1); break;
    default: temper__nk8_dt(out, ldo, x, T, w, TEMPER__F32, bias, ep, n0, n1); break;
    }
}

#endif
