/*
 * cmd_perplexity.c - `temper perplexity -m MODEL [-f FILE | TEXT...]
 * [--stride S] [--max-length L] [--json]`: perplexity as transformers'
 * guide "Perplexity of fixed-length models" computes it (windows of L
 * tokens moved by S, only the new tokens of each window scored; see
 * temper_perplexity in temper.h), with the values of each window and a
 * standard error. Several texts are compared side by side (seed 004's
 * factual / coherent / random / repeated texts).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: temper perplexity -m MODEL [-f FILE | TEXT...] [--stride S] [--max-length L] [--json]\n\n"
               "Perplexity exp(mean negative log-likelihood) of a text, as transformers'\n"
               "perplexity guide computes it: windows of L tokens, moved by S tokens, each\n"
               "scoring only the tokens the previous windows did not. Without --stride the\n"
               "windows do not overlap; a text that fits one window gives exactly\n"
               "exp(loss) of model(ids, labels=ids). Several TEXTs are compared.\n\n"
               "options:\n"
               "      --max-length L     window size in tokens (default: the context window)\n"
               "      --stride S         tokens the window moves by (default L; 1..L)\n"
               "      --bos              put the BOS token in front so the first token is scored\n"
               "  -f, --file FILE        the text is the whole file (one document)\n%s",
            cli_common_help);
}

typedef struct ppl_item {
    const char *text;        /* borrowed; NULL for -f or --prompt-ids */
    temper_token *ids;       /* (n) owned */
    int n;
    temper_ppl_window *win;  /* (n_windows) owned */
    temper_perplexity_result r;
} ppl_item;

/* Progress on a terminal only: "window 3/10" on stderr, erased at the end. */
static int progress(const temper_ppl_window *w, int index, int n_windows, void *user) {
    (void)w, (void)user;
    if (n_windows > 1 && !cli_quiet) fprintf(stderr, "\rperplexity: window %d/%d ", index + 1, n_windows);
    return 0;
}

static void print_windows(const ppl_item *it) {
    printf("%6s  %-15s %6s  %6s  %6s  %9s  %10s\n", "window", "tokens", "new", "scored", "weight",
           "nll", "perplexity");
    for (int w = 0; w < it->r.n_windows; w++) {
        const temper_ppl_window *x = &it->win[w];
        char range[32];
        snprintf(range, sizeof range, "[%d, %d)", x->begin, x->end);
        printf("%6d  %-15s %6d  %6d  %6d  %9.4f  %10.3f\n", w + 1, range, x->trg_len, x->n_scored,
               x->weight, x->nll, exp(x->nll));
    }
}

static void print_result(const ppl_item *it, const char *what) {
    const temper_perplexity_result *r = &it->r;
    printf("%s: %d tokens, windows of %d tokens, stride %d, %d window%s\n", what, r->n_tokens,
           r->max_length, r->stride, r->n_windows, r->n_windows == 1 ? "" : "s");
    print_windows(it);
    printf("perplexity  %.4f \xC2\xB1 %.4f   exp(mean NLL %.4f), windows weighted as the guide\n",
           r->perplexity, r->perplexity * r->nll_stderr, r->nll);
    printf("per token   %.4f \xC2\xB1 %.4f   exp(mean NLL %.4f \xC2\xB1 %.4f) over %d scored tokens\n",
           r->token_perplexity, r->perplexity_stderr, r->token_nll, r->nll_stderr, r->n_scored);
}

/* One row per text, with a bar on a log scale (seed 004's bar chart). */
static void print_comparison(const ppl_item *items, int n) {
    double top = 1;
    for (int k = 0; k < n; k++) top = fmax(top, items[k].r.perplexity);
    printf("%3s  %6s  %14s  %14s  %-24s %s\n", "#", "tokens", "perplexity", "s.e.", "log scale",
           "text");
    for (int k = 0; k < n; k++) {
        const temper_perplexity_result *r = &items[k].r;
        printf("%3d  %6d  %14.3f  %14.3f  ", k + 1, r->n_tokens, r->perplexity,
               r->perplexity * r->nll_stderr);
        int cells = top > 1 ? (int)lround(24 * log(fmax(r->perplexity, 1)) / log(top)) : 0;
        for (int b = 0; b < 24; b++) fputs(b < cells ? "\xE2\x96\x88" : " ", stdout);
        char cut[512];
        if (!items[k].text) {
            printf(" (token ids)\n");
            continue;
        }
        cli_an_quote(items[k].text, 60, cut, sizeof cut);
        printf(" \"%s\"\n", cut);
    }
}


int cmd_perplexity(int argc, char **argv) {
    cli_common c = {0};
    long max_length = 0, stride = 0;
    bool bos = false;
    const char **texts = calloc((size_t)argc + 1, sizeof *texts); /* (argc) borrowed from argv */
    int n_texts = 0, rc = 0;
    if (!texts) {
        cli_error("out of memory");
        return 1;
    }
    for (int i = 1; i < argc && rc == 0;) {
        const char *v;
        if (cli_flag(argv, &i, "-h", "--help")) {
            usage(stdout);
            free(texts);
            return 0;
        }
        int r = cli_parse_common(&c, &i, argc, argv);
        if (r != 0) {
            if (r < 0) rc = 2;
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--max-length", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--max-length", v, 2, INT32_MAX, &max_length) < 0) rc = 2;
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--stride", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--stride", v, 1, INT32_MAX, &stride) < 0) rc = 2;
            continue;
        }
        if (cli_flag(argv, &i, NULL, "--bos")) {
            bos = true;
            continue;
        }
        if (strcmp(argv[i], "--") == 0) {
            for (i++; i < argc; i++) texts[n_texts++] = argv[i];
            break;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            free(texts);
            return cli_unknown_option("perplexity", argv[i]);
        }
        texts[n_texts++] = argv[i++];
    }
    if (rc != 0) {
        free(texts);
        return rc;
    }
    if (c.prompt) texts[n_texts++] = c.prompt;
    int n_items = n_texts + (c.file != NULL) + (c.prompt_ids != NULL);
    if (n_items == 0 || (n_texts > 0 && n_items > n_texts)) {
        cli_error(n_items == 0 ? "no text: give TEXT (several to compare), -f FILE or --prompt-ids"
                               : "give texts, or -f FILE, or --prompt-ids, not several of them");
        free(texts);
        return 2;
    }
    if (n_items > 1 && n_texts == 0) {
        cli_error("give -f FILE or --prompt-ids, not both");
        free(texts);
        return 2;
    }

    ppl_item *items = calloc((size_t)n_items, sizeof *items); /* (n_items) */
    temper_model *model = NULL;
    temper_context *ctx = NULL;
    if (!items) {
        cli_error("out of memory");
        free(texts);
        return 1;
    }
    rc = cli_load_model(&c, &model);
    const temper_tokenizer *tok = model ? temper_model_tokenizer(model) : NULL;
    int n_ctx = model ? temper_model_n_ctx(model) : 0;
    if (rc == 0 && max_length > n_ctx) {
        cli_error("--max-length %ld: the model's context window is %d tokens: give at most %d",
                  max_length, n_ctx, n_ctx);
        rc = 2;
    }
    if (rc == 0 && max_length == 0) max_length = n_ctx;
    if (rc == 0 && stride > max_length) {
        cli_error("--stride %ld: larger than the window (%ld tokens) would leave tokens unscored: "
                  "give 1 to %ld", stride, max_length, max_length);
        rc = 2;
    }
    temper_token bos_id = -1;
    if (rc == 0 && bos) rc = cli_an_bos(model, &bos_id);
    for (int k = 0; k < n_items && rc == 0; k++) {
        ppl_item *it = &items[k];
        if (n_texts > 0) {
            it->text = texts[k];
            rc = cli_an_text_ids(&c, tok, texts[k], NULL, &it->ids, &it->n);
        } else {
            rc = cli_prompt_ids(&c, tok, &it->ids, &it->n);
        }
        if (rc == 0 && bos) rc = cli_an_prepend(&it->ids, &it->n, bos_id);
        if (rc == 0 && it->n < 2) {
            cli_error("text %d has %d token: nothing to score (the first token is never scored): "
                      "pass --bos or give a longer text", k + 1, it->n);
            rc = 2;
        }
    }
    if (rc == 0) rc = cli_context_init(&c, model, (int)max_length, &ctx);
    bool tty = isatty(STDERR_FILENO);
    temper_perplexity_params pp = temper_perplexity_default_params();
    pp.max_length = (int)max_length;
    pp.stride = (int)stride;
    pp.progress = tty ? progress : NULL;
    for (int k = 0; k < n_items && rc == 0; k++) {
        ppl_item *it = &items[k];
        /* The guide's loop starts a window every pp.stride tokens: at most n / stride + 1. */
        int cap = it->n / (int)(stride ? stride : max_length) + 2;
        it->win = malloc((size_t)cap * sizeof *it->win); /* (cap) */
        if (!it->win) {
            cli_error("out of memory");
            rc = 1;
            break;
        }
        int nw = temper_perplexity(ctx, it->ids, it->n, &pp, &it->r, it->win, cap, NULL);
        if (tty) fputs("\r\x1b[K", stderr);
        if (nw < 0) rc = cli_lib_error("perplexity", nw);
    }
    if (rc == 0) {
        if (c.json) {
            temper_json_ppl_item *ji = calloc((size_t)n_items, sizeof *ji);
            for (int k = 0; ji && k < n_items; k++)
                ji[k] = (temper_json_ppl_item){.text = items[k].text, .r = &items[k].r,
                                               .windows = items[k].win};
            temper_json_perplexities d = {.model = c.model, .max_length = (int)max_length,
                                          .stride = (int)(stride ? stride : max_length), .bos = bos,
                                          .items = ji, .n_items = ji ? n_items : 0};
            temper_json *j = temper_json_new(stdout);
            temper_json_perplexity(j, &d);
            cli_json_end(j);
            free(ji);
        } else if (n_items == 1) {
            print_result(&items[0], c.file ? c.file : "text");
        } else {
            print_comparison(items, n_items);
        }
    }
    for (int k = 0; k < n_items; k++) {
        free(items[k].ids);
        free(items[k].win);
    }
    free(items);
    free(texts);
    temper_context_free(ctx);
    temper_model_free(model);
    return rc;
}
