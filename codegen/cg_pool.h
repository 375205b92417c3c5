/*
 * cg_pool.h - a small pthread pool for splitting a kernel's outermost loop.
 * Workers sleep on a condition variable between jobs (they never spin, so
 * they do not compete with BLAS threads while a GEMM runs).
 */
#ifndef SAMC_CG_POOL_H
#define SAMC_CG_POOL_H

typedef struct cg_pool cg_pool;
typedef void (*cg_pool_fn)(void *ctx, int part, int nparts);

/* A pool of `nthreads` in all, the caller included (1 = no threads).
 * NULL when threads cannot be created. */
cg_pool *cg_pool_new(int nthreads);
int cg_pool_threads(const cg_pool *p);
/* Runs fn(ctx, i, nparts) for every i in [0, nparts) (nparts <= threads),
 * part 0 on the calling thread; returns when all are done. */
void cg_pool_run(cg_pool *p, int nparts, cg_pool_fn fn, void *ctx);
void cg_pool_free(cg_pool *p);

#endif
