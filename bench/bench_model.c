/*
 * bench_model.c - end-to-end speed of one model folder on this machine:
 * load time, prefill tok/s (128 and 512 tokens), batch-1 decode tok/s over
 * 128 tokens, batched decode (4 and 8 sequences), peak RSS, and the memory
 * bandwidth measured in the same run, with decode as a percentage of the
 * bandwidth roofline (matrix bytes read per token / bandwidth).
 *
 *   bench_model MODEL_DIR [-t THREADS] [--reps N] [--quantize q8]
 *
 * Prints one "key: value" line per figure (bench/run turns them into a table).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "core/core.h"
#include "core/pool.h"
#include "temper.h"

typedef struct { const float *buf; size_t n; double *sums; } bw_job;

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* Sum of buf[b, e) with 8 independent AVX-512 accumulators: loads, not
 * adds, are the limit, so this reads at the memory bandwidth. */
__attribute__((target("avx512f"))) static float bw_sum_avx512(const float *p, long b, long e) {
    __m512 a[8];
    for (int i = 0; i < 8; i++) a[i] = _mm512_setzero_ps();
    long i = b;
    for (; i + 128 <= e; i += 128)
        for (int k = 0; k < 8; k++) a[k] = _mm512_add_ps(a[k], _mm512_loadu_ps(p + i + 16 * k));
    float s = 0;
    for (; i < e; i++) s += p[i];
    for (int k = 0; k < 8; k++) s += _mm512_reduce_add_ps(a[k]);
    return s;
}

/* The same with 8 AVX accumulators (CPUs without AVX-512). */
__attribute__((target("avx2"))) static float bw_sum_avx2(const float *p, long b, long e) {
    __m256 a[8];
    for (int i = 0; i < 8; i++) a[i] = _mm256_setzero_ps();
    long i = b;
    for (; i + 64 <= e; i += 64)
        for (int k = 0; k < 8; k++) a[k] = _mm256_add_ps(a[k], _mm256_loadu_ps(p + i + 8 * k));
    float s = 0, l[8];
    for (; i < e; i++) s += p[i];
    for (int k = 0; k < 8; k++) {
        _mm256_storeu_ps(l, a[k]);
        for (int m = 0; m < 8; m++) s += l[m];
    }
    return s;
}
#endif

static void bw_worker(void *arg, int ith, int nth) {
    bw_job *j = arg;
    long b, e;
    temper__split((long)j->n, 4096, ith, nth, &b, &e);
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512f")) {
        j->sums[ith] = bw_sum_avx512(j->buf, b, e);
        return;
    }
    if (__builtin_cpu_supports("avx2")) {
        j->sums[ith] = bw_sum_avx2(j->buf, b, e);
        return;
    }
#endif
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (long i = b; i + 8 <= e; i += 8) {
        s0 += j->buf[i]; s1 += j->buf[i + 1]; s2 += j->buf[i + 2]; s3 += j->buf[i + 3];
        s4 += j->buf[i + 4]; s5 += j->buf[i + 5]; s6 += j->buf[i + 6]; s7 += j->buf[i + 7];
    }
    j->sums[ith] = s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
}

/* Read bandwidth in bytes/s with nthreads: best of several passes over
 * 256 MiB, far beyond the caches. */
static double measure_bandwidth(int nthreads) {
    size_t n = (size_t)1 << 26; /* floats: 256 MiB */
    float *buf = malloc(n * sizeof(float));
    if (!buf) return 0;
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 7);
    temper__pool *pool;
    if (temper__pool_new(nthreads, &pool) < 0) { free(buf); return 0; }
    double sums[64], best = 1e30;
    bw_job j = {buf, n, sums};
    for (int rep = 0; rep < 10; rep++) {
        double t0 = temper__now();
        temper__pool_run(pool, bw_worker, &j);
        double dt = temper__now() - t0;
        if (dt < best) best = dt;
    }
    temper__pool_free(pool);
    free(buf);
    return (double)n * sizeof(float) / best;
}

static double median(double *v, int n) {
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0 && v[k] < v[k - 1]; k--) { double t = v[k]; v[k] = v[k - 1]; v[k - 1] = t; }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int die(const char *what) {
    fprintf(stderr, "bench_model: %s: %s\n", what, temper_last_error());
    return 1;
}

/* Current resident set (VmRSS), in bytes; sampled after each phase, the
 * largest sample is the engine's peak (the bandwidth buffer is freed). */
static double rss_now(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atof(line + 6);
    if (f) fclose(f);
    return kb * 1024.0;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *quantize = NULL;
    int threads = 0, reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quantize") && i + 1 < argc) quantize = argv[++i];
        else dir = argv[i];
    }
    if (!dir || reps < 1 || reps > 50) {
        fprintf(stderr, "usage: bench_model MODEL_DIR [-t THREADS] [--reps N] [--quantize q8]\n");
        return 2;
    }
    if (threads <= 0) threads = temper__n_cores();

    /* The tokenizer alone first (its load is part of the model load). */
    temper_tokenizer *tok;
    double t0 = temper__now();
    if (temper_tokenizer_load(dir, &tok) < 0) return die("tokenizer");
    double tok_load = temper__now() - t0;
    temper_tokenizer_free(tok);

    temper_model *model;
    temper_model_params mp = temper_model_default_params();
    mp.quantize = quantize;
    t0 = temper__now();
    if (temper_model_load(dir, &mp, &model) < 0) return die(dir);
    double load = temper__now() - t0;
    temper_model_info info;
    temper_model_get_info(model, &info);
    const int V = info.n_vocab;
    float *logits = malloc(sizeof(float) * V * 8);
    temper_token ids[512];
    uint64_t r = 12345;
    for (int i = 0; i < 512; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        ids[i] = (temper_token)((r >> 33) % (uint64_t)V);
    }

    printf("model: %s\n", dir);
    printf("arch: %s\ndtype: %s\nthreads: %d\n", info.arch, info.dtype, threads);
    const char *simd;
    temper_simd_level(&simd);
    printf("simd: %s\n", simd);
    printf("params: %lld\nmatrix_bytes: %llu\n", (long long)info.n_params, (unsigned long long)info.matrix_bytes);
    printf("load_s: %.4f\ntokenizer_load_s: %.4f\n", load, tok_load);

    temper_context_params cp = temper_context_default_params();
    cp.n_threads = threads;
    cp.n_seq = 8;
    cp.n_ctx = info.n_ctx < 1024 ? info.n_ctx : 1024;
    temper_context *ctx;
    if (temper_context_init(model, &cp, &ctx) < 0) return die("context");
    int max_pos[8] = {0}; /* positions each slot held: the KV cache touched */
    double rss = rss_now();

    /* Prefill: a fresh sequence each repetition. */
    int pp_sizes[2] = {128, 512};
    for (int s = 0; s < 2; s++) {
        int n = pp_sizes[s] < cp.n_ctx ? pp_sizes[s] : cp.n_ctx;
        double v[50];
        for (int rep = 0; rep < reps; rep++) {
            temper_seq_truncate(ctx, 0, 0);
            double a = temper__now();
            if (temper_eval(ctx, 0, ids, n, logits, 0) < 0) return die("prefill");
            v[rep] = n / (temper__now() - a);
        }
        max_pos[0] = n > max_pos[0] ? n : max_pos[0];
        rss = fmax(rss, rss_now());
        printf("prefill_%d_tok_s: %.1f\n", pp_sizes[s], median(v, reps));
    }

    double bw = measure_bandwidth(threads);

    /* Decode at batch 1: 128 tokens after a 1-token prompt. */
    int n_dec = 128 < cp.n_ctx - 1 ? 128 : cp.n_ctx - 1;
    double dv[50];
    for (int rep = 0; rep < reps; rep++) {
        temper_seq_truncate(ctx, 0, 0);
        if (temper_eval(ctx, 0, ids, 1, logits, 0) < 0) return die("decode");
        double a = temper__now();
        for (int i = 0; i < n_dec; i++)
            if (temper_eval(ctx, 0, &ids[(i + 1) % 512], 1, logits, 0) < 0) return die("decode");
        dv[rep] = n_dec / (temper__now() - a);
    }
    double decode = median(dv, reps);
    rss = fmax(rss, rss_now());
    printf("decode_tok_s: %.1f\n", decode);

    /* Batched decode: B sequences share a 16-token prompt, 64 steps. */
    int batch_sizes[3] = {1, 4, 8};
    for (int s = 0; s < 3; s++) {
        int B = batch_sizes[s], steps = 64 < cp.n_ctx - 17 ? 64 : cp.n_ctx - 17;
        int seqs[8];
        temper_token toks[8];
        double v[50];
        for (int rep = 0; rep < reps; rep++) {
            temper_seq_truncate(ctx, 0, 0);
            if (temper_eval(ctx, 0, ids, 16, NULL, 0) < 0) return die("batch");
            for (int b = 1; b < B; b++) temper_seq_copy(ctx, b, 0, -1);
            for (int b = 0; b < B; b++) seqs[b] = b;
            double a = temper__now();
            for (int i = 0; i < steps; i++) {
                for (int b = 0; b < B; b++) toks[b] = ids[(16 + i * 8 + b) % 512];
                if (temper_eval_batch(ctx, seqs, toks, B, logits) < 0) return die("batch");
            }
            v[rep] = (double)B * steps / (temper__now() - a);
        }
        for (int b = 0; b < B; b++) max_pos[b] = 16 + steps > max_pos[b] ? 16 + steps : max_pos[b];
        rss = fmax(rss, rss_now());
        printf("batch_%d_tok_s: %.1f\n", B, median(v, reps));
    }
    /* The RSS budget: the weights + the KV cache rows written. */
    double kv = 0;
    for (int b = 0; b < 8; b++) kv += (double)max_pos[b] * info.n_layer * info.n_kv_head * (info.n_embd / info.n_head) * 8;
    double bw2 = measure_bandwidth(threads);
    bw = bw2 > bw ? bw2 : bw; /* the better of the two passes (the machine may be shared) */

    double roof = bw / (double)info.matrix_bytes;
    printf("bandwidth_gb_s: %.1f\n", bw / 1e9);
    printf("roofline_tok_s: %.1f\n", roof);
    printf("decode_pct_roofline: %.1f\n", 100.0 * decode / roof);
    printf("peak_rss_mb: %.1f\n", rss / 1e6);
    /* Weights resident: the files (f32/f16/bf16, memory-mapped), or the q8
     * copies (the file pages they came from are released after quantizing). */
    double weights = strcmp(info.dtype, "q8") == 0 ? (double)info.matrix_bytes : (double)info.file_bytes;
    printf("weights_mb: %.1f\nkv_used_mb: %.1f\n", weights / 1e6, kv / 1e6);
    printf("rss_over_budget_pct: %.1f\n", 100.0 * (rss / (weights + kv) - 1.0));

    free(logits);
    temper_context_free(ctx);
    temper_model_free(model);
    return 0;
}
