/*
 * generate.c - the smallest use of libtemper: continue two prompts at once
 * with the step-wise API, streaming each token's text and probability.
 *
 *   cc examples/generate.c -Iinclude -Lbuild -ltemper -Wl,-rpath,build -o gen
 *   ./gen MODEL "Once upon a time" "The cat"
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "temper.h"

/* Print each new piece of text with its probability, as it comes. */
static int on_token(const temper_token_event *e, void *user) {
    (void)user;
    printf("[%d] %-12.*s p=%.4f %s\n", e->seq, (int)e->piece_len, e->piece,
           exp((double)e->prob->logprob),
           e->finish_reason ? temper_finish_reason_name(e->finish_reason) : "");
    return 0; /* non-zero would cancel this request */
}

static int fail(const char *what) {
    fprintf(stderr, "%s: %s\n", what, temper_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL PROMPT [PROMPT...]\n", argv[0]);
        return 2;
    }
    int n_req = argc - 2 > 8 ? 8 : argc - 2;
    temper_model *model;
    if (temper_model_load(argv[1], NULL, &model) < 0) return fail("load");
    temper_context_params cp = temper_context_default_params();
    cp.n_seq = n_req;
    temper_context *ctx;
    if (temper_context_init(model, &cp, &ctx) < 0) return fail("context");

    /* the model's defaults (generation_config.json, every EOS id), then ours */
    temper_generate_params p;
    if (temper_model_generate_defaults(model, &p, NULL, 0) < 0) return fail("defaults");
    p.max_new_tokens = 8;
    p.sampling.do_sample = 1;
    p.sampling.temperature = 0.8f;
    p.seed = 42;
    p.on_token = on_token;

    temper_gen *gens[8];
    for (int i = 0; i < n_req; i++) {
        temper_token ids[256];
        int n = temper_tokenize(temper_model_tokenizer(model), argv[2 + i], strlen(argv[2 + i]),
                                TEMPER_TOKENIZE_ADD_SPECIAL, ids, NULL, 256);
        if (n < 0 || n > 256) return fail("tokenize");
        if (temper_gen_new(ctx, i, ids, n, &p, (uint64_t)i, &gens[i]) < 0) return fail("request");
    }
    int rc;
    while ((rc = temper_gen_step(gens, n_req)) > 0) {}
    if (rc < 0) return fail("step");
    for (int i = 0; i < n_req; i++) {
        const temper_sequence *s = temper_gen_sequence(gens[i]);
        printf("request %d: %d tokens, %s\n", i, s->n_ids, temper_finish_reason_name(s->finish_reason));
        temper_gen_free(gens[i]);
    }
    temper_context_free(ctx);
    temper_model_free(model);
    return 0;
}
