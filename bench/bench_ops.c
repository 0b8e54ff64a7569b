/*
 * bench_ops.c - times each kernel of src/tensor on GPT-2 124M shapes, SIMD
 * and portable side by side (llm.c's dev/cpu habit), and checks that the
 * two agree: matrix-vector products per weight dtype (GB/s of weights
 * streamed from memory, not from the caches), matrix-matrix products
 * (GFLOP/s), attention over the KV cache,
 * GELU, softmax, layer norm. Times are the best of several runs (the
 * machine is shared; the minimum is the least disturbed).
 *
 *   bench_ops [-t THREADS] [--quick] [--cpu]
 *
 * --cpu times with the process CPU clock (meaningful with -t 1 only): a
 * kernel's own speed on a machine busy with other work.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "core/pool.h"
#include "tensor/simd.h"

static uint64_t rng = 7;
static float frand(void) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f;
}

static int reps = 7;
static int cpu_clock; /* --cpu: process CPU time instead of wall time */

static double now(void) {
    if (!cpu_clock) return temper__now();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* var = best wall time of the statement(s) over reps runs (after one warm-up). */
#define BEST(var, ...)                                       \
    do {                                                     \
        __VA_ARGS__;                                         \
        var = 1e30;                                          \
        for (int rep_ = 0; rep_ < reps; rep_++) {            \
            double t0_ = now();                      \
            __VA_ARGS__;                                     \
            double dt_ = now() - t0_;                \
            if (dt_ < var) var = dt_;                        \
        }                                                    \
    } while (0)

static double max_rel(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs((double)a[i] - b[i]));
        den = fmax(den, fabs((double)b[i]));
    }
    return den > 0 ? num / den : num;
}

/* A (K, N) weight matrix of dtype/layout with values in [-0.1, 0.1). */
static temper__mat make_mat(temper__dtype dt, temper__layout layout, int K, int N) {
    size_t n = (size_t)K * N;
    temper__mat w = {dt == TEMPER__Q8 ? TEMPER__F32 : dt, layout, K, N, NULL};
    size_t esz = w.dtype == TEMPER__F32 ? 4 : 2;
    void *data = aligned_alloc(64, (n * esz + 63) & ~(size_t)63);
    for (size_t i = 0; i < n; i++) {
        float v = 0.1f * frand();
        uint32_t b;
        memcpy(&b, &v, 4);
        if (esz == 4) ((float *)data)[i] = v;
        else if (w.dtype == TEMPER__BF16) ((uint16_t *)data)[i] = (uint16_t)(b >> 16);
        else {
            _Float16 h = (_Float16)v;
            memcpy((uint16_t *)data + i, &h, 2);
        }
    }
    w.data = data;
    if (dt == TEMPER__Q8) {
        temper__mat q;
        if (temper__quantize_q8(&w, &q) != 0) exit(1);
        free(data);
        w = q;
    }
    return w;
}

static size_t mat_bytes(const temper__mat *w) {
    if (w->dtype == TEMPER__Q8) return temper__q8_bytes(w->K, w->N);
    return (size_t)w->K * w->N * (w->dtype == TEMPER__F32 ? 4 : 2);
}

/* Decode streams every weight from memory: the few-row products cycle over
 * copies of the matrix totalling more than the last-level cache. */
#define COLD_BYTES ((size_t)320 << 20)

static void bench_matmul(temper__pool *pool, const char *name, temper__dtype dt, temper__layout layout, int K,
                         int N, int T, int ep) {
    temper__mat w = make_mat(dt, layout, K, N);
    int nc = 1;
    temper__mat *ws = NULL;
    if (T <= TEMPER__GEMV_MAX_T) {
        nc = (int)(COLD_BYTES / mat_bytes(&w)) + 1;
        ws = malloc(sizeof *ws * nc);
        for (int c = 0; c < nc; c++) {
            ws[c] = w;
            void *d = aligned_alloc(64, (mat_bytes(&w) + 63) & ~(size_t)63);
            memcpy(d, w.data, mat_bytes(&w));
            ws[c].data = d;
        }
    }
    float *x = malloc(sizeof(float) * T * K), *bias = malloc(sizeof(float) * N);
    float *o1 = malloc(sizeof(float) * T * N), *o2 = malloc(sizeof(float) * T * N);
    for (int i = 0; i < T * K; i++) x[i] = frand();
    for (int i = 0; i < N; i++) bias[i] = frand();
    double ts, tp;
    temper__simd_set(1);
    if (ws) {
        BEST(ts, for (int c = 0; c < nc; c++) temper__matmul_ep(pool, o1, N, x, T, &ws[c], bias, 0));
        ts /= nc;
    }
    double tc = ts;
    BEST(ts, memset(o1, 0, sizeof(float) * T * N), temper__matmul_ep(pool, o1, N, x, T, &w, bias, ep));
    if (ws) {
        for (int c = 0; c < nc; c++) free((void *)ws[c].data);
        free(ws);
        ts = tc; /* report the product from memory; the cached one only checks */
    }
    temper__simd_set(0);
    int saved = reps;
    if (T > 8 || reps > 3) reps = T > 8 ? 1 : 3; /* the portable kernel is slow */
    BEST(tp, memset(o2, 0, sizeof(float) * T * N), temper__matmul_ep(pool, o2, N, x, T, &w, bias, ep));
    reps = saved;
    temper__simd_set(1);
    double flop = 2.0 * T * K * N;
    printf("%-26s %-4s %s T=%-3d %6.3f ms  %6.1f GB/s  %6.1f GFLOP/s | portable %8.2f ms (x%.0f)  diff %.1e\n",
           name, temper__dtype_name(dt), layout == TEMPER__KN ? "KN" : "NK", T, ts * 1e3, mat_bytes(&w) / ts / 1e9,
           flop / ts / 1e9, tp * 1e3, tp / ts, max_rel(o1, o2, (size_t)T * N));
    free((void *)w.data); free(x); free(bias); free(o1); free(o2);
}

static void bench_attention(temper__pool *pool, int T, int npos) {
    const int H = 12, hd = 64, C = H * hd, P = 1024, nth = temper__pool_size(pool);
    float *q = malloc(sizeof(float) * T * C), *out = malloc(sizeof(float) * T * C), *out2 = malloc(sizeof(float) * T * C);
    float *kc = malloc(sizeof(float) * P * C), *vc = malloc(sizeof(float) * P * C), *sc = malloc(sizeof(float) * nth * P);
    int *seq = calloc(T, sizeof(int)), *pos = malloc(sizeof(int) * T);
    for (int i = 0; i < T * C; i++) q[i] = frand();
    for (int i = 0; i < P * C; i++) { kc[i] = frand(); vc[i] = frand(); }
    for (int r = 0; r < T; r++) pos[r] = npos - T + r;
    temper__attn_args a = {.out = out, .q = q, .kc = kc, .vc = vc, .seq = seq, .pos = pos, .T = T, .H = H, .Hkv = H,
                           .hd = hd, .n_ctx = P, .scale = 0.125f, .scratch = sc};
    double ts, tp;
    temper__simd_set(1);
    BEST(ts, temper__attention(pool, &a));
    temper__simd_set(0);
    a.out = out2;
    BEST(tp, temper__attention(pool, &a));
    temper__simd_set(1);
    double flop = 0;
    for (int r = 0; r < T; r++) flop += 4.0 * H * hd * (pos[r] + 1);
    printf("attention %3d rows to %4d positions   %7.3f ms  %6.1f GFLOP/s | portable %8.2f ms (x%.0f)  diff %.1e\n", T,
           npos, ts * 1e3, flop / ts / 1e9, tp * 1e3, tp / ts, max_rel(out, out2, (size_t)T * C));
    free(q); free(out); free(out2); free(kc); free(vc); free(sc); free(seq); free(pos);
}

enum { EW_N = 512 * 3072, EW_C = 768, EW_T = 512 };
static float *ew_g, *ew_b;
static void ew_gelu(float *y, const float *x) { memcpy(y, x, sizeof(float) * EW_N); temper__gelu_tanh(y, EW_N); }
static void ew_softmax(float *y, const float *x) {
    memcpy(y, x, sizeof(float) * EW_N);
    for (int r = 0; r < EW_N / 1024; r++) temper__softmax(y + (size_t)r * 1024, 1024);
}
static void ew_layernorm(float *y, const float *x) { temper__layernorm(y, x, EW_T, EW_C, ew_g, ew_b, 1e-5f); }

static void bench_elementwise(void) {
    float *x = malloc(sizeof(float) * EW_N), *y = malloc(sizeof(float) * EW_N), *z = malloc(sizeof(float) * EW_N);
    ew_g = malloc(sizeof(float) * EW_C);
    ew_b = malloc(sizeof(float) * EW_C);
    for (int i = 0; i < EW_N; i++) x[i] = 4.0f * frand();
    for (int i = 0; i < EW_C; i++) { ew_g[i] = frand(); ew_b[i] = frand(); }
    static const struct { const char *label; void (*fn)(float *, const float *); long count; } ops[] = {
        {"gelu (512 x 3072)", ew_gelu, EW_N},
        {"softmax (1536 rows of 1024)", ew_softmax, EW_N},
        {"layernorm (512 x 768)", ew_layernorm, EW_T * EW_C},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        double ts, tp;
        temper__simd_set(1);
        BEST(ts, ops[i].fn(y, x));
        temper__simd_set(0);
        BEST(tp, ops[i].fn(z, x));
        temper__simd_set(1);
        printf("%-38s %7.3f ms  %6.0f M/s      | portable %8.2f ms (x%.0f)  diff %.1e\n", ops[i].label, ts * 1e3,
               ops[i].count / ts / 1e6, tp * 1e3, tp / ts, max_rel(y, z, (size_t)ops[i].count));
    }
    free(x); free(y); free(z); free(ew_g); free(ew_b);
}

int main(int argc, char **argv) {
    int threads = 0, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--cpu")) cpu_clock = 1;
        else {
            fprintf(stderr, "usage: bench_ops [-t THREADS] [--quick] [--cpu]\n");
            return 2;
        }
    }
    if (threads <= 0) threads = temper__n_cores();
    if (quick) reps = 3;
    temper__pool *pool;
    if (temper__pool_new(threads, &pool) < 0) return 1;
    printf("bench_ops: %d threads, SIMD level %s (against portable), best of %d\n", threads,
           temper__simd_name(temper__simd()), reps);
    static const temper__dtype dts[] = {TEMPER__F32, TEMPER__F16, TEMPER__BF16, TEMPER__Q8};
    printf("-- matrix x vector (decode): weights streamed once\n");
    for (int d = 0; d < 4; d++) {
        bench_matmul(pool, "c_attn 768x2304", dts[d], TEMPER__KN, 768, 2304, 1, 0);
        bench_matmul(pool, "c_fc 768x3072 +gelu", dts[d], TEMPER__KN, 768, 3072, 1, TEMPER__EP_GELU);
        bench_matmul(pool, "mlp_proj 3072x768 +res", dts[d], TEMPER__KN, 3072, 768, 1, TEMPER__EP_ACC);
        if (!quick) bench_matmul(pool, "head 50257x768 (NK)", dts[d], TEMPER__NK, 768, 50257, 1, 0);
    }
    printf("-- 8 rows (batched decode)\n");
    for (int d = 0; d < 4; d++) bench_matmul(pool, "c_fc 768x3072 +gelu", dts[d], TEMPER__KN, 768, 3072, 8, TEMPER__EP_GELU);
    printf("-- matrix x matrix (prefill)\n");
    for (int d = 0; d < (quick ? 1 : 4); d++) {
        bench_matmul(pool, "c_fc 768x3072 +gelu", dts[d], TEMPER__KN, 768, 3072, 512, TEMPER__EP_GELU);
        bench_matmul(pool, "mlp_proj 3072x768 +res", dts[d], TEMPER__KN, 3072, 768, 128, TEMPER__EP_ACC);
    }
    if (!quick) bench_matmul(pool, "llama-style NK 768x2048", TEMPER__F32, TEMPER__NK, 768, 2048, 512, 0);
    printf("-- attention (12 heads of 64)\n");
    bench_attention(pool, 1, 128);
    bench_attention(pool, 1, 1024);
    bench_attention(pool, 8, 512);
    if (!quick) bench_attention(pool, 512, 512);
    printf("-- element-wise\n");
    bench_elementwise();
    temper__pool_free(pool);
    return 0;
}
