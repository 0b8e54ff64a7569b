/*
 * umap.c - UMAP (McInnes, Healy & Melville, "UMAP: Uniform Manifold
 * Approximation and Projection for Dimension Reduction", 2018), written
 * from the paper and the definitions umap-learn documents (the steps are
 * listed in include/temper.h). The nearest neighbours are exact (the
 * points are few); the start is the PCA (umap-learn's init="pca"), not the
 * spectral embedding. The neighbour search runs on the pool by chunks of
 * rows; the SGD is sequential, driven by one seeded random stream.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "project/project.h"

#define NEGATIVE_RATE 5
#define CLIP 4.0
#define BISECTIONS 64

typedef struct umap_knn {
    int n, dim, k;
    const float *x;   /* (n, dim) */
    int *idx;         /* (n, k) neighbours, nearest first (the point itself) */
    double *dist;     /* (n, k) their Euclidean distances */
    double *scratch;  /* (chunks, n) distances of one row */
    int *order;       /* (chunks, n) */
} umap_knn;

/* Indices ordered by the distances of the row (arg), then by index. */
static int by_distance(const void *a, const void *b, void *arg) {
    const double *key = arg;
    int i = *(const int *)a, j = *(const int *)b;
    if (key[i] != key[j]) return key[i] < key[j] ? -1 : 1;
    return (i > j) - (i < j);
}

/* The k nearest points of each row of chunk c (the point itself first). */
static void knn_rows(void *arg, int c, int nc) {
    umap_knn *u = arg;
    int r0 = c * TEMPER__PROJECT_ROWS, r1 = r0 + TEMPER__PROJECT_ROWS < u->n ? r0 + TEMPER__PROJECT_ROWS : u->n;
    double *d = u->scratch + (size_t)c * u->n;
    int *order = u->order + (size_t)c * u->n;
    for (int i = r0; i < r1; i++) {
        const float *xi = u->x + (size_t)i * u->dim;
        for (int j = 0; j < u->n; j++) {
            const float *xj = u->x + (size_t)j * u->dim;
            double s = 0;
            for (int e = 0; e < u->dim; e++) s += ((double)xi[e] - xj[e]) * ((double)xi[e] - xj[e]);
            d[j] = j == i ? -1 : sqrt(s); /* -1: itself first, even among duplicates */
            order[j] = j;
        }
        qsort_r(order, (size_t)u->n, sizeof *order, by_distance, d);
        for (int m = 0; m < u->k; m++) {
            u->idx[(size_t)i * u->k + m] = order[m];
            u->dist[(size_t)i * u->k + m] = order[m] == i ? 0 : d[order[m]];
        }
    }
}

/* rho = distance to the nearest other point (the first non-zero), sigma
 * such that sum_{m >= 1} exp(-max(d_m - rho, 0) / sigma) = log2(k), at
 * least 1e-3 times the mean distance (umap-learn's smooth_knn_dist with
 * local_connectivity 1). */
static void smooth_row(const double *d, int k, double mean_all, double *rho, double *sigma) {
    *rho = 0;
    for (int m = 0; m < k; m++)
        if (d[m] > 0) {
            *rho = d[m];
            break;
        }
    double target = log2((double)k), lo = 0, hi = INFINITY, mid = 1;
    for (int step = 0; step < BISECTIONS; step++) {
        double s = 0;
        for (int m = 1; m < k; m++) {
            double e = d[m] - *rho;
            s += e > 0 ? exp(-e / mid) : 1;
        }
        if (fabs(s - target) < 1e-5) break;
        if (s > target) {
            hi = mid;
            mid = (lo + hi) / 2;
        } else {
            lo = mid;
            mid = hi == INFINITY ? mid * 2 : (lo + hi) / 2;
        }
    }
    double mean = 0;
    for (int m = 0; m < k; m++) mean += d[m];
    mean /= k;
    double floor_ = 1e-3 * (*rho > 0 ? mean : mean_all);
    *sigma = mid < floor_ ? floor_ : mid;
}

typedef struct edge {
    int i, j;    /* head (moved), tail */
    double w;    /* fuzzy union membership */
} edge;

static int by_head_tail(const void *a, const void *b) {
    const edge *x = a, *y = b;
    if (x->i != y->i) return x->i < y->i ? -1 : 1;
    return (x->j > y->j) - (x->j < y->j);
}

/* Least squares fit of 1 / (1 + a x^2b) to 1 below min_dist and
 * exp(-(x - min_dist)) above, at 300 points of [0, 3] (umap-learn's
 * find_ab_params with spread 1), by Levenberg-Marquardt from a = b = 1. */
void temper__umap_fit_ab(double min_dist, double *a_out, double *b_out) {
    enum { N = 300 };
    double xs[N], ys[N];
    for (int i = 0; i < N; i++) {
        xs[i] = 3.0 * i / (N - 1);
        ys[i] = xs[i] < min_dist ? 1 : exp(-(xs[i] - min_dist));
    }
    double a = 1, b = 1, lambda = 1e-3;
    double cost = 0;
    for (int i = 0; i < N; i++) {
        double u = xs[i] > 0 ? pow(xs[i], 2 * b) : 0, r = 1 / (1 + a * u) - ys[i];
        cost += r * r;
    }
    for (int it = 0; it < 500; it++) {
        double jtj[3] = {0, 0, 0}, jtr[2] = {0, 0}; /* jtj: aa, ab, bb */
        for (int i = 0; i < N; i++) {
            if (xs[i] == 0) continue; /* f = 1 there, whatever a and b */
            double u = pow(xs[i], 2 * b), f = 1 / (1 + a * u), r = f - ys[i];
            double da = -u * f * f, db = -a * u * 2 * log(xs[i]) * f * f;
            jtj[0] += da * da, jtj[1] += da * db, jtj[2] += db * db;
            jtr[0] += da * r, jtr[1] += db * r;
        }
        bool improved = false;
        while (!improved && lambda < 1e12) {
            double m00 = jtj[0] * (1 + lambda), m11 = jtj[2] * (1 + lambda), m01 = jtj[1];
            double det = m00 * m11 - m01 * m01;
            if (det == 0) break;
            double sa = -(m11 * jtr[0] - m01 * jtr[1]) / det, sb = -(m00 * jtr[1] - m01 * jtr[0]) / det;
            double na = a + sa, nb = b + sb, nc = 0;
            for (int i = 0; i < N; i++) {
                double u = xs[i] > 0 ? pow(xs[i], 2 * nb) : 0, r = 1 / (1 + na * u) - ys[i];
                nc += r * r;
            }
            if (nc < cost && na > 0 && nb > 0) {
                bool done = cost - nc < 1e-15 * cost;
                a = na, b = nb, cost = nc, lambda /= 10, improved = true;
                if (done) lambda = 1e12; /* converged */
            } else {
                lambda *= 10;
            }
        }
        if (!improved || lambda >= 1e12) break;
    }
    *a_out = a, *b_out = b;
}

/* A standard normal draw (Box-Muller). */
static double normal(temper_rng *rng) {
    double u = temper_rng_uniform(rng), v = temper_rng_uniform(rng);
    return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

static double clip(double g) {
    return g > CLIP ? CLIP : g < -CLIP ? -CLIP : g;
}

int temper__umap(const float *x, int n, int dim, const temper_project_params *prm, double *y,
                 temper_project_info *info) {
    int k = prm->n_neighbors, dims = prm->n_components, n_epochs = prm->n_epochs;
    int chunks = (n + TEMPER__PROJECT_ROWS - 1) / TEMPER__PROJECT_ROWS;
    umap_knn u = {.n = n, .dim = dim, .k = k, .x = x};
    u.idx = malloc((size_t)n * k * sizeof *u.idx);
    u.dist = malloc((size_t)n * k * sizeof *u.dist);
    u.scratch = malloc((size_t)chunks * n * sizeof *u.scratch);
    u.order = malloc((size_t)chunks * n * sizeof *u.order);
    double *rho = malloc((size_t)n * sizeof *rho), *sigma = malloc((size_t)n * sizeof *sigma);
    edge *edges = malloc(2 * (size_t)n * k * sizeof *edges);
    double *per = NULL, *next = NULL, *next_neg = NULL;
    int rc = 0;
    if (!u.idx || !u.dist || !u.scratch || !u.order || !rho || !sigma || !edges) {
        rc = temper__error(TEMPER_ENOMEM, "UMAP of %d points: out of memory", n);
        goto done;
    }

    /* 1. the k nearest neighbours and each point's rho and sigma */
    temper__project_rows(prm->pool, knn_rows, &u, n);
    double mean_all = 0;
    for (size_t e = 0; e < (size_t)n * k; e++) mean_all += u.dist[e];
    mean_all /= (double)n * k;
    for (int i = 0; i < n; i++) smooth_row(u.dist + (size_t)i * k, k, mean_all, &rho[i], &sigma[i]);

    /* 2. memberships a_ij = exp(-max(d_ij - rho_i, 0) / sigma_i), and their
     * fuzzy union w = a_ij + a_ji - a_ij a_ji, each pair in both directions */
#define MEMBERSHIP(i, m) (u.idx[(size_t)(i) * k + (m)] == (i) ? 0.0 \
    : u.dist[(size_t)(i) * k + (m)] - rho[i] <= 0 ? 1.0 \
    : exp(-(u.dist[(size_t)(i) * k + (m)] - rho[i]) / sigma[i]))
    size_t n_edges = 0;
    for (int i = 0; i < n; i++)
        for (int m = 0; m < k; m++) {
            int j = u.idx[(size_t)i * k + m];
            if (j == i) continue;
            double a = MEMBERSHIP(i, m), back = 0;
            bool found = false;
            for (int q = 0; q < k; q++)
                if (u.idx[(size_t)j * k + q] == i) {
                    back = MEMBERSHIP(j, q);
                    found = true;
                    break;
                }
            double w = a + back - a * back;
            edges[n_edges++] = (edge){i, j, w};
            if (!found) edges[n_edges++] = (edge){j, i, w}; /* j's list lacks i: add j -> i here */
        }
#undef MEMBERSHIP
    qsort(edges, n_edges, sizeof *edges, by_head_tail);

    /* 3. drop edges below max / n_epochs; each edge is sampled every
     * max / w epochs, its negative samples NEGATIVE_RATE times as often */
    double wmax = 0;
    for (size_t e = 0; e < n_edges; e++) wmax = fmax(wmax, edges[e].w);
    size_t kept = 0;
    for (size_t e = 0; e < n_edges; e++)
        if (edges[e].w > 0 && edges[e].w >= wmax / n_epochs) edges[kept++] = edges[e];
    n_edges = kept;
    per = malloc((n_edges ? n_edges : 1) * sizeof *per);
    next = malloc((n_edges ? n_edges : 1) * sizeof *next);
    next_neg = malloc((n_edges ? n_edges : 1) * sizeof *next_neg);
    if (!per || !next || !next_neg) {
        rc = temper__error(TEMPER_ENOMEM, "UMAP of %d points: out of memory", n);
        goto done;
    }
    for (size_t e = 0; e < n_edges; e++) {
        per[e] = wmax / edges[e].w;
        next[e] = per[e];
        next_neg[e] = per[e] / NEGATIVE_RATE;
    }

    /* 4. the start: the PCA scaled to at most 10, a little noise, then each
     * axis stretched to [0, 10] */
    if ((rc = temper__project_pca_start(x, n, dim, dims, y)) < 0) goto done;
    temper_rng rng;
    temper_rng_seed(&rng, prm->seed, 0);
    double amax = 0;
    for (size_t e = 0; e < (size_t)n * dims; e++) amax = fmax(amax, fabs(y[e]));
    for (size_t e = 0; e < (size_t)n * dims; e++) y[e] = (amax > 0 ? y[e] * 10 / amax : 0) + 1e-4 * normal(&rng);
    for (int d = 0; d < dims; d++) {
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < n; i++) lo = fmin(lo, y[(size_t)i * dims + d]), hi = fmax(hi, y[(size_t)i * dims + d]);
        for (int i = 0; i < n; i++) y[(size_t)i * dims + d] = hi > lo ? 10 * (y[(size_t)i * dims + d] - lo) / (hi - lo) : 0;
    }

    /* 5. SGD: attract along the edges, repel from random points */
    double a, b;
    temper__umap_fit_ab(prm->min_dist, &a, &b);
    for (int epoch = 0; epoch < n_epochs; epoch++) {
        double alpha = 1.0 - (double)epoch / n_epochs;
        for (size_t e = 0; e < n_edges; e++) {
            if (next[e] > epoch) continue;
            double *yi = y + (size_t)edges[e].i * dims, *yj = y + (size_t)edges[e].j * dims;
            double d2 = 0;
            for (int d = 0; d < dims; d++) d2 += (yi[d] - yj[d]) * (yi[d] - yj[d]);
            double coef = d2 > 0 ? -2 * a * b * pow(d2, b - 1) / (a * pow(d2, b) + 1) : 0;
            for (int d = 0; d < dims; d++) {
                double g = clip(coef * (yi[d] - yj[d]));
                yi[d] += g * alpha;
                yj[d] -= g * alpha;
            }
            next[e] += per[e];
            int n_neg = (int)((epoch - next_neg[e]) / (per[e] / NEGATIVE_RATE));
            for (int s = 0; s < n_neg; s++) {
                int j = (int)(temper_rng_next(&rng) % (uint64_t)n);
                if (j == edges[e].i) continue;
                double *yk = y + (size_t)j * dims;
                d2 = 0;
                for (int d = 0; d < dims; d++) d2 += (yi[d] - yk[d]) * (yi[d] - yk[d]);
                if (d2 <= 0) continue; /* the same place: no direction to push */
                coef = 2 * b / ((0.001 + d2) * (a * pow(d2, b) + 1));
                for (int d = 0; d < dims; d++) yi[d] += clip(coef * (yi[d] - yk[d])) * alpha;
            }
            next_neg[e] += n_neg * (per[e] / NEGATIVE_RATE);
        }
    }
    info->n_iter = n_epochs;
    info->a = a, info->b = b;
done:
    free(u.idx);
    free(u.dist);
    free(u.scratch);
    free(u.order);
    free(rho);
    free(sigma);
    free(edges);
    free(per);
    free(next);
    free(next_neg);
    return rc;
}
