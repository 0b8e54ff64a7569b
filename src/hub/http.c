/* http.c - HTTP requests for the Hub client, over libcurl. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "hub/http.h"

static pthread_once_t temper__curl_once = PTHREAD_ONCE_INIT;
static void temper__curl_global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

int temper__http_init(temper__http *h, const char *token) {
    memset(h, 0, sizeof *h);
    pthread_once(&temper__curl_once, temper__curl_global_init);
    h->share = curl_share_init();
    if (!h->share || curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK) {
        temper__http_free(h);
        return temper__error(TEMPER_ENOMEM, "cannot start libcurl (out of memory?)");
    }
    /* optional: without them each new host costs a lookup or a handshake */
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if (token && *token) {
        h->auth = temper__strfmt("Authorization: Bearer %s", token);
        if (!h->auth) {
            temper__http_free(h);
            return temper__error(TEMPER_ENOMEM, "out of memory");
        }
    }
    return 0;
}

void temper__http_free(temper__http *h) {
    if (h->share) curl_share_cleanup(h->share); /* no easy handle outlives a request */
    free(h->auth);
    memset(h, 0, sizeof *h);
}

char *temper__url_quote(const char *s, int keep_slash) {
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(3 * strlen(s) + 1), *p = out;
    if (!out) return NULL;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (isalnum(*c) || strchr("-._~", *c) || (keep_slash && *c == '/')) {
            *p++ = (char)*c;
        } else {
            *p++ = '%';
            *p++ = hex[*c >> 4];
            *p++ = hex[*c & 15];
        }
    }
    *p = '\0';
    return out;
}

/* Copy a header value, trimmed, into dst (cap bytes). */
static void temper__copy_value(char *dst, size_t cap, const char *v, size_t n) {
    while (n && isspace((unsigned char)*v)) { v++; n--; }
    while (n && isspace((unsigned char)v[n - 1])) n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

/* An ETag as a file name: without the weak prefix W/ and the quotes. */
static void temper__normalise_etag(char *e) {
    char *s = e;
    if (s[0] == 'W' && s[1] == '/') s += 2;
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') { s++; n -= 2; }
    memmove(e, s, n);
    e[n] = '\0';
}

static size_t temper__on_header(char *line, size_t size, size_t nitems, void *userdata) {
    temper__http_req *r = userdata;
    size_t n = size * nitems;
    temper__http_resp *resp = &r->resp;
    if (n > 5 && strncmp(line, "HTTP/", 5) == 0) { /* a new response (after a redirect) */
        long status = 0;
        const char *sp = memchr(line, ' ', n);
        if (sp) status = strtol(sp + 1, NULL, 10);
        memset(resp, 0, sizeof *resp);
        resp->status = status;
        resp->content_length = resp->linked_size = -1;
        return n;
    }
    const char *colon = memchr(line, ':', n);
    if (!colon) return n;
    size_t klen = (size_t)(colon - line), vlen = n - klen - 1;
    const char *v = colon + 1;
    char num[32];
#define TEMPER__IS(name) (klen == sizeof name - 1 && strncasecmp(line, name, klen) == 0)
    if (TEMPER__IS("X-Repo-Commit")) {
        temper__copy_value(resp->commit, sizeof resp->commit, v, vlen);
    } else if (TEMPER__IS("ETag")) {
        temper__copy_value(resp->etag, sizeof resp->etag, v, vlen);
        temper__normalise_etag(resp->etag);
    } else if (TEMPER__IS("X-Linked-Etag")) {
        temper__copy_value(resp->linked_etag, sizeof resp->linked_etag, v, vlen);
        temper__normalise_etag(resp->linked_etag);
    } else if (TEMPER__IS("Content-Length")) {
        temper__copy_value(num, sizeof num, v, vlen);
        resp->content_length = strtoll(num, NULL, 10);
    } else if (TEMPER__IS("X-Linked-Size")) {
        temper__copy_value(num, sizeof num, v, vlen);
        resp->linked_size = strtoll(num, NULL, 10);
    } else if (TEMPER__IS("Location")) {
        temper__copy_value(resp->location, sizeof resp->location, v, vlen);
    } else if (TEMPER__IS("X-Error-Code")) {
        temper__copy_value(resp->error_code, sizeof resp->error_code, v, vlen);
    } else if (TEMPER__IS("X-Error-Message")) {
        temper__copy_value(resp->error_message, sizeof resp->error_message, v, vlen);
    }
#undef TEMPER__IS
    return n;
}

static size_t temper__on_body(char *data, size_t size, size_t nmemb, void *userdata) {
    temper__http_req *r = userdata;
    size_t n = size * nmemb;
    long st = r->resp.status;
    if (st != 200 && st != 206) return n; /* an error page: not part of any file */
    if (r->file) {
        if (st == 200 && r->range_from > 0 && r->body_bytes == 0) {
            /* The server ignored the Range header and sends the whole file:
             * start it again rather than append it to the partial one. */
            if (fflush(r->file) != 0 || ftruncate(fileno(r->file), 0) != 0 ||
                fseeko(r->file, 0, SEEK_SET) != 0) {
                r->write_errno = errno ? errno : EIO;
                return 0;
            }
            r->restarted = 1;
        }
        uint64_t base = r->restarted ? 0 : r->range_from;
        if (r->max_total && base + r->body_bytes + n > r->max_total) {
            r->too_big = 1;
            return 0;
        }
        errno = 0;
        size_t w = fwrite(data, 1, n, r->file);
        if (w != n) {
            r->write_errno = errno ? errno : EIO;
            return 0; /* makes curl stop with CURLE_WRITE_ERROR */
        }
        r->body_bytes += n;
        return n;
    }
    if (r->mem_max == 0) return n;
    if (r->mem_len + n > r->mem_max) {
        r->write_errno = EFBIG;
        return 0;
    }
    char *bigger = realloc(r->mem, r->mem_len + n + 1);
    if (!bigger) {
        r->write_errno = ENOMEM;
        return 0;
    }
    r->mem = bigger;
    memcpy(r->mem + r->mem_len, data, n);
    r->mem_len += n;
    r->mem[r->mem_len] = '\0';
    r->body_bytes += n;
    return n;
}

static int temper__on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                               curl_off_t ultotal, curl_off_t ulnow) {
    (void)ultotal;
    (void)ulnow;
    temper__http_req *r = userdata;
    if (!r->progress) return 0;
    long st = r->resp.status;
    if (st != 200 && st != 206) return 0;
    if (r->progress(r->user, (uint64_t)dlnow, dltotal > 0 ? (uint64_t)dltotal : 0)) {
        r->canceled = 1;
        return 1;
    }
    return 0;
}

int temper__http_perform(temper__http *h, temper__http_req *r) {
    memset(&r->resp, 0, sizeof r->resp);
    r->resp.content_length = r->resp.linked_size = -1;
    r->body_bytes = 0;
    r->write_errno = r->canceled = r->transient = r->restarted = r->too_big = r->stalled = 0;

    /* A fresh easy handle (see temper__http in http.h); the connections
     * stay open in the share. */
    CURL *c = curl_easy_init();
    struct curl_slist *headers = NULL, *more;
    headers = curl_slist_append(headers, "Accept-Encoding: identity");
    if (headers && h->auth && (more = curl_slist_append(headers, h->auth))) headers = more;
    if (!c || !headers) {
        if (c) curl_easy_cleanup(c);
        curl_slist_free_all(headers);
        return temper__error(TEMPER_ENOMEM, "out of memory");
    }

    char range[48], errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_SHARE, h->share);
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "temper/0.1.0");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    /* A transfer slower than 1 KB/s for TEMPER_HUB_TIMEOUT s is a stall:
     * give up and let the caller resume it; small requests get a deadline. */
    const char *env = getenv("TEMPER_HUB_TIMEOUT");
    long limit = env && atol(env) > 0 ? atol(env) : 30;
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, limit);
    if (!r->file) curl_easy_setopt(c, CURLOPT_TIMEOUT, 2 * limit);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, temper__on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, temper__on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, temper__on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, r->progress ? 0L : 1L);
    if (r->head) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (r->follow) {
        /* The Authorization header is not sent to other hosts (the CDN) */
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    }
    if (r->range_from > 0) {
        snprintf(range, sizeof range, "%llu-", (unsigned long long)r->range_from);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    }

    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c); /* before the header list it points to */
    curl_slist_free_all(headers);
    if (status) r->resp.status = status;
    if (cc == CURLE_OK) {
        r->transient = status == 429 || status >= 500;
        return 0;
    }
    if (r->canceled) return temper__error(TEMPER_ECANCELED, "download canceled");
    if (cc == CURLE_WRITE_ERROR && r->too_big)
        return temper__error(TEMPER_EIO, "%s: the server sent more than the %llu bytes announced", r->url,
                             (unsigned long long)r->max_total);
    if (cc == CURLE_WRITE_ERROR && r->write_errno)
        return temper__error(TEMPER_EIO, "%s", strerror(r->write_errno));
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        r->stalled = 1;
        r->transient = 1;
        return temper__error(TEMPER_EIO, "%s: %s for %ld s (a stalled or slow-drip server)", r->url,
                             r->file ? "the transfer stayed below 1 KB/s" : "no complete answer", limit);
    }
    if (cc == CURLE_TOO_MANY_REDIRECTS)
        return temper__error(TEMPER_EIO, "%s: more than 10 redirects (a redirect loop?)", r->url);
    const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(cc);
    switch (cc) {
    case CURLE_BAD_FUNCTION_ARGUMENT: /* every option is ours: libcurl refused a header line */
        return temper__error(TEMPER_EIO, "%s: malformed HTTP headers in the server's answer (a first "
                             "header line that continues nothing?): is HF_ENDPOINT a Hugging Face "
                             "Hub or mirror, or is a proxy in the way?", r->url);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return temper__error(TEMPER_EIO, "%s: %s", r->url, detail);
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        r->transient = 1;
        return temper__error(TEMPER_EIO, "%s: %s", r->url, detail);
    default:
        return temper__error(TEMPER_EIO, "%s: %s", r->url, detail);
    }
}
