/*
 * param_table.c - every scalar decoding parameter, described once: name,
 * aliases, flags, type, default, range, "off" value. The defaults, the
 * range checks and generation_config.json reading are loops over it.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "decode/decode.h"

#define INF INFINITY
#define S(field) offsetof(temper_generate_params, sampling.field)
#define G(field) offsetof(temper_generate_params, field)
#define F TEMPER_PARAM_FLOAT
#define I TEMPER_PARAM_INT
#define B TEMPER_PARAM_BOOL

/* name, aliases, flags, help, type, default, min, max, min_open, max_open,
 * off, warper, from_config, offset */
static const temper_param table[] = {
    {"do_sample", "", "--do-sample", "sample from the distribution instead of taking the argmax",
     B, 0, 0, 1, 0, 0, NAN, 0, 1, S(do_sample)},
    {"temperature", "temp", "--temp,--temperature", "divide the logits by T (0: greedy)",
     F, 1, 0, INF, 0, 1, 1, 1, 1, S(temperature)},
    {"top_k", "", "--top-k", "keep the K most likely tokens, ties with the K-th kept",
     I, 50, 0, INF, 0, 1, 0, 1, 1, S(top_k)},
    {"top_p", "", "--top-p", "keep the most likely tokens whose mass reaches P, the crossing one kept",
     F, 1, 0, 1, 0, 0, 1, 1, 1, S(top_p)},
    {"min_p", "", "--min-p", "remove tokens less likely than M x the top one",
     F, 0, 0, 1, 0, 0, 0, 1, 1, S(min_p)},
    {"typical_p", "typical,typ_p", "--typical-p", "locally typical sampling",
     F, 1, 0, 1, 1, 0, 1, 1, 1, S(typical_p)},
    {"epsilon_cutoff", "epsilon", "--epsilon-cutoff", "remove tokens with p < E",
     F, 0, 0, 1, 0, 1, 0, 1, 1, S(epsilon_cutoff)},
    {"eta_cutoff", "eta", "--eta-cutoff", "remove p < min(E, sqrt(E) exp(-entropy))",
     F, 0, 0, 1, 0, 1, 0, 1, 1, S(eta_cutoff)},
    {"min_keep", "min_tokens_to_keep", "--min-keep", "every filter keeps at least N tokens",
     I, 1, 1, INF, 0, 1, NAN, 0, 0, S(min_keep)},
    {"repetition_penalty", "repeat_penalty", "--repeat-penalty,--repetition-penalty",
     "divide (logit > 0) or multiply (logit < 0) the logits of tokens already seen by R",
     F, 1, 0, INF, 1, 1, 1, 0, 1, S(repetition_penalty)},
    {"presence_penalty", "", "--presence-penalty", "subtract A from tokens already generated",
     F, 0, -2, 2, 0, 0, 0, 0, 0, S(presence_penalty)},
    {"frequency_penalty", "", "--frequency-penalty",
     "subtract A x their count among the generated tokens",
     F, 0, -2, 2, 0, 0, 0, 0, 0, S(frequency_penalty)},
    {"no_repeat_ngram_size", "", "--no-repeat-ngram-size", "never repeat an N-gram",
     I, 0, 0, INF, 0, 1, 0, 0, 1, S(no_repeat_ngram_size)},
    {"min_new_tokens", "", "--min-new-tokens", "no end-of-sequence token before N new tokens",
     I, 0, 0, INF, 0, 1, 0, 0, 1, S(min_new_tokens)},
    {"max_new_tokens", "n_predict,max_tokens", "-n,--max-new-tokens,--n-predict",
     "most tokens to generate", I, 20, 0, INF, 0, 1, NAN, 0, 1, G(max_new_tokens)},
    {"num_return_sequences", "n", "--num-return-sequences", "sequences returned",
     I, 1, 1, INF, 0, 1, NAN, 0, 1, G(num_return_sequences)},
    {"num_beams", "", "--num-beams", "beam search with B beams (1: none)",
     I, 1, 1, INF, 0, 1, 1, 0, 1, G(num_beams)},
    {"length_penalty", "", "--length-penalty", "beam scores divided by length ^ L",
     F, 1, -INF, INF, 1, 1, NAN, 0, 1, G(length_penalty)},
    {"early_stopping", "", "--early-stopping", "beam search stop rule: 0 false, 1 true, 2 never",
     I, 0, 0, 2, 0, 0, NAN, 0, 1, G(early_stopping)},
    {"seed", "", "-s,--seed", "seed of the random streams", TEMPER_PARAM_SEED,
     0, 0, 18446744073709551615.0, 0, 0, NAN, 0, 0, G(seed)},
    {"ignore_eos", "", "--ignore-eos", "do not stop at an end-of-sequence token",
     B, 0, 0, 1, 0, 0, NAN, 0, 0, G(ignore_eos)},
    {"n_top", "n_probs,logprobs", "--n-probs", "alternatives recorded per token",
     I, 0, 0, 64, 0, 0, 0, 0, 0, G(n_top)},
};

const temper_param *temper_params(int *n) {
    if (n) *n = (int)(sizeof table / sizeof table[0]);
    return table;
}

/* a == b, case and '-' / '_' aside; leading dashes of b skipped when a has none. */
static int same_name(const char *a, size_t la, const char *b, size_t lb) {
    if (la != lb) return 0;
    for (size_t i = 0; i < la; i++) {
        char x = a[i] == '-' ? '_' : a[i], y = b[i] == '-' ? '_' : b[i];
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
        if (x != y) return 0;
    }
    return 1;
}

/* name is one of the comma-separated entries of list. */
static int in_list(const char *name, const char *list) {
    size_t ln = strlen(name);
    while (*list) {
        size_t n = strcspn(list, ",");
        if (same_name(name, ln, list, n)) return 1;
        list += n + (list[n] == ',');
    }
    return 0;
}

const temper_param *temper_param_find(const char *name) {
    if (!name || !*name) return NULL;
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
        if (in_list(name, table[k].name) || in_list(name, table[k].aliases) ||
            (name[0] == '-' && in_list(name, table[k].flags)))
            return &table[k];
    return NULL;
}

double temper_param_get(const temper_generate_params *p, const temper_param *d) {
    const char *at = (const char *)p + d->offset;
    switch (d->type) {
    case TEMPER_PARAM_FLOAT: return *(const float *)at;
    case TEMPER_PARAM_SEED: return (double)*(const uint64_t *)at;
    default: return *(const int *)at;
    }
}

/* "[0, 1]", ">= 0", "(0, 1]"... */
static void range_text(const temper_param *d, char *buf, size_t cap) {
    if (isinf(d->min) && isinf(d->max)) snprintf(buf, cap, "a finite value");
    else if (isinf(d->max))
        snprintf(buf, cap, "%s %s %g", d->type == TEMPER_PARAM_FLOAT ? "a value" : "a count",
                 d->min_open ? ">" : ">=", d->min);
    else
        snprintf(buf, cap, "%s in %c%g, %g%c", d->type == TEMPER_PARAM_FLOAT ? "a value" : "an integer",
                 d->min_open ? '(' : '[', d->min, d->max, d->max_open ? ')' : ']');
}

int temper_param_check(const temper_param *d, double v) {
    if (!d) return temper__error(TEMPER_EINVAL, "no such parameter");
    int ok = isfinite(v) && (d->min_open ? v > d->min : v >= d->min) &&
             (d->max_open ? v < d->max : v <= d->max);
    if (ok && d->type != TEMPER_PARAM_FLOAT && v != floor(v)) ok = 0;
    if (ok && d->type != TEMPER_PARAM_FLOAT && d->type != TEMPER_PARAM_SEED &&
        (v < INT32_MIN || v > INT32_MAX))
        ok = 0;
    if (ok) return 0;
    char range[64], off[48] = "";
    range_text(d, range, sizeof range);
    if (!isnan(d->off)) snprintf(off, sizeof off, " (%g turns it off)", d->off);
    if (d->type == TEMPER_PARAM_BOOL)
        return temper__error(TEMPER_EINVAL, "%s is %g: use 0 (false) or 1 (true)", d->name, v);
    return temper__error(TEMPER_EINVAL, "%s is %g: use %s%s", d->name, v, range, off);
}

int temper_param_set(temper_generate_params *p, const temper_param *d, double v) {
    if (!p || !d) return temper__error(TEMPER_EINVAL, "temper_param_set: params or parameter is NULL");
    int rc = temper_param_check(d, v);
    if (rc < 0) return rc;
    char *at = (char *)p + d->offset;
    switch (d->type) {
    case TEMPER_PARAM_FLOAT: *(float *)at = (float)v; break;
    case TEMPER_PARAM_SEED: *(uint64_t *)at = v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v; break;
    default: *(int *)at = (int)v; break;
    }
    return 0;
}

void temper__params_defaults(temper_generate_params *p) {
    memset(p, 0, sizeof *p);
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) temper_param_set(p, &table[k], table[k].def);
    p->sampling.order = TEMPER_ORDER_HF;
}

int temper__params_check(const temper_generate_params *p, int sampling_only) {
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) {
        /* (unsigned: an offset before `sampling` wraps to a large value) */
        int in_sampling = table[k].offset - offsetof(temper_generate_params, sampling) < sizeof p->sampling;
        if (sampling_only && !in_sampling) continue;
        if (table[k].type == TEMPER_PARAM_BOOL) continue; /* any non-zero int is true */
        int rc = temper_param_check(&table[k], temper_param_get(p, &table[k]));
        if (rc < 0) return rc;
    }
    return 0;
}
