/*
 * cmd_hidden.c - `temper hidden -m MODEL [--layer L] [--project
 * pca|tsne|umap] [--json] TEXT`: the hidden states of every token after
 * each layer, numbered as transformers' output_hidden_states (0 = the
 * embeddings, n_layer = the output of the final layer norm), with seed
 * 004's statistics (min, max, mean, std) and a map of the tokens of one
 * layer (temper_project: PCA with its explained variance, as
 * scikit-learn's PCA(n_components=2), t-SNE or UMAP).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: temper hidden -m MODEL [--layer L] [--project pca|tsne|umap] [--json] [--svg FILE] TEXT\n\n"
               "Hidden states per token and layer: 0 = embeddings (token + position),\n"
               "1 .. n_layer - 1 = after each block, n_layer = after the final layer norm\n"
               "(transformers' output_hidden_states). Without --layer: statistics of every\n"
               "layer; with --layer: statistics of each token of that layer. Negative L\n"
               "counts from the end (-1: the last).\n\n"
               "options:\n"
               "      --layer L          one layer (0 .. n_layer)\n"
               "      --svg FILE         also write the map as an SVG scatter plot labelled with\n"
               "                         the tokens, coloured by position (PCA unless --project)\n");
    cli_project_help(f);
    fprintf(f, "%s%s", cli_prompt_help, cli_common_help);
}

#define PLOT_W 64
#define PLOT_H 20

/* A text scatter plot of the first two coordinates of proj (n, k) with a
 * token label at each point; axis: the axes' name ("PC": PC1, PC2). */
static void print_scatter(const double *proj, int n, int dims, const char *axis, char labels[][64]) {
    static char grid[PLOT_H][PLOT_W][8]; /* one UTF-8 character per cell */
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < n; i++) {
        x0 = fmin(x0, proj[dims * i]), x1 = fmax(x1, proj[dims * i]);
        y0 = fmin(y0, proj[dims * i + 1]), y1 = fmax(y1, proj[dims * i + 1]);
    }
    for (int r = 0; r < PLOT_H; r++)
        for (int c = 0; c < PLOT_W; c++) strcpy(grid[r][c], " ");
    for (int i = 0; i < n; i++) {
        int c = x1 > x0 ? (int)lround((proj[dims * i] - x0) / (x1 - x0) * (PLOT_W - 10)) : 0;
        int r = y1 > y0 ? (int)lround((y1 - proj[dims * i + 1]) / (y1 - y0) * (PLOT_H - 1)) : 0;
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
    printf("+ %s2 %.3g\n", axis, y1);
    for (int r = 0; r < PLOT_H; r++) {
        printf("  |");
        for (int c = 0; c < PLOT_W; c++) fputs(grid[r][c], stdout);
        printf("|\n");
    }
    printf("  +");
    for (int c = 0; c < PLOT_W; c++) putchar('-');
    printf("+ %s2 %.3g\n", axis, y0);
    int gap = PLOT_W - 16 - 2 * ((int)strlen(axis) - 2);
    printf("   %s1 %.3g%*s%s1 %.3g\n", axis, x0, gap > 1 ? gap : 1, "", axis, x1);
}

/* --svg: the 2-D map as a scatter plot labelled with the tokens, coloured
 * by position (temper_svg_scatter). */
static int save_svg(const char *path, const temper_project_info *info, int layer, int n, int C,
                    const double *proj, const double *explained, char labels[][64]) {
    const char **lab = malloc((size_t)n * sizeof *lab);
    if (!lab) {
        cli_error("out of memory");
        return 1;
    }
    for (int k = 0; k < n; k++) lab[k] = labels[k];
    const temper_project_params *p = &info->used;
    char title[160], xn[64], yn[64];
    if (p->method == TEMPER_PROJECT_PCA) {
        snprintf(title, sizeof title, "PCA of layer %d (%d tokens x %d)", layer, n, C);
        snprintf(xn, sizeof xn, "PC1 (%.1f%% of the variance)", 100 * explained[0]);
        snprintf(yn, sizeof yn, "PC2 (%.1f%% of the variance)", 100 * explained[1]);
    } else if (p->method == TEMPER_PROJECT_TSNE) {
        snprintf(title, sizeof title, "t-SNE of layer %d (%d tokens x %d), perplexity %g, KL %.3f", layer, n, C,
                 p->perplexity, info->kl_divergence);
        snprintf(xn, sizeof xn, "t-SNE 1"), snprintf(yn, sizeof yn, "t-SNE 2");
    } else {
        snprintf(title, sizeof title, "UMAP of layer %d (%d tokens x %d), %d neighbours, min_dist %g, seed %llu",
                 layer, n, C, p->n_neighbors, p->min_dist, (unsigned long long)p->seed);
        snprintf(xn, sizeof xn, "UMAP 1"), snprintf(yn, sizeof yn, "UMAP 2");
    }
    temper_svg_scatter_spec spec = {.points = proj, .n = n, .labels = lab, .title = title, .x_name = xn,
                                    .y_name = yn, .color_name = "position in the text"};
    char *svg = NULL;
    int len = temper_svg_scatter(&spec, &svg);
    free(lab);
    return cli_svg_save(path, len, svg, "scatter plot");
}

/* The map of layer `layer` as a table (token, coordinates) and a scatter
 * plot; PCA with its explained variance, t-SNE with its KL divergence,
 * UMAP with its curve. labels is scratch (n). */
static void print_projection(const temper_project_info *info, int layer, int n, int C, const double *proj,
                             const double *explained, const temper_tokenizer *tok, const temper_token *ids,
                             char labels[][64]) {
    const temper_project_params *p = &info->used;
    int K = p->n_components;
    const char *axis = "PC";
    if (p->method == TEMPER_PROJECT_PCA && K == 2) {
        printf("\nPCA of layer %d (%d tokens x %d): explained variance PC1 %.1f%%, PC2 %.1f%%, "
               "together %.1f%%\n", layer, n, C, 100 * explained[0], 100 * explained[1],
               100 * (explained[0] + explained[1]));
    } else if (p->method == TEMPER_PROJECT_PCA) {
        double sum = 0;
        printf("\nPCA of layer %d (%d tokens x %d): explained variance", layer, n, C);
        for (int e = 0; e < K; e++) printf(" PC%d %.1f%%,", e + 1, 100 * explained[e]), sum += explained[e];
        printf(" together %.1f%%\n", 100 * sum);
    } else if (p->method == TEMPER_PROJECT_TSNE) {
        axis = "tSNE";
        printf("\nt-SNE of layer %d (%d tokens x %d): perplexity %g, learning rate %g, early exaggeration "
               "%g, %d iterations run of %d, KL divergence %.4f\n", layer, n, C, p->perplexity,
               p->learning_rate, p->early_exaggeration, info->n_iter, p->n_iter, info->kl_divergence);
    } else {
        axis = "UMAP";
        printf("\nUMAP of layer %d (%d tokens x %d): %d neighbours, min_dist %g, %d epochs, seed %llu "
               "(curve a %.4f, b %.4f)\n", layer, n, C, p->n_neighbors, p->min_dist, p->n_epochs,
               (unsigned long long)p->seed, info->a, info->b);
    }
    printf("%4s  %-14s", "#", "token");
    for (int e = 0; e < K; e++) {
        char h[16];
        snprintf(h, sizeof h, "%s%d", axis, e + 1);
        printf(" %10s%s", h, e + 1 < K ? " " : "");
    }
    putchar('\n');
    for (int k = 0; k < n; k++) {
        int pad = 14 - cli_display_width(labels[k]);
        printf("%4d  %s%*s", k, labels[k], pad > 0 ? pad : 0, "");
        for (int e = 0; e < K; e++) printf(" %10.4f%s", proj[(size_t)k * K + e], e + 1 < K ? " " : "");
        putchar('\n');
    }
    if (K < 2) return;
    putchar('\n');
    for (int k = 0; k < n; k++) cli_an_token_label(tok, ids[k], 8, labels[k], sizeof labels[k]);
    print_scatter(proj, n, K, axis, labels);
}

int cmd_hidden(int argc, char **argv) {
    cli_common c = {0};
    long layer_arg = -1;
    bool has_layer = false;
    cli_project pr;
    cli_project_init(&pr);
    const char *svg_path = NULL;
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
        if ((r = cli_project_opt(&pr, &i, argc, argv)) != 0) {
            if (r < 0) return 2;
            continue;
        }
        if ((r = cli_svg_opt(&svg_path, &i, argc, argv)) != 0) {
            if (r < 0) return 2;
            continue;
        }
        if ((r = cli_prompt_arg(&c, "hidden", &i, argc, argv)) != 0) return r;
    }
    if (svg_path && !pr.on) pr.on = true; /* PCA: a picture needs a map */
    if (cli_project_check(&pr) < 0) return 2;
    if (svg_path && pr.p.n_components != 2) {
        cli_error("--svg draws 2 dimensions: leave --n-components at 2");
        return 2;
    }
    const bool project = pr.on;
    const int K = pr.p.n_components;
    const char *mname = temper_project_method_name(pr.p.method);

    temper_model *model = NULL;
    temper_context *ctx = NULL;
    temper_token *ids = NULL;  /* (n) */
    float *hidden = NULL;      /* (L + 1, n, C) */
    double *proj = NULL;       /* (n, K) */
    temper_threadpool *pool = NULL;
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
    if (project && n < 2) {
        cli_error("--project %s: %d token: a projection needs at least 2 tokens", mname, n);
        rc = 2;
        goto done;
    }
    hidden = malloc((size_t)(L + 1) * n * C * sizeof *hidden);
    proj = malloc((size_t)K * n * sizeof *proj);
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
    double explained[3] = {0, 0, 0};
    temper_project_info info = {0};
    if (project) {
        if (pr.p.method != TEMPER_PROJECT_PCA && (err = temper_threadpool_new(c.threads, &pool)) < 0) {
            rc = cli_lib_error("threads", err);
            goto done;
        }
        pr.p.pool = pool;
        err = temper_project(hidden + (size_t)layer * n * C, n, C, &pr.p, proj, explained, &info);
        if (err < 0) {
            char what[64];
            snprintf(what, sizeof what, "--project %s", mname);
            rc = cli_lib_error(what, err);
            goto done;
        }
    }
    const bool pca = project && pr.p.method == TEMPER_PROJECT_PCA && K == 2;
    for (int k = 0; k < n; k++) cli_an_token_label(tok, ids[k], 14, labels[k], sizeof labels[k]);
    if (svg_path && (rc = save_svg(svg_path, &info, layer, n, C, proj, explained, labels)) != 0) goto done;
    int l0 = has_layer ? layer : 0, l1 = has_layer ? layer + 1 : L + 1;

    if (c.json) {
        temper_json_hidden_doc d = {.model = c.model, .tok = tok, .ids = ids, .n = n,
                                    .n_layer = L, .n_embd = C, .hidden = hidden,
                                    .layer_begin = l0, .layer_end = l1,
                                    .pca_layer = pca ? layer : -1, .pca_points = proj,
                                    .pca_explained = explained, .proj_layer = layer,
                                    .proj_info = project ? &info : NULL, .proj_points = proj,
                                    .proj_explained = explained};
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
            temper_stats s = temper_vector_stats(x, (size_t)n * C);
            double norm = 0;
            for (int k = 0; k < n; k++) norm += temper_vector_stats(x + (size_t)k * C, (size_t)C).norm;
            printf("%5d  %10.3f  %10.3f  %10.3f  %10.3f  %12.3f\n", l, s.min, s.max, s.mean, s.std,
                   norm / n);
        }
    } else {
        printf("layer %d, per token:\n", layer);
        printf("%4s  %-14s %7s  %9s  %9s  %9s  %9s  %10s\n", "#", "token", "id", "min", "max", "mean",
               "std", "norm");
        for (int k = 0; k < n; k++) {
            temper_stats t = temper_vector_stats(hidden + ((size_t)layer * n + k) * C, (size_t)C);
            int pad = 14 - cli_display_width(labels[k]);
            printf("%4d  %s%*s %7d  %9.3f  %9.3f  %9.3f  %9.3f  %10.3f\n", k, labels[k],
                   pad > 0 ? pad : 0, "", ids[k], t.min, t.max, t.mean, t.std, t.norm);
        }
    }
    if (project) print_projection(&info, layer, n, C, proj, explained, tok, ids, labels);
done:
    temper_threadpool_free(pool);
    free(labels);
    free(proj);
    free(hidden);
    free(ids);
    temper_context_free(ctx);
    temper_model_free(model);
    return rc;
}
