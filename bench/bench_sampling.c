/*
 * bench_sampling.c - cost of the decoding stages per token over a GPT-2
 * sized row (V = 50,257): temper_sampler_apply + temper_sampler_sample,
 * for the usual settings, in microseconds per token.
 *
 *   bench_sampling [--reps N] [--vocab V] [--case SUBSTRING]
 *
 * The logits are synthetic but shaped like a language model's: a normal
 * background (sd 2) with a head of a few dozen tokens 6-12 above it, in
 * 8 rows with different token positions. Prints "name: X us/token" lines:
 * the best of 5 rounds of reps/5 tokens, in CPU time (the machine may be
 * shared).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "temper.h"

#define N_ROWS 8

/* CPU time of this process: unlike wall time it does not count the time
 * spent waiting while other jobs use the cores. */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double gauss(temper_rng *r) {
    double u = temper_rng_uniform(r), v = temper_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

typedef struct bench_case {
    const char *name;
    int do_sample, top_k, order;
    float temperature, top_p, min_p, typical_p, repetition_penalty;
} bench_case;

int main(int argc, char **argv) {
    int reps = 2000, V = 50257;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--vocab") && i + 1 < argc) V = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--case") && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "usage: bench_sampling [--reps N] [--vocab V] [--case SUBSTRING]\n");
            return 2;
        }
    }
    float *rows = malloc(sizeof(float) * (size_t)V * N_ROWS); /* (N_ROWS, V) */
    if (!rows) return 1;
    temper_rng rng;
    temper_rng_seed(&rng, 1234, 0);
    for (int r = 0; r < N_ROWS; r++) {
        float *x = rows + (size_t)r * V;
        for (int i = 0; i < V; i++) x[i] = (float)(2.0 * gauss(&rng)) - 80.0f;
        for (int h = 0; h < 40; h++)
            x[temper_rng_next(&rng) % (uint64_t)V] += 6.0f + (float)(6.0 * temper_rng_uniform(&rng));
    }
    temper_token hist[64];
    for (int i = 0; i < 64; i++) hist[i] = (temper_token)(temper_rng_next(&rng) % (uint64_t)V);

    const bench_case cases[] = {
        {"greedy", 0, 0, TEMPER_ORDER_HF, 1, 1, 0, 1, 1},
        {"temperature 0.7 (full softmax)", 1, 0, TEMPER_ORDER_HF, 0.7f, 1, 0, 1, 1},
        {"top_k 50 (transformers default)", 1, 50, TEMPER_ORDER_HF, 1, 1, 0, 1, 1},
        {"top_p 0.9", 1, 0, TEMPER_ORDER_HF, 1, 0.9f, 0, 1, 1},
        {"min_p 0.05", 1, 0, TEMPER_ORDER_HF, 1, 1, 0.05f, 1, 1},
        {"temp 0.8 + top_k 50 + top_p 0.9 + min_p 0.05", 1, 50, TEMPER_ORDER_HF, 0.8f, 0.9f, 0.05f, 1, 1},
        {"llama.cpp order: top_k 40, top_p 0.95, min_p 0.05, temp 0.8", 1, 40, TEMPER_ORDER_LLAMA_CPP, 0.8f, 0.95f, 0.05f, 1, 1},
        {"repetition 1.2 (64 tokens) + temp 0.7 + top_p 0.9", 1, 0, TEMPER_ORDER_HF, 0.7f, 0.9f, 0, 1, 1.2f},
        {"typical_p 0.9 (weighted select)", 1, 0, TEMPER_ORDER_HF, 1, 1, 0, 0.9f, 1},
    };
    printf("vocab: %d\n", V);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const bench_case *bc = &cases[c];
        if (only && !strstr(bc->name, only)) continue;
        temper_sampling_params p = temper_sampling_default_params();
        p.do_sample = bc->do_sample;
        p.top_k = bc->top_k;
        p.order = bc->order;
        p.temperature = bc->temperature;
        p.top_p = bc->top_p;
        p.min_p = bc->min_p;
        p.typical_p = bc->typical_p;
        p.repetition_penalty = bc->repetition_penalty;
        temper_sampler *s;
        if (temper_sampler_init(&p, V, &s) < 0) {
            fprintf(stderr, "%s: %s\n", bc->name, temper_last_error());
            return 1;
        }
        int n = strstr(bc->name, "typical") ? reps / 20 : reps / 5;
        if (n < 1) n = 1;
        long checksum = 0;
        double best = 1e30;
        for (int round = 0; round < 5; round++) {
            double t0 = cpu_now();
            for (int i = 0; i < n; i++) {
                temper_token tok;
                if (temper_sampler_apply(s, rows + (size_t)(i % N_ROWS) * V, hist, 64, 48) < 0 ||
                    temper_sampler_sample(s, &rng, &tok) < 0) {
                    fprintf(stderr, "%s: %s\n", bc->name, temper_last_error());
                    return 1;
                }
                checksum += tok;
            }
            double us = (cpu_now() - t0) * 1e6 / n;
            if (us < best) best = us;
        }
        double us = best;
        printf("%s: %.1f us/token (kept %d, checksum %ld)\n", bc->name, us,
               temper_sampler_n_kept(s), checksum);
        temper_sampler_free(s);
    }
    free(rows);
    return 0;
}
