/* power_runs.c - many independent seeded runs of the power sampler, one
 * output sequence per line, for the exact-law tests in tests/py/test_power.py.
 *
 *   power_runs MODEL_DIR --prompt 0,1 --method mh|smc|sir --alpha A
 *              --max-new T [--block B] [--steps N] [--particles P]
 *              [--eos ID] [--runs R] [--seed S]
 *
 * Run r uses seed S + r. Each line: the generated ids separated by spaces
 * (an empty line for an empty continuation). The last line on stderr gives
 * totals: "runs R forward_tokens F proposals P accepted A". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "temper.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: power_runs MODEL_DIR [options]\n");
        return 2;
    }
    temper_power_params p = temper_power_default_params();
    temper_token prompt[64], eos = -1;
    int n_prompt = 0, runs = 1000;
    uint64_t seed = 1;
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--prompt")) {
            for (char *s = (char *)v; *s && n_prompt < 64;) {
                prompt[n_prompt++] = (temper_token)strtol(s, &s, 10);
                if (*s == ',') s++;
            }
        } else if (!strcmp(k, "--method")) {
            p.method = !strcmp(v, "mh") ? TEMPER_POWER_MH : !strcmp(v, "smc") ? TEMPER_POWER_SMC : TEMPER_POWER_SIR;
        } else if (!strcmp(k, "--alpha")) p.alpha = strtof(v, NULL);
        else if (!strcmp(k, "--max-new")) p.max_new_tokens = atoi(v);
        else if (!strcmp(k, "--block")) p.block_size = atoi(v);
        else if (!strcmp(k, "--steps")) p.mcmc_steps = atoi(v);
        else if (!strcmp(k, "--particles")) p.particles = atoi(v);
        else if (!strcmp(k, "--ess")) p.ess_threshold = strtof(v, NULL);
        else if (!strcmp(k, "--ramp")) p.alpha_ramp_tokens = atoi(v);
        else if (!strcmp(k, "--eos")) eos = (temper_token)atoi(v);
        else if (!strcmp(k, "--runs")) runs = atoi(v);
        else if (!strcmp(k, "--seed")) seed = strtoull(v, NULL, 10);
        else {
            fprintf(stderr, "power_runs: unknown option %s\n", k);
            return 2;
        }
    }
    if (eos >= 0) {
        p.eos_ids = &eos;
        p.n_eos = 1;
    }
    temper_model *model;
    temper_context *ctx;
    temper_context_params cp = temper_context_default_params();
    cp.n_threads = 1;
    cp.n_seq = p.method == TEMPER_POWER_MH ? 2 : p.particles;
    cp.n_ctx = n_prompt + p.max_new_tokens;
    if (temper_model_load(argv[1], NULL, &model) < 0 || temper_context_init(model, &cp, &ctx) < 0) {
        fprintf(stderr, "power_runs: %s\n", temper_last_error());
        return 1;
    }
    long long fwd = 0, props = 0, acc = 0;
    for (int r = 0; r < runs; r++) {
        temper_power_result res;
        p.seed = seed + (uint64_t)r;
        if (temper_power_sample(ctx, prompt, n_prompt, &p, &res) < 0) {
            fprintf(stderr, "power_runs: %s\n", temper_last_error());
            return 1;
        }
        for (int i = 0; i < res.n_ids; i++) printf(i ? " %d" : "%d", res.ids[i]);
        putchar('\n');
        fwd += res.forward_tokens;
        props += res.n_proposals;
        acc += res.n_accepted;
        temper_power_result_free(&res);
    }
    fprintf(stderr, "runs %d forward_tokens %lld proposals %lld accepted %lld\n", runs, fwd, props, acc);
    temper_context_free(ctx);
    temper_model_free(model);
    return 0;
}
