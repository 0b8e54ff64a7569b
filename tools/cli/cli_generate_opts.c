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

#include <cJSON.h>

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

/* The number under key, unless absent, null, or given on the command line. */
static int cfg_num(gen_args *a, const cJSON *g, const char *key, bool given, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(g, key);
    if (given || !v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        cli_error("generation_config.json: \"%s\" is not a number: fix the file or give "
                  "the value on the command line", key);
        return -1;
    }
    *out = v->valuedouble;
    note_key(a, key);
    return 1;
}

/* Ids under key (an int or a list of ints) into a malloc'd array. */
static int cfg_ids(const cJSON *v, temper_token **ids, int *n) {
    int count = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 1;
    *ids = malloc(sizeof **ids * (size_t)(count > 0 ? count : 1)); /* (count) owned by caller */
    if (!*ids) return -1;
    for (int k = 0; k < count; k++) {
        const cJSON *e = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, k) : v;
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > INT32_MAX) return -1;
        (*ids)[k] = (temper_token)e->valuedouble;
    }
    *n = count;
    return 0;
}

int gen_apply_generation_config(gen_args *a, const char *text) {
    if (!text) return 0;
    cJSON *g = cJSON_Parse(text);
    temper_sampling_params *p = &a->samp.p;
    int rc = 0;
    double d;
    if (!cJSON_IsObject(g)) {
        cJSON_Delete(g);
        cli_error("generation_config.json is not a JSON object: fix or remove the file");
        return 1;
    }
    const cJSON *ds = cJSON_GetObjectItemCaseSensitive(g, "do_sample");
    if (cJSON_IsBool(ds) && !a->set.do_sample && !a->set.greedy) {
        p->do_sample = cJSON_IsTrue(ds);
        note_key(a, "do_sample");
    }
    /* float fields, int fields: the key, where it goes, whether the flag was given */
    const struct { const char *key; float *f; int *i; bool given; } nums[] = {
        {"temperature", &p->temperature, NULL, a->samp.set.temperature},
        {"top_k", NULL, &p->top_k, a->samp.set.top_k},
        {"top_p", &p->top_p, NULL, a->samp.set.top_p},
        {"min_p", &p->min_p, NULL, a->samp.set.min_p},
        {"typical_p", &p->typical_p, NULL, a->samp.set.typical_p},
        {"epsilon_cutoff", &p->epsilon_cutoff, NULL, a->samp.set.epsilon_cutoff},
        {"eta_cutoff", &p->eta_cutoff, NULL, a->samp.set.eta_cutoff},
        {"repetition_penalty", &p->repetition_penalty, NULL, a->samp.set.repetition_penalty},
        {"no_repeat_ngram_size", NULL, &p->no_repeat_ngram_size,
         a->samp.set.no_repeat_ngram_size},
        {"min_new_tokens", NULL, &p->min_new_tokens, a->set.min_new},
        {"num_beams", NULL, &a->gp.num_beams, a->set.beams},
        {"num_return_sequences", NULL, &a->gp.num_return_sequences, a->set.nrs},
        {"length_penalty", &a->gp.length_penalty, NULL, a->set.length_penalty},
    };
    for (size_t k = 0; rc == 0 && k < sizeof nums / sizeof nums[0]; k++) {
        int r = cfg_num(a, g, nums[k].key, nums[k].given, &d);
        if (r < 0) rc = 1;
        else if (r > 0 && nums[k].f) *nums[k].f = (float)d;
        else if (r > 0) *nums[k].i = d > INT32_MAX ? INT32_MAX : d < INT32_MIN ? INT32_MIN : (int)d;
    }
    if (rc == 0 && cfg_num(a, g, "max_new_tokens", a->set.max_new, &d) > 0)
        a->max_new = d < 0 ? 0 : d > (1 << 24) ? (1 << 24) : (long)d;
    const cJSON *es = cJSON_GetObjectItemCaseSensitive(g, "early_stopping");
    if (es && !a->set.early_stopping && !cJSON_IsNull(es)) {
        if (cJSON_IsBool(es)) a->gp.early_stopping = cJSON_IsTrue(es);
        else if (cJSON_IsString(es) && !strcmp(es->valuestring, "never"))
            a->gp.early_stopping = TEMPER_EARLY_STOPPING_NEVER;
        note_key(a, "early_stopping");
    }
    const cJSON *eos = cJSON_GetObjectItemCaseSensitive(g, "eos_token_id");
    if (rc == 0 && eos && !cJSON_IsNull(eos)) {
        if (cfg_ids(eos, &a->eos, &a->n_eos) < 0) {
            cli_error("generation_config.json: \"eos_token_id\" is not an id or a list of "
                      "ids: fix the file");
            rc = 1;
        }
    }
    const cJSON *sup = cJSON_GetObjectItemCaseSensitive(g, "suppress_tokens");
    if (rc == 0 && cJSON_IsArray(sup) && !a->samp.suppress) {
        if (cfg_ids(sup, &a->samp.suppress, &a->samp.n_suppress) < 0) {
            cli_error("generation_config.json: \"suppress_tokens\" is not a list of ids: "
                      "fix the file");
            rc = 1;
        } else {
            p->suppress_tokens = a->samp.suppress;
            p->n_suppress = a->samp.n_suppress;
            note_key(a, "suppress_tokens");
        }
    }
    cJSON_Delete(g);
    return rc;
}

/* ---- greedy, sampling or beams; the checks ----------------------------- */

static void add_note(gen_args *a, const char *s) {
    size_t n = strlen(a->notes);
    snprintf(a->notes + n, sizeof a->notes - n, "%s%s", n ? "; " : "", s);
}

/* The flag that asks for sampling, or NULL. */
static const char *sampling_flag(const gen_args *a) {
    const cli_sampling *s = &a->samp;
    if (a->set.do_sample) return "--do-sample";
    if (a->n_temps) return "--temps";
    if (s->set.temperature && s->p.temperature > 0) return "--temp";
    if (s->set.top_k) return "--top-k";
    if (s->set.top_p) return "--top-p";
    if (s->set.min_p) return "--min-p";
    if (s->set.typical_p) return "--typical-p";
    if (s->set.epsilon_cutoff) return "--epsilon-cutoff";
    if (s->set.eta_cutoff) return "--eta-cutoff";
    return NULL;
}

/* Flags that the chosen mode ignores, said as transformers' GenerationConfig
 * warns ("`do_sample` is set to `False`. However, `top_p` is set to ...").
 * A result that would be meaningless is an error instead (below). */
static void warn_conflicts(const gen_args *a) {
    const cli_sampling *s = &a->samp;
    if (a->set.greedy) {
        const struct { bool given; const char *flag; } w[] = {
            {s->set.temperature && s->p.temperature > 0, "--temp"}, {s->set.top_k, "--top-k"},
            {s->set.top_p, "--top-p"}, {s->set.min_p, "--min-p"}, {s->set.typical_p, "--typical-p"},
            {s->set.epsilon_cutoff, "--epsilon-cutoff"}, {s->set.eta_cutoff, "--eta-cutoff"},
        };
        for (size_t k = 0; k < sizeof w / sizeof w[0]; k++)
            if (w[k].given)
                cli_warn("%s is used only when sampling, and --greedy takes the most probable "
                         "token: %s is ignored (drop --greedy to sample)", w[k].flag, w[k].flag);
    }
    if (a->set.do_sample && s->set.temperature && s->p.temperature == 0)
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
    if (a->n_temps && a->samp.set.temperature) {
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
