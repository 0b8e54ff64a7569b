/*
 * server.h - `temper serve`: an HTTP server (libmicrohttpd) with OpenAI's
 * and llama.cpp's APIs over one model.
 *
 *   serve.c     the command: flags, model loading, signals, clean exit
 *   http.c      libmicrohttpd glue: bodies and their limit, API key, CORS,
 *               replies (JSON, errors, Server-Sent Events)
 *   route.c     method + path -> endpoint
 *   request.c   request fields -> prompts and temper_generate_params (the
 *               parameter table), each error naming its field and range
 *   sched.c     the slots and the scheduler: one temper_gen_step (one
 *               temper_eval_batch) per step over every active request
 *   openai.c    GET /v1/models, POST /v1/completions
 *   llamacpp.c  llama.cpp's POST /completion, /tokenize, /detokenize,
 *               GET /props, /slots, /metrics
 *   temper_api.c  temper's own: /temper/info, tokenize, detokenize, score,
 *               probs, answering with the commands' --json documents
 *   web.c       the explorer's files at / (bundled into the binary by make)
 *
 * Threads: libmicrohttpd runs one thread per connection, which parses the
 * request, queues a job and waits for it (or streams it); one scheduler
 * thread owns the context and runs every model evaluation. They meet in
 * srv_server.mu.
 */
#ifndef TEMPER_SERVER_H
#define TEMPER_SERVER_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <cJSON.h>

#include "temper.h"

/* ---- configuration (flags of `temper serve`) */
typedef struct srv_config {
    const char *host;      /* 127.0.0.1 */
    int port;              /* 8080; 0: any free port (printed) */
    int parallel;          /* slots: sequences decoded together (4) */
    int queue;             /* requests waiting for a slot, beyond: 503 (64) */
    size_t max_body;       /* request body bytes (1 MiB) */
    int max_tokens;        /* largest max_tokens / n_predict (4096) */
    int max_choices;       /* largest n x best_of x prompts of a request (64) */
    int n_ctx;             /* positions per slot (0: the model's) */
    int threads;           /* compute threads (0: all cores) */
    const char *api_key;   /* NULL: no key */
    const char *cors;      /* NULL: no CORS headers */
    int connections;       /* open connections at most (256) */
    int idle_timeout;      /* seconds a connection may stay idle (15) */
    double timeout;        /* seconds a request may take, queue included (600; 0: none) */
    int rate;              /* requests per minute per client address (0: no limit) */
    int drain;             /* seconds running requests may finish after a signal (30) */
    const char *model_name;/* the "model" the API reports */
} srv_config;

/* An OpenAI-shaped error: {"error": {"message", "type", "param", "code"}}. */
typedef struct srv_error {
    int status;            /* HTTP status; 0: no error */
    const char *type;      /* "invalid_request_error", ... */
    char param[64];        /* the field, "" for none */
    char code[40];         /* "" for none */
    char message[768];
} srv_error;

/* Set *e (when no error is set yet); returns -1. */
int srv_fail(srv_error *e, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* As srv_fail, with code. */
int srv_fail_code(srv_error *e, int status, const char *param, const char *code,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The error as its JSON object (owned by the caller). */
cJSON *srv_error_json(const srv_error *e);

/* ---- a request being decoded */
typedef struct srv_prompt {
    temper_token *ids;     /* (n) owned */
    int n;
    char *text;            /* the prompt as the client sent it; NULL: ids */
    /* echo: log p of each token given the ones before ((n), [0] NAN), and
     * the n_top best alternatives of each position ((n, n_top)); owned */
    double *lp;
    temper_token_prob *top;
    int scored;
} srv_prompt;

typedef struct srv_job srv_job;

typedef struct srv_seq {
    srv_job *job;
    int prompt;            /* index in job->prompts */
    int index;             /* among the sequences of its prompt (the stream of seed) */
    temper_gen *gen;       /* while in a slot */
    int slot;              /* -1: none */
    int state;             /* 0 waiting, 1 in a slot, 2 done */
    int finish;            /* enum temper_finish_reason */
    /* what the callback recorded, token k: */
    int n, cap;
    temper_token *ids;     /* (cap) */
    float *lp;             /* (cap) raw log p */
    float *lp_proc;        /* (cap) processed log p */
    temper_token_prob *top;/* (cap, n_top) best alternatives by raw log p */
    size_t *at;            /* (cap) bytes of text before token k */
    char *text;            /* the decoded completion (pieces joined) */
    size_t len, text_cap;
    size_t released;       /* bytes of text streamed so far */
    int scored_here;       /* its slot holds its prompt (echo scored it there) */
    int64_t n_forward;     /* tokens it ran through the model (when it ended) */
    int echoed, closed;    /* the endpoint's: stream sent the echo / the end */
    size_t offset;         /* the endpoint's: characters of the tokens so far */
} srv_seq;

/* What an endpoint does with its job's events (called on the scheduler
 * thread; may be NULL). */
typedef struct srv_job_ops {
    void (*token)(srv_job *j, srv_seq *s, int k); /* token k of s was recorded */
    void (*done)(srv_job *j);                     /* every sequence finished */
    /* Instead of decoding: run the endpoint's work for sequence s in its
     * slot of ctx (an analysis of prompt s->prompt), on the scheduler's
     * thread. Returns 0, or -1 with j->err set. */
    int (*run)(srv_job *j, srv_seq *s, temper_context *ctx, int slot);
    /* The parameters of sequence s when they differ from j->p (a
     * temperature sweep), before it starts. */
    void (*params)(const srv_job *j, const srv_seq *s, temper_generate_params *p);
    /* Free what the endpoint's state j->user holds (j->user itself is
     * freed with the job). */
    void (*free_user)(void *user);
    /* The reply document of a finished job (temper's endpoints). */
    temper_json *(*doc)(srv_job *j);
} srv_job_ops;

struct srv_job {
    struct srv_server *srv;
    unsigned long id;      /* task number, from 0 */
    int refs;              /* under srv->mu */
    const srv_job_ops *ops;
    void *user;            /* the endpoint's own state */
    temper_generate_params p; /* stop / logit_bias point into this job */
    char **stop;           /* (n_stop) owned */
    temper_logit_bias *bias; /* (n_bias) owned */
    srv_prompt *prompts;   /* (n_prompts) owned */
    int n_prompts;
    int per_prompt;        /* sequences per prompt (best_of) */
    srv_seq *seqs;         /* (n_seqs) owned, prompt-major */
    int n_seqs, next_seq, n_done;
    int echo_top;          /* echo: alternatives per prompt position (-1: no echo) */
    int fd;                /* the client's socket (disconnect check); -1 */
    int canceled, finished;
    int timed_out;         /* over cfg.timeout: ends as if max_tokens were reached */
    int cache_prompt;      /* reuse the KV cache of a slot's earlier request */
    int n_cached;          /* prompt tokens taken from a slot's cache (the largest) */
    srv_error err;         /* set when the job failed */
    double t_queued, t_started, t_first, t_done; /* seconds (monotonic) */
    int64_t n_forward;
    pthread_cond_t cv;     /* finished, or more stream output */
    char *out;             /* stream output not yet taken */
    size_t out_len, out_cap, out_pos;
    int out_end;
    srv_job *next;         /* queue link */
};

/* ---- the server */
/* SOFT: no new requests, those running finish; STOPPING: cancel them */
enum srv_state { SRV_LOADING = 0, SRV_READY = 1, SRV_STOPPING = 2, SRV_STOPPING_SOFT = 3 };

typedef struct srv_stats {
    uint64_t requests, errors, rejected;  /* HTTP requests; 4xx/5xx; queue full */
    uint64_t prompt_tokens, gen_tokens;
    uint64_t completions;                 /* jobs finished */
    double sum_latency, sum_first;        /* seconds, over completions */
    uint64_t steps;                       /* scheduler steps */
} srv_stats;

typedef struct srv_server {
    srv_config cfg;
    atomic_int state;      /* enum srv_state */
    temper_model *model;
    const temper_tokenizer *tok;
    temper_context *ctx;   /* the scheduler's */
    temper_threadpool *pool; /* ctx's threads, shared with the contexts of
                                beam searches (scheduler thread) */
    int n_ctx, n_vocab;
    temper_generate_params defaults; /* the model's (generation_config.json) */
    char default_keys[512];          /* keys generation_config.json set */
    char fingerprint[64];
    char name[256];        /* the model's name when --alias is not given */
    const char *model_arg; /* -m as given, also accepted as the model's name */
    long started;          /* unix time */
    struct MHD_Daemon *daemon;
    int quiesced;          /* no longer accepting connections */
    atomic_int in_flight;  /* HTTP requests between their headers and their end */

    pthread_mutex_t mu;
    pthread_cond_t work;   /* the scheduler has something to do */
    pthread_t thread;
    int running;           /* scheduler started */
    srv_job *queue_head, *queue_tail;
    int n_queued;          /* jobs waiting with sequences not yet in a slot */
    srv_seq **slots;       /* (parallel) */
    temper_token **slot_ids; /* (parallel, n_ctx) what each slot's KV cache holds */
    int *slot_len;         /* (parallel) */
    pthread_mutex_t rate_mu; /* the rate limiter's table (http.c) */
    struct srv_bucket *buckets;
    srv_stats stats;
    atomic_ulong next_id;
} srv_server;

/* ---- http.c */
int srv_http_start(srv_server *s, srv_error *e);
void srv_http_quiesce(srv_server *s);
void srv_http_stop(srv_server *s);

/* The request an endpoint handles: method, path, body (NUL-terminated). */
typedef struct srv_request {
    srv_server *srv;
    struct MHD_Connection *conn;
    const char *method, *path;
    const char *body;
    size_t body_len;
    int fd;
} srv_request;

/* Replies; each returns the MHD result. body / json are taken. */
enum MHD_Result srv_reply_json(srv_request *r, int status, cJSON *json);
enum MHD_Result srv_reply_text(srv_request *r, int status, const char *ctype, char *body,
                               size_t len);
enum MHD_Result srv_reply_error(srv_request *r, const srv_error *e);
/* A Server-Sent Events reply that reads the job's stream output until it
 * ends; takes a reference on j. */
enum MHD_Result srv_reply_stream(srv_request *r, srv_job *j);
/* Every endpoint's run of a job: submit j (unless *e is set or j is NULL:
 * the error is the reply), then stream it, or wait for its end and reply
 * with reply(r, j) (NULL: its ops' document) or its error. Releases j. */
enum MHD_Result srv_run_job(srv_request *r, srv_job *j, srv_error *e, int stream,
                            enum MHD_Result (*reply)(srv_request *r, srv_job *j));

/* ---- route.c */
enum MHD_Result srv_route(srv_request *r);
/* Parse body as the endpoint of path would and build what it would run
 * (/v1/completions, /completion, /tokenize, /detokenize, /temper/generate
 * and temper's analyses but softmax),
 * without a connection, a queue or the model's evaluation (the fuzz
 * target's entry). Returns 0, or -1 with *e set. */
int srv_check_request(srv_server *s, const char *path, const char *body, size_t len, srv_error *e);

/* ---- request.c */
/* The body as a JSON object, or an error. */
cJSON *srv_parse_body(const char *body, size_t len, srv_error *e);
/* "prompt": a string, a list of strings, a list of ids, a list of id lists,
 * into *out (n_out prompts, owned: srv_prompts_free). */
int srv_parse_prompts(srv_server *s, const cJSON *v, const char *field, srv_prompt **out,
                      int *n_out, srv_error *e);
/* The same with at most max_tokens tokens per prompt (srv_parse_prompts:
 * n_ctx - 1, one position left to generate; an analysis: n_ctx;
 * detokenizing or sliding windows: INT_MAX, the body size bounds them). */
int srv_parse_prompts_upto(srv_server *s, const cJSON *v, const char *field, int max_tokens,
                           srv_prompt **out, int *n_out, srv_error *e);
void srv_prompts_free(srv_prompt *p, int n);
/* One decoding parameter of the table (name as the client wrote it). Returns
 * 1 when key is one, 0 when it is not, -1 on a bad value. */
int srv_parse_param(temper_generate_params *p, const char *key, const cJSON *v, srv_error *e);
/* "stop": a string or a list of strings, into the job. */
int srv_parse_stop(srv_job *j, const cJSON *v, const char *field, srv_error *e);
/* "logit_bias": {"id": bias, ...} (OpenAI), into the job. */
int srv_parse_logit_bias(srv_server *s, srv_job *j, const cJSON *v, const char *field,
                         srv_error *e);
/* Forget the job's logit biases (a field given twice: the last one wins). */
void srv_drop_logit_bias(srv_job *j);
/* A JSON number that is a whole number in [lo, hi] into *out. */
int srv_json_int(const cJSON *v, const char *field, long lo, long hi, long *out, srv_error *e);
int srv_json_bool(const cJSON *v, const char *field, int *out, srv_error *e);

/* ---- sched.c */
int srv_sched_start(srv_server *s, srv_error *e);
void srv_sched_stop(srv_server *s);
/* A job for n_prompts prompts (taken) and per_prompt sequences of each. */
srv_job *srv_job_new(srv_server *s, const srv_job_ops *ops);
int srv_job_setup(srv_job *j, int per_prompt, srv_error *e);
/* Queue j (the scheduler takes its own reference). Fails with 503 when the
 * queue is full or the server is stopping. */
int srv_submit(srv_job *j, srv_error *e);
/* Wait until j finished. */
void srv_job_wait(srv_job *j);
void srv_job_cancel(srv_job *j);
void srv_job_release(srv_job *j);
/* Append to j's stream output and wake its reader (scheduler thread). */
void srv_job_emit(srv_job *j, const char *data, size_t len);
/* End j's stream output. */
void srv_job_emit_end(srv_job *j);
/* Where the text of q ends: before the first stop string when it stopped
 * at one; while it runs (final 0), before a tail that may begin one. */
size_t srv_text_end(const srv_job *j, const srv_seq *q, int final);
double srv_now(void);

/* ---- openai.c */
enum MHD_Result srv_openai_models(srv_request *r);
enum MHD_Result srv_openai_completions(srv_request *r);
/* The job of a /v1/completions body, ready to submit (NULL: *e set). */
srv_job *srv_openai_job(srv_server *s, const char *body, size_t len, int fd, srv_error *e);
enum MHD_Result srv_openai_chat(srv_request *r);

/* ---- llamacpp.c */
enum MHD_Result srv_lc_completion(srv_request *r);
srv_job *srv_lc_job(srv_server *s, const char *body, size_t len, int fd, srv_error *e);
cJSON *srv_lc_tokenize_json(srv_server *s, const char *body, size_t len, srv_error *e);
cJSON *srv_lc_detokenize_json(srv_server *s, const char *body, size_t len, srv_error *e);
enum MHD_Result srv_lc_tokenize(srv_request *r);
enum MHD_Result srv_lc_detokenize(srv_request *r);
enum MHD_Result srv_lc_props(srv_request *r);
enum MHD_Result srv_lc_slots(srv_request *r);
enum MHD_Result srv_lc_metrics(srv_request *r);

/* ---- temper_api.c: the documents of the commands' --json */
enum MHD_Result srv_temper_info(srv_request *r);
enum MHD_Result srv_temper_tokenize(srv_request *r);
enum MHD_Result srv_temper_detokenize(srv_request *r);
enum MHD_Result srv_temper_softmax(srv_request *r);
/* Reply 200 with the writer's document (NULL: 500; j is freed). */
enum MHD_Result srv_reply_doc(srv_request *r, temper_json *j);
/* A request body parsed (*body, owned) and a job of ops whose j->user is
 * a zeroed state of size bytes; NULL with *e set. */
srv_job *srv_api_job(srv_server *s, const char *text, size_t len, int fd, const srv_job_ops *ops, size_t size,
                     cJSON **body, srv_error *e);
/* Put the BOS token (temper_model_score_bos) in front of each prompt that
 * does not start with it, as the commands' --bos. */
int srv_prompts_bos(srv_server *s, srv_job *j, const char *field, srv_error *e);
/* An analysis's job ready to submit (its prompts, one slot each), or NULL
 * with *out set to *e when *e is set (j released). */
srv_job *srv_api_ready(srv_job *j, srv_error *e, srv_error *out);

/* The jobs of temper's analyses (route.c runs them), NULL with *e set: */
srv_job *srv_temper_score_job(srv_server *s, const char *text, size_t len, int fd, srv_error *e);
srv_job *srv_temper_probs_job(srv_server *s, const char *text, size_t len, int fd, srv_error *e);
/* ---- temper_analysis.c: perplexity, attention, hidden, trace, power */
srv_job *srv_temper_perplexity_job(srv_server *s, const char *text, size_t len, int fd, srv_error *e);
srv_job *srv_temper_attention_job(srv_server *s, const char *text, size_t len, int fd, srv_error *e);
srv_job *srv_temper_hidden_job(srv_server *s, const char *text, size_t len, int fd, srv_error *e);
srv_job *srv_temper_trace_job(srv_server *s, const char *text, size_t len, int fd, srv_error *e);
srv_job *srv_temper_power_job(srv_server *s, const char *text, size_t len, int fd, srv_error *e);

/* ---- temper_generate.c: POST /temper/generate */
enum MHD_Result srv_temper_generate(srv_request *r);
/* The job of a /temper/generate body, ready to submit (NULL: *e set). */
srv_job *srv_temper_generate_job(srv_server *s, const char *body, size_t len, int fd, srv_error *e);

/* ---- web.c: the explorer's files, compiled in ($(BUILD)/gen/web_assets.c) */
typedef struct srv_asset {
    const char *path;           /* "/", "/assets/app-HASH.js" */
    const char *ctype;          /* Content-Type */
    const char *etag;           /* "\"HASH\"" */
    const unsigned char *data;  /* (len) */
    size_t len;
} srv_asset;
extern const srv_asset srv_web_assets[]; /* (srv_web_n_assets); 0: not built */
extern const int srv_web_n_assets;
/* The file served at path, or NULL. */
const srv_asset *srv_web_find(const char *path);
enum MHD_Result srv_web(srv_request *r, const srv_asset *a);

/* ---- text helpers (openai.c) */
/* s as valid UTF-8 JSON text: a token's bytes that are not whole UTF-8
 * become "bytes:\xNN..." as OpenAI writes them. buf has cap bytes. */
const char *srv_token_string(const srv_server *s, temper_token id, char *buf, size_t cap);
/* Code points of n bytes of UTF-8. */
size_t srv_utf8_chars(const char *s, size_t n);

int cmd_serve(int argc, char **argv);

#endif
