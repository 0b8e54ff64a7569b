/* ops.c - portable kernels, the matmul dispatcher and the threaded wrappers. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/ops.h"
#include "tensor/simd.h"

/* ---- element conversion ---------------------------------------------- */

float temper__f16_to_f32(uint16_t h) {
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
    if (dtype == TEMPER__Q8) {
        const int8_t *q = (const int8_t *)data + (size_t)row * temper__q8_row_bytes(C);
        const uint16_t *d = (const uint16_t *)(q + C);
        for (int k = 0; k < C; k++) out[k] = temper__f16_to_f32(d[k / 32]) * (float)q[k];
        return;
    }
    temper__to_f32(out, data, dtype, (size_t)row * (size_t)C, C);
}

/* ---- run-time choice ---------------------------------------------- */

int temper__simd_enabled(void) { return temper__simd() != TEMPER__SIMD_PORTABLE; }

static inline int temper__avx512(void) { return temper__simd() == TEMPER__SIMD_AVX512; }

/* ---- matmul: reference ----------------------------------------------- */

void temper__act_ref(float *x, long n, int ep) {
    if (ep & TEMPER__EP_GELU) {
        /* 0.5 v (1 + tanh(u)) = v / (1 + exp(-2u)): the same function, without
         * the cancellation of 1 + tanh(u) for negative v. */
        const float c = 0.7978845608028654f; /* sqrt(2/pi) */
        for (long i = 0; i < n; i++) {
            float v = x[i];
            x[i] = v / (1.0f + expf(-2.0f * c * (v + 0.044715f * v * v * v)));
        }
    }
    if (ep & TEMPER__EP_RELU)
        for (long i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void temper__matmul_ref(float *out, int ldo, const float *x, int T, const temper__mat *w,
                        const float *bias, int ep) {
    temper__matmul_generic(out, ldo, x, T, w, bias, ep, 0, w->N);
}

/* Row n of W as f32 over k = 0..K-1 (NK and q8 layouts). */
static void temper__w_row(float *dst, const temper__mat *w, int n) {
    const int K = w->K;
    if (w->dtype != TEMPER__Q8) {
        temper__to_f32(dst, w->data, w->dtype, (size_t)n * K, K);
        return;
    }
    temper__row_f32(dst, w->data, TEMPER__Q8, K, n);
}

/* Portable kernel for columns [n0, n1): also the fallback when the CPU has
 * no AVX-512. Weights are converted a block at a time. */
void temper__matmul_generic(float *out, int ldo, const float *x, int T, const temper__mat *w,
                            const float *bias, int ep, int n0, int n1) {
    const int K = w->K, N = w->N, acc = ep & TEMPER__EP_ACC;
    if (w->layout == TEMPER__NK || w->dtype == TEMPER__Q8) {
        float wrow[K];
        for (int n = n0; n < n1; n++) {
            temper__w_row(wrow, w, n);
            for (int t = 0; t < T; t++) {
                const float *xr = x + (size_t)t * K;
                float s = 0.0f;
                for (int k = 0; k < K; k++) s += xr[k] * wrow[k];
                if (bias) s += bias[n];
                float *o = out + (size_t)t * ldo + n;
                *o = acc ? *o + s : s;
                temper__act_ref(o, 1, ep);
            }
        }
        return;
    }
    enum { NB = 64 };
    float wblk[NB];
    for (int nb = n0; nb < n1; nb += NB) {
        int nn = n1 - nb < NB ? n1 - nb : NB;
        for (int t = 0; t < T; t++) {
            float sum[NB] = {0};
            const float *xr = x + (size_t)t * K;
            for (int k = 0; k < K; k++) {
                temper__to_f32(wblk, w->data, w->dtype, (size_t)k * N + nb, nn);
                for (int j = 0; j < nn; j++) sum[j] += xr[k] * wblk[j];
            }
            float *o = out + (size_t)t * ldo + nb;
            for (int j = 0; j < nn; j++) {
                float s = sum[j] + (bias ? bias[nb + j] : 0.0f);
                o[j] = acc ? o[j] + s : s;
            }
            temper__act_ref(o, nn, ep);
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
    int ep;
    float *partial;      /* (TEMPER__KCHUNKS - 1, T, N) partial sums when K is split */
    const uint8_t *xq;   /* q8 activations (see simd.h) */
    const uint64_t *xneg;
    const float *xd;
    const int8_t *xq8;   /* q8 activations, AVX2 form */
    const struct temper__kernels *k;
    temper__pool *pool;
} temper__mm_job;

static void temper__mm_generic_worker(void *arg, int ith, int nth) {
    const temper__mm_job *j = arg;
    long b, e;
    temper__split(j->w->N, 64, ith, nth, &b, &e);
    if (b < e) temper__matmul_generic(j->out, j->ldo, j->x, j->T, j->w, j->bias, j->ep, (int)b, (int)e);
}

/* The kernels of one SIMD level (simd.h); NULL at level portable. */
typedef struct temper__kernels {
    void (*kn)(float *, int, const float *, int, const temper__mat *, int, int, int, int);
    void (*nk)(float *, int, const float *, int, const temper__mat *, const float *, int, int, int);
    /* blocked kernel for T > TEMPER__GEMV_MAX_T; NULL: the streaming ones serve any T */
    void (*gemm)(float *, int, const float *, int, const temper__mat *, const float *, int, int, int);
    void (*act)(float *, long, int);
    void (*softmax)(float *, int);
    void (*layernorm)(float *, const float *, int, const float *, const float *, float);
    void (*attn_row)(float *, const float *, const float *, const float *, int, int, int, float, float *);
    /* q8 with x as int8 (T, K) and scales (T, K / 32) */
    void (*quantize_q8)(int8_t *, float *, const float *, int, int);
    void (*q8)(float *, int, const int8_t *, const float *, int, const temper__mat *, const float *, int, int, int);
} temper__kernels;

#ifdef TEMPER__HAVE_AVX512
static const temper__kernels temper__k_avx512 = {
    temper__gemv_kn_avx512,  temper__gemv_nk_avx512,     temper__gemm_avx512,        temper__act_avx512,
    temper__softmax_avx512,  temper__layernorm_avx512,   temper__attn_row_avx512,    temper__quantize_x_q8_avx2,
    temper__gemv_q8_avx2};
static const temper__kernels temper__k_avx2 = {
    temper__gemv_kn_avx2,  temper__gemv_nk_avx2,   temper__gemm_avx2,          temper__act_avx2,    temper__softmax_avx2,
    temper__layernorm_avx2, temper__attn_row_avx2, temper__quantize_x_q8_avx2, temper__gemv_q8_avx2};
#endif
#ifdef TEMPER__HAVE_NEON
static const temper__kernels temper__k_neon = {
    temper__gemv_kn_neon,   temper__gemv_nk_neon,  NULL,                       temper__act_neon,    temper__softmax_neon,
    temper__layernorm_neon, temper__attn_row_neon, temper__quantize_x_q8_neon, temper__gemv_q8_neon};
#endif

/* The kernels of the current level, NULL for portable. */
static const temper__kernels *temper__kern(void) {
    switch (temper__simd()) {
#ifdef TEMPER__HAVE_AVX512
    case TEMPER__SIMD_AVX512: return &temper__k_avx512;
    case TEMPER__SIMD_AVX2: return &temper__k_avx2;
#endif
#ifdef TEMPER__HAVE_NEON
    case TEMPER__SIMD_NEON: return &temper__k_neon;
#endif
    default: return NULL;
    }
}

#if defined(TEMPER__HAVE_AVX512) || defined(TEMPER__HAVE_NEON)
/* out rows [0, T) x columns [n0, n1) = bias [+ out]: the starting value of
 * a streamed KN product. */
static void temper__mm_init(const temper__mm_job *j, int n0, int n1) {
    for (int t = 0; t < j->T; t++) {
        float *o = j->out + (size_t)t * j->ldo;
        if (!(j->ep & TEMPER__EP_ACC)) {
            if (j->bias) memcpy(o + n0, j->bias + n0, (size_t)(n1 - n0) * sizeof(float));
            else memset(o + n0, 0, (size_t)(n1 - n0) * sizeof(float));
        } else if (j->bias) {
            for (int n = n0; n < n1; n++) o[n] += j->bias[n];
        }
    }
}

static void temper__mm_act(const temper__mm_job *j, int n0, int n1) {
    if (!(j->ep & (TEMPER__EP_GELU | TEMPER__EP_RELU))) return;
    for (int t = 0; t < j->T; t++) j->k->act(j->out + (size_t)t * j->ldo + n0, n1 - n0, j->ep);
}

/* KN, few rows, each thread a range of columns: it streams its part of
 * every weight row and accumulates straight into out. */
static void temper__mm_kn_split_n(void *arg, int ith, int nth) {
    const temper__mm_job *j = arg;
    long b, e;
    temper__split(j->w->N, 64, ith, nth, &b, &e);
    if (b >= e) return;
    temper__mm_init(j, (int)b, (int)e);
    j->k->kn(j->out, j->ldo, j->x, j->T, j->w, 0, j->w->K, (int)b, (int)e);
    temper__mm_act(j, (int)b, (int)e);
}

/* KN, few rows, narrow N: the weight rows are cut into TEMPER__KCHUNKS
 * contiguous ranges whose partial sums go to out (chunk 0) and to scratch
 * (the others); each chunk streams long contiguous runs of memory. A
 * second job adds the partials up in a fixed order, over ranges of
 * columns. The cut does not depend on the number of threads: results are
 * the same bits with 1 or 2 threads. */
#define TEMPER__KCHUNKS 4

static void temper__mm_kn_partial(void *arg, int c, int nc) {
    const temper__mm_job *j = arg;
    const int T = j->T, N = j->w->N;
    long k0, k1;
    temper__split(j->w->K, 8, c, nc, &k0, &k1);
    float *acc = c == 0 ? j->out : j->partial + (size_t)(c - 1) * T * N;
    if (c == 0) temper__mm_init(j, 0, N);
    else memset(acc, 0, (size_t)T * N * sizeof(float));
    if (k0 < k1) j->k->kn(acc, c == 0 ? j->ldo : N, j->x, T, j->w, (int)k0, (int)k1, 0, N);
}

static void temper__mm_kn_reduce(void *arg, int ith, int nth) {
    const temper__mm_job *j = arg;
    const int T = j->T, N = j->w->N;
    long n0, n1;
    temper__split(N, 16, ith, nth, &n0, &n1);
    for (int t = 0; t < T; t++) {
        float *o = j->out + (size_t)t * j->ldo;
        for (int p = 0; p < TEMPER__KCHUNKS - 1; p++) {
            const float *src = j->partial + ((size_t)p * T + t) * N;
            for (long n = n0; n < n1; n++) o[n] += src[n];
        }
    }
    if (n0 < n1) temper__mm_act(j, (int)n0, (int)n1);
}

static void temper__mm_nk_worker(void *arg, int ith, int nth) {
    const temper__mm_job *j = arg;
    long b, e;
    temper__split(j->w->N, 16, ith, nth, &b, &e);
    if (b < e) j->k->nk(j->out, j->ldo, j->x, j->T, j->w, j->bias, j->ep, (int)b, (int)e);
}

#ifdef TEMPER__HAVE_AVX512
static void temper__mm_q8_worker(void *arg, int ith, int nth) {
    const temper__mm_job *j = arg;
    long b, e;
    temper__split(j->w->N, 16, ith, nth, &b, &e);
    if (b < e)
        temper__gemv_q8_avx512(j->out, j->ldo, j->xq, j->xneg, j->xd, j->T, j->w, j->bias, j->ep, (int)b,
                               (int)e);
}
#endif

static void temper__mm_q8i_worker(void *arg, int ith, int nth) {
    const temper__mm_job *j = arg;
    long b, e;
    temper__split(j->w->N, 16, ith, nth, &b, &e);
    if (b < e) j->k->q8(j->out, j->ldo, j->xq8, j->xd, j->T, j->w, j->bias, j->ep, (int)b, (int)e);
}

static void temper__mm_gemm_worker(void *arg, int ith, int nth) {
    const temper__mm_job *j = arg;
    long b, e;
    temper__split(j->w->N, 48, ith, nth, &b, &e);
    if (b < e) j->k->gemm(j->out, j->ldo, j->x, j->T, j->w, j->bias, j->ep, (int)b, (int)e);
}

/* KN matrices at most this wide are split by K (see above). */
#define TEMPER__SPLIT_K_MAX_N 1024

static void temper__matmul_simd(temper__mm_job *j) {
    const temper__mat *w = j->w;
    const int T = j->T, K = w->K, N = w->N;
    const int few = T <= TEMPER__GEMV_MAX_T || !j->k->gemm; /* the streaming kernels */
#ifdef TEMPER__HAVE_AVX512
    if (w->dtype == TEMPER__Q8 && few && j->k == &temper__k_avx512 && temper__cpu_has_vnni()) {
        /* Activations quantized once here: |x| (T, K64) u8, signs (T, K64/64)
         * u64, scales (T, K64/4) f32 (K64: K rounded up to 64), carved from
         * the pool's scratch. */
        size_t K64 = ((size_t)K + 63) / 64 * 64;
        size_t fq = T * K64 / 4, fs = T * K64 / 32, fd = T * K64 / 4;
        float *buf = temper__pool_scratch(j->pool, fq + fs + fd);
        if (buf) {
            uint8_t *xq = (uint8_t *)buf;
            uint64_t *xneg = (uint64_t *)(buf + fq);
            float *xd = buf + fq + fs;
            temper__quantize_x_q8_avx512(xq, xneg, xd, j->x, T, K);
            j->xq = xq;
            j->xneg = xneg;
            j->xd = xd;
            temper__pool_run(j->pool, temper__mm_q8_worker, j);
            return;
        }
    }
#endif
    if (w->dtype == TEMPER__Q8 && few) {
        /* x as int8 (T, K) and scales (T, K / 32), from the pool's scratch */
        int8_t *xq = (int8_t *)temper__pool_scratch(j->pool, (size_t)T * K / 4 + (size_t)T * K / 32);
        if (xq) {
            float *xd = (float *)xq + (size_t)T * K / 4;
            j->k->quantize_q8(xq, xd, j->x, T, K);
            j->xq8 = xq;
            j->xd = xd;
            temper__pool_run(j->pool, temper__mm_q8i_worker, j);
            return;
        }
    }
    if (w->dtype == TEMPER__Q8 || !few) {
        if (j->k->gemm) temper__pool_run(j->pool, temper__mm_gemm_worker, j);
        else temper__pool_run(j->pool, temper__mm_generic_worker, j); /* no scratch for q8 */
    } else if (w->layout == TEMPER__NK) {
        temper__pool_run(j->pool, temper__mm_nk_worker, j);
    } else if (N <= TEMPER__SPLIT_K_MAX_N &&
               (j->partial = temper__pool_scratch(j->pool, (size_t)(TEMPER__KCHUNKS - 1) * T * N))) {
        temper__pool_run_chunks(j->pool, temper__mm_kn_partial, j, TEMPER__KCHUNKS);
        temper__pool_run(j->pool, temper__mm_kn_reduce, j);
    } else {
        temper__pool_run(j->pool, temper__mm_kn_split_n, j);
    }
}
#endif

void temper__matmul_ep(temper__pool *pool, float *out, int ldo, const float *x, int T, const temper__mat *w,
                       const float *bias, int ep) {
    temper__mm_job j = {.out = out, .ldo = ldo, .x = x, .T = T, .w = w, .bias = bias, .ep = ep, .pool = pool};
    if (T <= 0) return;
#if defined(TEMPER__HAVE_AVX512) || defined(TEMPER__HAVE_NEON)
    if ((j.k = temper__kern())) {
        temper__matmul_simd(&j);
        return;
    }
#endif
    temper__pool_run(pool, temper__mm_generic_worker, &j);
}

void temper__matmul(temper__pool *pool, float *out, int ldo, const float *x, int T, const temper__mat *w,
                    const float *bias, int accumulate) {
    temper__matmul_ep(pool, out, ldo, x, T, w, bias, accumulate ? TEMPER__EP_ACC : 0);
}

/* ---- normalisation and activations ----------------------------------- */

void temper__layernorm(float *out, const float *x, int T, int C, const float *g, const float *b,
                       float eps) {
    const temper__kernels *k = temper__kern();
    if (k) {
        for (int t = 0; t < T; t++) k->layernorm(out + (size_t)t * C, x + (size_t)t * C, C, g, b, eps);
        return;
    }
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
    const temper__kernels *k = temper__kern();
    if (k) {
        k->act(x, n, TEMPER__EP_GELU);
        return;
    }
    temper__act_ref(x, n, TEMPER__EP_GELU);
}

void temper__gelu_erf(float *x, long n) {
    for (long i = 0; i < n; i++) x[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] * 0.70710678118654752440)));
}

void temper__relu(float *x, long n) {
    for (long i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void temper__silu_mul(float *gate, const float *up, long n) {
    for (long i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void temper__softmax(float *x, int n) {
    const temper__kernels *k = temper__kern();
    if (k) {
        k->softmax(x, n);
        return;
    }
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

/* First position row r attends to: 0, or the start of its sliding window. */
static int temper__attn_first(const temper__attn_args *a, int r) {
    int lo = a->window > 0 ? a->pos[r] - a->window + 1 : 0;
    return lo > 0 ? lo : 0;
}

/* Probabilities of row r, head h (sc: positions lo..lo+n-1) to probs_out if asked. */
static void temper__attn_probs(const temper__attn_args *a, int r, int h, const float *sc, int lo, int n) {
    if (!a->probs_out) return;
    float *po = a->probs_out + (size_t)r * a->probs_row + (size_t)h * a->probs_head;
    int L = a->probs_len;
    if (lo > L) lo = L;
    if (n > L - lo) n = L - lo;
    memset(po, 0, (size_t)lo * sizeof(float));
    memcpy(po + lo, sc, (size_t)n * sizeof(float));
    memset(po + lo + n, 0, (size_t)(L - lo - n) * sizeof(float));
}

/* One (row, head): scores, softmax, weighted sum of values. sc: (n_ctx).
 * kern: the level's kernels, NULL for portable (or a head too wide). */
static void temper__attn_one(const temper__attn_args *a, int r, int h, float *sc, const temper__kernels *kern) {
    const int hd = a->hd, qdim = a->H * hd, kvdim = a->Hkv * hd, kh = h / (a->H / a->Hkv);
    const int lo = temper__attn_first(a, r), npos = a->pos[r] + 1 - lo;
    const float *q = a->q + (size_t)r * qdim + (size_t)h * hd;
    const float *kbase = a->kc + ((size_t)a->seq[r] * a->n_ctx + lo) * kvdim + (size_t)kh * hd;
    const float *vbase = a->vc + ((size_t)a->seq[r] * a->n_ctx + lo) * kvdim + (size_t)kh * hd;
    float *o = a->out + (size_t)r * qdim + (size_t)h * hd;
    if (kern) {
        kern->attn_row(o, q, kbase, vbase, npos, hd, kvdim, a->scale, sc);
        temper__attn_probs(a, r, h, sc, lo, npos);
        return;
    }
    for (int j = 0; j < npos; j++) {
        const float *k = kbase + (size_t)j * kvdim;
        float s = 0.0f;
        for (int i = 0; i < hd; i++) s += q[i] * k[i];
        sc[j] = s * a->scale;
    }
    temper__softmax(sc, npos);
    for (int i = 0; i < hd; i++) o[i] = 0.0f;
    for (int j = 0; j < npos; j++) {
        const float *v = vbase + (size_t)j * kvdim;
        float p = sc[j];
        for (int i = 0; i < hd; i++) o[i] += p * v[i];
    }
    temper__attn_probs(a, r, h, sc, lo, npos);
}

typedef struct {
    const temper__attn_args *a;
    float *S; /* (nth, 4, n_ctx) scores for the blocked kernel, or NULL */
} temper__attn_job;

/* Portable: (row, head) jobs dealt round-robin (later rows attend to more
 * positions, so contiguous ranges would leave the last thread the most).
 * SIMD: jobs are (head, block of 4 rows); a block of rows of the same
 * sequence (prefill) shares each key and value row between its 4 rows, and
 * one head's cache rows stay in L2 across its blocks. */
static void temper__attn_worker(void *arg, int ith, int nth) {
    const temper__attn_job *j = arg;
    const temper__attn_args *a = j->a;
    const temper__kernels *simd = temper__kern();
    if (!j->S) {
        float *sc = a->scratch + (size_t)ith * a->n_ctx;
        for (long job = ith; job < (long)a->T * a->H; job += nth)
            temper__attn_one(a, (int)(job / a->H), (int)(job % a->H), sc, simd);
        return;
    }
    const int G = (a->T + 3) / 4;
    float *S = j->S + (size_t)ith * 4 * a->n_ctx;
    long b, e;
    temper__split((long)a->H * G, 1, ith, nth, &b, &e);
    for (long job = b; job < e; job++) {
        int h = (int)(job / G), r0 = 4 * (int)(job % G), R = a->T - r0 < 4 ? a->T - r0 : 4, same = 1;
        for (int r = r0 + 1; r < r0 + R; r++) same &= a->seq[r] == a->seq[r0];
        /* (rows whose sliding window has moved off position 0 go one by one) */
        for (int r = r0; r < r0 + R; r++) same &= temper__attn_first(a, r) == 0;
        if (R == 1 || !same) {
            for (int r = r0; r < r0 + R; r++) temper__attn_one(a, r, h, S, simd);
            continue;
        }
#ifdef TEMPER__HAVE_AVX512
        const int qdim = a->H * a->hd, kvdim = a->Hkv * a->hd;
        int npos[4], kh = h / (a->H / a->Hkv);
        for (int r = 0; r < R; r++) npos[r] = a->pos[r0 + r] + 1;
        size_t cache = (size_t)a->seq[r0] * a->n_ctx * kvdim + (size_t)kh * a->hd;
        temper__attn_rows4_avx512(a->out + (size_t)r0 * qdim + (size_t)h * a->hd, qdim,
                                  a->q + (size_t)r0 * qdim + (size_t)h * a->hd, qdim, R, a->kc + cache,
                                  a->vc + cache, npos, a->hd, kvdim, a->scale, S, a->n_ctx);
        for (int r = 0; r < R; r++) temper__attn_probs(a, r0 + r, h, S + (size_t)r * a->n_ctx, 0, npos[r]);
#endif
    }
}

void temper__attention(temper__pool *pool, const temper__attn_args *a) {
    temper__attn_job j = {a, NULL};
    if (temper__avx512())
        j.S = temper__pool_scratch(pool, (size_t)temper__pool_size(pool) * 4 * a->n_ctx);
    temper__pool_run(pool, temper__attn_worker, &j);
}

/* ---- rotary embeddings ------------------------------------------------ */

/* Pairs (a, b) of each head: interleaved (2i, 2i + 1) or rotate-half (i, i + rot/2). */
static void temper__rope_heads(float *x, int T, const int *pos, int nh, int hd, int rot, double theta,
                               int interleaved) {
    const int half = rot / 2;
    double c[half > 0 ? half : 1], s[half > 0 ? half : 1];
    for (int r = 0; r < T; r++) {
        for (int i = 0; i < half; i++) {
            double a = pos[r] * pow(theta, -2.0 * i / rot);
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

void temper__rope(float *x, int T, const int *pos, int nh, int hd, double theta, int interleaved) {
    temper__rope_heads(x, T, pos, nh, hd, hd, theta, interleaved);
}

void temper__rope_partial(float *x, int T, const int *pos, int nh, int hd, int rot, double theta) {
    temper__rope_heads(x, T, pos, nh, hd, rot, theta, 0);
}
