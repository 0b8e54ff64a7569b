/* file.c - memory maps, whole-file reads, path checks, placeholder detection. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

/* open(path) read-only if it is a regular file: a FIFO is opened without
 * blocking (O_NONBLOCK) so that it can be refused. Returns the fd or a
 * negative error. */
static int temper__open_regular(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return temper__error(errno == ENOENT ? TEMPER_ENOENT : TEMPER_EIO,
                             "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return temper__error(TEMPER_EIO, "%s: not a regular file (a device, pipe or folder): give a file",
                             path);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

int temper__mmap_open(const char *path, temper__mmap *out) {
    out->data = NULL;
    out->size = 0;
    int fd = temper__open_regular(path);
    if (fd < 0) return fd;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return temper__error(TEMPER_EIO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (st.st_size == 0) {
        close(fd);
        return 0;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved = errno;
    close(fd);
    if (p == MAP_FAILED)
        return temper__error(TEMPER_EIO, "%s: cannot map: %s", path, strerror(saved));
    out->data = p;
    out->size = (size_t)st.st_size;
    return 0;
}

void temper__mmap_close(temper__mmap *m) {
    if (m->data) munmap((void *)m->data, m->size);
    m->data = NULL;
    m->size = 0;
}

int temper__read_file(const char *path, char **out, size_t *size_out) {
    return temper__read_file_max(path, TEMPER__MAX_TEXT_FILE, out, size_out);
}

int temper__read_file_max(const char *path, size_t max, char **out, size_t *size_out) {
    *out = NULL;
    int fd = temper__open_regular(path);
    if (fd < 0) return fd;
    struct stat st;
    FILE *f = fstat(fd, &st) == 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        close(fd);
        return temper__error(TEMPER_EIO, "%s: cannot read: %s", path, strerror(errno));
    }
    if ((uint64_t)st.st_size > max) {
        fclose(f);
        return temper__error(TEMPER_EFORMAT, "%s: the file is %lld bytes, more than the %zu this kind of "
                             "file may have: is it the right file?", path, (long long)st.st_size, max);
    }
    /* Read at most max + 1 bytes, whatever st_size said (the file may grow). */
    size_t cap = (size_t)st.st_size + 2, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1 || n > max) break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) { free(buf); buf = NULL; break; }
        buf = bigger;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf) return temper__error(TEMPER_ENOMEM, "%s: out of memory reading the file", path);
    if (err || n > max) {
        free(buf);
        return err ? temper__error(TEMPER_EIO, "%s: read error", path)
                   : temper__error(TEMPER_EFORMAT, "%s: the file grew past %zu bytes while it was read",
                                   path, max);
    }
    buf[n] = '\0';
    *out = buf;
    if (size_out) *size_out = n;
    return 0;
}

int temper__is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int temper__is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *temper__strfmt(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

char *temper__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int temper__check_not_placeholder(const char *path, const uint8_t *head, size_t len) {
    static const char lfs[] = "version https://git-lfs.github.com/spec/";
    if (len >= sizeof lfs - 1 && memcmp(head, lfs, sizeof lfs - 1) == 0)
        return temper__error(TEMPER_EFORMAT,
                             "%s: this is a Git LFS pointer, not the weights: run `git lfs pull` "
                             "in the model's repository (or download the file again)",
                             path);
    size_t i = 0;
    while (i < len && (head[i] == ' ' || head[i] == '\n' || head[i] == '\r' || head[i] == '\t')) i++;
    if (i < len && head[i] == '<') {
        const char *p = (const char *)head + i;
        size_t rest = len - i;
        if ((rest >= 9 && strncasecmp(p, "<!doctype", 9) == 0) ||
            (rest >= 5 && strncasecmp(p, "<html", 5) == 0) ||
            (rest >= 5 && strncasecmp(p, "<?xml", 5) == 0))
            return temper__error(TEMPER_EFORMAT,
                                 "%s: this is an HTML/XML page, not a model file (a failed or "
                                 "redirected download?): download the file again",
                                 path);
    }
    return 0;
}

double temper__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int temper__n_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
