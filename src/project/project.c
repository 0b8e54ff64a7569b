/*
 * project.c - temper_project: one entry point for PCA, t-SNE and UMAP,
 * the checks and the automatic values (the parameters' table:
 * param_table.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "project/project.h"

temper_project_params temper_project_default_params(void) {
    temper_project_params p = {.method = TEMPER_PROJECT_PCA};
    int n;
    const temper_project_param *t = temper_project_params_table(&n);
    for (int i = 0; i < n; i++) temper_project_param_set(&p, &t[i], t[i].def);
    return p;
}

static const char *const method_names[] = {"pca", "tsne", "umap"};

const char *temper_project_method_name(int method) {
    return method >= 0 && method < 3 ? method_names[method] : NULL;
}

int temper_project_method_parse(const char *name) {
    if (name) {
        for (int m = 0; m < 3; m++)
            if (strcasecmp(name, method_names[m]) == 0) return m;
        if (strcasecmp(name, "t-sne") == 0) return TEMPER_PROJECT_TSNE;
    }
    return temper__error(TEMPER_EINVAL, "projection \"%s\": give pca, tsne or umap", name ? name : "(null)");
}

void temper__project_rows(temper__pool *pool, temper__pool_fn fn, void *arg, int n) {
    int chunks = (n + TEMPER__PROJECT_ROWS - 1) / TEMPER__PROJECT_ROWS;
    if (!pool || chunks == 1) {
        for (int c = 0; c < chunks; c++) fn(arg, c, chunks);
        return;
    }
    temper__pool_lock(pool);
    temper__pool_run_chunks(pool, fn, arg, chunks);
    temper__pool_unlock(pool);
}

int temper__project_pca_start(const float *x, int n, int dim, int k, double *y) {
    return temper_pca(x, n, dim, k, y, NULL);
}

/* The checks every method shares, and the automatic values. */
static int check(const float *x, int n, int dim, temper_project_params *p) {
    const char *name = temper_project_method_name(p->method);
    if (!name)
        return temper__error(TEMPER_EINVAL, "temper_project: method %d: give TEMPER_PROJECT_PCA, TSNE or UMAP",
                             p->method);
    int nt;
    const temper_project_param *table = temper_project_params_table(&nt);
    for (int i = 0; i < nt; i++) {
        double v = temper_project_param_get(p, &table[i]);
        if (!(v >= table[i].min && v <= table[i].max))
            return temper_project_param_set(p, &table[i], v); /* the range message */
    }
    int k = p->n_components;
    if (n < 2 || (p->method != TEMPER_PROJECT_PCA && n < 3))
        return temper__error(TEMPER_EINVAL, "%s of %d point%s: give at least %d", name, n, n == 1 ? "" : "s",
                             p->method == TEMPER_PROJECT_PCA ? 2 : 3);
    if (p->method != TEMPER_PROJECT_PCA && n > TEMPER_PROJECT_MAX_POINTS)
        return temper__error(TEMPER_EINVAL, "%s of %d points: at most %d (it takes time and memory in n^2): "
                             "give fewer points, or use pca", name, n, TEMPER_PROJECT_MAX_POINTS);
    if (k > n || k > dim)
        return temper__error(TEMPER_EINVAL, "n_components is %d for %d points in %d dimensions: give 1 to %d",
                             k, n, dim, n < dim ? n : dim);
    for (size_t i = 0; i < (size_t)n * dim; i++)
        if (!isfinite(x[i]))
            return temper__error(TEMPER_EINVAL, "%s: value %zu of the points (point %zu) is not finite", name, i,
                                 i / (size_t)dim);
    if (p->method == TEMPER_PROJECT_TSNE) {
        if (p->perplexity == 0) p->perplexity = n - 1 < 30 ? n - 1 : 30;
        else if (p->perplexity >= n)
            return temper__error(TEMPER_EINVAL, "perplexity is %g for %d points: it must be below the number of "
                                 "points (e.g. %d, or 0 for min(30, n - 1))", p->perplexity, n, n - 1);
        if (p->learning_rate == 0) p->learning_rate = fmax(n / p->early_exaggeration / 4, 50);
    }
    if (p->method == TEMPER_PROJECT_UMAP) {
        if (p->n_neighbors == 0) p->n_neighbors = n - 1 < 15 ? n - 1 : 15;
        else if (p->n_neighbors < 2 || p->n_neighbors >= n)
            return temper__error(TEMPER_EINVAL, "n_neighbors is %d for %d points: give 2 to %d (or 0 for "
                                 "min(15, n - 1))", p->n_neighbors, n, n - 1);
        if (p->n_epochs == 0) p->n_epochs = n <= 10000 ? 500 : 200;
    }
    return 0;
}

int temper_project(const float *x, int n, int dim, const temper_project_params *params, double *proj,
                   double *explained, temper_project_info *info) {
    if (!x || !proj || dim < 1)
        return temper__error(TEMPER_EINVAL, "temper_project: x and proj must not be NULL and dim >= 1");
    temper_project_params p = params ? *params : temper_project_default_params();
    int rc = check(x, n, dim, &p);
    if (rc < 0) return rc;
    temper_project_info in = {.used = p, .kl_divergence = NAN, .a = NAN, .b = NAN};
    if (explained)
        for (int j = 0; j < p.n_components; j++) explained[j] = NAN;
    if (p.method == TEMPER_PROJECT_PCA) rc = temper_pca(x, n, dim, p.n_components, proj, explained);
    else if (p.method == TEMPER_PROJECT_TSNE) rc = temper__tsne(x, n, dim, &p, proj, &in);
    else rc = temper__umap(x, n, dim, &p, proj, &in);
    if (rc == 0 && info) *info = in;
    return rc;
}
