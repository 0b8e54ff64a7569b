/*
 * dump_logits.c - evaluate token ids with temper and write the logits of
 * every position, for the numpy reference test (tests/py/test_reference.py).
 *
 *   dump_logits MODEL IDS_FILE OUT_FILE [--threads N] [--mode MODE]
 *               [--n-ctx N] [--tokenizer PATH]
 *
 * MODEL is what temper_model_load() takes (a folder, a Hub id, a llama2.c
 * file); --tokenizer overrides the tokenizer (the logits do not depend on
 * it). IDS_FILE holds whitespace-separated token ids (T of them). OUT_FILE gets
 * the logits, shape (T, V), raw float32 little-endian, row t being the
 * logits after ids[0..t]; with several comma-separated modes ("full,kv"),
 * one (T, V) block per mode, in order, each from a fresh context. MODE says
 * how the ids go through the engine:
 *
 *   full    one temper_eval of all T ids with TEMPER_EVAL_ALL_LOGITS
 *   kv      T calls of one id each (the KV cache carries the past)
 *   chunks  uneven prefill chunks: 3 ids, then 5, then the rest
 *   rewind  slot 0 first gets the first half of the ids followed by other
 *           ids, is truncated back to the half, then gets the real rest
 *   slots   two sequence slots: slot 0 gets other ids, slot 1 the real ones,
 *           interleaved in chunks of 4 (slots must not see each other)
 *
 * Only the public API (include/temper.h) is used. Exits 1 with
 * temper_last_error() on any failure, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "temper.h"

static void usage(void) {
    fprintf(stderr, "usage: dump_logits MODEL_DIR IDS_FILE OUT_FILE [--threads N] "
                    "[--mode full|kv|chunks|rewind|slots[,...]] [--n-ctx N] [--tokenizer PATH]\n");
    exit(2);
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "dump_logits: %s: %s (%s)\n", what, temper_last_error(), temper_err_name(rc));
    return 1;
}

/* Read whitespace-separated ids; *out (n) is owned by the caller. */
static int read_ids(const char *path, temper_token **out) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    int n = 0, cap = 256;
    temper_token *ids = malloc(sizeof *ids * (size_t)cap);
    long v;
    while (ids && fscanf(f, "%ld", &v) == 1) {
        if (n == cap) {
            cap *= 2;
            temper_token *grown = realloc(ids, sizeof *ids * (size_t)cap);
            if (!grown) {
                free(ids);
                ids = NULL;
                break;
            }
            ids = grown;
        }
        ids[n++] = (temper_token)v;
    }
    int bad = !feof(f);
    fclose(f);
    if (!ids || bad) {
        fprintf(stderr, "%s: %s\n", path, ids ? "not a list of integers" : "out of memory");
        free(ids);
        return -1;
    }
    *out = ids;
    return n;
}

/* Evaluate ids[from..to) of slot seq and put their logits in rows
 * from..to of all (T, V), whatever the call pattern. */
static int eval_rows(temper_context *ctx, int seq, const temper_token *ids, int from, int to,
                     float *all, int V) {
    if (to <= from) return 0;
    return temper_eval(ctx, seq, ids + from, to - from, all + (size_t)from * V,
                       TEMPER_EVAL_ALL_LOGITS);
}

/* Run ids (T) through a fresh context in one mode; all (T, V) gets the
 * logits. other (T): distractor ids. Returns 0, a negative temper error, or
 * 1 after printing a message of its own. */
static int run_mode(temper_model *model, const char *mode, int threads, int n_ctx,
                    const temper_token *ids, const temper_token *other, int T, float *all) {
    const int V = temper_model_n_vocab(model);
    temper_context *ctx = NULL;
    temper_context_params cp = temper_context_default_params();
    cp.n_threads = threads;
    cp.n_ctx = n_ctx;
    cp.n_seq = strcmp(mode, "slots") == 0 ? 2 : 1;
    int rc = temper_context_init(model, &cp, &ctx);
    if (rc < 0) return rc;
    if (strcmp(mode, "full") == 0) {
        rc = eval_rows(ctx, 0, ids, 0, T, all, V);
    } else if (strcmp(mode, "kv") == 0) {
        for (int t = 0; t < T && rc >= 0; t++)
            rc = temper_eval(ctx, 0, ids + t, 1, all + (size_t)t * V, 0);
    } else if (strcmp(mode, "chunks") == 0) {
        int a = T < 3 ? T : 3, b = T < 8 ? T : 8;
        rc = eval_rows(ctx, 0, ids, 0, a, all, V);
        if (rc >= 0) rc = eval_rows(ctx, 0, ids, a, b, all, V);
        if (rc >= 0) rc = eval_rows(ctx, 0, ids, b, T, all, V);
    } else if (strcmp(mode, "rewind") == 0) {
        int half = T / 2;
        rc = eval_rows(ctx, 0, ids, 0, half, all, V);
        /* Wrong continuation, evaluated then dropped (logits discarded). */
        if (rc >= 0 && T - half > 0) rc = temper_eval(ctx, 0, other, T - half, NULL, 0);
        if (rc >= 0) rc = temper_seq_truncate(ctx, 0, half);
        if (rc >= 0 && temper_seq_len(ctx, 0) != half) {
            fprintf(stderr, "dump_logits: seq_len %d after truncate to %d\n",
                    temper_seq_len(ctx, 0), half);
            rc = 1;
        }
        if (rc == 0) rc = eval_rows(ctx, 0, ids, half, T, all, V);
    } else if (strcmp(mode, "slots") == 0) {
        for (int t = 0; t < T && rc >= 0; t += 4) {
            int e = t + 4 < T ? t + 4 : T;
            rc = temper_eval(ctx, 0, other + t, e - t, NULL, 0);
            if (rc >= 0) rc = eval_rows(ctx, 1, ids, t, e, all, V);
        }
    } else {
        fprintf(stderr, "dump_logits: unknown mode \"%s\"\n", mode);
        rc = 1;
    }
    temper_context_free(ctx);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 4) usage();
    const char *model_dir = argv[1], *ids_path = argv[2], *out_path = argv[3];
    const char *modes = "full", *tokenizer = NULL;
    int threads = 0, n_ctx = 0;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) modes = argv[++i];
        else if (strcmp(argv[i], "--n-ctx") == 0 && i + 1 < argc) n_ctx = atoi(argv[++i]);
        else if (strcmp(argv[i], "--tokenizer") == 0 && i + 1 < argc) tokenizer = argv[++i];
        else usage();
    }

    temper_token *ids = NULL; /* (T), owned */
    int T = read_ids(ids_path, &ids);
    if (T < 0) return 1;
    if (T == 0) {
        fprintf(stderr, "%s: no ids\n", ids_path);
        free(ids);
        return 1;
    }

    temper_model *model = NULL;
    float *all = NULL;          /* (T, V), owned */
    temper_token *other = NULL; /* (T) distractor ids, owned */
    FILE *f = NULL;
    int rc, status = 1;
    temper_model_params mp = temper_model_default_params();
    mp.offline = 1;
    mp.tokenizer_path = tokenizer;
    rc = temper_model_load(model_dir, &mp, &model);
    if (rc < 0) {
        status = fail("temper_model_load", rc);
        goto done;
    }
    const int V = temper_model_n_vocab(model);
    all = malloc(sizeof *all * (size_t)T * (size_t)V);
    other = malloc(sizeof *other * (size_t)T);
    if (!all || !other) {
        fprintf(stderr, "dump_logits: out of memory\n");
        goto done;
    }
    /* Distractors: the ids reversed (valid ids, different sequence). */
    for (int t = 0; t < T; t++) other[t] = ids[T - 1 - t];

    f = fopen(out_path, "wb");
    if (!f) {
        perror(out_path);
        goto done;
    }
    /* Each mode of the comma-separated list, in order, appends (T, V). */
    for (const char *m = modes; *m;) {
        char mode[32];
        size_t len = strcspn(m, ",");
        if (len == 0 || len >= sizeof mode) usage();
        memcpy(mode, m, len);
        mode[len] = '\0';
        m += len + (m[len] == ',');
        memset(all, 0, sizeof *all * (size_t)T * (size_t)V);
        rc = run_mode(model, mode, threads, n_ctx, ids, other, T, all);
        if (rc < 0) {
            status = fail(mode, rc);
            goto done;
        }
        if (rc > 0) goto done;
        size_t count = (size_t)T * (size_t)V;
        if (fwrite(all, sizeof *all, count, f) != count) { /* x86-64: little-endian */
            perror(out_path);
            goto done;
        }
    }
    status = 0;
done:
    if (f && fclose(f) != 0 && status == 0) {
        perror(out_path);
        status = 1;
    }
    free(other);
    free(all);
    temper_model_free(model);
    free(ids);
    return status;
}
