/*
 * sampler.c - the chain: which stages run and in what order, applying them
 * to a row, then picking a token and answering log-probability queries
 * about the row that was applied.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "tensor/simd.h"

struct temper_sampler {
    temper_sampling_params p;      /* scalars; the pointers below are ours */
    temper_token *eos;             /* (n_eos) owned */
    temper_token *suppress;        /* (n_suppress) owned */
    temper_logit_bias *bias;       /* (n_logit_bias) owned */
    int stages[TEMPER__ST_COUNT];  /* active stages, in order */
    int n_stages;
    int greedy;

    temper__row row;               /* arrays owned */
    uint32_t *mark;                /* (V) repetition-penalty stamps */
    uint32_t stamp;
    int32_t *counts;               /* (V) zeros between calls */

    const float *raw;              /* (V) borrowed: the last applied logits */
    float proc_max;                /* max processed score */
    int have_raw_norm, have_proc_norm;
    float raw_max;
    double raw_logz, proc_logz;    /* log sum exp(x - max) */
};

/* Is stage st active with these parameters? */
static int stage_active(const temper_sampling_params *p, int st) {
    switch (st) {
    case TEMPER__ST_LOGIT_BIAS: return p->n_logit_bias > 0;
    case TEMPER__ST_REPETITION: return p->repetition_penalty != 1.0f;
    case TEMPER__ST_PRESENCE_FREQUENCY:
        return p->presence_penalty != 0 || p->frequency_penalty != 0;
    case TEMPER__ST_NO_REPEAT_NGRAM: return p->no_repeat_ngram_size > 0;
    case TEMPER__ST_MIN_NEW_TOKENS: return p->min_new_tokens > 0 && p->n_eos > 0;
    case TEMPER__ST_SUPPRESS: return p->n_suppress > 0;
    case TEMPER__ST_TEMPERATURE: return p->temperature != 1.0f;
    case TEMPER__ST_TOP_K: return p->top_k > 0;
    case TEMPER__ST_TOP_P: return p->top_p < 1.0f;
    case TEMPER__ST_MIN_P: return p->min_p > 0;
    case TEMPER__ST_TYPICAL_P: return p->typical_p < 1.0f;
    case TEMPER__ST_EPSILON: return p->epsilon_cutoff > 0;
    case TEMPER__ST_ETA: return p->eta_cutoff > 0;
    }
    return 0;
}

static const int order_llama_cpp[] = {
    TEMPER__ST_LOGIT_BIAS,    TEMPER__ST_REPETITION,
    TEMPER__ST_PRESENCE_FREQUENCY, TEMPER__ST_NO_REPEAT_NGRAM,
    TEMPER__ST_MIN_NEW_TOKENS, TEMPER__ST_SUPPRESS,
    TEMPER__ST_TOP_K,         TEMPER__ST_TYPICAL_P,
    TEMPER__ST_TOP_P,         TEMPER__ST_MIN_P,
    TEMPER__ST_EPSILON,       TEMPER__ST_ETA,
    TEMPER__ST_TEMPERATURE,
};

/* Fill s->stages from the preset or the explicit list. */
static int build_order(temper_sampler *s) {
    const temper_sampling_params *p = &s->p;
    int listed[TEMPER__ST_COUNT] = {0};
    int order[TEMPER__ST_COUNT], n = 0;
    if (p->samplers) {
        int named[TEMPER__ST_COUNT], n_named = 0;
        const char *c = p->samplers;
        while (*c) {
            while (*c == ' ' || *c == ',' || *c == ';') c++;
            const char *start = c;
            while (*c && *c != ',' && *c != ';' && *c != ' ') c++;
            if (c == start) break;
            int st = temper__stage_from_name(start, (size_t)(c - start));
            if (st < 0)
                return temper__error(
                    TEMPER_EINVAL,
                    "unknown sampler \"%.*s\" in \"%s\": use names among "
                    "logit_bias, repetition_penalty, presence_frequency, "
                    "no_repeat_ngram, min_new_tokens, suppress, temperature, "
                    "top_k, top_p, min_p, typical_p, epsilon_cutoff, eta_cutoff",
                    (int)(c - start), start, p->samplers);
            if (listed[st])
                return temper__error(TEMPER_EINVAL,
                                     "sampler \"%s\" is listed twice in \"%s\"",
                                     temper__stage_names[st], p->samplers);
            listed[st] = 1;
            named[n_named++] = st;
        }
        for (int st = 0; st < TEMPER__ST_TEMPERATURE; st++)
            if (!listed[st]) order[n++] = st; /* processors first */
        for (int st = TEMPER__ST_TEMPERATURE; st < TEMPER__ST_COUNT; st++)
            if (!listed[st] && stage_active(p, st))
                return temper__error(
                    TEMPER_EINVAL,
                    "%s is set but not in the sampler list \"%s\": add it to "
                    "the list or turn it off",
                    temper__stage_names[st], p->samplers);
        for (int i = 0; i < n_named; i++) order[n++] = named[i];
    } else if (p->order == TEMPER_ORDER_LLAMA_CPP) {
        for (int i = 0; i < TEMPER__ST_COUNT; i++) order[n++] = order_llama_cpp[i];
    } else {
        for (int st = 0; st < TEMPER__ST_COUNT; st++) order[n++] = st;
    }
    s->n_stages = 0;
    for (int i = 0; i < n; i++) {
        int st = order[i];
        if (!stage_active(p, st)) continue;
        /* like transformers, warpers only shape a distribution to sample */
        if (s->greedy && st >= TEMPER__ST_TEMPERATURE) continue;
        s->stages[s->n_stages++] = st;
    }
    return 0;
}

static int check_ids(const char *what, const temper_token *ids, int n,
                     size_t stride, int V) {
    for (int i = 0; i < n; i++) {
        temper_token id = *(const temper_token *)((const char *)ids + stride * (size_t)i);
        if (id < 0 || id >= V)
            return temper__error(TEMPER_EINVAL,
                                 "%s: token id %d is outside the vocabulary "
                                 "[0, %d)",
                                 what, (int)id, V);
    }
    return 0;
}

/* malloc(n * size) copy of src; NULL (and *rc set) on OOM. */
static void *dup_array(const void *src, int n, size_t size, int *rc) {
    if (n == 0) return NULL;
    void *d = malloc(size * (size_t)n);
    if (!d) {
        *rc = temper__error(TEMPER_ENOMEM, "out of memory copying %d ids", n);
        return NULL;
    }
    memcpy(d, src, size * (size_t)n);
    return d;
}

int temper_sampler_init(const temper_sampling_params *p, int n_vocab,
                        temper_sampler **out) {
    int rc = temper__simd_check(); /* a TEMPER_SIMD this CPU cannot run */
    if (rc < 0) return rc;
    if ((rc = temper_sampling_params_check(p)) < 0) return rc;
    if (!out) return temper__error(TEMPER_EINVAL, "out is NULL");
    *out = NULL;
    if (n_vocab < 1)
        return temper__error(TEMPER_EINVAL, "n_vocab is %d: use a vocabulary "
                             "size >= 1", n_vocab);
    if ((rc = check_ids("eos_ids", p->eos_ids, p->n_eos, sizeof(temper_token),
                        n_vocab)) < 0 ||
        (rc = check_ids("suppress_tokens", p->suppress_tokens, p->n_suppress,
                        sizeof(temper_token), n_vocab)) < 0 ||
        (rc = check_ids("logit_bias", p->n_logit_bias ? &p->logit_bias[0].id : NULL,
                        p->n_logit_bias, sizeof(temper_logit_bias), n_vocab)) < 0)
        return rc;

    temper_sampler *s = calloc(1, sizeof *s);
    if (!s) return temper__error(TEMPER_ENOMEM, "out of memory for a sampler");
    s->p = *p;
    s->greedy = !p->do_sample || p->temperature == 0.0f;
    rc = 0;
    s->eos = dup_array(p->eos_ids, p->n_eos, sizeof(temper_token), &rc);
    s->suppress = dup_array(p->suppress_tokens, p->n_suppress,
                            sizeof(temper_token), &rc);
    s->bias = dup_array(p->logit_bias, p->n_logit_bias,
                        sizeof(temper_logit_bias), &rc);
    s->p.eos_ids = s->eos;
    s->p.suppress_tokens = s->suppress;
    s->p.logit_bias = s->bias;
    s->p.samplers = NULL; /* used only by build_order, below */
    size_t V = (size_t)n_vocab;
    s->row.V = n_vocab;
    s->row.buf = malloc(sizeof(float) * V);
    s->row.ids = malloc(sizeof(int32_t) * V);
    s->row.e = malloc(sizeof(float) * V);
    s->row.f = malloc(sizeof(float) * V);
    s->row.h = malloc(sizeof(float) * V);
    s->row.gap_p = 8.0f; /* nats below the max */
    s->row.g = malloc(sizeof(int32_t) * V);
    s->mark = calloc(V, sizeof(uint32_t));
    s->counts = calloc(V, sizeof(int32_t));
    if (rc == 0 && (!s->row.buf || !s->row.ids || !s->row.e || !s->row.f ||
                    !s->row.h || !s->row.g || !s->mark || !s->counts))
        rc = temper__error(TEMPER_ENOMEM, "out of memory for a sampler over "
                           "%d tokens", n_vocab);
    if (rc == 0) {
        temper_sampling_params q = s->p;
        s->p.samplers = p->samplers;
        rc = build_order(s);
        s->p = q;
    }
    if (rc < 0) {
        temper_sampler_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void temper_sampler_free(temper_sampler *s) {
    if (!s) return;
    free(s->eos);
    free(s->suppress);
    free(s->bias);
    free(s->row.buf);
    free(s->row.ids);
    free(s->row.e);
    free(s->row.f);
    free(s->row.h);
    free(s->row.g);
    free(s->mark);
    free(s->counts);
    free(s);
}

int temper_sampler_is_greedy(const temper_sampler *s) { return s->greedy; }

int temper_sampler_describe(const temper_sampler *s, char *buf, size_t cap) {
    size_t len = 0;
    for (int i = 0; i < s->n_stages; i++) {
        const char *name = temper__stage_names[s->stages[i]];
        size_t k = strlen(name) + (i > 0);
        if (buf && len + k < cap) {
            if (i > 0) buf[len] = ',';
            memcpy(buf + len + (i > 0), name, strlen(name));
        }
        len += k;
    }
    if (buf && cap > 0) buf[len < cap ? len : cap - 1] = '\0';
    return (int)len;
}

/* Point the row at logits (read in place), rejecting NaN and +inf. */
static int load_row(temper_sampler *s, const float *logits) {
    int V = s->row.V;
    int bad = temper__check_max(logits, V, &s->raw_max);
    if (bad >= 0)
        return temper__error(TEMPER_EINVAL,
                             "logit of token %d is %g: logits must be finite "
                             "or -inf",
                             bad, (double)logits[bad]);
    s->row.x = logits;
    s->row.n = V;
    s->row.sparse = 0;
    s->row.temp = 1.0f;
    s->row.max = s->raw_max;
    s->row.max_ok = 1;
    return 0;
}

static int run_stage(temper_sampler *s, int st, const temper_token *hist,
                     int n_hist, int n_prompt) {
    temper__row *r = &s->row;
    const temper_sampling_params *p = &s->p;
    switch (st) {
    case TEMPER__ST_LOGIT_BIAS:
        temper__apply_logit_bias(r, s->bias, p->n_logit_bias);
        break;
    case TEMPER__ST_REPETITION:
        temper__apply_repetition(r, p->repetition_penalty, hist, n_hist,
                                 s->mark, &s->stamp);
        break;
    case TEMPER__ST_PRESENCE_FREQUENCY:
        temper__apply_presence_frequency(r, p->presence_penalty,
                                         p->frequency_penalty, hist + n_prompt,
                                         n_hist - n_prompt, s->counts);
        break;
    case TEMPER__ST_NO_REPEAT_NGRAM:
        temper__apply_no_repeat_ngram(r, p->no_repeat_ngram_size, hist, n_hist);
        break;
    case TEMPER__ST_MIN_NEW_TOKENS:
        if (n_hist - n_prompt < p->min_new_tokens)
            temper__apply_ban(r, s->eos, p->n_eos);
        break;
    case TEMPER__ST_SUPPRESS:
        temper__apply_ban(r, s->suppress, p->n_suppress);
        break;
    case TEMPER__ST_TEMPERATURE:
        return temper__apply_temperature(r, p->temperature);
    case TEMPER__ST_TOP_K:
        temper__apply_top_k(r, p->top_k, p->min_keep);
        break;
    case TEMPER__ST_TOP_P:
        temper__apply_top_p(r, p->top_p, p->min_keep);
        break;
    case TEMPER__ST_MIN_P:
        temper__apply_min_p(r, p->min_p, p->min_keep);
        break;
    case TEMPER__ST_TYPICAL_P:
        return temper__apply_typical(r, p->typical_p, p->min_keep);
    case TEMPER__ST_EPSILON:
        temper__apply_epsilon(r, p->epsilon_cutoff, p->min_keep);
        break;
    case TEMPER__ST_ETA:
        temper__apply_eta(r, p->eta_cutoff, p->min_keep);
        break;
    }
    return 0;
}

int temper_sampler_apply(temper_sampler *s, const float *logits,
                         const temper_token *history, int n_history,
                         int n_prompt) {
    if (!s || !logits)
        return temper__error(TEMPER_EINVAL, "sampler or logits is NULL");
    s->raw = NULL;
    if (n_history < 0 || n_prompt < 0 || n_prompt > n_history ||
        (n_history > 0 && !history))
        return temper__error(TEMPER_EINVAL,
                             "history of %d tokens with a prompt of %d: the "
                             "prompt is the first n_prompt <= n_history ids",
                             n_history, n_prompt);
    int rc = check_ids("history", history, n_history, sizeof(temper_token),
                       s->row.V);
    if (rc < 0) return rc;
    if ((rc = load_row(s, logits)) < 0) return rc;
    for (int i = 0; i < s->n_stages; i++)
        if ((rc = run_stage(s, s->stages[i], history, n_history, n_prompt)) < 0)
            return rc;
    temper__row_settle(&s->row); /* queries read x */
    s->proc_max = s->n_stages ? temper__row_max(&s->row) : s->raw_max;
    if (s->proc_max == -INFINITY)
        return temper__error(TEMPER_EINVAL,
                             "every token is removed (all scores are -inf "
                             "after %d stages): relax the bans or biases",
                             s->n_stages);
    s->raw = logits;
    s->have_raw_norm = s->have_proc_norm = 0;
    return 0;
}

static int need_applied(const temper_sampler *s) {
    if (!s || !s->raw)
        return temper__error(TEMPER_ESTATE, "no row applied: call "
                             "temper_sampler_apply first");
    return 0;
}

int temper_sampler_sample(temper_sampler *s, temper_rng *rng,
                          temper_token *out) {
    int rc = need_applied(s);
    if (rc < 0) return rc;
    temper__row *r = &s->row;
    if (s->greedy) {
        /* first candidate (lowest id) holding the max: torch.argmax */
        if (!r->sparse) {
            *out = temper__first_eq(r->x, r->V, s->proc_max);
            return 0;
        }
        for (int j = 0; j < r->n; j++) {
            int id = temper__row_id(r, j);
            if (r->x[id] == s->proc_max) {
                *out = id;
                return 0;
            }
        }
        return temper__error(TEMPER_ESTATE, "max score not found");
    }
    if (!rng)
        return temper__error(TEMPER_EINVAL, "sampling needs a random stream "
                             "(rng is NULL)");
    double z = temper__row_exp(r, s->proc_max);
    s->proc_logz = log(z); /* the same sum proc_norm would compute */
    s->have_proc_norm = 1;
    int j = temper__walk_cdf(r->e, r->n, temper_rng_uniform(rng) * z);
    if (j < 0) return temper__error(TEMPER_ESTATE, "no token left to sample");
    *out = temper__row_id(r, j);
    return 0;
}

/* Is id a candidate of the (increasing) sparse list? */
static int is_candidate(const temper__row *r, int id) {
    if (!r->sparse) return 1;
    int lo = 0, hi = r->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (r->ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < r->n && r->ids[lo] == id;
}

/* log z of the raw and of the processed row. With no stage the two rows
 * are the same, and sampling has just summed the processed one: each sum
 * is computed once per row. */
static void raw_norm(temper_sampler *s) {
    if (s->have_raw_norm) return;
    if (s->have_proc_norm && s->n_stages == 0) s->raw_logz = s->proc_logz;
    else s->raw_logz = log(temper__exp_sub_sum(s->raw, s->raw_max, NULL, s->row.V));
    s->have_raw_norm = 1;
}

static void proc_norm(temper_sampler *s) {
    if (s->have_proc_norm) return;
    if (s->have_raw_norm && s->n_stages == 0) s->proc_logz = s->raw_logz;
    else s->proc_logz = log(temper__row_exp_sum(&s->row, s->proc_max));
    s->have_proc_norm = 1;
}

float temper_sampler_logprob(temper_sampler *s, temper_token id, int kind) {
    if (!s || !s->raw || id < 0 || id >= s->row.V) return NAN;
    if (kind == TEMPER_LOGPROB_RAW) {
        raw_norm(s);
        if (s->raw[id] == -INFINITY) return -INFINITY;
        return (float)((double)(s->raw[id] - s->raw_max) - s->raw_logz);
    }
    if (!is_candidate(&s->row, id) || s->row.x[id] == -INFINITY) return -INFINITY;
    proc_norm(s);
    return (float)((double)(s->row.x[id] - s->proc_max) - s->proc_logz);
}

int temper_sampler_scores(temper_sampler *s, float *out) {
    int rc = need_applied(s);
    if (rc < 0) return rc;
    const temper__row *r = &s->row;
    if (!r->sparse) {
        memcpy(out, r->x, sizeof(float) * (size_t)r->V);
        return 0;
    }
    for (int i = 0; i < r->V; i++) out[i] = -INFINITY;
    for (int j = 0; j < r->n; j++) out[r->ids[j]] = r->x[r->ids[j]];
    return 0;
}

int temper_sampler_n_kept(temper_sampler *s) {
    int rc = need_applied(s);
    if (rc < 0) return rc;
    return temper__row_n_finite(&s->row);
}

/* (value, id) a is worse than b: lower value, or equal value and higher id. */
static int worse(float va, int ia, float vb, int ib) {
    return va < vb || (va == vb && ia > ib);
}

static void top_sift_down(float *hv, int32_t *hi, int k, int i) {
    for (;;) {
        int c = 2 * i + 1;
        if (c >= k) return;
        if (c + 1 < k && worse(hv[c + 1], hi[c + 1], hv[c], hi[c])) c++;
        if (!worse(hv[c], hi[c], hv[i], hi[i])) return;
        float tv = hv[i];
        int32_t ti = hi[i];
        hv[i] = hv[c];
        hi[i] = hi[c];
        hv[c] = tv;
        hi[c] = ti;
        i = c;
    }
}

int temper_sampler_top(temper_sampler *s, int kind, int k, temper_token *ids,
                       float *logprobs) {
    int rc = need_applied(s);
    if (rc < 0) return rc;
    if (k < 0) return temper__error(TEMPER_EINVAL, "top: k is %d, use k >= 0", k);
    if (k > s->row.V) k = s->row.V;
    int raw = kind == TEMPER_LOGPROB_RAW;
    temper__row *r = &s->row;
    const float *x = raw ? s->raw : r->x;
    int n = raw ? r->V : r->n;
    /* min-heap of the k best (value, id): root is the worst kept.
     * Scratch: g for ids, and a malloc'd value array (f may hold raw exps). */
    float *hv = malloc(sizeof(float) * (size_t)(k > 0 ? k : 1));
    if (!hv) return temper__error(TEMPER_ENOMEM, "out of memory for top %d", k);
    int32_t *hi = r->g;
    int filled = 0;
    for (int j = 0; j < n; j++) {
        int id = raw ? j : temper__row_id(r, j);
        float v = x[id];
        if (v == -INFINITY) continue;
        if (filled < k) {
            int i = filled++;
            hv[i] = v;
            hi[i] = id;
            while (i > 0 && worse(hv[i], hi[i], hv[(i - 1) / 2], hi[(i - 1) / 2])) {
                int par = (i - 1) / 2;
                float tv = hv[i];
                int32_t ti = hi[i];
                hv[i] = hv[par];
                hi[i] = hi[par];
                hv[par] = tv;
                hi[par] = ti;
                i = par;
            }
        } else if (k > 0 && worse(hv[0], hi[0], v, id)) {
            hv[0] = v;
            hi[0] = id;
            top_sift_down(hv, hi, k, 0);
        }
    }
    /* pop the worst to the back: the array ends up best first */
    for (int m = filled; m > 1; m--) {
        float tv = hv[0];
        int32_t ti = hi[0];
        hv[0] = hv[m - 1];
        hi[0] = hi[m - 1];
        hv[m - 1] = tv;
        hi[m - 1] = ti;
        top_sift_down(hv, hi, m - 1, 0);
    }
    for (int i = 0; i < filled; i++) {
        ids[i] = hi[i];
        if (logprobs) logprobs[i] = temper_sampler_logprob(s, hi[i], kind);
    }
    free(hv);
    return filled;
}
