/*
 * ops_q8.c - 8-bit weights: quantization at load time (portable) and the
 * AVX-512 VNNI streaming kernel for few rows.
 *
 * Format (as llama.cpp's q8_0): each row n of W (N, K) in blocks of 32
 * along k, one f16 scale per block, d = max|w| / 127, and q = round(w / d)
 * in [-127, 127]. Each row holds its K int8 q, then its K/32 f16 d (ops.h).
 * About 1.06 bytes per weight instead of 4 (f32) or 2 (f16).
 *
 * The VNNI kernel quantizes the activations the same way (per block of 32,
 * once per call) and takes integer dot products 64 bytes at a time with
 * vpdpbusd (u8 x s8): the activations enter as |x| and their signs are moved
 * onto the weights. Each pair of blocks is then scaled by d_w * d_x in f32.
 * Larger batches (prefill) go through the GEMM kernel, which unpacks q8
 * panels to f32 and keeps the activations in f32.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/simd.h"

/* f32 -> f16 bits, round to nearest even (subnormals and overflow handled). */
static uint16_t temper__f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds above 65504: inf */
    if (ax < 0x38800000u) {                                  /* below 2^-14: subnormal f16 */
        float v;
        memcpy(&v, &ax, 4);
        return (uint16_t)(sign | (uint32_t)nearbyintf(v * 16777216.0f)); /* units of 2^-24 */
    }
    uint32_t h = ((((ax >> 23) - 127 + 15)) << 10) | ((ax & 0x7fffffu) >> 13), rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

size_t temper__q8_bytes(int K, int N) { return (size_t)N * temper__q8_row_bytes(K); }

/* One block of 32 values to q (32) and its f16 scale. */
static uint16_t temper__q8_block(const float *v, int8_t *q) {
    float amax = 0.0f;
    for (int i = 0; i < 32; i++) amax = fabsf(v[i]) > amax ? fabsf(v[i]) : amax;
    uint16_t dh = temper__f32_to_f16(amax / 127.0f);
    float d = temper__f16_to_f32(dh), id = d > 0.0f ? 1.0f / d : 0.0f;
    for (int i = 0; i < 32; i++) { /* round half away from zero, clamp to [-127, 127] */
        float r = v[i] * id;
        int qi = (int)(r + (r >= 0.0f ? 0.5f : -0.5f));
        q[i] = (int8_t)(qi > 127 ? 127 : qi < -127 ? -127 : qi);
    }
    return dh;
}

#ifdef TEMPER__HAVE_AVX512
#include "tensor/avx512.h"

/* The same block quantization as temper__q8_block, 16 lanes at a time (the
 * same operations in the same order: the same bytes). */
TEMPER__AVX512 static uint16_t temper__q8_block_avx512(const float *v, int8_t *q) {
    __m512 a = _mm512_loadu_ps(v), b = _mm512_loadu_ps(v + 16);
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
    uint16_t dh = temper__f32_to_f16(amax / 127.0f);
    float d = temper__f16_to_f32(dh);
    __m512 id = _mm512_set1_ps(d > 0.0f ? 1.0f / d : 0.0f), zero = _mm512_setzero_ps();
    for (int h = 0; h < 2; h++) {
        __m512 r = _mm512_mul_ps(h ? b : a, id);
        __m512 half = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(r, zero, _CMP_GE_OQ), _mm512_set1_ps(-0.5f),
                                           _mm512_set1_ps(0.5f));
        __m512i qi = _mm512_cvttps_epi32(_mm512_add_ps(r, half));
        qi = _mm512_max_epi32(_mm512_min_epi32(qi, _mm512_set1_epi32(127)), _mm512_set1_epi32(-127));
        _mm_storeu_si128((__m128i *)(q + 16 * h), _mm512_cvtepi32_epi8(qi));
    }
    return dh;
}

/* The same for AVX2. */
static uint16_t temper__q8_block_avx2(const float *v, int8_t *q) {
    uint16_t dh = temper__f32_to_f16(temper__q8_amax_avx2(v) / 127.0f);
    float d = temper__f16_to_f32(dh);
    temper__q8_round_avx2(v, d > 0.0f ? 1.0f / d : 0.0f, q);
    return dh;
}
#endif

/* Element (k, n) of a f32/f16/bf16 matrix, for the slow KN path below. */
static void temper__mat_row_kn(float *dst, const temper__mat *w, int k) {
    temper__row_f32(dst, w->data, w->dtype, w->N, k);
}

int temper__quantize_q8(const temper__mat *w, temper__mat *out) {
    const int K = w->K, N = w->N, nb = K / 32;
    const size_t rb = temper__q8_row_bytes(K);
    uint16_t (*temper__q8_block_fn)(const float *, int8_t *) = temper__q8_block;
#ifdef TEMPER__HAVE_AVX512
    if (temper__simd() == TEMPER__SIMD_AVX512) temper__q8_block_fn = temper__q8_block_avx512;
    if (temper__simd() == TEMPER__SIMD_AVX2) temper__q8_block_fn = temper__q8_block_avx2;
#endif
    if (K % 32 != 0 || w->dtype == TEMPER__Q8) return TEMPER_EINVAL;
    int8_t *buf = aligned_alloc(64, (temper__q8_bytes(K, N) + 63) & ~(size_t)63);
    if (!buf) return TEMPER_ENOMEM;
#define TEMPER__Q(n) (buf + (size_t)(n) * rb)                   /* q of row n (K) */
#define TEMPER__D(n) ((uint16_t *)(buf + (size_t)(n) * rb + K)) /* d of row n (K / 32) */
    if (w->layout == TEMPER__NK) {
        float *row = malloc((size_t)K * sizeof(float));
        if (!row) { free(buf); return TEMPER_ENOMEM; }
        for (int n = 0; n < N; n++) {
            temper__row_f32(row, w->data, w->dtype, K, n);
            for (int b = 0; b < nb; b++) TEMPER__D(n)[b] = temper__q8_block_fn(row + 32 * b, TEMPER__Q(n) + 32 * b);
        }
        free(row);
    } else {
        /* KN: 32 rows of W at a time (32, N), then column n is block (n, kb). */
        float *rows = malloc((size_t)32 * N * sizeof(float));
        if (!rows) { free(buf); return TEMPER_ENOMEM; }
        for (int b = 0; b < nb; b++) {
            for (int i = 0; i < 32; i++) temper__mat_row_kn(rows + (size_t)i * N, w, 32 * b + i);
            for (int n = 0; n < N; n++) {
                float col[32];
                for (int i = 0; i < 32; i++) col[i] = rows[(size_t)i * N + n];
                TEMPER__D(n)[b] = temper__q8_block_fn(col, TEMPER__Q(n) + 32 * b);
            }
        }
        free(rows);
    }
#undef TEMPER__Q
#undef TEMPER__D
    *out = (temper__mat){TEMPER__Q8, TEMPER__NK, K, N, buf};
    return 0;
}

#ifdef TEMPER__HAVE_AVX512
#include "tensor/avx512.h"

#define TEMPER__VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,fma,f16c")))

int temper__cpu_has_vnni(void) {
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx512vnni");
    }
    return have;
}

/* Rows of x (T, K) in blocks of 32 -> xq |q| (T, K64) u8, xneg (T, K64/64)
 * sign masks, xd (T, K64/4): per 64 values, 16 lanes [d0 x8, d1 x8]. K64 is
 * K rounded up to 64; the padding is zero. */
TEMPER__VNNI void temper__quantize_x_q8_avx512(uint8_t *xq, uint64_t *xneg, float *xd, const float *x, int T,
                                               int K) {
    const int K64 = (K + 63) / 64 * 64, nch = K64 / 64;
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * K;
        for (int c = 0; c < nch; c++) {
            float d[2] = {0.0f, 0.0f};
            __m128i q8[4];
            for (int h = 0; h < 2; h++) {
                int k = 64 * c + 32 * h;
                if (k >= K) {
                    q8[2 * h] = q8[2 * h + 1] = _mm_setzero_si128();
                    continue;
                }
                __m512 a = _mm512_loadu_ps(xr + k), b = _mm512_loadu_ps(xr + k + 16);
                float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
                d[h] = amax / 127.0f;
                __m512 id = _mm512_set1_ps(d[h] > 0.0f ? 1.0f / d[h] : 0.0f);
                q8[2 * h] = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(a, id)));
                q8[2 * h + 1] = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(b, id)));
            }
            __m512i q = _mm512_inserti64x2(_mm512_castsi128_si512(q8[0]), q8[1], 1);
            q = _mm512_inserti64x2(q, q8[2], 2);
            q = _mm512_inserti64x2(q, q8[3], 3);
            xneg[(size_t)t * nch + c] = _mm512_movepi8_mask(q);
            _mm512_storeu_si512(xq + (size_t)t * K64 + 64 * c, _mm512_abs_epi8(q));
            __m512 dv = _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(d[0]), _mm512_set1_ps(d[1]));
            _mm512_storeu_ps(xd + ((size_t)t * nch + c) * 16, dv);
        }
    }
}

/* Tiles of TB activation rows x CB weight rows (TB CB = 16 accumulators,
 * reduced together at the end): 1 x 16 for decode, 2 x 8 and 4 x 4 for
 * batches. Rows beyond T repeat the last one and are not stored. */
TEMPER__VNNI static inline __attribute__((always_inline)) void
temper__q8_tiles(float *out, int ldo, const uint8_t *xq, const uint64_t *xneg, const float *xd, int T,
                 const temper__mat *w, const float *bias, int ep, int n0, int n1, const int TB) {
    const int K = w->K, K64 = (K + 63) / 64 * 64, nch = K64 / 64, nb = K / 32, CB = 16 / TB;
    const size_t rb = temper__q8_row_bytes(K);
    const int8_t *qbase = w->data;
    const __m512i half = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m512i zero = _mm512_setzero_si512();
    for (int n = n0; n < n1; n += CB) {
        int cb = n1 - n < CB ? n1 - n : CB;
        const int8_t *qr[16];
        const uint16_t *dr[16];
        _Pragma("GCC unroll 16") for (int c = 0; c < CB; c++) {
            int nc = n + (c < cb ? c : cb - 1);
            qr[c] = qbase + (size_t)nc * rb;
            dr[c] = (const uint16_t *)(qr[c] + K);
        }
        for (int t0 = 0; t0 < T; t0 += TB) {
            int tb = T - t0 < TB ? T - t0 : TB;
            size_t row[4];
            _Pragma("GCC unroll 4") for (int t = 0; t < TB; t++) row[t] = (size_t)(t0 + (t < tb ? t : tb - 1));
            __m512 acc[16];
            _Pragma("GCC unroll 16") for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
            for (int ch = 0; ch < nch; ch++) {
                int k = 64 * ch, two = 2 * ch + 1 < nb;
                __mmask64 mk = two ? ~(__mmask64)0 : (__mmask64)0xffffffffu;
                if (t0 == 0 && n + 2 * CB <= n1) /* the next tile's rows, in memory order */
                    _Pragma("GCC unroll 16") for (int c = 0; c < CB; c++)
                        _mm_prefetch((const char *)(qbase + (size_t)(n + CB) * rb) + (size_t)ch * 64 * CB + 64 * c,
                                     _MM_HINT_T0);
                __m512i xa[4];
                __mmask64 neg[4];
                __m512 xs[4];
                _Pragma("GCC unroll 4") for (int t = 0; t < TB; t++) {
                    xa[t] = _mm512_loadu_si512(xq + row[t] * K64 + k);
                    neg[t] = xneg[row[t] * nch + ch];
                    xs[t] = _mm512_loadu_ps(xd + (row[t] * nch + ch) * 16);
                }
                _Pragma("GCC unroll 16") for (int c = 0; c < CB; c++) {
                    __m512i wv = _mm512_maskz_loadu_epi8(mk, qr[c] + k);
                    uint32_t s2 = dr[c][2 * ch];
                    if (two) s2 |= (uint32_t)dr[c][2 * ch + 1] << 16;
                    __m512 ws = _mm512_permutexvar_ps(half, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128((int)s2))));
                    _Pragma("GCC unroll 4") for (int t = 0; t < TB; t++) {
                        __m512i ws8 = _mm512_mask_sub_epi8(wv, neg[t], zero, wv); /* signs of x onto w */
                        __m512i dot = _mm512_dpbusd_epi32(zero, xa[t], ws8);
                        acc[CB * t + c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(ws, xs[t]), acc[CB * t + c]);
                    }
                }
            }
            __m512 s = temper__hsum16x16(acc);
            float *ob = out + (size_t)t0 * ldo;
            for (int t = 0; t < tb; t++) {
                __mmask16 m = (__mmask16)(((1u << cb) - 1) << (CB * t));
                float *o = ob + (size_t)t * ldo + n - CB * t; /* lanes CB t.. land on o[n..] */
                __m512 v = s;
                if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bias + n - CB * t));
                if (ep & TEMPER__EP_ACC) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, o));
                _mm512_mask_storeu_ps(o, m, temper__act16(v, ep));
            }
        }
    }
}

TEMPER__VNNI void temper__gemv_q8_avx512(float *out, int ldo, const uint8_t *xq, const uint64_t *xneg,
                                         const float *xd, int T, const temper__mat *w, const float *bias, int ep,
                                         int n0, int n1) {
    if (T == 1) temper__q8_tiles(out, ldo, xq, xneg, xd, T, w, bias, ep, n0, n1, 1);
    else if (T == 2) temper__q8_tiles(out, ldo, xq, xneg, xd, T, w, bias, ep, n0, n1, 2);
    else temper__q8_tiles(out, ldo, xq, xneg, xd, T, w, bias, ep, n0, n1, 4);
}

#endif
