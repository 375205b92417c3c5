/*
 * rt_pool.h - a small pthread pool that splits a compiled kernel's
 * outermost loop over threads. It lives in the runtime so that a
 * standalone trainer (no LLVM) and the JIT run kernels the same way.
 * Workers sleep on a condition variable between jobs: they never spin, so
 * they do not compete with BLAS threads while a GEMM runs.
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
 * done. */
void rt_pool_run(rt_pool *p, int nparts, rt_pool_fn fn, void *ctx);
void rt_pool_free(rt_pool *p);

#endif
