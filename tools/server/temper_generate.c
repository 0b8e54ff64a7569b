/*
 * temper_generate.c - POST /temper/generate: the document of `temper
 * generate --json` (every generated token with its raw and processed
 * log-probabilities and n_probs alternatives; beams; a temperature sweep),
 * written by the library's temper_json_generate.
 *
 * Fields: "prompt" (a text or a list of ids), "temperatures" (a sweep, as
 * --temps), "stop", "logit_bias", "stream", and every parameter of the
 * decoding table under its name or alias (temperature, top_k, num_beams,
 * num_return_sequences, max_new_tokens, n_probs, seed, ...). Decoding is
 * decided as the command decides it: greedy unless sampling is asked for
 * (do_sample, a warper, temperatures), the model's generation_config.json
 * filling what the request leaves out.
 *
 * Greedy and sampled sequences are decoded by the scheduler (one slot per
 * sequence, sequence i drawing from stream i of the seed, as `temper
 * generate`), so they batch with every other request; with "stream": true
 * each token is an event as it is produced. Beam search runs whole in its
 * own context (num_beams slots, the server's threads) on the scheduler's
 * thread: its sequences are known only at the end, so it is not streamed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define GEN_MAX_TEMPS 16 /* as `temper generate --temps` */

typedef struct gen_job {
    int n_runs;                    /* temperatures swept; 1 without a sweep */
    double temps[GEN_MAX_TEMPS];   /* (n_runs) NAN: no sweep */
    int sweep, stream, nrs;        /* nrs: sequences per run */
    int greedy[GEN_MAX_TEMPS];     /* the run's sampler takes the argmax */
    char stages[GEN_MAX_TEMPS][256];
    char from_config[512], notes[256];
    temper_generation *beams;      /* beam search: temper_generate's result, owned */
} gen_job;

/* ---- the request */

static void add_note(gen_job *o, const char *s) {
    size_t n = strlen(o->notes);
    snprintf(o->notes + n, sizeof o->notes - n, "%s%s", n ? "; " : "", s);
}

/* 1 when name is among the given names (comma-separated). */
static int has(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *k = list; *k;) {
        size_t m = strcspn(k, ",");
        if (m == n && !strncmp(k, name, n)) return 1;
        k += m + (k[m] == ',');
    }
    return 0;
}

static void add_name(char *list, size_t cap, const char *name) {
    size_t n = strlen(list);
    if (!has(list, name)) snprintf(list + n, cap - n, "%s%s", n ? "," : "", name);
}

static int parse_temps(gen_job *o, const cJSON *v, srv_error *e) {
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
    if (n < 1 || n > GEN_MAX_TEMPS)
        return srv_fail(e, 400, "temperatures", "temperatures must be a list of 1 to %d numbers >= 0 "
                        "(0: greedy), such as [1.0, 0.7, 0.5, 0.1]", GEN_MAX_TEMPS);
    for (int k = 0; k < n; k++) {
        const cJSON *t = cJSON_GetArrayItem(v, k);
        if (!cJSON_IsNumber(t) || !isfinite(t->valuedouble) || t->valuedouble < 0 || t->valuedouble > 1e4)
            return srv_fail(e, 400, "temperatures", "temperatures[%d] is not a temperature: give numbers "
                            "in [0, 10000] (0: greedy)", k);
        o->temps[k] = t->valuedouble;
    }
    o->n_runs = n;
    o->sweep = 1;
    return 0;
}

/* Greedy, sampling or beams as `temper generate` decides (cli_generate_opts.c):
 * do_sample or a warper given asks for sampling, do_sample false for greedy;
 * a conflict with generation_config.json is resolved for the request. */
static int resolve_mode(srv_job *j, gen_job *o, const char *given, srv_error *e) {
    temper_generate_params *p = &j->p;
    const char *asks = NULL;
    int n_params;
    const temper_param *t = temper_params(&n_params);
    if (has(given, "do_sample") && p->sampling.do_sample) asks = "do_sample";
    else if (o->sweep) asks = "temperatures";
    for (int k = 0; !asks && k < n_params; k++)
        if (t[k].warper && has(given, t[k].name) &&
            !(!strcmp(t[k].name, "temperature") && p->sampling.temperature <= 0))
            asks = t[k].name;
    int greedy_asked = has(given, "do_sample") && !p->sampling.do_sample;
    if (greedy_asked && o->sweep)
        return srv_fail(e, 400, "do_sample", "do_sample false (greedy) and temperatures (a sampling "
                        "sweep) contradict: drop one of them");
    if (o->sweep && has(given, "temperature"))
        return srv_fail(e, 400, "temperature", "temperature and temperatures: give one of them");
    if (greedy_asked) p->sampling.do_sample = 0;
    else if (asks) p->sampling.do_sample = 1;
    if (p->num_beams > 1 && p->sampling.do_sample) {
        if (asks && has(given, "num_beams"))
            return srv_fail(e, 400, asks, "%s asks for sampling, and beam search does not sample "
                            "(beam-sample is not supported): drop %s or num_beams", asks, asks);
        if (asks) {
            p->num_beams = 1;
            add_note(o, "num_beams of generation_config.json ignored: sampling asked");
        } else {
            p->sampling.do_sample = 0;
            add_note(o, "do_sample of generation_config.json ignored: beam search");
        }
    }
    if (o->sweep && p->num_beams > 1)
        return srv_fail(e, 400, "num_beams", "temperatures runs sampling at each temperature: it does "
                        "not go with num_beams %d", p->num_beams);
    if (p->max_new_tokens > 0 && p->sampling.min_new_tokens > p->max_new_tokens)
        add_note(o, "min_new_tokens > max_new_tokens: no end-of-sequence token at all");
    return 0;
}

/* The run's parameters (temperature k of a sweep), its stage list and
 * whether it is greedy, checked by the library (as the command's
 * prepare_run). */
static int prepare_run(srv_server *s, const srv_job *j, gen_job *o, int k, srv_error *e) {
    temper_generate_params p = j->p;
    p.num_return_sequences = o->nrs;
    if (o->sweep) {
        p.sampling.temperature = (float)o->temps[k];
        if (o->temps[k] == 0) p.num_return_sequences = 1;
    }
    if (temper_generate_mode(&p) < 0) return srv_fail(e, 400, NULL, "%s", temper_last_error());
    temper_sampling_params sp = p.sampling;
    if (p.num_beams > 1) sp.do_sample = 0; /* beams: processors only */
    temper_sampler *smp = NULL;
    if (temper_sampler_init(&sp, s->n_vocab, &smp) < 0) return srv_fail(e, 400, NULL, "%s", temper_last_error());
    temper_sampler_describe(smp, o->stages[k], sizeof o->stages[k]);
    o->greedy[k] = temper_sampler_is_greedy(smp);
    temper_sampler_free(smp);
    return 0;
}

static int parse_request(srv_server *s, const cJSON *body, srv_job *j, gen_job *o, srv_error *e) {
    char given[1024] = "";
    const cJSON *prompt = NULL, *v;
    o->n_runs = 1;
    o->temps[0] = NAN;
    cJSON_ArrayForEach(v, body) {
        const char *k = v->string;
        int rc = 0;
        if (!strcmp(k, "prompt")) prompt = v;
        else if (!strcmp(k, "stream")) rc = srv_json_bool(v, k, &o->stream, e);
        else if (!strcmp(k, "temperatures")) rc = parse_temps(o, v, e);
        else if (!strcmp(k, "stop")) rc = srv_parse_stop(j, v, k, e);
        else if (!strcmp(k, "logit_bias")) rc = srv_parse_logit_bias(s, j, v, k, e);
        else {
            int got = srv_parse_param(&j->p, k, v, e);
            if (got < 0) rc = -1;
            else if (got == 0)
                rc = srv_fail_code(e, 400, k, "unknown_parameter", "unknown field \"%.100s\": the fields "
                                   "are prompt, temperatures, stop, logit_bias, stream and the decoding "
                                   "parameters of temper's table (docs/api.md)", k);
            else if (!cJSON_IsNull(v)) add_name(given, sizeof given, temper_param_find(k)->name);
        }
        if (rc < 0) return -1;
    }
    if (!prompt) return srv_fail(e, 400, "prompt", "prompt is missing: give the text (or ids) to continue");
    if (srv_parse_prompts(s, prompt, "prompt", &j->prompts, &j->n_prompts, e) < 0) return -1;
    if (j->n_prompts != 1) return srv_fail(e, 400, "prompt", "prompt must be one text or one list of ids");
    if (j->prompts[0].n < 1) return srv_fail(e, 400, "prompt", "prompt has no token: give some text or ids");
    if (resolve_mode(j, o, given, e) < 0) return -1;
    /* generation_config.json's keys that the request left to it */
    for (const char *k = s->default_keys; *k;) {
        char key[64];
        size_t len = strcspn(k, ",");
        snprintf(key, sizeof key, "%.*s", (int)len, k);
        k += len + (k[len] == ',');
        const temper_param *d = temper_param_find(key);
        if ((d && !has(given, d->name)) || !strcmp(key, "suppress_tokens"))
            add_name(o->from_config, sizeof o->from_config, key);
    }
    if (!has(given, "seed")) j->p.seed = temper_random_seed();
    int max_new = j->p.max_new_tokens;
    if (max_new > s->cfg.max_tokens)
        return srv_fail(e, 400, "max_new_tokens", "max_new_tokens is %d: at most %d on this server "
                        "(temper serve --max-tokens)", max_new, s->cfg.max_tokens);
    if (j->prompts[0].n + max_new > s->n_ctx)
        return srv_fail_code(e, 400, "max_new_tokens", "context_length_exceeded", "the context window "
                             "is %d tokens, and the prompt has %d and max_new_tokens asks for %d more: "
                             "lower max_new_tokens or shorten the prompt", s->n_ctx, j->prompts[0].n, max_new);
    o->nrs = j->p.num_return_sequences;
    if ((long)o->nrs * o->n_runs > s->cfg.max_choices || j->p.num_beams > s->cfg.max_choices)
        return srv_fail(e, 400, j->p.num_beams > 1 ? "num_beams" : "num_return_sequences", "%d "
                        "sequences (or beams) is more than %d (temper serve --max-choices)",
                        j->p.num_beams > 1 ? j->p.num_beams : o->nrs * o->n_runs, s->cfg.max_choices);
    for (int k = 0; k < o->n_runs; k++)
        if (prepare_run(s, j, o, k, e) < 0) return -1;
    if (o->stream && j->p.num_beams > 1)
        return srv_fail(e, 400, "stream", "beam search's sequences are known only at its end: it "
                        "cannot be streamed (leave stream out, or num_beams 1)");
    return 0;
}

/* ---- the runs: beam search in its own context, else one slot per sequence */

static int beam_run(srv_job *j, srv_seq *q, temper_context *ctx, int slot) {
    (void)ctx, (void)slot;
    srv_server *s = j->srv;
    gen_job *o = j->user;
    const srv_prompt *pr = &j->prompts[q->prompt];
    temper_context_params cp = temper_context_default_params();
    cp.n_ctx = pr->n + j->p.max_new_tokens;
    cp.n_seq = j->p.num_beams > o->nrs ? j->p.num_beams : o->nrs;
    cp.pool = s->pool;
    temper_context *bc = NULL;
    temper_generate_params p = j->p;
    p.num_return_sequences = o->nrs;
    int rc = temper_context_init(s->model, &cp, &bc);
    if (rc == 0) rc = temper_generate(bc, pr->ids, pr->n, &p, &o->beams);
    temper_context_free(bc);
    return rc < 0 ? -1 : 0;
}

/* Sequence q of a sweep runs at its run's temperature. */
static void sweep_params(const srv_job *j, const srv_seq *q, temper_generate_params *p) {
    const gen_job *o = j->user;
    if (o->sweep) p->sampling.temperature = (float)o->temps[q->prompt];
}

/* The sequences of run k that the document shows (one for a greedy run of
 * a sweep: its other slots decode copies). */
static int run_seqs(const gen_job *o, int k) {
    return o->sweep && o->temps[k] == 0 ? 1 : o->nrs;
}

/* One run's sequences as a temper_generation (g->seqs and their probs are
 * malloc'd here: free_run). */
static int collect_run(const srv_job *j, int k, temper_generation *g) {
    const gen_job *o = j->user;
    memset(g, 0, sizeof *g);
    g->n_seqs = run_seqs(o, k);
    g->n_top = j->p.n_top;
    g->n_prompt = j->prompts[0].n;
    g->prompt_seconds = j->t_first > j->t_started ? j->t_first - j->t_started : 0;
    g->decode_seconds = j->t_done > j->t_first && j->t_first > 0 ? j->t_done - j->t_first : 0;
    g->seqs = calloc((size_t)g->n_seqs, sizeof *g->seqs);
    if (!g->seqs) return -1;
    for (int i = 0; i < g->n_seqs; i++) {
        const srv_seq *q = &j->seqs[(size_t)k * (size_t)o->nrs + (size_t)i];
        temper_sequence *t = &g->seqs[i];
        t->ids = q->ids;
        t->n_ids = q->n;
        t->top = q->top;
        t->finish_reason = q->finish;
        t->score = NAN;
        if (!(t->probs = malloc(sizeof *t->probs * (size_t)(q->n ? q->n : 1)))) return -1;
        for (int m = 0; m < q->n; m++) {
            t->probs[m] = (temper_token_prob){q->ids[m], q->lp[m], q->lp_proc[m]};
            t->sum_logprob += t->probs[m].logprob_processed; /* as the library sums them */
        }
        g->n_forward += q->n_forward;
        g->n_steps = q->n > g->n_steps ? q->n : g->n_steps;
    }
    return 0;
}

static void free_run(temper_generation *g) {
    for (int i = 0; g->seqs && i < g->n_seqs; i++) free(g->seqs[i].probs);
    free(g->seqs);
}

/* Distinct texts among g's sequences (seed 004's len(set(outputs))). */
static int distinct(const srv_server *s, const temper_generation *g) {
    int n = 0;
    char **texts = calloc((size_t)g->n_seqs, sizeof *texts);
    if (!texts) return 0;
    for (int i = 0; i < g->n_seqs; i++) {
        const temper_sequence *q = &g->seqs[i];
        int len = temper_detokenize(s->tok, q->ids, q->n_ids, TEMPER_DETOKENIZE_SKIP_SPECIAL, NULL, 0);
        texts[i] = malloc(len > 0 ? (size_t)len + 1 : 1);
        if (texts[i]) {
            texts[i][0] = '\0';
            if (len > 0) temper_detokenize(s->tok, q->ids, q->n_ids, TEMPER_DETOKENIZE_SKIP_SPECIAL,
                                           texts[i], (size_t)len + 1);
        }
        int seen = 0;
        for (int m = 0; m < i && !seen; m++) seen = texts[i] && texts[m] && !strcmp(texts[i], texts[m]);
        n += !seen;
    }
    for (int i = 0; i < g->n_seqs; i++) free(texts[i]);
    free(texts);
    return n;
}

/* The whole document of a finished job (NULL: out of memory). */
static temper_json *document(srv_job *j) {
    srv_server *s = j->srv;
    gen_job *o = j->user;
    temper_generation gens[GEN_MAX_TEMPS];
    temper_json_run runs[GEN_MAX_TEMPS];
    int n_runs = 0, ok = 1;
    memset(gens, 0, sizeof gens);
    for (int k = 0; k < o->n_runs; k++) {
        const temper_generation *g = o->beams;
        if (!g) {
            ok &= collect_run(j, k, &gens[k]) == 0;
            n_runs = k + 1;
            g = &gens[k];
        }
        runs[k] = (temper_json_run){.temperature = o->temps[k], .greedy = o->greedy[k],
                                    .stages = o->stages[k], .g = g, .distinct = ok ? distinct(s, g) : 0};
    }
    temper_model_info mi;
    temper_model_get_info(s->model, &mi);
    temper_generate_params p = j->p; /* the settings as given */
    p.num_return_sequences = o->nrs;
    p.sampling.do_sample = p.sampling.do_sample || o->sweep;
    temper_token eos = mi.eos_id;
    temper_json_generation d = {
        .model = s->model_arg ? s->model_arg : s->cfg.model_name, .tok = s->tok,
        .prompt = j->prompts[0].ids, .n_prompt = j->prompts[0].n, .params = &p,
        .mode = p.num_beams > 1 ? "beam_search" : o->sweep || !o->greedy[0] ? "sampling" : "greedy",
        .temperatures = o->sweep ? o->temps : NULL, .n_temperatures = o->sweep ? o->n_runs : 0,
        .runs = runs, .n_runs = o->n_runs, .from_config = o->from_config, .notes = o->notes,
        .load_seconds = mi.load_seconds,
        .eos = p.n_eos > 0 ? p.eos_ids : &eos, .n_eos = p.n_eos > 0 ? p.n_eos : eos >= 0};
    temper_json *w = ok ? temper_json_new(NULL) : NULL;
    if (w) temper_json_generate(w, &d);
    for (int k = 0; k < n_runs; k++) free_run(&gens[k]);
    return w;
}

/* ---- streaming: an event per token, then the document */

static void emit_event(srv_job *j, const char *event, temper_json *w) {
    size_t len = 0;
    const char *text = w && temper_json_finish(w) == 0 ? temper_json_text(w, &len) : NULL;
    if (text) {
        while (len && text[len - 1] == '\n') len--;
        char head[64];
        int hn = snprintf(head, sizeof head, "event: %s\ndata: ", event);
        srv_job_emit(j, head, (size_t)hn);
        srv_job_emit(j, text, len);
        srv_job_emit(j, "\n\n", 2);
    }
    temper_json_free(w);
}

static void stream_token(srv_job *j, srv_seq *q, int k) {
    gen_job *o = j->user;
    if (q->index >= run_seqs(o, q->prompt)) return; /* a copy of a greedy run */
    temper_json *w = temper_json_new(NULL);
    if (!w) return;
    temper_json_obj_begin(w);
    temper_json_key(w, "sequence"), temper_json_int(w, q->index);
    if (o->sweep) temper_json_key(w, "temperature"), temper_json_double(w, o->temps[q->prompt]);
    temper_json_key(w, "index"), temper_json_int(w, k);
    temper_json_key(w, "piece"), temper_json_strn(w, q->text + q->at[k], q->len - q->at[k]);
    temper_json_key(w, "finish_reason");
    temper_json_str(w, q->finish != TEMPER_FINISH_NONE ? temper_finish_reason_name(q->finish) : NULL);
    temper_token_prob prob = {q->ids[k], q->lp[k], q->lp_proc[k]};
    temper_json_key(w, "token");
    temper_json_token_probs(w, j->srv->tok, &prob, q->top ? q->top + (size_t)k * (size_t)j->p.n_top : NULL,
                            j->p.n_top);
    temper_json_obj_end(w);
    emit_event(j, "token", w);
}

static void stream_done(srv_job *j) {
    if (j->err.status) {
        cJSON *err = srv_error_json(&j->err);
        char *t = err ? cJSON_PrintUnformatted(err) : NULL;
        if (t) {
            srv_job_emit(j, "event: error\ndata: ", 19);
            srv_job_emit(j, t, strlen(t));
            srv_job_emit(j, "\n\n", 2);
        }
        free(t);
        cJSON_Delete(err);
    } else if (!j->canceled) {
        emit_event(j, "generation", document(j));
    }
    static const char done[] = "data: [DONE]\n\n";
    srv_job_emit(j, done, sizeof done - 1);
}

static void gen_free(void *user) {
    temper_generation_free(((gen_job *)user)->beams);
}

static const srv_job_ops seq_ops = {.params = sweep_params, .free_user = gen_free, .doc = document};
static const srv_job_ops stream_ops = {.token = stream_token, .done = stream_done, .params = sweep_params,
                                       .free_user = gen_free, .doc = document};
static const srv_job_ops beam_ops = {.run = beam_run, .free_user = gen_free, .doc = document};

/* ---- the endpoint */

/* The job's one prompt n times (a sweep: prompt k is run k's). */
static int repeat_prompt(srv_job *j, int n, srv_error *e) {
    srv_prompt *more = realloc(j->prompts, sizeof *more * (size_t)n);
    if (!more) return srv_fail(e, 500, NULL, "out of memory");
    j->prompts = more;
    for (int k = 1; k < n; k++) {
        srv_prompt *pr = &j->prompts[k];
        memset(pr, 0, sizeof *pr);
        if (!(pr->ids = malloc(sizeof *pr->ids * (size_t)j->prompts[0].n))) return srv_fail(e, 500, NULL, "out of memory");
        memcpy(pr->ids, j->prompts[0].ids, sizeof *pr->ids * (size_t)j->prompts[0].n);
        pr->n = j->prompts[0].n;
        j->n_prompts = k + 1;
    }
    return 0;
}

srv_job *srv_temper_generate_job(srv_server *s, const char *text, size_t len, int fd, srv_error *e) {
    cJSON *body;
    srv_job *j = srv_api_job(s, text, len, fd, &seq_ops, sizeof(gen_job), &body, e);
    if (!j) return NULL;
    gen_job *o = j->user;
    int rc = parse_request(s, body, j, o, e);
    cJSON_Delete(body);
    if (rc == 0) {
        if (j->p.num_beams > 1) {
            j->ops = &beam_ops;
            rc = srv_job_setup(j, 1, e);
        } else {
            if (o->stream) j->ops = &stream_ops;
            j->p.num_return_sequences = 1; /* each sequence is its own request */
            if (o->n_runs > 1) rc = repeat_prompt(j, o->n_runs, e); /* once per temperature */
            if (rc == 0) rc = srv_job_setup(j, o->nrs, e);
        }
    }
    if (rc < 0) {
        srv_job_release(j);
        return NULL;
    }
    return j;
}

enum MHD_Result srv_temper_generate(srv_request *r) {
    srv_error e = {0};
    srv_job *j = srv_temper_generate_job(r->srv, r->body, r->body_len, r->fd, &e);
    return srv_run_job(r, j, &e, j && ((gen_job *)j->user)->stream, NULL);
}
