/*
 * params.c - default sampling parameters (the table's: transformers'
 * defaults), their validation, and the stage names used by --samplers.
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "decode/decode.h"

temper_sampling_params temper_sampling_default_params(void) {
    temper_generate_params g;
    temper__params_defaults(&g); /* the table's defaults: transformers' */
    return g.sampling;
}

const char *const temper__stage_names[TEMPER__ST_COUNT] = {
    [TEMPER__ST_LOGIT_BIAS] = "logit_bias",
    [TEMPER__ST_REPETITION] = "repetition_penalty",
    [TEMPER__ST_PRESENCE_FREQUENCY] = "presence_frequency",
    [TEMPER__ST_NO_REPEAT_NGRAM] = "no_repeat_ngram",
    [TEMPER__ST_MIN_NEW_TOKENS] = "min_new_tokens",
    [TEMPER__ST_SUPPRESS] = "suppress",
    [TEMPER__ST_TEMPERATURE] = "temperature",
    [TEMPER__ST_TOP_K] = "top_k",
    [TEMPER__ST_TOP_P] = "top_p",
    [TEMPER__ST_MIN_P] = "min_p",
    [TEMPER__ST_TYPICAL_P] = "typical_p",
    [TEMPER__ST_EPSILON] = "epsilon_cutoff",
    [TEMPER__ST_ETA] = "eta_cutoff",
};

static const struct {
    const char *name;
    int stage;
} stage_aliases[] = {
    {"bias", TEMPER__ST_LOGIT_BIAS},
    {"repeat_penalty", TEMPER__ST_REPETITION},
    {"repetition", TEMPER__ST_REPETITION},
    {"penalties", TEMPER__ST_PRESENCE_FREQUENCY},
    {"presence", TEMPER__ST_PRESENCE_FREQUENCY},
    {"frequency", TEMPER__ST_PRESENCE_FREQUENCY},
    {"no_repeat_ngram_size", TEMPER__ST_NO_REPEAT_NGRAM},
    {"suppress_tokens", TEMPER__ST_SUPPRESS},
    {"temp", TEMPER__ST_TEMPERATURE},
    {"k", TEMPER__ST_TOP_K},
    {"p", TEMPER__ST_TOP_P},
    {"typical", TEMPER__ST_TYPICAL_P},
    {"typ_p", TEMPER__ST_TYPICAL_P},
    {"epsilon", TEMPER__ST_EPSILON},
    {"eta", TEMPER__ST_ETA},
};

/* Names compare case-insensitively with '-' equal to '_'. */
static int name_eq(const char *s, size_t len, const char *name) {
    if (strlen(name) != len) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i] == '-' ? '_' : s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != name[i]) return 0;
    }
    return 1;
}

int temper__stage_from_name(const char *name, size_t len) {
    for (int i = 0; i < TEMPER__ST_COUNT; i++)
        if (name_eq(name, len, temper__stage_names[i])) return i;
    for (size_t i = 0; i < sizeof stage_aliases / sizeof stage_aliases[0]; i++)
        if (name_eq(name, len, stage_aliases[i].name))
            return stage_aliases[i].stage;
    return -1;
}

#define CHECK_RANGE(cond, ...)                                                \
    do {                                                                      \
        if (!(cond)) return temper__error(TEMPER_EINVAL, __VA_ARGS__);        \
    } while (0)

int temper_sampling_params_check(const temper_sampling_params *p) {
    if (!p) return temper__error(TEMPER_EINVAL, "sampling params are NULL");
    temper_generate_params g;
    memset(&g, 0, sizeof g);
    g.sampling = *p;
    int rc = temper__params_check(&g, 1); /* the ranges of the table */
    if (rc < 0) return rc;
    CHECK_RANGE(p->n_eos >= 0 && (p->n_eos == 0 || p->eos_ids),
                "n_eos is %d with eos_ids %s", p->n_eos,
                p->eos_ids ? "set" : "NULL");
    CHECK_RANGE(p->n_suppress >= 0 && (p->n_suppress == 0 || p->suppress_tokens),
                "n_suppress is %d with suppress_tokens %s", p->n_suppress,
                p->suppress_tokens ? "set" : "NULL");
    CHECK_RANGE(p->n_logit_bias >= 0 && (p->n_logit_bias == 0 || p->logit_bias),
                "n_logit_bias is %d with logit_bias %s", p->n_logit_bias,
                p->logit_bias ? "set" : "NULL");
    for (int i = 0; i < p->n_logit_bias; i++) {
        float b = p->logit_bias[i].bias;
        CHECK_RANGE(!isnan(b) && b != INFINITY,
                    "logit bias of token %d is %g: use a finite value, or "
                    "-inf to ban the token",
                    (int)p->logit_bias[i].id, (double)b);
    }
    CHECK_RANGE(p->order == TEMPER_ORDER_HF || p->order == TEMPER_ORDER_LLAMA_CPP,
                "sampler order %d is unknown: use TEMPER_ORDER_HF (0) or "
                "TEMPER_ORDER_LLAMA_CPP (1)",
                p->order);
    return 0;
}
