/*
 * openai.c - OpenAI's API: GET /v1/models, POST /v1/completions (the
 * legacy completions endpoint, which has log-probabilities and echo), and
 * a clear 400 for /v1/chat/completions.
 *
 * Semantics (docs/api.md): sampling at temperature 1 unless the request
 * says otherwise, temperature 0 is greedy; top_k is off unless asked for
 * (or set by generation_config.json); max_tokens defaults to 16. Log-probs
 * are those of the model (log_softmax of the logits, before any decoding
 * control); top_logprobs holds the `logprobs` best tokens plus the chosen
 * one. Stop strings end the text before them. text_offset counts the
 * characters of the tokens before each one.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

/* The endpoint's state of a job. */
typedef struct oa_job {
    char id[48];
    long created;
    int n, best_of;
    int logprobs;      /* -1: none */
    int echo, stream, include_usage;
} oa_job;

/* ---- text helpers */

size_t srv_utf8_chars(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* 1 when s (n bytes) is valid UTF-8. */
static int utf8_valid(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n || (k == 2 && c < 0xC2)) return 0;
        for (size_t m = 1; m < k; m++)
            if ((s[i + m] & 0xC0) != 0x80) return 0;
        if (k == 3 && ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] >= 0xA0))) return 0;
        if (k == 4 && ((c == 0xF0 && s[i + 1] < 0x90) || c > 0xF4 || (c == 0xF4 && s[i + 1] >= 0x90)))
            return 0;
        i += k;
    }
    return 1;
}

const char *srv_token_string(const srv_server *s, temper_token id, char *buf, size_t cap) {
    char raw[256];
    int n = temper_token_bytes(s->tok, id, raw, sizeof raw);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof raw) n = (int)sizeof raw - 1;
    if (utf8_valid((const unsigned char *)raw, (size_t)n)) {
        snprintf(buf, cap, "%.*s", n, raw);
        return buf;
    }
    size_t w = (size_t)snprintf(buf, cap, "bytes:");
    for (int i = 0; i < n && w + 5 < cap; i++)
        w += (size_t)snprintf(buf + w, cap - w, "\\x%02x", (unsigned char)raw[i]);
    return buf;
}

/* The OpenAI name of a finish reason. */
static const char *finish_name(int fr) {
    switch (fr) {
    case TEMPER_FINISH_EOS:
    case TEMPER_FINISH_STOP: return "stop";
    case TEMPER_FINISH_LENGTH:
    case TEMPER_FINISH_CONTEXT: return "length";
    default: return temper_finish_reason_name(fr);
    }
}

/* ---- logprobs objects */

typedef struct oa_lp {
    cJSON *obj, *tokens, *lps, *tops, *offs;
} oa_lp;

static void lp_init(oa_lp *l) {
    l->obj = cJSON_CreateObject();
    l->tokens = cJSON_AddArrayToObject(l->obj, "tokens");
    l->lps = cJSON_AddArrayToObject(l->obj, "token_logprobs");
    l->tops = cJSON_AddArrayToObject(l->obj, "top_logprobs");
    l->offs = cJSON_AddArrayToObject(l->obj, "text_offset");
}

/* One token: its string, log-prob (NAN: null), the best alternatives
 * (top, n_top; NULL: null) with the token itself, and its offset. Adds
 * the token's characters to *offset. */
static void lp_add(const srv_server *s, oa_lp *l, temper_token id, double lp,
                   const temper_token_prob *top, int n_top, int with_top, size_t *offset) {
    char str[1100];
    srv_token_string(s, id, str, sizeof str);
    cJSON_AddItemToArray(l->tokens, cJSON_CreateString(str));
    cJSON_AddItemToArray(l->lps, isnan(lp) ? cJSON_CreateNull() : cJSON_CreateNumber(lp));
    if (!with_top || isnan(lp)) {
        cJSON_AddItemToArray(l->tops, cJSON_CreateNull());
    } else {
        cJSON *t = cJSON_CreateObject();
        char alt[1100];
        int has_self = 0;
        for (int i = 0; i < n_top; i++) {
            srv_token_string(s, top[i].id, alt, sizeof alt);
            if (top[i].id == id) has_self = 1;
            if (!cJSON_GetObjectItemCaseSensitive(t, alt))
                cJSON_AddNumberToObject(t, alt, top[i].logprob);
        }
        if (!has_self && !cJSON_GetObjectItemCaseSensitive(t, str)) cJSON_AddNumberToObject(t, str, lp);
        cJSON_AddItemToArray(l->tops, t);
    }
    cJSON_AddItemToArray(l->offs, cJSON_CreateNumber((double)*offset));
    *offset += srv_utf8_chars(str, strlen(str));
}

/* The prompt's tokens (echo) into l. */
static void lp_prompt(const srv_job *j, const srv_prompt *pr, oa_lp *l, size_t *offset) {
    int k = j->echo_top;
    for (int i = 0; i < pr->n; i++)
        lp_add(j->srv, l, pr->ids[i], pr->lp ? pr->lp[i] : NAN,
               pr->top ? pr->top + (size_t)i * (size_t)k : NULL, k, 1, offset);
}

/* The text of prompt pr for echo (malloc'd). */
static char *prompt_text(const srv_server *s, const srv_prompt *pr) {
    if (pr->text) return strdup(pr->text);
    int n = temper_detokenize(s->tok, pr->ids, pr->n, TEMPER_DETOKENIZE_SKIP_SPECIAL, NULL, 0);
    char *t = malloc(n > 0 ? (size_t)n + 1 : 1);
    if (!t) return NULL;
    t[0] = '\0';
    if (n > 0) temper_detokenize(s->tok, pr->ids, pr->n, TEMPER_DETOKENIZE_SKIP_SPECIAL, t, (size_t)n + 1);
    if (n > 0) t[n] = '\0';
    return t;
}

/* ---- the response objects */

static cJSON *response_head(const srv_job *j, const oa_job *o) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "id", o->id);
    cJSON_AddStringToObject(r, "object", "text_completion");
    cJSON_AddNumberToObject(r, "created", (double)o->created);
    cJSON_AddStringToObject(r, "model", j->srv->cfg.model_name);
    cJSON_AddStringToObject(r, "system_fingerprint", j->srv->fingerprint);
    return r;
}

static cJSON *usage(const srv_job *j) {
    long pt = 0, ct = 0;
    for (int i = 0; i < j->n_prompts; i++) pt += j->prompts[i].n;
    for (int i = 0; i < j->n_seqs; i++) ct += j->seqs[i].n;
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)pt);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)ct);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(pt + ct));
    return u;
}

/* Mean raw log-prob of q's tokens: best_of's ranking. */
static double seq_rank(const srv_seq *q) {
    double sum = 0;
    for (int k = 0; k < q->n; k++) sum += q->lp[k];
    return q->n ? sum / q->n : 0;
}

/* The whole response of a finished job (not streamed). */
static cJSON *response(srv_job *j) {
    oa_job *o = j->user;
    cJSON *r = response_head(j, o), *choices = cJSON_AddArrayToObject(r, "choices");
    int P = j->per_prompt;
    int *order = malloc(sizeof(int) * (size_t)P);
    for (int pi = 0; order && pi < j->n_prompts; pi++) {
        const srv_prompt *pr = &j->prompts[pi];
        srv_seq *qs = &j->seqs[(size_t)pi * (size_t)P];
        for (int i = 0; i < P; i++) order[i] = i;
        if (o->best_of > o->n) /* the n best of best_of, best first (stable) */
            for (int a = 1; a < P; a++)
                for (int b = a; b > 0 && seq_rank(&qs[order[b]]) > seq_rank(&qs[order[b - 1]]); b--) {
                    int t = order[b];
                    order[b] = order[b - 1];
                    order[b - 1] = t;
                }
        char *ptext = o->echo ? prompt_text(j->srv, pr) : NULL;
        for (int c = 0; c < o->n; c++) {
            srv_seq *q = &qs[order[c]];
            size_t end = srv_text_end(j, q, 1);
            cJSON *ch = cJSON_CreateObject();
            size_t pl = ptext ? strlen(ptext) : 0;
            char *text = malloc(pl + end + 1);
            if (text) {
                memcpy(text, ptext ? ptext : "", pl);
                memcpy(text + pl, q->text, end);
                text[pl + end] = '\0';
            }
            cJSON_AddStringToObject(ch, "text", text ? text : "");
            free(text);
            cJSON_AddNumberToObject(ch, "index", pi * o->n + c);
            if (o->logprobs >= 0) {
                oa_lp l;
                lp_init(&l);
                size_t off = 0;
                if (o->echo) lp_prompt(j, pr, &l, &off);
                for (int k = 0; k < q->n; k++)
                    lp_add(j->srv, &l, q->ids[k], q->lp[k],
                           q->top ? q->top + (size_t)k * (size_t)j->p.n_top : NULL, j->p.n_top, 1, &off);
                cJSON_AddItemToObject(ch, "logprobs", l.obj);
            } else {
                cJSON_AddNullToObject(ch, "logprobs");
            }
            cJSON_AddStringToObject(ch, "finish_reason", finish_name(q->finish));
            cJSON_AddItemToArray(choices, ch);
        }
        free(ptext);
    }
    free(order);
    cJSON_AddItemToObject(r, "usage", usage(j));
    return r;
}

/* ---- streaming: one event per token and choice */

static void emit_json(srv_job *j, cJSON *obj) {
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

/* One chunk of choice q: the text from q->released to end, the tokens
 * [k0, k1) (logprobs), the echo first when not sent yet, and the finish
 * reason when final. */
static void emit_chunk(srv_job *j, srv_seq *q, int k0, int k1, size_t end, int final) {
    oa_job *o = j->user;
    const srv_prompt *pr = &j->prompts[q->prompt];
    cJSON *r = response_head(j, o), *choices = cJSON_AddArrayToObject(r, "choices");
    cJSON *ch = cJSON_CreateObject();
    char *ptext = !q->echoed && o->echo ? prompt_text(j->srv, pr) : NULL;
    size_t pl = ptext ? strlen(ptext) : 0, tl = end > q->released ? end - q->released : 0;
    char *text = malloc(pl + tl + 1);
    if (text) {
        memcpy(text, ptext ? ptext : "", pl);
        memcpy(text + pl, q->text + q->released, tl);
        text[pl + tl] = '\0';
    }
    free(ptext);
    cJSON_AddStringToObject(ch, "text", text ? text : "");
    free(text);
    if (end > q->released) q->released = end;
    cJSON_AddNumberToObject(ch, "index", q->prompt * o->n + q->index);
    if (o->logprobs >= 0) {
        oa_lp l;
        lp_init(&l);
        if (!q->echoed && o->echo) lp_prompt(j, pr, &l, &q->offset);
        for (int k = k0; k < k1; k++)
            lp_add(j->srv, &l, q->ids[k], q->lp[k],
                   q->top ? q->top + (size_t)k * (size_t)j->p.n_top : NULL, j->p.n_top, 1, &q->offset);
        cJSON_AddItemToObject(ch, "logprobs", l.obj);
    } else {
        cJSON_AddNullToObject(ch, "logprobs");
    }
    q->echoed = 1;
    if (final) cJSON_AddStringToObject(ch, "finish_reason", finish_name(q->finish));
    else cJSON_AddNullToObject(ch, "finish_reason");
    if (final) q->closed = 1;
    cJSON_AddItemToArray(choices, ch);
    emit_json(j, r);
}

static void stream_token(srv_job *j, srv_seq *q, int k) {
    if (q->closed) return;
    int final = q->finish != TEMPER_FINISH_NONE;
    emit_chunk(j, q, k, k + 1, srv_text_end(j, q, final), final);
}

static void stream_done(srv_job *j) {
    oa_job *o = j->user;
    for (int i = 0; i < j->n_seqs; i++) {
        srv_seq *q = &j->seqs[i];
        if (!q->closed && !(j->canceled && !j->err.status)) emit_chunk(j, q, q->n, q->n, srv_text_end(j, q, 1), 1);
    }
    if (j->err.status) {
        emit_json(j, srv_error_json(&j->err));
    } else if (o->include_usage) {
        cJSON *r = response_head(j, o);
        cJSON_AddArrayToObject(r, "choices");
        cJSON_AddItemToObject(r, "usage", usage(j));
        emit_json(j, r);
    }
    static const char done[] = "data: [DONE]\n\n";
    srv_job_emit(j, done, sizeof done - 1);
}

static const srv_job_ops stream_ops = {.token = stream_token, .done = stream_done};
static const srv_job_ops plain_ops = {0};

/* ---- the endpoints */

enum MHD_Result srv_openai_models(srv_request *r) {
    srv_server *s = r->srv;
    temper_model_info mi;
    temper_model_get_info(s->model, &mi);
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(root, "data"), *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", s->cfg.model_name);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)s->started);
    cJSON_AddStringToObject(m, "owned_by", "temper");
    cJSON *meta = cJSON_AddObjectToObject(m, "meta"); /* llama.cpp's facts */
    cJSON_AddStringToObject(meta, "arch", mi.arch);
    cJSON_AddNumberToObject(meta, "n_vocab", mi.n_vocab);
    cJSON_AddNumberToObject(meta, "n_ctx_train", mi.n_ctx);
    cJSON_AddNumberToObject(meta, "n_ctx", s->n_ctx);
    cJSON_AddNumberToObject(meta, "n_embd", mi.n_embd);
    cJSON_AddNumberToObject(meta, "n_params", (double)mi.n_params);
    cJSON_AddNumberToObject(meta, "size", (double)mi.file_bytes);
    cJSON_AddStringToObject(meta, "dtype", mi.dtype);
    cJSON_AddItemToArray(data, m);
    return srv_reply_json(r, 200, root);
}

enum MHD_Result srv_openai_chat(srv_request *r) {
    srv_error e = {0};
    srv_fail_code(&e, 400, "messages", "unsupported_endpoint",
                  "chat completions are not available yet: temper serve applies no chat "
                  "template; send the text to /v1/completions as \"prompt\"");
    return srv_reply_error(r, &e);
}

/* 1 when generation_config.json set key. */
static int from_config(const srv_server *s, const char *key) {
    size_t n = strlen(key);
    for (const char *k = s->default_keys; *k;) {
        size_t m = strcspn(k, ",");
        if (m == n && strncmp(k, key, n) == 0) return 1;
        k += m + (k[m] == ',');
    }
    return 0;
}

/* The request's fields into j and o. */
static int parse_completion(srv_server *s, const cJSON *body, srv_job *j, oa_job *o,
                            srv_error *e) {
    /* OpenAI's defaults: sampling at temperature 1, max_tokens 16, no top-k */
    j->p.sampling.do_sample = 1;
    if (!from_config(s, "top_k")) j->p.sampling.top_k = 0;
    j->p.max_new_tokens = 16;
    j->p.num_return_sequences = 1;
    o->logprobs = -1;
    long best_of = -1;
    int seeded = 0;
    const cJSON *prompt = NULL, *stream_options = NULL, *v;
    cJSON_ArrayForEach(v, body) {
        const char *k = v->string;
        int rc = 0;
        if (!strcmp(k, "model")) {
            if (!cJSON_IsString(v)) rc = srv_fail(e, 400, k, "model must be a string");
            else if (strcmp(v->valuestring, s->cfg.model_name) != 0 &&
                     (!s->model_arg || strcmp(v->valuestring, s->model_arg) != 0))
                rc = srv_fail_code(e, 404, k, "model_not_found", "the model \"%.200s\" does not "
                                   "exist: this server runs \"%s\" (one model per process)",
                                   v->valuestring, s->cfg.model_name);
        } else if (!strcmp(k, "prompt")) {
            prompt = v;
        } else if (!strcmp(k, "best_of")) {
            if (!cJSON_IsNull(v)) rc = srv_json_int(v, k, 1, s->cfg.max_choices, &best_of, e);
        } else if (!strcmp(k, "logprobs")) {
            long n;
            if (!cJSON_IsNull(v) && (rc = srv_json_int(v, k, 0, 20, &n, e)) == 0) o->logprobs = (int)n;
        } else if (!strcmp(k, "echo")) {
            rc = srv_json_bool(v, k, &o->echo, e);
        } else if (!strcmp(k, "stream")) {
            rc = srv_json_bool(v, k, &o->stream, e);
        } else if (!strcmp(k, "cache_prompt")) { /* temper's (and llama.cpp's) extension */
            rc = srv_json_bool(v, k, &j->cache_prompt, e);
        } else if (!strcmp(k, "stream_options")) {
            stream_options = v;
        } else if (!strcmp(k, "stop")) {
            rc = srv_parse_stop(j, v, k, e);
        } else if (!strcmp(k, "logit_bias")) {
            rc = srv_parse_logit_bias(s, j, v, k, e);
        } else if (!strcmp(k, "user")) {
            if (!cJSON_IsNull(v) && !cJSON_IsString(v)) rc = srv_fail(e, 400, k, "user must be a string");
        } else if (!strcmp(k, "suffix")) {
            if (!cJSON_IsNull(v) && !(cJSON_IsString(v) && !v->valuestring[0]))
                rc = srv_fail(e, 400, k, "suffix (insertion) is not supported: leave it out");
        } else {
            int got = srv_parse_param(&j->p, k, v, e);
            if (got < 0) rc = -1;
            else if (got == 0)
                rc = srv_fail_code(e, 400, k, "unknown_parameter", "unknown field \"%.100s\": the "
                                   "fields are OpenAI's (docs/api.md) and the decoding parameters "
                                   "of temper's table (top_k, min_p, repetition_penalty, ...)", k);
            else if (!strcmp(temper_param_find(k)->name, "seed") && !cJSON_IsNull(v)) seeded = 1;
        }
        if (rc < 0) return -1;
    }
    if (!prompt) return srv_fail(e, 400, "prompt", "prompt is missing: give the text to continue");
    if (srv_parse_prompts(s, prompt, "prompt", &j->prompts, &j->n_prompts, e) < 0) return -1;
    if (stream_options && !cJSON_IsNull(stream_options)) {
        if (!o->stream)
            return srv_fail(e, 400, "stream_options", "stream_options is only allowed with "
                            "\"stream\": true");
        if (!cJSON_IsObject(stream_options))
            return srv_fail(e, 400, "stream_options", "stream_options must be an object such as "
                            "{\"include_usage\": true}");
        if (srv_json_bool(cJSON_GetObjectItemCaseSensitive(stream_options, "include_usage"),
                          "stream_options.include_usage", &o->include_usage, e) < 0)
            return -1;
    }
    o->n = j->p.num_return_sequences;
    o->best_of = best_of < 0 ? o->n : (int)best_of;
    if (o->best_of < o->n)
        return srv_fail(e, 400, "best_of", "best_of is %d and n %d: best_of must be at least n",
                        o->best_of, o->n);
    if (o->stream && o->best_of > o->n)
        return srv_fail(e, 400, "best_of", "best_of larger than n cannot be streamed");
    if ((long)o->best_of * j->n_prompts > s->cfg.max_choices)
        return srv_fail(e, 400, o->best_of > o->n ? "best_of" : "n", "%d prompts x %d sequences "
                        "is more than %d (temper serve --max-choices)", j->n_prompts, o->best_of,
                        s->cfg.max_choices);
    if (j->p.max_new_tokens > s->cfg.max_tokens)
        return srv_fail(e, 400, "max_tokens", "max_tokens is %d: at most %d on this server "
                        "(temper serve --max-tokens)", j->p.max_new_tokens, s->cfg.max_tokens);
    for (int i = 0; i < j->n_prompts; i++)
        if (j->prompts[i].n + j->p.max_new_tokens > s->n_ctx)
            return srv_fail_code(e, 400, "max_tokens", "context_length_exceeded",
                                 "the context window is %d tokens, and the prompt%s has %d and "
                                 "max_tokens asks for %d more: lower max_tokens or shorten the "
                                 "prompt", s->n_ctx, j->n_prompts > 1 ? " (one of them)" : "",
                                 j->prompts[i].n, j->p.max_new_tokens);
    if (j->p.num_beams > 1)
        return srv_fail(e, 400, "num_beams", "beam search is not available on /v1/completions: "
                        "leave num_beams out (or 1)");
    j->p.num_return_sequences = 1; /* each sequence is its own request */
    if (!seeded) j->p.seed = temper_random_seed();
    j->p.n_top = o->logprobs > 0 ? o->logprobs : 0;
    j->echo_top = o->echo && o->logprobs >= 0 ? j->p.n_top : -1;
    if (temper_generate_mode(&j->p) < 0) return srv_fail(e, 400, NULL, "%s", temper_last_error());
    /* the ids of logit_bias against the vocabulary, the stages' values */
    temper_sampler *chk;
    if (temper_sampler_init(&j->p.sampling, s->n_vocab, &chk) < 0)
        return srv_fail(e, 400, NULL, "%s", temper_last_error());
    temper_sampler_free(chk);
    return 0;
}

srv_job *srv_openai_job(srv_server *s, const char *text, size_t len, int fd, srv_error *e) {
    cJSON *body;
    srv_job *j = srv_api_job(s, text, len, fd, &plain_ops, sizeof(oa_job), &body, e);
    if (!j) return NULL;
    oa_job *o = j->user;
    int rc = parse_completion(s, body, j, o, e);
    cJSON_Delete(body);
    if (rc == 0) {
        snprintf(o->id, sizeof o->id, "cmpl-%016llx%08lx",
                 (unsigned long long)temper_random_seed() << 32 | temper_random_seed(),
                 (unsigned long)atomic_fetch_add(&s->next_id, 1));
        o->created = (long)time(NULL);
        if (o->stream) j->ops = &stream_ops;
        rc = srv_job_setup(j, o->best_of, e);
    }
    if (rc < 0) {
        srv_job_release(j);
        return NULL;
    }
    return j;
}

static enum MHD_Result reply(srv_request *r, srv_job *j) {
    return srv_reply_json(r, 200, response(j));
}

enum MHD_Result srv_openai_completions(srv_request *r) {
    srv_error e = {0};
    srv_job *j = srv_openai_job(r->srv, r->body, r->body_len, r->fd, &e);
    return srv_run_job(r, j, &e, j && ((oa_job *)j->user)->stream, reply);
}
