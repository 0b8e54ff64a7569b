/*
 * cli_sampling.c - the decoding options shared by `temper softmax` and
 * `temper generate`: llama.cpp's flag names and transformers' names as
 * aliases, parsed into a temper_sampling_params. Values are range-checked
 * by the library (temper_sampler_init), which names the parameter.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char cli_sampling_help[] =
    "  --temp, --temperature T   divide the logits by T (default 1; 0: greedy)\n"
    "  --top-k K                 keep the K most likely tokens, ties with the\n"
    "                            K-th kept (0: off)\n"
    "  --top-p P                 keep the smallest set of most likely tokens\n"
    "                            whose mass reaches P, the crossing one kept\n"
    "                            (1: off)\n"
    "  --min-p M                 remove tokens less likely than M x the top one\n"
    "  --typical-p P             locally typical sampling (1: off)\n"
    "  --epsilon-cutoff E        remove tokens with p < E (0: off)\n"
    "  --eta-cutoff E            remove p < min(E, sqrt(E) exp(-entropy))\n"
    "  --min-keep N              every filter keeps at least N tokens (1)\n"
    "  --repeat-penalty, --repetition-penalty R\n"
    "                            divide (logit > 0) or multiply (logit < 0) the\n"
    "                            logit of every token already in the prompt or\n"
    "                            the output by R (1: off)\n"
    "  --presence-penalty A      subtract A from tokens already generated\n"
    "  --frequency-penalty A     subtract A x their count among generated tokens\n"
    "  --no-repeat-ngram-size N  never repeat an N-gram (0: off)\n"
    "  --logit-bias ID:BIAS      add BIAS to token ID's logit; -inf bans it\n"
    "                            (repeatable)\n"
    "  --suppress-tokens IDS     ban these token ids: 1,2,3\n"
    "  --sampler-order ORDER     hf (default: transformers' order, temperature\n"
    "                            first) or llama.cpp (temperature last)\n"
    "  --samplers LIST           explicit order: top_k,top_p,min_p,temperature\n"
    "                            (also typical_p, epsilon_cutoff, eta_cutoff)\n";

void cli_sampling_init(cli_sampling *s) {
    memset(s, 0, sizeof *s);
    s->p = temper_sampling_default_params();
}

void cli_sampling_free(cli_sampling *s) {
    free(s->bias);
    free(s->suppress);
    s->bias = NULL;
    s->suppress = NULL;
}

static int float_value(const char *opt, const char *v, float *out) {
    double d;
    if (cli_parse_double(v, &d, false) < 0) {
        cli_error("%s \"%s\": not a number: give e.g. %s 0.7", opt, v, opt);
        return -1;
    }
    *out = (float)d;
    return 0;
}

static int int_value(const char *opt, const char *v, int *out) {
    long n;
    if (cli_parse_int_opt(opt, v, -1000000000L, 1000000000L, &n) < 0) return -1;
    *out = (int)n;
    return 0;
}

/* "ID:BIAS" with BIAS a number, -inf or "false" (llama.cpp: ban). */
static int add_bias(cli_sampling *s, const char *v) {
    const char *colon = strchr(v, ':');
    long id;
    double b;
    char idbuf[32];
    size_t n = colon ? (size_t)(colon - v) : 0;
    if (!colon || n == 0 || n >= sizeof idbuf) goto bad;
    memcpy(idbuf, v, n);
    idbuf[n] = '\0';
    if (cli_parse_int(idbuf, &id) < 0 || id < 0 || id > INT32_MAX) goto bad;
    if (strcmp(colon + 1, "false") == 0) b = -INFINITY;
    else if (cli_parse_double(colon + 1, &b, true) < 0 || b == INFINITY) goto bad;
    temper_logit_bias *nb = realloc(s->bias, sizeof *nb * (size_t)(s->n_bias + 1));
    if (!nb) {
        cli_error("out of memory");
        return -1;
    }
    s->bias = nb;
    s->bias[s->n_bias].id = (temper_token)id;
    s->bias[s->n_bias].bias = (float)b;
    s->n_bias++;
    s->p.logit_bias = s->bias;
    s->p.n_logit_bias = s->n_bias;
    return 0;
bad:
    cli_error("--logit-bias \"%s\": give ID:BIAS, e.g. --logit-bias 50256:-inf "
              "(ban) or 262:2.5",
              v);
    return -1;
}

bool cli_sampling_param(const temper_param *d) {
    /* (unsigned: an offset before `sampling` wraps to a large value) */
    size_t at = d->offset - offsetof(temper_generate_params, sampling);
    return at < sizeof(temper_sampling_params) &&
           (d->type == TEMPER_PARAM_FLOAT || d->type == TEMPER_PARAM_INT) &&
           strcmp(d->name, "min_new_tokens") != 0; /* generate's: no EOS elsewhere */
}

bool cli_sampling_given(const cli_sampling *s, const char *name) {
    int n;
    const temper_param *t = temper_params(&n);
    const temper_param *d = temper_param_find(name);
    return d && d - t < CLI_MAX_PARAMS && s->given[d - t];
}

void cli_sampling_forget(cli_sampling *s, const char *name) {
    int n;
    const temper_param *t = temper_params(&n);
    const temper_param *d = temper_param_find(name);
    if (d && d - t < CLI_MAX_PARAMS) s->given[d - t] = false;
}

bool cli_sampling_any(const cli_sampling *s) {
    for (int k = 0; k < CLI_MAX_PARAMS; k++)
        if (s->given[k]) return true;
    return s->n_bias > 0 || s->n_suppress > 0 || s->p.samplers;
}

/* Consume argv[*i] if it is one of d's flags ("--temp,--temperature"):
 * 1 (value parsed into its field), 0, or -1 (message printed). */
static int param_opt(cli_sampling *s, const temper_param *d, int *i, int argc, char **argv) {
    for (const char *f = d->flags; *f;) {
        char flag[64];
        size_t len = strcspn(f, ",");
        snprintf(flag, sizeof flag, "%.*s", (int)len, f);
        f += len + (f[len] == ',');
        const char *v;
        int r = cli_opt(argv, argc, i, NULL, flag, &v);
        if (r == 0) continue;
        if (r < 0) return -1;
        /* the field in s->p: its offset in temper_generate_params, less sampling's */
        char *field = (char *)&s->p + (d->offset - offsetof(temper_generate_params, sampling));
        if (d->type == TEMPER_PARAM_FLOAT ? float_value(flag, v, (float *)field)
                                          : int_value(flag, v, (int *)field))
            return -1;
        return 1;
    }
    return 0;
}

int cli_sampling_opt(cli_sampling *s, int *i, int argc, char **argv) {
    const char *v;
    int r, n;
    temper_sampling_params *p = &s->p;
    const temper_param *t = temper_params(&n);
    for (int k = 0; k < n && k < CLI_MAX_PARAMS; k++) {
        if (!cli_sampling_param(&t[k]) || (r = param_opt(s, &t[k], i, argc, argv)) == 0) continue;
        if (r < 0) return -1;
        s->given[k] = true;
        return 1;
    }
    if ((r = cli_opt(argv, argc, i, NULL, "--logit-bias", &v)) != 0)
        return r < 0 || add_bias(s, v) < 0 ? -1 : 1;
    if ((r = cli_opt(argv, argc, i, NULL, "--suppress-tokens", &v)) != 0) {
        if (r < 0) return -1;
        free(s->suppress);
        s->suppress = NULL;
        if (cli_parse_ids(v, &s->suppress, &s->n_suppress) < 0) return -1;
        p->suppress_tokens = s->suppress;
        p->n_suppress = s->n_suppress;
        return 1;
    }
    if ((r = cli_opt(argv, argc, i, NULL, "--sampler-order", &v)) != 0) {
        if (r < 0) return -1;
        if (!strcmp(v, "hf") || !strcmp(v, "transformers")) p->order = TEMPER_ORDER_HF;
        else if (!strcmp(v, "llama.cpp") || !strcmp(v, "llama")) p->order = TEMPER_ORDER_LLAMA_CPP;
        else {
            cli_error("--sampler-order \"%s\": give hf or llama.cpp", v);
            return -1;
        }
        return 1;
    }
    if ((r = cli_opt(argv, argc, i, NULL, "--samplers", &v)) != 0) {
        if (r < 0) return -1;
        p->samplers = v; /* borrowed from argv */
        return 1;
    }
    return 0;
}
