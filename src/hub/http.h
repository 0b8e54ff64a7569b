/*
 * http.h - the small HTTP layer of the Hub client, over libcurl: one
 * request at a time, each on a fresh easy handle that shares one
 * connection cache (keep-alive), with the response headers the Hub
 * protocol needs picked out.
 */
#ifndef TEMPER_HUB_HTTP_H
#define TEMPER_HUB_HTTP_H

#include <stdint.h>
#include <stdio.h>

#include "hub/hub.h"

/* What the last response (after any redirects followed) said. */
typedef struct temper__http_resp {
    long status;              /* HTTP status; 0: no response at all */
    char commit[64];          /* X-Repo-Commit */
    char etag[160];           /* ETag, normalised: W/ and quotes removed */
    char linked_etag[160];    /* X-Linked-Etag (LFS files: the sha256), normalised */
    int64_t content_length;   /* -1: absent */
    int64_t linked_size;      /* X-Linked-Size (LFS files: the real size); -1: absent */
    char location[2048];      /* Location of a redirect; "" if none */
    char error_code[64];      /* X-Error-Code ("RepoNotFound", "GatedRepo"...) */
    char error_message[256];  /* X-Error-Message */
} temper__http_resp;

typedef struct temper__http {
    /* CURLSH *: the connections, DNS answers and TLS sessions the requests
     * share. Not one reused easy handle: libcurl 7.88 (Debian 12) keeps a
     * pointer to the previous transfer's last header in the handle, freed
     * with it, and follows it when the next answer's first header line is
     * a folded continuation (" X: y"): a use-after-free that a hostile
     * server triggers at will (curl issue 11101, fixed in 8.1.0). */
    void *share;
    char *auth;               /* "Authorization: Bearer <token>" or NULL (owned) */
} temper__http;

/* One request. Zero-initialise, then set what applies. */
typedef struct temper__http_req {
    const char *url;
    int head;                 /* HEAD instead of GET */
    int follow;               /* follow redirects (GET of a file) */
    uint64_t range_from;      /* > 0: ask for bytes range_from.. (Range header) */
    /* Body sink: file (appended to) if set, else a memory buffer of at most
     * mem_max bytes (0: discard the body). */
    FILE *file;
    size_t mem_max;
    char *mem;                /* malloc'd body, NUL-terminated; owned by the caller */
    size_t mem_len;
    /* Called about every 100 ms with the body bytes received so far and the
     * body size announced (0: unknown); non-zero cancels the request. */
    int (*progress)(void *user, uint64_t got, uint64_t expected);
    void *user;
    /* File sink: the size the whole file may reach (the Hub's announced
     * size); a server sending more is cut off (too_big). 0: no limit. */
    uint64_t max_total;
    /* Out */
    temper__http_resp resp;
    uint64_t body_bytes;      /* body bytes written to the sink */
    int write_errno;          /* errno of a failed write to file (ENOSPC...) */
    int canceled;             /* progress asked to stop */
    int transient;            /* a failure worth retrying (network, 5xx, 429) */
    int restarted;            /* a 200 answered a Range request: file truncated */
    int too_big;              /* the body went past max_total */
    int stalled;              /* slower than the stall limit (see temper__http_perform) */
} temper__http_req;

/* token: NULL or "" for none. */
int temper__http_init(temper__http *h, const char *token);
void temper__http_free(temper__http *h);

/* Run r. Returns 0 when a response arrived (any status: look at
 * r->resp.status), else a negative error with a message (network failure,
 * write failure, cancel) and r->transient set when retrying may help.
 * Time limits (TEMPER_HUB_TIMEOUT seconds, default 30): a request without
 * a file sink (model info, HEAD) must end within twice that; a file
 * transfer that moves less than 1 KB/s for that long is a stall (a
 * slow-drip server): it ends with r->stalled set. Redirects: at most 10. */
int temper__http_perform(temper__http *h, temper__http_req *r);

/* Percent-encode s for a URL path; keep '/' when keep_slash. Malloc'd,
 * owned by the caller; NULL on OOM. */
char *temper__url_quote(const char *s, int keep_slash);

#endif
