/*
 * project.h - private parts of the projections (src/project): t-SNE and
 * UMAP, called by temper_project once the parameters are checked and the
 * automatic values resolved.
 */
#ifndef TEMPER_PROJECT_H
#define TEMPER_PROJECT_H

#include "core/core.h"
#include "core/pool.h"

/* Rows per chunk of the pooled loops: the chunks (not the threads) fix
 * the order of every sum, so results do not depend on the thread count. */
#define TEMPER__PROJECT_ROWS 32

/* Run fn over the row chunks of n rows, on pool (NULL: this thread). */
void temper__project_rows(temper__pool *pool, temper__pool_fn fn, void *arg, int n);

/* x (n, dim) centred PCA of k axes, in double, as the start of a map. */
int temper__project_pca_start(const float *x, int n, int dim, int k, double *y);

/* p: resolved (perplexity, learning_rate > 0). y (n, k) out. */
int temper__tsne(const float *x, int n, int dim, const temper_project_params *p,
                 double *y, temper_project_info *info);
/* p: resolved (n_neighbors, n_epochs > 0). y (n, k) out. */
int temper__umap(const float *x, int n, int dim, const temper_project_params *p,
                 double *y, temper_project_info *info);
/* The UMAP curve 1 / (1 + a d^2b) fitted to min_dist, spread 1. */
void temper__umap_fit_ab(double min_dist, double *a, double *b);

#endif
