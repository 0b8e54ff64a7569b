/*
 * test_score.c - the analysis API against hand-computed values.
 *
 * 1. PCA (temper_pca) on point sets whose principal axes are known by
 *    hand, through both of its paths (n <= dim and n > dim), with
 *    scikit-learn's sign rule.
 * 2. A hand-built GPT-2 whose next-token distribution depends on the
 *    current token only, set up as the worked example of
 *    power-sampling.md section 4: after BOS, "a" 0.4 and "b" 0.6; after
 *    "a", " b" with probability 1; after "b", " a" and " b" one half
 *    each. So log p(BOS a ␣b) = ln 0.4 > log p(BOS b ␣a) = ln 0.3, the
 *    power score alpha * log p keeps that order, and the temperature
 *    score at T = 1/2 reverses it (-1.1787 vs -1.0609).
 *    How: one block with every matrix and bias 0 (attention and MLP add
 *    nothing), no position embeddings, so the final state is
 *    LN(wte[token]); wte rows are one-hot e_d, so LN gives
 *    u_d = (e_d - 1/4) / sqrt(3/16 + eps). An lm_head row c with
 *    c_0 + c_1 + c_2 + c_3 = 0 gives logit c . u_d = c_d / sqrt(3/16 + eps),
 *    which sets each (context, token) logit freely. Every other token
 *    gets logit -40 (probability ~1e-13 in total); a token with a zero
 *    embedding row gives logits 0: the uniform distribution.
 * 3. Sliding-window perplexity on that model, windows and weights checked
 *    against the guide's loop worked out by hand.
 */
#include <stdint.h>
#include <unistd.h>

#include "temper.h"
#include "test.h"

/* ---- PCA ------------------------------------------------------------ */

static void test_pca_covariance_path(void) {
    /* 4 points in 2-D (n > dim): centred already; x spread 2, y 0.5. */
    const float x[] = {1, 0, -1, 0, 0, 0.5f, 0, -0.5f};
    double proj[8], ev[2];
    CHECK_EQ_INT(temper_pca(x, 4, 2, 2, proj, ev), 0);
    CHECK_NEAR(ev[0], 2.0 / 2.5, 1e-12);
    CHECK_NEAR(ev[1], 0.5 / 2.5, 1e-12);
    const double want[8] = {1, 0, -1, 0, 0, 0.5, 0, -0.5}; /* largest |PC| positive, first wins */
    for (int i = 0; i < 8; i++) CHECK_NEAR(proj[i], want[i], 1e-12);
}

static void test_pca_gram_path(void) {
    /* 3 points in 5-D (n <= dim), mean 10 added to every column. x axis:
     * 2, -2, 0 (sum of squares 8); y: 1, 1, -2 (6); uncorrelated. The PC2
     * column has its largest magnitude at -2: flipped to +2. */
    float x[15];
    const float base[3][2] = {{2, 1}, {-2, 1}, {0, -2}};
    for (int i = 0; i < 3; i++)
        for (int d = 0; d < 5; d++) x[i * 5 + d] = 10 + (d < 2 ? base[i][d] : 0);
    double proj[6], ev[2];
    CHECK_EQ_INT(temper_pca(x, 3, 5, 2, proj, ev), 0);
    CHECK_NEAR(ev[0], 8.0 / 14, 1e-6);
    CHECK_NEAR(ev[1], 6.0 / 14, 1e-6);
    const double want[6] = {2, -1, -2, -1, 0, 2};
    for (int i = 0; i < 6; i++) CHECK_NEAR(proj[i], want[i], 1e-5);
}

static void test_pca_errors(void) {
    const float x[4] = {1, 2, 3, 4};
    double proj[8];
    CHECK_EQ_INT(temper_pca(x, 2, 2, 3, proj, NULL), TEMPER_EINVAL); /* k > min(n, dim) */
    CHECK_EQ_INT(temper_pca(x, 2, 2, 0, proj, NULL), TEMPER_EINVAL);
    CHECK_EQ_INT(temper_pca(NULL, 2, 2, 1, proj, NULL), TEMPER_EINVAL);
    CHECK(strstr(temper_last_error(), "temper_pca") != NULL);
    /* all points equal: ratios 0, coordinates 0 */
    const float same[6] = {1, 1, 1, 1, 1, 1};
    double ev[1];
    CHECK_EQ_INT(temper_pca(same, 3, 2, 1, proj, ev), 0);
    CHECK_NEAR(ev[0], 0, 0);
    CHECK_NEAR(proj[0], 0, 1e-12);
}

/* ---- the hand-built model --------------------------------------------- */

enum { V = 50257, C = 4, P = 16, BOS = 50256, TA = 64, TB = 65, SA = 257, SB = 275 };

typedef struct tensor_spec {
    const char *name;
    int rows, cols; /* cols 0: a vector of rows values */
    const float *data;
} tensor_spec;

/* Write a safetensors file: 8-byte header length, JSON header, data. */
static int write_safetensors(const char *path, const tensor_spec *t, int n) {
    char header[8192];
    size_t len = 0, off = 0;
    len += (size_t)snprintf(header + len, sizeof header - len, "{");
    for (int k = 0; k < n; k++) {
        size_t bytes = (size_t)t[k].rows * (t[k].cols ? t[k].cols : 1) * 4;
        if (t[k].cols)
            len += (size_t)snprintf(header + len, sizeof header - len,
                                    "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%d,%d],\"data_offsets\":[%zu,%zu]}",
                                    k ? "," : "", t[k].name, t[k].rows, t[k].cols, off, off + bytes);
        else
            len += (size_t)snprintf(header + len, sizeof header - len,
                                    "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%zu,%zu]}",
                                    k ? "," : "", t[k].name, t[k].rows, off, off + bytes);
        off += bytes;
    }
    len += (size_t)snprintf(header + len, sizeof header - len, "}");
    while (len % 8) header[len++] = ' ';
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    uint64_t hl = len;
    fwrite(&hl, 8, 1, f);
    fwrite(header, 1, len, f);
    for (int k = 0; k < n; k++)
        fwrite(t[k].data, 4, (size_t)t[k].rows * (t[k].cols ? t[k].cols : 1), f);
    return fclose(f);
}

static char model_dir[64];

/* Set lm_head row v so that its logit after context one-hot d (0: BOS,
 * 1: "a", 2: "b") is logit[d]. */
static void set_head_row(float *row, const double logit[3], double alpha) {
    double s = 0;
    for (int d = 0; d < 3; d++) row[d] = (float)(logit[d] / alpha), s += row[d];
    row[3] = (float)-s;
}

static int build_toy_model(void) {
    snprintf(model_dir, sizeof model_dir, "/tmp/temper-test-score-XXXXXX");
    if (!mkdtemp(model_dir)) return -1;
    static float wte[V * C], head[V * C], wpe[P * C];
    static float zeros_cc[C * 3 * C], ones[3 * C], zeros_v[4 * C * C];
    for (int i = 0; i < 3 * C; i++) ones[i] = 1;
    memset(wte, 0, sizeof wte);
    wte[BOS * C + 0] = 1, wte[TA * C + 1] = 1, wte[TB * C + 2] = 1;
    const double alpha = 1 / sqrt(3.0 / 16 + 1e-5); /* |u_d| scale, with ln eps 1e-5 */
    const double other[3] = {-40, -40, -40};
    for (int v = 0; v < V; v++) set_head_row(head + (size_t)v * C, other, alpha);
    const double la[3] = {log(0.4), -40, -40}, lb[3] = {log(0.6), -40, -40};
    const double lsa[3] = {-40, -40, 0}, lsb[3] = {-40, 0, 0};
    set_head_row(head + (size_t)TA * C, la, alpha);
    set_head_row(head + (size_t)TB * C, lb, alpha);
    set_head_row(head + (size_t)SA * C, lsa, alpha);
    set_head_row(head + (size_t)SB * C, lsb, alpha);
    const tensor_spec t[] = {
        {"wte.weight", V, C, wte},
        {"wpe.weight", P, C, wpe},
        {"h.0.ln_1.weight", C, 0, ones},
        {"h.0.ln_1.bias", C, 0, zeros_v},
        {"h.0.attn.c_attn.weight", C, 3 * C, zeros_cc},
        {"h.0.attn.c_attn.bias", 3 * C, 0, zeros_v},
        {"h.0.attn.c_proj.weight", C, C, zeros_v},
        {"h.0.attn.c_proj.bias", C, 0, zeros_v},
        {"h.0.ln_2.weight", C, 0, ones},
        {"h.0.ln_2.bias", C, 0, zeros_v},
        {"h.0.mlp.c_fc.weight", C, 4 * C, zeros_v},
        {"h.0.mlp.c_fc.bias", 4 * C, 0, zeros_v},
        {"h.0.mlp.c_proj.weight", 4 * C, C, zeros_v},
        {"h.0.mlp.c_proj.bias", C, 0, zeros_v},
        {"ln_f.weight", C, 0, ones},
        {"ln_f.bias", C, 0, zeros_v},
        {"lm_head.weight", V, C, head},
    };
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors", model_dir);
    if (write_safetensors(path, t, (int)(sizeof t / sizeof t[0])) != 0) return -1;
    snprintf(path, sizeof path, "%s/config.json", model_dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "{\"model_type\": \"gpt2\", \"architectures\": [\"GPT2LMHeadModel\"], "
               "\"vocab_size\": %d, \"n_embd\": %d, \"n_head\": 1, \"n_layer\": 1, \"n_inner\": %d, "
               "\"n_positions\": %d, \"n_ctx\": %d, \"layer_norm_epsilon\": 1e-05, "
               "\"activation_function\": \"gelu_new\", \"tie_word_embeddings\": false, "
               "\"bos_token_id\": 50256, \"eos_token_id\": 50256}\n", V, C, 4 * C, P, P);
    return fclose(f);
}

static void remove_toy_model(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors", model_dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/config.json", model_dir);
    unlink(path);
    rmdir(model_dir);
}

static temper_model *toy;
static temper_context *toy_ctx;

static void test_power_vs_temperature(void) {
    if (!toy_ctx) {
        CHECK(!"the hand-built model did not load");
        return;
    }
    const temper_token x[] = {BOS, TA, SB}, y[] = {BOS, TB, SA};
    temper_score_params p = temper_score_default_params();
    CHECK_NEAR(p.alpha, 2, 0);
    CHECK_NEAR(p.temperature, 0.5, 0);
    temper_sequence_score sx, sy;
    double lp[3], tlp[3];
    CHECK_EQ_INT(temper_score_sequence(toy_ctx, x, 3, &p, &sx, lp, tlp), 0);
    CHECK(isnan(lp[0]) && isnan(tlp[0]));
    CHECK_NEAR(lp[1], log(0.4), 1e-5);
    CHECK_NEAR(lp[2], 0, 1e-5);
    /* T = 1/2: log softmax(2 z)(a) = 2 ln 0.4 - ln(0.4^2 + 0.6^2) */
    CHECK_NEAR(tlp[1], 2 * log(0.4) - log(0.52), 1e-5);
    CHECK_EQ_INT(temper_score_sequence(toy_ctx, y, 3, &p, &sy, NULL, NULL), 0);
    CHECK_EQ_INT(sx.n_tokens, 3);
    CHECK_EQ_INT(sx.n_scored, 2);
    CHECK_NEAR(sx.log_prob, log(0.4), 1e-5);
    CHECK_NEAR(sy.log_prob, log(0.3), 1e-5);
    CHECK_NEAR(sx.power_score, 2 * log(0.4), 2e-5);
    CHECK_NEAR(sy.power_score, 2 * log(0.3), 2e-5);
    CHECK_NEAR(sx.temp_score, 2 * log(0.4) - log(0.52), 2e-5);                  /* -1.1787 */
    CHECK_NEAR(sy.temp_score, 2 * log(0.6) - log(0.52) + 2 * log(0.5) - log(0.5), 2e-5); /* -1.0609 */
    CHECK_NEAR(exp(sx.temp_score), 0.3077, 1e-4); /* the values of power-sampling.md */
    CHECK_NEAR(exp(sy.temp_score), 0.3462, 1e-4);
    CHECK_NEAR(sx.mean_log_prob, log(0.4) / 2, 1e-5);
    CHECK_NEAR(sx.perplexity, exp(-log(0.4) / 2), 1e-5);
    /* the point of seed 000: log p and alpha log p agree, the temperature score does not */
    CHECK(sx.log_prob > sy.log_prob);
    CHECK(sx.power_score > sy.power_score);
    CHECK(sx.temp_score < sy.temp_score);
    /* T = 1: the temperature score is log p */
    p.temperature = 1;
    CHECK_EQ_INT(temper_score_sequence(toy_ctx, y, 3, &p, &sy, NULL, NULL), 0);
    CHECK_NEAR(sy.temp_score, sy.log_prob, 1e-12);
}

static void test_score_errors(void) {
    if (!toy_ctx) return;
    const temper_token one[] = {BOS};
    temper_sequence_score s;
    CHECK_EQ_INT(temper_score_sequence(toy_ctx, one, 1, NULL, &s, NULL, NULL), TEMPER_EINVAL);
    CHECK(strstr(temper_last_error(), "BOS") != NULL);
    temper_score_params p = temper_score_default_params();
    p.temperature = 0;
    const temper_token two[] = {BOS, TA};
    CHECK_EQ_INT(temper_score_sequence(toy_ctx, two, 2, &p, &s, NULL, NULL), TEMPER_EINVAL);
    temper_token long_seq[P + 1];
    for (int i = 0; i <= P; i++) long_seq[i] = BOS;
    CHECK_EQ_INT(temper_score_sequence(toy_ctx, long_seq, P + 1, NULL, &s, NULL, NULL), TEMPER_ECONTEXT);
    const temper_token bad[] = {BOS, V};
    CHECK(temper_score_sequence(toy_ctx, bad, 2, NULL, &s, NULL, NULL) < 0);
}

/* temper_eval_capture_layers: the chosen layers' attention only, in
 * their slots, the same values as a full capture; bad lists refused. The
 * toy model has 1 layer and 1 head. */
static void test_capture_layers(void) {
    if (!toy_ctx) return;
    const temper_token ids[] = {BOS, TA, SB};
    float full[9], one[9], none[9];
    for (int i = 0; i < 9; i++) none[i] = -7.0f;
    CHECK_EQ_INT(temper_seq_truncate(toy_ctx, 0, 0), 0);
    CHECK_EQ_INT(temper_eval_capture(toy_ctx, 0, ids, 3, NULL, 0, full, NULL), 0);
    const int l0[] = {0};
    CHECK_EQ_INT(temper_seq_truncate(toy_ctx, 0, 0), 0);
    CHECK_EQ_INT(temper_eval_capture_layers(toy_ctx, 0, ids, 3, NULL, 0, l0, 1, one, NULL), 0);
    for (int i = 0; i < 9; i++) CHECK(one[i] == full[i]);
    CHECK_NEAR(one[3] + one[4], 1.0, 1e-6); /* row 1 sums to 1, causal zero after */
    CHECK(one[5] == 0.0f);
    CHECK_EQ_INT(temper_seq_truncate(toy_ctx, 0, 0), 0);
    CHECK_EQ_INT(temper_eval_capture_layers(toy_ctx, 0, ids, 3, NULL, 0, l0, 0, none, NULL), 0);
    for (int i = 0; i < 9; i++) CHECK(none[i] == -7.0f); /* nothing captured */
    CHECK_EQ_INT(temper_seq_len(toy_ctx, 0), 3);
    const int bad_range[] = {1}, bad_order[] = {0, 0};
    CHECK_EQ_INT(temper_seq_truncate(toy_ctx, 0, 0), 0);
    CHECK_EQ_INT(temper_eval_capture_layers(toy_ctx, 0, ids, 3, NULL, 0, bad_range, 1, one, NULL),
                 TEMPER_EINVAL);
    CHECK(strstr(temper_last_error(), "1 layers") != NULL);
    CHECK_EQ_INT(temper_eval_capture_layers(toy_ctx, 0, ids, 3, NULL, 0, bad_order, 2, one, NULL),
                 TEMPER_EINVAL);
    CHECK(strstr(temper_last_error(), "increasing") != NULL);
    CHECK_EQ_INT(temper_eval_capture_layers(toy_ctx, 0, ids, 3, NULL, 0, NULL, 1, one, NULL),
                 TEMPER_EINVAL);
    CHECK_EQ_INT(temper_seq_len(toy_ctx, 0), 0); /* refused: nothing appended */
}

static int cancel_at_second(const temper_ppl_window *w, int index, int n_windows, void *user) {
    (void)w, (void)n_windows;
    *(int *)user += 1;
    return index == 1;
}

static void test_perplexity_windows(void) {
    if (!toy_ctx) return;
    /* NLLs of each token given the previous one: ln 0.4, 0 (" b" is
     * certain after "a"), ln V (after " b", whose embedding is 0: uniform),
     * ln 0.6, ln 2. */
    const temper_token ids[] = {BOS, TA, SB, BOS, TB, SA};
    const double nll[6] = {NAN, -log(0.4), 0, log((double)V), -log(0.6), log(2)};
    temper_perplexity_params p = temper_perplexity_default_params();
    p.max_length = 3;
    p.stride = 2;
    temper_ppl_window w[8];
    temper_perplexity_result r;
    double tok[6];
    /* Guide: [0,3) trg 3 -> tokens 1,2 weight 2; [2,5) trg 2 -> 3,4 weight 1;
     * [4,6) trg 1 -> token 5, weight 0; end == 6: stop. */
    CHECK_EQ_INT(temper_perplexity(toy_ctx, ids, 6, &p, &r, w, 8, tok), 3);
    CHECK_EQ_INT(r.n_windows, 3);
    const int want[3][5] = {{0, 3, 3, 2, 2}, {2, 5, 2, 2, 1}, {4, 6, 1, 1, 0}};
    for (int k = 0; k < 3; k++) {
        CHECK_EQ_INT(w[k].begin, want[k][0]);
        CHECK_EQ_INT(w[k].end, want[k][1]);
        CHECK_EQ_INT(w[k].trg_len, want[k][2]);
        CHECK_EQ_INT(w[k].n_scored, want[k][3]);
        CHECK_EQ_INT(w[k].weight, want[k][4]);
    }
    CHECK_NEAR(w[0].nll, (nll[1] + nll[2]) / 2, 1e-5);
    CHECK_NEAR(w[1].nll, (nll[3] + nll[4]) / 2, 1e-5);
    CHECK_NEAR(w[2].nll, nll[5], 1e-5);
    double guide = (2 * (nll[1] + nll[2]) / 2 + 1 * (nll[3] + nll[4]) / 2) / 3;
    CHECK_NEAR(r.nll, guide, 1e-5);
    CHECK_NEAR(r.perplexity, exp(guide), 1e-4 * exp(guide));
    double mean = 0, ss = 0;
    for (int i = 1; i < 6; i++) mean += nll[i] / 5;
    for (int i = 1; i < 6; i++) ss += (nll[i] - mean) * (nll[i] - mean);
    CHECK_NEAR(r.token_nll, mean, 1e-5);
    CHECK_NEAR(r.nll_stderr, sqrt(ss / 4) / sqrt(5), 1e-5);
    CHECK_NEAR(r.perplexity_stderr, exp(mean) * sqrt(ss / 4) / sqrt(5), 1e-4);
    CHECK(isnan(tok[0]));
    for (int i = 1; i < 6; i++) CHECK_NEAR(tok[i], nll[i], 1e-5);
    /* buffer rule: with cap 1 only the first window is written */
    temper_ppl_window one[1];
    CHECK_EQ_INT(temper_perplexity(toy_ctx, ids, 6, &p, &r, one, 1, NULL), 3);
    CHECK_EQ_INT(one[0].end, 3);
    /* disjoint windows ([0,3), [3,6)): the guide = the token mean */
    p.stride = 0;
    CHECK_EQ_INT(temper_perplexity(toy_ctx, ids, 6, &p, &r, w, 8, NULL), 2);
    CHECK_EQ_INT(w[1].n_scored, 2);
    CHECK_EQ_INT(w[1].weight, 2);
    double scored = (nll[1] + nll[2] + nll[4] + nll[5]) / 4; /* token 3 is a window's first */
    CHECK_NEAR(r.nll, scored, 1e-5);
    CHECK_NEAR(r.token_nll, scored, 1e-5);
    CHECK_EQ_INT(r.n_scored, 4);
    CHECK_EQ_INT(temper_perplexity(toy_ctx, ids, 6, &p, &r, w, 8, tok), 2);
    CHECK(isnan(tok[0]) && isnan(tok[3]) && !isnan(tok[4]));
    /* one window over everything: exp(loss) of labels=input_ids */
    p.max_length = 0;
    CHECK_EQ_INT(temper_perplexity(toy_ctx, ids, 6, &p, &r, w, 8, NULL), 1);
    CHECK_NEAR(r.nll, mean, 1e-5);
    CHECK_NEAR(r.token_nll, mean, 1e-5);
    /* errors and cancel */
    p.max_length = 3, p.stride = 4;
    CHECK_EQ_INT(temper_perplexity(toy_ctx, ids, 6, &p, &r, w, 8, NULL), TEMPER_EINVAL);
    p.stride = 1;
    int calls = 0;
    p.progress = cancel_at_second, p.user = &calls;
    CHECK_EQ_INT(temper_perplexity(toy_ctx, ids, 6, &p, &r, w, 8, NULL), TEMPER_ECANCELED);
    CHECK_EQ_INT(calls, 2);
    CHECK_EQ_INT(temper_perplexity(toy_ctx, ids, 1, NULL, &r, NULL, 0, NULL), TEMPER_EINVAL);
}

int main(void) {
    RUN(test_pca_covariance_path);
    RUN(test_pca_gram_path);
    RUN(test_pca_errors);
    temper_model_params mp = temper_model_default_params();
    char tok_path[512];
    snprintf(tok_path, sizeof tok_path, "%s/gpt2", test_fixtures());
    mp.tokenizer_path = tok_path;
    if (build_toy_model() != 0 || temper_model_load(model_dir, &mp, &toy) < 0 ||
        temper_context_init(toy, NULL, &toy_ctx) < 0)
        fprintf(stderr, "hand-built model: %s\n", temper_last_error());
    RUN(test_power_vs_temperature);
    RUN(test_score_errors);
    RUN(test_capture_layers);
    RUN(test_perplexity_windows);
    temper_context_free(toy_ctx);
    temper_model_free(toy);
    remove_toy_model();
    return TEST_SUMMARY();
}
