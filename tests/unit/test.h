/*
 * test.h - the whole test framework: each test is a function, a failed
 * check prints file:line and the values, main() runs the tests with RUN()
 * and ends with TEST_SUMMARY(), which prints "N passed, N failed, N skipped".
 * Arrays are compared with test_cmp / CHECK_CMP / CHECK_CLOSE (below), which
 * fail on NaN, on infinities where a finite value is wanted, and on a count
 * of values other than the expected one.
 */
#ifndef TEMPER_TEST_H
#define TEMPER_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test__passed, test__failed, test__skipped, test__current_failed;

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,  \
                    #cond);                                                   \
            test__current_failed = 1;                                         \
        }                                                                     \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                    \
    do {                                                                      \
        long long test__a = (long long)(a), test__b = (long long)(b);         \
        if (test__a != test__b) {                                             \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n",         \
                    __FILE__, __LINE__, #a, #b, test__a, test__b);            \
            test__current_failed = 1;                                         \
        }                                                                     \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                 \
    do {                                                                      \
        double test__a = (double)(a), test__b = (double)(b);                  \
        if (!(fabs(test__a - test__b) <= (tol))) {                            \
            fprintf(stderr, "%s:%d: |%s - %s| <= %g failed: %.9g vs %.9g\n",  \
                    __FILE__, __LINE__, #a, #b, (double)(tol), test__a,       \
                    test__b);                                                 \
            test__current_failed = 1;                                         \
        }                                                                     \
    } while (0)

#define CHECK_STR(a, b)                                                       \
    do {                                                                      \
        const char *test__a = (a), *test__b = (b);                            \
        if (!test__a || !test__b || strcmp(test__a, test__b) != 0) {          \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n",     \
                    __FILE__, __LINE__, #a, #b, test__a ? test__a : "(null)", \
                    test__b ? test__b : "(null)");                            \
            test__current_failed = 1;                                         \
        }                                                                     \
    } while (0)

/*
 * Comparisons of many values, safe against NaN, infinities and missing
 * output: a test_cmp accumulates |got - want| <= lim value by value, then
 * CHECK_CMP(c, n) fails unless exactly n > 0 values were compared and all
 * were within their limits. A NaN anywhere fails; an infinity passes only
 * where want is the same infinity (a masked score is -inf on both sides).
 *
 *     test_cmp c = test_cmp_start("softmax n=17");
 *     for (i = 0; i < n; i++) test_cmp_add(&c, got[i], want[i], 1e-6);
 *     CHECK_CMP(c, n);
 */
typedef struct {
    const char *what;
    long n, bad, worst_at;           /* values seen, out of bounds, index of the worst */
    double worst_got, worst_want, worst_lim, worst_excess; /* the worst one */
} test_cmp;

static inline test_cmp test_cmp_start(const char *what) {
    test_cmp c = {what, 0, 0, -1, 0, 0, 0, -INFINITY};
    return c;
}

static inline int test_cmp_add(test_cmp *c, double got, double want, double lim) {
    double excess;
    if (isnan(got) || isnan(want) || isnan(lim)) excess = INFINITY;
    else if (isinf(got) || isinf(want)) excess = got == want ? -INFINITY : INFINITY;
    else excess = fabs(got - want) - lim;
    if (!(excess <= 0)) c->bad++;
    if (c->worst_at < 0 || excess > c->worst_excess || (isnan(got) && !isnan(c->worst_got))) {
        c->worst_at = c->n;
        c->worst_got = got;
        c->worst_want = want;
        c->worst_lim = lim;
        c->worst_excess = excess;
    }
    c->n++;
    return excess <= 0;
}

static inline int test__cmp_done(const char *file, int line, const test_cmp *c, long n) {
    if (c->n == n && n > 0 && c->bad == 0) return 1;
    fprintf(stderr, "%s:%d: %s: ", file, line, c->what ? c->what : "values");
    if (c->n != n || n <= 0) fprintf(stderr, "%ld values compared, %ld expected", c->n, n);
    if (c->bad)
        fprintf(stderr, "%s%ld of %ld out of bounds, worst at %ld: got %.9g want %.9g (limit %g)",
                c->n != n || n <= 0 ? "; " : "", c->bad, c->n, c->worst_at, c->worst_got, c->worst_want,
                c->worst_lim);
    fprintf(stderr, "\n");
    test__current_failed = 1;
    return 0;
}
#define CHECK_CMP(c, n) test__cmp_done(__FILE__, __LINE__, &(c), (long)(n))

/* Compare n floats with n doubles within atol + rtol |want| (n > 0). */
static inline int test__close(const char *file, int line, const char *what, const float *got,
                              const double *want, long n, double atol, double rtol) {
    test_cmp c = test_cmp_start(what);
    for (long i = 0; got && want && i < n; i++) test_cmp_add(&c, got[i], want[i], atol + rtol * fabs(want[i]));
    return test__cmp_done(file, line, &c, n);
}
#define CHECK_CLOSE(what, got, want, n, atol, rtol) test__close(__FILE__, __LINE__, what, got, want, n, atol, rtol)

/* A check that cannot run here: printed and counted as skipped (never as
 * passed); the closing line reports the count. */
#define SKIP(why)                                                             \
    do {                                                                      \
        fprintf(stderr, "%s:%d: skipped: %s\n", __FILE__, __LINE__, why);    \
        test__skipped++;                                                      \
    } while (0)

/* SIMD levels: a test run once per level reports each (tests/run's closing
 * line names them): ran, it prints "SIMD level run: NAME"; not supported
 * by this CPU, it counts a skipped check "SIMD level NAME: not run on this
 * CPU". */
static inline void test__level(const char *file, int line, const char *name, int ran) {
    if (ran) {
        printf("SIMD level run: %s\n", name);
        return;
    }
    fprintf(stderr, "%s:%d: skipped: SIMD level %s: not run on this CPU\n", file, line, name);
    test__skipped++;
}
#define test_level(name, ran) test__level(__FILE__, __LINE__, name, ran)

#define RUN(fn)                                                               \
    do {                                                                      \
        test__current_failed = 0;                                             \
        fn();                                                                 \
        if (test__current_failed) {                                           \
            test__failed++;                                                   \
            fprintf(stderr, "FAIL %s\n", #fn);                                \
        } else {                                                              \
            test__passed++;                                                   \
        }                                                                     \
    } while (0)

#define TEST_SUMMARY()                                                        \
    (printf("%d passed, %d failed, %d skipped\n", test__passed, test__failed, \
            test__skipped),                                                   \
     test__failed ? 1 : 0)

/* Folder of the shared fixtures (../shared/fixtures by default). */
static inline const char *test_fixtures(void) {
    const char *d = getenv("TEMPER_FIXTURES");
    return d ? d : "../shared/fixtures";
}

#endif
