/*
 * ops_neon.c - the kernels for aarch64 Advanced SIMD (level neon): the
 * streaming matrix kernels (KN and NK, f32 / f16 through vcvt / bf16; they
 * serve any number of rows: there is no separate blocked kernel), GELU /
 * ReLU, softmax, layer norm and the attention of one (row, head). The q8
 * kernel is in ops_q8_neon.c. Correctness is tested under qemu-user (make
 * test-aarch64); no speed is claimed for them without an ARM machine.
 */
#include <math.h>
#include <string.h>

#include "tensor/simd.h"

#ifdef TEMPER__HAVE_NEON
#include "tensor/neon.h"

/* ---- KN: acc (T, lda) columns [n0, n1) += x[:, k0:k1) @ W[k0:k1, n0:n1) ---- */

static inline __attribute__((always_inline)) void temper__kn4_dt(float *acc, int lda, const float *x, int T,
                                                                 const temper__mat *w, temper__dtype dt, int k0,
                                                                 int k1, int n0, int n1) {
    const int K = w->K, N = w->N;
    const int CW = 512; /* columns per chunk: T accumulator rows stay in L1 */
    for (int c0 = n0; c0 < n1; c0 += CW) {
        int c1 = n1 - c0 < CW ? n1 : c0 + CW, k = k0;
        for (; k + 4 <= k1; k += 4)
            for (int t = 0; t < T; t++) {
                const float *xt = x + (size_t)t * K + k;
                float32x4_t x0 = vdupq_n_f32(xt[0]), x1 = vdupq_n_f32(xt[1]), x2 = vdupq_n_f32(xt[2]),
                            x3 = vdupq_n_f32(xt[3]);
                float *a = acc + (size_t)t * lda;
                int j = c0;
                for (; j + 4 <= c1; j += 4) {
                    float32x4_t p = vmulq_f32(x0, temper__w4(w->data, dt, (size_t)k * N + j));
                    float32x4_t q = vmulq_f32(x1, temper__w4(w->data, dt, (size_t)(k + 1) * N + j));
                    p = vfmaq_f32(p, x2, temper__w4(w->data, dt, (size_t)(k + 2) * N + j));
                    q = vfmaq_f32(q, x3, temper__w4(w->data, dt, (size_t)(k + 3) * N + j));
                    vst1q_f32(a + j, vaddq_f32(vld1q_f32(a + j), vaddq_f32(p, q)));
                }
                for (; j < c1; j++) {
                    float s = 0.0f;
                    for (int r = 0; r < 4; r++) s += xt[r] * temper__w1n(w->data, dt, (size_t)(k + r) * N + j);
                    a[j] += s;
                }
            }
        for (; k < k1; k++)
            for (int t = 0; t < T; t++) {
                float xv = x[(size_t)t * K + k], *a = acc + (size_t)t * lda;
                for (int j = c0; j < c1; j++) a[j] += xv * temper__w1n(w->data, dt, (size_t)k * N + j);
            }
    }
}

void temper__gemv_kn_neon(float *acc, int lda, const float *x, int T, const temper__mat *w, int k0, int k1, int n0,
                          int n1) {
    switch (w->dtype) {
    case TEMPER__F16: temper__kn4_dt(acc, lda, x, T, w, TEMPER__F16, k0, k1, n0, n1); break;
    case TEMPER__BF16: temper__kn4_dt(acc, lda, x, T, w, TEMPER__BF16, k0, k1, n0, n1); break;
    default: temper__kn4_dt(acc, lda, x, T, w, TEMPER__F32, k0, k1, n0, n1); break;
    }
}

/* ---- NK: tiles of 4 activation rows x 4 weight rows -------------------- */

static inline __attribute__((always_inline)) void temper__nk4_dt(float *out, int ldo, const float *x, int T,
                                                                 const temper__mat *w, temper__dtype dt,
                                                                 const float *bias, int ep, int n0, int n1) {
    const int K = w->K, K4 = K / 4 * 4;
    for (int n = n0; n < n1; n += 4) {
        int cb = n1 - n < 4 ? n1 - n : 4;
        size_t wr[4];
        for (int c = 0; c < 4; c++) wr[c] = (size_t)(n + (c < cb ? c : cb - 1)) * K;
        for (int t0 = 0; t0 < T; t0 += 4) {
            int tb = T - t0 < 4 ? T - t0 : 4;
            const float *xr[4];
            for (int t = 0; t < 4; t++) xr[t] = x + (size_t)(t0 + (t < tb ? t : tb - 1)) * K;
            float32x4_t acc[4][4];
            for (int t = 0; t < 4; t++)
                for (int c = 0; c < 4; c++) acc[t][c] = vdupq_n_f32(0.0f);
            for (int k = 0; k < K4; k += 4) {
                float32x4_t wv[4];
                for (int c = 0; c < 4; c++) wv[c] = temper__w4(w->data, dt, wr[c] + k);
                for (int t = 0; t < 4; t++) {
                    float32x4_t xv = vld1q_f32(xr[t] + k);
                    for (int c = 0; c < 4; c++) acc[t][c] = vfmaq_f32(acc[t][c], xv, wv[c]);
                }
            }
            float s[4][4];
            for (int t = 0; t < 4; t++)
                for (int c = 0; c < 4; c++) {
                    float u = vaddvq_f32(acc[t][c]);
                    for (int k = K4; k < K; k++) u += xr[t][k] * temper__w1n(w->data, dt, wr[c] + k);
                    s[t][c] = u;
                }
            temper__tile_store_neon(out + (size_t)t0 * ldo, ldo, s, tb, cb, n, bias, ep);
        }
    }
}

void temper__gemv_nk_neon(float *out, int ldo, const float *x, int T, const temper__mat *w, const float *bias, int ep,
                          int n0, int n1) {
    switch (w->dtype) {
    case TEMPER__F16: temper__nk4_dt(out, ldo, x, T, w, TEMPER__F16, bias, ep, n0, n1); break;
    case TEMPER__BF16: temper__nk4_dt(out, ldo, x, T, w, TEMPER__BF16, bias, ep, n0, n1); break;
    default: temper__nk4_dt(out, ldo, x, T, w, TEMPER__F32, bias, ep, n0, n1); break;
    }
}

/* ---- element-wise ------------------------------------------------------ */

void temper__act_neon(float *x, long n, int ep) {
    long i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(x + i, temper__act4(vld1q_f32(x + i), ep));
    if (i < n) {
        float v[4] = {0};
        memcpy(v, x + i, (size_t)(n - i) * sizeof(float));
        vst1q_f32(v, temper__act4(vld1q_f32(v), ep));
        memcpy(x + i, v, (size_t)(n - i) * sizeof(float));
    }
}

void temper__softmax_neon(float *x, int n) {
    float32x4_t mv = vdupq_n_f32(-INFINITY);
    int i = 0;
    for (; i + 4 <= n; i += 4) mv = vmaxq_f32(mv, vld1q_f32(x + i));
    float mx = vmaxvq_f32(mv);
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    if (mx == -INFINITY) { /* everything masked: zeros, never NaN */
        for (i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    float32x4_t m = vdupq_n_f32(mx);
    float64x2_t sum = vdupq_n_f64(0.0);
    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t e = temper__exp4(vsubq_f32(vld1q_f32(x + i), m));
        sum = vaddq_f64(sum, vcvt_f64_f32(vget_low_f32(e)));
        sum = vaddq_f64(sum, vcvt_high_f64_f32(e));
        vst1q_f32(x + i, e);
    }
    double s = vaddvq_f64(sum);
    if (i < n) {
        float v[4];
        for (int l = 0; l < 4; l++) v[l] = i + l < n ? x[i + l] : -INFINITY;
        vst1q_f32(v, temper__exp4(vsubq_f32(vld1q_f32(v), m)));
        for (int l = 0; i + l < n; l++) {
            x[i + l] = v[l];
            s += v[l];
        }
    }
    float32x4_t inv = vdupq_n_f32((float)(1.0 / s));
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(x + i, vmulq_f32(vld1q_f32(x + i), inv));
    for (; i < n; i++) x[i] *= vgetq_lane_f32(inv, 0);
}

void temper__layernorm_neon(float *out, const float *x, int C, const float *g, const float *b, float eps) {
    float64x2_t s = vdupq_n_f64(0.0);
    int i = 0;
    for (; i + 4 <= C; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        s = vaddq_f64(s, vaddq_f64(vcvt_f64_f32(vget_low_f32(v)), vcvt_high_f64_f32(v)));
    }
    double sum = vaddvq_f64(s);
    for (; i < C; i++) sum += x[i];
    double mean = sum / C;
    float64x2_t ss = vdupq_n_f64(0.0), md = vdupq_n_f64(mean);
    for (i = 0; i + 4 <= C; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        float64x2_t lo = vsubq_f64(vcvt_f64_f32(vget_low_f32(v)), md), hi = vsubq_f64(vcvt_high_f64_f32(v), md);
        ss = vfmaq_f64(ss, lo, lo);
        ss = vfmaq_f64(ss, hi, hi);
    }
    double var = vaddvq_f64(ss);
    for (; i < C; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= C;
    const float invs = (float)(1.0 / sqrt(var + eps)), ms = (float)mean;
    float32x4_t inv = vdupq_n_f32(invs), m = vdupq_n_f32(ms);
    for (i = 0; i + 4 <= C; i += 4) {
        float32x4_t v = vmulq_f32(vmulq_f32(vsubq_f32(vld1q_f32(x + i), m), inv), vld1q_f32(g + i));
        if (b) v = vaddq_f32(v, vld1q_f32(b + i));
        vst1q_f32(out + i, v);
    }
    for (; i < C; i++) out[i] = (x[i] - ms) * invs * g[i] + (b ? b[i] : 0.0f);
}

void temper__attn_row_neon(float *out, const float *q, const float *kbase, const float *vbase, int npos, int hd,
                           int kvdim, float scale, float *scores) {
    const int hd4 = hd / 4 * 4;
    for (int j = 0; j < npos; j++) {
        const float *k = kbase + (size_t)j * kvdim;
        float32x4_t s = vdupq_n_f32(0.0f);
        for (int i = 0; i < hd4; i += 4) s = vfmaq_f32(s, vld1q_f32(q + i), vld1q_f32(k + i));
        float u = vaddvq_f32(s);
        for (int i = hd4; i < hd; i++) u += q[i] * k[i];
        scores[j] = u * scale;
    }
    temper__softmax_neon(scores, npos);
    for (int i = 0; i < hd; i++) out[i] = 0.0f;
    for (int j = 0; j < npos; j++) {
        const float *v = vbase + (size_t)j * kvdim;
        float32x4_t p = vdupq_n_f32(scores[j]);
        int i = 0;
        for (; i < hd4; i += 4) vst1q_f32(out + i, vfmaq_f32(vld1q_f32(out + i), p, vld1q_f32(v + i)));
        for (; i < hd; i++) out[i] += scores[j] * v[i];
    }
}

#endif
