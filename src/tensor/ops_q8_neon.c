/*
 * ops_q8_neon.c - the q8 kernel for aarch64: activations quantized per
 * block of 32 (int8 and an f32 scale, as the x86 forms), each block's
 * integer dot product by sdot (vdotq_s32) on CPUs with the dot-product
 * extension, else by widening multiplies (vmull_s8, vpadalq_s16); times
 * the two scales, accumulated in f32. Serves any number of rows.
 */
#include <stdatomic.h>

#include "tensor/simd.h"

#ifdef TEMPER__HAVE_NEON
#include <sys/auxv.h>

#include "tensor/neon.h"

#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif

static atomic_int temper__sdot = -1; /* -1: not probed yet */

static int temper__cpu_sdot(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }

int temper__cpu_has_sdot(void) {
    int have = atomic_load_explicit(&temper__sdot, memory_order_relaxed);
    if (have < 0) {
        have = temper__cpu_sdot();
        atomic_store(&temper__sdot, have);
    }
    return have;
}

void temper__sdot_force(int use) { atomic_store(&temper__sdot, use < 0 ? temper__cpu_sdot() : use && temper__cpu_sdot()); }

void temper__quantize_x_q8_neon(int8_t *xq, float *xd, const float *x, int T, int K) {
    for (int t = 0; t < T; t++)
        for (int b = 0; b < K / 32; b++) {
            const float *v = x + (size_t)t * K + 32 * b;
            float32x4_t a[8], mx = vdupq_n_f32(0.0f);
            for (int i = 0; i < 8; i++) {
                a[i] = vld1q_f32(v + 4 * i);
                mx = vmaxq_f32(mx, vabsq_f32(a[i]));
            }
            float d = vmaxvq_f32(mx) / 127.0f;
            float32x4_t id = vdupq_n_f32(d > 0.0f ? 1.0f / d : 0.0f);
            int8_t *q = xq + (size_t)t * K + 32 * b;
            for (int i = 0; i < 8; i += 2) { /* round to nearest even, saturate to int8 */
                int16x8_t h = vcombine_s16(vqmovn_s32(vcvtnq_s32_f32(vmulq_f32(a[i], id))),
                                           vqmovn_s32(vcvtnq_s32_f32(vmulq_f32(a[i + 1], id))));
                vst1_s8(q + 4 * i, vqmovn_s16(h));
            }
            xd[(size_t)t * (K / 32) + b] = d;
        }
}

/* The integer dot product of 32 int8 pairs as 4 s32 lanes. */
static inline __attribute__((always_inline)) int32x4_t temper__dot32_mull(int8x16_t w0, int8x16_t w1, int8x16_t x0,
                                                                         int8x16_t x1) {
    int16x8_t p0 = vmlal_s8(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)), vget_high_s8(w0), vget_high_s8(x0));
    int16x8_t p1 = vmlal_s8(vmull_s8(vget_low_s8(w1), vget_low_s8(x1)), vget_high_s8(w1), vget_high_s8(x1));
    return vpadalq_s16(vpaddlq_s16(p0), p1); /* |pairs| <= 2 x 127 x 127: no overflow in s16 */
}

__attribute__((target("arch=armv8.2-a+dotprod"))) static inline __attribute__((always_inline)) int32x4_t
temper__dot32_sdot(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, x0), w1, x1);
}

/* Tiles of 4 activation rows x 4 weight rows. */
#define TEMPER__Q8N_TILES(NAME, ATTR, DOT)                                                                       \
    ATTR static void NAME(float *out, int ldo, const int8_t *xq, const float *xd, int T, const temper__mat *w,   \
                          const float *bias, int ep, int n0, int n1) {                                          \
        const int K = w->K, nb = K / 32;                                                                        \
        const size_t rb = temper__q8_row_bytes(K);                                                              \
        const int8_t *qbase = w->data;                                                                          \
        for (int n = n0; n < n1; n += 4) {                                                                      \
            int cb = n1 - n < 4 ? n1 - n : 4;                                                                   \
            const int8_t *qr[4];                                                                                \
            const uint16_t *dr[4];                                                                              \
            for (int c = 0; c < 4; c++) {                                                                       \
                qr[c] = qbase + (size_t)(n + (c < cb ? c : cb - 1)) * rb;                                       \
                dr[c] = (const uint16_t *)(qr[c] + K);                                                          \
            }                                                                                                   \
            for (int t0 = 0; t0 < T; t0 += 4) {                                                                 \
                int tb = T - t0 < 4 ? T - t0 : 4;                                                               \
                size_t row[4];                                                                                  \
                for (int t = 0; t < 4; t++) row[t] = (size_t)(t0 + (t < tb ? t : tb - 1));                     \
                float32x4_t acc[4][4];                                                                          \
                for (int t = 0; t < 4; t++)                                                                     \
                    for (int c = 0; c < 4; c++) acc[t][c] = vdupq_n_f32(0.0f);                                  \
                for (int b = 0; b < nb; b++) {                                                                  \
                    int8x16_t x0[4], x1[4];                                                                     \
                    float xs[4];                                                                                \
                    for (int t = 0; t < 4; t++) {                                                               \
                        x0[t] = vld1q_s8(xq + row[t] * K + 32 * b);                                             \
                        x1[t] = vld1q_s8(xq + row[t] * K + 32 * b + 16);                                        \
                        xs[t] = xd[row[t] * nb + b];                                                            \
                    }                                                                                           \
                    for (int c = 0; c < 4; c++) {                                                               \
                        int8x16_t w0 = vld1q_s8(qr[c] + 32 * b), w1 = vld1q_s8(qr[c] + 32 * b + 16);            \
                        float ws = temper__f16_to_f32(dr[c][b]);                                                \
                        for (int t = 0; t < 4; t++)                                                             \
                            acc[t][c] = vfmaq_n_f32(acc[t][c], vcvtq_f32_s32(DOT(w0, w1, x0[t], x1[t])), ws * xs[t]); \
                    }                                                                                           \
                }                                                                                               \
                float s[4][4];                                                                                  \
                for (int t = 0; t < 4; t++)                                                                     \
                    for (int c = 0; c < 4; c++) s[t][c] = vaddvq_f32(acc[t][c]);                                \
                temper__tile_store_neon(out + (size_t)t0 * ldo, ldo, s, tb, cb, n, bias, ep);                   \
            }                                                                                                   \
        }                                                                                                       \
    }

TEMPER__Q8N_TILES(temper__q8_tiles_mull, , temper__dot32_mull)
TEMPER__Q8N_TILES(temper__q8_tiles_sdot, __attribute__((target("arch=armv8.2-a+dotprod"))), temper__dot32_sdot)

void temper__gemv_q8_neon(float *out, int ldo, const int8_t *xq, const float *xd, int T, const temper__mat *w,
                          const float *bias, int ep, int n0, int n1) {
    if (temper__cpu_has_sdot()) temper__q8_tiles_sdot(out, ldo, xq, xd, T, w, bias, ep, n0, n1);
    else temper__q8_tiles_mull(out, ldo, xq, xd, T, w, bias, ep, n0, n1);
}

#endif
