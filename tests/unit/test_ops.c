/* test_ops.c - every kernel of src/tensor against a naive double-precision
 * reference written here: matmul (f32/f16/bf16/q8 weights, KN and NK
 * layouts, the streaming path for few rows and the blocked path for many,
 * split by columns or by rows, every epilogue), q8 quantization (decoded by
 * hand from the documented format), GELU, softmax, layer norm, attention.
 * Each test runs twice: with the SIMD kernels (when the CPU has them) and
 * with the portable ones forced (as TEMPER_NO_SIMD=1 does). */
#include <stdint.h>

#include "test.h"
#include "core/pool.h"
#include "tensor/simd.h"

static uint64_t rng = 42;
static float frand(void) { /* uniform in [-1, 1) */
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f;
}

static const char *mode = "simd";

/* Round f32 to f16 / bf16 bit patterns (round to nearest even), independent
 * of the library's readers. */
static uint16_t to_bf16(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    b += 0x7fff + ((b >> 16) & 1);
    return (uint16_t)(b >> 16);
}
static double from_bf16(uint16_t h) {
    uint32_t b = (uint32_t)h << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
}
static uint16_t to_f16(float f) { /* normal range only: test values are in [-1, 1] */
    _Float16 h = (_Float16)f;
    uint16_t b;
    memcpy(&b, &h, 2);
    return b;
}
static double from_f16(uint16_t b) {
    _Float16 h;
    memcpy(&h, &b, 2);
    return (double)h;
}

static double gelu_ref(double v) { return 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))); }

/* A random (K, N) matrix stored in dtype and layout; wd gets the logical
 * W[k][n] values as stored (double). */
static void *make_weights(temper__dtype dt, temper__layout layout, int K, int N, double *wd) {
    void *data = malloc((size_t)K * N * 4);
    for (int k = 0; k < K; k++)
        for (int n = 0; n < N; n++) {
            float v = frand() * 0.5f;
            size_t at = layout == TEMPER__KN ? (size_t)k * N + n : (size_t)n * K + k;
            if (dt == TEMPER__F32) { ((float *)data)[at] = v; wd[(size_t)k * N + n] = v; }
            if (dt == TEMPER__F16) { ((uint16_t *)data)[at] = to_f16(v); wd[(size_t)k * N + n] = from_f16(to_f16(v)); }
            if (dt == TEMPER__BF16) { ((uint16_t *)data)[at] = to_bf16(v); wd[(size_t)k * N + n] = from_bf16(to_bf16(v)); }
        }
    return data;
}

/* out vs the double product x @ wd + bias (+1 when accumulating onto ones),
 * then the activation; tol scales with K (f32 accumulation of K terms). */
static void check_product(const char *what, const float *out, const float *x, const double *wd, const float *bias,
                          int T, int K, int N, int ep, const double *tol_each, double tol) {
    char label[160];
    snprintf(label, sizeof label, "[%s] %s T=%d K=%d N=%d ep=%d", mode, what, T, K, N, ep);
    test_cmp c = test_cmp_start(label);
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            double s = bias ? bias[n] : 0.0;
            for (int k = 0; k < K; k++) s += (double)x[t * K + k] * wd[(size_t)k * N + n];
            if (ep & TEMPER__EP_ACC) s += 1.0;
            if (ep & TEMPER__EP_GELU) s = gelu_ref(s);
            if (ep & TEMPER__EP_RELU) s = s > 0 ? s : 0;
            test_cmp_add(&c, out[t * N + n], s, tol + (tol_each ? tol_each[t * N + n] : 0.0));
        }
    CHECK_CMP(c, (long)T * N);
}

static void check_matmul(temper__dtype dt, temper__layout layout, int T, int K, int N, int nthreads, int ep) {
    float *x = malloc(sizeof(float) * T * K), *bias = malloc(sizeof(float) * N);
    double *wd = malloc(sizeof(double) * K * N);
    for (int i = 0; i < T * K; i++) x[i] = frand();
    for (int i = 0; i < N; i++) bias[i] = frand();
    void *data = make_weights(dt, layout, K, N, wd);
    temper__mat w = {dt, layout, K, N, data};
    float *out = malloc(sizeof(float) * T * N), *out2 = malloc(sizeof(float) * T * N);
    temper__pool *pool;
    CHECK(temper__pool_new(nthreads, &pool) == 0);
    for (int i = 0; i < T * N; i++) out[i] = out2[i] = 1.0f;
    char what[64];
    snprintf(what, sizeof what, "%s %s threads=%d", temper__dtype_name(dt), layout == TEMPER__KN ? "KN" : "NK",
             nthreads);
    /* f32 accumulation of K terms of size <= 0.5: error ~ K * 2^-24 * |terms|. */
    double tol = 1e-6 * K + 1e-6;
    temper__matmul_ep(pool, out, N, x, T, &w, bias, ep); /* dispatched */
    check_product(what, out, x, wd, bias, T, K, N, ep, NULL, tol);
    temper__matmul_ref(out2, N, x, T, &w, bias, ep); /* portable reference */
    snprintf(what + strlen(what), sizeof what - strlen(what), " (ref)");
    check_product(what, out2, x, wd, bias, T, K, N, ep, NULL, tol);
    temper__pool_free(pool);
    free(x); free(bias); free(wd); free(data); free(out); free(out2);
}

static void test_matmul_all(void) {
    /* Few rows (streaming kernels) and many (blocked kernel), odd sizes. */
    static const int shapes[][3] = {{1, 64, 64}, {1, 37, 130}, {3, 48, 200}, {4, 64, 64}, {7, 100, 67},
                                    {8, 33, 129}, {9, 33, 129}, {13, 300, 100}, {20, 16, 50}};
    static const int eps[] = {0, TEMPER__EP_ACC, TEMPER__EP_GELU, TEMPER__EP_ACC | TEMPER__EP_RELU};
    int e = 0;
    for (int dt = 0; dt < 3; dt++)
        for (int l = 0; l < 2; l++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                for (int th = 1; th <= 3; th += 2)
                    check_matmul((temper__dtype)dt, (temper__layout)l, shapes[s][0], shapes[s][1], shapes[s][2], th,
                                 eps[e++ % 4]);
    /* Wide N with 2 threads (KN split by columns), narrow N (split by rows). */
    check_matmul(TEMPER__F32, TEMPER__KN, 2, 20, 2100, 2, TEMPER__EP_GELU);
    check_matmul(TEMPER__F16, TEMPER__KN, 5, 70, 300, 2, TEMPER__EP_ACC);
}

/* The same bits with 1, 2 and 3 threads at the current level: GPT-2-like
 * shapes (narrow KN split by K, wide KN split by columns, NK, the blocked
 * kernel, q8), every dtype. */
static void test_thread_bits(void) {
    static const int shapes[][4] = {/* T, K, N, layout */
                                    {1, 96, 288, TEMPER__KN},  {4, 96, 2100, TEMPER__KN}, {8, 128, 200, TEMPER__NK},
                                    {1, 64, 1030, TEMPER__NK}, {20, 96, 100, TEMPER__KN}, {13, 64, 70, TEMPER__NK}};
    for (int dt = 0; dt < 4; dt++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int T = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
            double *wd = malloc(sizeof(double) * K * N);
            float *x = malloc(sizeof(float) * T * K), *bias = malloc(sizeof(float) * N);
            for (int i = 0; i < T * K; i++) x[i] = frand();
            for (int i = 0; i < N; i++) bias[i] = frand();
            temper__dtype sdt = dt == 3 ? TEMPER__F32 : (temper__dtype)dt;
            void *data = make_weights(sdt, (temper__layout)shapes[s][3], K, N, wd);
            temper__mat w = {sdt, (temper__layout)shapes[s][3], K, N, data}, q = w;
            if (dt == 3) CHECK(temper__quantize_q8(&w, &q) == 0); /* q8 */
            float *out[3];
            for (int th = 1; th <= 3; th++) {
                temper__pool *pool;
                CHECK(temper__pool_new(th, &pool) == 0);
                out[th - 1] = malloc(sizeof(float) * T * N);
                temper__matmul_ep(pool, out[th - 1], N, x, T, &q, bias, TEMPER__EP_GELU);
                temper__pool_free(pool);
            }
            int same = !memcmp(out[0], out[1], sizeof(float) * T * N) && !memcmp(out[0], out[2], sizeof(float) * T * N);
            if (!same) fprintf(stderr, "  [%s] dtype %d T=%d K=%d N=%d: 1, 2, 3 threads differ\n", mode, dt, T, K, N);
            CHECK(same);
            for (int i = 0; i < 3; i++) free(out[i]);
            if (dt == 3) free((void *)q.data);
            free(data); free(wd); free(x); free(bias);
        }
}

/* ---- q8 ---------------------------------------------------------------- */

/* The documented format, decoded here: rows of K int8 q then K/32 f16 d. */
static double q8_weight(const temper__mat *w, int k, int n) {
    const int8_t *q = (const int8_t *)w->data + (size_t)n * (w->K + w->K / 16);
    const uint16_t *d = (const uint16_t *)(q + w->K);
    return from_f16(d[k / 32]) * q[k];
}

static void check_q8(temper__layout layout, int T, int K, int N, int nthreads, int ep) {
    float *x = malloc(sizeof(float) * T * K), *bias = malloc(sizeof(float) * N);
    double *wd = malloc(sizeof(double) * K * N), *wq = malloc(sizeof(double) * K * N);
    for (int i = 0; i < T * K; i++) x[i] = frand();
    for (int i = 0; i < N; i++) bias[i] = frand();
    void *data = make_weights(TEMPER__F32, layout, K, N, wd);
    temper__mat w = {TEMPER__F32, layout, K, N, data}, q;
    CHECK(temper__quantize_q8(&w, &q) == 0);
    CHECK(q.dtype == TEMPER__Q8 && q.layout == TEMPER__NK && q.K == K && q.N == N);
    /* Every weight within half a step of its block's scale (max|w| / 127). */
    int bad = 0;
    for (int n = 0; n < N; n++)
        for (int b = 0; b < K / 32; b++) {
            double amax = 0;
            for (int k = 32 * b; k < 32 * b + 32; k++) amax = fmax(amax, fabs(wd[(size_t)k * N + n]));
            for (int k = 32 * b; k < 32 * b + 32; k++) {
                double v = q8_weight(&q, k, n);
                wq[(size_t)k * N + n] = v;
                if (fabs(v - wd[(size_t)k * N + n]) > amax / 127 * 0.5 * 1.01 + 1e-7) bad++;
            }
        }
    CHECK(bad == 0);
    /* The product against the dequantized weights. The kernel for few rows
     * also quantizes x per block of 32: |x - x~| <= max|x_block| / 254, so
     * each output may move by sum_k |w_k| max|x_block(k)| / 254. */
    double *bound = calloc((size_t)T * N, sizeof(double));
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            double s = 0;
            for (int b = 0; b < K / 32; b++) {
                double xm = 0, ws = 0;
                for (int k = 32 * b; k < 32 * b + 32; k++) {
                    xm = fmax(xm, fabs(x[t * K + k]));
                    ws += fabs(wq[(size_t)k * N + n]);
                }
                s += ws * xm / 254;
            }
            /* the GELU slope is at most 1.13 */
            bound[t * N + n] = s * 1.13 * 1.001;
        }
    float *out = malloc(sizeof(float) * T * N), *out2 = malloc(sizeof(float) * T * N);
    for (int i = 0; i < T * N; i++) out[i] = out2[i] = 1.0f;
    temper__pool *pool;
    CHECK(temper__pool_new(nthreads, &pool) == 0);
    temper__matmul_ep(pool, out, N, x, T, &q, bias, ep);
    char what[64];
    snprintf(what, sizeof what, "q8 from %s threads=%d", layout == TEMPER__KN ? "KN" : "NK", nthreads);
    double tol = 1e-6 * K + 1e-6;
    check_product(what, out, x, wq, bias, T, K, N, ep, bound, tol);
    temper__matmul_ref(out2, N, x, T, &q, bias, ep); /* portable: f32 activations */
    check_product("q8 (ref)", out2, x, wq, bias, T, K, N, ep, NULL, tol);
    /* The bound is not vacuous: well under the size of the outputs, so a
     * wrong scale or sign would break it (the bound grows as K, the outputs
     * as sqrt(K): a tenth of them at K = 128, a fifth at K = 512). */
    double bsum = 0, ss = 0;
    for (int i = 0; i < T * N; i++) bsum += bound[i];
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            double p = 0;
            for (int k = 0; k < K; k++) p += (double)x[t * K + k] * wq[(size_t)k * N + n];
            ss += p * p;
        }
    CHECK(bsum / (T * N) < 0.1 * fmax(1.0, sqrt(K / 128.0)) * sqrt(ss / (T * N)));
    temper__pool_free(pool);
    free(x); free(bias); free(wd); free(wq); free(data); free((void *)q.data); free(out); free(out2); free(bound);
}

/* The q8 kernel's dot-product instruction: -1 the CPU's best (AVX-VNNI on
 * x86 at level avx2, sdot on aarch64), 0 the baseline one; returns 1 if the
 * CPU has a better one than the baseline at the current level. */
static int q8_dot(int use) {
#if defined(TEMPER__HAVE_AVX512)
    temper__avxvnni_force(use);
    return temper__simd() == TEMPER__SIMD_AVX2 && temper__cpu_has_avxvnni();
#elif defined(TEMPER__HAVE_NEON)
    temper__sdot_force(use);
    return temper__simd() == TEMPER__SIMD_NEON && temper__cpu_has_sdot();
#else
    (void)use;
    return 0;
#endif
}

static void test_q8(void) {
    /* with the CPU's dot-product instruction, then the baseline one */
    for (int best = q8_dot(-1); best >= 0; best--) {
        q8_dot(best ? -1 : 0);
        check_q8(TEMPER__KN, 1, 64, 40, 1, 0);
        check_q8(TEMPER__NK, 3, 96, 37, 2, TEMPER__EP_ACC);        /* K % 64 == 32 */
        check_q8(TEMPER__KN, 8, 128, 70, 3, TEMPER__EP_GELU);
        /* whole groups of 8 blocks (the AVX2 kernel's scale vectors) and a tail */
        check_q8(TEMPER__NK, 1, 288, 33, 2, 0);
        check_q8(TEMPER__KN, 3, 512, 19, 1, TEMPER__EP_ACC);
    }
    q8_dot(-1);
    check_q8(TEMPER__NK, 20, 64, 50, 2, TEMPER__EP_ACC | TEMPER__EP_RELU); /* blocked path */
    /* K not a multiple of 32 is refused. */
    float wz[33 * 2] = {0};
    temper__mat w = {TEMPER__F32, TEMPER__NK, 33, 2, wz}, q;
    CHECK(temper__quantize_q8(&w, &q) == TEMPER_EINVAL);
    /* An all-zero block quantizes to zeros with scale 0. */
    float z[64] = {0};
    z[40] = 0.5f;
    temper__mat wz2 = {TEMPER__F32, TEMPER__NK, 64, 1, z};
    CHECK(temper__quantize_q8(&wz2, &q) == 0);
    CHECK(q8_weight(&q, 3, 0) == 0.0 && fabs(q8_weight(&q, 40, 0) - 0.5) < 1e-3);
    free((void *)q.data);
    /* The AVX-512 and the portable quantizers write the same bytes: at the
     * AVX-512 level only, the one with its own quantizer (elsewhere this
     * would compare the portable one with itself; a CPU without AVX-512
     * reports that level as not run). */
    if (temper__simd() != TEMPER__SIMD_AVX512) return;
    double *wd = malloc(sizeof(double) * 96 * 70);
    void *data = make_weights(TEMPER__F32, TEMPER__KN, 96, 70, wd);
    temper__mat wk = {TEMPER__F32, TEMPER__KN, 96, 70, data}, qa, qb;
    int level = temper__simd();
    CHECK(temper__quantize_q8(&wk, &qa) == 0);
    temper__simd_force(TEMPER__SIMD_PORTABLE);
    CHECK(temper__quantize_q8(&wk, &qb) == 0);
    temper__simd_force(level);
    CHECK(memcmp(qa.data, qb.data, temper__q8_bytes(96, 70)) == 0);
    free((void *)qa.data); free((void *)qb.data); free(data); free(wd);
}

/* ---- element-wise ------------------------------------------------------ */

static void test_gelu(void) {
    enum { N = 2000 };
    float v[N];
    for (int i = 0; i < N; i++) v[i] = -10.0f + 20.0f * i / (N - 1); /* [-10, 10] */
    float g[N];
    memcpy(g, v, sizeof v);
    temper__gelu_tanh(g, N);
    char label[64];
    snprintf(label, sizeof label, "[%s] gelu", mode);
    test_cmp c = test_cmp_start(label);
    for (int i = 0; i < N; i++) { /* 4e-6 relative; the tiny tail (< 1e-8): 4e-7 absolute */
        double want = gelu_ref(v[i]);
        test_cmp_add(&c, g[i], want, fabs(want) < 1e-8 ? 4e-7 : 4e-6 * fabs(want));
    }
    CHECK_CMP(c, N);
    float s[4] = {0.0f, -40.0f, 40.0f, NAN};
    temper__gelu_tanh(s, 4);
    CHECK(s[0] == 0.0f && fabsf(s[1]) < 1e-30f && s[2] == 40.0f && isnan(s[3]));
}

static void test_softmax(void) {
    float v[4] = {1.0f, 2.0f, 3.0f, -INFINITY};
    temper__softmax(v, 4);
    double z = exp(1) + exp(2) + exp(3);
    CHECK_NEAR(v[0], exp(1) / z, 1e-7);
    CHECK_NEAR(v[2], exp(3) / z, 1e-7);
    CHECK(v[3] == 0.0f);
    float all_masked[2] = {-INFINITY, -INFINITY};
    temper__softmax(all_masked, 2);
    CHECK(all_masked[0] == 0.0f && all_masked[1] == 0.0f);
    /* Lengths around the vector width, wide value range. */
    static const int lens[] = {1, 15, 16, 17, 100, 1000};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int n = lens[li];
        float *x = malloc(sizeof(float) * n);
        double *d = malloc(sizeof(double) * n), mx = -1e300, sum = 0;
        for (int i = 0; i < n; i++) {
            x[i] = frand() * 30.0f;
            if (i % 7 == 3) x[i] = -INFINITY;
            mx = fmax(mx, x[i]);
        }
        if (n == 1) x[0] = mx = 0.5f;
        for (int i = 0; i < n; i++) sum += d[i] = exp((double)x[i] - mx);
        temper__softmax(x, n);
        char label[64];
        snprintf(label, sizeof label, "[%s] softmax n=%d", mode, n);
        test_cmp c = test_cmp_start(label);
        /* float32 x - max rounds by up to |x - max| 2^-24 (relative, after
         * exp); exp, sum and scaling add a few ulp: 3e-7 */
        for (int i = 0; i < n; i++) {
            double want = d[i] / sum, lim = want * (fabs(log(d[i])) * 6e-8 + 3e-7) + 1e-12;
            test_cmp_add(&c, x[i], want, d[i] > 0 ? lim : 0.0);
        }
        CHECK_CMP(c, n);
        free(x); free(d);
    }
}

static void test_layernorm(void) {
    float x[4] = {1, 2, 3, 4}, g[4] = {1, 1, 2, 1}, b[4] = {0, 0, 0, 1}, o[4];
    temper__layernorm(o, x, 1, 4, g, b, 0.0f);
    double sd = sqrt(1.25); /* variance of 1,2,3,4 is 1.25 */
    CHECK_NEAR(o[0], -1.5 / sd, 1e-6);
    CHECK_NEAR(o[2], 2 * 0.5 / sd, 1e-6);
    CHECK_NEAR(o[3], 1.5 / sd + 1, 1e-6);
    static const int Cs[] = {37, 768};
    for (int ci = 0; ci < 2; ci++) {
        int C = Cs[ci], T = 3;
        float *xs = malloc(sizeof(float) * T * C), *gs = malloc(sizeof(float) * C), *bs = malloc(sizeof(float) * C),
              *os = malloc(sizeof(float) * T * C);
        for (int i = 0; i < T * C; i++) xs[i] = 5.0f + 3.0f * frand();
        for (int i = 0; i < C; i++) { gs[i] = frand(); bs[i] = frand(); }
        temper__layernorm(os, xs, T, C, gs, bs, 1e-5f);
        char label[64];
        snprintf(label, sizeof label, "[%s] layernorm C=%d", mode, C);
        test_cmp c = test_cmp_start(label);
        for (int t = 0; t < T; t++) {
            double m = 0, v = 0;
            for (int i = 0; i < C; i++) m += xs[t * C + i];
            m /= C;
            for (int i = 0; i < C; i++) v += (xs[t * C + i] - m) * (xs[t * C + i] - m);
            v /= C;
            for (int i = 0; i < C; i++)
                test_cmp_add(&c, os[t * C + i], (xs[t * C + i] - m) / sqrt(v + 1e-5) * gs[i] + bs[i], 2e-6);
        }
        CHECK_CMP(c, (long)T * C);
        free(xs); free(gs); free(bs); free(os);
    }
}

/* ---- attention --------------------------------------------------------- */

/* one_seq: every row in sequence 0 (prefill: blocks of rows share keys).
 * window: 0, or a sliding window of that many positions. */
static void check_attention_w(int T, int H, int Hkv, int hd, int P, int nthreads, int one_seq, int window) {
    const int S = 2, qdim = H * hd, kvdim = Hkv * hd;
    float *q = malloc(sizeof(float) * T * qdim), *out = malloc(sizeof(float) * T * qdim);
    float *kc = malloc(sizeof(float) * S * P * kvdim), *vc = malloc(sizeof(float) * S * P * kvdim);
    float *probs = malloc(sizeof(float) * T * H * P), *scratch = malloc(sizeof(float) * nthreads * P);
    int *seq = malloc(sizeof(int) * T), *pos = malloc(sizeof(int) * T);
    for (int i = 0; i < T * qdim; i++) q[i] = 2.0f * frand();
    for (int i = 0; i < S * P * kvdim; i++) { kc[i] = frand(); vc[i] = frand(); }
    for (int r = 0; r < T; r++) { seq[r] = one_seq ? 0 : r % S; pos[r] = one_seq && window ? P - T + r : (r * 7 + 3) % P; }
    pos[0] = 0;
    pos[T - 1] = P - 1;
    temper__pool *pool;
    CHECK(temper__pool_new(nthreads, &pool) == 0);
    float scale = 1.0f / sqrtf((float)hd);
    temper__attn_args a = {.out = out, .q = q, .kc = kc, .vc = vc, .seq = seq, .pos = pos, .T = T, .H = H,
                           .Hkv = Hkv, .hd = hd, .n_ctx = P, .scale = scale, .window = window, .probs_out = probs,
                           .probs_row = (size_t)H * P, .probs_head = (size_t)P, .probs_len = P, .scratch = scratch};
    temper__attention(pool, &a);
    char label[128], label_p[128];
    snprintf(label, sizeof label, "[%s] attention T=%d H=%d Hkv=%d hd=%d P=%d window=%d: out", mode, T, H, Hkv, hd,
             P, window);
    snprintf(label_p, sizeof label_p, "[%s] attention T=%d H=%d Hkv=%d hd=%d P=%d window=%d: probs", mode, T, H, Hkv,
             hd, P, window);
    test_cmp c = test_cmp_start(label), cp = test_cmp_start(label_p);
    double *sc = malloc(sizeof(double) * P);
    for (int r = 0; r < T; r++)
        for (int h = 0; h < H; h++) {
            int kh = h / (H / Hkv), n = pos[r] + 1, lo = window && pos[r] - window + 1 > 0 ? pos[r] - window + 1 : 0;
            const float *kb = kc + (size_t)seq[r] * P * kvdim + kh * hd, *vb = vc + (size_t)seq[r] * P * kvdim + kh * hd;
            double mx = -1e300, sum = 0;
            for (int j = 0; j < lo; j++) sc[j] = 0.0;
            for (int j = lo; j < n; j++) {
                double s = 0;
                for (int i = 0; i < hd; i++) s += (double)q[r * qdim + h * hd + i] * kb[(size_t)j * kvdim + i];
                sc[j] = s * scale;
                mx = fmax(mx, sc[j]);
            }
            for (int j = lo; j < n; j++) sum += sc[j] = exp(sc[j] - mx);
            for (int j = 0; j < P; j++) {
                double want = j < n ? sc[j] / sum : 0.0;
                test_cmp_add(&cp, probs[((size_t)r * H + h) * P + j], want, 2e-6);
            }
            for (int i = 0; i < hd; i++) {
                double o = 0;
                for (int j = lo; j < n; j++) o += sc[j] / sum * vb[(size_t)j * kvdim + i];
                test_cmp_add(&c, out[r * qdim + h * hd + i], o, 2e-6);
            }
        }
    CHECK_CMP(c, (long)T * H * hd);
    CHECK_CMP(cp, (long)T * H * P);
    temper__pool_free(pool);
    free(q); free(out); free(kc); free(vc); free(probs); free(scratch); free(seq); free(pos); free(sc);
}

static void check_attention(int T, int H, int Hkv, int hd, int P, int nthreads, int one_seq) {
    check_attention_w(T, H, Hkv, hd, P, nthreads, one_seq, 0);
}

static void test_attention(void) {
    /* sliding windows: rows inside and beyond the window, blocks of rows of
     * one sequence, a window of 1 (only itself), wide heads */
    check_attention_w(9, 2, 2, 16, 20, 2, 0, 5);
    check_attention_w(7, 2, 1, 64, 40, 2, 1, 6);
    check_attention_w(12, 3, 3, 80, 30, 1, 1, 25);
    check_attention_w(5, 2, 2, 32, 20, 1, 1, 1);
    check_attention_w(4, 1, 1, 200, 12, 1, 1, 3);
    check_attention(5, 2, 2, 8, 20, 1, 0);
    check_attention(4, 4, 2, 16, 40, 2, 0);   /* grouped keys/values */
    check_attention(3, 2, 2, 64, 70, 3, 0);
    check_attention(6, 3, 3, 80, 33, 2, 0);   /* head size not a multiple of 16 */
    check_attention(2, 1, 1, 128, 17, 1, 0);
    check_attention(2, 1, 1, 200, 9, 1, 0);   /* wide heads, Gemma 3's 256 */
    check_attention(3, 2, 1, 256, 21, 2, 0);
    check_attention(5, 2, 1, 256, 30, 2, 1);
    check_attention(7, 2, 2, 64, 40, 2, 1);   /* blocks of rows of one sequence */
    check_attention(9, 4, 2, 80, 33, 1, 1);
    check_attention(6, 2, 1, 128, 50, 3, 1);
}

static void test_split(void) {
    long covered = 0, prev_end = 0;
    for (int i = 0; i < 3; i++) {
        long b, e;
        temper__split(130, 64, i, 3, &b, &e);
        CHECK(b == prev_end);
        CHECK(b % 64 == 0 || b == 130);
        covered += e - b;
        prev_end = e;
    }
    CHECK(covered == 130);
}

/* Chunks: each runs exactly once whatever the number of threads and
 * chunks, and the pool is reusable job after job. */
typedef struct { int counts[64]; int n_chunks; } chunk_job;
static void chunk_worker(void *arg, int c, int nc) {
    chunk_job *j = arg;
    if (nc != j->n_chunks || c < 0 || c >= nc) {
        j->counts[63] = 1000; /* flags a bad call */
        return;
    }
    __atomic_fetch_add(&j->counts[c], 1, __ATOMIC_RELAXED);
}
static void test_pool_chunks(void) {
    for (int threads = 1; threads <= 3; threads++) {
        temper__pool *pool;
        CHECK(temper__pool_new(threads, &pool) == 0);
        for (int round = 0; round < 2000; round++) {
            chunk_job j = {{0}, 1 + round % 40};
            temper__pool_run_chunks(pool, chunk_worker, &j, j.n_chunks);
            int ok = j.counts[63] != 1000 || j.n_chunks == 64;
            for (int c = 0; c < j.n_chunks; c++) ok &= j.counts[c] == 1;
            if (!ok) {
                CHECK(!"a chunk ran twice, never, or with bad arguments");
                break;
            }
        }
        temper__pool_free(pool);
    }
}

static void run_all(void) {
    RUN(test_matmul_all);
    RUN(test_thread_bits);
    RUN(test_q8);
    RUN(test_gelu);
    RUN(test_softmax);
    RUN(test_layernorm);
    RUN(test_attention);
}

/* ---- SIMD levels ------------------------------------------------------- */

static void test_levels(void) {
    const unsigned x86 = 1u << TEMPER__SIMD_PORTABLE | 1u << TEMPER__SIMD_AVX2 | 1u << TEMPER__SIMD_AVX512,
                   avx2 = 1u << TEMPER__SIMD_PORTABLE | 1u << TEMPER__SIMD_AVX2;
    char msg[200];
    int level;
    for (int l = 0; l < TEMPER__SIMD_NLEVELS; l++) CHECK_EQ_INT(temper__simd_parse(temper__simd_name(l)), l);
    CHECK_EQ_INT(temper__simd_parse("AVX2"), -1);
    /* the default: the highest level; TEMPER_NO_SIMD=1 (not 0) means portable */
    CHECK_EQ_INT(temper__simd_choose(NULL, NULL, x86, &level, msg, sizeof msg), 0);
    CHECK_EQ_INT(level, TEMPER__SIMD_AVX512);
    CHECK_EQ_INT(temper__simd_choose("", NULL, avx2, &level, msg, sizeof msg), 0);
    CHECK_EQ_INT(level, TEMPER__SIMD_AVX2);
    CHECK_EQ_INT(temper__simd_choose(NULL, "1", x86, &level, msg, sizeof msg), 0);
    CHECK_EQ_INT(level, TEMPER__SIMD_PORTABLE);
    CHECK_EQ_INT(temper__simd_choose(NULL, "0", x86, &level, msg, sizeof msg), 0);
    CHECK_EQ_INT(level, TEMPER__SIMD_AVX512);
    CHECK_EQ_INT(temper__simd_choose(NULL, NULL, 1u << TEMPER__SIMD_PORTABLE | 1u << TEMPER__SIMD_NEON, &level, msg,
                                     sizeof msg), 0);
    CHECK_EQ_INT(level, TEMPER__SIMD_NEON);
    /* TEMPER_SIMD names a level, and wins over TEMPER_NO_SIMD */
    CHECK_EQ_INT(temper__simd_choose("avx2", "1", x86, &level, msg, sizeof msg), 0);
    CHECK_EQ_INT(level, TEMPER__SIMD_AVX2);
    CHECK_EQ_INT(temper__simd_choose("portable", NULL, x86, &level, msg, sizeof msg), 0);
    CHECK_EQ_INT(level, TEMPER__SIMD_PORTABLE);
    /* a level the CPU lacks: an error naming it and what to use; the default runs */
    CHECK_EQ_INT(temper__simd_choose("avx512", NULL, avx2, &level, msg, sizeof msg), TEMPER_EINVAL);
    CHECK_EQ_INT(level, TEMPER__SIMD_AVX2);
    CHECK(strstr(msg, "\"avx512\"") && strstr(msg, "does not support") && strstr(msg, "avx2, portable"));
    CHECK_EQ_INT(temper__simd_choose("neon", NULL, x86, &level, msg, sizeof msg), TEMPER_EINVAL);
    CHECK_EQ_INT(temper__simd_choose("avx3", NULL, x86, &level, msg, sizeof msg), TEMPER_EINVAL);
    CHECK(strstr(msg, "\"avx3\"") && strstr(msg, "not a SIMD level"));
    /* forcing: every supported level, and an error for the others */
    int before = temper__simd();
    unsigned sup = temper__simd_supported();
    CHECK(sup & 1u << TEMPER__SIMD_PORTABLE);
    CHECK_EQ_INT(sup, temper__simd_cpu());
    for (int l = 0; l < TEMPER__SIMD_NLEVELS; l++) {
        temper__simd_force(TEMPER__SIMD_PORTABLE);
        if (sup & 1u << l) {
            CHECK_EQ_INT(temper__simd_force(l), 0);
            CHECK_EQ_INT(temper__simd(), l);
        } else {
            CHECK_EQ_INT(temper__simd_force(l), TEMPER_EINVAL);
            CHECK_EQ_INT(temper__simd(), TEMPER__SIMD_PORTABLE);
            CHECK(strstr(temper_last_error(), temper__simd_name(l)) != NULL);
        }
    }
    CHECK_EQ_INT(temper__simd_force(-1), 0);
    CHECK_EQ_INT(temper__simd(), before);
}

int main(void) {
    /* every kernel at every level this CPU runs, down to portable */
    unsigned sup = temper__simd_supported();
    for (int l = TEMPER__SIMD_NLEVELS - 1; l >= 0; l--) {
        test_level(temper__simd_name(l), (sup & 1u << l) != 0);
        if (!(sup & 1u << l)) continue;
        temper__simd_force(l);
        mode = temper__simd_name(l);
        run_all();
    }
    temper__simd_force(-1);
    RUN(test_levels);
    RUN(test_split);
    RUN(test_pool_chunks);
    return TEST_SUMMARY();
}
