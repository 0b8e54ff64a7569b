/*
 * neon.h - small aarch64 Advanced SIMD helpers shared by the *_neon.c kernel
 * files: weight loads converted to f32, exp, GELU. Include only under
 * TEMPER__HAVE_NEON; every function is static inline.
 */
#ifndef TEMPER_NEON_H
#define TEMPER_NEON_H

#include <arm_neon.h>
#include <string.h>

#include "tensor/simd.h"

/* 4 weights from element i on, as f32 (f32, f16 through vcvt, bf16). */
static inline __attribute__((always_inline)) float32x4_t temper__w4(const void *base, temper__dtype dt, size_t i) {
    if (dt == TEMPER__F16) return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)base + i)));
    if (dt == TEMPER__BF16) return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)base + i), 16));
    return vld1q_f32((const float *)base + i);
}

/* One weight as f32 (the scalar tails). */
static inline float temper__w1n(const void *base, temper__dtype dt, size_t i) {
    if (dt == TEMPER__F16) return temper__f16_to_f32(((const uint16_t *)base)[i]);
    if (dt == TEMPER__BF16) {
        uint32_t bits = (uint32_t)((const uint16_t *)base)[i] << 16;
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    return ((const float *)base)[i];
}

/* exp(x) in 4 lanes: the reduction and polynomial of the x86 forms, 2^n
 * applied in two halves. Overflows to +inf, underflows to 0, keeps NaN. */
static inline __attribute__((always_inline)) float32x4_t temper__exp4(float32x4_t x) {
    float32x4_t xc = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-104.0f)), vdupq_n_f32(89.0f));
    float32x4_t n = vrndnq_f32(vmulq_f32(xc, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(xc, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.0f / 5040.0f);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    int32x4_t ni = vcvtq_s32_f32(n), n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
    float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, vdupq_n_s32(127)), 23));
    float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, vdupq_n_s32(127)), 23));
    float32x4_t y = vmulq_f32(vmulq_f32(p, s1), s2);
    return vbslq_f32(vceqq_f32(x, x), y, x); /* NaN stays */
}

/* gelu_new(v) = v / (1 + exp(-2u)), u = sqrt(2/pi) (v + 0.044715 v^3). */
static inline __attribute__((always_inline)) float32x4_t temper__gelu4(float32x4_t v) {
    float32x4_t inner = vfmaq_f32(v, vmulq_f32(vmulq_f32(v, v), vdupq_n_f32(0.044715f)), v);
    float32x4_t e = temper__exp4(vmulq_f32(vdupq_n_f32(-2.0f * 0.7978845608028654f), inner));
    return vdivq_f32(v, vaddq_f32(vdupq_n_f32(1.0f), e));
}

static inline __attribute__((always_inline)) float32x4_t temper__act4(float32x4_t v, int ep) {
    if (ep & TEMPER__EP_GELU) v = temper__gelu4(v);
    if (ep & TEMPER__EP_RELU) v = vmaxq_f32(v, vdupq_n_f32(0.0f));
    return v;
}

/* out[t][n + c] = act(s[t][c] + bias [+ out]) for t < tb, c < cb. */
static inline void temper__tile_store_neon(float *out, int ldo, float s[4][4], int tb, int cb, int n, const float *bias, int ep) {
    for (int t = 0; t < tb; t++) {
        float v[4];
        for (int c = 0; c < 4; c++) {
            v[c] = s[t][c] + (bias && c < cb ? bias[n + c] : 0.0f);
            if ((ep & TEMPER__EP_ACC) && c < cb) v[c] += out[(size_t)t * ldo + n + c];
        }
        if (ep & (TEMPER__EP_GELU | TEMPER__EP_RELU)) vst1q_f32(v, temper__act4(vld1q_f32(v), ep));
        for (int c = 0; c < cb; c++) out[(size_t)t * ldo + n + c] = v[c];
    }
}

#endif
