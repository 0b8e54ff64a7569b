/*
 * download.c - fetch a model from the Hugging Face Hub into the cache, the
 * way huggingface_hub's snapshot_download does, for the files temper needs.
 *
 *   1. GET  {endpoint}/api/models/{repo}/revision/{rev}  -> "sha" (the
 *      commit) and "siblings" (the file list): pick the files.
 *   2. HEAD {endpoint}/{repo}/resolve/{commit}/{file} without following
 *      redirects to another host (a relative one is a renamed repo and is
 *      followed): X-Repo-Commit, the ETag (X-Linked-Etag for LFS files:
 *      their sha256) and the size (X-Linked-Size, else Content-Length).
 *   3. blobs/<etag> present: nothing to download. Else, holding the lock
 *      <cache>/.locks/models--X/<etag>.lock (the one huggingface_hub
 *      takes), GET the resolve URL (following the redirect to the CDN)
 *      into blobs/<etag>.incomplete, resuming it with a Range header if it
 *      exists, retrying transient failures with exponential backoff; check
 *      the size and the checksum the ETag gives (sha256 for LFS files, the
 *      git blob id for the others; digest.c); fsync and rename it to
 *      blobs/<etag>.
 *   4. snapshots/<commit>/<file> -> ../../blobs/<etag> (relative symlink,
 *      made under a temporary name and renamed over the old one), then
 *      refs/<rev> = <commit> once every file is there.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "hub/http.h"

/* Files temper reads besides the weights, fetched when the repo has them. */
static const char *const temper__small_files[] = {
    "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "vocab.json", "merges.txt", "added_tokens.json",
    "tokenizer.model",
};

/* Weights, by preference: the first one the repo has is fetched. */
static const char *const temper__weight_files[] = {
    "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
    "pytorch_model.bin.index.json",
};

typedef struct temper__pull_file {
    char *name;   /* path in the repo (owned) */
    char *etag;   /* blob name (owned); NULL until the HEAD */
    int64_t size; /* -1: unknown */
    int lfs;      /* etag is a sha256 */
    int cached;   /* the blob was already in the cache */
    int fetched;  /* blobs/<etag> is in place */
} temper__pull_file;

typedef struct temper__pull {
    const char *repo, *revision;
    char *endpoint;           /* without trailing '/' (owned) */
    char *cache;              /* (owned) */
    char *repo_dir;           /* <cache>/models--X (owned) */
    char *commit;             /* (owned) */
    temper__http http;
    temper_pull_callback progress;
    void *user;
    int max_retries;
    double backoff;           /* first wait, seconds */
    int force;
    temper__pull_file *files; /* (n_files) owned */
    int n_files, cap_files;
    uint64_t done, total;     /* bytes of the finished files / of all files */
    /* the file being downloaded */
    int cur;
    uint64_t cur_resumed;
    double cur_t0, last_report;
} temper__pull;

/* ---- small helpers ------------------------------------------------------ */

static double temper__env_double(const char *name, double def) {
    const char *v = getenv(name);
    if (!v || !*v) return def;
    char *end;
    double d = strtod(v, &end);
    return *end || !(d >= 0) ? def : d;
}

static void temper__sleep(double seconds) {
    struct timespec ts = {(time_t)seconds, (long)((seconds - floor(seconds)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static int temper__mkdirs(const char *path) {
    char *p = temper__strdup(path);
    if (!p) return temper__error(TEMPER_ENOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            int rc = temper__error(TEMPER_EIO, "cannot create the folder %s: %s%s", p, strerror(e),
                                   e == EACCES ? " (set HF_HOME or HF_HUB_CACHE to a folder you "
                                                 "can write)" : "");
            free(p);
            return rc;
        }
        *s = c;
        if (c == '\0') break;
    }
    free(p);
    return 0;
}

/* Is s exactly len lowercase hex digits (64: a sha256, 40: a git blob id)? */
static int temper__is_hex(const char *s, size_t len) {
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return i == len;
}

/* A disk error with the fix. */
static int temper__disk_error(const char *path, int e) {
    if (e == ENOSPC || e == EDQUOT)
        return temper__error(TEMPER_EIO, "%s: the disk is full: free some space (or set "
                             "HF_HUB_CACHE to a bigger disk) and run the same command again to "
                             "resume", path);
    return temper__error(TEMPER_EIO, "%s: %s", path, strerror(e));
}

static int temper__report(temper__pull *p, int event, int idx, uint64_t file_done,
                          const char *message) {
    if (!p->progress) return 0;
    /* idx -1: a request that is not for one file (the revision lookup) */
    const temper__pull_file *f = idx >= 0 ? &p->files[idx] : NULL;
    temper_pull_progress pr = {
        .event = event, .repo = p->repo, .file = f ? f->name : p->repo, .file_index = idx,
        .n_files = p->n_files, .file_done = file_done,
        .file_total = f && f->size > 0 ? (uint64_t)f->size : 0, .resumed = p->cur_resumed,
        .done = p->done + (event == TEMPER_PULL_DONE || event == TEMPER_PULL_CACHED ? 0 : file_done),
        .total = p->total, .seconds = temper__now() - p->cur_t0, .message = message,
    };
    if (p->progress(&pr, p->user))
        return temper__error(TEMPER_ECANCELED, "download of %s canceled", p->repo);
    return 0;
}

/* The error for an HTTP status that is not a success, with the fix. */
static int temper__status_error(temper__pull *p, const temper__http_resp *r, const char *what) {
    const char *code = r->error_code, *msg = r->error_message[0] ? r->error_message : NULL;
    long st = r->status;
    if (strcmp(code, "GatedRepo") == 0 || (st == 403 && !strstr(code, "NotFound")))
        return temper__error(TEMPER_EIO, "%s: HTTP %ld: %s is a gated or private repo%s%s: "
                             "accept its conditions on %s/%s and set HF_TOKEN to an access "
                             "token (%s/settings/tokens)", what, st, p->repo, msg ? ": " : "",
                             msg ? msg : "", p->endpoint, p->repo, p->endpoint);
    if (strcmp(code, "RevisionNotFound") == 0)
        return temper__error(TEMPER_ENOENT, "%s: HTTP %ld: %s has no revision \"%s\" (branch, "
                             "tag or commit)", what, st, p->repo, p->revision);
    if (strcmp(code, "EntryNotFound") == 0)
        return temper__error(TEMPER_ENOENT, "%s: HTTP %ld: no such file in %s", what, st, p->repo);
    if (st == 401 || strcmp(code, "RepoNotFound") == 0)
        return temper__error(TEMPER_ENOENT, "%s: HTTP %ld: repository %s not found%s: check the "
                             "id on %s; if it is private or gated, set HF_TOKEN to an access "
                             "token%s", what, st, p->repo, getenv("HF_TOKEN") ? " (with the "
                             "HF_TOKEN given)" : "", p->endpoint,
                             getenv("HF_TOKEN") ? " that can read it" : "");
    if (st == 404)
        return temper__error(TEMPER_ENOENT, "%s: HTTP 404: not found (no repo %s, no revision "
                             "\"%s\", or no such file)", what, p->repo, p->revision);
    return temper__error(TEMPER_EIO, "%s: HTTP %ld%s%s", what, st, msg ? ": " : "", msg ? msg : "");
}

/* Wait before retry `attempt` (0-based), telling the callback why. */
static int temper__backoff(temper__pull *p, int idx, int attempt, uint64_t file_done) {
    double wait = p->backoff * pow(2.0, attempt);
    if (wait > 8.0) wait = 8.0;
    char msg[1200];
    snprintf(msg, sizeof msg, "%s; retrying in %.1f s (%d/%d)", temper_last_error(), wait,
             attempt + 1, p->max_retries);
    int rc = temper__report(p, TEMPER_PULL_RETRY, idx, file_done, msg);
    if (rc < 0) return rc;
    temper__sleep(wait);
    return 0;
}

/* A request that is retried on transient failures. 0 when a response
 * arrived (its status may be an error), else a negative error. */
static int temper__request(temper__pull *p, temper__http_req *r, int idx) {
    for (int attempt = 0;; attempt++) {
        int rc = temper__http_perform(&p->http, r);
        if (rc == 0 && !r->transient) return 0;
        if (rc == 0) rc = temper__status_error(p, &r->resp, r->url);
        if (!r->transient || attempt >= p->max_retries) {
            if (rc != TEMPER_EIO || r->resp.status) return rc;
            char detail[1024];
            snprintf(detail, sizeof detail, "%s", temper_last_error());
            return temper__error(rc, "%s: check the network connection, or HF_ENDPOINT (%s) "
                                 "for a mirror, or set HF_HUB_OFFLINE=1 to use only the cache",
                                 detail, p->endpoint);
        }
        free(r->mem);
        r->mem = NULL;
        r->mem_len = 0;
        if ((rc = temper__backoff(p, idx, attempt, 0)) < 0) return rc;
    }
}

static int temper__add_file(temper__pull *p, const char *name) {
    for (int i = 0; i < p->n_files; i++)
        if (strcmp(p->files[i].name, name) == 0) return 0;
    if (p->n_files == p->cap_files) {
        int cap = p->cap_files ? 2 * p->cap_files : 16;
        temper__pull_file *f = realloc(p->files, (size_t)cap * sizeof *f);
        if (!f) return temper__error(TEMPER_ENOMEM, "out of memory");
        p->files = f;
        p->cap_files = cap;
    }
    temper__pull_file *f = &p->files[p->n_files];
    memset(f, 0, sizeof *f);
    f->size = -1;
    if (!(f->name = temper__strdup(name))) return temper__error(TEMPER_ENOMEM, "out of memory");
    p->n_files++;
    return 0;
}

/* ---- step 1: the commit and the file list ------------------------------ */

static int temper__has_sibling(const cJSON *siblings, const char *name) {
    const cJSON *s;
    cJSON_ArrayForEach(s, siblings) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(s, "rfilename");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) return 1;
    }
    return 0;
}

static int temper__list_files(temper__pull *p) {
    char *rev = temper__url_quote(p->revision, 0);
    char *url = rev ? temper__strfmt("%s/api/models/%s/revision/%s", p->endpoint, p->repo, rev) : NULL;
    free(rev);
    if (!url) return temper__error(TEMPER_ENOMEM, "out of memory");
    temper__http_req r = {.url = url, .follow = 1, .mem_max = 64u << 20};
    int rc = temper__request(p, &r, -1);
    cJSON *info = NULL;
    if (rc < 0) goto done;
    if (r.resp.status != 200) {
        rc = temper__status_error(p, &r.resp, url);
        goto done;
    }
    info = r.mem ? cJSON_Parse(r.mem) : NULL;
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(info, "sha");
    const cJSON *siblings = cJSON_GetObjectItemCaseSensitive(info, "siblings");
    if (!cJSON_IsString(sha) || !temper__hub_is_commit(sha->valuestring) || !cJSON_IsArray(siblings)) {
        rc = temper__error(TEMPER_EIO, "%s: the answer is not the Hub's model info (no \"sha\" "
                           "and \"siblings\"): is HF_ENDPOINT (%s) a Hugging Face Hub or mirror?",
                           url, p->endpoint);
        goto done;
    }
    if (!(p->commit = temper__strdup(sha->valuestring))) {
        rc = temper__error(TEMPER_ENOMEM, "out of memory");
        goto done;
    }
    if (!temper__has_sibling(siblings, "config.json")) {
        rc = temper__error(TEMPER_EUNSUPPORTED, "%s at %s has no config.json: it is not a "
                           "transformers model temper can run", p->repo, p->revision);
        goto done;
    }
    for (size_t k = 0; k < sizeof temper__small_files / sizeof *temper__small_files; k++)
        if (temper__has_sibling(siblings, temper__small_files[k]) &&
            (rc = temper__add_file(p, temper__small_files[k])) < 0)
            goto done;
    const char *weights = NULL;
    for (size_t k = 0; k < sizeof temper__weight_files / sizeof *temper__weight_files && !weights; k++)
        if (temper__has_sibling(siblings, temper__weight_files[k])) weights = temper__weight_files[k];
    if (!weights) {
        rc = temper__error(TEMPER_EUNSUPPORTED, "%s at %s has none of model.safetensors, "
                           "model.safetensors.index.json, pytorch_model.bin or "
                           "pytorch_model.bin.index.json: no weights temper can read", p->repo,
                           p->revision);
        goto done;
    }
    rc = temper__add_file(p, weights);
done:
    cJSON_Delete(info);
    free(r.mem);
    free(url);
    return rc;
}

/* ---- step 2: metadata of one file ---------------------------------------- */

static int temper__head_file(temper__pull *p, temper__pull_file *f) {
    char *name = temper__url_quote(f->name, 1);
    char *url = name ? temper__strfmt("%s/%s/resolve/%s/%s", p->endpoint, p->repo, p->commit, name) : NULL;
    free(name);
    if (!url) return temper__error(TEMPER_ENOMEM, "out of memory");
    int rc = 0;
    temper__http_req r = {.head = 1};
    for (int hops = 0;; hops++) {
        r.url = url;
        if ((rc = temper__request(p, &r, -1)) < 0) goto done;
        long st = r.resp.status;
        /* A relative redirect (a renamed repo) is followed; one to another
         * host is the CDN, whose headers we do not need. */
        if (st >= 300 && st < 400 && r.resp.location[0] == '/' && hops < 10) {
            const char *host_end = strchr(strstr(p->endpoint, "://") ? strstr(p->endpoint, "://") + 3
                                                                      : p->endpoint, '/');
            size_t origin = host_end ? (size_t)(host_end - p->endpoint) : strlen(p->endpoint);
            char *next = temper__strfmt("%.*s%s", (int)origin, p->endpoint, r.resp.location);
            if (!next) { rc = temper__error(TEMPER_ENOMEM, "out of memory"); goto done; }
            free(url);
            url = next;
            continue;
        }
        if (st >= 300 && st < 400 && r.resp.location[0] == '/') {
            rc = temper__error(TEMPER_EIO, "%s: more than 10 redirects (a redirect loop?)", url);
            goto done;
        }
        if (st >= 400 || st < 200) {
            rc = temper__status_error(p, &r.resp, url);
            goto done;
        }
        break;
    }
    const temper__http_resp *h = &r.resp;
    const char *etag = h->linked_etag[0] ? h->linked_etag : h->etag;
    if (!h->commit[0] || !etag[0] || strchr(etag, '/') || strcmp(etag, ".") == 0 ||
        strcmp(etag, "..") == 0) {
        rc = temper__error(TEMPER_EIO, "%s: the answer has no X-Repo-Commit or ETag header: is "
                           "HF_ENDPOINT (%s) a Hugging Face Hub or mirror, or is a proxy in the "
                           "way?", url, p->endpoint);
        goto done;
    }
    if (!(f->etag = temper__strdup(etag))) { rc = temper__error(TEMPER_ENOMEM, "out of memory"); goto done; }
    f->size = h->linked_size >= 0 ? h->linked_size : h->content_length;
    f->lfs = temper__is_hex(f->etag, 64);
done:
    free(url);
    return rc;
}

/* ---- step 3: the blob ---------------------------------------------------- */

static int temper__on_bytes(void *user, uint64_t got, uint64_t expected) {
    (void)expected;
    temper__pull *p = user;
    double now = temper__now();
    if (got == 0 || now - p->last_report < 0.1) return 0;
    p->last_report = now;
    return temper__report(p, TEMPER_PULL_PROGRESS, p->cur, p->cur_resumed + got, NULL) < 0;
}

/* Bring blobs/<etag>.incomplete to the full file (resuming it), check it
 * and rename it to blobs/<etag>. */
static int temper__download_blob(temper__pull *p, int idx, const char *blob, const char *url) {
    temper__pull_file *f = &p->files[idx];
    char *part = temper__strfmt("%s.incomplete", blob);
    if (!part) return temper__error(TEMPER_ENOMEM, "out of memory");
    int rc = 0;
    FILE *out = NULL;
    struct stat st;
    uint64_t have = stat(part, &st) == 0 ? (uint64_t)st.st_size : 0;
    if (f->size >= 0 && have > (uint64_t)f->size) have = 0; /* not this file: start again */
    if (p->force) have = 0;
    struct statvfs fs;
    if (f->size > 0 && statvfs(p->repo_dir, &fs) == 0 &&
        (uint64_t)f->size - have > (uint64_t)fs.f_bavail * fs.f_frsize) {
        rc = temper__error(TEMPER_EIO, "%s: the Hub announces %lld bytes but the cache's disk has %llu "
                           "free: free some space, or set HF_HUB_CACHE to a folder on a larger disk",
                           f->name, (long long)f->size,
                           (unsigned long long)fs.f_bavail * fs.f_frsize);
        goto done;
    }
    if (!(out = fopen(part, have ? "ab" : "wb"))) { rc = temper__disk_error(part, errno); goto done; }
    p->cur = idx;
    p->cur_resumed = have;
    p->cur_t0 = temper__now();
    p->last_report = 0;
    if ((rc = temper__report(p, TEMPER_PULL_START, idx, have, NULL)) < 0) goto done;

    uint64_t best = have; /* the most bytes held so far: progress is passing it */
    for (int attempt = 0; f->size < 0 || have < (uint64_t)f->size;) {
        temper__http_req r = {.url = url, .follow = 1, .range_from = have, .file = out,
                              .progress = temper__on_bytes, .user = p,
                              .max_total = f->size > 0 ? (uint64_t)f->size : 0};
        p->cur_resumed = have;
        rc = temper__http_perform(&p->http, &r);
        if (fflush(out) != 0 && rc == 0) rc = temper__disk_error(part, errno);
        if (r.write_errno) rc = temper__disk_error(part, r.write_errno);
        if (rc == TEMPER_ECANCELED || r.write_errno) goto done;
        if (r.too_big) { /* more than announced: not this file, keep nothing */
            fclose(out);
            out = NULL;
            unlink(part);
            goto done;
        }
        long code = r.resp.status;
        have = r.restarted ? r.body_bytes : have + r.body_bytes;
        if (rc == 0 && code == 416 && f->size >= 0 && have == (uint64_t)f->size) break;
        if (rc == 0 && code == 416) { /* our partial file is not a prefix of this one */
            if (ftruncate(fileno(out), 0) != 0) { rc = temper__disk_error(part, errno); goto done; }
            have = 0;
            rc = temper__error(TEMPER_EIO, "%s: HTTP 416 (range not satisfiable)", url);
            r.transient = 1;
        } else if (rc == 0 && code != 200 && code != 206) {
            if (!r.transient) { rc = temper__status_error(p, &r.resp, url); goto done; }
            rc = temper__status_error(p, &r.resp, url);
        } else if (rc == 0) {
            if (f->size < 0) break; /* size unknown: the server said when it was done */
            if (have >= (uint64_t)f->size) break;
            rc = temper__error(TEMPER_EIO, "%s: the connection ended after %llu of %lld bytes",
                               url, (unsigned long long)have, (long long)f->size);
            r.transient = 1;
        }
        if (!r.transient) goto done;
        /* progress was made: a fresh set of retries (not for a slow drip,
         * which makes a little progress every time) */
        if (have > best && !r.stalled) { /* a server that restarts a short body from zero every */
            best = have;                 /* time (ignoring Range) makes no progress: found by fuzz_hub */
            attempt = 0;
        }
        if (attempt >= p->max_retries) goto done;
        if ((rc = temper__backoff(p, idx, attempt++, have)) < 0) goto done;
    }
    rc = 0;
    if (fsync(fileno(out)) != 0) { rc = temper__disk_error(part, errno); goto done; }
    if (fclose(out) != 0) { out = NULL; rc = temper__disk_error(part, errno); goto done; }
    out = NULL;
    if (f->size >= 0 && have != (uint64_t)f->size) {
        unlink(part);
        rc = temper__error(TEMPER_EIO, "%s: got %llu bytes where the Hub announced %lld: the "
                           "partial file was removed, run the command again", f->name,
                           (unsigned long long)have, (long long)f->size);
        goto done;
    }
    /* LFS files have their sha256 as ETag, the others their git blob id */
    if (f->lfs || temper__is_hex(f->etag, 40)) {
        char hex[65];
        if ((rc = temper__file_digest(part, !f->lfs, hex)) < 0) goto done;
        if (strcmp(hex, f->etag) != 0) {
            unlink(part);
            rc = temper__error(TEMPER_EFORMAT, "%s: checksum mismatch: the Hub gives %s %s "
                               "but the download has %s (a corrupt transfer or a bad mirror): "
                               "the file was removed, run the command again", f->name,
                               f->lfs ? "sha256" : "git blob id", f->etag, hex);
            goto done;
        }
    }
    if (!f->lfs && (strstr(f->name, ".safetensors") || strstr(f->name, ".bin"))) {
        /* weights stored without LFS: at least refuse an HTML page or a pointer */
        unsigned char head[64];
        FILE *in = fopen(part, "rb");
        size_t n = in ? fread(head, 1, sizeof head, in) : 0;
        if (in) fclose(in);
        if ((rc = temper__check_not_placeholder(f->name, head, n)) < 0) {
            unlink(part);
            goto done;
        }
    }
    if (rename(part, blob) != 0) { rc = temper__disk_error(blob, errno); goto done; }
    f->size = (int64_t)have;
done:
    if (out) fclose(out);
    free(part);
    return rc;
}

/* Make sure blobs/<etag> exists, downloading it under the blob's lock. */
static int temper__fetch_blob(temper__pull *p, int idx) {
    temper__pull_file *f = &p->files[idx];
    char *blob = temper__strfmt("%s/blobs/%s", p->repo_dir, f->etag);
    char *lock_dir = temper__strfmt("%s/.locks/%s", p->cache, strrchr(p->repo_dir, '/') + 1);
    char *lock = lock_dir ? temper__strfmt("%s/%s.lock", lock_dir, f->etag) : NULL;
    char *name = temper__strfmt("%s", f->name);
    char *qname = name ? temper__url_quote(name, 1) : NULL;
    char *url = qname ? temper__strfmt("%s/%s/resolve/%s/%s", p->endpoint, p->repo, p->commit, qname) : NULL;
    int rc = 0, fd = -1;
    if (!blob || !lock || !url) { rc = temper__error(TEMPER_ENOMEM, "out of memory"); goto done; }
    if ((rc = temper__mkdirs(lock_dir)) < 0) goto done;
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) { rc = temper__disk_error(lock, errno); goto done; }
    while (flock(fd, LOCK_EX) != 0) /* another process may be downloading it */
        if (errno != EINTR) { rc = temper__disk_error(lock, errno); goto done; }
    struct stat st;
    if (!p->force && stat(blob, &st) == 0 && S_ISREG(st.st_mode) &&
        (f->size < 0 || st.st_size == f->size)) {
        f->cached = 1;
        f->size = st.st_size;
    } else {
        rc = temper__download_blob(p, idx, blob, url);
    }
    if (rc == 0) f->fetched = 1;
done:
    if (fd >= 0) close(fd); /* releases the lock */
    free(blob);
    free(lock_dir);
    free(lock);
    free(name);
    free(qname);
    free(url);
    return rc;
}

/* ---- step 4: the snapshot and the ref ------------------------------------ */

/* Write text to path through a temporary file and a rename. */
static int temper__write_atomic(const char *path, const char *text) {
    char *tmp = temper__strfmt("%s.tmp%ld", path, (long)getpid());
    if (!tmp) return temper__error(TEMPER_ENOMEM, "out of memory");
    FILE *f = fopen(tmp, "wb");
    int rc = 0;
    if (!f || fputs(text, f) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) rc = temper__disk_error(tmp, errno);
    if (f && fclose(f) != 0 && rc == 0) rc = temper__disk_error(tmp, errno);
    if (rc == 0 && rename(tmp, path) != 0) rc = temper__disk_error(path, errno);
    if (rc < 0) unlink(tmp);
    free(tmp);
    return rc;
}

static int temper__link_file(temper__pull *p, const temper__pull_file *f) {
    /* the target climbs out of snapshots/<commit>/ and of the file's own
     * folders: "../../blobs/<etag>" for a top-level file */
    char *link = temper__strfmt("%s/snapshots/%s/%s", p->repo_dir, p->commit, f->name);
    size_t depth = 2;
    for (const char *c = f->name; *c; c++) depth += *c == '/';
    size_t tlen = 3 * depth + 6 + strlen(f->etag) + 1;
    char *target = malloc(tlen);
    char *tmp = link ? temper__strfmt("%s.tmp%ld", link, (long)getpid()) : NULL;
    int rc = 0;
    if (!link || !target || !tmp) { rc = temper__error(TEMPER_ENOMEM, "out of memory"); goto done; }
    target[0] = '\0';
    for (size_t k = 0; k < depth; k++) strcat(target, "../");
    strcat(target, "blobs/");
    strcat(target, f->etag);
    char *slash = strrchr(link, '/');
    *slash = '\0';
    rc = temper__mkdirs(link);
    *slash = '/';
    if (rc < 0) goto done;
    /* the folders of a name such as "sub/x" must be real folders inside
     * the snapshot, never a symlink that would lead the file elsewhere */
    size_t root = strlen(link) - strlen(f->name);
    for (char *c = link + root; (c = strchr(c, '/')); c++) {
        struct stat st;
        *c = '\0';
        int ok = lstat(link, &st) == 0 && S_ISDIR(st.st_mode);
        *c = '/';
        if (!ok) {
            rc = temper__error(TEMPER_EFORMAT, "%s: a folder of this file's path in %s is not a plain "
                               "folder (a symlink?): refusing to write through it", f->name, p->repo);
            goto done;
        }
    }
    char old[4096];
    ssize_t n = readlink(link, old, sizeof old - 1);
    if (n >= 0) {
        old[n] = '\0';
        if (strcmp(old, target) == 0) goto done; /* already right */
    }
    unlink(tmp);
    if (symlink(target, tmp) != 0) { rc = temper__disk_error(tmp, errno); goto done; }
    if (rename(tmp, link) != 0) { rc = temper__disk_error(link, errno); unlink(tmp); }
done:
    free(link);
    free(target);
    free(tmp);
    return rc;
}

static int temper__write_ref(temper__pull *p) {
    if (strcmp(p->revision, p->commit) == 0) return 0; /* a commit needs no ref */
    char *ref = temper__strfmt("%s/refs/%s", p->repo_dir, p->revision);
    if (!ref) return temper__error(TEMPER_ENOMEM, "out of memory");
    char *slash = strrchr(ref, '/');
    *slash = '\0';
    int rc = temper__mkdirs(ref);
    *slash = '/';
    if (rc == 0) rc = temper__write_atomic(ref, p->commit); /* no newline, as huggingface_hub */
    free(ref);
    return rc;
}

/* 1 if name is a relative path that stays in its folder: no leading '/',
 * no empty, "." or ".." component, no control characters, short. */
static int temper__safe_name(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > 1024 || name[0] == '/') return 0;
    for (const char *c = name; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\\') return 0;
    for (const char *c = name; *c;) {
        const char *e = strchr(c, '/');
        size_t len = e ? (size_t)(e - c) : strlen(c);
        if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.')) return 0;
        c += len + (e != NULL);
        if (e && !*c) return 0; /* a trailing '/' */
    }
    return 1;
}

/* Add the shards named by the weight_map of a downloaded index. */
static int temper__add_shards(temper__pull *p, const temper__pull_file *index) {
    char *path = temper__strfmt("%s/blobs/%s", p->repo_dir, index->etag), *text = NULL;
    if (!path) return temper__error(TEMPER_ENOMEM, "out of memory");
    int rc = temper__read_file(path, &text, NULL);
    cJSON *j = rc == 0 ? cJSON_Parse(text) : NULL;
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(j, "weight_map"), *e;
    if (rc == 0 && !cJSON_IsObject(map))
        rc = temper__error(TEMPER_EFORMAT, "%s of %s: no \"weight_map\" object: not a sharded "
                           "checkpoint index", index->name, p->repo);
    if (rc == 0) {
        cJSON_ArrayForEach(e, map) {
            if (!cJSON_IsString(e) || !temper__safe_name(e->valuestring)) {
                rc = temper__error(TEMPER_EFORMAT, "%s of %s: bad shard name in weight_map",
                                   index->name, p->repo);
                break;
            }
            if ((rc = temper__add_file(p, e->valuestring)) < 0) break;
        }
    }
    cJSON_Delete(j);
    free(text);
    free(path);
    return rc;
}

int temper__hub_download(const char *repo, const char *revision, const temper__hub_opts *opts,
                         char **folder_out) {
    *folder_out = NULL;
    temper__hub_opts defaults = {0};
    if (!opts) opts = &defaults;
    temper__pull p = {.repo = repo, .revision = revision ? revision : "main",
                      .progress = opts->progress, .user = opts->user, .force = opts->force};
    p.max_retries = opts->max_retries > 0 ? opts->max_retries
                                          : (int)temper__env_double("TEMPER_HUB_RETRIES", 5);
    p.backoff = temper__env_double("TEMPER_HUB_BACKOFF", 0.5);
    char *token = NULL;
    int rc = 0;
    const char *ep = opts->endpoint ? opts->endpoint : getenv("HF_ENDPOINT");
    if (!ep || !*ep) ep = "https://huggingface.co";
    if (!(p.endpoint = temper__strdup(ep))) { rc = temper__error(TEMPER_ENOMEM, "out of memory"); goto done; }
    for (size_t n = strlen(p.endpoint); n > 0 && p.endpoint[n - 1] == '/'; n--) p.endpoint[n - 1] = '\0';
    if (opts->cache) p.cache = temper__strdup(opts->cache);
    else if ((rc = temper__hub_cache_dir(&p.cache, NULL)) < 0) goto done;
    if (!p.cache || !(p.repo_dir = temper__hub_repo_dir(p.cache, repo))) {
        rc = temper__error(TEMPER_ENOMEM, "out of memory");
        goto done;
    }
    if (opts->token) token = temper__strdup(opts->token);
    else if ((rc = temper__hub_token(&token)) < 0) goto done;
    if ((rc = temper__http_init(&p.http, token)) < 0) goto done;

    if ((rc = temper__list_files(&p)) < 0) goto done;
    /* metadata of every file, the shard index first downloaded to learn
     * the shards */
    for (int i = 0; i < p.n_files; i++) {
        if ((rc = temper__head_file(&p, &p.files[i])) < 0) goto done;
        if (strstr(p.files[i].name, ".index.json")) {
            if ((rc = temper__mkdirs(p.repo_dir)) < 0) goto done;
            char *blobs = temper__strfmt("%s/blobs", p.repo_dir);
            rc = blobs ? temper__mkdirs(blobs) : temper__error(TEMPER_ENOMEM, "out of memory");
            free(blobs);
            if (rc < 0 || (rc = temper__fetch_blob(&p, i)) < 0) goto done;
            if ((rc = temper__add_shards(&p, &p.files[i])) < 0) goto done;
        }
    }
    for (int i = 0; i < p.n_files; i++) p.total += p.files[i].size > 0 ? (uint64_t)p.files[i].size : 0;
    char *blobs = temper__strfmt("%s/blobs", p.repo_dir);
    rc = blobs ? temper__mkdirs(blobs) : temper__error(TEMPER_ENOMEM, "out of memory");
    free(blobs);
    if (rc < 0) goto done;
    for (int i = 0; i < p.n_files; i++) {
        temper__pull_file *f = &p.files[i];
        if (!f->fetched && (rc = temper__fetch_blob(&p, i)) < 0) goto done;
        if ((rc = temper__link_file(&p, f)) < 0) goto done;
        if (f->cached) {
            p.cur_resumed = 0;
            p.cur_t0 = temper__now();
            if ((rc = temper__report(&p, TEMPER_PULL_CACHED, i, (uint64_t)f->size, NULL)) < 0) goto done;
        } else if ((rc = temper__report(&p, TEMPER_PULL_DONE, i, (uint64_t)f->size, NULL)) < 0) {
            goto done;
        }
        p.done += f->size > 0 ? (uint64_t)f->size : 0;
    }
    if ((rc = temper__write_ref(&p)) < 0) goto done;
    *folder_out = temper__strfmt("%s/snapshots/%s", p.repo_dir, p.commit);
    if (!*folder_out) rc = temper__error(TEMPER_ENOMEM, "out of memory");
done:
    if (rc < 0 && rc != TEMPER_ENOMEM)
        temper__error_prefix(rc, "cannot download %s%s%s", repo, revision ? "@" : "",
                             revision ? revision : "");
    for (int i = 0; i < p.n_files; i++) {
        free(p.files[i].name);
        free(p.files[i].etag);
    }
    free(p.files);
    temper__http_free(&p.http);
    free(token);
    free(p.endpoint);
    free(p.cache);
    free(p.repo_dir);
    free(p.commit);
    return rc;
}
