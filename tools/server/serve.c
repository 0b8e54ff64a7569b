/*
 * serve.c - `temper serve -m MODEL [--host H] [--port P] [--parallel N] ...`:
 * listens first (GET /health answers 503 while the model loads), loads the
 * model, starts the scheduler, then waits for SIGINT or SIGTERM: stops
 * accepting, lets what runs finish (--drain seconds; a second signal
 * cancels it: each client gets its answer), joins every thread, frees
 * everything and exits 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../cli/cli.h"
#include "server.h"

static const char help[] =
    "usage: temper serve [-m MODEL] [options]\n"
    "\n"
    "An HTTP server with OpenAI's completions API (and llama.cpp's) over one model:\n"
    "requests share the model, decoded together in --parallel slots, one batch per step.\n"
    "docs/api.md lists the endpoints.\n"
    "\n"
    "  --host ADDR          address to listen on (127.0.0.1: this machine only;\n"
    "                       0.0.0.0 every interface)\n"
    "  --port N             port (8080; 0: any free port, printed)\n"
    "  --parallel N, -np N  slots: sequences decoded together (4)\n"
    "  --ctx-size N, -c N   positions per slot (the model's context window)\n"
    "  --queue N            requests waiting for a slot; beyond, 503 + Retry-After (64)\n"
    "  --max-body BYTES     largest request body (1048576)\n"
    "  --max-tokens N       largest max_tokens of a request (4096)\n"
    "  --max-choices N      largest prompts x best_of (n) of a request (64)\n"
    "  --api-key KEY        require \"Authorization: Bearer KEY\" (also $TEMPER_API_KEY)\n"
    "  --cors ORIGIN        allow browser pages of ORIGIN (\"*\": any) to call the API\n"
    "  --connections N      open connections at most (256)\n"
    "  --idle-timeout S     close a connection idle for S seconds (15)\n"
    "  --timeout S          a request ends after S seconds, queue included (600; 0: never)\n"
    "  --rate N             requests per minute from one client address; beyond, 429 (0: no limit)\n"
    "  --drain S            on SIGTERM/SIGINT, let running requests finish for up to S s (30)\n"
    "  --alias NAME         the model name the API reports and accepts (the -m value)\n";

static int int_opt(const char *opt, const char *v, long lo, long hi, int *out) {
    long x;
    if (cli_parse_int_opt(opt, v, lo, hi, &x) < 0) return 2;
    *out = (int)x;
    return 0;
}

/* The flags into cfg and c. Returns 0, or the exit code. */
static int parse_args(int argc, char **argv, srv_config *cfg, cli_common *c) {
    for (int i = 1; i < argc;) {
        const char *v;
        int r = cli_parse_common(c, &i, argc, argv), rc = 0;
        if (r < 0) return 2;
        if (r > 0) continue;
        if (cli_flag(argv, &i, "-h", "--help")) {
            fputs(help, stdout);
            fputs(cli_common_help, stdout);
            return -1;
        }
        if ((r = cli_opt(argv, argc, &i, NULL, "--host", &v)) != 0) {
            if (r < 0) return 2;
            cfg->host = v;
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--port", &v)) != 0) {
            rc = r < 0 ? 2 : int_opt("--port", v, 0, 65535, &cfg->port);
        } else if ((r = cli_opt(argv, argc, &i, "-np", "--parallel", &v)) != 0) {
            rc = r < 0 ? 2 : int_opt("--parallel", v, 1, 256, &cfg->parallel);
        } else if ((r = cli_opt(argv, argc, &i, "-c", "--ctx-size", &v)) != 0) {
            rc = r < 0 ? 2 : int_opt("--ctx-size", v, 1, 1 << 20, &cfg->n_ctx);
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--queue", &v)) != 0) {
            rc = r < 0 ? 2 : int_opt("--queue", v, 0, 100000, &cfg->queue);
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--max-body", &v)) != 0) {
            int b = 0;
            rc = r < 0 ? 2 : int_opt("--max-body", v, 64, 1 << 30, &b);
            cfg->max_body = (size_t)b;
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--max-tokens", &v)) != 0) {
            rc = r < 0 ? 2 : int_opt("--max-tokens", v, 0, 1 << 20, &cfg->max_tokens);
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--max-choices", &v)) != 0) {
            rc = r < 0 ? 2 : int_opt("--max-choices", v, 1, 512, &cfg->max_choices);
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--api-key", &v)) != 0) {
            if (r < 0) return 2;
            cfg->api_key = v;
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--cors", &v)) != 0) {
            if (r < 0) return 2;
            cfg->cors = v;
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--connections", &v)) != 0) {
            rc = r < 0 ? 2 : int_opt("--connections", v, 4, 100000, &cfg->connections);
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--idle-timeout", &v)) != 0) {
            rc = r < 0 ? 2 : int_opt("--idle-timeout", v, 1, 86400, &cfg->idle_timeout);
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--timeout", &v)) != 0) {
            int t = 0;
            rc = r < 0 ? 2 : int_opt("--timeout", v, 0, 86400 * 7, &t);
            cfg->timeout = t;
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--drain", &v)) != 0) {
            rc = r < 0 ? 2 : int_opt("--drain", v, 0, 86400, &cfg->drain);
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--rate", &v)) != 0) {
            rc = r < 0 ? 2 : int_opt("--rate", v, 0, 1000000, &cfg->rate);
        } else if ((r = cli_opt(argv, argc, &i, NULL, "--alias", &v)) != 0) {
            if (r < 0) return 2;
            cfg->model_name = v;
        } else {
            return cli_unknown_option("serve", argv[i]);
        }
        if (rc) return rc;
    }
    if (!cfg->api_key) {
        const char *env = getenv("TEMPER_API_KEY");
        if (env && *env) cfg->api_key = env;
    }
    if (cfg->api_key && !*cfg->api_key) {
        cli_error("serve: --api-key is empty");
        return 2;
    }
    return 0;
}

/* The model, its context and defaults. Returns 0 or 1 (printed). */
static int load(srv_server *s, cli_common *c) {
    if (cli_load_model(c, &s->model) != 0) return 1;
    s->tok = temper_model_tokenizer(s->model);
    s->n_vocab = temper_model_n_vocab(s->model);
    temper_context_params cp = temper_context_default_params();
    cp.n_seq = s->cfg.parallel;
    cp.n_ctx = s->cfg.n_ctx;
    if (temper_threadpool_new(c->threads, &s->pool) < 0) return cli_lib_error("serve", -1);
    cp.pool = s->pool; /* the scheduler's context and those of beam searches */
    if (temper_context_init(s->model, &cp, &s->ctx) < 0) return cli_lib_error("serve", -1);
    s->n_ctx = s->cfg.n_ctx ? s->cfg.n_ctx : temper_model_n_ctx(s->model);
    if (s->n_ctx > temper_model_n_ctx(s->model)) s->n_ctx = temper_model_n_ctx(s->model);
    if (temper_model_generate_defaults(s->model, &s->defaults, s->default_keys,
                                       sizeof s->default_keys) < 0)
        return cli_lib_error("serve: generation_config.json", -1);
    const char *level = "portable";
    temper_simd_level(&level);
    temper_model_info mi;
    temper_model_get_info(s->model, &mi);
    snprintf(s->fingerprint, sizeof s->fingerprint, "temper-%s-%s-%s", temper_version(), mi.dtype,
             level);
    if (!s->cfg.model_name) { /* a folder or file: its name; a Hub id as it is */
        const char *m = c->model;
        size_t n = strlen(m);
        while (n > 1 && m[n - 1] == '/') n--;
        if (access(m, F_OK) == 0) {
            const char *slash = memrchr(m, '/', n);
            const char *base = slash ? slash + 1 : m;
            n -= (size_t)(base - m);
            m = base;
        }
        snprintf(s->name, sizeof s->name, "%.*s", (int)n, m);
        s->cfg.model_name = s->name;
    }
    s->model_arg = c->model;
    return 0;
}

/* The first signal: stop accepting connections, answer 503 to new requests
 * on open ones, let what runs or waits finish for up to cfg.drain seconds
 * (a load balancer sends the next requests elsewhere); a second signal or
 * the end of the grace time cancels the rest. */
static void drain(srv_server *s, const sigset_t *sigs, int sig) {
    atomic_store(&s->state, SRV_STOPPING_SOFT);
    srv_http_quiesce(s);
    fprintf(stderr, "temper: serve: %s: no new requests; finishing those running (up to %d s; "
            "a second signal cancels them)\n", sig == SIGINT ? "SIGINT" : "SIGTERM", s->cfg.drain);
    double end = srv_now() + s->cfg.drain;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        int busy = s->queue_head != NULL || atomic_load(&s->in_flight) > 0;
        for (int k = 0; s->slots && k < s->cfg.parallel; k++) busy |= s->slots[k] != NULL;
        pthread_mutex_unlock(&s->mu);
        double left = end - srv_now();
        if (!busy || left <= 0) break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        if (sigtimedwait(sigs, NULL, &ts) > 0) break;
    }
    fprintf(stderr, "temper: serve: stopping\n");
}

int cmd_serve(int argc, char **argv) {
    srv_config cfg = {
        .host = "127.0.0.1", .port = 8080, .parallel = 4, .queue = 64, .max_body = 1 << 20,
        .max_tokens = 4096, .max_choices = 64, .connections = 256, .idle_timeout = 15,
        .timeout = 600, .drain = 30,
    };
    cli_common c = {0};
    int rc = parse_args(argc, argv, &cfg, &c);
    if (rc) return rc < 0 ? 0 : rc;

    /* SIGINT / SIGTERM are taken by sigwait below: every thread blocks them */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    srv_server *s = calloc(1, sizeof *s);
    if (!s) return cli_lib_error("serve", TEMPER_ENOMEM);
    s->cfg = cfg;
    s->started = (long)time(NULL);
    atomic_store(&s->state, SRV_LOADING);
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->rate_mu, NULL);
    pthread_cond_init(&s->work, NULL);
    srv_error e = {0};
    if (srv_http_start(s, &e) < 0) {
        cli_error("serve: %s", e.message);
        rc = 2;
        goto done;
    }
    fprintf(stderr, "temper: serve: listening on http://%s%s%s:%d\n",
            strchr(s->cfg.host, ':') ? "[" : "", s->cfg.host, strchr(s->cfg.host, ':') ? "]" : "",
            s->cfg.port);
    if (load(s, &c) != 0 || srv_sched_start(s, &e) < 0) {
        if (e.status) cli_error("serve: %s", e.message);
        rc = 1;
        goto done;
    }
    atomic_store(&s->state, SRV_READY);
    fprintf(stderr, "temper: serve: ready: model %s, %d slots of %d positions%s\n",
            s->cfg.model_name, s->cfg.parallel, s->n_ctx, s->cfg.api_key ? ", API key required" : "");
    int sig = 0;
    sigwait(&sigs, &sig);
    drain(s, &sigs, sig);
done:
    atomic_store(&s->state, SRV_STOPPING);
    srv_http_quiesce(s);
    srv_sched_stop(s);
    srv_http_stop(s);
    temper_context_free(s->ctx);
    temper_threadpool_free(s->pool);
    temper_model_free(s->model);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->rate_mu);
    free(s->buckets);
    free(s);
    return rc;
}
