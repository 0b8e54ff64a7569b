/*
 * temper_api.c - temper's own endpoints: each answers with the JSON
 * document of the matching command's --json, built by the library's
 * writer (temper_json_*), so that the server, the CLI and the Python
 * binding give the same objects (docs/json.md):
 *
 *   GET  /temper/info         `temper info`
 *   POST /temper/tokenize     `temper tokenize` (ids, tokens, byte offsets)
 *   POST /temper/detokenize   `temper detokenize`
 *   POST /temper/score        `temper score` (log p, power and temperature
 *                             scores, per token; pairs)
 *   POST /temper/probs        `temper probs` (the next-token table)
 *   POST /temper/softmax      `temper softmax` (given logits, no model)
 *
 * The documents' "model" is the -m value, as the CLI writes it.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

enum MHD_Result srv_reply_doc(srv_request *r, temper_json *j) {
    srv_error e = {0};
    if (!j || temper_json_finish(j) < 0) {
        temper_json_free(j);
        srv_fail(&e, 500, NULL, "out of memory for the reply");
        return srv_reply_error(r, &e);
    }
    size_t len = 0;
    const char *text = temper_json_text(j, &len);
    char *copy = malloc(len + 1);
    if (copy) memcpy(copy, text, len + 1);
    temper_json_free(j);
    if (!copy) {
        srv_fail(&e, 500, NULL, "out of memory for the reply");
        return srv_reply_error(r, &e);
    }
    return srv_reply_text(r, 200, "application/json", copy, len);
}

static const char *model_name(const srv_server *s) {
    return s->model_arg ? s->model_arg : s->cfg.model_name;
}

enum MHD_Result srv_temper_info(srv_request *r) {
    temper_model_info mi;
    temper_model_get_info(r->srv->model, &mi);
    temper_json *j = temper_json_new(NULL);
    if (j) temper_json_model_info(j, model_name(r->srv), &mi, 1);
    return srv_reply_doc(r, j);
}

enum MHD_Result srv_temper_tokenize(srv_request *r) {
    srv_server *s = r->srv;
    srv_error e = {0};
    cJSON *body = srv_parse_body(r->body, r->body_len, &e);
    if (!body) return srv_reply_error(r, &e);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "text");
    int add = 1, parse = 1;
    if (!cJSON_IsString(t)) srv_fail(&e, 400, "text", "text must be the text to tokenize");
    srv_json_bool(cJSON_GetObjectItemCaseSensitive(body, "add_special"), "add_special", &add, &e);
    srv_json_bool(cJSON_GetObjectItemCaseSensitive(body, "parse_special"), "parse_special", &parse, &e);
    temper_token *ids = NULL;
    int32_t *offs = NULL;
    int n = 0;
    if (!e.status) {
        n = temper_tokenize_alloc(s->tok, t->valuestring, strlen(t->valuestring),
                                  (add ? TEMPER_TOKENIZE_ADD_SPECIAL : 0) |
                                      (parse ? 0 : TEMPER_TOKENIZE_SPECIAL_AS_TEXT), &ids, &offs);
        if (n < 0) srv_fail(&e, 400, "text", "text: %s", temper_last_error());
    }
    cJSON_Delete(body);
    if (e.status) return srv_reply_error(r, &e);
    temper_json *j = temper_json_new(NULL);
    if (j) temper_json_tokenize(j, s->tok, ids, offs, n);
    temper_free(ids);
    temper_free(offs);
    return srv_reply_doc(r, j);
}

enum MHD_Result srv_temper_detokenize(srv_request *r) {
    srv_server *s = r->srv;
    srv_error e = {0};
    cJSON *body = srv_parse_body(r->body, r->body_len, &e);
    if (!body) return srv_reply_error(r, &e);
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(body, "ids");
    int skip = 0, n = cJSON_GetArraySize(ids);
    srv_json_bool(cJSON_GetObjectItemCaseSensitive(body, "skip_special_tokens"), "skip_special_tokens", &skip, &e);
    temper_token *v = cJSON_IsArray(ids) ? malloc(sizeof *v * (size_t)(n ? n : 1)) : NULL;
    if (!e.status && !v) srv_fail(&e, 400, "ids", "ids must be a list of token ids");
    for (int i = 0; !e.status && i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(ids, i);
        double d = cJSON_IsNumber(x) ? x->valuedouble : NAN;
        if (!isfinite(d) || d != floor(d) || d < 0 || d >= s->n_vocab)
            srv_fail(&e, 400, "ids", "ids[%d] is not a token id in [0, %d)", i, s->n_vocab);
        else v[i] = (temper_token)d;
    }
    cJSON_Delete(body);
    int len = e.status ? 0 : temper_detokenize(s->tok, v, n, skip ? TEMPER_DETOKENIZE_SKIP_SPECIAL : 0, NULL, 0);
    char *text = !e.status && len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (!e.status && !text) srv_fail(&e, 500, NULL, "%s", len < 0 ? temper_last_error() : "out of memory");
    if (e.status) {
        free(v);
        free(text);
        return srv_reply_error(r, &e);
    }
    temper_detokenize(s->tok, v, n, skip ? TEMPER_DETOKENIZE_SKIP_SPECIAL : 0, text, (size_t)len + 1);
    free(v);
    temper_json *j = temper_json_new(NULL);
    if (j) temper_json_detokenize(j, text, (size_t)len, n);
    free(text);
    return srv_reply_doc(r, j);
}

/* ---- the analyses' common flow */

srv_job *srv_api_job(srv_server *s, const char *text, size_t len, int fd, const srv_job_ops *ops, size_t size,
                     cJSON **body, srv_error *e) {
    *body = srv_parse_body(text, len, e);
    if (!*body) return NULL;
    srv_job *j = srv_job_new(s, ops);
    void *o = j ? calloc(1, size) : NULL;
    if (!o) {
        cJSON_Delete(*body);
        *body = NULL;
        srv_job_release(j);
        srv_fail(e, 500, NULL, "out of memory");
        return NULL;
    }
    j->user = o;
    j->fd = fd;
    return j;
}

int srv_prompts_bos(srv_server *s, srv_job *j, const char *field, srv_error *e) {
    temper_token bos = -1;
    if (temper_model_score_bos(s->model, &bos) < 0) return srv_fail(e, 400, field, "%s", temper_last_error());
    for (int i = 0; i < j->n_prompts; i++) {
        srv_prompt *p = &j->prompts[i];
        if (p->n > 0 && p->ids[0] == bos) continue; /* the tokenizer put it there (OPT) */
        temper_token *t = realloc(p->ids, sizeof *t * (size_t)(p->n + 1));
        if (!t) return srv_fail(e, 500, NULL, "out of memory");
        memmove(t + 1, t, sizeof *t * (size_t)p->n);
        t[0] = bos;
        p->ids = t;
        p->n++;
    }
    return 0;
}

srv_job *srv_api_ready(srv_job *j, srv_error *e, srv_error *out) {
    j->p.max_new_tokens = 0;
    if (!e->status) srv_job_setup(j, 1, e);
    if (!e->status) return j;
    *out = *e;
    srv_job_release(j);
    return NULL;
}

/* ---- /temper/score: each text scored in a slot by the scheduler */

typedef struct score_job {
    double alpha, temperature;
    int bos, pairs;
    temper_sequence_score *scores; /* (n_prompts) */
    double *lp;                    /* (n_prompts, n_ctx, 2): log p, tempered */
} score_job;

static int score_run(srv_job *j, srv_seq *q, temper_context *ctx, int slot) {
    score_job *o = j->user;
    const srv_prompt *pr = &j->prompts[q->prompt];
    temper_score_params sp = temper_score_default_params();
    sp.alpha = o->alpha;
    sp.temperature = o->temperature;
    sp.seq = slot;
    double *lp = o->lp + (size_t)q->prompt * 2 * (size_t)j->srv->n_ctx;
    return temper_score_sequence(ctx, pr->ids, pr->n, &sp, &o->scores[q->prompt], lp, lp + pr->n);
}

static void score_free(void *user) {
    score_job *o = user;
    free(o->scores);
    free(o->lp);
}

static temper_json *score_doc(srv_job *j) {
    srv_server *s = j->srv;
    score_job *o = j->user;
    temper_json_score_item *items = calloc((size_t)j->n_prompts, sizeof *items);
    temper_json *w = items ? temper_json_new(NULL) : NULL;
    for (int i = 0; w && i < j->n_prompts; i++) {
        const srv_prompt *p = &j->prompts[i];
        double *lp = o->lp + (size_t)i * 2 * (size_t)s->n_ctx;
        items[i] = (temper_json_score_item){.text = p->text, .ids = p->ids, .n = p->n, .logprobs = lp,
                                            .temp_logprobs = lp + p->n, .score = &o->scores[i]};
    }
    temper_json_scores d = {.model = model_name(s), .tok = s->tok, .alpha = o->alpha,
                            .temperature = o->temperature, .bos = o->bos, .items = items,
                            .n_items = j->n_prompts, .pairs = o->pairs};
    if (w) temper_json_score(w, &d);
    free(items);
    return w;
}

static const srv_job_ops score_ops = {.run = score_run, .free_user = score_free, .doc = score_doc};

srv_job *srv_temper_score_job(srv_server *s, const char *text, size_t len, int fd, srv_error *er) {
    srv_error e = {0};
    cJSON *body;
    srv_job *j = srv_api_job(s, text, len, fd, &score_ops, sizeof(score_job), &body, &e);
    if (!j) return *er = e, NULL;
    score_job *o = j->user;
    o->alpha = 2;
    o->temperature = 0.5;
    const cJSON *v;
    cJSON_ArrayForEach(v, body) {
        const char *k = v->string;
        if (!strcmp(k, "texts")) continue;
        if (!strcmp(k, "bos")) srv_json_bool(v, k, &o->bos, &e);
        else if (!strcmp(k, "pairs")) srv_json_bool(v, k, &o->pairs, &e);
        else if (!strcmp(k, "alpha") || !strcmp(k, "temperature")) {
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble <= 0)
                srv_fail(&e, 400, k, "%s must be a number > 0", k);
            else if (!strcmp(k, "alpha")) o->alpha = v->valuedouble;
            else o->temperature = v->valuedouble;
        } else {
            srv_fail_code(&e, 400, k, "unknown_parameter", "unknown field \"%.100s\": the fields are texts, "
                          "bos, pairs, alpha and temperature", k);
        }
    }
    if (!e.status)
        srv_parse_prompts_upto(s, cJSON_GetObjectItemCaseSensitive(body, "texts"), "texts", s->n_ctx,
                               &j->prompts, &j->n_prompts, &e);
    cJSON_Delete(body);
    if (!e.status && o->pairs && j->n_prompts % 2)
        srv_fail(&e, 400, "texts", "pairs: %d texts is an odd count: give texts two by two (A then B)",
                 j->n_prompts);
    if (!e.status && o->bos) srv_prompts_bos(s, j, "bos", &e); /* as `temper score --bos` */
    for (int i = 0; !e.status && i < j->n_prompts; i++) {
        const srv_prompt *p = &j->prompts[i];
        if (p->n < 2)
            srv_fail(&e, 400, "texts", "text %d has %d token: nothing to score (the first token is never "
                     "scored): set \"bos\": true to score it after the BOS token", i + 1, p->n);
        else if (p->n > s->n_ctx)
            srv_fail_code(&e, 400, "texts", "context_length_exceeded", "text %d has %d tokens: the "
                          "context window is %d", i + 1, p->n, s->n_ctx);
    }
    if (!e.status) {
        o->scores = calloc((size_t)j->n_prompts, sizeof *o->scores);
        o->lp = malloc(sizeof(double) * 2 * (size_t)s->n_ctx * (size_t)j->n_prompts);
        if (!o->scores || !o->lp) srv_fail(&e, 500, NULL, "out of memory");
    }
    return srv_api_ready(j, &e, er);
}

/* ---- /temper/probs: the next-token table after a prompt */

/* Whether the table's parameter d is a stage of the sampling chain. */
static int sampling_param(const temper_param *d) {
    return d->offset - offsetof(temper_generate_params, sampling) < sizeof(temper_sampling_params);
}

typedef struct probs_job {
    int top, controls, top_k_set;
    temper_generate_params p;
    temper_candidate *cands;       /* (top) */
    int n;
    temper_next_token_info info;
    char stages[256];
} probs_job;

static int probs_run(srv_job *j, srv_seq *q, temper_context *ctx, int slot) {
    probs_job *o = j->user;
    const srv_prompt *pr = &j->prompts[0];
    int V = j->srv->n_vocab, rc;
    float *logits = malloc(sizeof(float) * (size_t)V);
    temper_sampler *smp = NULL;
    if (!logits) return TEMPER_ENOMEM;
    rc = temper_seq_truncate(ctx, slot, 0);
    if (rc == 0) rc = temper_eval(ctx, slot, pr->ids, pr->n, logits, 0);
    if (rc == 0 && o->controls) { /* as `temper probs` with decoding controls */
        temper_sampling_params sp = o->p.sampling;
        if (!o->top_k_set) sp.top_k = 0;
        sp.do_sample = 1;
        rc = temper_sampler_init(&sp, V, &smp);
        if (rc == 0) temper_sampler_describe(smp, o->stages, sizeof o->stages);
        if (rc == 0) rc = temper_sampler_apply(smp, logits, pr->ids, pr->n, pr->n);
    }
    if (rc == 0) {
        o->n = temper_next_token_table(logits, V, smp, o->top, o->cands, &o->info);
        if (o->n < 0) rc = o->n;
    }
    temper_sampler_free(smp);
    free(logits);
    return rc < 0 ? -1 : 0;
}

static void probs_free(void *user) {
    free(((probs_job *)user)->cands);
}

static temper_json *probs_doc(srv_job *j) {
    probs_job *o = j->user;
    temper_json *w = temper_json_new(NULL);
    temper_json_next_tokens d = {.model = model_name(j->srv), .tok = j->srv->tok, .prompt = j->prompts[0].ids,
                                 .n_prompt = j->prompts[0].n, .cands = o->cands, .n = o->n, .info = &o->info,
                                 .stages = o->controls ? o->stages : NULL};
    if (w) temper_json_probs(w, &d);
    return w;
}

static const srv_job_ops probs_ops = {.run = probs_run, .free_user = probs_free, .doc = probs_doc};

srv_job *srv_temper_probs_job(srv_server *s, const char *text, size_t len, int fd, srv_error *er) {
    srv_error e = {0};
    cJSON *body;
    srv_job *j = srv_api_job(s, text, len, fd, &probs_ops, sizeof(probs_job), &body, &e);
    if (!j) return *er = e, NULL;
    probs_job *o = j->user;
    o->top = 10;
    o->p = temper_generate_default_params();
    const cJSON *v;
    cJSON_ArrayForEach(v, body) {
        const char *k = v->string;
        long n;
        if (!strcmp(k, "prompt")) continue;
        if (!strcmp(k, "top")) {
            if (srv_json_int(v, k, 1, 1L << 30, &n, &e) == 0) o->top = n < s->n_vocab ? (int)n : s->n_vocab;
            continue;
        }
        int got = srv_parse_param(&o->p, k, v, &e);
        const temper_param *d = got > 0 ? temper_param_find(k) : NULL;
        if (got == 0)
            srv_fail_code(&e, 400, k, "unknown_parameter", "unknown field \"%.100s\": the fields are prompt, "
                          "top and the decoding controls of temper's table", k);
        else if (d && sampling_param(d) &&
                 strcmp(d->name, "do_sample") && strcmp(d->name, "min_keep") && strcmp(d->name, "min_new_tokens")) {
            o->controls = 1;
            if (!strcmp(d->name, "top_k")) o->top_k_set = 1;
        }
    }
    if (!e.status)
        srv_parse_prompts_upto(s, cJSON_GetObjectItemCaseSensitive(body, "prompt"), "prompt", s->n_ctx,
                               &j->prompts, &j->n_prompts, &e);
    cJSON_Delete(body);
    if (!e.status && j->n_prompts != 1) srv_fail(&e, 400, "prompt", "prompt must be one text or one list of ids");
    if (!e.status && o->controls) {
        temper_sampling_params sp = o->p.sampling;
        temper_sampler *chk;
        if (!o->top_k_set) sp.top_k = 0;
        sp.do_sample = 1;
        if (temper_sampler_init(&sp, s->n_vocab, &chk) < 0) srv_fail(&e, 400, NULL, "%s", temper_last_error());
        else temper_sampler_free(chk);
    }
    if (!e.status && !(o->cands = malloc(sizeof *o->cands * (size_t)o->top))) srv_fail(&e, 500, NULL, "out of memory");
    return srv_api_ready(j, &e, er);
}

/* ---- /temper/softmax: a row of given logits (no model: answered at once) */

#define SM_MAX_TEMPS 16     /* as `temper softmax --temps` */
#define SM_MAX_SAMPLES 100000

typedef struct sm_req {
    float *logits;                 /* (n) */
    const char **names;            /* (n) borrowed from the body, or numbers */
    char (*numbers)[12];           /* (n) "0", "1", ... */
    int n;
    double temps[SM_MAX_TEMPS];
    int n_temps;
    long n_samples;
    uint64_t seed;
    temper_generate_params g;      /* g.sampling: the stages */
    double *cols;                  /* (n_temps, 3, n) scaled, prob, processed */
    temper_token *samples;         /* (n_temps, n_samples) */
    char stages[SM_MAX_TEMPS][256];
} sm_req;

static int sm_parse(srv_server *s, const cJSON *body, sm_req *q, srv_error *e) {
    const cJSON *logits = cJSON_GetObjectItemCaseSensitive(body, "logits");
    const cJSON *tokens = NULL, *v;
    int seeded = 0;
    q->g = temper_generate_default_params();
    q->g.sampling.top_k = 0; /* a toy table: no implicit top-k 50, as the command */
    cJSON_ArrayForEach(v, body) {
        const char *k = v->string;
        long n;
        if (!strcmp(k, "logits")) continue;
        if (!strcmp(k, "tokens")) tokens = v;
        else if (!strcmp(k, "sample")) {
            if (srv_json_int(v, k, 0, SM_MAX_SAMPLES, &n, e) == 0) q->n_samples = n;
        } else if (!strcmp(k, "seed")) {
            if (srv_json_int(v, k, 0, INT64_MAX, &n, e) == 0) q->seed = (uint64_t)n, seeded = 1;
        } else if (!strcmp(k, "temperature") || !strcmp(k, "temperatures")) {
            int one = k[11] == '\0', m = one ? 1 : cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
            if (q->n_temps)
                return srv_fail(e, 400, k, "give temperature or temperatures, once");
            if (m < 1 || m > SM_MAX_TEMPS)
                return srv_fail(e, 400, k, "temperatures must be a list of 1 to %d numbers >= 0", SM_MAX_TEMPS);
            for (int i = 0; i < m; i++) {
                const cJSON *t = one ? v : cJSON_GetArrayItem(v, i);
                if (!cJSON_IsNumber(t) || !isfinite(t->valuedouble) || t->valuedouble < 0)
                    return srv_fail(e, 400, k, "%s must be %s (0: greedy)", k,
                                    one ? "a number >= 0" : "a list of numbers >= 0");
                /* temperature is the table's float, as the command's --temp */
                q->temps[i] = one ? (double)(float)t->valuedouble : t->valuedouble;
            }
            q->n_temps = m;
        } else {
            const temper_param *d = temper_param_find(k);
            if (!d || !sampling_param(d) || !strcmp(d->name, "do_sample") || !strcmp(d->name, "temperature"))
                return srv_fail_code(e, 400, k, "unknown_parameter", "unknown field \"%.100s\": the fields "
                                     "are logits, tokens, temperature (or temperatures), sample, seed and "
                                     "the stages of temper's table (top_k, top_p, min_p, ...)", k);
            if (srv_parse_param(&q->g, k, v, e) < 0) return -1;
        }
    }
    q->n = cJSON_IsArray(logits) ? cJSON_GetArraySize(logits) : 0;
    if (q->n < 1)
        return srv_fail(e, 400, "logits", "logits must be a non-empty list of numbers (null or \"-inf\": a "
                        "banned token)");
    q->logits = malloc(sizeof *q->logits * (size_t)q->n);
    q->names = malloc(sizeof *q->names * (size_t)q->n);
    q->numbers = malloc(sizeof *q->numbers * (size_t)q->n);
    if (!q->logits || !q->names || !q->numbers) return srv_fail(e, 500, NULL, "out of memory");
    for (int i = 0; i < q->n; i++) {
        const cJSON *x = cJSON_GetArrayItem(logits, i);
        if (cJSON_IsNull(x) || (cJSON_IsString(x) && !strcmp(x->valuestring, "-inf"))) q->logits[i] = -INFINITY;
        else if (cJSON_IsNumber(x) && isfinite(x->valuedouble) && fabs(x->valuedouble) < 3e38)
            q->logits[i] = (float)x->valuedouble;
        else return srv_fail(e, 400, "logits", "logits[%d] is not a finite number (or null / \"-inf\" for a "
                             "banned token)", i);
        snprintf(q->numbers[i], sizeof q->numbers[i], "%d", i);
        q->names[i] = q->numbers[i];
    }
    if (tokens) {
        if (!cJSON_IsArray(tokens) || cJSON_GetArraySize(tokens) != q->n)
            return srv_fail(e, 400, "tokens", "tokens must be a list of %d names, one per logit", q->n);
        for (int i = 0; i < q->n; i++) {
            const cJSON *t = cJSON_GetArrayItem(tokens, i);
            if (!cJSON_IsString(t)) return srv_fail(e, 400, "tokens", "tokens[%d] must be a string", i);
            q->names[i] = t->valuestring;
        }
    }
    if (!q->n_temps) q->temps[q->n_temps++] = 1.0;
    if (!seeded) q->seed = temper_random_seed();
    (void)s;
    return 0;
}

enum MHD_Result srv_temper_softmax(srv_request *r) {
    srv_error e = {0};
    cJSON *body = srv_parse_body(r->body, r->body_len, &e);
    if (!body) return srv_reply_error(r, &e);
    sm_req q;
    memset(&q, 0, sizeof q);
    sm_parse(r->srv, body, &q, &e);
    size_t n = (size_t)q.n;
    if (!e.status) {
        q.cols = malloc(sizeof *q.cols * 3 * n * (size_t)q.n_temps);
        q.samples = malloc(sizeof *q.samples * (size_t)(q.n_samples ? q.n_samples : 1) * (size_t)q.n_temps);
        if (!q.cols || !q.samples) srv_fail(&e, 500, NULL, "out of memory");
    }
    temper_json_softmax_table t[SM_MAX_TEMPS];
    for (int k = 0; !e.status && k < q.n_temps; k++) {
        double *c = q.cols + 3 * n * (size_t)k;
        temper_token *smp = q.samples + (size_t)q.n_samples * (size_t)k;
        if (temper_softmax_table(q.logits, q.n, &q.g.sampling, q.temps[k], q.seed, q.n_samples, c, c + n,
                                 c + 2 * n, smp, q.stages[k], sizeof q.stages[k]) < 0)
            srv_fail(&e, 400, NULL, "%s", temper_last_error());
        t[k] = (temper_json_softmax_table){.temperature = q.temps[k], .samplers = q.stages[k], .scaled = c,
                                           .prob = c + n, .prob_processed = c + 2 * n, .samples = smp,
                                           .n_samples = q.n_samples};
    }
    temper_json *w = NULL;
    if (!e.status && (w = temper_json_new(NULL))) {
        temper_json_softmax_doc d = {.names = q.names, .logits = q.logits, .n = q.n, .seed = q.seed,
                                     .tables = t, .n_tables = q.n_temps};
        temper_json_softmax(w, &d);
    }
    free(q.logits);
    free(q.names);
    free(q.numbers);
    free(q.cols);
    free(q.samples);
    enum MHD_Result mr = e.status ? srv_reply_error(r, &e) : srv_reply_doc(r, w);
    cJSON_Delete(body); /* the names were borrowed from it */
    return mr;
}
