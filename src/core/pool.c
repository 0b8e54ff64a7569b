/* pool.c - persistent thread pool (see pool.h). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/core.h"
#include "core/pool.h"

#define TEMPER__SPIN_ITERS 200000
/* Waits inside a job (the caller for its workers, the barrier) spin this
 * long before yielding the core on each further check: on a machine busy
 * with other work, the thread being waited for may need this core. */
#define TEMPER__YIELD_AFTER 20000

#if defined(__x86_64__) || defined(__i386__)
#define temper__cpu_relax() __builtin_ia32_pause()
#else
#define temper__cpu_relax() sched_yield()
#endif

struct temper__pool {
    int n;                       /* threads including the caller */
    pthread_t *threads;          /* (n - 1) workers */
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_uint generation;      /* bumped once per job */
    atomic_int pending;          /* workers still running the current job */
    atomic_int sleeping;         /* workers waiting on `wake` */
    atomic_bool quit;
    temper__pool_fn fn;
    void *arg;
    atomic_int barrier_left;     /* threads yet to reach the current barrier */
    atomic_uint barrier_phase;   /* bumped each time a barrier opens */
    float *scratch;              /* (scratch_floats) shared kernel buffer, owned */
    size_t scratch_floats;
};

typedef struct { temper__pool *pool; int ith; } temper__worker;

static void *temper__worker_main(void *p) {
    temper__worker *w = p;
    temper__pool *pool = w->pool;
    int ith = w->ith;
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
        pool->fn(pool->arg, ith, pool->n);
        atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_release);
    }
}

int temper__pool_new(int n_threads, temper__pool **out) {
    *out = NULL;
    if (n_threads < 1) n_threads = 1;
    temper__pool *pool = calloc(1, sizeof *pool);
    if (!pool) return temper__error(TEMPER_ENOMEM, "out of memory creating the thread pool");
    pool->n = n_threads;
    atomic_init(&pool->barrier_left, n_threads);
    pthread_mutex_init(&pool->mu, NULL);
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
    pthread_cond_destroy(&pool->wake);
    free(pool->scratch);
    free(pool->threads);
    free(pool);
}

int temper__pool_size(const temper__pool *pool) { return pool ? pool->n : 1; }

void temper__pool_run(temper__pool *pool, temper__pool_fn fn, void *arg) {
    if (!pool || pool->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    atomic_store(&pool->pending, pool->n - 1);
    atomic_fetch_add(&pool->generation, 1); /* seq_cst: ordered before the load of sleeping */
    if (atomic_load(&pool->sleeping) > 0) {
        pthread_mutex_lock(&pool->mu);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mu);
    }
    fn(arg, 0, pool->n);
    for (int spins = 0; atomic_load_explicit(&pool->pending, memory_order_acquire) > 0;)
        if (++spins < TEMPER__YIELD_AFTER) temper__cpu_relax();
        else sched_yield();
}

void temper__pool_barrier(temper__pool *pool) {
    if (!pool || pool->n == 1) return;
    unsigned phase = atomic_load_explicit(&pool->barrier_phase, memory_order_acquire);
    if (atomic_fetch_sub_explicit(&pool->barrier_left, 1, memory_order_acq_rel) == 1) {
        /* Last to arrive: re-arm, then open. */
        atomic_store_explicit(&pool->barrier_left, pool->n, memory_order_relaxed);
        atomic_fetch_add_explicit(&pool->barrier_phase, 1, memory_order_release);
        return;
    }
    for (int spins = 0; atomic_load_explicit(&pool->barrier_phase, memory_order_acquire) == phase;)
        if (++spins < TEMPER__YIELD_AFTER) temper__cpu_relax();
        else sched_yield();
}

float *temper__pool_scratch(temper__pool *pool, size_t n) {
    if (!pool) return NULL;
    if (n <= pool->scratch_floats) return pool->scratch;
    free(pool->scratch);
    pool->scratch = aligned_alloc(64, (n * sizeof(float) + 63) & ~(size_t)63);
    pool->scratch_floats = pool->scratch ? n : 0;
    return pool->scratch;
}
