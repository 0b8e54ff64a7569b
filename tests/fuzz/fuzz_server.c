/*
 * fuzz_server.c - the request bodies of `temper serve`: the first byte picks
 * the endpoint (/v1/completions, /completion, /tokenize, /detokenize,
 * /temper/generate, then temper's analyses: score, probs, perplexity,
 * attention, hidden, trace, power), the
 * rest is the body, parsed and turned into what the server would run
 * (srv_check_request: the parameter table, prompts, stop strings, logit
 * biases, the checks of the sampler) without sockets or evaluation. Runs
 * on the bundled stories260K (models/stories260K, from the repository's
 * root, where tests/fuzz/run starts). A bad body must give an error with
 * an HTTP status in 400..599 and a message.
 */
#include "fuzz.h"
#include "../../tools/server/server.h"

static srv_server *fuzz_srv;

static void fuzz_setup(void) {
    srv_server *s = calloc(1, sizeof *s);
    if (!s) abort();
    temper_model_params mp = temper_model_default_params();
    mp.offline = 1;
    if (temper_model_load("models/stories260K", &mp, &s->model) < 0) {
        fprintf(stderr, "fuzz_server: %s (run from the repository's root)\n", temper_last_error());
        abort();
    }
    s->cfg = (srv_config){.host = "127.0.0.1", .parallel = 4, .queue = 8, .max_body = 1 << 20,
                          .max_tokens = 4096, .max_choices = 64, .model_name = "stories260K"};
    s->tok = temper_model_tokenizer(s->model);
    s->n_vocab = temper_model_n_vocab(s->model);
    s->n_ctx = temper_model_n_ctx(s->model);
    if (temper_model_generate_defaults(s->model, &s->defaults, s->default_keys, sizeof s->default_keys) < 0)
        abort();
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    fuzz_srv = s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const paths[] = {"/v1/completions", "/completion", "/tokenize", "/detokenize",
                                         "/temper/generate", "/temper/score", "/temper/probs",
                                         "/temper/perplexity", "/temper/attention", "/temper/hidden",
                                         "/temper/trace", "/temper/power"};
    if (!fuzz_srv) fuzz_setup();
    if (size < 1) return 0;
    srv_error e = {0};
    int rc = srv_check_request(fuzz_srv, paths[data[0] % (sizeof paths / sizeof paths[0])], (const char *)data + 1, size - 1, &e);
    FUZZ_CHECK(rc == 0 || (e.status >= 400 && e.status < 600 && e.message[0]));
    return 0;
}
