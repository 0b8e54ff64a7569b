/*
 * fuzz_hub.c - the Hub client's handling of what a server answers: status
 * lines and headers (http.c), the model info JSON (sha, siblings), ETags,
 * sizes, redirects, shard indexes, and the cache it writes (download.c).
 *
 * A server thread on 127.0.0.1 answers every request with raw bytes from
 * the input, which holds three HTTP responses separated by lines "@@@":
 * the answer to GET /api/models/..., to every HEAD, and to every other GET
 * (the files). After each download the checks: nothing was written outside
 * the cache folder, and every symlink in the cache stays inside it.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "hub/hub.h"

/* The responses: a copy of the input, replaced under the lock, which the
 * server thread holds while it answers one connection. */
static pthread_mutex_t fuzz_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *fuzz_input;
static const uint8_t *fuzz_part[3];
static size_t fuzz_part_len[3];
static int fuzz_port;

static void *fuzz_serve(void *arg) {
    int ls = *(int *)arg;
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) continue;
        pthread_mutex_lock(&fuzz_lock);
        struct timeval tv = {2, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char req[8192];
        size_t n = 0;
        while (n < sizeof req - 1) {
            ssize_t r = recv(c, req + n, sizeof req - 1 - n, 0);
            if (r <= 0) break;
            n += (size_t)r;
            req[n] = '\0';
            if (strstr(req, "\r\n\r\n")) break;
        }
        req[n] = '\0';
        int k = strncmp(req, "GET /api/", 9) == 0 ? 0 : strncmp(req, "HEAD ", 5) == 0 ? 1 : 2;
        size_t sent = 0;
        while (sent < fuzz_part_len[k]) {
            ssize_t w = send(c, fuzz_part[k] + sent, fuzz_part_len[k] - sent, MSG_NOSIGNAL);
            if (w <= 0) break;
            sent += (size_t)w;
        }
        shutdown(c, SHUT_RDWR);
        close(c);
        pthread_mutex_unlock(&fuzz_lock);
    }
    return NULL;
}

static void fuzz_start_server(void) {
    static int ls;
    ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 16) != 0 ||
        getsockname(ls, (struct sockaddr *)&a, &al) != 0)
        abort();
    fuzz_port = ntohs(a.sin_port);
    pthread_t t;
    if (pthread_create(&t, NULL, fuzz_serve, &ls) != 0) abort();
    pthread_detach(t);
}

static char fuzz_cache_real[PATH_MAX];

static int fuzz_check_one(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    if (type == FTW_SL || type == FTW_SLN) {
        char target[PATH_MAX];
        if (realpath(path, target)) { /* a link that resolves: inside the cache */
            FUZZ_CHECK(strncmp(target, fuzz_cache_real, strlen(fuzz_cache_real)) == 0);
        } else { /* dangling: its text must not climb out (no absolute path) */
            char text[PATH_MAX];
            ssize_t n = readlink(path, text, sizeof text - 1);
            FUZZ_CHECK(n > 0);
            text[n] = '\0';
            FUZZ_CHECK(text[0] != '/');
        }
    }
    return 0;
}

static int fuzz_remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
    (void)sb;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!fuzz_port) {
        setenv("TEMPER_HUB_BACKOFF", "0", 1);
        setenv("TEMPER_HUB_TIMEOUT", "2", 1); /* two stall windows stay under -timeout=10 */
        fuzz_start_server();
    }
    pthread_mutex_lock(&fuzz_lock);
    free(fuzz_input);
    fuzz_input = malloc(size + 1);
    memcpy(fuzz_input, data, size);
    const uint8_t *p = fuzz_input, *end = fuzz_input + size;
    for (int k = 0; k < 3; k++) {
        const uint8_t *q = p;
        while (q + 5 <= end && memcmp(q, "\n@@@\n", 5) != 0) q++;
        if (q + 5 > end) q = end;
        fuzz_part[k] = p;
        fuzz_part_len[k] = (size_t)(q - p);
        p = q + 5 <= end ? q + 5 : end;
    }
    pthread_mutex_unlock(&fuzz_lock);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", fuzz_port);
    const char *cache = fuzz_path("cache");
    mkdir(cache, 0700);
    if (!realpath(cache, fuzz_cache_real)) abort();
    temper__hub_opts o = {.endpoint = endpoint, .token = "", .cache = cache, .max_retries = 1};
    char *folder = NULL;
    int rc = temper__hub_download("org/model", NULL, &o, &folder);
    FUZZ_CHECK((rc == 0) == (folder != NULL));
    if (rc < 0) FUZZ_CHECK(temper_last_error()[0] != '\0');
    free(folder);
    /* nothing next to the cache, no link out of it */
    DIR *d = opendir(fuzz_dir());
    struct dirent *e;
    while ((e = readdir(d)))
        FUZZ_CHECK(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strcmp(e->d_name, "cache") == 0);
    closedir(d);
    nftw(cache, fuzz_check_one, 16, FTW_PHYS);
    nftw(cache, fuzz_remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
