/*
 * pool.h - a persistent thread pool: n-1 workers plus the calling thread.
 *
 * temper__pool_run_chunks(pool, fn, arg, n) calls fn(arg, c, n) once for
 * every chunk c = 0..n-1 and returns when all are done. Chunks are claimed
 * by whichever thread is free (the caller included), so a worker that the
 * OS has descheduled (another process on its core) delays only a chunk it
 * had already claimed, never the job: the caller takes the rest. Kernels
 * split their work by (c, n) deterministically and a chunk's result does not
 * depend on the thread that runs it, so results do not depend on scheduling.
 * Two chunks of one job may run at once, a chunk never twice: per-chunk
 * scratch indexed by c is safe. temper__pool_run uses one chunk per thread.
 * Workers spin briefly between jobs (decode issues many small jobs per
 * token), then sleep on a condition variable. It is not safe to run two
 * jobs at once: a context that evaluates holds the pool's lock
 * (temper__pool_lock), so that contexts may share one pool.
 */
#ifndef TEMPER_POOL_H
#define TEMPER_POOL_H

#include <stddef.h>

typedef struct temper_threadpool temper__pool; /* public name: temper_threadpool */
typedef void (*temper__pool_fn)(void *arg, int ith, int nth);

/* n_threads >= 1. *out is owned by the caller (temper__pool_free). */
int temper__pool_new(int n_threads, temper__pool **out);
void temper__pool_free(temper__pool *pool);
int temper__pool_size(const temper__pool *pool);
void temper__pool_run(temper__pool *pool, temper__pool_fn fn, void *arg);
/* n_chunks in 1..65535. */
void temper__pool_run_chunks(temper__pool *pool, temper__pool_fn fn, void *arg, int n_chunks);

/* Take / release the pool for one evaluation (pool may be NULL). */
void temper__pool_lock(temper__pool *pool);
void temper__pool_unlock(temper__pool *pool);

/* A buffer of at least n floats (64-byte aligned) owned by the pool, for
 * kernels that need partial results shared between threads. Call it from
 * the thread that runs the job, before temper__pool_run; it stays valid
 * until the next call. NULL when out of memory (no error is recorded). */
float *temper__pool_scratch(temper__pool *pool, size_t n);

/* The [begin, end) share of n items for thread ith of nth, in chunks that
 * are multiples of align (except the last). */
static inline void temper__split(long n, long align, int ith, int nth,
                                 long *begin, long *end) {
    long chunks = (n + align - 1) / align;
    long per = chunks / nth, extra = chunks % nth;
    long c0 = ith * per + (ith < extra ? ith : extra);
    long c1 = c0 + per + (ith < extra ? 1 : 0);
    *begin = c0 * align < n ? c0 * align : n;
    *end = c1 * align < n ? c1 * align : n;
}

#endif
