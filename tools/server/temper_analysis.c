/*
 * temper_analysis.c - the analyses' endpoints, each answering with the
 * document of the matching command's --json (the library's writer):
 *
 *   POST /temper/perplexity  `temper perplexity` (sliding windows)
 *   POST /temper/attention   `temper attention` (the chosen layers only
 *                            are captured)
 *   POST /temper/hidden      `temper hidden` (a PCA of one layer)
 *   POST /temper/trace       `temper trace` (text to generation)
 *   POST /temper/power       `temper generate --power` (power sampling)
 *
 * Each text runs in a slot of the scheduler's context, between two
 * decoding steps; power sampling, which needs several slots of its own,
 * runs in its own context with the server's threads.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

static const char *model_name(const srv_server *s) {
    return s->model_arg ? s->model_arg : s->cfg.model_name;
}

/* "layer" as the commands' --layer: -1 the last, else 0 .. n - 1. */
static int layer_index(const cJSON *v, const char *field, int n, const char *what, int *out, srv_error *e) {
    long x;
    if (srv_json_int(v, field, -(long)n, n - 1, &x, e) < 0) {
        e->status = 0; /* the message below says more */
        return srv_fail(e, 400, field, "%s: the model has %d %s: give 0 to %d (or -1 for the last)", field,
                        n, what, n - 1);
    }
    *out = x < 0 ? (int)(n + x) : (int)x;
    return 0;
}

/* The one prompt of a body ("prompt"), checked against the context. */
static int one_prompt(srv_server *s, const cJSON *body, srv_job *j, int room, srv_error *e) {
    if (srv_parse_prompts_upto(s, cJSON_GetObjectItemCaseSensitive(body, "prompt"), "prompt", s->n_ctx,
                               &j->prompts, &j->n_prompts, e) < 0)
        return -1;
    if (j->n_prompts != 1) return srv_fail(e, 400, "prompt", "prompt must be one text or one list of ids");
    int n = j->prompts[0].n;
    if (n < 1) return srv_fail(e, 400, "prompt", "prompt has no token: give some text or ids");
    if (n + room > s->n_ctx)
        return srv_fail_code(e, 400, "prompt", "context_length_exceeded", "the prompt has %d tokens%s: the "
                             "context window is %d", n, room ? " plus the tokens to generate" : "", s->n_ctx);
    return 0;
}

#define SRV_MAX_FLOATS ((size_t)1 << 27) /* attention or hidden states of a request (512 MB) */

/* The floats a request's capture takes, refused over SRV_MAX_FLOATS. */
static int check_floats(size_t count, int n, const char *what, srv_error *e) {
    if (count <= SRV_MAX_FLOATS) return 0;
    return srv_fail(e, 400, "prompt", "%d tokens: the %s would take %.1f GB, more than this server gives a "
                    "request (%.1f GB): give a shorter text%s", n, what, (double)count * 4 / 1e9,
                    (double)SRV_MAX_FLOATS * 4 / 1e9, strcmp(what, "attention") ? "" : " or choose layers");
}

static int unknown(const char *k, const char *fields, srv_error *e) {
    return srv_fail_code(e, 400, k, "unknown_parameter", "unknown field \"%.100s\": the fields are %s", k,
                         fields);
}

/* ---- /temper/perplexity */

typedef struct ppl_job {
    int max_length, stride, bos;
    int n;                         /* texts with their arrays allocated */
    temper_perplexity_result *res; /* (n_prompts) */
    temper_ppl_window **win;       /* (n_prompts) each (cap) */
} ppl_job;

static int ppl_run(srv_job *j, srv_seq *q, temper_context *ctx, int slot) {
    ppl_job *o = j->user;
    const srv_prompt *pr = &j->prompts[q->prompt];
    temper_perplexity_params pp = temper_perplexity_default_params();
    pp.max_length = o->max_length;
    pp.stride = o->stride;
    pp.seq = slot;
    int cap = pr->n / o->stride + 2; /* a window every stride tokens */
    if (!(o->win[q->prompt] = malloc(sizeof **o->win * (size_t)cap))) return -1;
    return temper_perplexity(ctx, pr->ids, pr->n, &pp, &o->res[q->prompt], o->win[q->prompt], cap, NULL) < 0
               ? -1 : 0;
}

static void ppl_free(void *user) {
    ppl_job *o = user;
    for (int i = 0; o->win && i < o->n; i++) free(o->win[i]);
    free(o->win);
    free(o->res);
}

static temper_json *ppl_doc(srv_job *j) {
    ppl_job *o = j->user;
    temper_json_ppl_item *items = calloc((size_t)j->n_prompts, sizeof *items);
    temper_json *w = items ? temper_json_new(NULL) : NULL;
    for (int i = 0; items && i < j->n_prompts; i++)
        items[i] = (temper_json_ppl_item){.text = j->prompts[i].text, .r = &o->res[i], .windows = o->win[i]};
    temper_json_perplexities d = {.model = model_name(j->srv), .max_length = o->max_length, .stride = o->stride,
                                  .bos = o->bos, .items = items, .n_items = j->n_prompts};
    if (w) temper_json_perplexity(w, &d);
    free(items);
    return w;
}

static const srv_job_ops ppl_ops = {.run = ppl_run, .free_user = ppl_free, .doc = ppl_doc};

srv_job *srv_temper_perplexity_job(srv_server *s, const char *text, size_t len, int fd, srv_error *er) {
    srv_error e = {0};
    cJSON *body;
    srv_job *j = srv_api_job(s, text, len, fd, &ppl_ops, sizeof(ppl_job), &body, &e);
    if (!j) return *er = e, NULL;
    ppl_job *o = j->user;
    long max_length = 0, stride = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, body) {
        const char *k = v->string;
        if (!strcmp(k, "texts")) continue;
        if (!strcmp(k, "bos")) srv_json_bool(v, k, &o->bos, &e);
        else if (!strcmp(k, "max_length")) srv_json_int(v, k, 2, s->n_ctx, &max_length, &e);
        else if (!strcmp(k, "stride")) srv_json_int(v, k, 1, s->n_ctx, &stride, &e);
        else unknown(k, "texts, max_length, stride and bos", &e);
    }
    if (!e.status)
        srv_parse_prompts_upto(s, cJSON_GetObjectItemCaseSensitive(body, "texts"), "texts", INT_MAX,
                               &j->prompts, &j->n_prompts, &e); /* windows slide over longer texts */
    cJSON_Delete(body);
    o->max_length = max_length ? (int)max_length : s->n_ctx;
    o->stride = stride ? (int)stride : o->max_length;
    if (!e.status && o->stride > o->max_length)
        srv_fail(&e, 400, "stride", "stride %d is larger than the window (max_length %d): tokens would be "
                 "left unscored: give 1 to %d", o->stride, o->max_length, o->max_length);
    if (!e.status && o->bos) srv_prompts_bos(s, j, "bos", &e);
    for (int i = 0; !e.status && i < j->n_prompts; i++)
        if (j->prompts[i].n < 2)
            srv_fail(&e, 400, "texts", "text %d has %d token: nothing to score (the first token is never "
                     "scored): set \"bos\": true or give a longer text", i + 1, j->prompts[i].n);
    if (!e.status) {
        o->res = calloc((size_t)j->n_prompts, sizeof *o->res);
        o->win = calloc((size_t)j->n_prompts, sizeof *o->win);
        if (!o->res || !o->win) srv_fail(&e, 500, NULL, "out of memory");
        else o->n = j->n_prompts;
    }
    return srv_api_ready(j, &e, er);
}

/* ---- /temper/attention */


typedef struct attn_job {
    int layers[1024], n_layers;    /* the captured layers, increasing */
    int h0, h1;                    /* heads listed: [h0, h1) */
    float *attn;                   /* (n_layers, H, n, n) */
} attn_job;

static int attn_run(srv_job *j, srv_seq *q, temper_context *ctx, int slot) {
    attn_job *o = j->user;
    const srv_prompt *pr = &j->prompts[0];
    int rc = temper_seq_truncate(ctx, slot, 0);
    if (rc == 0) rc = temper_eval_capture_layers(ctx, slot, pr->ids, pr->n, NULL, 0, o->layers, o->n_layers,
                                                 o->attn, NULL);
    return rc < 0 ? -1 : 0;
}

static void attn_free(void *user) {
    free(((attn_job *)user)->attn);
}

static temper_json *attn_doc(srv_job *j) {
    attn_job *o = j->user;
    temper_model_info mi;
    temper_model_get_info(j->srv->model, &mi);
    temper_json *w = temper_json_new(NULL);
    temper_json_attention_doc d = {.model = model_name(j->srv), .tok = j->srv->tok, .ids = j->prompts[0].ids,
                                   .n = j->prompts[0].n, .n_layer = mi.n_layer, .n_head = mi.n_head,
                                   .attn = o->attn, .layers = o->layers, .n_layers = o->n_layers,
                                   .head_begin = o->h0, .head_end = o->h1};
    if (w) temper_json_attention(w, &d);
    return w;
}

static const srv_job_ops attn_ops = {.run = attn_run, .free_user = attn_free, .doc = attn_doc};

srv_job *srv_temper_attention_job(srv_server *s, const char *text, size_t len, int fd, srv_error *er) {
    srv_error e = {0};
    cJSON *body;
    srv_job *j = srv_api_job(s, text, len, fd, &attn_ops, sizeof(attn_job), &body, &e);
    if (!j) return *er = e, NULL;
    attn_job *o = j->user;
    temper_model_info mi;
    temper_model_get_info(s->model, &mi);
    const int L = mi.n_layer, H = mi.n_head;
    int head = -2;
    o->n_layers = -1;
    const cJSON *v;
    cJSON_ArrayForEach(v, body) {
        const char *k = v->string;
        if (!strcmp(k, "prompt")) continue;
        if (!strcmp(k, "layer")) {
            if (layer_index(v, k, L, "layers", &o->layers[0], &e) == 0) o->n_layers = 1;
        } else if (!strcmp(k, "layers")) {
            int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
            if (n < 1 || n > L) srv_fail(&e, 400, k, "layers must be a list of 1 to %d layers", L);
            for (int i = 0; !e.status && i < n; i++)
                if (layer_index(cJSON_GetArrayItem(v, i), k, L, "layers", &o->layers[i], &e) == 0 && i > 0 &&
                    o->layers[i] <= o->layers[i - 1])
                    srv_fail(&e, 400, k, "layers must be distinct and increasing (as resolved: %d after %d)",
                             o->layers[i], o->layers[i - 1]);
            o->n_layers = n;
        } else if (!strcmp(k, "head")) {
            layer_index(v, k, H, "heads per layer", &head, &e);
        } else {
            unknown(k, "prompt, layer (or layers) and head", &e);
        }
    }
    if (!e.status) one_prompt(s, body, j, 0, &e);
    cJSON_Delete(body);
    if (o->n_layers < 0) { /* every layer, as the command's --json */
        o->n_layers = L < 1024 ? L : 1024;
        for (int l = 0; l < o->n_layers; l++) o->layers[l] = l;
    }
    o->h0 = head >= 0 ? head : 0;
    o->h1 = head >= 0 ? head + 1 : H;
    if (!e.status) {
        size_t n = (size_t)j->prompts[0].n, count = (size_t)o->n_layers * (size_t)H * n * n;
        if (check_floats(count, (int)n, "attention", &e) == 0 && !(o->attn = malloc(count * sizeof *o->attn)))
            srv_fail(&e, 500, NULL, "out of memory");
    }
    return srv_api_ready(j, &e, er);
}

/* ---- /temper/hidden */

typedef struct hidden_job {
    int layer, has_layer, project;
    temper_project_params pp;      /* the projection (temper_project) */
    temper_project_info info;
    float *hidden;                 /* (L + 1, n, C) */
    double *points;                /* (n, n_components) */
    double explained[3];
} hidden_job;

static int hidden_run(srv_job *j, srv_seq *q, temper_context *ctx, int slot) {
    hidden_job *o = j->user;
    const srv_prompt *pr = &j->prompts[0];
    temper_model_info mi;
    temper_model_get_info(j->srv->model, &mi);
    int rc = temper_seq_truncate(ctx, slot, 0), n = pr->n, C = mi.n_embd;
    if (rc == 0) rc = temper_eval_capture(ctx, slot, pr->ids, n, NULL, 0, NULL, o->hidden);
    if (rc == 0 && o->project) {
        o->pp.pool = j->srv->pool; /* the scheduler's threads, free while it runs this */
        rc = temper_project(o->hidden + (size_t)o->layer * (size_t)n * (size_t)C, n, C, &o->pp, o->points,
                            o->explained, &o->info);
    }
    return rc < 0 ? -1 : 0;
}

static void hidden_free(void *user) {
    hidden_job *o = user;
    free(o->hidden);
    free(o->points);
}

static temper_json *hidden_doc(srv_job *j) {
    hidden_job *o = j->user;
    temper_model_info mi;
    temper_model_get_info(j->srv->model, &mi);
    const int L = mi.n_layer;
    int pca = o->project && o->pp.method == TEMPER_PROJECT_PCA && o->pp.n_components == 2;
    temper_json *w = temper_json_new(NULL);
    temper_json_hidden_doc d = {.model = model_name(j->srv), .tok = j->srv->tok, .ids = j->prompts[0].ids,
                                .n = j->prompts[0].n, .n_layer = L, .n_embd = mi.n_embd, .hidden = o->hidden,
                                .layer_begin = o->has_layer ? o->layer : 0,
                                .layer_end = o->has_layer ? o->layer + 1 : L + 1,
                                .pca_layer = pca ? o->layer : -1, .pca_points = o->points,
                                .pca_explained = o->explained, .proj_layer = o->layer,
                                .proj_info = o->project ? &o->info : NULL, .proj_points = o->points,
                                .proj_explained = o->explained};
    if (w) temper_json_hidden(w, &d);
    return w;
}

static const srv_job_ops hidden_ops = {.run = hidden_run, .free_user = hidden_free, .doc = hidden_doc};

srv_job *srv_temper_hidden_job(srv_server *s, const char *text, size_t len, int fd, srv_error *er) {
    srv_error e = {0};
    cJSON *body;
    srv_job *j = srv_api_job(s, text, len, fd, &hidden_ops, sizeof(hidden_job), &body, &e);
    if (!j) return *er = e, NULL;
    hidden_job *o = j->user;
    temper_model_info mi;
    temper_model_get_info(s->model, &mi);
    const int L = mi.n_layer, C = mi.n_embd;
    o->layer = L;
    o->pp = temper_project_default_params();
    const temper_project_param *given[32]; /* the projection parameters given */
    int n_given = 0;
    const char *asked = "project"; /* the field that asked for the projection */
    const cJSON *v;
    cJSON_ArrayForEach(v, body) {
        const char *k = v->string;
        const temper_project_param *d;
        if (!strcmp(k, "prompt")) continue;
        if (!strcmp(k, "layer")) {
            if (layer_index(v, k, L + 1, "hidden states (0: embeddings)", &o->layer, &e) == 0) o->has_layer = 1;
        } else if (!strcmp(k, "pca")) { /* the command's --pca */
            int on = 0;
            if (srv_json_bool(v, k, &on, &e) == 0 && on)
                o->project = 1, o->pp.method = TEMPER_PROJECT_PCA, asked = "pca";
        } else if (!strcmp(k, "project")) {
            int m = cJSON_IsString(v) && strcmp(v->valuestring, "none") ? temper_project_method_parse(v->valuestring)
                                                                        : -1;
            if (cJSON_IsString(v) && !strcmp(v->valuestring, "none")) o->project = 0;
            else if (m < 0) srv_fail(&e, 400, k, "project must be \"pca\", \"tsne\", \"umap\" or \"none\"");
            else o->project = 1, o->pp.method = m, asked = "project";
        } else if ((d = temper_project_param_find(k)) != NULL) {
            if (!cJSON_IsNumber(v)) srv_fail(&e, 400, k, "%s must be a number (%s)", k, d->help);
            else if (temper_project_param_set(&o->pp, d, v->valuedouble) < 0) srv_fail(&e, 400, k, "%s", temper_last_error());
            else if (n_given < 32) given[n_given++] = d;
        } else {
            unknown(k, "prompt, layer, project (pca, tsne, umap, none; or pca: true) and the projection's "
                    "parameters (perplexity, n_iter, n_neighbors, min_dist, seed, ...)", &e);
        }
    }
    for (int k = 0; !e.status && k < n_given; k++) { /* as the command: a parameter needs its method */
        const temper_project_param *d = given[k];
        if (!o->project)
            srv_fail(&e, 400, d->name, "%s: give \"project\": \"pca\", \"tsne\" or \"umap\" too", d->name);
        else if (!(d->methods >> o->pp.method & 1))
            srv_fail(&e, 400, d->name, "%s does nothing with project %s (%s)", d->name,
                     temper_project_method_name(o->pp.method), d->help);
    }
    if (!e.status) one_prompt(s, body, j, 0, &e);
    cJSON_Delete(body);
    if (!e.status && o->project && j->prompts[0].n < 2)
        srv_fail(&e, 400, asked, "%s %s: the prompt has %d token: a projection needs at least 2", asked,
                 temper_project_method_name(o->pp.method), j->prompts[0].n);
    if (!e.status) {
        size_t n = (size_t)j->prompts[0].n, count = (size_t)(L + 1) * n * (size_t)C;
        if (check_floats(count, (int)n, "hidden states", &e) == 0) {
            o->hidden = malloc(count * sizeof *o->hidden);
            o->points = calloc((size_t)o->pp.n_components * n, sizeof *o->points);
            if (!o->hidden || !o->points) srv_fail(&e, 500, NULL, "out of memory");
        }
    }
    return srv_api_ready(j, &e, er);
}

/* ---- /temper/trace */

typedef struct trace_job {
    temper_generate_params gp;
    float *hidden;                 /* (L + 1, n, C) */
    float *logits;                 /* (V) */
    temper_candidate top[5];
    int n_top;
    temper_token *ids;             /* (n_ids) the continuation (a copy) */
    temper_token_prob *probs;      /* (n_ids) */
    temper_sequence seq;
} trace_job;

/* The prompt's capture, then its continuation decoded in the same slot
 * (temper_generate without beams is this loop). */
static int trace_run(srv_job *j, srv_seq *q, temper_context *ctx, int slot) {
    trace_job *o = j->user;
    const srv_prompt *pr = &j->prompts[0];
    int V = j->srv->n_vocab;
    int rc = temper_seq_truncate(ctx, slot, 0);
    if (rc == 0) rc = temper_eval_capture(ctx, slot, pr->ids, pr->n, o->logits, 0, NULL, o->hidden);
    if (rc == 0) rc = o->n_top = temper_next_token_table(o->logits, V, NULL, 5, o->top, NULL);
    temper_gen *g = NULL;
    if (rc >= 0) rc = temper_gen_new(ctx, slot, pr->ids, pr->n, &o->gp, 0, &g);
    while (rc >= 0 && (rc = temper_gen_step(&g, 1)) > 0) {}
    if (rc == 0) {
        const temper_sequence *t = temper_gen_sequence(g);
        size_t m = (size_t)(t->n_ids ? t->n_ids : 1);
        o->ids = malloc(m * sizeof *o->ids);
        o->probs = malloc(m * sizeof *o->probs);
        if (!o->ids || !o->probs) rc = TEMPER_ENOMEM;
        else {
            o->seq = *t;
            memcpy(o->ids, t->ids, sizeof *o->ids * (size_t)t->n_ids);
            memcpy(o->probs, t->probs, sizeof *o->probs * (size_t)t->n_ids);
            o->seq.ids = o->ids;
            o->seq.probs = o->probs;
            o->seq.top = NULL;
        }
    }
    temper_gen_free(g);
    return rc < 0 ? -1 : 0;
}

static void trace_free(void *user) {
    trace_job *o = user;
    free(o->hidden);
    free(o->logits);
    free(o->ids);
    free(o->probs);
}

static temper_json *trace_doc(srv_job *j) {
    trace_job *o = j->user;
    srv_server *s = j->srv;
    temper_model_info mi;
    temper_model_get_info(s->model, &mi);
    temper_json *w = temper_json_new(NULL);
    temper_json_trace_doc d = {.model = model_name(s), .text = j->prompts[0].text, .tok = s->tok,
                               .ids = j->prompts[0].ids, .n = j->prompts[0].n, .n_layer = mi.n_layer,
                               .n_head = mi.n_head, .n_embd = mi.n_embd, .logits = o->logits,
                               .n_vocab = s->n_vocab, .top = o->top, .n_top = o->n_top, .params = &o->gp,
                               .seq = &o->seq};
    d.n_eos = temper_model_eos_ids(s->model, &d.eos);
    if (w) temper_json_trace(w, &d);
    return w;
}

static const srv_job_ops trace_ops = {.run = trace_run, .free_user = trace_free, .doc = trace_doc};

srv_job *srv_temper_trace_job(srv_server *s, const char *text, size_t len, int fd, srv_error *er) {
    srv_error e = {0};
    cJSON *body;
    srv_job *j = srv_api_job(s, text, len, fd, &trace_ops, sizeof(trace_job), &body, &e);
    if (!j) return *er = e, NULL;
    trace_job *o = j->user;
    temper_model_info mi;
    temper_model_get_info(s->model, &mi);
    /* `temper trace`'s own options and defaults: greedy unless sample or a
     * temperature > 0, top_k 50, top_p 1, 20 tokens */
    temper_generate_params *gp = &o->gp;
    *gp = temper_generate_default_params();
    gp->sampling.top_k = 50;
    int sample = 0, seeded = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, body) {
        const char *k = v->string;
        long n;
        if (!strcmp(k, "prompt")) continue;
        if (!strcmp(k, "sample")) {
            srv_json_bool(v, k, &sample, &e);
        } else if (!strcmp(k, "max_new_tokens") || !strcmp(k, "top_k") || !strcmp(k, "seed")) {
            long hi = k[0] == 'm' ? s->cfg.max_tokens : k[0] == 't' ? INT32_MAX : INT64_MAX;
            if (srv_json_int(v, k, 0, hi, &n, &e) == 0) {
                if (k[0] == 'm') gp->max_new_tokens = (int)n;
                else if (k[0] == 't') gp->sampling.top_k = (int)n;
                else gp->seed = (uint64_t)n, seeded = 1;
            }
        } else if (!strcmp(k, "temperature") || !strcmp(k, "top_p")) {
            double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
            if (!isfinite(x) || x < 0 || (k[1] == 'o' && x > 1))
                srv_fail(&e, 400, k, "%s must be a number %s", k, k[1] == 'o' ? "in [0, 1]" : ">= 0");
            else if (k[1] == 'o') gp->sampling.top_p = (float)x;
            else gp->sampling.temperature = (float)x, sample = x > 0;
        } else {
            unknown(k, "prompt, max_new_tokens, temperature, top_k, top_p, seed and sample", &e);
        }
    }
    gp->sampling.do_sample = sample;
    if (!seeded) gp->seed = temper_random_seed();
    if (!e.status) one_prompt(s, body, j, gp->max_new_tokens, &e);
    cJSON_Delete(body);
    if (!e.status && temper_generate_mode(gp) < 0) srv_fail(&e, 400, NULL, "%s", temper_last_error());
    if (!e.status) {
        size_t count = (size_t)(mi.n_layer + 1) * (size_t)j->prompts[0].n * (size_t)mi.n_embd;
        if (check_floats(count, j->prompts[0].n, "hidden states", &e) == 0) {
            o->hidden = malloc(count * sizeof *o->hidden);
            o->logits = malloc((size_t)s->n_vocab * sizeof *o->logits);
            if (!o->hidden || !o->logits) srv_fail(&e, 500, NULL, "out of memory");
        }
    }
    return srv_api_ready(j, &e, er);
}

/* ---- /temper/power: power sampling in a context of its own */

typedef struct power_job {
    temper_power_params p;
    int n_samples, ignore_eos;
    temper_power_result *res;      /* (n_samples) */
    double *seconds;               /* (n_samples) */
} power_job;

static int power_run(srv_job *j, srv_seq *q, temper_context *ctx, int slot) {
    (void)ctx, (void)slot;
    power_job *o = j->user;
    srv_server *s = j->srv;
    const srv_prompt *pr = &j->prompts[0];
    temper_context_params cp = temper_context_default_params();
    cp.n_seq = o->p.method == TEMPER_POWER_MH ? 2 : o->p.particles;
    cp.n_ctx = pr->n + o->p.max_new_tokens;
    cp.pool = s->pool;
    temper_context *pc = NULL;
    int rc = temper_context_init(s->model, &cp, &pc);
    for (int k = 0; rc == 0 && k < o->n_samples; k++) {
        temper_power_params p = o->p;
        p.stream = k; /* sample k draws from stream k of the seed, as the command */
        double t0 = srv_now();
        rc = temper_power_sample(pc, pr->ids, pr->n, &p, &o->res[k]);
        o->seconds[k] = srv_now() - t0;
    }
    temper_context_free(pc);
    return rc < 0 ? -1 : 0;
}

static void power_free(void *user) {
    power_job *o = user;
    for (int k = 0; o->res && k < o->n_samples; k++) temper_power_result_free(&o->res[k]);
    free(o->res);
    free(o->seconds);
}

static temper_json *power_doc(srv_job *j) {
    power_job *o = j->user;
    temper_json *w = temper_json_new(NULL);
    temper_json_power_doc d = {.tok = j->srv->tok, .params = &o->p, .samples = o->res, .seconds = o->seconds,
                               .n_samples = o->n_samples};
    if (w) temper_json_power(w, &d);
    return w;
}

static const srv_job_ops power_ops = {.run = power_run, .free_user = power_free, .doc = power_doc};

srv_job *srv_temper_power_job(srv_server *s, const char *text, size_t len, int fd, srv_error *er) {
    srv_error e = {0};
    cJSON *body;
    srv_job *j = srv_api_job(s, text, len, fd, &power_ops, sizeof(power_job), &body, &e);
    if (!j) return *er = e, NULL;
    power_job *o = j->user;
    temper_power_params *p = &o->p;
    *p = temper_power_default_params();
    p->max_new_tokens = 20;
    o->n_samples = 1;
    int seeded = 0, mh_only = 0, particle_only = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, body) {
        const char *k = v->string;
        long n;
        double x = cJSON_IsNumber(v) ? v->valuedouble : NAN;
        if (!strcmp(k, "prompt")) continue;
        if (!strcmp(k, "alpha")) {
            if (!(isfinite(x) && x > 0 && x <= 1e4)) srv_fail(&e, 400, k, "alpha must be a number > 0 (4 in "
                                                                "Karan & Du 2025)");
            else p->alpha = (float)x;
        } else if (!strcmp(k, "method")) {
            const char *m = cJSON_IsString(v) ? v->valuestring : "";
            if (!strcmp(m, "mh")) p->method = TEMPER_POWER_MH;
            else if (!strcmp(m, "smc")) p->method = TEMPER_POWER_SMC;
            else if (!strcmp(m, "sir")) p->method = TEMPER_POWER_SIR;
            else srv_fail(&e, 400, k, "method must be \"mh\" (Metropolis-Hastings), \"smc\" or \"sir\"");
        } else if (!strcmp(k, "max_new_tokens")) {
            if (srv_json_int(v, k, 1, s->cfg.max_tokens, &n, &e) == 0) p->max_new_tokens = (int)n;
        } else if (!strcmp(k, "block_size")) {
            if (srv_json_int(v, k, 1, 1 << 20, &n, &e) == 0) p->block_size = (int)n, mh_only = 1;
        } else if (!strcmp(k, "mcmc_steps")) {
            if (srv_json_int(v, k, 0, 1 << 20, &n, &e) == 0) p->mcmc_steps = (int)n, mh_only = 1;
        } else if (!strcmp(k, "particles")) {
            if (srv_json_int(v, k, 1, 512, &n, &e) == 0) p->particles = (int)n, particle_only = 1;
        } else if (!strcmp(k, "ess_threshold")) {
            if (!(x >= 0 && x <= 1)) srv_fail(&e, 400, k, "ess_threshold must be a number in [0, 1]");
            else p->ess_threshold = (float)x;
        } else if (!strcmp(k, "alpha_ramp_tokens")) {
            if (srv_json_int(v, k, 0, 1 << 20, &n, &e) == 0) p->alpha_ramp_tokens = (int)n;
        } else if (!strcmp(k, "seed")) {
            if (srv_json_int(v, k, 0, INT64_MAX, &n, &e) == 0) p->seed = (uint64_t)n, seeded = 1;
        } else if (!strcmp(k, "num_return_sequences")) {
            if (srv_json_int(v, k, 1, s->cfg.max_choices, &n, &e) == 0) o->n_samples = (int)n;
        } else if (!strcmp(k, "ignore_eos")) {
            srv_json_bool(v, k, &o->ignore_eos, &e);
        } else {
            unknown(k, "prompt, alpha, method, max_new_tokens, block_size, mcmc_steps, particles, "
                    "ess_threshold, alpha_ramp_tokens, seed, num_return_sequences and ignore_eos", &e);
        }
    }
    if (!e.status && mh_only && p->method != TEMPER_POWER_MH)
        srv_fail(&e, 400, "method", "block_size and mcmc_steps belong to method \"mh\"");
    if (!e.status && particle_only && p->method == TEMPER_POWER_MH)
        srv_fail(&e, 400, "particles", "particles belongs to method \"smc\" or \"sir\"");
    if (!seeded) p->seed = temper_random_seed();
    if (!o->ignore_eos) p->n_eos = temper_model_eos_ids(s->model, &p->eos_ids); /* every EOS id */
    if (!e.status) one_prompt(s, body, j, p->max_new_tokens, &e);
    cJSON_Delete(body);
    if (!e.status) {
        o->res = calloc((size_t)o->n_samples, sizeof *o->res);
        o->seconds = calloc((size_t)o->n_samples, sizeof *o->seconds);
        if (!o->res || !o->seconds) srv_fail(&e, 500, NULL, "out of memory");
    }
    return srv_api_ready(j, &e, er);
}
