/*
 * llamacpp.c - llama.cpp's native API (tools/server/README.md of
 * llama.cpp): POST /completion, /tokenize, /detokenize, GET /props,
 * /slots, /metrics (Prometheus text).
 *
 * /completion keeps llama.cpp's defaults (temperature 0.8, top_k 40,
 * top_p 0.95, min_p 0.05, n_predict -1: until the context is full or
 * --max-tokens) and its sampler order (temperature last), and reads every
 * other decoding parameter through temper's table. Its log-probs are the
 * model's (raw); with post_sampling_probs, the probabilities after the
 * chain.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* The endpoint's state of a job. */
typedef struct lc_job {
    int many;          /* the prompt was a list of prompts: reply with an array */
    int n_cmpl;
    int return_tokens, post_sampling, stream;
    int n_predict;     /* as asked (-1: until the end) */
} lc_job;

/* ---- pieces of the replies */

static cJSON *token_bytes(const srv_server *s, temper_token id) {
    char raw[256];
    int n = temper_token_bytes(s->tok, id, raw, sizeof raw);
    if (n < 0) n = 0;
    if ((size_t)n > sizeof raw) n = (int)sizeof raw;
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((unsigned char)raw[i]));
    return a;
}

/* {"id", "token", "bytes", "logprob"} or with post: "prob". */
static cJSON *prob_item(const srv_server *s, temper_token id, float lp, float lp_proc, int post) {
    char str[1100];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", id);
    cJSON_AddStringToObject(o, "token", srv_token_string(s, id, str, sizeof str));
    cJSON_AddItemToObject(o, "bytes", token_bytes(s, id));
    if (post) cJSON_AddNumberToObject(o, "prob", isinf(lp_proc) ? 0.0 : exp((double)lp_proc));
    else cJSON_AddNumberToObject(o, "logprob", lp);
    return o;
}

/* completion_probabilities entry of token k of q. */
static cJSON *token_probs(const srv_job *j, const srv_seq *q, int k, int post) {
    const srv_server *s = j->srv;
    cJSON *o = prob_item(s, q->ids[k], q->lp[k], q->lp_proc[k], post);
    cJSON *top = cJSON_AddArrayToObject(o, post ? "top_probs" : "top_logprobs");
    int n = j->p.n_top;
    const temper_token_prob *t = q->top + (size_t)k * (size_t)n;
    int order[64];
    for (int i = 0; i < n; i++) order[i] = i;
    if (post) /* the kept ones, most likely after the chain first */
        for (int a = 1; a < n; a++)
            for (int b = a; b > 0 && t[order[b]].logprob_processed > t[order[b - 1]].logprob_processed; b--) {
                int x = order[b];
                order[b] = order[b - 1];
                order[b - 1] = x;
            }
    for (int i = 0; i < n; i++) {
        const temper_token_prob *c = &t[order[i]];
        if (post && isinf(c->logprob_processed)) continue;
        cJSON_AddItemToArray(top, prob_item(s, c->id, c->logprob, c->logprob_processed, post));
    }
    return o;
}

static const char *stop_type(int fr) {
    switch (fr) {
    case TEMPER_FINISH_EOS: return "eos";
    case TEMPER_FINISH_STOP: return "word";
    case TEMPER_FINISH_LENGTH:
    case TEMPER_FINISH_CONTEXT: return "limit";
    default: return "none";
    }
}

/* llama.cpp's names of three of the table's parameters. */
static const char *const lc_names[][2] = {
    {"max_new_tokens", "n_predict"}, {"repetition_penalty", "repeat_penalty"}, {"n_top", "n_probs"},
};

/* generation_settings: every parameter of the table under its name (and
 * llama.cpp's, where it has its own), the stop strings, the stage order. */
static cJSON *settings(const srv_server *s, const temper_generate_params *p, int n_predict,
                       const srv_job *j) {
    cJSON *o = cJSON_CreateObject();
    int n;
    const temper_param *t = temper_params(&n);
    for (int i = 0; i < n; i++) {
        double v = temper_param_get(p, &t[i]);
        if (t[i].type == TEMPER_PARAM_BOOL) cJSON_AddBoolToObject(o, t[i].name, v != 0);
        else cJSON_AddNumberToObject(o, t[i].name, v);
        for (size_t k = 0; k < sizeof lc_names / sizeof lc_names[0]; k++)
            if (!strcmp(lc_names[k][0], t[i].name))
                cJSON_AddNumberToObject(o, lc_names[k][1], !strcmp(t[i].name, "max_new_tokens") ? n_predict : v);
    }
    cJSON *stop = cJSON_AddArrayToObject(o, "stop");
    for (int i = 0; j && i < j->p.n_stop; i++) cJSON_AddItemToArray(stop, cJSON_CreateString(j->stop[i]));
    cJSON *smp = cJSON_AddArrayToObject(o, "samplers");
    temper_sampler *sm;
    if (temper_sampler_init(&p->sampling, s->n_vocab, &sm) == 0) {
        char buf[256];
        temper_sampler_describe(sm, buf, sizeof buf);
        temper_sampler_free(sm);
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ","))
            cJSON_AddItemToArray(smp, cJSON_CreateString(tok));
    }
    cJSON_AddNumberToObject(o, "n_ctx", s->n_ctx);
    cJSON_AddStringToObject(o, "model", s->cfg.model_name);
    return o;
}

static void add_timings(cJSON *o, const srv_job *j, const srv_seq *q, int n_prompt) {
    double t0 = j->t_started ? j->t_started : j->t_queued;
    double first = j->t_first ? j->t_first : (j->t_done ? j->t_done : t0);
    double end = j->t_done ? j->t_done : srv_now();
    double pms = 1e3 * (first - t0), gms = 1e3 * (end - first);
    cJSON *t = cJSON_AddObjectToObject(o, "timings");
    cJSON_AddNumberToObject(t, "cache_n", j->n_cached);
    cJSON_AddNumberToObject(t, "prompt_n", n_prompt);
    cJSON_AddNumberToObject(t, "prompt_ms", pms);
    cJSON_AddNumberToObject(t, "prompt_per_token_ms", n_prompt ? pms / n_prompt : 0);
    cJSON_AddNumberToObject(t, "prompt_per_second", pms > 0 ? 1e3 * n_prompt / pms : 0);
    cJSON_AddNumberToObject(t, "predicted_n", q->n);
    cJSON_AddNumberToObject(t, "predicted_ms", gms);
    cJSON_AddNumberToObject(t, "predicted_per_token_ms", q->n ? gms / q->n : 0);
    cJSON_AddNumberToObject(t, "predicted_per_second", gms > 0 ? 1e3 * q->n / gms : 0);
}

/* The whole result of sequence q (final: with settings and timings). */
static cJSON *result(srv_job *j, srv_seq *q, int final) {
    lc_job *o = j->user;
    const srv_server *s = j->srv;
    const srv_prompt *pr = &j->prompts[q->prompt];
    cJSON *r = cJSON_CreateObject();
    size_t end = srv_text_end(j, q, 1);
    char *content = strndup(q->text, end);
    cJSON_AddNumberToObject(r, "index", q->prompt * o->n_cmpl + q->index);
    cJSON_AddStringToObject(r, "content", content ? content : "");
    cJSON *toks = cJSON_AddArrayToObject(r, "tokens");
    for (int k = 0; o->return_tokens && k < q->n; k++) cJSON_AddItemToArray(toks, cJSON_CreateNumber(q->ids[k]));
    cJSON_AddNumberToObject(r, "id_slot", q->slot >= 0 ? q->slot : 0);
    cJSON_AddBoolToObject(r, "stop", final);
    cJSON_AddStringToObject(r, "model", s->cfg.model_name);
    cJSON_AddNumberToObject(r, "tokens_predicted", q->n);
    cJSON_AddNumberToObject(r, "tokens_evaluated", pr->n);
    cJSON_AddItemToObject(r, "generation_settings", settings(s, &j->p, o->n_predict, j));
    char *ptext = NULL;
    int pn = temper_detokenize(s->tok, pr->ids, pr->n, 0, NULL, 0);
    if (pn >= 0 && (ptext = malloc((size_t)pn + 1))) {
        temper_detokenize(s->tok, pr->ids, pr->n, 0, ptext, (size_t)pn + 1);
        ptext[pn] = '\0';
    }
    cJSON_AddStringToObject(r, "prompt", ptext ? ptext : "");
    free(ptext);
    cJSON_AddBoolToObject(r, "has_new_line", content && strchr(content, '\n'));
    cJSON_AddBoolToObject(r, "truncated", q->finish == TEMPER_FINISH_CONTEXT);
    cJSON_AddStringToObject(r, "stop_type", stop_type(q->finish));
    const char *word = "";
    if (q->finish == TEMPER_FINISH_STOP)
        for (int i = 0; i < j->p.n_stop; i++)
            if (strstr(q->text, j->stop[i]) == q->text + end) word = j->stop[i];
    cJSON_AddStringToObject(r, "stopping_word", word);
    cJSON_AddNumberToObject(r, "tokens_cached", j->n_cached);
    add_timings(r, j, q, pr->n);
    if (j->p.n_top > 0) {
        cJSON *cp = cJSON_AddArrayToObject(r, "completion_probabilities");
        for (int k = 0; k < q->n; k++) cJSON_AddItemToArray(cp, token_probs(j, q, k, o->post_sampling));
    }
    free(content);
    return r;
}

/* ---- streaming: an event per token, the last one with stop true */

static void emit(srv_job *j, cJSON *obj) {
    char *t = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (!t) return;
    size_t n = strlen(t);
    char *ev = malloc(n + 9);
    if (ev) {
        memcpy(ev, "data: ", 6);
        memcpy(ev + 6, t, n);
        memcpy(ev + 6 + n, "\n\n", 2);
        srv_job_emit(j, ev, n + 8);
    }
    free(ev);
    free(t);
}

static void stream_token(srv_job *j, srv_seq *q, int k) {
    lc_job *o = j->user;
    if (q->closed) return;
    size_t end = srv_text_end(j, q, q->finish != TEMPER_FINISH_NONE);
    cJSON *r = cJSON_CreateObject();
    char *piece = end > q->released ? strndup(q->text + q->released, end - q->released) : NULL;
    if (end > q->released) q->released = end;
    cJSON_AddNumberToObject(r, "index", q->prompt * o->n_cmpl + q->index);
    cJSON_AddStringToObject(r, "content", piece ? piece : "");
    free(piece);
    cJSON *toks = cJSON_AddArrayToObject(r, "tokens");
    cJSON_AddItemToArray(toks, cJSON_CreateNumber(q->ids[k]));
    cJSON_AddBoolToObject(r, "stop", 0);
    cJSON_AddNumberToObject(r, "id_slot", q->slot);
    cJSON_AddNumberToObject(r, "tokens_predicted", k + 1);
    cJSON_AddNumberToObject(r, "tokens_evaluated", j->prompts[q->prompt].n);
    if (j->p.n_top > 0) {
        cJSON *cp = cJSON_AddArrayToObject(r, "completion_probabilities");
        cJSON_AddItemToArray(cp, token_probs(j, q, k, o->post_sampling));
    }
    emit(j, r);
}

static void stream_done(srv_job *j) {
    if (j->err.status) {
        emit(j, srv_error_json(&j->err));
        return;
    }
    for (int i = 0; i < j->n_seqs; i++) {
        srv_seq *q = &j->seqs[i];
        if (j->canceled) continue;
        cJSON *r = result(j, q, 1);
        /* the text was streamed: the last event has the rest only */
        size_t end = srv_text_end(j, q, 1);
        char *rest = end > q->released ? strndup(q->text + q->released, end - q->released) : NULL;
        cJSON_ReplaceItemInObject(r, "content", cJSON_CreateString(rest ? rest : ""));
        free(rest);
        cJSON_DeleteItemFromObject(r, "completion_probabilities");
        emit(j, r);
    }
}

static const srv_job_ops stream_ops = {.token = stream_token, .done = stream_done};
static const srv_job_ops plain_ops = {0};

/* ---- request fields */

/* logit_bias: [[id, bias], [id, false], ["text", bias]] or {"id": bias}. */
static int parse_bias(srv_server *s, srv_job *j, const cJSON *v, srv_error *e) {
    const char *f = "logit_bias";
    srv_drop_logit_bias(j);
    if (!v || cJSON_IsNull(v)) return 0;
    if (cJSON_IsObject(v)) return srv_parse_logit_bias(s, j, v, f, e);
    if (!cJSON_IsArray(v))
        return srv_fail(e, 400, f, "logit_bias must be a list of [token id or text, bias or false] "
                        "pairs, or an object {\"id\": bias}");
    int cap = 0, n = 0;
    const cJSON *pair;
    cJSON_ArrayForEach(pair, v) {
        const cJSON *k = cJSON_GetArrayItem(pair, 0), *b = cJSON_GetArrayItem(pair, 1);
        if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || !(cJSON_IsNumber(k) || cJSON_IsString(k)) ||
            !(cJSON_IsFalse(b) || (cJSON_IsNumber(b) && isfinite(b->valuedouble))))
            return srv_fail(e, 400, f, "logit_bias[%d] must be [token id or text, bias or false]", n);
        temper_token one, *ids = &one;
        int m = 1;
        if (cJSON_IsNumber(k)) {
            if (k->valuedouble != floor(k->valuedouble) || k->valuedouble < 0 || k->valuedouble >= s->n_vocab)
                return srv_fail(e, 400, f, "logit_bias[%d]: token %.17g is not an id in [0, %d)", n,
                                k->valuedouble, s->n_vocab);
            one = (temper_token)k->valuedouble;
        } else if ((m = temper_tokenize_alloc(s->tok, k->valuestring, strlen(k->valuestring), 0, &ids,
                                              NULL)) < 0) {
            return srv_fail(e, 400, f, "logit_bias[%d]: %s", n, temper_last_error());
        }
        if (n + m > 4096) {
            if (ids != &one) temper_free(ids);
            return srv_fail(e, 400, f, "logit_bias has more than 4096 tokens");
        }
        if (n + m > cap) {
            cap = (n + m) * 2;
            temper_logit_bias *t = realloc(j->bias, sizeof *t * (size_t)cap);
            if (!t) {
                if (ids != &one) temper_free(ids);
                return srv_fail(e, 500, NULL, "out of memory");
            }
            j->bias = t;
        }
        for (int i = 0; i < m; i++) {
            j->bias[n].id = ids[i];
            j->bias[n++].bias = cJSON_IsFalse(b) ? -INFINITY : (float)b->valuedouble;
        }
        if (ids != &one) temper_free(ids);
    }
    j->p.sampling.logit_bias = j->bias;
    j->p.sampling.n_logit_bias = n;
    return 0;
}

/* samplers: llama.cpp's stage names into the library's order string; "dry"
 * and "xtc" (off by default, not in temper) are left out. */
static int parse_samplers(srv_job *j, const cJSON *v, char *buf, size_t cap, srv_error *e) {
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsArray(v)) return srv_fail(e, 400, "samplers", "samplers must be a list of stage names");
    size_t w = 0;
    buf[0] = '\0';
    const cJSON *x;
    cJSON_ArrayForEach(x, v) {
        if (!cJSON_IsString(x)) return srv_fail(e, 400, "samplers", "samplers must be a list of stage names");
        if (!strcmp(x->valuestring, "dry") || !strcmp(x->valuestring, "xtc")) continue;
        int n = snprintf(buf + w, cap - w, "%s%s", w ? "," : "", x->valuestring);
        if (n < 0 || (size_t)n >= cap - w) return srv_fail(e, 400, "samplers", "samplers is too long");
        w += (size_t)n;
    }
    j->p.sampling.samplers = buf;
    return 0;
}

/* Fields of llama.cpp that temper does not implement: refused when they
 * would change the result. */
static int unsupported(const char *k, const cJSON *v, srv_error *e) {
    static const char *const zero_ok[] = {"mirostat", "dry_multiplier", "xtc_probability", "dynatemp_range",
                                          "n_keep", "t_max_predict_ms", "n_indent"};
    for (size_t i = 0; i < sizeof zero_ok / sizeof zero_ok[0]; i++)
        if (!strcmp(k, zero_ok[i]) && cJSON_IsNumber(v) && v->valuedouble != 0 &&
            !(strcmp(k, "n_keep") == 0 && v->valuedouble == -1))
            return srv_fail(e, 400, k, "%s is not implemented by temper: leave it out (or 0)", k);
    if ((!strcmp(k, "grammar") || !strcmp(k, "json_schema")) && !cJSON_IsNull(v) &&
        !(cJSON_IsString(v) && !v->valuestring[0]) && !(cJSON_IsObject(v) && !v->child))
        return srv_fail(e, 400, k, "%s (constrained decoding) is not implemented by temper", k);
    return 0;
}

static int parse_completion(srv_server *s, const cJSON *body, srv_job *j, lc_job *o,
                            char *samplers, size_t samplers_cap, srv_error *e) {
    /* llama.cpp's defaults */
    temper_generate_params *p = &j->p;
    p->sampling.do_sample = 1;
    p->sampling.temperature = 0.8f;
    p->sampling.top_k = 40;
    p->sampling.top_p = 0.95f;
    p->sampling.min_p = 0.05f;
    p->sampling.order = TEMPER_ORDER_LLAMA_CPP;
    p->num_return_sequences = 1;
    o->n_predict = -1;
    o->n_cmpl = 1;
    j->cache_prompt = 1; /* llama.cpp's default */
    const cJSON *prompt = NULL, *v;
    int seeded = 0;
    cJSON_ArrayForEach(v, body) {
        const char *k = v->string;
        int rc = 0;
        long x;
        if (!strcmp(k, "prompt")) prompt = v;
        else if (!strcmp(k, "n_predict") || !strcmp(k, "max_tokens")) {
            if (!cJSON_IsNull(v) && (rc = srv_json_int(v, k, -1, s->cfg.max_tokens, &x, e)) == 0)
                o->n_predict = (int)x;
        } else if (!strcmp(k, "n_cmpl") || !strcmp(k, "n")) {
            if ((rc = srv_json_int(v, k, 1, s->cfg.max_choices, &x, e)) == 0) o->n_cmpl = (int)x;
        } else if (!strcmp(k, "seed")) {
            if (cJSON_IsNumber(v) && v->valuedouble == -1) continue; /* llama.cpp: random */
            if ((rc = srv_parse_param(p, k, v, e)) > 0) seeded = 1;
        } else if (!strcmp(k, "stream")) rc = srv_json_bool(v, k, &o->stream, e);
        else if (!strcmp(k, "return_tokens")) rc = srv_json_bool(v, k, &o->return_tokens, e);
        else if (!strcmp(k, "post_sampling_probs")) rc = srv_json_bool(v, k, &o->post_sampling, e);
        else if (!strcmp(k, "cache_prompt")) rc = srv_json_bool(v, k, &j->cache_prompt, e);
        else if (!strcmp(k, "stop")) rc = srv_parse_stop(j, v, k, e);
        else if (!strcmp(k, "logit_bias")) rc = parse_bias(s, j, v, e);
        else if (!strcmp(k, "samplers")) rc = parse_samplers(j, v, samplers, samplers_cap, e);
        else if (!strcmp(k, "min_keep") && cJSON_IsNumber(v) && v->valuedouble == 0) continue; /* llama.cpp's off */
        else if ((rc = unsupported(k, v, e)) == 0 && srv_parse_param(p, k, v, e) < 0) rc = -1;
        /* other fields (id_slot, response_fields, repeat_last_n, ...) are ignored */
        if (rc < 0) return -1;
    }
    if (!prompt) return srv_fail(e, 400, "prompt", "prompt is missing: give the text to continue");
    o->many = cJSON_IsArray(prompt) && cJSON_GetArraySize(prompt) > 0 &&
              !cJSON_IsNumber(cJSON_GetArrayItem(prompt, 0));
    if (srv_parse_prompts(s, prompt, "prompt", &j->prompts, &j->n_prompts, e) < 0) return -1;
    if ((long)o->n_cmpl * j->n_prompts > s->cfg.max_choices)
        return srv_fail(e, 400, "n_cmpl", "%d prompts x %d completions is more than %d (temper serve "
                        "--max-choices)", j->n_prompts, o->n_cmpl, s->cfg.max_choices);
    int longest = 0;
    for (int i = 0; i < j->n_prompts; i++) longest = j->prompts[i].n > longest ? j->prompts[i].n : longest;
    if (o->n_predict < 0) { /* until the context is full, within the server's limit */
        p->max_new_tokens = s->n_ctx - longest < s->cfg.max_tokens ? s->n_ctx - longest : s->cfg.max_tokens;
    } else {
        p->max_new_tokens = o->n_predict;
        if (longest + o->n_predict > s->n_ctx)
            return srv_fail_code(e, 400, "n_predict", "context_length_exceeded", "the context window is "
                                 "%d tokens, and the prompt has %d and n_predict asks for %d more", s->n_ctx,
                                 longest, o->n_predict);
    }
    if (p->num_beams > 1) return srv_fail(e, 400, "num_beams", "beam search is not available on /completion");
    p->num_return_sequences = 1;
    if (!seeded) p->seed = temper_random_seed();
    if (temper_generate_mode(p) < 0) return srv_fail(e, 400, NULL, "%s", temper_last_error());
    temper_sampler *chk;
    if (temper_sampler_init(&p->sampling, s->n_vocab, &chk) < 0)
        return srv_fail(e, 400, p->sampling.samplers ? "samplers" : NULL, "%s", temper_last_error());
    temper_sampler_free(chk);
    return 0;
}

srv_job *srv_lc_job(srv_server *s, const char *text, size_t len, int fd, srv_error *e) {
    cJSON *body;
    /* the state and the samplers string in one block (the job frees user) */
    srv_job *j = srv_api_job(s, text, len, fd, &plain_ops, sizeof(lc_job) + 512, &body, e);
    if (!j) return NULL;
    lc_job *o = j->user;
    int rc = parse_completion(s, body, j, o, (char *)(o + 1), 512, e);
    cJSON_Delete(body);
    if (rc == 0) {
        if (o->stream) j->ops = &stream_ops;
        rc = srv_job_setup(j, o->n_cmpl, e);
    }
    if (rc < 0) {
        srv_job_release(j);
        return NULL;
    }
    return j;
}

/* One result object, or a list of them (several prompts or n_cmpl). */
static enum MHD_Result reply(srv_request *r, srv_job *j) {
    lc_job *o = j->user;
    if (!o->many && j->n_seqs == 1) return srv_reply_json(r, 200, result(j, &j->seqs[0], 1));
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < j->n_seqs; i++) cJSON_AddItemToArray(arr, result(j, &j->seqs[i], 1));
    return srv_reply_json(r, 200, arr);
}

enum MHD_Result srv_lc_completion(srv_request *r) {
    srv_error e = {0};
    srv_job *j = srv_lc_job(r->srv, r->body, r->body_len, r->fd, &e);
    return srv_run_job(r, j, &e, j && ((lc_job *)j->user)->stream, reply);
}

/* ---- /tokenize, /detokenize */

cJSON *srv_lc_tokenize_json(srv_server *s, const char *text, size_t len, srv_error *er) {
    srv_error e = {0};
    cJSON *body = srv_parse_body(text, len, &e);
    if (!body) {
        *er = e;
        return NULL;
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(body, "content");
    int add = 0, parse = 1, pieces = 0;
    if (!cJSON_IsString(c)) srv_fail(&e, 400, "content", "content must be the text to tokenize");
    srv_json_bool(cJSON_GetObjectItemCaseSensitive(body, "add_special"), "add_special", &add, &e);
    srv_json_bool(cJSON_GetObjectItemCaseSensitive(body, "parse_special"), "parse_special", &parse, &e);
    srv_json_bool(cJSON_GetObjectItemCaseSensitive(body, "with_pieces"), "with_pieces", &pieces, &e);
    temper_token *ids = NULL;
    int n = 0;
    if (!e.status) {
        n = temper_tokenize_alloc(s->tok, c->valuestring, strlen(c->valuestring),
                                  (add ? TEMPER_TOKENIZE_ADD_SPECIAL : 0) |
                                      (parse ? 0 : TEMPER_TOKENIZE_SPECIAL_AS_TEXT), &ids, NULL);
        if (n < 0) srv_fail(&e, 400, "content", "content: %s", temper_last_error());
    }
    cJSON_Delete(body);
    if (e.status) {
        *er = e;
        return NULL;
    }
    cJSON *out = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(out, "tokens");
    for (int i = 0; i < n; i++) {
        if (!pieces) {
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids[i]));
            continue;
        }
        cJSON *t = cJSON_CreateObject();
        char str[1100];
        cJSON_AddNumberToObject(t, "id", ids[i]);
        srv_token_string(s, ids[i], str, sizeof str);
        if (strncmp(str, "bytes:", 6) == 0) cJSON_AddItemToObject(t, "piece", token_bytes(s, ids[i]));
        else cJSON_AddStringToObject(t, "piece", str);
        cJSON_AddItemToArray(arr, t);
    }
    temper_free(ids);
    return out;
}

enum MHD_Result srv_lc_tokenize(srv_request *r) {
    srv_error e = {0};
    cJSON *out = srv_lc_tokenize_json(r->srv, r->body, r->body_len, &e);
    return out ? srv_reply_json(r, 200, out) : srv_reply_error(r, &e);
}

cJSON *srv_lc_detokenize_json(srv_server *s, const char *in, size_t in_len, srv_error *er) {
    srv_error e = {0};
    cJSON *body = srv_parse_body(in, in_len, &e);
    if (!body) {
        *er = e;
        return NULL;
    }
    srv_prompt *p = NULL;
    int n = 0;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "tokens");
    if (cJSON_IsArray(t) && cJSON_GetArraySize(t) == 0) {
        cJSON_Delete(body);
        cJSON *out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "content", "");
        return out;
    }
    if (!cJSON_IsArray(t) || !cJSON_IsNumber(cJSON_GetArrayItem(t, 0)))
        srv_fail(&e, 400, "tokens", "tokens must be a list of token ids");
    else srv_parse_prompts_upto(s, t, "tokens", INT_MAX, &p, &n, &e); /* no context needed */
    cJSON_Delete(body);
    if (e.status) {
        *er = e;
        return NULL;
    }
    int len = temper_detokenize(s->tok, p[0].ids, p[0].n, 0, NULL, 0);
    char *text = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (text) {
        temper_detokenize(s->tok, p[0].ids, p[0].n, 0, text, (size_t)len + 1);
        text[len] = '\0';
    }
    srv_prompts_free(p, n);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "content", text ? text : "");
    free(text);
    return out;
}

enum MHD_Result srv_lc_detokenize(srv_request *r) {
    srv_error e = {0};
    cJSON *out = srv_lc_detokenize_json(r->srv, r->body, r->body_len, &e);
    return out ? srv_reply_json(r, 200, out) : srv_reply_error(r, &e);
}

/* ---- /props, /slots, /metrics */

enum MHD_Result srv_lc_props(srv_request *r) {
    srv_server *s = r->srv;
    cJSON *o = cJSON_CreateObject(), *d = cJSON_AddObjectToObject(o, "default_generation_settings");
    temper_generate_params p = s->defaults;
    p.sampling.do_sample = 1;
    p.sampling.temperature = 0.8f;
    p.sampling.top_k = 40;
    p.sampling.top_p = 0.95f;
    p.sampling.min_p = 0.05f;
    p.sampling.order = TEMPER_ORDER_LLAMA_CPP;
    cJSON_AddNumberToObject(d, "id", 0);
    cJSON_AddNumberToObject(d, "id_task", -1);
    cJSON_AddNumberToObject(d, "n_ctx", s->n_ctx);
    cJSON_AddBoolToObject(d, "speculative", 0);
    cJSON_AddBoolToObject(d, "is_processing", 0);
    cJSON_AddItemToObject(d, "params", settings(s, &p, -1, NULL));
    cJSON_AddStringToObject(d, "prompt", "");
    cJSON_AddNumberToObject(o, "total_slots", s->cfg.parallel);
    cJSON_AddStringToObject(o, "model_path", s->model_arg ? s->model_arg : "");
    cJSON_AddStringToObject(o, "chat_template", "");
    cJSON_AddObjectToObject(o, "modalities");
    cJSON_AddBoolToObject(cJSON_GetObjectItem(o, "modalities"), "vision", 0);
    char build[64];
    snprintf(build, sizeof build, "temper %s", temper_version());
    cJSON_AddStringToObject(o, "build_info", build);
    cJSON_AddStringToObject(o, "system_fingerprint", s->fingerprint);
    return srv_reply_json(r, 200, o);
}

enum MHD_Result srv_lc_slots(srv_request *r) {
    srv_server *s = r->srv;
    cJSON *arr = cJSON_CreateArray();
    int busy = 0;
    pthread_mutex_lock(&s->mu);
    for (int k = 0; k < s->cfg.parallel; k++) {
        srv_seq *q = s->slots ? s->slots[k] : NULL;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", k);
        cJSON_AddNumberToObject(o, "id_task", q ? (double)q->job->id : -1);
        cJSON_AddNumberToObject(o, "n_ctx", s->n_ctx);
        cJSON_AddBoolToObject(o, "speculative", 0);
        cJSON_AddBoolToObject(o, "is_processing", q != NULL);
        if (q) {
            busy++;
            cJSON_AddItemToObject(o, "params", settings(s, &q->job->p, q->job->p.max_new_tokens, q->job));
        }
        /* (the scheduler writes q->n without the lock: read it atomically; the
         * text it may be reallocating is not read here) */
        int decoded = q ? __atomic_load_n(&q->n, __ATOMIC_RELAXED) : 0;
        cJSON *nt = cJSON_AddObjectToObject(o, "next_token");
        cJSON_AddBoolToObject(nt, "has_next_token", q != NULL);
        cJSON_AddNumberToObject(nt, "n_remain", q ? q->cap - decoded : -1);
        cJSON_AddNumberToObject(nt, "n_decoded", decoded);
        cJSON_AddItemToArray(arr, o);
    }
    pthread_mutex_unlock(&s->mu);
    const char *fail = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "fail_on_no_slot");
    if (fail && !strcmp(fail, "1") && busy == s->cfg.parallel) {
        cJSON_Delete(arr);
        srv_error e = {0};
        srv_fail(&e, 503, NULL, "no slot available");
        return srv_reply_error(r, &e);
    }
    return srv_reply_json(r, 200, arr);
}

/* One metric in Prometheus' text format into buf at *w. */
static void metric(char *buf, size_t cap, size_t *w, const char *name, const char *type, const char *help,
                   double v) {
    if (*w >= cap) return;
    int n = snprintf(buf + *w, cap - *w, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type,
                     name, v);
    if (n > 0) *w += (size_t)n;
}

enum MHD_Result srv_lc_metrics(srv_request *r) {
    srv_server *s = r->srv;
    pthread_mutex_lock(&s->mu);
    srv_stats st = s->stats;
    int queued = s->n_queued, busy = 0;
    for (int k = 0; s->slots && k < s->cfg.parallel; k++) busy += s->slots[k] != NULL;
    pthread_mutex_unlock(&s->mu);
    size_t cap = 8192, w = 0;
    char *buf = malloc(cap);
    if (!buf) return MHD_NO;
    buf[0] = '\0';
    metric(buf, cap, &w, "llamacpp:prompt_tokens_total", "counter", "Number of prompt tokens processed.",
           (double)st.prompt_tokens);
    metric(buf, cap, &w, "llamacpp:tokens_predicted_total", "counter", "Number of generation tokens processed.",
           (double)st.gen_tokens);
    metric(buf, cap, &w, "llamacpp:requests_processing", "gauge", "Number of sequences in a slot.", busy);
    metric(buf, cap, &w, "llamacpp:requests_deferred", "gauge", "Number of requests waiting for a slot.", queued);
    metric(buf, cap, &w, "llamacpp:n_decode_total", "counter", "Decoding steps (one batched evaluation each).",
           (double)st.steps);
    metric(buf, cap, &w, "temper_http_requests_total", "counter", "HTTP requests received.", (double)st.requests);
    metric(buf, cap, &w, "temper_http_errors_total", "counter", "Replies with a 4xx or 5xx status.",
           (double)st.errors);
    metric(buf, cap, &w, "temper_requests_rejected_total", "counter", "Requests refused because the queue was full.",
           (double)st.rejected);
    metric(buf, cap, &w, "temper_requests_completed_total", "counter", "Generation requests finished.",
           (double)st.completions);
    metric(buf, cap, &w, "temper_request_seconds_total", "counter",
           "Sum of the time from queueing to the end of each finished request.", st.sum_latency);
    metric(buf, cap, &w, "temper_first_token_seconds_total", "counter",
           "Sum of the time from queueing to the first token of each finished request.", st.sum_first);
    return srv_reply_text(r, 200, "text/plain; version=0.0.4", buf, w < cap ? w : cap - 1);
}
