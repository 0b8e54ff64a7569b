/*
 * tsne.c - exact t-SNE (van der Maaten & Hinton, "Visualizing Data using
 * t-SNE", JMLR 2008), as scikit-learn's TSNE(method="exact", init="pca")
 * runs it (the algorithm is described in include/temper.h).
 *
 * Memory: p (n, n) doubles, the joint probabilities; w (n, n) floats, the
 * Student-t kernel of the current map. The rows of both are computed by
 * chunks of TEMPER__PROJECT_ROWS rows on the pool, each chunk writing only
 * its rows; the sums over rows are taken afterwards in row order, so the
 * map is the same for any number of threads.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "project/project.h"

#define EXPLORATION_ITERS 250
#define CHECK_EVERY 50
#define NO_PROGRESS_ITERS 300
#define MIN_GRAD_NORM 1e-7
#define MIN_GAIN 0.01
#define EPS DBL_EPSILON /* scikit-learn's MACHINE_EPSILON */

typedef struct tsne {
    int n, dim, k;
    const float *x;     /* (n, dim) the points */
    double *p;          /* (n, n) conditional, then joint probabilities */
    float *w;           /* (n, n) kernel (1 + |y_i - y_j|^2 / dof)^-(dof + 1) / 2 */
    double *y;          /* (n, k) the map */
    double *grad;       /* (n, k) */
    double *row_z;      /* (n) sum_j w_ij of each row */
    double *row_kl;     /* (n) each row's share of KL(P || Q) */
    double *scratch;    /* (chunks, n) a row of distances per chunk */
    double perplexity, dof, exaggeration, z;
    bool want_kl;
} tsne;

/* Rows [begin, end) of chunk c. */
static void rows_of(const tsne *t, int c, int *begin, int *end) {
    *begin = c * TEMPER__PROJECT_ROWS;
    *end = *begin + TEMPER__PROJECT_ROWS < t->n ? *begin + TEMPER__PROJECT_ROWS : t->n;
}

/* Row i of p: exp(-beta d_ij) / sum over j != i, with d the squared
 * distances and beta bisected until the row's entropy is log(perplexity)
 * within 1e-5 (at most 100 steps), as scikit-learn's
 * _binary_search_perplexity. */
static void conditional_rows(void *arg, int c, int nc) {
    tsne *t = arg;
    int r0, r1;
    rows_of(t, c, &r0, &r1);
    const double want = log(t->perplexity);
    for (int i = r0; i < r1; i++) {
        double *d = t->p + (size_t)i * t->n; /* first the distances, then p */
        const float *xi = t->x + (size_t)i * t->dim;
        for (int j = 0; j < t->n; j++) {
            const float *xj = t->x + (size_t)j * t->dim;
            double s = 0;
            for (int e = 0; e < t->dim; e++) s += ((double)xi[e] - xj[e]) * ((double)xi[e] - xj[e]);
            d[j] = s;
        }
        /* exp(-beta d) / sum, from the distances kept in place */
        double beta = 1, lo = -INFINITY, hi = INFINITY;
        double *dist = t->scratch + (size_t)c * t->n;
        memcpy(dist, d, (size_t)t->n * sizeof *d);
        for (int step = 0; step < 100; step++) {
            double sum = 0;
            for (int j = 0; j < t->n; j++) {
                d[j] = j == i ? 0 : exp(-dist[j] * beta);
                sum += d[j];
            }
            if (sum == 0) sum = 1e-8;
            double mean_d = 0;
            for (int j = 0; j < t->n; j++) {
                d[j] /= sum;
                mean_d += dist[j] * d[j];
            }
            double diff = log(sum) + beta * mean_d - want; /* entropy - log(perplexity) */
            if (fabs(diff) <= 1e-5) break;
            if (diff > 0) {
                lo = beta;
                beta = hi == INFINITY ? beta * 2 : (beta + hi) / 2;
            } else {
                hi = beta;
                beta = lo == -INFINITY ? beta / 2 : (beta + lo) / 2;
            }
        }
    }
}

/* w and row_z of rows of chunk c. */
static void kernel_rows(void *arg, int c, int nc) {
    tsne *t = arg;
    int r0, r1, k = t->k;
    rows_of(t, c, &r0, &r1);
    const double power = -(t->dof + 1) / 2;
    for (int i = r0; i < r1; i++) {
        float *w = t->w + (size_t)i * t->n;
        const double *yi = t->y + (size_t)i * k;
        double z = 0;
        for (int j = 0; j < t->n; j++) {
            if (j == i) {
                w[j] = 0;
                continue;
            }
            const double *yj = t->y + (size_t)j * k;
            double d = 0;
            for (int e = 0; e < k; e++) d += (yi[e] - yj[e]) * (yi[e] - yj[e]);
            double v = t->dof == 1 ? 1 / (1 + d) : pow(1 + d / t->dof, power);
            w[j] = (float)v;
            z += w[j];
        }
        t->row_z[i] = z;
    }
}

/* grad_i = 2 (dof + 1) / dof sum_j (e P_ij - Q_ij) w_ij (y_i - y_j), with
 * Q_ij = max(w_ij / Z, eps); row_kl_i = sum_j e P_ij log(e P_ij / Q_ij). */
static void gradient_rows(void *arg, int c, int nc) {
    tsne *t = arg;
    int r0, r1, k = t->k;
    rows_of(t, c, &r0, &r1);
    const double scale = 2 * (t->dof + 1) / t->dof;
    for (int i = r0; i < r1; i++) {
        const double *p = t->p + (size_t)i * t->n, *yi = t->y + (size_t)i * k;
        const float *w = t->w + (size_t)i * t->n;
        double g[3] = {0, 0, 0}, kl = 0;
        for (int j = 0; j < t->n; j++) {
            if (j == i) continue;
            double q = fmax(w[j] / t->z, EPS), pe = p[j] * t->exaggeration;
            double f = (pe - q) * w[j];
            const double *yj = t->y + (size_t)j * k;
            for (int e = 0; e < k; e++) g[e] += f * (yi[e] - yj[e]);
            if (t->want_kl) kl += pe * log(fmax(pe, EPS) / q);
        }
        for (int e = 0; e < k; e++) t->grad[(size_t)i * k + e] = scale * g[e];
        t->row_kl[i] = kl;
    }
}

/* The gradient of the current map (and KL when t->want_kl). */
static double gradient(tsne *t, temper__pool *pool) {
    temper__project_rows(pool, kernel_rows, t, t->n);
    t->z = 0;
    for (int i = 0; i < t->n; i++) t->z += t->row_z[i];
    temper__project_rows(pool, gradient_rows, t, t->n);
    double kl = 0;
    if (t->want_kl)
        for (int i = 0; i < t->n; i++) kl += t->row_kl[i];
    return kl;
}

/* scikit-learn's _gradient_descent for iterations [it, n_iter), from no
 * momentum and gains of 1 (each stage starts afresh): returns the last
 * iteration run. update, gains: (n, k) scratch. */
static int descend(tsne *t, temper__pool *pool, int it, int n_iter, double momentum, double rate,
                   int no_progress, double *update, double *gains) {
    size_t nk = (size_t)t->n * t->k;
    for (size_t e = 0; e < nk; e++) update[e] = 0, gains[e] = 1;
    double best = DBL_MAX;
    int best_iter = it, i = it;
    for (; i < n_iter; i++) {
        bool check = (i + 1) % CHECK_EVERY == 0;
        t->want_kl = check || i == n_iter - 1;
        double kl = gradient(t, pool), norm = 0;
        for (size_t e = 0; e < nk; e++) {
            double g = t->grad[e];
            if (update[e] * g < 0) gains[e] += 0.2;
            else gains[e] *= 0.8;
            if (gains[e] < MIN_GAIN) gains[e] = MIN_GAIN;
            g *= gains[e];
            norm += g * g;
            update[e] = momentum * update[e] - rate * g;
            t->y[e] += update[e];
        }
        if (check) {
            if (kl < best) {
                best = kl;
                best_iter = i;
            } else if (i - best_iter > no_progress) {
                break;
            }
            if (sqrt(norm) <= MIN_GRAD_NORM) break;
        }
    }
    return i < n_iter ? i : n_iter - 1;
}

int temper__tsne(const float *x, int n, int dim, const temper_project_params *prm, double *y,
                 temper_project_info *info) {
    tsne t = {.n = n, .dim = dim, .k = prm->n_components, .x = x, .y = y,
              .perplexity = prm->perplexity, .exaggeration = 1};
    t.dof = t.k - 1 > 1 ? t.k - 1 : 1;
    size_t nn = (size_t)n * n, nk = (size_t)n * t.k;
    t.p = malloc(nn * sizeof *t.p);
    t.w = malloc(nn * sizeof *t.w);
    t.grad = malloc(nk * sizeof *t.grad);
    t.row_z = malloc((size_t)n * sizeof *t.row_z);
    t.row_kl = malloc((size_t)n * sizeof *t.row_kl);
    t.scratch = malloc((size_t)((n + TEMPER__PROJECT_ROWS - 1) / TEMPER__PROJECT_ROWS) * n * sizeof *t.scratch);
    double *update = malloc(nk * sizeof *update), *gains = malloc(nk * sizeof *gains);
    int rc = 0;
    if (!t.p || !t.scratch || !t.w || !t.grad || !t.row_z || !t.row_kl || !update || !gains) {
        rc = temper__error(TEMPER_ENOMEM, "t-SNE of %d points: out of memory (it needs %zu MB)", n,
                           nn * 12 / 1000000 + 1);
        goto done;
    }
    temper__pool *pool = prm->pool;

    /* Joint probabilities: (P + P^T) / sum, at least eps. */
    temper__project_rows(pool, conditional_rows, &t, n);
    double total = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double s = t.p[(size_t)i * n + j] + t.p[(size_t)j * n + i];
            t.p[(size_t)i * n + j] = t.p[(size_t)j * n + i] = s;
            total += 2 * s;
        }
    total = fmax(total, EPS);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double *v = &t.p[(size_t)i * n + j];
            *v = i == j ? 0 : fmax(*v / total, EPS);
        }

    /* Start: the PCA, scaled so that the first axis has std 1e-4. */
    if ((rc = temper__project_pca_start(x, n, dim, t.k, y)) < 0) goto done;
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++) mean += y[(size_t)i * t.k];
    mean /= n;
    for (int i = 0; i < n; i++) var += (y[(size_t)i * t.k] - mean) * (y[(size_t)i * t.k] - mean);
    double sd = sqrt(var / n);
    for (size_t e = 0; e < nk; e++) y[e] = sd > 0 ? y[e] / sd * 1e-4 : 0;

    /* 250 iterations of exploration, then the rest with momentum 0.8. */
    t.exaggeration = prm->early_exaggeration;
    int it = descend(&t, pool, 0, EXPLORATION_ITERS, 0.5, prm->learning_rate, EXPLORATION_ITERS, update,
                     gains);
    t.exaggeration = 1;
    if (it < EXPLORATION_ITERS - 1 || prm->n_iter > EXPLORATION_ITERS)
        it = descend(&t, pool, it + 1, prm->n_iter, 0.8, prm->learning_rate, NO_PROGRESS_ITERS, update,
                     gains);

    /* KL(P || Q) of the map returned. */
    t.want_kl = true;
    info->kl_divergence = gradient(&t, pool);
    info->n_iter = it + 1;
done:
    free(t.p);
    free(t.w);
    free(t.grad);
    free(t.row_z);
    free(t.row_kl);
    free(t.scratch);
    free(update);
    free(gains);
    return rc;
}
