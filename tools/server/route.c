/*
 * route.c - method + path -> endpoint. Paths are matched exactly; a known
 * path with another method is 405, then the explorer's files (GET, web.c),
 * then 404. Every endpoint but /health and the explorer's files answers
 * 503 while the model loads.
 */
#include <string.h>

#include "server.h"

/* An endpoint: run answers the request; or (temper's analyses) make
 * builds its job from the body, which the scheduler runs. */
typedef srv_job *(*srv_make_job)(srv_server *s, const char *body, size_t len, int fd, srv_error *e);
typedef struct srv_route_entry {
    const char *method, *path;
    enum MHD_Result (*run)(srv_request *r);
    srv_make_job make;
} srv_route_entry;

static enum MHD_Result health(srv_request *r) {
    int st = atomic_load(&r->srv->state);
    if (st == SRV_READY) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "status", "ok");
        return srv_reply_json(r, 200, o);
    }
    srv_error e = {0};
    srv_fail(&e, 503, NULL, st == SRV_LOADING ? "Loading model" : "the server is stopping (draining)");
    return srv_reply_error(r, &e);
}

static const srv_route_entry routes[] = {
    {"GET", "/health", health, NULL},
    {"GET", "/v1/health", health, NULL},
    {"GET", "/v1/models", srv_openai_models, NULL},
    {"GET", "/models", srv_openai_models, NULL},
    {"POST", "/v1/completions", srv_openai_completions, NULL},
    {"POST", "/completions", srv_openai_completions, NULL},
    {"POST", "/v1/chat/completions", srv_openai_chat, NULL},
    {"POST", "/completion", srv_lc_completion, NULL},
    {"POST", "/tokenize", srv_lc_tokenize, NULL},
    {"POST", "/detokenize", srv_lc_detokenize, NULL},
    {"GET", "/props", srv_lc_props, NULL},
    {"GET", "/slots", srv_lc_slots, NULL},
    {"GET", "/metrics", srv_lc_metrics, NULL},
    {"GET", "/temper/info", srv_temper_info, NULL},
    {"POST", "/temper/tokenize", srv_temper_tokenize, NULL},
    {"POST", "/temper/detokenize", srv_temper_detokenize, NULL},
    {"POST", "/temper/score", NULL, srv_temper_score_job},
    {"POST", "/temper/probs", NULL, srv_temper_probs_job},
    {"POST", "/temper/generate", srv_temper_generate, NULL},
    {"POST", "/temper/softmax", srv_temper_softmax, NULL},
    {"POST", "/temper/perplexity", NULL, srv_temper_perplexity_job},
    {"POST", "/temper/attention", NULL, srv_temper_attention_job},
    {"POST", "/temper/hidden", NULL, srv_temper_hidden_job},
    {"POST", "/temper/trace", NULL, srv_temper_trace_job},
    {"POST", "/temper/power", NULL, srv_temper_power_job},
    {"POST", "/chat/completions", srv_openai_chat, NULL},
};

enum MHD_Result srv_route(srv_request *r) {
    srv_error e = {0};
    const srv_route_entry *found = NULL;
    int path_known = 0;
    for (size_t k = 0; k < sizeof routes / sizeof routes[0]; k++) {
        if (strcmp(routes[k].path, r->path) != 0) continue;
        path_known = 1;
        if (strcmp(routes[k].method, r->method) == 0) found = &routes[k];
    }
    if (!found) {
        const srv_asset *a = NULL;
        if (!path_known && (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD")) &&
            (a = srv_web_find(r->path)))
            return srv_web(r, a);
        if (path_known)
            srv_fail(&e, 405, NULL, "%s is not allowed on %s", r->method, r->path);
        else
            srv_fail(&e, 404, NULL, "no endpoint %s %s (docs/api.md lists them)", r->method,
                     r->path);
        return srv_reply_error(r, &e);
    }
    /* while draining, requests on connections accepted before are still served */
    int st = atomic_load(&r->srv->state);
    if (found->run != health && st != SRV_READY && st != SRV_STOPPING_SOFT) {
        srv_fail(&e, 503, NULL, atomic_load(&r->srv->state) == SRV_LOADING
                                    ? "Loading model: try again in a moment"
                                    : "the server is stopping");
        return srv_reply_error(r, &e);
    }
    if (found->make) {
        srv_job *j = found->make(r->srv, r->body, r->body_len, r->fd, &e);
        return srv_run_job(r, j, &e, 0, NULL);
    }
    return found->run(r);
}

int srv_check_request(srv_server *s, const char *path, const char *body, size_t len, srv_error *e) {
    srv_job *j = NULL;
    cJSON *out = NULL;
    if (!strcmp(path, "/v1/completions")) j = srv_openai_job(s, body, len, -1, e);
    else if (!strcmp(path, "/completion")) j = srv_lc_job(s, body, len, -1, e);
    else if (!strcmp(path, "/temper/generate")) j = srv_temper_generate_job(s, body, len, -1, e);
    else if (!strcmp(path, "/tokenize")) out = srv_lc_tokenize_json(s, body, len, e);
    else if (!strcmp(path, "/detokenize")) out = srv_lc_detokenize_json(s, body, len, e);
    else {
        const srv_route_entry *r = NULL;
        for (size_t k = 0; k < sizeof routes / sizeof routes[0] && !r; k++)
            if (routes[k].make && !strcmp(routes[k].path, path)) r = &routes[k];
        if (!r) return srv_fail(e, 404, NULL, "no endpoint %s", path);
        j = r->make(s, body, len, -1, e);
    }
    int ok = j || out;
    srv_job_release(j);
    cJSON_Delete(out);
    return ok ? 0 : -1;
}
