/*
 * cli_generate_opts.c - the settings of `temper generate`: its options,
 * the defaults taken from the model's generation_config.json (as
 * transformers' GenerationConfig does: a flag given on the command line
 * wins), and the choice of greedy / sampling / beam search with the checks
 * that turn a bad combination into one clear line and exit code 2.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_generate.h"

/* ---- options ------------------------------------------------------------ */

static int parse_early_stopping(const char *v, int *out) {
    if (!strcmp(v, "false") || !strcmp(v, "0")) *out = TEMPER_EARLY_STOPPING_FALSE;
    else if (!strcmp(v, "true") || !strcmp(v, "1")) *out = TEMPER_EARLY_STOPPING_TRUE;
    else if (!strcmp(v, "never")) *out = TEMPER_EARLY_STOPPING_NEVER;
    else {
        cli_error("--early-stopping \"%s\": give true, false or never", v);
        return -1;
    }
    return 0;
}

/* The generate-only options. Returns 1 (consumed), 0 (not one), -1 (bad
 * value, message printed). */
static int generate_opt(gen_args *a, int *i, int argc, char **argv) {
    const char *v;
    long n;
    double d;
    int r;
    if (cli_flag(argv, i, NULL, "--do-sample")) return a->set.do_sample = true, 1;
    if (cli_flag(argv, i, NULL, "--greedy")) return a->set.greedy = true, 1;
    if (cli_flag(argv, i, NULL, "--ignore-eos")) return a->gp.ignore_eos = 1, 1;
    if ((r = cli_opt(argv, argc, i, "-n", "--max-new-tokens", &v)) != 0 ||
        (r = cli_opt(argv, argc, i, NULL, "--n-predict", &v)) != 0) {
        if (r < 0 || cli_parse_int_opt("-n", v, -1, 1L << 24, &a->max_new) < 0) return -1;
        return a->set.max_new = true, 1;
    }
    if ((r = cli_opt(argv, argc, i, NULL, "--min-new-tokens", &v)) != 0) {
        if (r < 0 || cli_parse_int_opt("--min-new-tokens", v, 0, 1L << 24, &n) < 0) return -1;
        a->samp.p.min_new_tokens = (int)n;
        return a->set.min_new = true, 1;
    }
    if ((r = cli_opt(argv, argc, i, "-s", "--seed", &v)) != 0) {
        if (r < 0 || cli_parse_int_opt("--seed", v, -1, INT64_MAX, &n) < 0) return -1;
        a->gp.seed = (uint64_t)n;
        a->set.seed = n >= 0; /* -1: a random seed, as llama.cpp */
        return 1;
    }
    if ((r = cli_opt(argv, argc, i, NULL, "--num-return-sequences", &v)) != 0) {
        if (r < 0 || cli_parse_int_opt("--num-return-sequences", v, 1, 1000000, &n) < 0) return -1;
        a->gp.num_return_sequences = (int)n;
        return a->set.nrs = true, 1;
    }
    if ((r = cli_opt(argv, argc, i, NULL, "--num-beams", &v)) != 0) {
        if (r < 0 || cli_parse_int_opt("--num-beams", v, 1, 4096, &n) < 0) return -1;
        a->gp.num_beams = (int)n;
        return a->set.beams = true, 1;
    }
    if ((r = cli_opt(argv, argc, i, NULL, "--length-penalty", &v)) != 0) {
        if (r < 0) return -1;
        if (cli_parse_double(v, &d, false) < 0) {
            cli_error("--length-penalty \"%s\": not a finite number: give e.g. "
                      "--length-penalty 1.0", v);
            return -1;
        }
        a->gp.length_penalty = (float)d;
        return a->set.length_penalty = true, 1;
    }
    if ((r = cli_opt(argv, argc, i, NULL, "--early-stopping", &v)) != 0) {
        if (r < 0 || parse_early_stopping(v, &a->gp.early_stopping) < 0) return -1;
        return a->set.early_stopping = true, 1;
    }
    if ((r = cli_opt(argv, argc, i, NULL, "--stop", &v)) != 0) {
        if (r < 0) return -1;
        if (!v[0] || a->n_stop == GEN_MAX_STOP) {
            cli_error("--stop \"%s\": give a non-empty string (at most %d of them)", v,
                      GEN_MAX_STOP);
            return -1;
        }
        a->stop[a->n_stop++] = v;
        return 1;
    }
    if ((r = cli_opt(argv, argc, i, NULL, "--n-probs", &v)) != 0) {
        if (r < 0 || cli_parse_int_opt("--n-probs", v, 0, GEN_MAX_TOP, &n) < 0) return -1;
        a->n_probs = (int)n;
        return 1;
    }
    if ((r = cli_opt(argv, argc, i, NULL, "--temps", &v)) != 0)
        return r < 0 || (a->n_temps = cli_parse_temps(v, a->temps, GEN_MAX_TEMPS,
                                                       "1.0,0.7,0.5,0.1")) < 0 ? -1 : 1;
    return 0;
}

/* Returns 0 to go on, else the exit code (--help: 0 after printing). */
int gen_parse_args(gen_args *a, int argc, char **argv, bool *help) {
    for (int i = 1; i < argc;) {
        int r;
        if (cli_flag(argv, &i, "-h", "--help")) {
            *help = true;
            return 0;
        }
        if ((r = cli_parse_common(&a->c, &i, argc, argv)) != 0 ||
            (r = cli_sampling_opt(&a->samp, &i, argc, argv)) != 0 ||
            (r = generate_opt(a, &i, argc, argv)) != 0) {
            if (r < 0) return 2;
            continue;
        }
        if ((r = cli_prompt_arg(&a->c, "generate", &i, argc, argv)) != 0) return r;
    }
    return 0;
}

/* ---- generation_config.json: the defaults of the command line --------- */

static void note_key(gen_args *a, const char *key) {
    size_t n = strlen(a->from_config);
    snprintf(a->from_config + n, sizeof a->from_config - n, "%s%s", n ? "," : "", key);
}

/* Whether the command line gave d (then generation_config.json leaves it). */
static bool given(const gen_args *a, const temper_param *d) {
    if (cli_sampling_param(d)) return cli_sampling_given(&a->samp, d->name);
    const struct { const char *name; bool set; } g[] = {
        {"do_sample", a->set.do_sample || a->set.greedy}, {"min_new_tokens", a->set.min_new},
        {"max_new_tokens", a->set.max_new}, {"num_return_sequences", a->set.nrs},
        {"num_beams", a->set.beams}, {"length_penalty", a->set.length_penalty},
        {"early_stopping", a->set.early_stopping}, {"seed", a->set.seed},
    };
    for (size_t k = 0; k < sizeof g / sizeof g[0]; k++)
        if (!strcmp(d->name, g[k].name)) return g[k].set;
    return true; /* not read from the file */
}

/* A malloc'd copy of ids (n), or NULL (message printed). */
static temper_token *copy_ids(const temper_token *ids, int n) {
    temper_token *c = malloc(sizeof *c * (size_t)(n > 0 ? n : 1));
    if (c) memcpy(c, ids, sizeof *c * (size_t)n);
    else cli_error("out of memory");
    return c;
}

int gen_apply_generation_config(gen_args *a, const temper_model *model) {
    temper_generate_params def; /* the library's reading of the file */
    char keys[1024];
    int rc = temper_model_generate_defaults(model, &def, keys, sizeof keys);
    if (rc < 0) {
        cli_error("%s: fix the file or give the value on the command line", temper_last_error());
        return 1;
    }
    if (def.n_eos > 0 && !(a->eos = copy_ids(def.eos_ids, def.n_eos))) return 1;
    a->n_eos = def.n_eos; /* every EOS id (Llama 3 has two) */
    temper_generate_params cur = a->gp;
    cur.sampling = a->samp.p;
    cur.max_new_tokens = (int)a->max_new;
    for (const char *k = keys; *k;) {
        char key[64];
        size_t len = strcspn(k, ",");
        snprintf(key, sizeof key, "%.*s", (int)len, k);
        k += len + (k[len] == ',');
        const temper_param *d = temper_param_find(key);
        if (d && !given(a, d)) {
            temper_param_set(&cur, d, temper_param_get(&def, d)); /* checked by the library */
            note_key(a, key);
        } else if (!strcmp(key, "suppress_tokens") && !a->samp.suppress) {
            if (!(a->samp.suppress = copy_ids(def.sampling.suppress_tokens, def.sampling.n_suppress)))
                return 1;
            a->samp.n_suppress = def.sampling.n_suppress;
            cur.sampling.suppress_tokens = a->samp.suppress;
            cur.sampling.n_suppress = a->samp.n_suppress;
            note_key(a, key);
        }
    }
    a->samp.p = cur.sampling;
    a->gp = cur;
    a->max_new = cur.max_new_tokens;
    return 0;
}

/* ---- greedy, sampling or beams; the checks ----------------------------- */

static void add_note(gen_args *a, const char *s) {
    size_t n = strlen(a->notes);
    snprintf(a->notes + n, sizeof a->notes - n, "%s%s", n ? "; " : "", s);
}

/* The usual flag of d ("--temp" of "--temp,--temperature") into buf. */
static const char *first_flag(const temper_param *d, char *buf, size_t cap) {
    snprintf(buf, cap, "%.*s", (int)strcspn(d->flags, ","), d->flags);
    return buf;
}

/* Whether the warper d was given in a way that asks for sampling
 * (temperature 0 asks for greedy decoding). */
static bool asks_sampling(const cli_sampling *s, const temper_param *d) {
    return d->warper && cli_sampling_given(s, d->name) &&
           !(strcmp(d->name, "temperature") == 0 && s->p.temperature <= 0);
}

/* The flag that asks for sampling, or NULL. */
static const char *sampling_flag(const gen_args *a) {
    static char flag[64];
    if (a->set.do_sample) return "--do-sample";
    if (a->n_temps) return "--temps";
    int n;
    const temper_param *t = temper_params(&n);
    for (int k = 0; k < n; k++)
        if (asks_sampling(&a->samp, &t[k])) return first_flag(&t[k], flag, sizeof flag);
    return NULL;
}

/* Flags that the chosen mode ignores, said as transformers' GenerationConfig
 * warns ("`do_sample` is set to `False`. However, `top_p` is set to ...").
 * A result that would be meaningless is an error instead (below). */
static void warn_conflicts(const gen_args *a) {
    const cli_sampling *s = &a->samp;
    int n;
    const temper_param *t = temper_params(&n);
    for (int k = 0; a->set.greedy && k < n; k++) {
        char flag[64];
        if (asks_sampling(s, &t[k]))
            cli_warn("%s is used only when sampling, and --greedy takes the most probable "
                     "token: %s is ignored (drop --greedy to sample)",
                     first_flag(&t[k], flag, sizeof flag), flag);
    }
    if (a->set.do_sample && cli_sampling_given(s, "temperature") && s->p.temperature == 0)
        cli_warn("--do-sample with --temp 0: temperature 0 means greedy decoding, so nothing is "
                 "sampled (give --temp T > 0 to sample)");
}

/* Decide the mode and check what the library would refuse, in the words
 * of the flags. Returns 0 or 2 (message printed). */
int gen_resolve_mode(gen_args *a, bool final) {
    temper_sampling_params *p = &a->samp.p;
    const char *flag = a->sampling_flag = sampling_flag(a);
    if (a->set.greedy && a->n_temps) {
        cli_error("--greedy and --temps contradict: drop one of them");
        return 2;
    }
    if (a->set.greedy) p->do_sample = 0;
    else if (flag) p->do_sample = 1;
    if (!final) warn_conflicts(a);
    if (a->n_temps && cli_sampling_given(&a->samp, "temperature")) {
        cli_error("--temp and --temps: give one of them");
        return 2;
    }
    if (a->gp.num_beams > 1 && p->do_sample) {
        if (flag && a->set.beams) {
            cli_error("%s asks for sampling, and beam search does not sample "
                      "(beam-sample is not supported): drop %s or --num-beams", flag, flag);
            return 2;
        }
        if (flag) { /* the beams come from generation_config.json */
            a->gp.num_beams = 1;
            add_note(a, "num_beams of generation_config.json ignored: sampling asked");
        } else {   /* do_sample comes from generation_config.json */
            p->do_sample = 0;
            add_note(a, "do_sample of generation_config.json ignored: beam search");
        }
    }
    if (a->n_temps && a->gp.num_beams > 1) {
        cli_error("--temps runs sampling at each temperature: it does not go with "
                  "--num-beams %d", a->gp.num_beams);
        return 2;
    }
    if (temper_sampling_params_check(p) < 0) {
        cli_error("invalid decoding option: %s", temper_last_error());
        return 2;
    }
    if (!final) return 0; /* generation_config.json may still set the counts */
    int greedy = !p->do_sample || p->temperature == 0;
    int nrs = a->gp.num_return_sequences, B = a->gp.num_beams;
    if (B > 1 && nrs > B) {
        cli_error("--num-return-sequences %d is larger than --num-beams %d: beam search "
                  "returns at most num_beams sequences: ask for at most %d", nrs, B, B);
        return 2;
    }
    if (B == 1 && nrs > 1 && greedy && !a->n_temps) {
        cli_error("--num-return-sequences %d with greedy decoding gives %d copies of one "
                  "text: add --do-sample (or --temp T > 0), or use --num-beams %d",
                  nrs, nrs, nrs);
        return 2;
    }
    if (a->max_new > 0 && p->min_new_tokens > a->max_new)
        add_note(a, "min_new_tokens > max_new_tokens: no end-of-sequence token at all");
    return 0;
}
