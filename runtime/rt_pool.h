/*
 * rt_pool.h - a small pthread pool that splits a compiled kernel's
 * outermost loop (or a GEMM's rows or columns) over threads. It lives in
 * the runtime so that a standalone trainer (no LLVM) and the JIT run
 * kernels the same way.
 *
 * A step is a long chain of short jobs (tens of microseconds each), so a
 * worker spins for a short while after each job before it sleeps on a
 * condition variable: the next job of the step then starts without a
 * futex wake-up. The step's GEMMs run on the same pool (OpenBLAS itself
 * single-threaded), so no other threads compete with the spinning ones;
 * between steps the workers fall asleep and leave the cores alone.
 */
#ifndef SAMC_RT_POOL_H
#define SAMC_RT_POOL_H

typedef struct rt_pool rt_pool;
typedef void (*rt_pool_fn)(void *ctx, int part, int nparts);

/* A pool of `nthreads` in all, the caller included (1 = no extra threads).
 * NULL when memory or threads cannot be had. */
rt_pool *rt_pool_new(int nthreads);
int rt_pool_threads(const rt_pool *p);
/* Runs fn(ctx, i, nparts) for every i in [0, nparts) (nparts is capped at
 * the pool's threads), part 0 on the calling thread; returns when all are
 * done. One caller at a time. */
void rt_pool_run(rt_pool *p, int nparts, rt_pool_fn fn, void *ctx);
/* Starts fn(ctx, 1, 2) on the first worker and returns at once, so that
 * the caller can work beside it; rt_pool_wait waits for it. No other job
 * may be given to the pool in between. -1 (nothing started) when the pool
 * has no worker or a started job was not waited for. */
int rt_pool_start(rt_pool *p, rt_pool_fn fn, void *ctx);
void rt_pool_wait(rt_pool *p);
void rt_pool_free(rt_pool *p);

#endif
