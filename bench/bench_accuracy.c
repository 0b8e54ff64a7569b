/*
 * bench_accuracy.c - what a lower precision costs: logits of the same text
 * through an f32 model and through other precisions of it (q8 made at load
 * time from the f32 file, and any other folders given, e.g. the same model
 * saved in f16/bf16), with the max and mean absolute logit difference, the
 * agreement of the top-1 token, and the perplexity of the text under each.
 *
 *   bench_accuracy F32_MODEL_DIR [OTHER_MODEL_DIR...] [-n TOKENS]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "temper.h"

static const char TEXT[] =
    "The tokenizer turns text into ids, the model turns ids into a table of next-token scores, and the "
    "decoder turns those scores into text again. Each step can be inspected: the probabilities after "
    "temperature, the candidates kept by top-k and top-p, the attention of every head. Speed matters "
    "because people try many prompts and many settings, and a slow engine discourages experiments. "
    "Exactness matters because a teaching tool that is slightly wrong teaches the wrong thing. ";

typedef struct {
    const char *label;
    float *logits; /* (n, V) */
    double ppl;
} run;

static int eval(const char *dir, const char *quantize, const temper_token *ids, int n, int V, run *out) {
    temper_model *m;
    temper_model_params mp = temper_model_default_params();
    mp.quantize = quantize;
    if (temper_model_load(dir, &mp, &m) < 0) return -1;
    temper_context *ctx;
    temper_context_params cp = temper_context_default_params();
    cp.n_ctx = n;
    if (temper_context_init(m, &cp, &ctx) < 0) { temper_model_free(m); return -1; }
    out->logits = malloc(sizeof(float) * (size_t)n * V);
    int rc = temper_eval(ctx, 0, ids, n, out->logits, TEMPER_EVAL_ALL_LOGITS);
    double nll = 0;
    for (int t = 0; t + 1 < n && rc == 0; t++) {
        const float *l = out->logits + (size_t)t * V;
        double mx = -INFINITY, z = 0;
        for (int v = 0; v < V; v++) mx = l[v] > mx ? l[v] : mx;
        for (int v = 0; v < V; v++) z += exp(l[v] - mx);
        nll -= l[ids[t + 1]] - mx - log(z);
    }
    out->ppl = exp(nll / (n - 1));
    temper_context_free(ctx);
    temper_model_free(m);
    return rc;
}

static void compare(const run *ref, const run *r, int n, int V) {
    double worst = 0, sum = 0, scale = 0;
    int top_same = 0;
    for (int t = 0; t < n; t++) {
        const float *a = ref->logits + (size_t)t * V, *b = r->logits + (size_t)t * V;
        int ia = 0, ib = 0;
        for (int v = 0; v < V; v++) {
            double d = fabs((double)a[v] - b[v]);
            worst = d > worst ? d : worst;
            sum += d;
            scale += (double)a[v] * a[v];
            if (a[v] > a[ia]) ia = v;
            if (b[v] > b[ib]) ib = v;
        }
        top_same += ia == ib;
    }
    printf("%-40s max |dlogit| %.4f  mean %.5f  (logit rms %.2f)  top-1 same %d/%d  perplexity %.2f (%+.2f%%)\n",
           r->label, worst, sum / ((double)n * V), sqrt(scale / ((double)n * V)), top_same, n, r->ppl,
           100.0 * (r->ppl / ref->ppl - 1.0));
}

int main(int argc, char **argv) {
    const char *dirs[16];
    int nd = 0, n = 128;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-n") && i + 1 < argc) n = atoi(argv[++i]);
        else if (nd < 16) dirs[nd++] = argv[i];
    }
    if (nd < 1 || n < 2) {
        fprintf(stderr, "usage: bench_accuracy F32_MODEL_DIR [OTHER_MODEL_DIR...] [-n TOKENS]\n");
        return 2;
    }
    temper_tokenizer *tok;
    if (temper_tokenizer_load(dirs[0], &tok) < 0) {
        fprintf(stderr, "bench_accuracy: %s\n", temper_last_error());
        return 1;
    }
    temper_token *ids = malloc(sizeof(temper_token) * n);
    int got = 0;
    while (got < n) { /* the text repeated as needed */
        temper_token buf[512];
        int k = temper_tokenize(tok, TEXT, strlen(TEXT), 0, buf, NULL, 512);
        if (k <= 0) break;
        for (int i = 0; i < k && got < n; i++) ids[got++] = buf[i];
    }
    n = got;
    int V = temper_tokenizer_n_vocab(tok);
    temper_tokenizer_free(tok);
    run ref = {dirs[0], NULL, 0}, q8 = {"q8 (the f32 file quantized at load)", NULL, 0};
    if (eval(dirs[0], NULL, ids, n, V, &ref) < 0 || eval(dirs[0], "q8", ids, n, V, &q8) < 0) {
        fprintf(stderr, "bench_accuracy: %s\n", temper_last_error());
        return 1;
    }
    printf("%d tokens of English; reference: %s, perplexity %.2f\n", n, dirs[0], ref.ppl);
    compare(&ref, &q8, n, V);
    free(q8.logits);
    for (int d = 1; d < nd; d++) {
        run r = {dirs[d], NULL, 0};
        if (eval(dirs[d], NULL, ids, n, V, &r) < 0) {
            fprintf(stderr, "bench_accuracy: %s\n", temper_last_error());
            continue;
        }
        compare(&ref, &r, n, V);
        free(r.logits);
    }
    free(ref.logits);
    free(ids);
    return 0;
}
