/*
 * cmd_trace.c - `temper trace -m MODEL PROMPT`: seed 004's "complete
 * pipeline" (section 10) as one report: the text, its tokens and ids, the
 * embeddings, the layers and heads, the logits of the last position, the
 * softmax and its top 5, then the decoding step and a continuation with
 * the settings used (temper_generate; greedy unless --temp / --sample ask
 * for sampling).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: temper trace -m MODEL [-n N] [--temp T] [--top-k K] [--top-p P] [-s SEED] PROMPT\n\n"
               "Follow PROMPT through the model: text -> tokens -> embeddings -> layers ->\n"
               "logits -> softmax -> next token -> continuation.\n\n"
               "options:\n"
               "  -n, --max-new-tokens N tokens of the continuation (default 20)\n"
               "      --sample           sample instead of greedy decoding (default T 1.0)\n"
               "      --temp T           sampling temperature (> 0 implies --sample; 0: greedy)\n"
               "      --top-k K          keep the K most probable tokens (sampling; default 50,\n"
               "                         as transformers; 0: off)\n"
               "      --top-p P          nucleus sampling (default 1.0: off)\n"
               "  -s, --seed SEED        random seed (default: a random one, shown when\n"
               "                         sampling)\n%s%s",
            cli_prompt_help, cli_common_help);
}

static void rule(const char *title) {
    printf("\n%s\n", title);
}

/* Number of Unicode characters of s (Python's len). */
static int char_count(const char *s) {
    size_t n = strlen(s), i = 0;
    int count = 0;
    while (i < n) {
        int32_t cp;
        i += (size_t)temper_utf8_next(s + i, n - i, &cp);
        count++;
    }
    return count;
}

typedef struct trace_opts {
    long n_new, top_k, seed;
    double temp, top_p;
    bool sample, seed_given;
} trace_opts;

int cmd_trace(int argc, char **argv) {
    cli_common c = {0};
    trace_opts o = {.n_new = CLI_DEFAULT_MAX_NEW, .top_k = 50, .temp = 1.0, .top_p = 1.0};
    for (int i = 1; i < argc;) {
        const char *v;
        if (cli_flag(argv, &i, "-h", "--help")) {
            usage(stdout);
            return 0;
        }
        int r = cli_parse_common(&c, &i, argc, argv);
        if (r < 0) return 2;
        if (r > 0) continue;
        if ((r = cli_opt(argv, argc, &i, "-n", "--max-new-tokens", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("-n", v, 0, 100000, &o.n_new) < 0) return 2;
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--temp", &v)) != 0) {
            if (r < 0 || cli_parse_double(v, &o.temp, false) < 0 || o.temp < 0) {
                if (r > 0) cli_error("--temp \"%s\": give a number >= 0, e.g. --temp 0.7", v);
                return 2;
            }
            o.sample = o.temp > 0;
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--top-k", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--top-k", v, 0, INT32_MAX, &o.top_k) < 0) return 2;
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--top-p", &v)) != 0) {
            if (r < 0 || cli_parse_double(v, &o.top_p, false) < 0 || o.top_p < 0 || o.top_p > 1) {
                if (r > 0) cli_error("--top-p \"%s\": give a number in [0, 1], e.g. --top-p 0.9", v);
                return 2;
            }
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, "-s", "--seed", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--seed", v, 0, INT64_MAX, &o.seed) < 0) return 2;
            o.seed_given = true;
            continue;
        }
        if (cli_flag(argv, &i, NULL, "--sample")) {
            o.sample = true;
            continue;
        }
        if ((r = cli_prompt_arg(&c, "trace", &i, argc, argv)) != 0) return r;
    }

    if (!o.seed_given) o.seed = (long)cli_random_seed();
    temper_model *model = NULL;
    temper_context *ctx = NULL;
    temper_generation *gen = NULL;
    temper_token *ids = NULL; /* (n + n_new): the prompt, then the continuation */
    float *hidden = NULL;     /* (L + 1, n, C) */
    float *logits = NULL;     /* (V) */
    int n = 0, rc = cli_load_model(&c, &model);
    if (rc != 0) return rc;
    const temper_tokenizer *tok = temper_model_tokenizer(model);
    temper_model_info mi;
    temper_model_get_info(model, &mi);
    const int L = mi.n_layer, C = mi.n_embd, V = mi.n_vocab;
    if ((rc = cli_prompt_ids(&c, tok, &ids, &n)) != 0) goto done;
    if ((rc = cli_fit_context(&c, ids, &n, (int)o.n_new, mi.n_ctx)) != 0) goto done;
    temper_token *grown = realloc(ids, (size_t)(n + o.n_new) * sizeof *ids);
    if (grown) ids = grown;
    hidden = malloc((size_t)(L + 1) * n * C * sizeof *hidden);
    logits = malloc((size_t)V * sizeof *logits);
    if (!grown || !hidden || !logits) {
        cli_error("out of memory");
        rc = 1;
        goto done;
    }
    temper_generate_params gp = temper_generate_default_params();
    gp.sampling.do_sample = o.sample;
    gp.sampling.temperature = (float)o.temp;
    gp.sampling.top_k = (int)o.top_k;
    gp.sampling.top_p = (float)o.top_p;
    gp.max_new_tokens = (int)o.n_new;
    gp.seed = (uint64_t)o.seed;
    bool greedy = !o.sample || o.temp == 0;
    int err;
    if ((rc = cli_context_init(&c, model, n + (int)o.n_new, &ctx)) != 0) goto done;
    if ((err = temper_eval_capture(ctx, 0, ids, n, logits, 0, NULL, hidden)) < 0) {
        rc = cli_lib_error("evaluating the prompt", err);
        goto done;
    }

    /* Logit statistics and the softmax of the last position, in double. */
    double lmin = INFINITY, lmax = -INFINITY, lsum = 0, esum = 0, psum = 0;
    for (int v = 0; v < V; v++) lmin = fmin(lmin, logits[v]), lmax = fmax(lmax, logits[v]), lsum += logits[v];
    for (int v = 0; v < V; v++) esum += exp(logits[v] - lmax);
    for (int v = 0; v < V; v++) psum += exp(logits[v] - lmax) / esum;
    temper_candidate top[5]; /* the 5 largest logits, ties to the lowest id */
    int n_top = temper_next_token_table(logits, V, NULL, 5, top, NULL);
    if (n_top < 0) {
        rc = cli_lib_error("the next-token table", n_top);
        goto done;
    }

    /* The continuation: temper_generate evaluates the prompt again, from an
     * empty slot 0. */
    if ((err = temper_seq_truncate(ctx, 0, 0)) < 0 || (err = temper_generate(ctx, ids, n, &gp, &gen)) < 0) {
        rc = cli_lib_error("decoding", err);
        goto done;
    }
    const temper_sequence *seq = &gen->seqs[0];
    int n_out = seq->n_ids;
    memcpy(ids + n, seq->ids, (size_t)n_out * sizeof *ids);
    temper_token first = n_out > 0 ? seq->ids[0] : -1;
    const char *stop = seq->finish_reason == TEMPER_FINISH_EOS       ? "eos"
                       : seq->finish_reason == TEMPER_FINISH_CONTEXT ? "context window"
                                                                     : "length";
    char settings[256];
    if (greedy)
        snprintf(settings, sizeof settings, "greedy (do_sample=False): the most probable token each step");
    else
        snprintf(settings, sizeof settings, "sampling: temperature %g, top_k %ld, top_p %g, seed %ld",
                 o.temp, o.top_k, o.top_p, o.seed);
    char *cont = NULL;
    char probe;
    int len = tok ? temper_detokenize(tok, ids + n, n_out, TEMPER_DETOKENIZE_SKIP_SPECIAL, &probe, 0) : -1;
    if (len >= 0 && (cont = malloc((size_t)len + 1)) != NULL)
        temper_detokenize(tok, ids + n, n_out, TEMPER_DETOKENIZE_SKIP_SPECIAL, cont, (size_t)len + 1);
    char buf[1024];
    const float *emb = hidden; /* layer 0: (n, C) */

    if (c.json) {
        temper_json_trace_doc d = {.model = c.model, .text = c.prompt, .tok = tok, .ids = ids,
                                   .n = n, .n_layer = L, .n_head = mi.n_head, .n_embd = C,
                                   .logits = logits, .n_vocab = V, .top = top, .n_top = n_top,
                                   .params = &gp, .seq = seq};
        d.n_eos = temper_model_eos_ids(model, &d.eos);
        temper_json *j = temper_json_new(stdout);
        temper_json_trace(j, &d);
        cli_json_end(j);
        free(cont);
        goto done;
    }

    printf("PIPELINE: TEXT -> GENERATION (%s)\n", c.model);
    rule("1. text");
    if (c.prompt) {
        char quoted[4096];
        cli_an_quote(c.prompt, 0, quoted, sizeof quoted);
        printf("   input   \"%s\"\n   length  %d characters, %zu bytes\n", quoted,
               char_count(c.prompt), strlen(c.prompt));
    } else {
        printf("   input   given as %s\n", c.file ? c.file : "token ids");
    }
    rule("2. tokenization");
    printf("   tokens  [");
    for (int k = 0; k < n; k++) {
        const char *piece = tok ? temper_token_text(tok, ids[k]) : NULL;
        if (k) fputs(", ", stdout);
        cli_print_pyrepr(stdout, piece ? piece : "?");
    }
    printf("]\n   ids     [");
    for (int k = 0; k < n; k++) printf("%s%d", k ? ", " : "", ids[k]);
    printf("]\n   count   %d tokens\n", n);
    rule("3. embeddings (token + position)");
    double emin = INFINITY, emax = -INFINITY;
    for (size_t k = 0; k < (size_t)n * C; k++) emin = fmin(emin, emb[k]), emax = fmax(emax, emb[k]);
    printf("   shape   (%d, %d): %d tokens x %d dimensions; values %.3f .. %.3f\n", n, C, n, C, emin, emax);
    rule("4. transformer");
    printf("   %d layers, each with %d attention heads%s; hidden state per layer (%d, %d)\n", L,
           mi.n_head, mi.n_kv_head != mi.n_head ? " (grouped keys/values)" : "", n, C);
    printf("   (temper attention / temper hidden show them)\n");
    rule("5. logits of the last position (raw scores)");
    printf("   shape   (%d): one score per vocabulary token\n", V);
    printf("   min %.2f, max %.2f, mean %.2f\n", lmin, lmax, lsum / V);
    rule("6. softmax -> probabilities");
    printf("   sum of the probabilities: %.6f\n   top 5:\n", psum);
    for (int k = 0; k < n_top; k++) {
        cli_an_token_label(tok, top[k].id, 24, buf, sizeof buf);
        printf("     %d. %-*s %6d  %6.2f%%\n", k + 1, 24 + (int)strlen(buf) - cli_display_width(buf), buf,
               top[k].id, 100 * exp(top[k].logprob));
    }
    rule("7. decoding");
    printf("   %s\n", settings);
    if (first >= 0) {
        cli_an_token_label(tok, first, 24, buf, sizeof buf);
        printf("   next token: %s (%d)\n", buf, first);
    }
    rule("8. generated text");
    printf("   %d new token%s (stop: %s)\n   \"", n_out, n_out == 1 ? "" : "s", stop);
    /* prompt and continuation decoded together: the space between them is
     * the tokenizer's (a SentencePiece prompt decoded alone loses it) */
    char *all = cli_decode_continued(tok, ids, n, ids + n, n_out, NULL);
    if (all) {
        char quoted[8192];
        cli_an_quote(all, 0, quoted, sizeof quoted);
        fputs(quoted, stdout);
    }
    free(all);
    printf("\"\n");
    free(cont);
done:
    free(logits);
    free(hidden);
    free(ids);
    temper_generation_free(gen);
    temper_context_free(ctx);
    temper_model_free(model);
    return rc;
}
