/* ops.c - portable kernels, the matmul dispatcher and the threaded wrappers. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "tensor/ops.h"
#include "tensor/simd.h"

/* ---- element conversion ---------------------------------------------- */

static inline float temper__f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) { man <<= 1; exp--; }
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline float temper__bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* dst (n) = src[off .. off+n) converted to f32. Unaligned sources are fine. */
static void temper__to_f32(float *dst, const void *src, temper__dtype dt, size_t off, int n) {
    const uint8_t *p = src;
    switch (dt) {
    case TEMPER__F32: memcpy(dst, p + off * 4, (size_t)n * 4); break;
    case TEMPER__F16:
        for (int i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + (off + (size_t)i) * 2, 2);
            dst[i] = temper__f16_to_f32(h);
        }
        break;
    case TEMPER__BF16:
        for (int i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + (off + (size_t)i) * 2, 2);
            dst[i] = temper__bf16_to_f32(h);
        }
        break;
    default: memset(dst, 0, (size_t)n * 4); break;
    }
}

void temper__row_f32(float *out, const void *data, temper__dtype dtype, int C, long row) {
    temper__to_f32(out, data, dtype, (size_t)row * (size_t)C, C);
}

/* ---- matmul: reference ----------------------------------------------- */

void temper__matmul_ref(float *out, int ldo, const float *x, int T, const temper__mat *w,
                        const float *bias, int accumulate) {
    temper__matmul_generic(out, ldo, x, T, w, bias, accumulate, 0, w->N);
}

/* Portable kernel for columns [n0, n1): also the fallback when the CPU has
 * no AVX-512. Weights are converted a block at a time. */
void temper__matmul_generic(float *out, int ldo, const float *x, int T, const temper__mat *w,
                            const float *bias, int accumulate, int n0, int n1) {
    const int K = w->K, N = w->N;
    if (w->layout == TEMPER__NK) {
        float wrow[K];
        for (int n = n0; n < n1; n++) {
            temper__to_f32(wrow, w->data, w->dtype, (size_t)n * K, K);
            for (int t = 0; t < T; t++) {
                const float *xr = x + (size_t)t * K;
                float s = 0.0f;
                for (int k = 0; k < K; k++) s += xr[k] * wrow[k];
                if (bias) s += bias[n];
                float *o = out + (size_t)t * ldo + n;
                *o = accumulate ? *o + s : s;
            }
        }
        return;
    }
    enum { NB = 64 };
    float wblk[NB];
    for (int nb = n0; nb < n1; nb += NB) {
        int nn = n1 - nb < NB ? n1 - nb : NB;
        for (int t = 0; t < T; t++) {
            float acc[NB] = {0};
            const float *xr = x + (size_t)t * K;
            for (int k = 0; k < K; k++) {
                temper__to_f32(wblk, w->data, w->dtype, (size_t)k * N + nb, nn);
                for (int j = 0; j < nn; j++) acc[j] += xr[k] * wblk[j];
            }
            float *o = out + (size_t)t * ldo + nb;
            for (int j = 0; j < nn; j++) {
                float s = acc[j] + (bias ? bias[nb + j] : 0.0f);
                o[j] = accumulate ? o[j] + s : s;
            }
        }
    }
}

/* ---- matmul: threaded dispatcher ------------------------------------- */

typedef struct {
    float *out;
    int ldo;
    const float *x;
    int T;
    const temper__mat *w;
    const float *bias;
    int accumulate;
    temper__matmul_kernel kernel;
} temper__mm_job;

static void temper__mm_worker(void *arg, int ith, int nth) {
    const temper__mm_job *j = arg;
    long b, e;
    temper__split(j->w->N, 64, ith, nth, &b, &e);
    if (b < e) j->kernel(j->out, j->ldo, j->x, j->T, j->w, j->bias, j->accumulate, (int)b, (int)e);
}

void temper__matmul(temper__pool *pool, float *out, int ldo, const float *x, int T, const temper__mat *w,
                    const float *bias, int accumulate) {
    temper__mm_job j = {out, ldo, x, T, w, bias, accumulate, temper__matmul_select(w)};
    temper__pool_run(pool, temper__mm_worker, &j);
}

/* ---- normalisation and activations ----------------------------------- */

void temper__layernorm(float *out, const float *x, int T, int C, const float *g, const float *b,
                       float eps) {
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * C;
        float *o = out + (size_t)t * C;
        double mean = 0.0, var = 0.0;
        for (int i = 0; i < C; i++) mean += xr[i];
        mean /= C;
        for (int i = 0; i < C; i++) var += (xr[i] - mean) * (xr[i] - mean);
        var /= C;
        float inv = (float)(1.0 / sqrt(var + eps)), m = (float)mean;
        for (int i = 0; i < C; i++) o[i] = (xr[i] - m) * inv * g[i] + (b ? b[i] : 0.0f);
    }
}

void temper__rmsnorm(float *out, const float *x, int T, int C, const float *g, float eps) {
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * C;
        float *o = out + (size_t)t * C;
        double ss = 0.0;
        for (int i = 0; i < C; i++) ss += (double)xr[i] * xr[i];
        float inv = (float)(1.0 / sqrt(ss / C + eps));
        for (int i = 0; i < C; i++) o[i] = xr[i] * inv * g[i];
    }
}

void temper__gelu_tanh(float *x, long n) {
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    for (long i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(c * (v + 0.044715f * v * v * v)));
    }
}

void temper__relu(float *x, long n) {
    for (long i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void temper__silu_mul(float *gate, const float *up, long n) {
    for (long i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void temper__softmax(float *x, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    if (mx == -INFINITY) { /* everything masked: leave zeros, never NaN */
        for (int i = 0; i < n; i++) x[i] = 0.0f;
        return;
    }
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

/* ---- attention ------------------------------------------------------- */

static void temper__attn_worker(void *arg, int ith, int nth) {
    const temper__attn_args *a = arg;
    const int hd = a->hd, group = a->H / a->Hkv, qdim = a->H * hd, kvdim = a->Hkv * hd;
    float *sc = a->scratch + (size_t)ith * a->n_ctx;
    long b, e;
    temper__split((long)a->T * a->H, 1, ith, nth, &b, &e);
    for (long job = b; job < e; job++) {
        int r = (int)(job / a->H), h = (int)(job % a->H), kh = h / group;
        int npos = a->pos[r] + 1;
        const float *q = a->q + (size_t)r * qdim + (size_t)h * hd;
        const float *kbase = a->kc + (size_t)a->seq[r] * a->n_ctx * kvdim + (size_t)kh * hd;
        const float *vbase = a->vc + (size_t)a->seq[r] * a->n_ctx * kvdim + (size_t)kh * hd;
        for (int j = 0; j < npos; j++) {
            const float *k = kbase + (size_t)j * kvdim;
            float s = 0.0f;
            for (int i = 0; i < hd; i++) s += q[i] * k[i];
            sc[j] = s * a->scale;
        }
        temper__softmax(sc, npos);
        float *o = a->out + (size_t)r * qdim + (size_t)h * hd;
        for (int i = 0; i < hd; i++) o[i] = 0.0f;
        for (int j = 0; j < npos; j++) {
            const float *v = vbase + (size_t)j * kvdim;
            float p = sc[j];
            for (int i = 0; i < hd; i++) o[i] += p * v[i];
        }
        if (a->probs_out) {
            float *po = a->probs_out + (size_t)r * a->probs_row + (size_t)h * a->probs_head;
            int n = npos < a->probs_len ? npos : a->probs_len;
            memcpy(po, sc, (size_t)n * sizeof(float));
            memset(po + n, 0, (size_t)(a->probs_len - n) * sizeof(float));
        }
    }
}

void temper__attention(temper__pool *pool, const temper__attn_args *a) {
    temper__pool_run(pool, temper__attn_worker, (void *)a);
}

/* ---- rotary embeddings ------------------------------------------------ */

void temper__rope(float *x, int T, const int *pos, int nh, int hd, double theta, int interleaved) {
    const int half = hd / 2;
    double c[half > 0 ? half : 1], s[half > 0 ? half : 1];
    for (int r = 0; r < T; r++) {
        for (int i = 0; i < half; i++) {
            double a = pos[r] * pow(theta, -2.0 * i / hd);
            c[i] = cos(a);
            s[i] = sin(a);
        }
        for (int h = 0; h < nh; h++) {
            float *v = x + ((size_t)r * nh + h) * hd;
            for (int i = 0; i < half; i++) {
                int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
                float x0 = v[a], x1 = v[b];
                v[a] = (float)(x0 * c[i] - x1 * s[i]);
                v[b] = (float)(x1 * c[i] + x0 * s[i]);
            }
        }
    }
}
