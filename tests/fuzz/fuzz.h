/*
 * fuzz.h - what the libFuzzer targets of tests/fuzz share: a private
 * scratch folder (the readers take paths, so each input is written to a
 * file there), and checks that loaded tensors lie inside their file map or
 * in memory ASan watches. Built with clang -fsanitize=fuzzer,address,undefined
 * (make fuzz); a failed check traps, which libFuzzer reports as a crash.
 */
#ifndef TEMPER_FUZZ_H
#define TEMPER_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "temper.h"
#include "formats/weights.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do { if (!(cond)) { fprintf(stderr, "fuzz check failed: %s\n", #cond); __builtin_trap(); } } while (0)

static char fuzz__dir[64];

static void fuzz__cleanup(void) {
    if (!fuzz__dir[0]) return;
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz__dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", fuzz__dir);
}

/* The scratch folder (made on first use, removed at exit). */
static const char *fuzz_dir(void) {
    if (!fuzz__dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fuzz__dir, sizeof fuzz__dir, "%s/temper_fuzz_XXXXXX", base);
        if (!mkdtemp(fuzz__dir)) abort();
        atexit(fuzz__cleanup);
    }
    return fuzz__dir;
}

/* dir/name, in a static buffer (one of four in turn). */
static const char *fuzz_path(const char *name) {
    static char p[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", fuzz_dir(), name);
    return p[k];
}

static void fuzz_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(data, 1, n, f) != n) abort();
    fclose(f);
}

/* Every tensor lies inside one of the table's maps, or is readable memory
 * (an owned buffer: ASan checks the read); names are NUL-terminated. */
static void fuzz_check_weights(const temper__weights *w) {
    volatile uint8_t sink = 0;
    for (int i = 0; i < w->n; i++) {
        const temper__tensor *t = &w->tensors[i];
        FUZZ_CHECK(t->name != NULL);
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= TEMPER__MAX_DIMS);
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            FUZZ_CHECK(t->shape[d] >= 0);
            FUZZ_CHECK(!__builtin_mul_overflow(numel, (uint64_t)t->shape[d], &numel));
        }
        size_t esize = temper__dtype_size(t->dtype);
        if (esize) FUZZ_CHECK(numel * esize == t->nbytes);
        if (t->nbytes == 0) continue;
        const uint8_t *p = t->data;
        int mapped = 0;
        for (int m = 0; m < w->n_maps; m++) {
            const uint8_t *b = w->maps[m].data, *e = b + w->maps[m].size;
            if (p >= b && p < e) {
                FUZZ_CHECK(t->nbytes <= (size_t)(e - p));
                mapped = 1;
            }
        }
        if (!mapped) /* an owned buffer: touch its first and last bytes */
            sink ^= p[0] ^ p[t->nbytes - 1];
    }
    (void)sink;
}

#endif
