/*
 * test_decode.c - the decoding stages on small rows whose results are
 * worked out by hand (in the comments) from transformers' formulas, their
 * order, the edge cases (ties, top-p boundary, min_keep), greedy, the
 * random streams, chi-square tests of sampling, and invalid parameters;
 * every test runs once per SIMD level the CPU supports (main).
 *
 * Most rows are logits = ln(p) for a chosen p, so that every expected
 * probability is a ratio of the chosen p's.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "temper.h"
#include "tensor/simd.h" /* the SIMD levels: every test runs at each */
#include "test.h"

#define NINF (-INFINITY)
#define TOL 1e-5

/* A sampler for V tokens (do_sample on, top_k off: the defaults of the
 * tests), failing the test on error. */
static temper_sampler *make(const temper_sampling_params *p, int V) {
    temper_sampler *s = NULL;
    int rc = temper_sampler_init(p, V, &s);
    if (rc < 0) fprintf(stderr, "init: %s\n", temper_last_error());
    CHECK_EQ_INT(rc, 0);
    return s;
}

static temper_sampling_params sampling(void) {
    temper_sampling_params p = temper_sampling_default_params();
    p.do_sample = 1;
    p.top_k = 0;
    return p;
}

/* Apply logits (V) with no history and compare the processed
 * probabilities with want (V), tolerance TOL. */
static void check_probs(const temper_sampling_params *p, const float *logits,
                        int V, const double *want) {
    temper_sampler *s = make(p, V);
    if (!s) return;
    int rc = temper_sampler_apply(s, logits, NULL, 0, 0);
    CHECK_EQ_INT(rc, 0);
    for (int i = 0; i < V && rc == 0; i++) {
        double got = exp((double)temper_sampler_logprob(s, i, TEMPER_LOGPROB_PROCESSED));
        if (fabs(got - want[i]) > TOL)
            fprintf(stderr, "  token %d: got %.7f want %.7f\n", i, got, want[i]);
        CHECK_NEAR(got, want[i], TOL);
    }
    temper_sampler_free(s);
}

/* logits = ln(p) */
static void logp(const double *p, float *out, int V) {
    for (int i = 0; i < V; i++) out[i] = p[i] > 0 ? (float)log(p[i]) : NINF;
}

static const double P4[4] = {0.5, 0.3, 0.15, 0.05};

/* ---- temperature ---- */

static void test_temperature_scores(void) {
    /* seed 002: logits / T. [1.1, 0.5, 0.85] / 0.5 = [2.2, 1.0, 1.7] */
    temper_sampling_params p = sampling();
    p.temperature = 0.5f;
    float x[3] = {1.1f, 0.5f, 0.85f}, out[3];
    temper_sampler *s = make(&p, 3);
    CHECK_EQ_INT(temper_sampler_apply(s, x, NULL, 0, 0), 0);
    CHECK_EQ_INT(temper_sampler_scores(s, out), 0);
    CHECK_NEAR(out[0], 2.2, 1e-6);
    CHECK_NEAR(out[1], 1.0, 1e-6);
    CHECK_NEAR(out[2], 1.7, 1e-6);
    temper_sampler_free(s);
}

static void test_temperature_probs(void) {
    /* T = 0.5 squares p: [.25, .09, .0225, .0025] / .365 */
    temper_sampling_params p = sampling();
    p.temperature = 0.5f;
    float x[4];
    logp(P4, x, 4);
    double want[4] = {0.25 / 0.365, 0.09 / 0.365, 0.0225 / 0.365, 0.0025 / 0.365};
    check_probs(&p, x, 4, want);
    /* seed 003: logits (5, 2.2, 2, 4.5, 3, 2.7) at T = 1 give
     * 0.512106 0.031141 0.025496 0.310608 0.069306 0.051343 */
    float y[6] = {5, 2.2f, 2, 4.5f, 3, 2.7f};
    double w2[6] = {0.512106, 0.031141, 0.025496, 0.310608, 0.069306, 0.051343};
    temper_sampling_params q = sampling();
    temper_sampler *s = make(&q, 6);
    CHECK_EQ_INT(temper_sampler_apply(s, y, NULL, 0, 0), 0);
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(exp(temper_sampler_logprob(s, i, TEMPER_LOGPROB_PROCESSED)),
                   w2[i], 1e-6);
    temper_sampler_free(s);
}

/* ---- top-k ---- */

static void test_top_k_ties(void) {
    /* ties with the k-th value are kept: [1, 3, 3, 2, 3], k = 2: the 2nd
     * largest is 3, so the three 3's stay: p = 1/3 each */
    temper_sampling_params p = sampling();
    p.top_k = 2;
    float x[5] = {1, 3, 3, 2, 3};
    double third = 1.0 / 3;
    double want[5] = {0, third, third, 0, third};
    check_probs(&p, x, 5, want);
    /* k = 4: the 4th largest is 2: only the 1 goes. e^3*3 + e^2 */
    p.top_k = 4;
    double z = 3 * exp(3.0) + exp(2.0);
    double want4[5] = {0, exp(3.0) / z, exp(3.0) / z, exp(2.0) / z, exp(3.0) / z};
    check_probs(&p, x, 5, want4);
    /* k >= V: nothing removed */
    p.top_k = 7;
    float y[4];
    logp(P4, y, 4);
    check_probs(&p, y, 4, P4);
}

static void test_top_k_min_keep(void) {
    /* k = 1 with min_keep = 3 keeps 3: [.5 .3 .15] / .95 */
    temper_sampling_params p = sampling();
    p.top_k = 1;
    p.min_keep = 3;
    float x[4];
    logp(P4, x, 4);
    double want[4] = {0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0};
    check_probs(&p, x, 4, want);
}

/* ---- top-p ---- */

static void test_top_p_crossing_token_kept(void) {
    float x[4];
    logp(P4, x, 4);
    temper_sampling_params p = sampling();
    /* p = 0.7: token 1 has 0.5 above it (< 0.7): kept, it crosses 0.7;
     * token 2 has 0.8 above it: removed. transformers: ascending cumsum
     * [.05 .2 .5 1], remove <= 0.3: the same. */
    p.top_p = 0.7f;
    double w1[4] = {0.5 / 0.8, 0.3 / 0.8, 0, 0};
    check_probs(&p, x, 4, w1);
    /* p = 0.45: only token 0 (0.5 crosses it) */
    p.top_p = 0.45f;
    double w2[4] = {1, 0, 0, 0};
    check_probs(&p, x, 4, w2);
    /* p = 0.81: tokens 0..2 (0.8 above token 2 is < 0.81) */
    p.top_p = 0.81f;
    double w3[4] = {0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0};
    check_probs(&p, x, 4, w3);
    /* p = 0: the top token only */
    p.top_p = 0.0f;
    check_probs(&p, x, 4, w2);
    /* p = 1: off */
    p.top_p = 1.0f;
    check_probs(&p, x, 4, P4);
}

static void test_top_p_min_keep_and_ties(void) {
    float x[4];
    logp(P4, x, 4);
    temper_sampling_params p = sampling();
    p.top_p = 0.45f;
    p.min_keep = 2;
    double w[4] = {0.5 / 0.8, 0.3 / 0.8, 0, 0};
    check_probs(&p, x, 4, w);
    /* tied tokens at the boundary are kept together: [.4 .2 .2 .2],
     * p = 0.5: each 0.2 has 0.4 strictly above it (< 0.5): all kept */
    double q[4] = {0.4, 0.2, 0.2, 0.2};
    float y[4];
    logp(q, y, 4);
    p.min_keep = 1;
    p.top_p = 0.5f;
    check_probs(&p, y, 4, q);
    /* p = 0.3: only the 0.4 */
    p.top_p = 0.3f;
    double w2[4] = {1, 0, 0, 0};
    check_probs(&p, y, 4, w2);
}

static void test_top_p_transformers_vector(void) {
    /* transformers' test_top_p_dist_warper: TopPLogitsWarper(0.8) on
     * log([.3 .1 .1 .5]) keeps .3 and .5 (ascending cumsum .1 .2 .5 1:
     * the .2 is exactly 1 - 0.8, removed), so p = [.375 0 0 .625]; on
     * log([.15 .3 .3 .25]) it removes only the .15. */
    double q1[4] = {0.3, 0.1, 0.1, 0.5}, q2[4] = {0.15, 0.3, 0.3, 0.25};
    float x[4];
    temper_sampling_params p = sampling();
    p.top_p = 0.8f;
    logp(q1, x, 4);
    double w1[4] = {0.375, 0, 0, 0.625};
    check_probs(&p, x, 4, w1);
    logp(q2, x, 4);
    double w2[4] = {0, 0.3 / 0.85, 0.3 / 0.85, 0.25 / 0.85};
    check_probs(&p, x, 4, w2);
}

static void test_top_p_large_row(void) {
    /* V = 3000, p_i proportional to 1/(i+1) (Zipf): the nucleus of mass
     * 0.5 is the first K tokens with H(K-1) < 0.5 H(V) <= H(K), where H is
     * the harmonic sum; computed here in double, independently. */
    enum { V = 3000 };
    static float x[V];
    double h = 0;
    for (int i = 0; i < V; i++) {
        h += 1.0 / (i + 1);
        x[i] = (float)-log(i + 1.0);
    }
    double target = 0.5 * h, cum = 0;
    int K = 0;
    while (cum < target) cum += 1.0 / (++K);
    temper_sampling_params p = sampling();
    p.top_p = 0.5f;
    temper_sampler *s = make(&p, V);
    CHECK_EQ_INT(temper_sampler_apply(s, x, NULL, 0, 0), 0);
    CHECK_EQ_INT(temper_sampler_n_kept(s), K);
    CHECK(temper_sampler_logprob(s, K - 1, TEMPER_LOGPROB_PROCESSED) > NINF);
    CHECK(temper_sampler_logprob(s, K, TEMPER_LOGPROB_PROCESSED) == NINF);
    temper_sampler_free(s);
}

/* ---- vocabulary-sized rows against a sort-based transcription ---- */

static int cmp_desc(const void *a, const void *b) {
    double u = *(const double *)a, v = *(const double *)b;
    return (u < v) - (u > v);
}

/* transformers' temperature, top-k, top-p, min-p in that order (min_keep
 * 1), by sorting, in double after the float32 division, with ties kept as
 * temper documents: every token tied with the k-th value, or with the last
 * token of the nucleus, stays. keep: (V) out. Returns 0 when a decision is
 * within rounding of its threshold (fp32 against fp64: the row is then not
 * compared), else 1. */
static int ref_filters(const float *x, int V, float t, int k, double p,
                       double mp, int *keep, double *s, double *srt) {
    for (int i = 0; i < V; i++) {
        s[i] = (double)(x[i] / t);
        keep[i] = 1;
    }
    if (k > 0 && k < V) {
        memcpy(srt, s, sizeof(double) * (size_t)V);
        qsort(srt, (size_t)V, sizeof(double), cmp_desc);
        for (int i = 0; i < V; i++) keep[i] = s[i] >= srt[k - 1];
    }
    double m = -INFINITY, z = 0;
    for (int i = 0; i < V; i++)
        if (keep[i] && s[i] > m) m = s[i];
    for (int i = 0; i < V; i++) z += keep[i] ? exp(s[i] - m) : 0.0;
    if (p < 1) { /* walk down from the top: keep while the mass above < p */
        int n = 0;
        for (int i = 0; i < V; i++)
            if (keep[i]) srt[n++] = s[i];
        qsort(srt, (size_t)n, sizeof(double), cmp_desc);
        double above = 0, last = srt[0];
        int j = 0;
        for (; j < n && above < p; j++) {
            if (fabs(above - p) < 1e-6) return 0;
            above += exp(srt[j] - m) / z;
            last = srt[j];
        }
        if (j < n && fabs(above - p) < 1e-6) return 0;
        for (int i = 0; i < V; i++) keep[i] = keep[i] && s[i] >= last; /* ties with the last stay */
        m = -INFINITY;
        z = 0;
        for (int i = 0; i < V; i++)
            if (keep[i] && s[i] > m) m = s[i];
        for (int i = 0; i < V; i++) z += keep[i] ? exp(s[i] - m) : 0.0;
    }
    if (mp > 0)
        for (int i = 0; i < V; i++) {
            if (!keep[i]) continue;
            double q = exp(s[i] - m); /* p_i / p_max */
            if (fabs(q - mp) < 1e-6 * mp) return 0;
            keep[i] = q >= mp;
        }
    return 1;
}

/* Is a tie cut by the k-th value or the nucleus? (rows that test "ties are
 * kept together": at least one token outside the top k, or outside the
 * tokens whose mass above is < p, shares the last kept value) */
static int row_has_tie_at_cut(const double *s, const int *keep, int V) {
    double last = INFINITY;
    for (int i = 0; i < V; i++)
        if (keep[i] && s[i] < last) last = s[i];
    int n = 0;
    for (int i = 0; i < V; i++) n += keep[i] && s[i] == last;
    return n > 1;
}

static void test_large_rows_against_sort(void) {
    enum { VMAX = 50257 };
    static float x[VMAX], got[VMAX];
    static double s[VMAX], srt[VMAX];
    static int keep[VMAX];
    const int sizes[] = {50257, 4097, 70};
    const float temps[] = {1.0f, 0.7f, 1.5f};
    const int ks[] = {0, 1, 50, 1000};
    const float ps[] = {1.0f, 0.9f, 0.5f};
    const float mps[] = {0.0f, 0.05f};
    const int flat_ks[] = {0, 1000, 0, 4000};
    const float flat_ps[] = {0.9f, 0.5f, 0.97f};
    int compared = 0, skipped = 0, nontrivial = 0, tied = 0, top_p_rows = 0, top_p_large = 0;
    {
        temper_rng rng; /* the same rows at each level */
        temper_rng_seed(&rng, 99, 0);
        for (int c = 0; c < 48; c++) {
            /* odd rows: a head of 40 tokens 6-12 above a normal background
             * (language-model-like: small nuclei); even rows: the normal
             * background alone, sd 1, always with a top-p (nuclei of
             * hundreds to thousands of tokens). On a 1/64 grid: distinct
             * values stay distinct after / T, and ties are common. */
            int flat = c % 2 == 0, j = c / 2;
            int V = flat ? sizes[j % 2] : sizes[j % 3];
            for (int i = 0; i < V; i++) {
                double u = temper_rng_uniform(&rng), v = temper_rng_uniform(&rng);
                x[i] = (float)((flat ? 1.0 : 2.5) * sqrt(-2 * log(1 - u)) * cos(6.283185307 * v) - 80.0);
            }
            for (int h = 0; h < 40 && !flat; h++)
                x[temper_rng_next(&rng) % (uint64_t)V] += (float)(6 + 6 * temper_rng_uniform(&rng));
            for (int i = 0; i < V; i++) x[i] = roundf(x[i] * 64) / 64;
            temper_sampling_params p = sampling();
            p.temperature = temps[j % 3];
            p.top_k = flat ? flat_ks[(j / 2) % 4] : ks[(j / 2) % 4];
            p.top_p = flat ? flat_ps[(j / 3) % 3] : ps[(j / 3) % 3];
            p.min_p = mps[(j / 5) % 2];
            if (!ref_filters(x, V, p.temperature, p.top_k, p.top_p, p.min_p, keep, s, srt)) {
                skipped++;
                continue;
            }
            temper_sampler *sm = make(&p, V);
            if (!sm) continue;
            CHECK_EQ_INT(temper_sampler_apply(sm, x, NULL, 0, 0), 0);
            CHECK_EQ_INT(temper_sampler_scores(sm, got), 0);
            /* kept set identical, and the kept scores bit for bit x / T
             * (one float32 division, as transformers) */
            char label[128];
            snprintf(label, sizeof label, "%s V=%d T=%g k=%d p=%g min_p=%g", temper__simd_name(temper__simd()),
                     V, p.temperature, p.top_k, p.top_p, p.min_p);
            test_cmp cmp = test_cmp_start(label);
            int n = 0;
            for (int i = 0; i < V; i++) {
                n += keep[i];
                test_cmp_add(&cmp, got[i], keep[i] ? s[i] : NINF, 0.0);
            }
            CHECK_CMP(cmp, V);
            /* the processed distribution sums to one */
            double z = 0;
            for (int i = 0; i < V; i++)
                z += exp((double)temper_sampler_logprob(sm, i, TEMPER_LOGPROB_PROCESSED));
            CHECK_NEAR(z, 1.0, 1e-5);
            temper_sampler_free(sm);
            compared++;
            nontrivial += n > 1 && n < V;
            tied += row_has_tie_at_cut(s, keep, V) && n < V;
            if (p.top_p < 1 && (p.top_k == 0 || p.top_k > 1)) {
                top_p_rows++;
                top_p_large += n >= 100;
            }
        }
    }
    fprintf(stderr, "  [%s] large rows: %d compared (%d keep 2..V-1 tokens, %d with a tie at the cut; "
            "%d of %d top-p rows keep >= 100 tokens), %d skipped near a threshold\n",
            temper__simd_name(temper__simd()), compared, nontrivial, tied, top_p_large, top_p_rows, skipped);
    CHECK(compared >= 44);
    CHECK(nontrivial >= 30);
    CHECK(tied >= 5);
    CHECK(top_p_rows >= 8 && 2 * top_p_large >= top_p_rows);
}

/* Top-k on a vocabulary-sized row whose few finite scores sit together
 * (so in few of the sets whose maxima bound the k-th): the bound is
 * skipped, not taken for "fewer than k tokens". */
static void test_top_k_clustered_finite(void) {
    enum { V = 50257 };
    static float x[V];
    for (int i = 0; i < V; i++) x[i] = NINF;
    for (int i = 0; i < 60; i++) x[1000 + i] = (float)(i % 7); /* ties at the k-th */
    temper_sampling_params p = sampling();
    p.top_k = 50;
    temper_sampler *s = make(&p, V);
    CHECK_EQ_INT(temper_sampler_apply(s, x, NULL, 0, 0), 0);
    /* values 0..6 repeat; the 50 largest reach down to value 1 (60 - 9
     * zeros = 51 tokens >= 1), so all 51 are kept */
    CHECK_EQ_INT(temper_sampler_n_kept(s), 51);
    temper_sampler_free(s);
}

/* ---- min-p, typical, epsilon, eta ---- */

static void test_min_p(void) {
    float x[4];
    logp(P4, x, 4);
    temper_sampling_params p = sampling();
    p.min_p = 0.2f; /* cut 0.1: the 0.05 goes */
    double w1[4] = {0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0};
    check_probs(&p, x, 4, w1);
    p.min_p = 0.7f; /* cut 0.35: only the 0.5 */
    double w2[4] = {1, 0, 0, 0};
    check_probs(&p, x, 4, w2);
    p.min_keep = 2;
    double w3[4] = {0.5 / 0.8, 0.3 / 0.8, 0, 0};
    check_probs(&p, x, 4, w3);
}

static void test_typical(void) {
    /* p = [.4 .3 .3]: H = .4 ln(1/.4) + .6 ln(1/.3) = 1.08890; |-ln p - H| =
     * .17261 for the .4 and .11507 for the .3's. Sorted: .3, .3, .4; cum
     * .3 .6 1; mass .5: last = #(cum < .5) = 1, limit .11507: the most
     * likely token is removed. */
    double q[3] = {0.4, 0.3, 0.3};
    float x[3];
    logp(q, x, 3);
    temper_sampling_params p = sampling();
    p.typical_p = 0.5f;
    double w[3] = {0, 0.5, 0.5};
    check_probs(&p, x, 3, w);
    /* min_keep = 3 keeps the first 3 of the order: all */
    p.min_keep = 3;
    check_probs(&p, x, 3, q);
    /* p = [.7 .1 .1 .1]: H = .94045; shifted .58378 (.7), 1.36213 (.1's);
     * order .7 first, cum .7: mass .5 -> last 0 -> keep the .7 only;
     * mass .75 -> last 1 -> limit 1.36213 -> keep all */
    double r[4] = {0.7, 0.1, 0.1, 0.1};
    float y[4];
    logp(r, y, 4);
    p.min_keep = 1;
    p.typical_p = 0.5f;
    double w1[4] = {1, 0, 0, 0};
    check_probs(&p, y, 4, w1);
    p.typical_p = 0.75f;
    check_probs(&p, y, 4, r);
}

static void test_epsilon(void) {
    float x[4];
    logp(P4, x, 4);
    temper_sampling_params p = sampling();
    p.epsilon_cutoff = 0.1f; /* the 0.05 goes */
    double w1[4] = {0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0};
    check_probs(&p, x, 4, w1);
    p.epsilon_cutoff = 0.6f; /* all below: the best min_keep stay */
    double w2[4] = {1, 0, 0, 0};
    check_probs(&p, x, 4, w2);
}

static void test_eta(void) {
    /* H(P4) = 1.142121 nats, exp(-H) = 0.319140.
     * eta 0.2: min(0.2, sqrt(0.2) * 0.319140 = 0.142724): the 0.05 goes.
     * eta 0.3: min(0.3, 0.547723 * 0.319140 = 0.174801): .15 and .05 go. */
    float x[4];
    logp(P4, x, 4);
    temper_sampling_params p = sampling();
    p.eta_cutoff = 0.2f;
    double w1[4] = {0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0};
    check_probs(&p, x, 4, w1);
    p.eta_cutoff = 0.3f;
    double w2[4] = {0.5 / 0.8, 0.3 / 0.8, 0, 0};
    check_probs(&p, x, 4, w2);
    /* uniform over 4: H = ln 4, cut min(.1, .316228 * .25 = .079057) <
     * .25: all stay */
    double u[4] = {0.25, 0.25, 0.25, 0.25};
    float y[4];
    logp(u, y, 4);
    p.eta_cutoff = 0.1f;
    check_probs(&p, y, 4, u);
}

/* ---- history processors ---- */

static void apply_scores(const temper_sampling_params *p, const float *x,
                         int V, const temper_token *hist, int n_hist,
                         int n_prompt, float *out) {
    temper_sampler *s = make(p, V);
    if (!s) return;
    CHECK_EQ_INT(temper_sampler_apply(s, x, hist, n_hist, n_prompt), 0);
    CHECK_EQ_INT(temper_sampler_scores(s, out), 0);
    temper_sampler_free(s);
}

static void test_repetition_penalty(void) {
    /* each distinct token of prompt + generated once: s<0 ? s*2 : s/2 */
    temper_sampling_params p = sampling();
    p.repetition_penalty = 2.0f;
    float x[5] = {2.0f, -1.0f, 0.5f, 3.0f, 0.0f}, out[5];
    temper_token hist[6] = {0, 1, 1, 0, 4, 1};
    apply_scores(&p, x, 5, hist, 6, 2, out);
    CHECK_NEAR(out[0], 1.0, 1e-7);
    CHECK_NEAR(out[1], -2.0, 1e-7);
    CHECK_NEAR(out[2], 0.5, 1e-7);
    CHECK_NEAR(out[3], 3.0, 1e-7);
    CHECK_NEAR(out[4], 0.0, 1e-7);
    /* penalty < 1 rewards repeats */
    p.repetition_penalty = 0.5f;
    apply_scores(&p, x, 5, hist, 6, 2, out);
    CHECK_NEAR(out[0], 4.0, 1e-7);
    CHECK_NEAR(out[1], -0.5, 1e-7);
    /* applied again on a second row: no stale state */
    p.repetition_penalty = 2.0f;
    temper_sampler *s = make(&p, 5);
    for (int round = 0; round < 3; round++) {
        CHECK_EQ_INT(temper_sampler_apply(s, x, hist, 6, 2), 0);
        CHECK_EQ_INT(temper_sampler_scores(s, out), 0);
        CHECK_NEAR(out[0], 1.0, 1e-7);
        CHECK_NEAR(out[1], -2.0, 1e-7);
    }
    temper_sampler_free(s);
}

static void test_presence_frequency(void) {
    /* generated [0 0 1] after prompt [2 2]: token 0: 1 - 2*.25 - .5 = 0;
     * token 1: 1 - .25 - .5 = .25; token 2 (prompt only): 1 */
    temper_sampling_params p = sampling();
    p.presence_penalty = 0.5f;
    p.frequency_penalty = 0.25f;
    float x[4] = {1, 1, 1, 1}, out[4];
    temper_token hist[5] = {2, 2, 0, 0, 1};
    apply_scores(&p, x, 4, hist, 5, 2, out);
    CHECK_NEAR(out[0], 0.0, 1e-7);
    CHECK_NEAR(out[1], 0.25, 1e-7);
    CHECK_NEAR(out[2], 1.0, 1e-7);
    CHECK_NEAR(out[3], 1.0, 1e-7);
    /* negative values encourage */
    p.presence_penalty = -1.0f;
    p.frequency_penalty = 0.0f;
    apply_scores(&p, x, 4, hist, 5, 2, out);
    CHECK_NEAR(out[0], 2.0, 1e-7);
    CHECK_NEAR(out[2], 1.0, 1e-7);
}

static void test_no_repeat_ngram(void) {
    temper_sampling_params p = sampling();
    float x[6] = {0, 0, 0, 0, 0, 0}, out[6];
    /* n = 2, history 0 1 2 0: the suffix (0) was followed by 1: ban 1 */
    p.no_repeat_ngram_size = 2;
    temper_token h1[4] = {0, 1, 2, 0};
    apply_scores(&p, x, 6, h1, 4, 4, out);
    CHECK(out[1] == NINF);
    CHECK(out[0] == 0 && out[2] == 0 && out[3] == 0);
    /* n = 3, history 0 1 2 5 0 1: (0 1) was followed by 2: ban 2 only */
    p.no_repeat_ngram_size = 3;
    temper_token h2[6] = {0, 1, 2, 5, 0, 1};
    apply_scores(&p, x, 6, h2, 6, 1, out);
    CHECK(out[2] == NINF);
    CHECK(out[5] == 0 && out[0] == 0 && out[1] == 0);
    /* n = 3, history of 1 token: nothing banned */
    temper_token h3[1] = {4};
    apply_scores(&p, x, 6, h3, 1, 1, out);
    for (int i = 0; i < 6; i++) CHECK(out[i] == 0);
    /* n = 1: every token of the history */
    p.no_repeat_ngram_size = 1;
    temper_token h4[3] = {3, 3, 5};
    apply_scores(&p, x, 6, h4, 3, 3, out);
    CHECK(out[3] == NINF && out[5] == NINF && out[0] == 0 && out[4] == 0);
}

static void test_min_new_tokens_and_bans(void) {
    temper_sampling_params p = sampling();
    temper_token eos[2] = {3, 5};
    p.eos_ids = eos;
    p.n_eos = 2;
    p.min_new_tokens = 2;
    float x[6] = {0, 1, 2, 9, 4, 8}, out[6];
    temper_token hist[4] = {1, 2, 4, 4};
    /* prompt 3, generated 1 < 2: both EOS banned */
    apply_scores(&p, x, 6, hist, 4, 3, out);
    CHECK(out[3] == NINF && out[5] == NINF && out[4] == 4);
    /* prompt 2, generated 2: free */
    apply_scores(&p, x, 6, hist, 4, 2, out);
    CHECK(out[3] == 9 && out[5] == 8);
    /* suppress tokens */
    temper_sampling_params q = sampling();
    temper_token sup[2] = {0, 4};
    q.suppress_tokens = sup;
    q.n_suppress = 2;
    apply_scores(&q, x, 6, NULL, 0, 0, out);
    CHECK(out[0] == NINF && out[4] == NINF && out[1] == 1);
}

static void test_logit_bias(void) {
    temper_sampling_params p = sampling();
    temper_logit_bias b[2] = {{1, 1.5f}, {2, NINF}};
    p.logit_bias = b;
    p.n_logit_bias = 2;
    float x[3] = {1, 1, 5}, out[3];
    apply_scores(&p, x, 3, NULL, 0, 0, out);
    CHECK_NEAR(out[0], 1, 0);
    CHECK_NEAR(out[1], 2.5, 1e-7);
    CHECK(out[2] == NINF);
    /* greedy then picks token 1 although token 2 had the largest logit */
    p.do_sample = 0;
    temper_sampler *s = make(&p, 3);
    temper_token t = -1;
    CHECK_EQ_INT(temper_sampler_apply(s, x, NULL, 0, 0), 0);
    CHECK_EQ_INT(temper_sampler_sample(s, NULL, &t), 0);
    CHECK_EQ_INT(t, 1);
    temper_sampler_free(s);
}

/* ---- order ---- */

static void test_order_hf_vs_llama_cpp(void) {
    /* T = 0.5 then top-p 0.6 (transformers): tempered p = [.68493 .24658
     * .06164 .00685]; token 1 has .68493 above it >= .6: only token 0.
     * top-p 0.6 then T (llama.cpp): token 1 has .5 above it: kept, then
     * tempered over {0, 1}: [.25 .09] / .34. */
    float x[4];
    logp(P4, x, 4);
    temper_sampling_params p = sampling();
    p.temperature = 0.5f;
    p.top_p = 0.6f;
    double hf[4] = {1, 0, 0, 0};
    check_probs(&p, x, 4, hf);
    p.order = TEMPER_ORDER_LLAMA_CPP;
    double lc[4] = {0.25 / 0.34, 0.09 / 0.34, 0, 0};
    check_probs(&p, x, 4, lc);
    /* the explicit list gives the same */
    p.order = TEMPER_ORDER_HF;
    p.samplers = "top_p,temperature";
    check_probs(&p, x, 4, lc);
    p.samplers = "temp, top-p"; /* aliases, spaces, dashes */
    check_probs(&p, x, 4, hf);
}

static void test_order_describe(void) {
    temper_sampling_params p = sampling();
    p.temperature = 0.7f;
    p.top_k = 40;
    p.top_p = 0.9f;
    p.repetition_penalty = 1.1f;
    char buf[256];
    temper_sampler *s = make(&p, 10);
    temper_sampler_describe(s, buf, sizeof buf);
    CHECK_STR(buf, "repetition_penalty,temperature,top_k,top_p");
    temper_sampler_free(s);
    p.order = TEMPER_ORDER_LLAMA_CPP;
    s = make(&p, 10);
    temper_sampler_describe(s, buf, sizeof buf);
    CHECK_STR(buf, "repetition_penalty,top_k,top_p,temperature");
    temper_sampler_free(s);
    /* greedy: the warpers do not run */
    p.do_sample = 0;
    s = make(&p, 10);
    int n = temper_sampler_describe(s, buf, sizeof buf);
    CHECK_STR(buf, "repetition_penalty");
    CHECK_EQ_INT(n, 18);
    CHECK_EQ_INT(temper_sampler_is_greedy(s), 1);
    /* buffer rule: the needed size, a truncated NUL-terminated prefix */
    n = temper_sampler_describe(s, buf, 5);
    CHECK_EQ_INT(n, 18);
    CHECK_EQ_INT((int)strlen(buf), 4);
    temper_sampler_free(s);
}

static void test_order_errors(void) {
    temper_sampling_params p = sampling();
    temper_sampler *s = NULL;
    p.temperature = 0.7f;
    p.top_k = 5;
    p.samplers = "top_k"; /* temperature active, not listed */
    CHECK_EQ_INT(temper_sampler_init(&p, 10, &s), TEMPER_EINVAL);
    CHECK(strstr(temper_last_error(), "temperature") != NULL);
    p.samplers = "top_k,temperature,top_q";
    CHECK_EQ_INT(temper_sampler_init(&p, 10, &s), TEMPER_EINVAL);
    CHECK(strstr(temper_last_error(), "top_q") != NULL);
    p.samplers = "top_k,temperature,k";
    CHECK_EQ_INT(temper_sampler_init(&p, 10, &s), TEMPER_EINVAL);
    CHECK(strstr(temper_last_error(), "twice") != NULL);
    /* unlisted processors run first: repetition_penalty is fine */
    p.samplers = "top_k,temperature,min_p";
    p.repetition_penalty = 1.3f;
    CHECK_EQ_INT(temper_sampler_init(&p, 10, &s), 0);
    char buf[128];
    temper_sampler_describe(s, buf, sizeof buf);
    CHECK_STR(buf, "repetition_penalty,top_k,temperature");
    temper_sampler_free(s);
}

/* ---- greedy ---- */

static void test_greedy(void) {
    temper_sampling_params p = temper_sampling_default_params(); /* greedy */
    float x[5] = {1, 4, 2, 4, 3};
    temper_sampler *s = make(&p, 5);
    temper_token t = -1;
    CHECK_EQ_INT(temper_sampler_apply(s, x, NULL, 0, 0), 0);
    CHECK_EQ_INT(temper_sampler_sample(s, NULL, &t), 0);
    CHECK_EQ_INT(t, 1); /* tie: lowest id, as torch.argmax */
    temper_sampler_free(s);
    /* temperature 0 is greedy even with do_sample */
    p.do_sample = 1;
    p.temperature = 0;
    s = make(&p, 5);
    CHECK_EQ_INT(temper_sampler_is_greedy(s), 1);
    CHECK_EQ_INT(temper_sampler_apply(s, x, NULL, 0, 0), 0);
    CHECK_EQ_INT(temper_sampler_sample(s, NULL, &t), 0);
    CHECK_EQ_INT(t, 1);
    temper_sampler_free(s);
    /* greedy sees the processors: repetition penalty 3 on token 1 (4 ->
     * 1.333) makes token 3 the argmax */
    p.temperature = 1;
    p.do_sample = 0;
    p.repetition_penalty = 3;
    temper_token hist[1] = {1};
    s = make(&p, 5);
    CHECK_EQ_INT(temper_sampler_apply(s, x, hist, 1, 1), 0);
    CHECK_EQ_INT(temper_sampler_sample(s, NULL, &t), 0);
    CHECK_EQ_INT(t, 3);
    temper_sampler_free(s);
    /* a large row, max near the end */
    enum { V = 50257 };
    static float y[V];
    for (int i = 0; i < V; i++) y[i] = (float)((i * 7919) % 1000) / 100.0f;
    y[50000] = 11.0f;
    y[50001] = 11.0f;
    p = temper_sampling_default_params();
    s = make(&p, V);
    CHECK_EQ_INT(temper_sampler_apply(s, y, NULL, 0, 0), 0);
    CHECK_EQ_INT(temper_sampler_sample(s, NULL, &t), 0);
    CHECK_EQ_INT(t, 50000);
    temper_sampler_free(s);
}

/* ---- raw vs processed log-probs, top list, -inf logits ---- */

static void test_raw_and_processed(void) {
    float x[4];
    logp(P4, x, 4);
    temper_sampling_params p = sampling();
    p.top_k = 2;
    temper_sampler *s = make(&p, 4);
    CHECK_EQ_INT(temper_sampler_apply(s, x, NULL, 0, 0), 0);
    CHECK_NEAR(temper_sampler_logprob(s, 0, TEMPER_LOGPROB_RAW), log(0.5), 1e-6);
    CHECK_NEAR(temper_sampler_logprob(s, 0, TEMPER_LOGPROB_PROCESSED), log(0.625), 1e-6);
    CHECK_NEAR(temper_sampler_logprob(s, 2, TEMPER_LOGPROB_RAW), log(0.15), 1e-6);
    CHECK(temper_sampler_logprob(s, 2, TEMPER_LOGPROB_PROCESSED) == NINF);
    CHECK(isnan(temper_sampler_logprob(s, 4, TEMPER_LOGPROB_RAW)));
    CHECK_EQ_INT(temper_sampler_n_kept(s), 2);
    temper_token ids[4];
    float lp[4];
    CHECK_EQ_INT(temper_sampler_top(s, TEMPER_LOGPROB_RAW, 3, ids, lp), 3);
    CHECK_EQ_INT(ids[0], 0);
    CHECK_EQ_INT(ids[1], 1);
    CHECK_EQ_INT(ids[2], 2);
    CHECK_NEAR(lp[2], log(0.15), 1e-6);
    CHECK_EQ_INT(temper_sampler_top(s, TEMPER_LOGPROB_PROCESSED, 4, ids, lp), 2);
    CHECK_NEAR(lp[1], log(0.375), 1e-6);
    temper_sampler_free(s);
    /* -inf logits are banned tokens; ties in top() by lowest id */
    float y[5] = {NINF, 1, 2, 2, NINF};
    p = sampling();
    s = make(&p, 5);
    CHECK_EQ_INT(temper_sampler_apply(s, y, NULL, 0, 0), 0);
    CHECK(temper_sampler_logprob(s, 0, TEMPER_LOGPROB_RAW) == NINF);
    CHECK_EQ_INT(temper_sampler_n_kept(s), 3);
    CHECK_EQ_INT(temper_sampler_top(s, TEMPER_LOGPROB_RAW, 5, ids, NULL), 3);
    CHECK_EQ_INT(ids[0], 2);
    CHECK_EQ_INT(ids[1], 3);
    CHECK_EQ_INT(ids[2], 1);
    temper_sampler_free(s);
}

/* ---- random streams and sampling ---- */

static void test_rng_streams(void) {
    temper_rng a, b, c;
    temper_rng_seed(&a, 42, 0);
    temper_rng_seed(&b, 42, 0);
    temper_rng_seed(&c, 42, 1);
    int same = 1, differ = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = temper_rng_next(&a), y = temper_rng_next(&b),
                 z = temper_rng_next(&c);
        same &= x == y;
        differ += x != z;
    }
    CHECK(same);
    CHECK_EQ_INT(differ, 100);
    double lo = 1, hi = 0, sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = temper_rng_uniform(&a);
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        sum += u;
    }
    CHECK(lo >= 0 && hi < 1);
    CHECK_NEAR(sum / 100000, 0.5, 0.005); /* sd of the mean: 0.0009 */
}

/* Chi-square of counts (k) against probabilities want (k) over n draws. */
static double chi_square(const long *counts, const double *want, int k, long n) {
    double x2 = 0;
    for (int i = 0; i < k; i++) {
        double e = want[i] * (double)n;
        if (e > 0) x2 += (counts[i] - e) * (counts[i] - e) / e;
    }
    return x2;
}

static void test_sampling_chi_square_small(void) {
    /* P4 with top_k 3: [.5 .3 .15]/.95. 20,000 draws, seed 42 stream 0.
     * 2 degrees of freedom: chi-square < 13.82 (p = 0.001). The removed
     * token must never come out. */
    float x[4];
    logp(P4, x, 4);
    temper_sampling_params p = sampling();
    p.top_k = 3;
    temper_sampler *s = make(&p, 4);
    temper_rng rng;
    temper_rng_seed(&rng, 42, 0);
    long counts[4] = {0};
    long n = 20000;
    CHECK_EQ_INT(temper_sampler_apply(s, x, NULL, 0, 0), 0);
    for (long i = 0; i < n; i++) {
        temper_token t = -1;
        temper_sampler_sample(s, &rng, &t);
        if (t >= 0 && t < 4) counts[t]++;
    }
    double want[3] = {0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95};
    double x2 = chi_square(counts, want, 3, n);
    fprintf(stderr, "  chi-square (2 dof) = %.3f\n", x2);
    CHECK(x2 < 13.82);
    CHECK_EQ_INT(counts[3], 0);
    CHECK_EQ_INT(counts[0] + counts[1] + counts[2], n);
    temper_sampler_free(s);
}

/* n draws of the sampler s (already applied) binned over the K tokens
 * idx; returns the chi-square against want (K), counts outside in *outside. */
static double draw_chi_square(temper_sampler *s, uint64_t seed, long n, const int *idx, const double *want,
                              int K, long *outside) {
    long counts[64] = {0};
    temper_rng rng;
    temper_rng_seed(&rng, seed, 3);
    *outside = 0;
    for (long i = 0; i < n; i++) {
        temper_token t = -1;
        temper_sampler_sample(s, &rng, &t);
        int k = 0;
        while (k < K && idx[k] != t) k++;
        if (k < K) counts[k]++;
        else ++*outside;
    }
    return chi_square(counts, want, K, n);
}

static void test_sampling_chi_square_large(void) {
    /* V = 200 pseudo-random logits (normal, sd 2), T = 0.8, top_k = 12: the
     * expected distribution computed here in double (sort, cut, softmax of
     * x/T). 60,000 draws; 11 dof: chi-square < 31.26 (p = 0.001).
     * Power: a sampler that ignores the temperature draws from q = the
     * softmax of x over the same 12; its chi-square is noncentral with
     * lambda = n sum (q - p)^2 / p (computed below; required >= 100, so
     * its mean 11 + lambda >= 111 is 3.8 sd (sqrt(2 (11 + 2 lambda)) = 21)
     * above 31.26: it passes with probability < 0.01). That sampler is also
     * run and must fail. */
    enum { V = 200, K = 12 };
    float x[V];
    temper_rng g;
    temper_rng_seed(&g, 7, 99);
    for (int i = 0; i < V; i++) {
        double u = temper_rng_uniform(&g), v = temper_rng_uniform(&g);
        x[i] = (float)(2.0 * sqrt(-2 * log(1 - u)) * cos(6.283185307 * v));
    }
    /* indices of the K largest, by selection */
    int idx[K];
    int used[V] = {0};
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int i = 0; i < V; i++)
            if (!used[i] && (best < 0 || x[i] > x[best])) best = i;
        used[best] = 1;
        idx[k] = best;
    }
    double z = 0, zq = 0, want[K], wrong[K], lambda = 0;
    const long n = 60000;
    for (int k = 0; k < K; k++) {
        z += exp((double)x[idx[k]] / 0.8);
        zq += exp((double)x[idx[k]]);
    }
    for (int k = 0; k < K; k++) {
        want[k] = exp((double)x[idx[k]] / 0.8) / z;
        wrong[k] = exp((double)x[idx[k]]) / zq;
        lambda += n * (wrong[k] - want[k]) * (wrong[k] - want[k]) / want[k];
    }
    temper_sampling_params p = sampling();
    p.temperature = 0.8f;
    p.top_k = K;
    temper_sampler *s = make(&p, V);
    long outside;
    CHECK_EQ_INT(temper_sampler_apply(s, x, NULL, 0, 0), 0);
    double x2 = draw_chi_square(s, 1234, n, idx, want, K, &outside);
    CHECK(x2 < 31.26);
    CHECK_EQ_INT(outside, 0);
    temper_sampler_free(s);
    /* negative control: temperature ignored */
    p.temperature = 1.0f;
    s = make(&p, V);
    CHECK_EQ_INT(temper_sampler_apply(s, x, NULL, 0, 0), 0);
    double x2_wrong = draw_chi_square(s, 1234, n, idx, want, K, &outside);
    temper_sampler_free(s);
    fprintf(stderr, "  chi-square (11 dof) = %.3f; temperature ignored: %.1f (lambda %.0f)\n", x2, x2_wrong,
            lambda);
    CHECK(lambda >= 100);
    CHECK(x2_wrong >= 31.26);
}

static void test_sampling_deterministic(void) {
    /* same seed and stream: same tokens, whether another stream is drawn
     * in between or not */
    enum { V = 1000 };
    static float x[V];
    for (int i = 0; i < V; i++) x[i] = (float)((i * 37) % 101) / 25.0f;
    temper_sampling_params p = sampling();
    p.top_p = 0.95f;
    temper_sampler *s = make(&p, V);
    temper_rng a, b, other;
    temper_rng_seed(&a, 5, 2);
    temper_rng_seed(&b, 5, 2);
    temper_rng_seed(&other, 5, 3);
    CHECK_EQ_INT(temper_sampler_apply(s, x, NULL, 0, 0), 0);
    temper_token ta[50], tb[50], t;
    for (int i = 0; i < 50; i++) temper_sampler_sample(s, &a, &ta[i]);
    for (int i = 0; i < 50; i++) {
        temper_sampler_sample(s, &other, &t);
        temper_sampler_sample(s, &b, &tb[i]);
    }
    int same = 1;
    for (int i = 0; i < 50; i++) same &= ta[i] == tb[i];
    CHECK(same);
    temper_sampler_free(s);
}

/* ---- invalid input ---- */

static int init_rc(temper_sampling_params p, const char *needle) {
    temper_sampler *s = NULL;
    int rc = temper_sampler_init(&p, 10, &s);
    if (rc == 0) temper_sampler_free(s);
    else if (needle && !strstr(temper_last_error(), needle)) {
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", temper_last_error(), needle);
        return 0;
    }
    return rc;
}

static void test_invalid_params(void) {
    temper_sampling_params p = sampling();
    p.temperature = -0.5f;
    CHECK_EQ_INT(init_rc(p, "temperature"), TEMPER_EINVAL);
    p.temperature = NAN;
    CHECK_EQ_INT(init_rc(p, "temperature"), TEMPER_EINVAL);
    p = sampling();
    p.top_p = 1.5f;
    CHECK_EQ_INT(init_rc(p, "top_p"), TEMPER_EINVAL);
    p.top_p = -0.1f;
    CHECK_EQ_INT(init_rc(p, "top_p"), TEMPER_EINVAL);
    p.top_p = NAN;
    CHECK_EQ_INT(init_rc(p, "top_p"), TEMPER_EINVAL);
    p = sampling();
    p.top_k = -1;
    CHECK_EQ_INT(init_rc(p, "top_k"), TEMPER_EINVAL);
    p = sampling();
    p.min_p = 2;
    CHECK_EQ_INT(init_rc(p, "min_p"), TEMPER_EINVAL);
    p = sampling();
    p.typical_p = 0;
    CHECK_EQ_INT(init_rc(p, "typical_p"), TEMPER_EINVAL);
    p = sampling();
    p.epsilon_cutoff = 1;
    CHECK_EQ_INT(init_rc(p, "epsilon"), TEMPER_EINVAL);
    p = sampling();
    p.eta_cutoff = -0.1f;
    CHECK_EQ_INT(init_rc(p, "eta"), TEMPER_EINVAL);
    p = sampling();
    p.min_keep = 0;
    CHECK_EQ_INT(init_rc(p, "min_keep"), TEMPER_EINVAL);
    p = sampling();
    p.repetition_penalty = 0;
    CHECK_EQ_INT(init_rc(p, "repetition_penalty"), TEMPER_EINVAL);
    p = sampling();
    p.presence_penalty = 2.5f;
    CHECK_EQ_INT(init_rc(p, "presence"), TEMPER_EINVAL);
    p = sampling();
    p.no_repeat_ngram_size = -2;
    CHECK_EQ_INT(init_rc(p, "no_repeat"), TEMPER_EINVAL);
    p = sampling();
    temper_token eos[1] = {10}; /* V = 10 */
    p.eos_ids = eos;
    p.n_eos = 1;
    CHECK_EQ_INT(init_rc(p, "eos"), TEMPER_EINVAL);
    p = sampling();
    temper_logit_bias b[1] = {{2, NAN}};
    p.logit_bias = b;
    p.n_logit_bias = 1;
    CHECK_EQ_INT(init_rc(p, "bias"), TEMPER_EINVAL);
    b[0].bias = INFINITY;
    CHECK_EQ_INT(init_rc(p, "bias"), TEMPER_EINVAL);
    b[0].bias = NINF; /* a ban is fine */
    CHECK_EQ_INT(init_rc(p, NULL), 0);
    b[0].id = -1;
    CHECK_EQ_INT(init_rc(p, "logit_bias"), TEMPER_EINVAL);
    p = sampling();
    p.order = 7;
    CHECK_EQ_INT(init_rc(p, "order"), TEMPER_EINVAL);
    /* the defaults are valid */
    p = temper_sampling_default_params();
    CHECK_EQ_INT(temper_sampling_params_check(&p), 0);
    CHECK_EQ_INT(p.top_k, 50);
    CHECK_EQ_INT(p.do_sample, 0);
}

static void test_invalid_rows(void) {
    temper_sampling_params p = sampling();
    temper_sampler *s = make(&p, 4);
    float nan_row[4] = {0, NAN, 1, 2}, inf_row[4] = {0, INFINITY, 1, 2};
    float dead[4] = {NINF, NINF, NINF, NINF}, ok[4] = {0, 1, 2, 3};
    CHECK_EQ_INT(temper_sampler_apply(s, nan_row, NULL, 0, 0), TEMPER_EINVAL);
    CHECK(strstr(temper_last_error(), "token 1") != NULL);
    CHECK_EQ_INT(temper_sampler_apply(s, inf_row, NULL, 0, 0), TEMPER_EINVAL);
    CHECK_EQ_INT(temper_sampler_apply(s, dead, NULL, 0, 0), TEMPER_EINVAL);
    temper_token t;
    CHECK_EQ_INT(temper_sampler_sample(s, NULL, &t), TEMPER_ESTATE);
    temper_token bad_hist[2] = {1, 4};
    CHECK_EQ_INT(temper_sampler_apply(s, ok, bad_hist, 2, 0), TEMPER_EINVAL);
    CHECK_EQ_INT(temper_sampler_apply(s, ok, bad_hist, 1, 2), TEMPER_EINVAL);
    CHECK_EQ_INT(temper_sampler_apply(s, ok, NULL, 0, 0), 0);
    CHECK_EQ_INT(temper_sampler_sample(s, NULL, &t), TEMPER_EINVAL); /* no rng */
    temper_sampler_free(s);
    /* a ban of every token through the processors */
    temper_token sup[4] = {0, 1, 2, 3};
    p.suppress_tokens = sup;
    p.n_suppress = 4;
    s = make(&p, 4);
    CHECK_EQ_INT(temper_sampler_apply(s, ok, NULL, 0, 0), TEMPER_EINVAL);
    CHECK(strstr(temper_last_error(), "every token") != NULL);
    temper_sampler_free(s);
    /* a temperature that takes a logit past FLT_MAX: an error, whether the
     * division waits for a top-k (dense) or not; past -FLT_MAX: -inf */
    float big[4] = {-3e38f, 0, 1, 3};
    for (int k = 0; k <= 2; k += 2) {
        p = sampling();
        p.temperature = 1e-39f;
        p.top_k = k;
        s = make(&p, 4);
        CHECK_EQ_INT(temper_sampler_apply(s, ok, NULL, 0, 0), TEMPER_EINVAL);
        CHECK(strstr(temper_last_error(), "larger temperature") != NULL);
        temper_sampler_free(s);
    }
    p = sampling();
    p.temperature = 0.5f;
    s = make(&p, 4);
    CHECK_EQ_INT(temper_sampler_apply(s, big, NULL, 0, 0), 0);
    CHECK(temper_sampler_logprob(s, 0, TEMPER_LOGPROB_PROCESSED) == NINF);
    CHECK_NEAR(exp((double)temper_sampler_logprob(s, 3, TEMPER_LOGPROB_PROCESSED)),
               1.0 / (1.0 + exp(-4.0) + exp(-6.0)), 1e-6);
    temper_sampler_free(s);
}

/* ---- batches of sequences ---- */

/* A generation of n sequences of one id each (id = first + k), allocated
 * as temper_generate's: everything malloc'd, freed by temper_generation_free. */
static temper_generation *batch(int n, int first, int n_top) {
    temper_generation *g = calloc(1, sizeof *g);
    g->seqs = calloc((size_t)n, sizeof *g->seqs);
    g->n_seqs = n;
    g->n_top = n_top;
    g->n_prompt = 3;
    g->n_steps = 1 + first;
    g->n_forward = 10;
    g->decode_seconds = 0.5;
    for (int k = 0; k < n; k++) {
        g->seqs[k].ids = malloc(sizeof(temper_token));
        g->seqs[k].ids[0] = first + k;
        g->seqs[k].n_ids = 1;
    }
    return g;
}

static void test_generation_append(void) {
    temper_generation *a = batch(2, 0, 0), *b = batch(3, 2, 0), *c = batch(1, 9, 5);
    CHECK_EQ_INT(temper_generation_append(a, b), 0); /* b is freed */
    CHECK_EQ_INT(a->n_seqs, 5);
    for (int k = 0; k < 5; k++) CHECK_EQ_INT(a->seqs[k].ids[0], k); /* in order */
    CHECK_EQ_INT(a->n_steps, 3);                                     /* the longest batch */
    CHECK_EQ_INT((int)a->n_forward, 20);
    CHECK_NEAR(a->decode_seconds, 1.0, 1e-12);
    /* batches of different runs do not mix; nothing changes */
    CHECK_EQ_INT(temper_generation_append(a, c), TEMPER_EINVAL);
    CHECK_EQ_INT(a->n_seqs, 5);
    CHECK_EQ_INT(c->n_seqs, 1);
    CHECK_EQ_INT(temper_generation_append(a, NULL), TEMPER_EINVAL);
    temper_generation_free(c);
    temper_generation_free(a);
}

static void run_all(void) {
    RUN(test_temperature_scores);
    RUN(test_temperature_probs);
    RUN(test_top_k_ties);
    RUN(test_top_k_min_keep);
    RUN(test_top_p_crossing_token_kept);
    RUN(test_top_p_min_keep_and_ties);
    RUN(test_top_p_transformers_vector);
    RUN(test_top_p_large_row);
    RUN(test_large_rows_against_sort);
    RUN(test_top_k_clustered_finite);
    RUN(test_min_p);
    RUN(test_typical);
    RUN(test_epsilon);
    RUN(test_eta);
    RUN(test_repetition_penalty);
    RUN(test_presence_frequency);
    RUN(test_no_repeat_ngram);
    RUN(test_min_new_tokens_and_bans);
    RUN(test_logit_bias);
    RUN(test_order_hf_vs_llama_cpp);
    RUN(test_order_describe);
    RUN(test_order_errors);
    RUN(test_greedy);
    RUN(test_raw_and_processed);
    RUN(test_rng_streams);
    RUN(test_sampling_chi_square_small);
    RUN(test_sampling_chi_square_large);
    RUN(test_sampling_deterministic);
    RUN(test_invalid_params);
    RUN(test_invalid_rows);
}

int main(void) {
    /* every test at every SIMD level this CPU runs, down to portable */
    const unsigned sup = temper__simd_supported();
    for (int level = TEMPER__SIMD_NLEVELS - 1; level >= 0; level--) {
        test_level(temper__simd_name(level), (sup & 1u << level) != 0);
        if (!(sup & 1u << level)) continue;
        temper__simd_force(level);
        run_all();
    }
    temper__simd_force(-1);
    RUN(test_generation_append); /* no SIMD in it: once */
    return TEST_SUMMARY();
}
