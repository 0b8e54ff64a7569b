/*
 * ops_q8_avx2.c - the q8 streaming kernel (T <= TEMPER__GEMV_MAX_T) for
 * AVX2: activations quantized per block of 32 (int8 and an f32 scale, as
 * the AVX-512 form), one block of 32 products per ymm register with
 * vpmaddubsw (|x| as u8 times w with the sign of x, pairs summed to s16:
 * at most 2 x 127 x 127, no saturation) and vpmaddwd (to s32), or one
 * AVX-VNNI vpdpbusd on the CPUs that have it. Then the block's integer
 * dot product times the two scales, accumulated in f32.
 */
#include <stdatomic.h>

#include "tensor/simd.h"

#ifdef TEMPER__HAVE_AVX512
#include "tensor/avx2.h"

#define TEMPER__AVXVNNI __attribute__((target("avx2,fma,f16c,avxvnni")))

static atomic_int temper__avxvnni = -1; /* -1: not probed yet */

int temper__cpu_has_avxvnni(void) {
    int have = atomic_load_explicit(&temper__avxvnni, memory_order_relaxed);
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avxvnni") != 0;
        atomic_store(&temper__avxvnni, have);
    }
    return have;
}

void temper__avxvnni_force(int use) {
    __builtin_cpu_init();
    atomic_store(&temper__avxvnni, use < 0 ? __builtin_cpu_supports("avxvnni") != 0
                                           : use && __builtin_cpu_supports("avxvnni"));
}

/* The load-time quantization of one block of 32 weights (ops_q8.c's
 * temper__q8_block: the same operations in the same order, the same
 * bytes); d is computed by the caller's f16 rounding: dh = f16(max|v| / 127),
 * then id = 1 / f32(dh). Returns max|v|. */
TEMPER__AVX2 float temper__q8_amax_avx2(const float *v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 mx = _mm256_setzero_ps();
    for (int i = 0; i < 4; i++) mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, _mm256_loadu_ps(v + 8 * i)));
    return temper__hmax8(mx);
}

/* q (32) = clamp(trunc(v id + (v id >= 0 ? 0.5 : -0.5)), -127, 127). */
TEMPER__AVX2 void temper__q8_round_avx2(const float *v, float id, int8_t *q) {
    const __m256 idv = _mm256_set1_ps(id), zero = _mm256_setzero_ps();
    __m256i qi[4];
    for (int i = 0; i < 4; i++) {
        __m256 r = _mm256_mul_ps(_mm256_loadu_ps(v + 8 * i), idv);
        __m256 half = _mm256_blendv_ps(_mm256_set1_ps(-0.5f), _mm256_set1_ps(0.5f), _mm256_cmp_ps(r, zero, _CMP_GE_OQ));
        __m256i t = _mm256_cvttps_epi32(_mm256_add_ps(r, half));
        qi[i] = _mm256_max_epi32(_mm256_min_epi32(t, _mm256_set1_epi32(127)), _mm256_set1_epi32(-127));
    }
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3]));
    _mm256_storeu_si256((__m256i *)q, _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

/* Rows of x (T, K), K a multiple of 32, in blocks of 32 -> xq (T, K) int8
 * = round(x / d), xd (T, K / 32) the scales d = max|x| / 127. */
TEMPER__AVX2 void temper__quantize_x_q8_avx2(int8_t *xq, float *xd, const float *x, int T, int K) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < K / 32; b++) {
            const float *v = x + (size_t)t * K + 32 * b;
            __m256 a[4], mx = _mm256_setzero_ps();
            for (int i = 0; i < 4; i++) {
                a[i] = _mm256_loadu_ps(v + 8 * i);
                mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, a[i]));
            }
            float d = temper__hmax8(mx) / 127.0f;
            __m256 id = _mm256_set1_ps(d > 0.0f ? 1.0f / d : 0.0f);
            __m256i q[4];
            for (int i = 0; i < 4; i++) q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(a[i], id));
            /* s32 -> s8 with saturation; packs interleave 128-bit lanes, the permute restores the order */
            __m256i p01 = _mm256_packs_epi32(q[0], q[1]), p23 = _mm256_packs_epi32(q[2], q[3]);
            __m256i p = _mm256_packs_epi16(p01, p23);
            p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(xq + (size_t)t * K + 32 * b), p);
            xd[(size_t)t * (K / 32) + b] = d;
        }
}

/* Tiles of TB activation rows x CB weight rows (TB CB = 8 f32
 * accumulators of 8 lanes, reduced together at the end), over groups of 8
 * blocks: the 8 blocks' scale products dw dx of each (row, weight row)
 * pair are made by one f16 conversion and one multiply (the same f32
 * product as one at a time), then broadcast from memory per block. */
#define TEMPER__Q8_TILES(NAME, ATTR, DOT)                                                                        \
    ATTR static inline __attribute__((always_inline)) void NAME(float *out, int ldo, const int8_t *xq,          \
                                                               const float *xd, int T, const temper__mat *w,    \
                                                               const float *bias, int ep, int n0, int n1,       \
                                                               const int TB) {                                  \
        const int K = w->K, nb = K / 32, CB = 8 / TB;                                                           \
        const size_t rb = temper__q8_row_bytes(K);                                                              \
        const int8_t *qbase = w->data;                                                                          \
        float sc[8][8] __attribute__((aligned(32))); /* (t, c) pair -> scales of 8 blocks */                   \
        for (int n = n0; n < n1; n += CB) {                                                                     \
            int cb = n1 - n < CB ? n1 - n : CB;                                                                 \
            const int8_t *qr[8];                                                                                \
            const uint16_t *dr[8];                                                                              \
            _Pragma("GCC unroll 8") for (int c = 0; c < CB; c++) {                                              \
                qr[c] = qbase + (size_t)(n + (c < cb ? c : cb - 1)) * rb;                                       \
                dr[c] = (const uint16_t *)(qr[c] + K);                                                          \
            }                                                                                                   \
            for (int t0 = 0; t0 < T; t0 += TB) {                                                                \
                int tb = T - t0 < TB ? T - t0 : TB;                                                             \
                size_t row[4];                                                                                  \
                _Pragma("GCC unroll 4") for (int t = 0; t < TB; t++) row[t] = (size_t)(t0 + (t < tb ? t : tb - 1)); \
                __m256 acc[8];                                                                                  \
                _Pragma("GCC unroll 8") for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();               \
                for (int b0 = 0; b0 < nb; b0 += 8) {                                                            \
                    const int nbk = nb - b0 < 8 ? nb - b0 : 8;                                                  \
                    _Pragma("GCC unroll 4") for (int t = 0; t < TB; t++)                                        \
                        _Pragma("GCC unroll 8") for (int c = 0; c < CB; c++) {                                  \
                            if (nbk == 8)                                                                       \
                                _mm256_store_ps(sc[CB * t + c],                                                 \
                                    _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(dr[c] + b0))), \
                                                  _mm256_loadu_ps(xd + row[t] * nb + b0)));                     \
                            else                                                                                \
                                for (int j = 0; j < nbk; j++)                                                   \
                                    sc[CB * t + c][j] = _cvtsh_ss(dr[c][b0 + j]) * xd[row[t] * nb + b0 + j];    \
                        }                                                                                       \
                    for (int j = 0; j < nbk; j++) {                                                             \
                        const int b = b0 + j;                                                                   \
                        __m256i xa[4], xs[4];                                                                   \
                        _Pragma("GCC unroll 4") for (int t = 0; t < TB; t++) {                                  \
                            xs[t] = _mm256_loadu_si256((const __m256i *)(xq + row[t] * K + 32 * b));            \
                            xa[t] = _mm256_abs_epi8(xs[t]);                                                     \
                        }                                                                                       \
                        _Pragma("GCC unroll 8") for (int c = 0; c < CB; c++) {                                  \
                            __m256i wv = _mm256_loadu_si256((const __m256i *)(qr[c] + 32 * b));                 \
                            _Pragma("GCC unroll 4") for (int t = 0; t < TB; t++) {                              \
                                __m256i dot = DOT(xa[t], _mm256_sign_epi8(wv, xs[t])); /* sign of x onto w */    \
                                acc[CB * t + c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot),                      \
                                                                  _mm256_broadcast_ss(&sc[CB * t + c][j]),      \
                                                                  acc[CB * t + c]);                             \
                            }                                                                                   \
                        }                                                                                       \
                    }                                                                                           \
                }                                                                                               \
                temper__tile8_store_q8(out + (size_t)t0 * ldo, ldo, temper__hsum8x8(acc), CB, tb, cb, n, bias, ep); \
            }                                                                                                   \
        }                                                                                                       \
    }

/* Lanes CB t + c of s to out (row t < tb, column n + c, c < cb) with the epilogue. */
TEMPER__AVX2 static void temper__tile8_store_q8(float *out, int ldo, __m256 s, int CB, int tb, int cb, int n,
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

/* u8 x s8 products of 32 bytes, summed in groups of 4 into 8 s32 lanes. */
TEMPER__AVX2 static inline __attribute__((always_inline)) __m256i temper__dot_maddubs(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

TEMPER__AVXVNNI static inline __attribute__((always_inline)) __m256i temper__dot_vnni(__m256i u, __m256i s) {
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), u, s);
}

TEMPER__Q8_TILES(temper__q8_tiles_avx2, TEMPER__AVX2, temper__dot_maddubs)
TEMPER__Q8_TILES(temper__q8_tiles_avxvnni, TEMPER__AVXVNNI, temper__dot_vnni)

TEMPER__AVX2 static void temper__gemv_q8_maddubs(float *out, int ldo, const int8_t *xq, const float *xd, int T,
                                                 const temper__mat *w, const float *bias, int ep, int n0, int n1) {
    if (T == 1) temper__q8_tiles_avx2(out, ldo, xq, xd, T, w, bias, ep, n0, n1, 1);
    else if (T == 2) temper__q8_tiles_avx2(out, ldo, xq, xd, T, w, bias, ep, n0, n1, 2);
    else temper__q8_tiles_avx2(out, ldo, xq, xd, T, w, bias, ep, n0, n1, 4);
}

TEMPER__AVXVNNI static void temper__gemv_q8_vnni(float *out, int ldo, const int8_t *xq, const float *xd, int T,
                                                 const temper__mat *w, const float *bias, int ep, int n0, int n1) {
    if (T == 1) temper__q8_tiles_avxvnni(out, ldo, xq, xd, T, w, bias, ep, n0, n1, 1);
    else if (T == 2) temper__q8_tiles_avxvnni(out, ldo, xq, xd, T, w, bias, ep, n0, n1, 2);
    else temper__q8_tiles_avxvnni(out, ldo, xq, xd, T, w, bias, ep, n0, n1, 4);
}

void temper__gemv_q8_avx2(float *out, int ldo, const int8_t *xq, const float *xd, int T, const temper__mat *w,
                          const float *bias, int ep, int n0, int n1) {
    if (temper__cpu_has_avxvnni()) temper__gemv_q8_vnni(out, ldo, xq, xd, T, w, bias, ep, n0, n1);
    else temper__gemv_q8_maddubs(out, ldo, xq, xd, T, w, bias, ep, n0, n1);
}

#endif
