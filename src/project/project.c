/*
 * project.c - temper_project: one entry point for PCA, t-SNE and UMAP,
 * the table of their parameters (the CLI's flags, the JSON keys and the
 * Python keywords come from it), the checks and the automatic values.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "project/project.h"

#define P(field) offsetof(temper_project_params, field)
#define PCA (1 << TEMPER_PROJECT_PCA)
#define TSNE (1 << TEMPER_PROJECT_TSNE)
#define UMAP (1 << TEMPER_PROJECT_UMAP)

/* name, flag, help, type, default, min, max, methods, offset */
static const temper_project_param table[] = {
    {"n_components", "--n-components", "dimensions of the map: 1, 2 or 3",
     TEMPER_PARAM_INT, 2, 1, 3, PCA | TSNE | UMAP, P(n_components)},
    {"perplexity", "--perplexity", "t-SNE: neighbours each point sees; 0: min(30, n - 1)",
     TEMPER_PARAM_FLOAT, 0, 0, 1e6, TSNE, P(perplexity)},
    {"learning_rate", "--learning-rate", "t-SNE: step size; 0: max(n / E / 4, 50)",
     TEMPER_PARAM_FLOAT, 0, 0, 1e6, TSNE, P(learning_rate)},
    {"n_iter", "--n-iter", "t-SNE: iterations (at least 250)",
     TEMPER_PARAM_INT, 1000, 250, 100000, TSNE, P(n_iter)},
    {"early_exaggeration", "--early-exaggeration", "t-SNE: E, P times E in the first 250 iterations",
     TEMPER_PARAM_FLOAT, 12, 1, 1000, TSNE, P(early_exaggeration)},
    {"n_neighbors", "--n-neighbors", "UMAP: neighbours, itself included; 0: min(15, n - 1)",
     TEMPER_PARAM_INT, 0, 0, 1000, UMAP, P(n_neighbors)},
    {"min_dist", "--min-dist", "UMAP: how close points of the map may be",
     TEMPER_PARAM_FLOAT, 0.1, 0, 1, UMAP, P(min_dist)},
    {"n_epochs", "--n-epochs", "UMAP: passes over the edges; 0: 500",
     TEMPER_PARAM_INT, 0, 0, 100000, UMAP, P(n_epochs)},
    {"seed", "--seed", "UMAP: seed of the negative samples", TEMPER_PARAM_SEED, 0, 0, 18446744073709551615.0,
     UMAP, P(seed)},
};
#define N_TABLE ((int)(sizeof table / sizeof table[0]))

const temper_project_param *temper_project_params_table(int *n) {
    if (n) *n = N_TABLE;
    return table;
}

/* name equal to key, '-' and '_' alike, case ignored; leading "--" skipped. */
static bool same_name(const char *a, const char *b) {
    while (*a == '-') a++;
    while (*b == '-') b++;
    for (; *a && *b; a++, b++) {
        char x = *a == '-' ? '_' : (char)(*a | 0x20), y = *b == '-' ? '_' : (char)(*b | 0x20);
        if (x != y) return false;
    }
    return *a == *b;
}

const temper_project_param *temper_project_param_find(const char *name) {
    if (!name) return NULL;
    for (int i = 0; i < N_TABLE; i++)
        if (same_name(name, table[i].name) || same_name(name, table[i].flag)) return &table[i];
    return NULL;
}

double temper_project_param_get(const temper_project_params *p, const temper_project_param *d) {
    const char *f = (const char *)p + d->offset;
    if (d->type == TEMPER_PARAM_FLOAT) return *(const double *)f;
    if (d->type == TEMPER_PARAM_SEED) return (double)*(const uint64_t *)f;
    return *(const int *)f;
}

int temper_project_param_set(temper_project_params *p, const temper_project_param *d, double v) {
    if (!p || !d) return temper__error(TEMPER_EINVAL, "temper_project_param_set: p and d must not be NULL");
    if (!(v >= d->min && v <= d->max) || (d->type != TEMPER_PARAM_FLOAT && v != floor(v))) {
        if (d->type == TEMPER_PARAM_FLOAT)
            return temper__error(TEMPER_EINVAL, "%s is %g: give a number in [%g, %g]", d->name, v, d->min,
                                 d->max);
        return temper__error(TEMPER_EINVAL, "%s is %g: give a whole number in [%.0f, %.0f]", d->name, v,
                             d->min, d->max);
    }
    char *f = (char *)p + d->offset;
    if (d->type == TEMPER_PARAM_FLOAT) *(double *)f = v;
    else if (d->type == TEMPER_PARAM_SEED) *(uint64_t *)f = v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
    else *(int *)f = (int)v;
    return 0;
}

temper_project_params temper_project_default_params(void) {
    temper_project_params p = {.method = TEMPER_PROJECT_PCA};
    for (int i = 0; i < N_TABLE; i++) temper_project_param_set(&p, &table[i], table[i].def);
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
    for (int i = 0; i < N_TABLE; i++) {
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
