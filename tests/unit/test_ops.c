/* test_ops.c - every matmul kernel (portable and SIMD, f32/f16/bf16, KN and
 * NK layouts, odd sizes) against a naive double-precision product over the
 * same stored weights; softmax, layer norm and the thread split. */
#include <stdint.h>

#include "test.h"
#include "core/pool.h"
#include "tensor/simd.h"

static uint64_t rng = 42;
static float frand(void) { /* uniform in [-1, 1) */
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f;
}

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

static void check_matmul(temper__dtype dt, temper__layout layout, int T, int K, int N, int nthreads) {
    float *x = malloc(sizeof(float) * T * K), *bias = malloc(sizeof(float) * N);
    double *wd = malloc(sizeof(double) * K * N); /* logical W[k][n] */
    void *data = malloc((size_t)K * N * 4);
    for (int i = 0; i < T * K; i++) x[i] = frand();
    for (int i = 0; i < N; i++) bias[i] = frand();
    for (int k = 0; k < K; k++)
        for (int n = 0; n < N; n++) {
            float v = frand() * 0.5f;
            size_t at = layout == TEMPER__KN ? (size_t)k * N + n : (size_t)n * K + k;
            if (dt == TEMPER__F32) { ((float *)data)[at] = v; wd[k * N + n] = v; }
            if (dt == TEMPER__F16) { ((uint16_t *)data)[at] = to_f16(v); wd[k * N + n] = from_f16(to_f16(v)); }
            if (dt == TEMPER__BF16) { ((uint16_t *)data)[at] = to_bf16(v); wd[k * N + n] = from_bf16(to_bf16(v)); }
        }
    temper__mat w = {dt, layout, K, N, data};
    float *out = malloc(sizeof(float) * T * N), *out2 = malloc(sizeof(float) * T * N);
    temper__pool *pool;
    CHECK(temper__pool_new(nthreads, &pool) == 0);
    for (int i = 0; i < T * N; i++) out[i] = out2[i] = 1.0f;
    temper__matmul(pool, out, N, x, T, &w, bias, 1);          /* dispatched, accumulate */
    temper__matmul_ref(out2, N, x, T, &w, bias, 0);            /* portable */
    double worst = 0, worst_ref = 0;
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            double s = bias[n];
            for (int k = 0; k < K; k++) s += (double)x[t * K + k] * wd[k * N + n];
            double e1 = fabs(out[t * N + n] - (s + 1.0)), e2 = fabs(out2[t * N + n] - s);
            worst = e1 > worst ? e1 : worst;
            worst_ref = e2 > worst_ref ? e2 : worst_ref;
        }
    /* f32 accumulation of K terms of size <= 0.5: error ~ K * 2^-24 * |terms|. */
    double tol = 1e-6 * K;
    if (worst > tol || worst_ref > tol)
        fprintf(stderr, "  dtype %s layout %s T=%d K=%d N=%d threads=%d: err %g / ref %g (tol %g)\n",
                temper__dtype_name(dt), layout == TEMPER__KN ? "KN" : "NK", T, K, N, nthreads, worst,
                worst_ref, tol);
    CHECK(worst <= tol);
    CHECK(worst_ref <= tol);
    temper__pool_free(pool);
    free(x); free(bias); free(wd); free(data); free(out); free(out2);
}

static void test_matmul_all(void) {
    static const int shapes[][3] = {{1, 64, 64}, {1, 37, 130}, {3, 48, 200}, {4, 64, 64}, {7, 100, 67}, {9, 33, 129}};
    for (int dt = 0; dt < 3; dt++)
        for (int l = 0; l < 2; l++)
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                for (int th = 1; th <= 3; th += 2)
                    check_matmul((temper__dtype)dt, (temper__layout)l, shapes[s][0], shapes[s][1], shapes[s][2], th);
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
}

static void test_layernorm(void) {
    float x[4] = {1, 2, 3, 4}, g[4] = {1, 1, 2, 1}, b[4] = {0, 0, 0, 1}, o[4];
    temper__layernorm(o, x, 1, 4, g, b, 0.0f);
    double sd = sqrt(1.25); /* variance of 1,2,3,4 is 1.25 */
    CHECK_NEAR(o[0], -1.5 / sd, 1e-6);
    CHECK_NEAR(o[2], 2 * 0.5 / sd, 1e-6);
    CHECK_NEAR(o[3], 1.5 / sd + 1, 1e-6);
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

int main(void) {
    RUN(test_matmul_all);
    RUN(test_softmax);
    RUN(test_layernorm);
    RUN(test_split);
    return TEST_SUMMARY();
}
