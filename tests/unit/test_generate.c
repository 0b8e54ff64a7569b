/*
 * test_generate.c - step-wise generation (temper_gen) on stories260K's
 * real weights: requests batched together give the same bits as each
 * alone, a cancelled request stops within one step, the abort hook stops
 * an evaluation and appends nothing, contexts sharing one thread pool give
 * the same logits as alone; the parameter table (names, defaults, ranges,
 * the field each one sets).
 */
#include <pthread.h>

#include "temper.h"
#include "test.h"

static temper_model *model;

static int load_model(void) {
    if (model) return 0;
    char path[512];
    snprintf(path, sizeof path, "%s/stories260K/stories260K.bin", test_fixtures());
    temper_model_params mp = temper_model_default_params();
    mp.offline = 1;
    int rc = temper_model_load(path, &mp, &model);
    if (rc < 0) fprintf(stderr, "load %s: %s\n", path, temper_last_error());
    return rc;
}

static temper_context *new_ctx(int n_seq, int n_threads, temper_threadpool *pool) {
    temper_context_params cp = temper_context_default_params();
    cp.n_seq = n_seq;
    cp.n_threads = n_threads;
    cp.pool = pool;
    temper_context *ctx = NULL;
    if (temper_context_init(model, &cp, &ctx) < 0) fprintf(stderr, "%s\n", temper_last_error());
    return ctx;
}

static int tokenize(const char *text, temper_token *ids, int cap) {
    return temper_tokenize(temper_model_tokenizer(model), text, strlen(text),
                           TEMPER_TOKENIZE_ADD_SPECIAL, ids, NULL, cap);
}

/* Eight requests: different prompts, decoding controls, seeds, lengths. */
#define N_REQ 8
static const char *const prompts[N_REQ] = {
    "Once upon a time", "The cat", "Lily and Ben went to the park", "One day",
    "Tom had a red ball", "She", "The little dog was sad because", "Once upon a time",
};
static const char *const stop_str[] = {"park"};

static temper_generate_params req_params(int i) {
    temper_generate_params p = temper_generate_default_params();
    p.sampling.top_k = 0;
    p.max_new_tokens = 12 + 5 * i;
    p.seed = 1000 + 17 * (uint64_t)i;
    p.n_top = i % 4;
    p.sampling.do_sample = i != 0;
    switch (i) {
    case 1: p.sampling.temperature = 0.8f; p.sampling.top_k = 40; break;
    case 2: p.sampling.top_p = 0.9f; p.stop = stop_str; p.n_stop = 1; break;
    case 3: p.sampling.min_p = 0.05f; p.sampling.temperature = 1.2f; break;
    case 4: p.sampling.repetition_penalty = 1.3f; p.sampling.typical_p = 0.9f; break;
    case 5: p.sampling.temperature = 0.5f; p.ignore_eos = 1; break;
    case 6: p.sampling.no_repeat_ngram_size = 2; p.sampling.eta_cutoff = 0.001f; break;
    case 7: p.sampling.epsilon_cutoff = 0.01f; p.sampling.temperature = 0.9f; break;
    }
    return p;
}

static int same_seq(const temper_sequence *a, const temper_sequence *b, int n_top) {
    if (a->n_ids != b->n_ids || a->finish_reason != b->finish_reason) return 0;
    if (memcmp(a->ids, b->ids, sizeof(temper_token) * (size_t)a->n_ids) != 0) return 0;
    for (int k = 0; k < a->n_ids; k++) /* bit for bit, -inf included */
        if (memcmp(&a->probs[k].logprob, &b->probs[k].logprob, sizeof(float)) != 0 ||
            memcmp(&a->probs[k].logprob_processed, &b->probs[k].logprob_processed, sizeof(float)) != 0)
            return 0;
    for (int k = 0; k < a->n_ids * n_top; k++)
        if (a->top[k].id != b->top[k].id ||
            memcmp(&a->top[k].logprob, &b->top[k].logprob, sizeof(float)) != 0 ||
            memcmp(&a->top[k].logprob_processed, &b->top[k].logprob_processed, sizeof(float)) != 0)
            return 0;
    return memcmp(&a->sum_logprob, &b->sum_logprob, sizeof(double)) == 0;
}

/* 8 requests stepped together (two of them joining late) == 8 runs of
 * temper_generate alone, bit for bit. */
static void test_batched_equals_alone(void) {
    if (load_model() < 0) { CHECK(0); return; }
    temper_token ids[N_REQ][64];
    int n[N_REQ];
    for (int i = 0; i < N_REQ; i++) {
        n[i] = tokenize(prompts[i], ids[i], 64);
        CHECK(n[i] > 0 && n[i] <= 64);
    }
    temper_context *ctx = new_ctx(N_REQ, 2, NULL);
    temper_context *alone_ctx = new_ctx(1, 1, NULL);
    CHECK(ctx && alone_ctx);
    if (!ctx || !alone_ctx) return;
    temper_gen *gens[N_REQ] = {0};
    temper_generate_params ps[N_REQ];
    for (int i = 0; i < N_REQ; i++) {
        ps[i] = req_params(i);
        CHECK_EQ_INT(temper_gen_new(ctx, i, ids[i], n[i], &ps[i], (uint64_t)i, &gens[i]), 0);
    }
    /* requests 6 and 7 join after 3 steps of the others */
    int live = 0, steps = 0, finished_mid = 0;
    for (int s = 0; s < 3; s++) CHECK(temper_gen_step(gens, 6) >= 0);
    do {
        live = temper_gen_step(gens, N_REQ);
        CHECK(live >= 0);
        if (live < N_REQ && live > 0) finished_mid = 1;
    } while (live > 0 && ++steps < 1000);
    CHECK(finished_mid); /* requests left the batch while others went on */
    int reasons = 0, stopped = 0;
    for (int i = 0; i < N_REQ; i++) {
        temper_generation *g = NULL;
        temper_generate_params p = ps[i];
        p.first_stream = i;
        CHECK_EQ_INT(temper_generate(alone_ctx, ids[i], n[i], &p, &g), 0);
        if (!g) continue;
        const temper_sequence *s = temper_gen_sequence(gens[i]);
        CHECK(s->n_ids > 0);
        if (!same_seq(s, &g->seqs[0], p.n_top)) {
            fprintf(stderr, "request %d: batched and alone differ (%d vs %d tokens)\n", i, s->n_ids,
                    g->seqs[0].n_ids);
            CHECK(0);
        }
        reasons |= 1 << s->finish_reason;
        stopped += s->finish_reason == TEMPER_FINISH_STOP;
        temper_generation_free(g);
    }
    CHECK(reasons & (1 << TEMPER_FINISH_LENGTH));
    for (int i = 0; i < N_REQ; i++) temper_gen_free(gens[i]);
    temper_context_free(ctx);
    temper_context_free(alone_ctx);
}

/* Two requests of one prompt: sharing the evaluated prompt gives the same
 * as evaluating it twice. */
static void test_share_prompt(void) {
    if (load_model() < 0) { CHECK(0); return; }
    temper_token ids[64];
    int n = tokenize("Once upon a time", ids, 64);
    temper_context *ctx = new_ctx(3, 1, NULL);
    if (!ctx) { CHECK(0); return; }
    temper_generate_params p = req_params(1);
    temper_gen *g[3] = {0};
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(temper_gen_new(ctx, i, ids, n, &p, 5, &g[i]), 0);
    CHECK_EQ_INT(temper_gen_prefill(g[0]), 0);
    CHECK_EQ_INT(temper_gen_share_prompt(g[1], g[0]), 0);
    CHECK_EQ_INT(temper_gen_share_prompt(g[1], g[0]), TEMPER_ESTATE); /* already has it */
    while (temper_gen_step(g, 3) > 0) {}
    CHECK(same_seq(temper_gen_sequence(g[0]), temper_gen_sequence(g[1]), 0));
    CHECK(same_seq(temper_gen_sequence(g[0]), temper_gen_sequence(g[2]), 0));
    CHECK_EQ_INT(temper_gen_n_forward(g[1]), temper_gen_n_forward(g[0]) - n);
    for (int i = 0; i < 3; i++) temper_gen_free(g[i]);
    temper_context_free(ctx);
}

/* A second request of a slot reuses the prompt prefix its first one left
 * there: only the new tokens are evaluated, and the result is the one of a
 * whole evaluation (same tokens, log-probs to float rounding). */
static void test_reuse_prefix(void) {
    if (load_model() < 0) { CHECK(0); return; }
    temper_token sys[64], full[128];
    int ns = tokenize("Once upon a time, there was a little girl named Lily.", sys, 64);
    int nf = tokenize("Once upon a time, there was a little girl named Lily. She liked", full, 128);
    CHECK(ns > 4 && nf > ns && memcmp(sys, full, sizeof(temper_token) * (size_t)ns) == 0);
    temper_context *ctx = new_ctx(1, 1, NULL), *alone = new_ctx(1, 1, NULL);
    if (!ctx || !alone) { CHECK(0); return; }
    temper_generate_params p = req_params(3);
    p.ignore_eos = 1;
    temper_gen *first = NULL, *second = NULL, *ref = NULL;
    CHECK_EQ_INT(temper_gen_new(ctx, 0, sys, ns, &p, 0, &first), 0);
    while (temper_gen_step(&first, 1) > 0) {}
    CHECK(temper_seq_len(ctx, 0) >= ns);
    CHECK_EQ_INT(temper_gen_new(ctx, 0, full, nf, &p, 1, &second), 0);
    CHECK_EQ_INT(temper_gen_reuse_prefix(second, temper_seq_len(ctx, 0) + 1), TEMPER_EINVAL);
    CHECK_EQ_INT(temper_gen_reuse_prefix(second, ns), 0);
    while (temper_gen_step(&second, 1) > 0) {}
    CHECK_EQ_INT(temper_gen_n_forward(second), nf - ns + temper_gen_sequence(second)->n_ids - 1);
    CHECK_EQ_INT(temper_gen_reuse_prefix(second, 1), TEMPER_ESTATE);
    CHECK_EQ_INT(temper_gen_new(alone, 0, full, nf, &p, 1, &ref), 0);
    while (temper_gen_step(&ref, 1) > 0) {}
    const temper_sequence *a = temper_gen_sequence(second), *b = temper_gen_sequence(ref);
    CHECK_EQ_INT(a->n_ids, b->n_ids);
    CHECK(a->n_ids == b->n_ids && memcmp(a->ids, b->ids, sizeof(temper_token) * (size_t)a->n_ids) == 0);
    for (int k = 0; k < a->n_ids && k < b->n_ids; k++)
        CHECK_NEAR(a->probs[k].logprob, b->probs[k].logprob, 1e-4);
    temper_gen_free(first);
    temper_gen_free(second);
    temper_gen_free(ref);
    temper_context_free(ctx);
    temper_context_free(alone);
}

typedef struct cb_state {
    int calls[N_REQ];
    int cancel_seq, cancel_at;
    char text[N_REQ][4096];
    size_t len[N_REQ];
    int bad;
} cb_state;

static int on_token(const temper_token_event *e, void *user) {
    cb_state *st = user;
    if (e->seq < 0 || e->seq >= N_REQ || e->index != st->calls[e->seq] || !e->prob ||
        e->prob->id != e->id || (e->n_top && !e->top))
        st->bad = 1;
    st->calls[e->seq]++;
    if (st->len[e->seq] + e->piece_len < sizeof st->text[0]) {
        memcpy(st->text[e->seq] + st->len[e->seq], e->piece, e->piece_len);
        st->len[e->seq] += e->piece_len;
    }
    return e->seq == st->cancel_seq && e->index == st->cancel_at;
}

/* The callback cancels a request within the step (its token kept), and
 * temper_gen_cancel() from outside before the next one; the others go on
 * as if alone. The pieces join into the decoded text. */
static void test_cancel(void) {
    if (load_model() < 0) { CHECK(0); return; }
    temper_token ids[3][64];
    int n[3];
    for (int i = 0; i < 3; i++) n[i] = tokenize(prompts[i], ids[i], 64);
    temper_context *ctx = new_ctx(3, 1, NULL);
    if (!ctx) { CHECK(0); return; }
    cb_state st = {.cancel_seq = 1, .cancel_at = 3};
    temper_gen *g[3] = {0};
    temper_generate_params ps[3];
    for (int i = 0; i < 3; i++) {
        ps[i] = req_params(i + 1);
        ps[i].max_new_tokens = 30;
        ps[i].ignore_eos = 1;
        ps[i].n_stop = 0;
        ps[i].on_token = on_token;
        ps[i].user = &st;
        CHECK_EQ_INT(temper_gen_new(ctx, i, ids[i], n[i], &ps[i], (uint64_t)i, &g[i]), 0);
    }
    for (int s = 0; s < 6; s++) CHECK(temper_gen_step(g, 3) >= 0);
    /* request 1 asked to stop at its 4th token, in the step that made it */
    CHECK_EQ_INT(temper_gen_sequence(g[1])->n_ids, 4);
    CHECK_EQ_INT(temper_gen_finish_reason(g[1]), TEMPER_FINISH_CANCELED);
    CHECK_EQ_INT(st.calls[1], 4);
    /* request 2 is cancelled from outside: no token after that */
    CHECK_EQ_INT(temper_gen_sequence(g[2])->n_ids, 6);
    temper_gen_cancel(g[2]);
    CHECK_EQ_INT(temper_gen_step(g, 3), 1);
    CHECK_EQ_INT(temper_gen_sequence(g[2])->n_ids, 6);
    CHECK_EQ_INT(temper_gen_finish_reason(g[2]), TEMPER_FINISH_CANCELED);
    CHECK_EQ_INT(temper_gen_sequence(g[0])->n_ids, 7);
    while (temper_gen_step(g, 3) > 0) {}
    CHECK_EQ_INT(temper_gen_finish_reason(g[0]), TEMPER_FINISH_LENGTH);
    CHECK(!st.bad);
    /* request 0 is the same as alone */
    temper_context *alone = new_ctx(1, 1, NULL);
    temper_generate_params p = ps[0];
    p.on_token = NULL;
    temper_generation *gen = NULL;
    CHECK_EQ_INT(temper_generate(alone, ids[0], n[0], &p, &gen), 0);
    if (gen) CHECK(same_seq(temper_gen_sequence(g[0]), &gen->seqs[0], p.n_top));
    temper_generation_free(gen);
    /* the pieces of each request join into its decoded text */
    for (int i = 0; i < 3; i++) {
        const temper_sequence *s = temper_gen_sequence(g[i]);
        char want[4096];
        int len = temper_detokenize(temper_model_tokenizer(model), s->ids, s->n_ids,
                                    TEMPER_DETOKENIZE_SKIP_SPECIAL, want, sizeof want);
        CHECK(len >= 0 && (size_t)len == st.len[i] && memcmp(want, st.text[i], st.len[i]) == 0);
    }
    for (int i = 0; i < 3; i++) temper_gen_free(g[i]);
    temper_context_free(ctx);
    temper_context_free(alone);
}

static int abort_after(void *user) {
    int *left = user;
    return (*left)-- <= 0;
}

/* The abort hook stops temper_eval between layers and nothing is appended;
 * temper_generate and temper_gen_step give TEMPER_ECANCELED. */
static void test_abort(void) {
    if (load_model() < 0) { CHECK(0); return; }
    temper_token ids[64];
    int n = tokenize("Once upon a time", ids, 64);
    temper_context *ctx = new_ctx(2, 1, NULL);
    if (!ctx) { CHECK(0); return; }
    temper_model_info mi;
    temper_model_get_info(model, &mi);
    int left = 2; /* stops before the third layer */
    temper_context_set_abort(ctx, abort_after, &left);
    CHECK_EQ_INT(temper_eval(ctx, 0, ids, n, NULL, 0), TEMPER_ECANCELED);
    CHECK_EQ_INT(temper_seq_len(ctx, 0), 0);
    CHECK(left == -1); /* asked once per layer until it said stop */
    left = mi.n_layer; /* every layer of one evaluation, then stop */
    CHECK_EQ_INT(temper_eval(ctx, 0, ids, n, NULL, 0), 0);
    CHECK_EQ_INT(temper_seq_len(ctx, 0), n);
    CHECK_EQ_INT(temper_eval(ctx, 0, ids, 1, NULL, 0), TEMPER_ECANCELED);
    CHECK_EQ_INT(temper_seq_len(ctx, 0), n);
    int slots[2] = {0, 1};
    temper_token toks[2] = {ids[0], ids[0]};
    left = 0;
    CHECK_EQ_INT(temper_eval_batch(ctx, slots, toks, 1, NULL), TEMPER_ECANCELED);
    CHECK_EQ_INT(temper_seq_len(ctx, 0), n);
    /* a generation: the prompt and 3 steps, then the hook fires */
    temper_generate_params p = req_params(1);
    p.ignore_eos = 1;
    left = mi.n_layer * 4;
    temper_generation *g = NULL;
    CHECK_EQ_INT(temper_generate(ctx, ids, n, &p, &g), TEMPER_ECANCELED);
    CHECK(g == NULL);
    temper_gen *r = NULL;
    CHECK_EQ_INT(temper_gen_new(ctx, 1, ids, n, &p, 0, &r), 0);
    left = mi.n_layer * 3;
    int rc;
    while ((rc = temper_gen_step(&r, 1)) > 0) {}
    CHECK_EQ_INT(rc, TEMPER_ECANCELED);
    CHECK_EQ_INT(temper_gen_finish_reason(r), TEMPER_FINISH_CANCELED);
    CHECK_EQ_INT(temper_gen_sequence(r)->n_ids, 3); /* the third token was not evaluated */
    temper_gen_free(r);
    temper_context_set_abort(ctx, NULL, NULL);
    CHECK_EQ_INT(temper_eval(ctx, 0, ids, 1, NULL, 0), 0);
    temper_context_free(ctx);
}

typedef struct eval_job {
    temper_context *ctx;
    const temper_token *ids;
    int n;
    float *logits;
    int rc;
} eval_job;

static void *eval_thread(void *arg) {
    eval_job *j = arg;
    j->rc = 0;
    for (int r = 0; r < 20 && j->rc == 0; r++) {
        temper_seq_truncate(j->ctx, 0, 0);
        j->rc = temper_eval(j->ctx, 0, j->ids, j->n, j->logits, 0);
    }
    return NULL;
}

/* Two contexts on one pool of 2 threads, evaluating from two threads at
 * once, get the logits each gets alone. */
static void test_shared_pool(void) {
    if (load_model() < 0) { CHECK(0); return; }
    temper_threadpool *pool = NULL;
    CHECK_EQ_INT(temper_threadpool_new(-1, &pool), TEMPER_EINVAL);
    CHECK_EQ_INT(temper_threadpool_new(2, &pool), 0);
    if (!pool) return;
    CHECK_EQ_INT(temper_threadpool_n_threads(pool), 2);
    temper_token a[64], b[64];
    int na = tokenize("Once upon a time", a, 64), nb = tokenize("The little dog was sad", b, 64);
    int V = temper_model_n_vocab(model);
    float *want_a = malloc(sizeof(float) * V), *want_b = malloc(sizeof(float) * V);
    float *got_a = malloc(sizeof(float) * V), *got_b = malloc(sizeof(float) * V);
    temper_context *solo = new_ctx(1, 2, NULL);
    temper_context *c1 = new_ctx(1, 0, pool), *c2 = new_ctx(1, 0, pool);
    CHECK(solo && c1 && c2);
    if (solo && c1 && c2) {
        CHECK_EQ_INT(temper_context_n_threads(c1), 2);
        CHECK_EQ_INT(temper_eval(solo, 0, a, na, want_a, 0), 0);
        temper_seq_truncate(solo, 0, 0);
        CHECK_EQ_INT(temper_eval(solo, 0, b, nb, want_b, 0), 0);
        eval_job j1 = {c1, a, na, got_a, -1}, j2 = {c2, b, nb, got_b, -1};
        pthread_t t1, t2;
        pthread_create(&t1, NULL, eval_thread, &j1);
        pthread_create(&t2, NULL, eval_thread, &j2);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        CHECK_EQ_INT(j1.rc, 0);
        CHECK_EQ_INT(j2.rc, 0);
        CHECK(memcmp(want_a, got_a, sizeof(float) * V) == 0);
        CHECK(memcmp(want_b, got_b, sizeof(float) * V) == 0);
    }
    temper_context_free(c1);
    temper_context_free(c2);
    temper_context_free(solo);
    temper_threadpool_free(pool);
    free(want_a);
    free(want_b);
    free(got_a);
    free(got_b);
}

/* Bad requests get an error and a message, nothing else. */
static void test_errors(void) {
    if (load_model() < 0) { CHECK(0); return; }
    temper_context *ctx = new_ctx(2, 1, NULL);
    if (!ctx) { CHECK(0); return; }
    temper_token ids[4] = {1, 2, 3, 4};
    temper_generate_params p = temper_generate_default_params();
    temper_gen *g = NULL, *h = NULL;
    CHECK_EQ_INT(temper_gen_new(ctx, 2, ids, 4, &p, 0, &g), TEMPER_ERANGE);
    CHECK(g == NULL);
    p.num_beams = 2;
    CHECK_EQ_INT(temper_gen_new(ctx, 0, ids, 4, &p, 0, &g), TEMPER_EINVAL);
    CHECK(strstr(temper_last_error(), "beam") != NULL);
    p.num_beams = 1;
    ids[1] = 100000;
    CHECK_EQ_INT(temper_gen_new(ctx, 0, ids, 4, &p, 0, &g), TEMPER_EINVAL);
    ids[1] = 2;
    CHECK_EQ_INT(temper_gen_new(ctx, 0, ids, 4, &p, 0, &g), 0);
    CHECK_EQ_INT(temper_gen_new(ctx, 0, ids, 3, &p, 0, &h), 0);
    temper_gen *both[2] = {g, h};
    CHECK_EQ_INT(temper_gen_step(both, 2), TEMPER_EINVAL); /* one slot, two requests */
    CHECK(strstr(temper_last_error(), "slot 0") != NULL);
    CHECK_EQ_INT(temper_gen_share_prompt(h, g), TEMPER_ESTATE);
    CHECK_STR(temper_finish_reason_name(TEMPER_FINISH_CANCELED), "canceled");
    CHECK_STR(temper_finish_reason_name(TEMPER_FINISH_CONTEXT), "context");
    CHECK(temper_finish_reason_name(99) == NULL);
    temper_gen_free(g);
    temper_gen_free(h);
    temper_context_free(ctx);
}

/* The parameter table: every scalar field of the sampling chain is in it
 * once; names, aliases and flags find their entry; defaults are
 * transformers'; ranges are checked at their bounds; set writes its own
 * field and nothing else. */
static void test_param_table(void) {
    int n = 0;
    const temper_param *t = temper_params(&n);
    CHECK(t != NULL && n >= 20);
    static const struct { const char *name; double def; } want[] = {
        {"do_sample", 0}, {"temperature", 1}, {"top_k", 50}, {"top_p", 1}, {"min_p", 0},
        {"typical_p", 1}, {"epsilon_cutoff", 0}, {"eta_cutoff", 0}, {"min_keep", 1},
        {"repetition_penalty", 1}, {"presence_penalty", 0}, {"frequency_penalty", 0},
        {"no_repeat_ngram_size", 0}, {"min_new_tokens", 0}, {"max_new_tokens", 20},
        {"num_return_sequences", 1}, {"num_beams", 1}, {"length_penalty", 1},
        {"early_stopping", 0}, {"seed", 0}, {"ignore_eos", 0}, {"n_top", 0},
    };
    temper_generate_params def = temper_generate_default_params();
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        const temper_param *d = temper_param_find(want[k].name);
        if (!d) {
            fprintf(stderr, "%s is not in the table\n", want[k].name);
            CHECK(0);
            continue;
        }
        CHECK_STR(d->name, want[k].name);
        CHECK_NEAR(d->def, want[k].def, 0);
        CHECK_NEAR(temper_param_get(&def, d), want[k].def, 0);
    }
    for (int k = 0; k < n; k++) {
        const temper_param *d = &t[k];
        CHECK(temper_param_find(d->name) == d);
        CHECK_EQ_INT(temper_param_check(d, d->def), 0);
        if (d->off == d->off) CHECK_EQ_INT(temper_param_check(d, d->off), 0);
        for (int j = 0; j < k; j++) CHECK(t[j].offset != d->offset); /* one entry per field */
        if (d->min > -INFINITY) {
            CHECK_EQ_INT(temper_param_check(d, d->min), d->min_open ? TEMPER_EINVAL : 0);
            CHECK_EQ_INT(temper_param_check(d, d->min - 1), TEMPER_EINVAL);
        }
        if (d->max < INFINITY && d->type != TEMPER_PARAM_SEED) {
            CHECK_EQ_INT(temper_param_check(d, d->max), d->max_open ? TEMPER_EINVAL : 0);
            CHECK_EQ_INT(temper_param_check(d, d->max + 1), TEMPER_EINVAL);
        }
        CHECK_EQ_INT(temper_param_check(d, NAN), TEMPER_EINVAL);
        /* set writes this field only */
        temper_generate_params a = temper_generate_default_params(), b = a;
        double v = d->type == TEMPER_PARAM_BOOL ? 1 : d->max < INFINITY ? d->max - (d->max_open ? 0.5 : 0) : d->def + 2;
        if (d->type != TEMPER_PARAM_FLOAT) v = floor(v);
        CHECK_EQ_INT(temper_param_set(&a, d, v), 0);
        CHECK_NEAR(temper_param_get(&a, d), v, 1e-6 * fabs(v));
        temper_param_set(&a, d, temper_param_get(&b, d));
        CHECK(memcmp(&a, &b, sizeof a) == 0);
    }
    CHECK(temper_param_find("--top-p") == temper_param_find("top_p"));
    CHECK(temper_param_find("Top-P") == temper_param_find("top_p"));
    CHECK(temper_param_find("repeat_penalty") == temper_param_find("repetition_penalty"));
    CHECK(temper_param_find("--repeat-penalty") == temper_param_find("repetition_penalty"));
    CHECK(temper_param_find("n_predict") == temper_param_find("max_new_tokens"));
    CHECK(temper_param_find("-n") == temper_param_find("max_new_tokens"));
    CHECK(temper_param_find("top-p") != NULL);
    CHECK(temper_param_find("nope") == NULL);
    CHECK(temper_param_find("") == NULL);
    temper_generate_params p = temper_generate_default_params();
    CHECK_EQ_INT(temper_param_set(&p, temper_param_find("top_p"), 1.5), TEMPER_EINVAL);
    CHECK(strstr(temper_last_error(), "top_p is 1.5") && strstr(temper_last_error(), "[0, 1]"));
    CHECK_NEAR(p.sampling.top_p, 1, 0);
    CHECK_EQ_INT(temper_param_set(&p, temper_param_find("top_k"), 2.5), TEMPER_EINVAL);
    CHECK_EQ_INT(temper_param_set(&p, temper_param_find("typical_p"), 0), TEMPER_EINVAL);
    /* the library's own checks are the table's */
    p.sampling.typical_p = 0;
    CHECK_EQ_INT(temper_sampling_params_check(&p.sampling), TEMPER_EINVAL);
    CHECK(strstr(temper_last_error(), "typical_p is 0: use a value in (0, 1]") != NULL);
    temper_sampling_params sd = temper_sampling_default_params();
    CHECK(memcmp(&sd, &def.sampling, sizeof sd) == 0);
}

/* The next-token table against a plain softmax written out here (in long
 * double, no shift: the logits are small), ties by id, a sampler's
 * processed view, n larger than the vocabulary. */
static void test_next_token_table(void) {
    const float logits[8] = {0.5f, 2.0f, -1.0f, 2.0f, 0.0f, -INFINITY, 1.25f, -3.0f};
    long double z = 0;
    for (int i = 0; i < 8; i++) z += expl((long double)logits[i]);
    temper_candidate c[10];
    temper_next_token_info info;
    CHECK_EQ_INT(temper_next_token_table(logits, 8, NULL, 10, c, &info), 8);
    const int order[8] = {1, 3, 6, 0, 4, 2, 7, 5};
    long double h = 0;
    for (int r = 0; r < 8; r++) {
        CHECK_EQ_INT(c[r].id, order[r]);
        long double p = expl((long double)logits[order[r]]) / z;
        if (p > 0) {
            CHECK_NEAR(c[r].logprob, (double)logl(p), 1e-12);
            h -= p * logl(p);
        } else {
            CHECK(c[r].logprob == -INFINITY);
        }
        CHECK(isnan(c[r].logprob_processed));
    }
    CHECK_NEAR(info.entropy, (double)h, 1e-12);
    CHECK_EQ_INT(info.n_kept, 8);
    CHECK(isnan(info.entropy_processed));
    /* top_k 3 keeps ids 1, 3, 6: processed = softmax over them */
    temper_sampling_params sp = temper_sampling_default_params();
    sp.do_sample = 1;
    sp.top_k = 3;
    temper_sampler *s = NULL;
    CHECK_EQ_INT(temper_sampler_init(&sp, 8, &s), 0);
    if (!s) return;
    CHECK_EQ_INT(temper_sampler_apply(s, logits, NULL, 0, 0), 0);
    CHECK_EQ_INT(temper_next_token_table(logits, 8, s, 4, c, &info), 4);
    long double zk = expl(2.0L) * 2 + expl(1.25L), hk = 0;
    for (int r = 0; r < 3; r++) {
        long double p = expl((long double)logits[order[r]]) / zk;
        CHECK_NEAR(c[r].logprob_processed, (double)logl(p), 1e-12);
        hk -= p * logl(p);
    }
    CHECK(c[3].logprob_processed == -INFINITY);
    CHECK_NEAR(info.entropy_processed, (double)hk, 1e-12);
    CHECK_EQ_INT(info.n_kept, 3);
    temper_sampler_free(s);
    const float bad[2] = {0, NAN};
    CHECK_EQ_INT(temper_next_token_table(bad, 2, NULL, 1, c, NULL), TEMPER_EINVAL);
    CHECK_EQ_INT(temper_next_token_table(logits, 8, NULL, 0, NULL, &info), 0);
}

/* The mode a parameter set asks for, and the small helpers front ends
 * share: the seed, the BOS for scores, tokenize into library memory. */
static void test_helpers(void) {
    temper_generate_params p = temper_generate_default_params();
    CHECK_EQ_INT(temper_generate_mode(&p), TEMPER_MODE_GREEDY);
    p.sampling.do_sample = 1;
    CHECK_EQ_INT(temper_generate_mode(&p), TEMPER_MODE_SAMPLE);
    p.sampling.temperature = 0;
    CHECK_EQ_INT(temper_generate_mode(&p), TEMPER_MODE_GREEDY);
    p.num_return_sequences = 2;
    CHECK_EQ_INT(temper_generate_mode(&p), TEMPER_EINVAL); /* two copies of one text */
    p.num_beams = 3;
    CHECK_EQ_INT(temper_generate_mode(&p), TEMPER_MODE_BEAM);
    p.sampling.temperature = 0.7f;
    CHECK_EQ_INT(temper_generate_mode(&p), TEMPER_EUNSUPPORTED); /* beam-sample */
    p.sampling.temperature = -1;
    CHECK_EQ_INT(temper_generate_mode(&p), TEMPER_EINVAL);
    CHECK(strstr(temper_last_error(), "temperature") != NULL);
    CHECK_STR(temper_generate_mode_name(TEMPER_MODE_BEAM), "beam");
    CHECK(temper_generate_mode_name(3) == NULL);
    CHECK(temper_random_seed() <= UINT32_MAX);
    if (load_model() < 0) { CHECK(0); return; }
    temper_token bos = -1;
    temper_model_info mi;
    temper_model_get_info(model, &mi);
    CHECK_EQ_INT(temper_model_score_bos(model, &bos), 0);
    CHECK_EQ_INT(bos, mi.bos_id >= 0 ? mi.bos_id : mi.eos_id);
    CHECK(bos >= 0);
    /* more tokens than the first guess (bytes / 2 + 16): the retry */
    char text[401];
    for (int i = 0; i < 400; i++) text[i] = "QZXJ"[i % 4];
    text[400] = '\0';
    const temper_tokenizer *tok = temper_model_tokenizer(model);
    temper_token *ids = NULL, want[1024];
    int32_t *off = NULL;
    int n = temper_tokenize_alloc(tok, text, 400, 0, &ids, &off);
    int m = temper_tokenize(tok, text, 400, 0, want, NULL, 1024);
    CHECK(n > 400 / 2 + 16);
    CHECK_EQ_INT(n, m);
    CHECK(ids && off && memcmp(ids, want, sizeof(temper_token) * (size_t)(n > 0 ? n : 0)) == 0);
    if (off && n > 0) CHECK_EQ_INT(off[2 * n - 1], 400);
    temper_free(ids);
    temper_free(off);
    CHECK_EQ_INT(temper_tokenize_alloc(tok, "\xff", 1, 0, &ids, NULL), TEMPER_EUTF8);
    CHECK(ids == NULL);
}

int main(void) {
    RUN(test_batched_equals_alone);
    RUN(test_share_prompt);
    RUN(test_reuse_prefix);
    RUN(test_cancel);
    RUN(test_abort);
    RUN(test_shared_pool);
    RUN(test_errors);
    RUN(test_param_table);
    RUN(test_next_token_table);
    RUN(test_helpers);
    temper_model_free(model);
    return TEST_SUMMARY();
}
