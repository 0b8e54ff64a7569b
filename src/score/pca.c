/*
 * pca.c - principal component analysis, as scikit-learn's
 * PCA(n_components=k).fit_transform(X) computes it, in double.
 *
 * Xc = X - column means (n, d). With the SVD Xc = U S V^T the projection is
 * U S = Xc V and the explained variance of axis j is S_j^2 / (n - 1). The
 * S_j^2 are the eigenvalues of both Xc Xc^T (n, n) and Xc^T Xc (d, d):
 *   n <= d: eigen-decompose G = Xc Xc^T; projection column j = u_j sqrt(l_j)
 *   n >  d: eigen-decompose C = Xc^T Xc; projection column j = Xc v_j
 * LAPACK's dsyevr gives the k largest eigenpairs. The ratio divides by the
 * total variance, trace(G) = sum of squares of Xc. Signs follow
 * scikit-learn 1.3's svd_flip: the entry of largest magnitude of each
 * column of U (so of the projection) is made positive.
 */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>

#include "core/core.h"

int temper_pca(const float *x, int n, int dim, int k, double *proj, double *explained) {
    if (!x || !proj || n < 1 || dim < 1)
        return temper__error(TEMPER_EINVAL, "temper_pca: x and proj must not be NULL and n, dim >= 1");
    int m = n <= dim ? n : dim; /* size of the matrix decomposed */
    if (k < 1 || k > m)
        return temper__error(TEMPER_EINVAL, "temper_pca: %d components asked of %d points in %d "
                             "dimensions: give 1 to %d", k, n, dim, m);
    double *xc = malloc((size_t)n * dim * sizeof *xc);   /* (n, dim) centred */
    double *a = malloc((size_t)m * m * sizeof *a);       /* (m, m) G or C */
    double *w = malloc((size_t)m * sizeof *w);           /* (m) eigenvalues */
    double *z = malloc((size_t)m * k * sizeof *z);       /* (m, k) eigenvectors */
    lapack_int *isuppz = malloc(2 * (size_t)k * sizeof *isuppz);
    int rc = 0;
    if (!xc || !a || !w || !z || !isuppz) {
        rc = temper__error(TEMPER_ENOMEM, "temper_pca: out of memory for %d x %d points", n, dim);
        goto done;
    }
    for (int j = 0; j < dim; j++) {
        double mean = 0;
        for (int i = 0; i < n; i++) mean += x[(size_t)i * dim + j];
        mean /= n;
        for (int i = 0; i < n; i++) xc[(size_t)i * dim + j] = x[(size_t)i * dim + j] - mean;
    }
    double total = 0;
    for (size_t i = 0; i < (size_t)n * dim; i++) total += xc[i] * xc[i];
    /* Lower triangle of a (row-major) is enough for dsyevr with 'L'. */
    for (int r = 0; r < m; r++) {
        for (int c = 0; c <= r; c++) {
            double s = 0;
            if (n <= dim) {
                const double *xr = xc + (size_t)r * dim, *xq = xc + (size_t)c * dim;
                for (int j = 0; j < dim; j++) s += xr[j] * xq[j];
            } else {
                for (int i = 0; i < n; i++) s += xc[(size_t)i * dim + r] * xc[(size_t)i * dim + c];
            }
            a[(size_t)r * m + c] = s;
        }
    }
    lapack_int found = 0;
    lapack_int info = LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'V', 'I', 'L', m, a, m, 0, 0, m - k + 1, m,
                                     0.0, &found, w, z, k, isuppz);
    if (info != 0 || found != k) {
        rc = temper__error(TEMPER_EINVAL, "temper_pca: the eigen-solver failed (LAPACK dsyevr info %d)",
                           (int)info);
        goto done;
    }
    /* dsyevr returns ascending eigenvalues: axis j is column k - 1 - j. */
    for (int j = 0; j < k; j++) {
        int col = k - 1 - j;
        double lambda = w[col] > 0 ? w[col] : 0;
        for (int i = 0; i < n; i++) {
            double v;
            if (n <= dim) {
                v = z[(size_t)i * k + col] * sqrt(lambda);
            } else {
                v = 0;
                for (int d = 0; d < dim; d++) v += xc[(size_t)i * dim + d] * z[(size_t)d * k + col];
            }
            proj[(size_t)i * k + j] = v;
        }
        int best = 0;
        for (int i = 1; i < n; i++)
            if (fabs(proj[(size_t)i * k + j]) > fabs(proj[(size_t)best * k + j])) best = i;
        if (proj[(size_t)best * k + j] < 0)
            for (int i = 0; i < n; i++) proj[(size_t)i * k + j] = -proj[(size_t)i * k + j];
        if (explained) explained[j] = total > 0 ? lambda / total : 0;
    }
done:
    free(xc);
    free(a);
    free(w);
    free(z);
    free(isuppz);
    return rc;
}
