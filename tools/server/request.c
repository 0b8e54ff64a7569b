/*
 * request.c - request fields into prompts and decoding parameters. Every
 * scalar decoding parameter is read through the library's table
 * (temper_param_find / temper_param_set): its names, aliases and range are
 * described once there. Every error names the field as the client wrote it
 * and what it takes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

cJSON *srv_parse_body(const char *body, size_t len, srv_error *e) {
    if (len == 0) {
        srv_fail(e, 400, NULL, "the request body is empty: send a JSON object "
                 "(Content-Type: application/json)");
        return NULL;
    }
    if (memchr(body, '\0', len)) {
        srv_fail(e, 400, NULL, "the request body holds a NUL byte: send a JSON object");
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= body && at <= body + len ? (size_t)(at - body) : 0;
        srv_fail(e, 400, NULL, "the request body is not valid JSON (near byte %zu): send a JSON "
                 "object such as {\"prompt\": \"Hello\"}", off);
        return NULL;
    }
    while (end && end < body + len && strchr(" \t\r\n", *end)) end++;
    if (end && end < body + len) {
        cJSON_Delete(root);
        srv_fail(e, 400, NULL, "the request body has text after its JSON value (at byte %zu)",
                 (size_t)(end - body));
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        srv_fail(e, 400, NULL, "the request body must be a JSON object, such as "
                 "{\"prompt\": \"Hello\"}");
        return NULL;
    }
    return root;
}

int srv_json_int(const cJSON *v, const char *field, long lo, long hi, long *out, srv_error *e) {
    if (!cJSON_IsNumber(v))
        return srv_fail(e, 400, field, "%s must be an integer in [%ld, %ld]", field, lo, hi);
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)hi)
        return srv_fail(e, 400, field, "%s is %.17g: use an integer in [%ld, %ld]", field, d, lo,
                        hi);
    *out = (long)d;
    return 0;
}

int srv_json_bool(const cJSON *v, const char *field, int *out, srv_error *e) {
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsBool(v)) return srv_fail(e, 400, field, "%s must be true or false", field);
    *out = cJSON_IsTrue(v);
    return 0;
}

int srv_parse_param(temper_generate_params *p, const char *key, const cJSON *v, srv_error *e) {
    const temper_param *d = temper_param_find(key);
    if (!d || key[0] == '-') return 0;
    if (cJSON_IsNull(v)) return 1; /* the default */
    double x;
    if (cJSON_IsBool(v) && d->type == TEMPER_PARAM_BOOL) x = cJSON_IsTrue(v);
    else if (cJSON_IsNumber(v)) x = v->valuedouble;
    else
        return srv_fail(e, 400, key, "%s must be a %s", key,
                        d->type == TEMPER_PARAM_BOOL ? "boolean" :
                        d->type == TEMPER_PARAM_FLOAT ? "number" : "whole number");
    if (temper_param_set(p, d, x) < 0) {
        if (strcmp(key, d->name) == 0)
            return srv_fail(e, 400, key, "%s", temper_last_error());
        return srv_fail(e, 400, key, "%s (%s)", key, temper_last_error());
    }
    return 1;
}

void srv_prompts_free(srv_prompt *p, int n) {
    for (int i = 0; p && i < n; i++) {
        free(p[i].ids);
        free(p[i].text);
        free(p[i].lp);
        free(p[i].top);
    }
    free(p);
}

/* Tokenize text into p (as HF tokenizer(text): special tokens added). */
static int prompt_text(srv_server *s, const char *text, srv_prompt *p, const char *field,
                       srv_error *e) {
    size_t len = strlen(text);
    temper_token *ids = NULL;
    int n = temper_tokenize_alloc(s->tok, text, len, TEMPER_TOKENIZE_ADD_SPECIAL, &ids, NULL);
    if (n < 0) return srv_fail(e, 400, field, "%s: %s", field, temper_last_error());
    p->ids = malloc(sizeof(temper_token) * (size_t)(n ? n : 1));
    p->text = strdup(text);
    if (!p->ids || !p->text) {
        temper_free(ids);
        return srv_fail(e, 500, NULL, "out of memory");
    }
    if (n) memcpy(p->ids, ids, sizeof(temper_token) * (size_t)n);
    temper_free(ids);
    p->n = n;
    return 0;
}

/* A list of ids into p; strings among them (llama.cpp's mixed prompts) are
 * tokenized without special tokens. */
static int prompt_ids(srv_server *s, const cJSON *arr, srv_prompt *p, const char *field,
                      srv_error *e) {
    size_t cap = (size_t)cJSON_GetArraySize(arr) + 16;
    p->ids = malloc(sizeof(temper_token) * cap);
    if (!p->ids) return srv_fail(e, 500, NULL, "out of memory");
    int k = 0, i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr) {
        if (cJSON_IsString(v)) {
            temper_token *ids = NULL;
            int n = temper_tokenize_alloc(s->tok, v->valuestring, strlen(v->valuestring), 0, &ids, NULL);
            if (n < 0) return srv_fail(e, 400, field, "%s[%d]: %s", field, i, temper_last_error());
            if ((size_t)k + (size_t)n > cap) {
                cap = (size_t)k + (size_t)n + cap;
                temper_token *t = realloc(p->ids, sizeof(temper_token) * cap);
                if (!t) {
                    temper_free(ids);
                    return srv_fail(e, 500, NULL, "out of memory");
                }
                p->ids = t;
            }
            if (n) memcpy(p->ids + k, ids, sizeof(temper_token) * (size_t)n);
            temper_free(ids);
            k += n;
        } else {
            double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
            if (!isfinite(d) || d != floor(d) || d < 0 || d >= s->n_vocab)
                return srv_fail(e, 400, field, "%s: token %d is %s: token ids are integers in "
                                "[0, %d), the model's vocabulary", field, i,
                                cJSON_IsNumber(v) ? "outside the vocabulary" : "not a number or a string",
                                s->n_vocab);
            if ((size_t)k == cap) return srv_fail(e, 500, NULL, "out of memory");
            p->ids[k++] = (temper_token)d;
        }
        i++;
    }
    p->n = k;
    return 0;
}

int srv_parse_prompts(srv_server *s, const cJSON *v, const char *field, srv_prompt **out,
                      int *n_out, srv_error *e) {
    return srv_parse_prompts_upto(s, v, field, s->n_ctx - 1, out, n_out, e);
}

int srv_parse_prompts_upto(srv_server *s, const cJSON *v, const char *field, int max_tokens,
                           srv_prompt **out, int *n_out, srv_error *e) {
    *out = NULL;
    *n_out = 0;
    const char *forms = "a string, a list of strings, a list of token ids or a list of lists "
                        "of token ids";
    if (!v || cJSON_IsNull(v)) return srv_fail(e, 400, field, "%s is missing: give %s", field, forms);
    int n;
    if (cJSON_IsString(v)) n = 1;
    else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0)
        n = cJSON_IsNumber(cJSON_GetArrayItem(v, 0)) ? 1 : cJSON_GetArraySize(v);
    else return srv_fail(e, 400, field, "%s must be %s (not empty)", field, forms);
    if (n > s->cfg.max_choices)
        return srv_fail(e, 400, field, "%s has %d prompts: at most %d (temper serve "
                        "--max-choices)", field, n, s->cfg.max_choices);
    srv_prompt *p = calloc((size_t)n, sizeof *p);
    if (!p) return srv_fail(e, 500, NULL, "out of memory");
    int rc = 0;
    if (cJSON_IsString(v)) rc = prompt_text(s, v->valuestring, &p[0], field, e);
    else if (cJSON_IsNumber(cJSON_GetArrayItem(v, 0))) rc = prompt_ids(s, v, &p[0], field, e);
    else {
        int i = 0;
        const cJSON *item;
        cJSON_ArrayForEach(item, v) {
            if (cJSON_IsString(item)) rc = prompt_text(s, item->valuestring, &p[i], field, e);
            else if (cJSON_IsArray(item) && cJSON_GetArraySize(item) > 0)
                rc = prompt_ids(s, item, &p[i], field, e);
            else rc = srv_fail(e, 400, field, "%s[%d] must be a string or a non-empty list of "
                               "token ids (all the prompts of a list in one form)", field, i);
            if (rc < 0) break;
            i++;
        }
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        if (p[i].n == 0)
            rc = srv_fail(e, 400, field, "%s%s is empty: it has no tokens (this model's tokenizer "
                          "adds none to an empty text)", field, n > 1 ? "[i]" : "");
        else if (p[i].n > max_tokens)
            rc = srv_fail_code(e, 400, field, "context_length_exceeded",
                               "%s has %d tokens: the context window is %d tokens%s", field, p[i].n,
                               s->n_ctx, max_tokens < s->n_ctx ? ", and at least one must be left to "
                               "generate" : "");
    }
    if (rc < 0) {
        srv_prompts_free(p, n);
        return rc;
    }
    *out = p;
    *n_out = n;
    return 0;
}

/* A field given twice: the last one wins, the first one's memory is freed. */
static void drop_stop(srv_job *j) {
    for (int i = 0; i < j->p.n_stop; i++) free(j->stop[i]);
    free(j->stop);
    j->stop = NULL;
    j->p.stop = NULL;
    j->p.n_stop = 0;
}

void srv_drop_logit_bias(srv_job *j) {
    free(j->bias);
    j->bias = NULL;
    j->p.sampling.logit_bias = NULL;
    j->p.sampling.n_logit_bias = 0;
}

int srv_parse_stop(srv_job *j, const cJSON *v, const char *field, srv_error *e) {
    drop_stop(j);
    if (!v || cJSON_IsNull(v)) return 0;
    int n = cJSON_IsString(v) ? 1 : cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (n < 0) return srv_fail(e, 400, field, "%s must be a string or a list of strings", field);
    if (n > 16) return srv_fail(e, 400, field, "%s has %d strings: at most 16", field, n);
    j->stop = calloc((size_t)(n ? n : 1), sizeof *j->stop);
    if (!j->stop) return srv_fail(e, 500, NULL, "out of memory");
    for (int i = 0; i < n; i++) {
        const cJSON *s = cJSON_IsString(v) ? v : cJSON_GetArrayItem(v, i);
        if (!cJSON_IsString(s) || !s->valuestring[0] || strlen(s->valuestring) > 256)
            return srv_fail(e, 400, field, "%s[%d] must be a non-empty string of at most 256 "
                            "bytes", field, i);
        if (!(j->stop[i] = strdup(s->valuestring))) return srv_fail(e, 500, NULL, "out of memory");
        j->p.n_stop = i + 1;
    }
    j->p.stop = (const char *const *)j->stop;
    return 0;
}

int srv_parse_logit_bias(srv_server *s, srv_job *j, const cJSON *v, const char *field,
                         srv_error *e) {
    srv_drop_logit_bias(j);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsObject(v))
        return srv_fail(e, 400, field, "%s must be an object mapping token ids to biases, "
                        "such as {\"50256\": -100}", field);
    int n = cJSON_GetArraySize(v);
    if (n > 1024) return srv_fail(e, 400, field, "%s has %d entries: at most 1024", field, n);
    j->bias = calloc((size_t)(n ? n : 1), sizeof *j->bias);
    if (!j->bias) return srv_fail(e, 500, NULL, "out of memory");
    int k = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, v) {
        char *end;
        long id = strtol(b->string, &end, 10);
        if (!b->string[0] || *end || id < 0 || id >= s->n_vocab)
            return srv_fail(e, 400, field, "%s: key \"%.40s\" is not a token id in [0, %d)", field,
                            b->string, s->n_vocab);
        if (!cJSON_IsNumber(b) || !isfinite(b->valuedouble) || fabs(b->valuedouble) > 100)
            return srv_fail(e, 400, field, "%s[\"%ld\"] must be a number in [-100, 100] "
                            "(-100 bans the token)", field, id);
        /* OpenAI: -100 bans the token, 100 makes it the only choice */
        float bias = (float)b->valuedouble;
        j->bias[k].id = (temper_token)id;
        j->bias[k].bias = bias <= -100 ? -INFINITY : bias;
        k++;
    }
    j->p.sampling.logit_bias = j->bias;
    j->p.sampling.n_logit_bias = k;
    return 0;
}
