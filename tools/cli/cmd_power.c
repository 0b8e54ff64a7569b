/*
 * cmd_power.c - `temper generate --power ALPHA ...`: sample a whole
 * continuation from p(x)^alpha (Metropolis-Hastings, Power-SMC or
 * importance resampling; see temper_power_sample in temper.h), print it,
 * and report acceptance rate, ESS history, forward tokens and log p.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: temper generate -m MODEL --power ALPHA [options] PROMPT\n\n"
            "Sample a continuation of PROMPT from p(x)^ALPHA over whole sequences\n"
            "(not token-wise temperature: see docs/power-sampling.md).\n\n"
            "options:\n"
            "      --power ALPHA        exponent alpha > 0 (4 in Karan & Du 2025)\n"
            "      --power-method M     mh (Metropolis-Hastings, default), smc or sir\n"
            "  -n, --max-new-tokens N   length cap T (default 20)\n"
            "      --block B            MH block size (default T/16, at least 1)\n"
            "      --mcmc-steps N       MH steps per block (default 10; 0 = temperature 1/alpha)\n"
            "      --particles P        SMC/SIR particles (default 16)\n"
            "      --ess-threshold F    SMC: resample when ESS < F * P (default 0.5)\n"
            "      --alpha-ramp N       SMC: raise alpha from 1 over N tokens (default off)\n"
            "  -s, --seed S             random seed (default: a random one, shown)\n"
            "      --num-return-sequences N  N independent samples (sample k uses\n"
            "                           stream k of the seed)\n"
            "      --ignore-eos         do not stop at the end-of-sequence token\n%s%s",
            cli_prompt_help, cli_common_help);
}

static int parse_method(const char *v, int *out) {
    if (!strcmp(v, "mh")) *out = TEMPER_POWER_MH;
    else if (!strcmp(v, "smc")) *out = TEMPER_POWER_SMC;
    else if (!strcmp(v, "sir")) *out = TEMPER_POWER_SIR;
    else {
        cli_error("--power-method: \"%s\" is not a method: use mh, smc or sir", v);
        return -1;
    }
    return 0;
}

int cmd_generate_power(int argc, char **argv) {
    cli_common c = {0};
    temper_power_params p = temper_power_default_params();
    p.max_new_tokens = CLI_DEFAULT_MAX_NEW;
    p.seed = cli_random_seed(); /* unless -s */
    int ignore_eos = 0, method_given = 0, mh_only = 0, particle_only = 0, n_seqs = 1;
    double d;
    long n;
    for (int i = 1; i < argc;) {
        const char *v;
        int r;
        if (cli_flag(argv, &i, "-h", "--help")) {
            usage(stdout);
            return 0;
        }
        if ((r = cli_parse_common(&c, &i, argc, argv)) != 0) {
            if (r < 0) return 2;
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--power", &v)) != 0) {
            if (r < 0 || cli_parse_double(v, &d, false) < 0 || !(d > 0)) {
                cli_error("--power: \"%s\" is not a number > 0", r < 0 ? "" : v);
                return 2;
            }
            p.alpha = (float)d;
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--power-method", &v)) != 0) {
            if (r < 0 || parse_method(v, &p.method) < 0) return 2;
            method_given = 1;
        } else if ((r = cli_opt(argv, argc, &i, "-n", "--max-new-tokens", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--max-new-tokens", v, 1, 1 << 20, &n) < 0) return 2;
            p.max_new_tokens = (int)n;
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--block", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--block", v, 1, 1 << 20, &n) < 0) return 2;
            p.block_size = (int)n;
            mh_only = 1;
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--mcmc-steps", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--mcmc-steps", v, 0, 1 << 20, &n) < 0) return 2;
            p.mcmc_steps = (int)n;
            mh_only = 1;
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--particles", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--particles", v, 1, 512, &n) < 0) return 2;
            p.particles = (int)n;
            particle_only = 1;
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--ess-threshold", &v)) != 0) {
            if (r < 0 || cli_parse_double(v, &d, false) < 0 || d < 0 || d > 1) {
                cli_error("--ess-threshold: use a number in [0, 1]");
                return 2;
            }
            p.ess_threshold = (float)d;
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--alpha-ramp", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--alpha-ramp", v, 0, 1 << 20, &n) < 0) return 2;
            p.alpha_ramp_tokens = (int)n;
        } else if ((r = cli_opt(argv, argc, &i, "-s", "--seed", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--seed", v, 0, 0x7fffffffffffffffL, &n) < 0) return 2;
            p.seed = (uint64_t)n;
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--num-return-sequences", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--num-return-sequences", v, 1, 1000000, &n) < 0) return 2;
            n_seqs = (int)n;
        } else if (cli_flag(argv, &i, NULL, "--ignore-eos")) {
            ignore_eos = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_unknown_option("generate", argv[i]);
        } else {
            if (cli_set_prompt(&c, argv[i]) != 0) return 2;
            i++;
        }
    }
    (void)method_given;
    if (mh_only && p.method != TEMPER_POWER_MH) {
        cli_error("--block and --mcmc-steps belong to --power-method mh");
        return 2;
    }
    if (particle_only && p.method == TEMPER_POWER_MH) {
        cli_error("--particles belongs to --power-method smc or sir");
        return 2;
    }
    temper_model *model;
    if (cli_load_model(&c, &model) != 0) return 1;
    const temper_tokenizer *tok = temper_model_tokenizer(model);
    temper_model_info info;
    temper_model_get_info(model, &info);
    temper_token *ids = NULL;
    int n_prompt = 0, rc = 1;
    temper_context *ctx = NULL;
    temper_power_result res = {0};
    temper_power_result *kept = NULL; /* (n_seqs) with --json: every sample, written at the end */
    double *secs_of = NULL;           /* (n_seqs) */
    if (cli_prompt_ids(&c, tok, &ids, &n_prompt) != 0) goto out;
    if (n_prompt == 0) {
        cli_error("generate: the prompt is empty: power sampling needs at least one prompt token");
        goto out;
    }
    if (cli_fit_context(&c, ids, &n_prompt, p.max_new_tokens, info.n_ctx) != 0) goto out;
    if (!ignore_eos) p.n_eos = temper_model_eos_ids(model, &p.eos_ids); /* every EOS id */
    temper_context_params cp = temper_context_default_params();
    cp.n_threads = c.threads;
    cp.n_seq = p.method == TEMPER_POWER_MH ? 2 : p.particles;
    cp.n_ctx = n_prompt + p.max_new_tokens;
    if (temper_context_init(model, &cp, &ctx) < 0) {
        rc = cli_lib_error("context", -1);
        goto out;
    }
    static const char *names[] = {"mh", "smc", "sir"};
    if (!cli_quiet) {
        fprintf(stderr, "power sampling: method %s, alpha %g, max_new_tokens %d", names[p.method],
                p.alpha, p.max_new_tokens);
        if (p.method == TEMPER_POWER_MH)
            fprintf(stderr, ", block %d, mcmc_steps %d",
                    p.block_size ? p.block_size : (p.max_new_tokens / 16 > 0 ? p.max_new_tokens / 16 : 1),
                    p.mcmc_steps);
        else
            fprintf(stderr, ", particles %d", p.particles);
        fprintf(stderr, ", seed %llu\n", (unsigned long long)p.seed);
    }
    if (c.json) {
        kept = calloc((size_t)n_seqs, sizeof *kept);
        secs_of = calloc((size_t)n_seqs, sizeof *secs_of);
        if (!kept || !secs_of) {
            cli_error("out of memory");
            goto out;
        }
    }
    /* sample k draws from stream k of the seed: independent samples, and
     * sample k is the same whatever the number asked for */
    for (int k = 0; k < n_seqs; k++) {
        p.stream = k;
        temper_power_result_free(&res);
        double t0 = cli_now();
        if (temper_power_sample(ctx, ids, n_prompt, &p, &res) < 0) {
            rc = cli_lib_error("power sampling", -1);
            goto out;
        }
        double secs = cli_now() - t0;
        double acc = res.n_proposals ? (double)res.n_accepted / res.n_proposals : NAN;
        if (c.json) {
            kept[k] = res;
            secs_of[k] = secs;
            res = (temper_power_result){0};
            continue;
        }
        /* prompt and continuation decoded together: the space between them */
        char *whole = cli_decode_continued(tok, ids, n_prompt, res.ids, res.n_ids, NULL);
        if (n_seqs > 1) printf("[%d] ", k + 1);
        if (whole) printf("%s\n", whole);
        free(whole);
        if (cli_quiet) continue;
        fflush(stdout);
        if (n_seqs > 1) fprintf(stderr, "[%d] ", k + 1);
        fprintf(stderr, "log p %.4f over %d tokens (%s)", res.log_p, res.n_ids,
                res.finished_eos ? "eos" : "length");
        if (p.method == TEMPER_POWER_MH)
            fprintf(stderr, ", acceptance %.1f%% of %d proposals", 100 * acc, res.n_proposals);
        else
            fprintf(stderr, ", %d resamplings, final ESS %.2f", res.n_resamples,
                    res.n_ess ? res.ess[res.n_ess - 1] : 1.0);
        fprintf(stderr, ", %lld forward tokens, %.2f s\n", (long long)res.forward_tokens, secs);
    }
    if (c.json) {
        temper_json_power_doc doc = {.tok = tok, .params = &p, .samples = kept,
                                     .seconds = secs_of, .n_samples = n_seqs};
        temper_json *j = temper_json_new(stdout);
        temper_json_power(j, &doc);
        cli_json_end(j);
    }
    rc = 0;
out:
    temper_power_result_free(&res);
    for (int k = 0; kept && k < n_seqs; k++) temper_power_result_free(&kept[k]);
    free(kept);
    free(secs_of);
    temper_context_free(ctx);
    free(ids);
    temper_model_free(model);
    return rc;
}
