/*
 * param_table.c - the parameters of temper_project, described once: name
 * (the JSON key and the Python keyword), command-line flag, help, type,
 * default, range, and the methods each acts on. Like the decoding table
 * (src/decode/param_table.c), its flags column is command-line data by
 * design; the CLI's flags and help, the JSON "parameters" object and the
 * Python keywords are loops over it.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

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

