/*
 * sched.c - the slots and the scheduler thread (continuous batching).
 *
 * A job is one HTTP request: its prompts and, for each, per_prompt
 * sequences (OpenAI's best_of / n), each decoded by one temper_gen in one
 * slot of the scheduler's context. Each step the scheduler
 *   1. puts waiting sequences into free slots, first come first served;
 *   2. cancels the jobs whose client went away (a poll of each socket);
 *   3. starts the new sequences (echo: the prompt's log-probs first);
 *   4. runs one temper_gen_step over every slot: each sequence takes one
 *      token and the new tokens are evaluated with one temper_eval_batch;
 *   5. empties the slots of finished sequences, and finishes the jobs whose
 *      sequences are all done.
 * Sequence i of a prompt draws from stream i of the job's seed, so its
 * tokens do not depend on what else runs (the library's guarantee).
 */
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server.h"

double srv_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

srv_job *srv_job_new(srv_server *s, const srv_job_ops *ops) {
    srv_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->srv = s;
    j->refs = 1;
    j->ops = ops;
    j->fd = -1;
    j->echo_top = -1;
    j->p = s->defaults;
    pthread_cond_init(&j->cv, NULL);
    return j;
}

int srv_job_setup(srv_job *j, int per_prompt, srv_error *e) {
    j->per_prompt = per_prompt;
    j->n_seqs = j->n_prompts * per_prompt;
    j->seqs = calloc((size_t)j->n_seqs, sizeof *j->seqs);
    if (!j->seqs) return srv_fail(e, 500, NULL, "out of memory");
    int n_top = j->p.n_top;
    for (int i = 0; i < j->n_seqs; i++) {
        srv_seq *q = &j->seqs[i];
        q->job = j;
        q->prompt = i / per_prompt;
        q->index = i % per_prompt;
        q->slot = -1;
        int room = j->srv->n_ctx - j->prompts[q->prompt].n; /* < 0: an analysis of a longer text */
        if (room < 0) room = 0;
        q->cap = j->p.max_new_tokens < room ? j->p.max_new_tokens : room;
        size_t c = (size_t)(q->cap ? q->cap : 1);
        q->ids = malloc(c * sizeof *q->ids);
        q->lp = malloc(c * sizeof *q->lp);
        q->lp_proc = malloc(c * sizeof *q->lp_proc);
        q->at = malloc(c * sizeof *q->at);
        q->top = n_top ? malloc(c * (size_t)n_top * sizeof *q->top) : NULL;
        q->text_cap = 256;
        q->text = malloc(q->text_cap);
        if (!q->ids || !q->lp || !q->lp_proc || !q->at || (n_top && !q->top) || !q->text)
            return srv_fail(e, 500, NULL, "out of memory for %d tokens", q->cap);
        q->text[0] = '\0';
    }
    return 0;
}

static void job_free(srv_job *j) {
    for (int i = 0; i < j->n_seqs; i++) {
        srv_seq *q = &j->seqs[i];
        temper_gen_free(q->gen);
        free(q->ids);
        free(q->lp);
        free(q->lp_proc);
        free(q->at);
        free(q->top);
        free(q->text);
    }
    free(j->seqs);
    srv_prompts_free(j->prompts, j->n_prompts);
    for (int i = 0; i < j->p.n_stop; i++) free(j->stop[i]);
    free(j->stop);
    free(j->bias);
    free(j->out);
    if (j->user && j->ops && j->ops->free_user) j->ops->free_user(j->user);
    free(j->user);
    pthread_cond_destroy(&j->cv);
    free(j);
}

void srv_job_release(srv_job *j) {
    if (!j) return;
    srv_server *s = j->srv;
    pthread_mutex_lock(&s->mu);
    int last = --j->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (last) job_free(j);
}

/* Stop j's sequences (under s->mu). */
static void stop_locked(srv_job *j) {
    for (int i = 0; i < j->n_seqs; i++)
        if (j->seqs[i].gen) temper_gen_cancel(j->seqs[i].gen);
    pthread_cond_signal(&j->srv->work);
}

static void cancel_locked(srv_job *j) {
    j->canceled = 1;
    j->fd = -1;
    stop_locked(j);
}

void srv_job_cancel(srv_job *j) {
    pthread_mutex_lock(&j->srv->mu);
    if (!j->finished) cancel_locked(j);
    pthread_mutex_unlock(&j->srv->mu);
}

int srv_submit(srv_job *j, srv_error *e) {
    srv_server *s = j->srv;
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    int st = atomic_load(&s->state);
    if (st != SRV_READY && st != SRV_STOPPING_SOFT) {
        rc = srv_fail(e, 503, NULL, "the server is stopping");
    } else if (s->n_queued >= s->cfg.queue) {
        s->stats.rejected++;
        rc = srv_fail_code(e, 503, NULL, "queue_full", "the server is busy: %d requests are "
                           "waiting for a slot (temper serve --queue); retry after a moment",
                           s->n_queued);
    } else {
        j->refs++;
        j->id = atomic_fetch_add(&s->next_id, 1);
        j->t_queued = srv_now();
        if (s->queue_tail) s->queue_tail->next = j;
        else s->queue_head = j;
        s->queue_tail = j;
        s->n_queued++;
        pthread_cond_signal(&s->work);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void srv_job_wait(srv_job *j) {
    pthread_mutex_lock(&j->srv->mu);
    while (!j->finished) pthread_cond_wait(&j->cv, &j->srv->mu);
    pthread_mutex_unlock(&j->srv->mu);
}

void srv_job_emit(srv_job *j, const char *data, size_t len) {
    pthread_mutex_lock(&j->srv->mu);
    if (j->out_len + len > j->out_cap) {
        size_t cap = j->out_cap ? j->out_cap : 4096;
        while (cap < j->out_len + len) cap *= 2;
        char *o = realloc(j->out, cap);
        if (!o) {
            cancel_locked(j); /* out of memory: this client loses its stream */
            pthread_mutex_unlock(&j->srv->mu);
            return;
        }
        j->out = o;
        j->out_cap = cap;
    }
    memcpy(j->out + j->out_len, data, len);
    j->out_len += len;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->srv->mu);
}

void srv_job_emit_end(srv_job *j) {
    pthread_mutex_lock(&j->srv->mu);
    j->out_end = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->srv->mu);
}

/* Where the text of q ends: before the first stop string when it stopped
 * at one; while it runs, before a tail that may begin one. */
size_t srv_text_end(const srv_job *j, const srv_seq *q, int final) {
    size_t end = q->len;
    for (int i = 0; i < j->p.n_stop; i++) {
        const char *hit = strstr(q->text, j->stop[i]);
        if (hit && (size_t)(hit - q->text) < end) end = (size_t)(hit - q->text);
    }
    if (final || end < q->len) return end;
    for (int i = 0; i < j->p.n_stop; i++) { /* the longest tail that a stop string starts with */
        size_t ls = strlen(j->stop[i]);
        for (size_t k = ls - 1; k > 0; k--)
            if (k <= q->len && q->len - k < end && memcmp(q->text + q->len - k, j->stop[i], k) == 0) {
                end = q->len - k;
                break;
            }
    }
    return end;
}

/* ---- the scheduler thread */

/* The token callback of every sequence: record the token. */
static int on_token(const temper_token_event *ev, void *user) {
    srv_seq *q = user;
    srv_job *j = q->job;
    int k = q->n;
    if (k >= q->cap) return 1; /* cannot happen: the request's cap is the same */
    if (q->len + ev->piece_len + 1 > q->text_cap) {
        size_t cap = q->text_cap;
        while (cap < q->len + ev->piece_len + 1) cap *= 2;
        char *t = realloc(q->text, cap);
        if (!t) return 1;
        q->text = t;
        q->text_cap = cap;
    }
    q->ids[k] = ev->id;
    q->lp[k] = ev->prob->logprob;
    q->lp_proc[k] = ev->prob->logprob_processed;
    q->at[k] = q->len;
    if (ev->n_top && q->top)
        memcpy(q->top + (size_t)k * (size_t)ev->n_top, ev->top, sizeof *q->top * (size_t)ev->n_top);
    memcpy(q->text + q->len, ev->piece, ev->piece_len);
    q->len += ev->piece_len;
    q->text[q->len] = '\0';
    __atomic_store_n(&q->n, k + 1, __ATOMIC_RELAXED); /* GET /slots reads it */
    if (j->t_first == 0) j->t_first = srv_now();
    if (ev->finish_reason != TEMPER_FINISH_NONE) q->finish = ev->finish_reason;
    if (j->ops && j->ops->token) j->ops->token(j, q, k);
    return 0;
}

/* Echo: the log-probability of each prompt token given the ones before, and
 * the best alternatives at each position, from the logits of every
 * position (evaluated 64 at a time in the sequence's slot). */
static int score_prompt(srv_server *s, int slot, srv_prompt *pr, int n_top) {
    enum { CHUNK = 64 };
    int V = s->n_vocab, n = pr->n, rc = 0;
    float *rows = malloc(sizeof(float) * CHUNK * (size_t)V); /* (CHUNK, V) */
    temper_candidate *cand = n_top ? malloc(sizeof *cand * (size_t)n_top) : NULL;
    pr->lp = malloc(sizeof(double) * (size_t)n);
    pr->top = n_top ? calloc((size_t)n * (size_t)n_top, sizeof *pr->top) : NULL;
    if (!rows || !pr->lp || (n_top && (!cand || !pr->top))) rc = TEMPER_ENOMEM;
    if (rc == 0) rc = temper_seq_truncate(s->ctx, slot, 0);
    if (rc == 0) pr->lp[0] = NAN;
    for (int b = 0; rc == 0 && b < n - 1; b += CHUNK) {
        int m = n - 1 - b < CHUNK ? n - 1 - b : CHUNK; /* the last token predicts nothing */
        rc = temper_eval(s->ctx, slot, pr->ids + b, m, rows, TEMPER_EVAL_ALL_LOGITS);
        for (int r = 0; rc == 0 && r < m; r++) {
            const float *row = rows + (size_t)r * (size_t)V;
            float mx = row[0];
            for (int v = 1; v < V; v++) mx = row[v] > mx ? row[v] : mx;
            double sum = 0;
            for (int v = 0; v < V; v++) sum += exp((double)row[v] - (double)mx);
            int pos = b + r + 1;
            pr->lp[pos] = (double)row[pr->ids[pos]] - (double)mx - log(sum);
            if (n_top) {
                int got = temper_next_token_table(row, V, NULL, n_top, cand, NULL);
                for (int c = 0; c < got; c++) {
                    temper_token_prob *t = &pr->top[(size_t)pos * (size_t)n_top + (size_t)c];
                    t->id = cand[c].id;
                    t->logprob = (float)cand[c].logprob;
                    t->logprob_processed = (float)cand[c].logprob;
                }
            }
        }
    }
    free(rows);
    free(cand);
    if (rc == 0) pr->scored = 1;
    return rc;
}

/* Start q in its slot (scheduler thread, without the lock). */
static int start_seq(srv_server *s, srv_seq *q) {
    srv_job *j = q->job;
    srv_prompt *pr = &j->prompts[q->prompt];
    int rc = 0;
    if (j->ops && j->ops->run) { /* an analysis: done in one go */
        rc = j->ops->run(j, q, s->ctx, q->slot);
        pthread_mutex_lock(&s->mu);
        if (rc < 0) {
            srv_fail(&j->err, 500, NULL, "%s", temper_last_error());
            q->finish = TEMPER_FINISH_CANCELED;
        } else {
            q->finish = TEMPER_FINISH_LENGTH;
        }
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
    if (j->echo_top >= 0 && !pr->scored) {
        rc = score_prompt(s, q->slot, pr, j->echo_top);
        q->scored_here = rc == 0;
    }
    if (rc == 0 && q->cap == 0) { /* max_tokens 0 (echo alone): nothing to decode */
        q->finish = TEMPER_FINISH_LENGTH;
        return 0;
    }
    temper_gen *g = NULL;
    temper_generate_params p = j->p;
    if (j->ops && j->ops->params) j->ops->params(j, q, &p);
    p.on_token = on_token;
    p.user = q;
    if (rc == 0) rc = temper_gen_new(s->ctx, q->slot, pr->ids, pr->n, &p, (uint64_t)q->index, &g);
    if (rc == 0 && j->cache_prompt && j->echo_top < 0) { /* the slot's cache: its common prefix */
        int n = 0, held = s->slot_len[q->slot];
        while (n < held && n < pr->n && s->slot_ids[q->slot][n] == pr->ids[n]) n++;
        if (n > 0 && (rc = temper_gen_reuse_prefix(g, n)) == 0) {
            n = n < pr->n ? n : pr->n - 1;
            if (n > j->n_cached) j->n_cached = n;
        }
    }
    s->slot_len[q->slot] = 0; /* known again when the sequence ends */
    pthread_mutex_lock(&s->mu);
    if (rc < 0) {
        srv_fail(&j->err, rc == TEMPER_ENOMEM ? 500 : 400, NULL, "%s", temper_last_error());
        q->finish = TEMPER_FINISH_CANCELED;
        cancel_locked(j);
    } else {
        q->gen = g;
        if (j->canceled) temper_gen_cancel(g);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Fill the free slots from the queue (under the lock). Jobs canceled while
 * they wait give up their sequences. */
static void admit(srv_server *s, srv_job **done, int *n_done) {
    srv_job *prev = NULL, *j = s->queue_head;
    int slot = 0;
    while (j) {
        srv_job *next = j->next;
        if (j->canceled || j->timed_out) {
            for (; j->next_seq < j->n_seqs; j->next_seq++) {
                j->seqs[j->next_seq].state = 2;
                j->seqs[j->next_seq].finish = TEMPER_FINISH_CANCELED;
                j->n_done++;
            }
        }
        while (j->next_seq < j->n_seqs) {
            while (slot < s->cfg.parallel && s->slots[slot]) slot++;
            if (slot == s->cfg.parallel) break;
            srv_seq *q = &j->seqs[j->next_seq++];
            int pick = slot;
            if (j->cache_prompt) { /* the free slot that holds the longest prefix of the prompt */
                const srv_prompt *pr = &j->prompts[q->prompt];
                int best = -1;
                for (int k = slot; k < s->cfg.parallel; k++) {
                    if (s->slots[k]) continue;
                    int n = 0;
                    while (n < s->slot_len[k] && n < pr->n && s->slot_ids[k][n] == pr->ids[n]) n++;
                    if (n > best) {
                        best = n;
                        pick = k;
                    }
                }
            }
            int keep = slot;
            slot = pick;
            q->slot = slot;
            q->state = 1;
            s->slots[slot] = q;
            if (j->t_started == 0) j->t_started = srv_now();
            slot = keep;
        }
        if (j->next_seq == j->n_seqs) { /* every sequence placed: out of the queue */
            if (prev) prev->next = next;
            else s->queue_head = next;
            if (s->queue_tail == j) s->queue_tail = prev;
            j->next = NULL;
            s->n_queued--;
            if (j->n_done == j->n_seqs) done[(*n_done)++] = j; /* canceled while waiting */
        } else {
            prev = j;
        }
        if (slot == s->cfg.parallel && j->next_seq < j->n_seqs) break; /* first come, first served */
        j = next;
    }
}

/* A client whose connection closed (or half-closed) cancels its job; a job
 * over the time limit stops. */
static void check_client(srv_job *j, double now) {
    double limit = j->srv->cfg.timeout;
    if (limit > 0 && !j->timed_out && !j->canceled && now - j->t_queued > limit) {
        j->timed_out = 1;
        stop_locked(j);
    }
    if (j->fd < 0 || j->canceled) return;
    struct pollfd p = {.fd = j->fd, .events = POLLRDHUP};
    if (poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
        cancel_locked(j);
}

/* Finish j (without the lock): its endpoint's last words, then wake its
 * waiters and drop the scheduler's reference. */
static void finish_job(srv_server *s, srv_job *j) {
    if (j->canceled && !j->err.status && atomic_load(&s->state) == SRV_STOPPING)
        srv_fail(&j->err, 503, NULL, "the server is stopping: the request was canceled");
    if (j->timed_out && !j->canceled) {
        int started = 1;
        for (int i = 0; i < j->n_seqs; i++) {
            if (j->seqs[i].finish == TEMPER_FINISH_CANCELED) j->seqs[i].finish = TEMPER_FINISH_LENGTH;
            if (j->seqs[i].slot < 0 && j->seqs[i].n == 0 && !j->seqs[i].gen && j->t_started == 0) started = 0;
        }
        if (!started)
            srv_fail_code(&j->err, 503, NULL, "timeout", "the request waited longer than the server's "
                          "time limit of %g s for a slot (temper serve --timeout)", j->srv->cfg.timeout);
    }
    j->t_done = srv_now();
    if (j->ops && j->ops->done) j->ops->done(j);
    pthread_mutex_lock(&s->mu);
    s->stats.completions++;
    for (int i = 0; i < j->n_prompts; i++) s->stats.prompt_tokens += (uint64_t)j->prompts[i].n;
    for (int i = 0; i < j->n_seqs; i++) s->stats.gen_tokens += (uint64_t)j->seqs[i].n;
    s->stats.sum_latency += j->t_done - j->t_queued;
    if (j->t_first > 0) s->stats.sum_first += j->t_first - j->t_queued;
    j->finished = 1;
    j->out_end = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&s->mu);
    srv_job_release(j);
}

static void *sched_main(void *arg) {
    srv_server *s = arg;
    int P = s->cfg.parallel;
    temper_gen **gens = calloc((size_t)P, sizeof *gens);
    srv_job **done = calloc((size_t)P + (size_t)s->cfg.queue + 1, sizeof *done);
    srv_seq **fresh = calloc((size_t)P, sizeof *fresh);
    if (!gens || !done || !fresh) {
        fprintf(stderr, "temper: serve: out of memory in the scheduler\n");
        atomic_store(&s->state, SRV_STOPPING);
    }
    pthread_mutex_lock(&s->mu);
    for (;;) {
        int n_done = 0, stopping = atomic_load(&s->state) == SRV_STOPPING || !gens;
        if (stopping) {
            for (srv_job *j = s->queue_head; j; j = j->next) cancel_locked(j);
            for (int k = 0; k < P; k++)
                if (s->slots[k] && !s->slots[k]->job->canceled) cancel_locked(s->slots[k]->job);
        }
        if (gens) admit(s, done, &n_done);
        double now = srv_now();
        for (srv_job *j = s->queue_head; j; j = j->next) check_client(j, now);
        int n_active = 0, n_fresh = 0;
        for (int k = 0; k < P; k++) {
            srv_seq *q = s->slots[k];
            if (!q) continue;
            check_client(q->job, now);
            if (!q->gen) fresh[n_fresh++] = q;
            n_active++;
        }
        if (n_done) {
            pthread_mutex_unlock(&s->mu);
            for (int i = 0; i < n_done; i++) finish_job(s, done[i]);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (!n_active) {
            if (stopping && !s->queue_head) break;
            pthread_cond_wait(&s->work, &s->mu);
            continue;
        }
        pthread_mutex_unlock(&s->mu);

        for (int i = 0; i < n_fresh; i++) start_seq(s, fresh[i]);
        int n = 0;
        for (int k = 0; k < P; k++)
            if (s->slots[k] && s->slots[k]->gen) gens[n++] = s->slots[k]->gen;
        int rc = n ? temper_gen_step(gens, n) : 0;
        if (rc < 0 && rc != TEMPER_ECANCELED)
            fprintf(stderr, "temper: serve: a decoding step failed: %s\n", temper_last_error());

        pthread_mutex_lock(&s->mu);
        s->stats.steps++;
        for (int k = 0; k < P; k++) {
            srv_seq *q = s->slots[k];
            if (!q) continue;
            srv_job *j = q->job;
            int fr = q->gen ? temper_gen_finish_reason(q->gen) : q->finish;
            if (fr == TEMPER_FINISH_NONE) continue;
            q->finish = fr;
            if (fr == TEMPER_FINISH_CANCELED && !j->canceled && rc < 0)
                srv_fail(&j->err, 500, NULL, "decoding failed: %s", temper_last_error());
            if (q->gen) j->n_forward += q->n_forward = temper_gen_n_forward(q->gen);
            if ((!q->gen || temper_gen_n_forward(q->gen) == 0) && !q->scored_here) {
                temper_seq_truncate(s->ctx, k, 0); /* never evaluated: what it holds is unknown */
                s->slot_len[k] = 0;
            } else { /* what the slot's cache holds now: the prompt, then the tokens evaluated */
                const srv_prompt *pr = &j->prompts[q->prompt];
                int held = temper_seq_len(s->ctx, k), m = 0;
                for (; m < held && m < pr->n; m++) s->slot_ids[k][m] = pr->ids[m];
                for (int t = 0; m < held && t < q->n; t++) s->slot_ids[k][m++] = q->ids[t];
                s->slot_len[k] = m;
            }
            temper_gen_free(q->gen);
            q->gen = NULL;
            q->state = 2;
            q->slot = -1;
            s->slots[k] = NULL;
            if (++j->n_done == j->n_seqs) done[n_done++] = j;
        }
        if (n_done) {
            pthread_mutex_unlock(&s->mu);
            for (int i = 0; i < n_done; i++) finish_job(s, done[i]);
            pthread_mutex_lock(&s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    free(gens);
    free(done);
    free(fresh);
    return NULL;
}

int srv_sched_start(srv_server *s, srv_error *e) {
    s->slots = calloc((size_t)s->cfg.parallel, sizeof *s->slots);
    s->slot_ids = calloc((size_t)s->cfg.parallel, sizeof *s->slot_ids);
    s->slot_len = calloc((size_t)s->cfg.parallel, sizeof *s->slot_len);
    if (!s->slots || !s->slot_ids || !s->slot_len) return srv_fail(e, 500, NULL, "out of memory");
    for (int k = 0; k < s->cfg.parallel; k++)
        if (!(s->slot_ids[k] = malloc(sizeof(temper_token) * (size_t)s->n_ctx)))
            return srv_fail(e, 500, NULL, "out of memory");
    if (pthread_create(&s->thread, NULL, sched_main, s) != 0)
        return srv_fail(e, 500, NULL, "cannot start the scheduler thread");
    s->running = 1;
    return 0;
}

void srv_sched_stop(srv_server *s) {
    if (s->running) {
        pthread_mutex_lock(&s->mu);
        atomic_store(&s->state, SRV_STOPPING);
        pthread_cond_signal(&s->work);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        s->running = 0;
    }
    free(s->slots);
    s->slots = NULL;
    for (int k = 0; s->slot_ids && k < s->cfg.parallel; k++) free(s->slot_ids[k]);
    free(s->slot_ids);
    free(s->slot_len);
    s->slot_ids = NULL;
    s->slot_len = NULL;
}
