/*
 * generate_runs.c - test driver of temper_generate() for
 * tests/py/test_decode_generate.py: one run, the result as JSON on stdout.
 *
 *   generate_runs MODEL_DIR --ids 1,2,3 [-n N] [--beams B] [--nrs N]
 *       [--length-penalty X] [--early-stopping 0|1|2] [--sample] [--temp T]
 *       [--top-k K] [--top-p P] [--seed S] [--first-stream J] [--threads T]
 *       [--repetition-penalty R] [--no-repeat-ngram N] [--min-new N]
 *       [--eos ID]... [--ignore-eos] [--stop STR]... [--n-top K] [--n-ctx N]
 *       [--defaults]   (start from temper_model_generate_defaults: the
 *                       model's generation_config.json; "keys" in the output)
 *
 * Output: {"sequences": [{"ids": [...], "finish": N, "score": X|null,
 *   "sum_logprob": X, "logprob": [...], "logprob_processed": [...],
 *   "top": [[id, ...], ...]}], "n_steps": N, "n_forward": N}
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "temper.h"

static void print_num(double v) {
    if (isfinite(v)) printf("%.9g", v);
    else printf("null");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: generate_runs MODEL_DIR --ids 1,2,3 [options]\n");
        return 2;
    }
    temper_generate_params p = temper_generate_default_params();
    p.sampling.top_k = 0;
    temper_model *model;
    temper_model_params mp = temper_model_default_params();
    if (temper_model_load(argv[1], &mp, &model) < 0) {
        fprintf(stderr, "load: %s\n", temper_last_error());
        return 1;
    }
    char keys[512] = "";
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--defaults") &&
            temper_model_generate_defaults(model, &p, keys, sizeof keys) < 0) {
            fprintf(stderr, "defaults: %s\n", temper_last_error());
            return 1;
        }
    temper_token ids[1024], eos[16];
    const char *stop[16];
    int n_ids = 0, n_eos = 0, n_stop = 0, threads = 1, n_ctx = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--sample")) { p.sampling.do_sample = 1; continue; }
        if (!strcmp(a, "--ignore-eos")) { p.ignore_eos = 1; continue; }
        if (!strcmp(a, "--defaults")) continue;
        if (!v) { fprintf(stderr, "%s needs a value\n", a); return 2; }
        i++;
        if (!strcmp(a, "--ids")) {
            for (char *s = (char *)v; *s && n_ids < 1024;) {
                ids[n_ids++] = (temper_token)strtol(s, &s, 10);
                while (*s == ',' || *s == ' ') s++;
            }
        } else if (!strcmp(a, "-n")) p.max_new_tokens = atoi(v);
        else if (!strcmp(a, "--beams")) p.num_beams = atoi(v);
        else if (!strcmp(a, "--nrs")) p.num_return_sequences = atoi(v);
        else if (!strcmp(a, "--length-penalty")) p.length_penalty = (float)atof(v);
        else if (!strcmp(a, "--early-stopping")) p.early_stopping = atoi(v);
        else if (!strcmp(a, "--temp")) p.sampling.temperature = (float)atof(v);
        else if (!strcmp(a, "--top-k")) p.sampling.top_k = atoi(v);
        else if (!strcmp(a, "--top-p")) p.sampling.top_p = (float)atof(v);
        else if (!strcmp(a, "--seed")) p.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--first-stream")) p.first_stream = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--repetition-penalty")) p.sampling.repetition_penalty = (float)atof(v);
        else if (!strcmp(a, "--no-repeat-ngram")) p.sampling.no_repeat_ngram_size = atoi(v);
        else if (!strcmp(a, "--min-new")) p.sampling.min_new_tokens = atoi(v);
        else if (!strcmp(a, "--eos") && n_eos < 16) eos[n_eos++] = atoi(v);
        else if (!strcmp(a, "--stop") && n_stop < 16) stop[n_stop++] = v;
        else if (!strcmp(a, "--n-top")) p.n_top = atoi(v);
        else if (!strcmp(a, "--n-ctx")) n_ctx = atoi(v);
        else { fprintf(stderr, "unknown option %s\n", a); return 2; }
    }
    if (n_eos) {
        p.eos_ids = eos;
        p.n_eos = n_eos;
    }
    p.stop = stop;
    p.n_stop = n_stop;

    temper_context_params cp = temper_context_default_params();
    cp.n_seq = p.num_beams > p.num_return_sequences ? p.num_beams : p.num_return_sequences;
    cp.n_threads = threads;
    cp.n_ctx = n_ctx;
    temper_context *ctx;
    if (temper_context_init(model, &cp, &ctx) < 0) {
        fprintf(stderr, "context: %s\n", temper_last_error());
        return 1;
    }
    temper_generation *g;
    int rc = temper_generate(ctx, ids, n_ids, &p, &g);
    if (rc < 0) {
        fprintf(stderr, "generate: %s: %s\n", temper_err_name(rc), temper_last_error());
        return 1;
    }
    printf("{\"sequences\": [");
    for (int s = 0; s < g->n_seqs; s++) {
        const temper_sequence *q = &g->seqs[s];
        printf("%s{\"ids\": [", s ? ", " : "");
        for (int k = 0; k < q->n_ids; k++) printf("%s%d", k ? ", " : "", q->ids[k]);
        printf("], \"finish\": %d, \"score\": ", q->finish_reason);
        print_num(q->score);
        printf(", \"sum_logprob\": ");
        print_num(q->sum_logprob);
        printf(", \"logprob\": [");
        for (int k = 0; k < q->n_ids; k++) {
            printf("%s", k ? ", " : "");
            print_num(q->probs[k].logprob);
        }
        printf("], \"logprob_processed\": [");
        for (int k = 0; k < q->n_ids; k++) {
            printf("%s", k ? ", " : "");
            print_num(q->probs[k].logprob_processed);
        }
        printf("], \"top\": [");
        for (int k = 0; k < q->n_ids; k++) {
            printf("%s[", k ? ", " : "");
            for (int j = 0; j < g->n_top; j++)
                printf("%s%d", j ? ", " : "", q->top[(size_t)k * g->n_top + j].id);
            printf("]");
        }
        printf("]}");
    }
    printf("], \"n_steps\": %d, \"n_forward\": %lld, \"keys\": \"%s\"}\n", g->n_steps,
           (long long)g->n_forward, keys);
    temper_generation_free(g);
    temper_context_free(ctx);
    temper_model_free(model);
    return 0;
}
