/*
 * test.h - the whole test framework: each test is a function, a failed
 * check prints file:line and the values, main() runs the tests with RUN()
 * and ends with TEST_SUMMARY(), which prints "N passed, N failed".
 */
#ifndef TEMPER_TEST_H
#define TEMPER_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test__passed, test__failed, test__current_failed;

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
    (printf("%d passed, %d failed\n", test__passed, test__failed),           \
     test__failed ? 1 : 0)

/* Folder of the shared fixtures (../shared/fixtures by default). */
static inline const char *test_fixtures(void) {
    const char *d = getenv("TEMPER_FIXTURES");
    return d ? d : "../shared/fixtures";
}

#endif
