/* pool.c - persistent thread pool (see pool.h). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/core.h"
#include "core/pool.h"

#define TEMPER__SPIN_ITERS 200000
/* The caller's wait for chunks that workers still run spins this long
 * before yielding the core on each further check: on a machine busy with
 * other work, the thread being waited for may need this core. */
#define TEMPER__YIELD_AFTER 20000
/* Contention: a worker that claimed a chunk and then lost its core to
 * another process makes the caller wait for a scheduler slice
 * (milliseconds). When the caller waits more than TEMPER__STRIKE_S and
 * twice as long as it worked, the jobs of the next serial_s seconds run on
 * the caller alone (the same results: chunks are deterministic), then the
 * workers are tried again; each failed try doubles the stretch, up to
 * TEMPER__SERIAL_MAX_S. */
#define TEMPER__STRIKE_S 1e-3
#define TEMPER__SERIAL_MIN_S 0.02
#define TEMPER__SERIAL_MAX_S 0.5

#if defined(__x86_64__) || defined(__i386__)
#define temper__cpu_relax() __builtin_ia32_pause()
#else
#define temper__cpu_relax() sched_yield()
#endif

struct temper_threadpool {
    int n;                       /* threads including the caller */
    pthread_t *threads;          /* (n - 1) workers */
    pthread_mutex_t mu;
    pthread_mutex_t job_mu;      /* held by the context evaluating (shared pools) */
    pthread_cond_t wake;
    atomic_uint generation;      /* bumped once per job */
    atomic_int sleeping;         /* workers waiting on `wake` */
    atomic_bool quit;
    temper__pool_fn fn;          /* the current job, stable while a chunk of */
    void *arg;                   /* it is claimed and not done */
    /* The chunks of the current job: generation (32 bits), chunk count (16)
     * and next unclaimed chunk (16), claimed by compare-and-swap. */
    _Atomic uint64_t claim;
    atomic_int done;             /* chunks of the current job finished */
    double serial_until;         /* until then (temper__now) the caller runs
                                    jobs alone */
    double serial_s;             /* the next such stretch, seconds */
    float *scratch;              /* (scratch_floats) shared kernel buffer, owned */
    size_t scratch_floats;
};

typedef struct { temper__pool *pool; int ith; } temper__worker;

/* Claim and run chunks of job gen until none is left (or the job is over). */
static void temper__run_chunks(temper__pool *pool, unsigned gen) {
    uint64_t v = atomic_load_explicit(&pool->claim, memory_order_acquire);
    for (;;) {
        unsigned next = (unsigned)(v & 0xffff), count = (unsigned)(v >> 16 & 0xffff);
        if ((unsigned)(v >> 32) != gen || next >= count) return;
        if (!atomic_compare_exchange_weak_explicit(&pool->claim, &v, v + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue; /* v reloaded */
        pool->fn(pool->arg, (int)next, (int)count);
        atomic_fetch_add_explicit(&pool->done, 1, memory_order_release);
        v = atomic_load_explicit(&pool->claim, memory_order_acquire);
    }
}

static void *temper__worker_main(void *p) {
    temper__worker *w = p;
    temper__pool *pool = w->pool;
    free(w);
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen &&
               !atomic_load(&pool->quit)) {
            if (++spins < TEMPER__SPIN_ITERS) {
                temper__cpu_relax();
                continue;
            }
            pthread_mutex_lock(&pool->mu);
            atomic_fetch_add(&pool->sleeping, 1);
            while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->quit))
                pthread_cond_wait(&pool->wake, &pool->mu);
            atomic_fetch_sub(&pool->sleeping, 1);
            pthread_mutex_unlock(&pool->mu);
            spins = 0;
        }
        if (atomic_load(&pool->quit)) return NULL;
        seen = g;
        temper__run_chunks(pool, g);
    }
}

int temper__pool_new(int n_threads, temper__pool **out) {
    *out = NULL;
    if (n_threads < 1) n_threads = 1;
    temper__pool *pool = calloc(1, sizeof *pool);
    if (!pool) return temper__error(TEMPER_ENOMEM, "out of memory creating the thread pool");
    pool->n = n_threads;
    pool->serial_s = TEMPER__SERIAL_MIN_S;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_mutex_init(&pool->job_mu, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pool->threads = calloc((size_t)n_threads, sizeof *pool->threads);
    if (!pool->threads) {
        temper__pool_free(pool);
        return temper__error(TEMPER_ENOMEM, "out of memory creating the thread pool");
    }
    for (int i = 1; i < n_threads; i++) {
        temper__worker *w = malloc(sizeof *w);
        if (!w) { pool->n = i; temper__pool_free(pool); return temper__error(TEMPER_ENOMEM, "out of memory"); }
        w->pool = pool;
        w->ith = i;
        if (pthread_create(&pool->threads[i - 1], NULL, temper__worker_main, w) != 0) {
            free(w);
            pool->n = i;
            temper__pool_free(pool);
            return temper__error(TEMPER_ENOMEM, "cannot start thread %d of %d", i, n_threads);
        }
    }
    *out = pool;
    return 0;
}

void temper__pool_free(temper__pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    atomic_store(&pool->quit, true);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i < pool->n; i++) pthread_join(pool->threads[i - 1], NULL);
    pthread_mutex_destroy(&pool->mu);
    pthread_mutex_destroy(&pool->job_mu);
    pthread_cond_destroy(&pool->wake);
    free(pool->scratch);
    free(pool->threads);
    free(pool);
}

int temper__pool_size(const temper__pool *pool) { return pool ? pool->n : 1; }

void temper__pool_run_chunks(temper__pool *pool, temper__pool_fn fn, void *arg, int n_chunks) {
    if (n_chunks < 1) n_chunks = 1;
    if (n_chunks > 0xffff) n_chunks = 0xffff;
    double t0 = pool && pool->n > 1 && n_chunks > 1 ? temper__now() : 0.0;
    if (!pool || pool->n == 1 || n_chunks == 1 || t0 < pool->serial_until) {
        for (int c = 0; c < n_chunks; c++) fn(arg, c, n_chunks);
        return;
    }
    /* every chunk of the previous job is done: nobody reads fn/arg now */
    pool->fn = fn;
    pool->arg = arg;
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    unsigned gen = atomic_load_explicit(&pool->generation, memory_order_relaxed) + 1;
    atomic_store_explicit(&pool->claim, (uint64_t)gen << 32 | (uint64_t)n_chunks << 16,
                          memory_order_release);
    atomic_fetch_add(&pool->generation, 1); /* seq_cst: ordered before the load of sleeping */
    if (atomic_load(&pool->sleeping) > 0) {
        pthread_mutex_lock(&pool->mu);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mu);
    }
    temper__run_chunks(pool, gen);
    /* what is left is chunks that workers claimed and still run */
    if (atomic_load_explicit(&pool->done, memory_order_acquire) == n_chunks) return;
    double t1 = temper__now();
    for (int spins = 0; atomic_load_explicit(&pool->done, memory_order_acquire) < n_chunks;)
        if (++spins < TEMPER__YIELD_AFTER) temper__cpu_relax();
        else sched_yield();
    double t2 = temper__now(), waited = t2 - t1;
    if (waited > TEMPER__STRIKE_S && waited > 2 * (t1 - t0)) {
        pool->serial_until = t2 + pool->serial_s;
        if (pool->serial_s < TEMPER__SERIAL_MAX_S) pool->serial_s *= 2;
    } else {
        pool->serial_s = TEMPER__SERIAL_MIN_S;
    }
}

void temper__pool_run(temper__pool *pool, temper__pool_fn fn, void *arg) {
    temper__pool_run_chunks(pool, fn, arg, temper__pool_size(pool));
}

float *temper__pool_scratch(temper__pool *pool, size_t n) {
    if (!pool) return NULL;
    if (n <= pool->scratch_floats) return pool->scratch;
    free(pool->scratch);
    pool->scratch = aligned_alloc(64, (n * sizeof(float) + 63) & ~(size_t)63);
    pool->scratch_floats = pool->scratch ? n : 0;
    return pool->scratch;
}

void temper__pool_lock(temper__pool *pool) {
    if (pool) pthread_mutex_lock(&pool->job_mu);
}

void temper__pool_unlock(temper__pool *pool) {
    if (pool) pthread_mutex_unlock(&pool->job_mu);
}

/* ---- the public face: pools that contexts share ------------------------ */

int temper_threadpool_new(int n_threads, temper_threadpool **out) {
    if (!out) return temper__error(TEMPER_EINVAL, "temper_threadpool_new: out is NULL");
    *out = NULL;
    if (n_threads < 0)
        return temper__error(TEMPER_EINVAL, "a thread pool of %d threads: give 1 or more (0: all cores)",
                             n_threads);
    return temper__pool_new(n_threads ? n_threads : temper__n_cores(), out);
}

void temper_threadpool_free(temper_threadpool *pool) { temper__pool_free(pool); }

int temper_threadpool_n_threads(const temper_threadpool *pool) { return temper__pool_size(pool); }
