/*
 * ops_gemv.c - AVX-512 streaming matrix kernels for few rows (decode and
 * batched decode, T <= TEMPER__GEMV_MAX_T): every weight is read from
 * memory once per call and used for all T rows. Weights f32, f16 or bf16,
 * converted to f32 in registers; math in f32.
 *
 * KN (W is (K, N), GPT-2's Conv1D): the weight rows are streamed in memory
 * order, four at a time, and accumulated into out (kept in L1) with the
 * activations broadcast; the caller splits columns or rows between threads
 * so that each thread reads long contiguous runs.
 * NK (W is (N, K)): tiles of 4 weight rows x 4 activation rows of dot
 * products over k, reduced 16 at a time.
 */
#include "tensor/simd.h"

#ifdef TEMPER__HAVE_AVX512
#include "tensor/avx512.h"

/* Rows ahead of the current group of four that the KN kernel prefetches. */
#ifndef TEMPER__KN_PREFETCH
#define TEMPER__KN_PREFETCH 8
#endif

/* acc rows [0, TB) (TB <= 2), columns [n0, n1), += R (8 or 1) weight rows
 * k.. times x. Eight rows per pass: each accumulator load and store serves
 * 8 FMAs (with fewer, batches are bound by the stores). */
TEMPER__AVX512 static TEMPER__INLINE void temper__kn_step(float *acc, int lda, const float *x, int K, const int TB,
                                                          const void *W, temper__dtype dt, int N, int k, const int R,
                                                          int n0, int n1, int prefetch) {
    __m512 xb[2][8];
    _Pragma("GCC unroll 2") for (int t = 0; t < TB; t++)
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) xb[t][r] = _mm512_set1_ps(x[(size_t)t * K + k + r]);
    const size_t esz = dt == TEMPER__F32 ? 4 : 2;
    const char *pf = (const char *)W + ((size_t)k + TEMPER__KN_PREFETCH) * N * esz;
    for (int j = n0; j < n1; j += 16) {
        /* Full vectors unmasked, the tail masked. */
        const int full = j + 16 <= n1;
        __mmask16 m = temper__m16(n1 - j);
        __m512 w[8];
        _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) w[r] = temper__w16(W, dt, (size_t)(k + r) * N + j, m);
        if (prefetch && (esz == 4 || ((j - n0) & 31) == 0))
            _Pragma("GCC unroll 8") for (int r = 0; r < R; r++) _mm_prefetch(pf + ((size_t)r * N + j) * esz, _MM_HINT_T0);
        _Pragma("GCC unroll 2") for (int t = 0; t < TB; t++) {
            float *a = acc + (size_t)t * lda + j;
            /* two chains of products, then the accumulator (a short
             * load-add-store, so that iterations overlap) */
            __m512 p0 = _mm512_mul_ps(xb[t][0], w[0]), p1 = R > 1 ? _mm512_mul_ps(xb[t][1], w[1]) : p0;
            _Pragma("GCC unroll 8") for (int r = 2; r < R; r += 2) {
                p0 = _mm512_fmadd_ps(xb[t][r], w[r], p0);
                p1 = _mm512_fmadd_ps(xb[t][r + 1], w[r + 1], p1);
            }
            __m512 p = R > 1 ? _mm512_add_ps(p0, p1) : p0;
            if (full) _mm512_storeu_ps(a, _mm512_add_ps(_mm512_loadu_ps(a), p));
            else _mm512_mask_storeu_ps(a, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a), p));
        }
    }
}

/* All rows of the call for weight rows [k0, k1): pairs of activation rows
 * share the weights just loaded (the other pairs find them in L1). */
TEMPER__AVX512 static TEMPER__INLINE void temper__kn_dt(float *acc, int lda, const float *x, int T,
                                                        const temper__mat *w, temper__dtype dt, int k0, int k1,
                                                        int n0, int n1) {
    const int K = w->K, N = w->N;
    /* Columns in chunks whose T accumulator rows fit in L1 (16 KB): with one
     * row, whole segments (the longest runs of memory); with 8, 512 columns. */
    const int CW = T <= 1 ? n1 - n0 : 4096 / T > 512 ? 4096 / T : 512;
    for (int c0 = n0; c0 < n1; c0 += CW) {
        int c1 = n1 - c0 < CW ? n1 : c0 + CW, k = k0;
        for (; k + 8 <= k1; k += 8) {
            int pf = k + 8 + TEMPER__KN_PREFETCH <= k1;
            for (int t = 0; t < T; t += 2) {
                float *a = acc + (size_t)t * lda;
                const float *xt = x + (size_t)t * K;
                if (T - t >= 2) temper__kn_step(a, lda, xt, K, 2, w->data, dt, N, k, 8, c0, c1, pf && t == 0);
                else temper__kn_step(a, lda, xt, K, 1, w->data, dt, N, k, 8, c0, c1, pf && t == 0);
            }
        }
        for (; k < k1; k++)
            for (int t = 0; t < T; t++)
                temper__kn_step(acc + (size_t)t * lda, lda, x + (size_t)t * K, K, 1, w->data, dt, N, k, 1, c0, c1, 0);
    }
}

TEMPER__AVX512 void temper__gemv_kn_avx512(float *acc, int lda, const float *x, int T, const temper__mat *w,
                                           int k0, int k1, int n0, int n1) {
    switch (w->dtype) {
    case TEMPER__F16: temper__kn_dt(acc, lda, x, T, w, TEMPER__F16, k0, k1, n0, n1); break;
    case TEMPER__BF16: temper__kn_dt(acc, lda, x, T, w, TEMPER__BF16, k0, k1, n0, n1); break;
    default: temper__kn_dt(acc, lda, x, T, w, TEMPER__F32, k0, k1, n0, n1); break;
    }
}

/* ---- NK -------------------------------------------------------------- */

/* Write a tile of sums (lane CB t + c: activation row t, weight row n + c)
 * to out with the epilogue, for t < tb and c < cb. */
TEMPER__AVX512 static TEMPER__INLINE void temper__nk_store(float *out, int ldo, __m512 s, int CB, int tb, int cb,
                                                           int n, const float *bias, int ep) {
    for (int t = 0; t < tb; t++) {
        /* Lanes CB t .. CB t + cb - 1 of s go to out[t][n..n+cb): address shifted by -CB t. */
        __mmask16 m = (__mmask16)(((1u << cb) - 1) << (CB * t));
        float *o = out + (size_t)t * ldo + n - CB * t;
        __m512 v = s;
        if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + n - CB * t));
        if (ep & TEMPER__EP_ACC) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, o));
        _mm512_mask_storeu_ps(o, m, temper__act16(v, ep));
    }
}

/* Tiles of TB activation rows x CB weight rows (TB CB = 16 accumulators,
 * reduced together): 1 x 16 for decode, 2 x 8, 4 x 4 for batches (rows
 * beyond T repeat the last one and are not stored). */
TEMPER__AVX512 static TEMPER__INLINE void temper__nk_tiles(float *out, int ldo, const float *x, int T,
                                                           const temper__mat *w, temper__dtype dt, const float *bias,
                                                           int ep, int n0, int n1, const int TB) {
    const int K = w->K, CB = 16 / TB;
    for (int n = n0; n < n1; n += CB) {
        int cb = n1 - n < CB ? n1 - n : CB;
        size_t wr[16];
        _Pragma("GCC unroll 16") for (int c = 0; c < CB; c++) wr[c] = (size_t)(n + (c < cb ? c : cb - 1)) * K;
        for (int t0 = 0; t0 < T; t0 += TB) {
            int tb = T - t0 < TB ? T - t0 : TB;
            const float *xr[4];
            _Pragma("GCC unroll 4") for (int t = 0; t < TB; t++) xr[t] = x + (size_t)(t0 + (t < tb ? t : tb - 1)) * K;
            __m512 acc[16];
            _Pragma("GCC unroll 16") for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
            for (int k = 0; k < K; k += 16) {
                __mmask16 m = temper__m16(K - k);
                __m512 xv[4];
                if (dt != TEMPER__F32 && t0 == 0 && n + 2 * CB <= n1) {
                    /* 16-bit weights: prefetch the next tile's rows in memory
                     * order, as many bytes per step as a step reads (measured
                     * ~20% faster from DRAM; f32 is faster without). */
                    const size_t per = (size_t)CB * 16 * 2;
                    const char *p = (const char *)w->data + ((size_t)(n + CB) * K) * 2 + (size_t)(k / 16) * per;
                    for (size_t b = 0; b < per; b += 64) _mm_prefetch(p + b, _MM_HINT_T0);
                }
                _Pragma("GCC unroll 4") for (int t = 0; t < TB; t++) xv[t] = _mm512_maskz_loadu_ps(m, xr[t] + k);
                _Pragma("GCC unroll 16") for (int c = 0; c < CB; c++) {
                    __m512 wv = temper__w16(w->data, dt, wr[c] + k, m); /* used at once: 21 registers live */
                    _Pragma("GCC unroll 4") for (int t = 0; t < TB; t++)
                        acc[CB * t + c] = _mm512_fmadd_ps(xv[t], wv, acc[CB * t + c]);
                }
            }
            temper__nk_store(out + (size_t)t0 * ldo, ldo, temper__hsum16x16(acc), CB, tb, cb, n, bias, ep);
        }
    }
}

TEMPER__AVX512 static TEMPER__INLINE void temper__nk_dt(float *out, int ldo, const float *x, int T,
                                                        const temper__mat *w, temper__dtype dt, const float *bias,
                                                        int ep, int n0, int n1) {
    if (T == 1) temper__nk_tiles(out, ldo, x, T, w, dt, bias, ep, n0, n1, 1);
    else if (T == 2) temper__nk_tiles(out, ldo, x, T, w, dt, bias, ep, n0, n1, 2);
    else temper__nk_tiles(out, ldo, x, T, w, dt, bias, ep, n0, n1, 4);
}

TEMPER__AVX512 void temper__gemv_nk_avx512(float *out, int ldo, const float *x, int T, const temper__mat *w,
                                           const float *bias, int ep, int n0, int n1) {
    switch (w->dtype) {
    case TEMPER__F16: temper__nk_dt(out, ldo, x, T, w, TEMPER__F16, bias, ep, n0, n1); break;
    case TEMPER__BF16: temper__nk_dt(out, ldo, x, T, w, TEMPER__BF16, bias, ep, n0, n1); break;
    default: temper__nk_dt(out, ldo, x, T, w, TEMPER__F32, bias, ep, n0, n1); break;
    }
}

#endif
