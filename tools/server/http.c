/*
 * http.c - libmicrohttpd glue: one thread per connection, request bodies up
 * to cfg.max_body (413 beyond), the API key (Bearer, compared in constant
 * time), CORS headers when --cors is given, and the replies: JSON, errors
 * in OpenAI's shape, Server-Sent Events read from a job.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "server.h"

/* What a connection's request collects between the handler's calls. */
typedef struct http_body {
    char *data;
    size_t len, cap;
    int too_big;
} http_body;

int srv_fail_code(srv_error *e, int status, const char *param, const char *code,
                  const char *fmt, ...) {
    if (e->status) return -1; /* the first error wins */
    e->status = status;
    e->type = status == 401 ? "authentication_error"
            : status == 429 ? "rate_limit_error"
            : status >= 500 ? (status == 503 ? "unavailable_error" : "server_error")
            : status == 404 ? "not_found_error" : "invalid_request_error";
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    snprintf(e->code, sizeof e->code, "%s", code ? code : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

int srv_fail(srv_error *e, int status, const char *param, const char *fmt, ...) {
    if (e->status) return -1;
    char msg[sizeof e->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return srv_fail_code(e, status, param, NULL, "%s", msg);
}

cJSON *srv_error_json(const srv_error *e) {
    cJSON *root = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "message", e->message);
    cJSON_AddStringToObject(err, "type", e->type ? e->type : "server_error");
    if (e->param[0]) cJSON_AddStringToObject(err, "param", e->param);
    else cJSON_AddNullToObject(err, "param");
    if (e->code[0]) cJSON_AddStringToObject(err, "code", e->code);
    else cJSON_AddNullToObject(err, "code");
    return root;
}

/* Headers every reply gets. */
static void common_headers(srv_server *s, struct MHD_Response *resp) {
    if (s->cfg.cors) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", s->cfg.cors);
        MHD_add_response_header(resp, "Vary", "Origin");
    }
}

enum MHD_Result srv_reply_text(srv_request *r, int status, const char *ctype, char *body,
                               size_t len) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", ctype);
    common_headers(r->srv, resp);
    if (status == 503 || status == 429) MHD_add_response_header(resp, "Retry-After", "1");
    if (status >= 400) {
        pthread_mutex_lock(&r->srv->mu);
        r->srv->stats.errors++;
        pthread_mutex_unlock(&r->srv->mu);
    }
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result srv_reply_json(srv_request *r, int status, cJSON *json) {
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (!text) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":"
                                  "\"server_error\",\"param\":null,\"code\":null}}";
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
        enum MHD_Result rc = MHD_queue_response(r->conn, 500, resp);
        MHD_destroy_response(resp);
        return rc;
    }
    return srv_reply_text(r, status, "application/json", text, strlen(text));
}

enum MHD_Result srv_reply_error(srv_request *r, const srv_error *e) {
    return srv_reply_json(r, e->status ? e->status : 500, srv_error_json(e));
}

/* ---- Server-Sent Events: the connection's thread reads the job's output */

/* While a stream has nothing to send (waiting for a slot, a long prompt, a
 * busy machine), an SSE comment every half idle timeout keeps the
 * connection from being closed as idle; clients skip comments. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    srv_job *j = cls;
    srv_server *s = j->srv;
    static const char ping[] = ": keep-alive\n\n";
    double every = s->cfg.idle_timeout > 1 ? s->cfg.idle_timeout / 2.0 : 0.5;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* the condition variable's clock */
    until.tv_sec += (time_t)every;
    until.tv_nsec += (long)((every - (double)(time_t)every) * 1e9);
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    int timed_out = 0;
    pthread_mutex_lock(&s->mu);
    while (j->out_pos == j->out_len && !j->out_end && !timed_out)
        timed_out = pthread_cond_timedwait(&j->cv, &s->mu, &until) == ETIMEDOUT;
    ssize_t n;
    if (j->out_pos == j->out_len && !j->out_end && max >= sizeof ping - 1) {
        memcpy(buf, ping, sizeof ping - 1);
        n = (ssize_t)(sizeof ping - 1);
    } else if (j->out_pos == j->out_len) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        size_t k = j->out_len - j->out_pos;
        if (k > max) k = max;
        memcpy(buf, j->out + j->out_pos, k);
        j->out_pos += k;
        if (j->out_pos == j->out_len) j->out_pos = j->out_len = 0;
        n = (ssize_t)k;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* The connection is gone or the stream ended: cancel what is left. */
static void stream_free(void *cls) {
    srv_job *j = cls;
    srv_job_cancel(j);
    srv_job_release(j);
}

enum MHD_Result srv_reply_stream(srv_request *r, srv_job *j) {
    pthread_mutex_lock(&r->srv->mu);
    j->refs++;
    pthread_mutex_unlock(&r->srv->mu);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, j, stream_free);
    if (!resp) {
        stream_free(j);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    common_headers(r->srv, resp);
    enum MHD_Result rc = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return rc;
}

enum MHD_Result srv_run_job(srv_request *r, srv_job *j, srv_error *e, int stream,
                            enum MHD_Result (*reply)(srv_request *r, srv_job *j)) {
    if (!j) return srv_reply_error(r, e);
    enum MHD_Result mr;
    if (!e->status) srv_submit(j, e);
    if (e->status) {
        mr = srv_reply_error(r, e);
    } else if (stream) {
        mr = srv_reply_stream(r, j);
    } else {
        srv_job_wait(j);
        if (j->err.status) mr = srv_reply_error(r, &j->err);
        else if (j->canceled) mr = MHD_NO; /* the client is gone */
        else if (reply) mr = reply(r, j);
        else mr = srv_reply_doc(r, j->ops->doc(j));
    }
    srv_job_release(j);
    return mr;
}

/* ---- the rate limiter: a token bucket per client address (cfg.rate
 * requests per minute, bursts up to cfg.rate), in a fixed table: a full
 * table replaces its oldest entry, so memory stays bounded. */

#define SRV_BUCKETS 4096

typedef struct srv_bucket {
    char addr[48];
    double tokens, last; /* tokens left; when they were counted (s) */
} srv_bucket;

/* 0 when the client may go on, else the seconds until it may. */
static double rate_check(srv_server *s, struct MHD_Connection *c) {
    if (s->cfg.rate <= 0) return 0;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char addr[48] = "?";
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr, sizeof addr);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr, sizeof addr);
    }
    double now = srv_now(), per_s = s->cfg.rate / 60.0, wait = 0;
    unsigned h = 2166136261u;
    for (const char *p = addr; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    pthread_mutex_lock(&s->rate_mu);
    if (!s->buckets) s->buckets = calloc(SRV_BUCKETS, sizeof *s->buckets);
    if (s->buckets) {
        srv_bucket *b = NULL, *oldest = NULL;
        for (unsigned k = 0; k < 8 && !b; k++) { /* 8 places per address */
            srv_bucket *x = &s->buckets[(h + k) % SRV_BUCKETS];
            if (!strcmp(x->addr, addr)) b = x;
            else if (!oldest || x->last < oldest->last) oldest = x;
        }
        if (!b) {
            b = oldest;
            snprintf(b->addr, sizeof b->addr, "%s", addr);
            b->tokens = s->cfg.rate;
            b->last = now;
        }
        b->tokens += (now - b->last) * per_s;
        if (b->tokens > s->cfg.rate) b->tokens = s->cfg.rate;
        b->last = now;
        if (b->tokens >= 1) b->tokens -= 1;
        else wait = (1 - b->tokens) / per_s;
    }
    pthread_mutex_unlock(&s->rate_mu);
    return wait;
}

/* ---- the request handler */

/* 1 when the request carries the API key (or none is needed). */
static int authorized(srv_server *s, struct MHD_Connection *c) {
    if (!s->cfg.api_key) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return 0;
    h += 7;
    size_t n = strlen(h), k = strlen(s->cfg.api_key);
    /* constant time in the key's content; the length is not a secret */
    return n == k && CRYPTO_memcmp(h, s->cfg.api_key, k) == 0;
}

static enum MHD_Result preflight(srv_request *r) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    common_headers(r->srv, resp);
    if (r->srv->cfg.cors) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    }
    enum MHD_Result rc = MHD_queue_response(r->conn, 204, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls) {
    srv_server *s = cls;
    http_body *b = *con_cls;
    srv_request r = {.srv = s, .conn = c, .method = method, .path = url, .fd = -1};
    srv_error e = {0};
    if (!b) { /* the first call: headers only */
        b = calloc(1, sizeof *b);
        if (!b) return MHD_NO;
        *con_cls = b;
        atomic_fetch_add(&s->in_flight, 1);
        pthread_mutex_lock(&s->mu);
        s->stats.requests++;
        pthread_mutex_unlock(&s->mu);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body) {
            srv_fail_code(&e, 413, NULL, "request_too_large",
                          "the request body has %s bytes; the server takes at most %zu "
                          "(temper serve --max-body)", cl, s->cfg.max_body);
            b->too_big = 2; /* answered */
            return srv_reply_error(&r, &e);
        }
        return MHD_YES;
    }
    if (*upload_size) { /* a part of the body */
        if (b->too_big || b->len + *upload_size > s->cfg.max_body) {
            b->too_big = b->too_big ? b->too_big : 1;
        } else {
            if (b->len + *upload_size + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                while (cap < b->len + *upload_size + 1) cap *= 2;
                char *d = realloc(b->data, cap);
                if (!d) return MHD_NO;
                b->data = d;
                b->cap = cap;
            }
            memcpy(b->data + b->len, upload, *upload_size);
            b->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (b->too_big == 2) return MHD_YES;
    if (b->too_big) {
        srv_fail_code(&e, 413, NULL, "request_too_large",
                      "the request body is larger than %zu bytes, the server's limit "
                      "(temper serve --max-body)", s->cfg.max_body);
        return srv_reply_error(&r, &e);
    }
    r.body = b->data ? b->data : "";
    if (b->data) b->data[b->len] = '\0';
    r.body_len = b->len;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    r.fd = ci ? ci->connect_fd : -1;
    if (strcmp(method, "OPTIONS") == 0) return preflight(&r);
    /* /health answers without a key, for load balancers; the explorer's
     * files too (they hold no data: the page asks for the key) */
    if (strcmp(url, "/health") != 0 && !srv_web_find(url) && !authorized(s, c)) {
        srv_fail_code(&e, 401, NULL, "invalid_api_key",
                      "a valid API key is needed: send the header \"Authorization: Bearer KEY\"");
        return srv_reply_error(&r, &e);
    }
    double wait = strcmp(url, "/health") != 0 ? rate_check(s, c) : 0;
    if (wait > 0) {
        srv_fail_code(&e, 429, NULL, "rate_limit_exceeded", "too many requests from this address: "
                      "the server takes %d a minute from each (temper serve --rate); retry in %.0f s",
                      s->cfg.rate, wait < 1 ? 1 : wait + 0.5);
        return srv_reply_error(&r, &e);
    }
    return srv_route(&r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    http_body *b = *con_cls;
    srv_server *s = cls;
    if (b) {
        free(b->data);
        free(b);
        atomic_fetch_sub(&s->in_flight, 1);
    }
    *con_cls = NULL;
}

int srv_http_start(srv_server *s, srv_error *e) {
    struct sockaddr_in sa4;
    struct sockaddr_in6 sa6;
    struct sockaddr *sa;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC;
    memset(&sa4, 0, sizeof sa4);
    memset(&sa6, 0, sizeof sa6);
    if (inet_pton(AF_INET, s->cfg.host, &sa4.sin_addr) == 1) {
        sa4.sin_family = AF_INET;
        sa4.sin_port = htons((uint16_t)s->cfg.port);
        sa = (struct sockaddr *)&sa4;
    } else if (inet_pton(AF_INET6, s->cfg.host, &sa6.sin6_addr) == 1) {
        sa6.sin6_family = AF_INET6;
        sa6.sin6_port = htons((uint16_t)s->cfg.port);
        sa = (struct sockaddr *)&sa6;
        flags |= MHD_USE_IPv6;
    } else {
        return srv_fail(e, 400, "host", "\"%s\" is not an IPv4 or IPv6 address "
                        "(127.0.0.1 for this machine only, 0.0.0.0 for every interface)",
                        s->cfg.host);
    }
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)s->cfg.port, NULL, NULL, handle, s,
        MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.idle_timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, /* headers + buffers */
        MHD_OPTION_NOTIFY_COMPLETED, completed, s,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
        MHD_OPTION_END);
    if (!s->daemon)
        return srv_fail(e, 500, "port", "cannot listen on %s port %d (in use, or not allowed)",
                        s->cfg.host, s->cfg.port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (di && di->port) s->cfg.port = di->port;
    return 0;
}

void srv_http_quiesce(srv_server *s) {
    if (s->daemon && !s->quiesced) {
        MHD_socket fd = MHD_quiesce_daemon(s->daemon);
        if (fd != MHD_INVALID_SOCKET) close(fd);
        s->quiesced = 1;
    }
}

void srv_http_stop(srv_server *s) {
    if (s->daemon) MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}
