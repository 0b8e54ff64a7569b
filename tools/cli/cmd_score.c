/*
 * cmd_score.c - `temper score -m MODEL [--alpha A] [--temp T] [--bos]
 * [--pairs] [--json] TEXT...`: seed 000's comparison of a sequence's
 * log-likelihood, its power score alpha * log p and its low-temperature
 * score sum log softmax(z / T), token by token (temper_score_sequence).
 *
 * As transformers' model(ids, labels=ids), the first token is not scored;
 * --bos puts the BOS token in front so that every token of the text is.
 * --pairs compares texts 1-2, 3-4, ... and prints seed 000's table.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: temper score -m MODEL [--alpha A] [--temp T] [--bos] [--pairs] [--json] TEXT...\n\n"
               "Score each TEXT (or each line of -f FILE): every token's log-probability,\n"
               "the log-likelihood log p(x) (sum over tokens 2..n given the previous ones,\n"
               "as transformers' labels=input_ids), the power score alpha * log p(x), the\n"
               "temperature score sum log softmax(logits / T), the mean log-prob and the\n"
               "perplexity exp(-mean).\n\n"
               "options:\n"
               "      --alpha A          power score exponent (default 2)\n"
               "      --temp T           temperature of the temperature score (default 0.5)\n"
               "      --bos              put the BOS token in front so every token is scored\n"
               "                         (not added twice when the tokenizer adds it, as OPT's)\n"
               "      --pairs            compare texts two by two (1 with 2, 3 with 4...): method,\n"
               "                         pair, score of A and B and the gap A - B\n"
               "  -f, --file FILE        one text per line (empty lines skipped)\n"
               "      --prompt-ids IDS   a text given as token ids (may be repeated)\n%s",
            cli_common_help);
}

typedef struct score_item {
    const char *text;     /* borrowed from argv or lines; NULL for ids */
    const char *ids_text; /* "1,2,3" from --prompt-ids, or NULL */
    temper_token *ids;    /* (n) owned */
    int n;
    double *lp, *tlp;     /* (n) owned: log p and tempered log p per token */
    bool bos_front;       /* --bos put the BOS token in front */
    temper_sequence_score s;
} score_item;

typedef struct score_opts {
    double alpha, temp;
    bool bos, pairs;
} score_opts;

/* The lines of path ("-": stdin) that are not empty, as malloc'd strings
 * in *lines (owned by the caller, as each line). */
static int read_lines(const char *path, char ***lines, int *n) {
    char *text = NULL, **out = NULL;
    size_t len;
    if (cli_read_file(path, "file", "-f", &text, &len) != 0) return 1;
    int count = 0, rc = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        size_t l = strlen(line);
        while (l > 0 && line[l - 1] == '\r') line[--l] = '\0';
        if (l == 0) continue;
        char **grown = realloc(out, (size_t)(count + 1) * sizeof *out);
        char *copy = strdup(line);
        if (!grown || !copy) {
            free(copy);
            if (grown) out = grown;
            rc = 1;
            break;
        }
        out = grown;
        out[count++] = copy;
    }
    free(text);
    if (rc) {
        cli_error("out of memory reading %s", path);
        for (int k = 0; k < count; k++) free(out[k]);
        free(out);
        return 1;
    }
    *lines = out;
    *n = count;
    return 0;
}

/* text in quotes, control characters escaped, cut to max_width columns. */
static void print_text_quoted(const char *text, int max_width) {
    char cut[1024];
    cli_an_quote(text, max_width, cut, sizeof cut);
    printf("\"%s\"", cut);
}

static const char *item_text(const score_item *it, const temper_tokenizer *tok, char *buf, size_t cap) {
    if (it->text) return it->text;
    int n = tok ? temper_detokenize(tok, it->ids, it->n, 0, buf, cap) : -1;
    if (n < 0) snprintf(buf, cap, "(ids)");
    else buf[(size_t)n < cap ? (size_t)n : cap - 1] = '\0';
    return buf;
}

static void print_item(const score_item *it, int index, const temper_tokenizer *tok,
                       const score_opts *o) {
    char label[256], text[4096];
    printf("[%d] ", index + 1);
    print_text_quoted(item_text(it, tok, text, sizeof text), 60);
    printf("  %d tokens%s, %d scored\n", it->n, it->bos_front ? " (BOS in front)" : "", it->s.n_scored);
    char tcol[32];
    snprintf(tcol, sizeof tcol, "log p (T=%g)", o->temp);
    printf("    %4s  %-20s %7s  %10s  %13s\n", "#", "token", "id", "log p", tcol);
    for (int k = 0; k < it->n; k++) {
        cli_an_token_label(tok, it->ids[k], 20, label, sizeof label);
        int pad = 20 - cli_display_width(label);
        printf("    %4d  %s%*s %7d  ", k, label, pad > 0 ? pad : 0, "", it->ids[k]);
        if (k == 0) printf("%10s  %13s\n", "-", "-");
        else printf("%10.4f  %13.4f\n", it->lp[k], it->tlp[k]);
    }
    printf("    log p(x)            %12.4f   sum of %d token log-probs\n", it->s.log_prob, it->s.n_scored);
    printf("    power score         %12.4f   alpha * log p(x), alpha = %g\n", it->s.power_score, o->alpha);
    printf("    temperature score   %12.4f   sum of log softmax(logits / T), T = %g\n",
           it->s.temp_score, o->temp);
    printf("    mean log p          %12.4f\n", it->s.mean_log_prob);
    printf("    perplexity          %12.4f   exp(-mean log p)\n\n", it->s.perplexity);
}

static void print_summary(const score_item *items, int n, const temper_tokenizer *tok,
                          const score_opts *o) {
    char text[4096], h1[32], h2[32];
    snprintf(h1, sizeof h1, "power (a=%g)", o->alpha);
    snprintf(h2, sizeof h2, "temp (T=%g)", o->temp);
    printf("%4s  %10s  %12s  %12s  %9s  %10s  %s\n", "#", "log p", h1, h2, "mean", "perplexity", "text");
    for (int k = 0; k < n; k++) {
        const temper_sequence_score *s = &items[k].s;
        printf("%4d  %10.4f  %12.4f  %12.4f  %9.4f  %10.3f  ", k + 1, s->log_prob, s->power_score,
               s->temp_score, s->mean_log_prob, s->perplexity);
        print_text_quoted(item_text(&items[k], tok, text, sizeof text), 40);
        putchar('\n');
    }
}

/* Seed 000's table: for each pair, the three scores of A and B and A - B. */
static void print_pairs(const score_item *items, int n, const temper_tokenizer *tok,
                        const score_opts *o) {
    char text[4096], m[3][32];
    snprintf(m[0], sizeof m[0], "Raw log p");
    snprintf(m[1], sizeof m[1], "Power (a=%g)", o->alpha);
    snprintf(m[2], sizeof m[2], "Temp (T=%g)", o->temp);
    for (int k = 0; k < n; k++) {
        printf("%c%d  ", k % 2 ? 'B' : 'A', k / 2 + 1);
        print_text_quoted(item_text(&items[k], tok, text, sizeof text), 66);
        putchar('\n');
    }
    putchar('\n');
    printf("%-15s | %-8s | %12s | %12s | %10s\n", "Method", "Pair", "Score A", "Score B", "Gap (A-B)");
    printf("%.*s\n", 72, "------------------------------------------------------------------------");
    for (int p = 0; p + 1 < n; p += 2) {
        const temper_sequence_score *a = &items[p].s, *b = &items[p + 1].s;
        double sa[3] = {a->log_prob, a->power_score, a->temp_score};
        double sb[3] = {b->log_prob, b->power_score, b->temp_score};
        for (int r = 0; r < 3; r++) {
            char pair[24] = "";
            if (r == 0) snprintf(pair, sizeof pair, "Pair %d", p / 2 + 1);
            double gap = sa[r] - sb[r], raw = sa[0] - sb[0];
            printf("%-15s | %-8s | %12.4f | %12.4f | %10.4f%s\n", m[r], pair, sa[r], sb[r], gap,
                   r > 0 && gap * raw < 0 ? "  order reversed" : "");
        }
        printf("%.*s\n", 72, "------------------------------------------------------------------------");
    }
}

static void print_json(const score_item *items, int n, const temper_tokenizer *tok,
                       const score_opts *o, const char *model) {
    temper_json_score_item *ji = calloc((size_t)n, sizeof *ji);
    if (!ji) {
        cli_error("out of memory");
        return;
    }
    for (int k = 0; k < n; k++)
        ji[k] = (temper_json_score_item){.text = items[k].text, .ids = items[k].ids, .n = items[k].n,
                                         .logprobs = items[k].lp, .temp_logprobs = items[k].tlp,
                                         .score = &items[k].s};
    temper_json_scores d = {.model = model, .tok = tok, .alpha = o->alpha, .temperature = o->temp,
                            .bos = o->bos, .items = ji, .n_items = n, .pairs = o->pairs};
    temper_json *j = temper_json_new(stdout);
    temper_json_score(j, &d);
    cli_json_end(j);
    free(ji);
}

/* Append an item to *items (count *n); 1 on out of memory. */
static int add_item(score_item **items, int *n, const char *text, const char *ids_text) {
    score_item *grown = realloc(*items, (size_t)(*n + 1) * sizeof **items);
    if (!grown) {
        cli_error("out of memory");
        return 1;
    }
    grown[*n] = (score_item){.text = text, .ids_text = ids_text};
    *items = grown;
    (*n)++;
    return 0;
}

static int parse_positive(const char *opt, const char *v, double *out) {
    if (cli_parse_double(v, out, false) < 0 || !(*out > 0)) {
        cli_error("%s \"%s\": give a number > 0, e.g. %s 0.5", opt, v, opt);
        return -1;
    }
    return 0;
}

int cmd_score(int argc, char **argv) {
    cli_common c = {0};
    score_opts o = {.alpha = 2.0, .temp = 0.5};
    score_item *items = NULL;
    char **lines = NULL;
    int n_items = 0, n_lines = 0, rc = 0;
    for (int i = 1; i < argc && rc == 0;) {
        const char *v;
        if (cli_flag(argv, &i, "-h", "--help")) {
            usage(stdout);
            free(items);
            return 0;
        }
        int r;
        if ((r = cli_opt(argv, argc, &i, NULL, "--prompt-ids", &v)) != 0) {
            rc = r < 0 ? 2 : add_item(&items, &n_items, NULL, v);
            continue;
        }
        if ((r = cli_parse_common(&c, &i, argc, argv)) != 0) {
            if (r < 0) rc = 2;
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--alpha", &v)) != 0) {
            if (r < 0 || parse_positive("--alpha", v, &o.alpha) < 0) rc = 2;
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--temp", &v)) != 0 ||
            (r = cli_opt(argv, argc, &i, NULL, "--temperature", &v)) != 0) {
            if (r < 0 || parse_positive("--temp", v, &o.temp) < 0) rc = 2;
            continue;
        }
        if (cli_flag(argv, &i, NULL, "--bos")) {
            o.bos = true;
            continue;
        }
        if (cli_flag(argv, &i, NULL, "--pairs")) {
            o.pairs = true;
            continue;
        }
        if (strcmp(argv[i], "--") == 0) {
            for (i++; i < argc && rc == 0; i++) rc = add_item(&items, &n_items, argv[i], NULL);
            break;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            free(items);
            return cli_unknown_option("score", argv[i]);
        }
        rc = add_item(&items, &n_items, argv[i++], NULL);
    }
    if (rc == 0 && c.prompt) rc = add_item(&items, &n_items, c.prompt, NULL);
    if (rc == 0 && c.file && (rc = read_lines(c.file, &lines, &n_lines)) == 0)
        for (int k = 0; k < n_lines && rc == 0; k++) rc = add_item(&items, &n_items, lines[k], NULL);
    if (rc == 0 && n_items == 0) {
        cli_error("no text: give the texts as arguments (\"2 + 2 is 4\" \"2 + 2 is 5\"), -f FILE "
                  "with one per line, or --prompt-ids");
        rc = 2;
    }
    if (rc == 0 && o.pairs && n_items % 2) {
        cli_error("--pairs: %d texts is an odd count: give texts two by two (A then B)", n_items);
        rc = 2;
    }

    temper_model *model = NULL;
    temper_context *ctx = NULL;
    if (rc == 0) rc = cli_load_model(&c, &model);
    const temper_tokenizer *tok = model ? temper_model_tokenizer(model) : NULL;
    temper_token bos = -1;
    if (rc == 0 && o.bos) rc = cli_an_bos(model, &bos);
    int n_ctx = model ? temper_model_n_ctx(model) : 0, longest = 2;
    for (int k = 0; k < n_items && rc == 0; k++) {
        score_item *it = &items[k];
        if ((rc = cli_an_text_ids(&c, tok, it->text, it->ids_text, &it->ids, &it->n)) != 0) break;
        if (o.bos) {
            bool had = it->n > 0 && it->ids[0] == bos;
            if ((rc = cli_an_prepend(&it->ids, &it->n, bos)) != 0) break;
            it->bos_front = !had;
        }
        if (it->n < 2) {
            cli_error("text %d has %d token: nothing to score (the first token is never scored): "
                      "pass --bos to score it after the BOS token", k + 1, it->n);
            rc = 2;
            break;
        }
        if ((rc = cli_fit_context(&c, it->ids, &it->n, 0, n_ctx)) != 0) break;
        if (it->n > longest) longest = it->n;
        it->lp = malloc(2 * (size_t)it->n * sizeof *it->lp); /* (2, n) */
        if (!it->lp) {
            cli_error("out of memory");
            rc = 1;
            break;
        }
        it->tlp = it->lp + it->n;
    }
    if (rc == 0) rc = cli_context_init(&c, model, longest, &ctx);
    temper_score_params sp = temper_score_default_params();
    sp.alpha = o.alpha;
    sp.temperature = o.temp;
    for (int k = 0; k < n_items && rc == 0; k++) {
        score_item *it = &items[k];
        int err = temper_score_sequence(ctx, it->ids, it->n, &sp, &it->s, it->lp, it->tlp);
        if (err < 0) rc = cli_lib_error("score", err);
    }
    if (rc == 0) {
        if (c.json) {
            print_json(items, n_items, tok, &o, c.model);
        } else if (o.pairs) {
            print_pairs(items, n_items, tok, &o);
        } else {
            for (int k = 0; k < n_items; k++) print_item(&items[k], k, tok, &o);
            if (n_items > 1) print_summary(items, n_items, tok, &o);
        }
    }
    for (int k = 0; k < n_items; k++) {
        free(items[k].ids);
        free(items[k].lp);
    }
    free(items);
    for (int k = 0; k < n_lines; k++) free(lines[k]);
    free(lines);
    temper_context_free(ctx);
    temper_model_free(model);
    return rc;
}
