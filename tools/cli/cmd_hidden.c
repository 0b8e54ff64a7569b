/*
 * cmd_hidden.c - `temper hidden -m MODEL [--layer L] [--pca] [--json]
 * TEXT`: the hidden states of every token after each layer, numbered as
 * transformers' output_hidden_states (0 = the embeddings, n_layer = the
 * output of the final layer norm), with seed 004's statistics (min, max,
 * mean, std) and a 2-D PCA projection with its explained variance
 * (temper_pca, as scikit-learn's PCA(n_components=2)).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: temper hidden -m MODEL [--layer L] [--pca] [--json] TEXT\n\n"
               "Hidden states per token and layer: 0 = embeddings (token + position),\n"
               "1 .. n_layer - 1 = after each block, n_layer = after the final layer norm\n"
               "(transformers' output_hidden_states). Without --layer: statistics of every\n"
               "layer; with --layer: statistics of each token of that layer. Negative L\n"
               "counts from the end (-1: the last).\n\n"
               "options:\n"
               "      --layer L          one layer (0 .. n_layer)\n"
               "      --pca              2-D PCA of the tokens of layer L (default: the last),\n"
               "                         with the explained variance ratio of each axis\n"
               "      --project pca|none the same as --pca / no projection\n%s%s",
            cli_prompt_help, cli_common_help);
}

typedef struct hstats {
    double min, max, mean, std, norm; /* std: population (numpy's default) */
} hstats;

/* Statistics of x (n); norm = the Euclidean norm. */
static hstats stats_of(const float *x, size_t n) {
    hstats s = {.min = INFINITY, .max = -INFINITY};
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; i++) {
        s.min = fmin(s.min, x[i]), s.max = fmax(s.max, x[i]);
        sum += x[i];
    }
    s.mean = sum / (double)n;
    for (size_t i = 0; i < n; i++) {
        sq += ((double)x[i] - s.mean) * ((double)x[i] - s.mean);
        s.norm += (double)x[i] * x[i];
    }
    s.std = sqrt(sq / (double)n);
    s.norm = sqrt(s.norm);
    return s;
}

#define PLOT_W 64
#define PLOT_H 20

/* A text scatter plot of proj (n, 2) with a token label at each point. */
static void print_scatter(const double *proj, int n, char labels[][64]) {
    static char grid[PLOT_H][PLOT_W][8]; /* one UTF-8 character per cell */
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < n; i++) {
        x0 = fmin(x0, proj[2 * i]), x1 = fmax(x1, proj[2 * i]);
        y0 = fmin(y0, proj[2 * i + 1]), y1 = fmax(y1, proj[2 * i + 1]);
    }
    for (int r = 0; r < PLOT_H; r++)
        for (int c = 0; c < PLOT_W; c++) strcpy(grid[r][c], " ");
    for (int i = 0; i < n; i++) {
        int c = x1 > x0 ? (int)lround((proj[2 * i] - x0) / (x1 - x0) * (PLOT_W - 10)) : 0;
        int r = y1 > y0 ? (int)lround((y1 - proj[2 * i + 1]) / (y1 - y0) * (PLOT_H - 1)) : 0;
        /* "•label" if the cells are free, else only the dot */
        char text[80];
        snprintf(text, sizeof text, "\xE2\x80\xA2%s", labels[i]);
        size_t len = strlen(text), k = 0;
        int cells = 0;
        bool free_run = true;
        for (int w = 0; w < 10 && c + w < PLOT_W; w++) free_run = free_run && grid[r][c + w][0] == ' ';
        while (k < len && c + cells < PLOT_W) {
            int32_t cp;
            int used = temper_utf8_next(text + k, len - k, &cp);
            if (cells > 0 && !free_run) break;
            if (cells >= 9) break;
            memcpy(grid[r][c + cells], text + k, (size_t)used);
            grid[r][c + cells][used] = '\0';
            k += (size_t)used, cells++;
        }
    }
    printf("  +");
    for (int c = 0; c < PLOT_W; c++) putchar('-');
    printf("+ PC2 %.3g\n", y1);
    for (int r = 0; r < PLOT_H; r++) {
        printf("  |");
        for (int c = 0; c < PLOT_W; c++) fputs(grid[r][c], stdout);
        printf("|\n");
    }
    printf("  +");
    for (int c = 0; c < PLOT_W; c++) putchar('-');
    printf("+ PC2 %.3g\n", y0);
    printf("   PC1 %.3g%*sPC1 %.3g\n", x0, PLOT_W - 16, "", x1);
}

int cmd_hidden(int argc, char **argv) {
    cli_common c = {0};
    long layer_arg = -1;
    bool has_layer = false, pca = false;
    for (int i = 1; i < argc;) {
        const char *v;
        if (cli_flag(argv, &i, "-h", "--help")) {
            usage(stdout);
            return 0;
        }
        int r = cli_parse_common(&c, &i, argc, argv);
        if (r < 0) return 2;
        if (r > 0) continue;
        if ((r = cli_opt(argv, argc, &i, "-l", "--layer", &v)) != 0) {
            if (r < 0 || cli_parse_int_opt("--layer", v, -4097, 4096, &layer_arg) < 0) return 2;
            has_layer = true;
            continue;
        }
        if (cli_flag(argv, &i, NULL, "--pca")) {
            pca = true;
            continue;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--project", &v)) != 0) {
            if (r < 0) return 2;
            if (strcmp(v, "pca") != 0 && strcmp(v, "none") != 0) {
                cli_error("--project \"%s\": give pca or none (t-SNE and UMAP are not built in: "
                          "export with --json)", v);
                return 2;
            }
            pca = strcmp(v, "pca") == 0;
            continue;
        }
        if ((r = cli_prompt_arg(&c, "hidden", &i, argc, argv)) != 0) return r;
    }

    temper_model *model = NULL;
    temper_context *ctx = NULL;
    temper_token *ids = NULL;  /* (n) */
    float *hidden = NULL;      /* (L + 1, n, C) */
    double *proj = NULL;       /* (n, 2) */
    char (*labels)[64] = NULL; /* (n) */
    int n = 0, rc = cli_load_model(&c, &model);
    if (rc != 0) return rc;
    const temper_tokenizer *tok = temper_model_tokenizer(model);
    temper_model_info mi;
    temper_model_get_info(model, &mi);
    const int L = mi.n_layer, C = mi.n_embd;
    int layer = cli_an_resolve(layer_arg, L + 1);
    if (layer < 0) {
        cli_error("--layer %ld: hidden states are numbered 0 (embeddings) to %d (after the final "
                  "norm): give 0 to %d (or -1 for the last)", layer_arg, L, L);
        rc = 2;
        goto done;
    }
    if ((rc = cli_prompt_ids(&c, tok, &ids, &n)) != 0) goto done;
    if ((rc = cli_fit_context(&c, ids, &n, 0, mi.n_ctx)) != 0) goto done;
    if (pca && n < 2) {
        cli_error("--pca: %d token: a projection needs at least 2 tokens", n);
        rc = 2;
        goto done;
    }
    hidden = malloc((size_t)(L + 1) * n * C * sizeof *hidden);
    proj = malloc(2 * (size_t)n * sizeof *proj);
    labels = malloc((size_t)n * sizeof *labels);
    if (!hidden || !proj || !labels) {
        cli_error("out of memory");
        rc = 1;
        goto done;
    }
    if ((rc = cli_context_init(&c, model, n, &ctx)) != 0) goto done;
    int err = temper_eval_capture(ctx, 0, ids, n, NULL, 0, NULL, hidden);
    if (err < 0) {
        rc = cli_lib_error("hidden states", err);
        goto done;
    }
    double explained[2] = {0, 0};
    if (pca && (err = temper_pca(hidden + (size_t)layer * n * C, n, C, 2, proj, explained)) < 0) {
        rc = cli_lib_error("PCA", err);
        goto done;
    }
    for (int k = 0; k < n; k++) cli_an_token_label(tok, ids[k], 14, labels[k], sizeof labels[k]);
    int l0 = has_layer ? layer : 0, l1 = has_layer ? layer + 1 : L + 1;

    if (c.json) {
        temper_json_hidden_doc d = {.model = c.model, .tok = tok, .ids = ids, .n = n,
                                    .n_layer = L, .n_embd = C, .hidden = hidden,
                                    .layer_begin = l0, .layer_end = l1,
                                    .pca_layer = pca ? layer : -1, .pca_points = proj,
                                    .pca_explained = explained};
        temper_json *j = temper_json_new(stdout);
        temper_json_hidden(j, &d);
        cli_json_end(j);
        goto done;
    }

    printf("hidden states: %d layers + embeddings, %d tokens x %d dimensions\n"
           "(0 = embeddings, %d = after the final layer norm, as output_hidden_states)\n\n",
           L, n, C, L);
    if (!has_layer) {
        printf("%5s  %10s  %10s  %10s  %10s  %12s\n", "layer", "min", "max", "mean", "std", "mean norm");
        for (int l = 0; l <= L; l++) {
            const float *x = hidden + (size_t)l * n * C;
            hstats s = stats_of(x, (size_t)n * C);
            double norm = 0;
            for (int k = 0; k < n; k++) norm += stats_of(x + (size_t)k * C, (size_t)C).norm;
            printf("%5d  %10.3f  %10.3f  %10.3f  %10.3f  %12.3f\n", l, s.min, s.max, s.mean, s.std,
                   norm / n);
        }
    } else {
        printf("layer %d, per token:\n", layer);
        printf("%4s  %-14s %7s  %9s  %9s  %9s  %9s  %10s\n", "#", "token", "id", "min", "max", "mean",
               "std", "norm");
        for (int k = 0; k < n; k++) {
            hstats t = stats_of(hidden + ((size_t)layer * n + k) * C, (size_t)C);
            int pad = 14 - cli_display_width(labels[k]);
            printf("%4d  %s%*s %7d  %9.3f  %9.3f  %9.3f  %9.3f  %10.3f\n", k, labels[k],
                   pad > 0 ? pad : 0, "", ids[k], t.min, t.max, t.mean, t.std, t.norm);
        }
    }
    if (pca) {
        printf("\nPCA of layer %d (%d tokens x %d): explained variance PC1 %.1f%%, PC2 %.1f%%, "
               "together %.1f%%\n", layer, n, C, 100 * explained[0], 100 * explained[1],
               100 * (explained[0] + explained[1]));
        printf("%4s  %-14s %10s  %10s\n", "#", "token", "PC1", "PC2");
        for (int k = 0; k < n; k++) {
            int pad = 14 - cli_display_width(labels[k]);
            printf("%4d  %s%*s %10.4f  %10.4f\n", k, labels[k], pad > 0 ? pad : 0, "", proj[2 * k],
                   proj[2 * k + 1]);
        }
        putchar('\n');
        for (int k = 0; k < n; k++) cli_an_token_label(tok, ids[k], 8, labels[k], sizeof labels[k]);
        print_scatter(proj, n, labels);
    }
done:
    free(labels);
    free(proj);
    free(hidden);
    free(ids);
    temper_context_free(ctx);
    temper_model_free(model);
    return rc;
}
