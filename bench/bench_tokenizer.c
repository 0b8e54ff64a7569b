/*
 * bench_tokenizer.c - encode throughput of the tokenizer (MB/s of UTF-8
 * input): the whole text on one thread, the text in 4 KB chunks (cut after a
 * newline) on one thread, and temper_tokenize_parallel on all cores; plus
 * decode throughput. bench/tokenizer.sh runs it next to HF tokenizers.
 *
 * usage: bench_tokenizer TOKENIZER TEXTFILE [--threads N] [--ids-out FILE]
 *   --ids-out writes the ids of the whole text (int32, little-endian).
 * Prints a human summary on stderr and one JSON line on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "temper.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_tokenizer TOKENIZER TEXTFILE [--threads N] [--ids-out FILE]\n");
        return 2;
    }
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    const char *ids_out = NULL;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads") && atoi(argv[i + 1]) > 0) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ids-out")) ids_out = argv[i + 1];
    }
    double t0 = now();
    temper_tokenizer *tok;
    if (temper_tokenizer_load(argv[1], &tok) < 0) {
        fprintf(stderr, "bench_tokenizer: %s\n", temper_last_error());
        return 1;
    }
    double load_s = now() - t0;
    size_t len;
    char *text = read_all(argv[2], &len);
    if (!text) {
        fprintf(stderr, "bench_tokenizer: cannot read %s\n", argv[2]);
        return 1;
    }
    int cap = (int)len + 16;
    temper_token *ids = malloc((size_t)cap * sizeof *ids);  /* (cap) */
    temper_token *ids2 = malloc((size_t)cap * sizeof *ids); /* (cap) */
    if (!ids || !ids2) return 1;

    /* whole text, one thread: best of 3 */
    double whole = 1e30;
    int n = 0;
    for (int r = 0; r < 3; r++) {
        t0 = now();
        n = temper_tokenize(tok, text, len, 0, ids, NULL, cap);
        double dt = now() - t0;
        if (n < 0) {
            fprintf(stderr, "bench_tokenizer: %s\n", temper_last_error());
            return 1;
        }
        if (dt < whole) whole = dt;
    }
    /* with offsets */
    int32_t *offs = malloc((size_t)cap * 2 * sizeof *offs); /* (cap, 2) */
    t0 = now();
    temper_tokenize(tok, text, len, 0, ids2, offs, cap);
    double with_offsets = now() - t0;
    free(offs);

    /* 4 KB chunks cut after a newline, one call each */
    double chunked = 1e30;
    int n_chunked = 0;
    for (int r = 0; r < 3; r++) {
        n_chunked = 0;
        t0 = now();
        for (size_t i = 0; i < len;) {
            size_t j = i + 4096 < len ? i + 4096 : len;
            while (j < len && text[j - 1] != '\n') j++;
            int m = temper_tokenize(tok, text + i, j - i, 0, ids2 + n_chunked, NULL, cap - n_chunked);
            if (m < 0) return 1;
            n_chunked += m;
            i = j;
        }
        double dt = now() - t0;
        if (dt < chunked) chunked = dt;
    }

    /* parallel */
    double par = 1e30;
    int n_par = 0;
    for (int r = 0; r < 3; r++) {
        t0 = now();
        n_par = temper_tokenize_parallel(tok, text, len, 0, ids2, NULL, cap, threads);
        double dt = now() - t0;
        if (dt < par) par = dt;
    }
    int same_par = n_par == n && memcmp(ids, ids2, (size_t)n * sizeof *ids) == 0;

    /* decode */
    char *out = malloc(len + 64);
    t0 = now();
    int dn = temper_detokenize(tok, ids, n, 0, out, len + 64);
    double dec = now() - t0;
    int roundtrip = dn == (int)len && memcmp(out, text, len) == 0;

    if (ids_out) {
        FILE *f = fopen(ids_out, "wb");
        if (!f || fwrite(ids, sizeof *ids, (size_t)n, f) != (size_t)n) return 1;
        fclose(f);
    }
    double mb = (double)len / 1e6;
    fprintf(stderr,
            "temper tokenizer: %.2f MB, %d tokens (%.2f bytes/token), load %.3f s\n"
            "  encode, whole text, 1 thread        %8.2f MB/s\n"
            "  encode, with offsets, 1 thread      %8.2f MB/s\n"
            "  encode, 4 KB chunks, 1 thread       %8.2f MB/s (%d tokens)\n"
            "  encode, parallel, %2d threads        %8.2f MB/s (same ids: %s)\n"
            "  decode                              %8.2f MB/s (round trip: %s)\n",
            mb, n, (double)len / n, load_s, mb / whole, mb / with_offsets, mb / chunked, n_chunked,
            threads, mb / par, same_par ? "yes" : "NO", mb / dec,
            roundtrip ? "yes" : "NO");
    printf("{\"bytes\": %zu, \"tokens\": %d, \"load_s\": %.4f, \"whole_mb_s\": %.3f, "
           "\"offsets_mb_s\": %.3f, \"chunked_mb_s\": %.3f, \"parallel_mb_s\": %.3f, "
           "\"parallel_same\": %s, \"decode_mb_s\": %.3f, \"roundtrip\": %s}\n",
           len, n, load_s, mb / whole, mb / with_offsets, mb / chunked, mb / par,
           same_par ? "true" : "false", mb / dec, roundtrip ? "true" : "false");
    free(out);
    free(ids);
    free(ids2);
    free(text);
    temper_tokenizer_free(tok);
    return same_par && roundtrip ? 0 : 1;
}
