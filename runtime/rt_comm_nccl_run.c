/*
 * rt_comm_nccl_run.c - a data-parallel run's GPU and NCCL: which GPU each
 * rank takes and whether the GPUs' sums run on NCCL or through the host
 * (see rt_comm_nccl.h, rt_comm_gpu_open).
 */
#include "rt_comm_nccl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_cuda_drv.h"
#include "rt_dev_cuda.h"

void rt_nccl_mode_of(const char *env, rt_nccl_mode *mode, const char **lib)
{
	*lib = RT_NCCL_LIB;
	if (!env || !*env)
		*mode = RT_NCCL_AUTO;
	else if (strcmp(env, "0") == 0)
		*mode = RT_NCCL_OFF;
	else if (strcmp(env, "1") == 0)
		*mode = RT_NCCL_ON;
	else {
		*mode = RT_NCCL_ON;
		*lib = env;
	}
}

/* What every rank tells the others before it picks its GPU. */
typedef struct {
	int32_t ngpus;  /* the driver's count; 0: no driver or no GPU */
	int32_t nlocal; /* ranks on this machine */
	int32_t lib;    /* NCCL's library loads here */
	int32_t mode;   /* SAMC_NCCL's (rt_nccl_mode) */
} gpu_hello;

/* The first rank whose hello fails test (0 ngpus, no library, fewer GPUs
 * than ranks), or -1. */
static int first_rank(const gpu_hello *all, int n, int what)
{
	for (int r = 0; r < n; r++)
		if ((what == 0 && all[r].ngpus == 0) || (what == 1 && !all[r].lib) ||
		    (what == 2 && all[r].nlocal > all[r].ngpus) || (what == 3 && all[r].mode != all[0].mode))
			return r;
	return -1;
}

static const char *mode_name(int m)
{
	return m == RT_NCCL_OFF ? "0 (off)" : m == RT_NCCL_ON ? "1 or a library (NCCL demanded)"
	                                                      : "unset (NCCL where it loads)";
}

int rt_comm_gpu_open(rt_comm *c, const char *driver, const char *env, rt_comm_gpu *g,
                     rt_err *err)
{
	memset(g, 0, sizeof *g);
	if (c->size == 1) /* no sums over ranks: GPU 0 (CUDA_VISIBLE_DEVICES picks it) */
		return 0;
	rt_nccl_mode mode;
	const char *lib;
	rt_nccl_mode_of(env, &mode, &lib);
	int local = 0, nlocal = 1;
	if (rt_comm_local_rank(c, &local, &nlocal, err))
		return -1;
	/* every rank asks its driver and NCCL, then hears everyone's answer:
	 * a failure on one rank fails all together, none waits for it */
	rt_err drv_err = {{0}}, lib_err = {{0}};
	gpu_hello me = {0, nlocal, 0, (int32_t)mode};
	rt_cuda_drv drv;
	if (rt_cuda_drv_open(&drv, driver, &drv_err) == 0) {
		me.ngpus = drv.ndevices;
		rt_cuda_drv_close(&drv);
	}
	if (mode != RT_NCCL_OFF) {
		rt_nccl_lib l;
		if (rt_nccl_lib_open(&l, lib, &lib_err) == 0) {
			me.lib = 1;
			rt_nccl_lib_close(&l);
		}
	}
	gpu_hello *all = calloc((size_t)c->size, sizeof *all);
	if (!all)
		return rt_errf(err, "comm: out of memory");
	if (c->allgather(c, &me, sizeof me, all, err)) {
		free(all);
		return -1;
	}
	int nogpu = first_rank(all, c->size, 0), nolib = first_rank(all, c->size, 1),
	    shared = first_rank(all, c->size, 2), other = first_rank(all, c->size, 3), rc = 0;
	if (other >= 0) {
		rc = rt_errf(err, "nccl: rank %d: the ranks disagree on SAMC_NCCL: rank 0 has it %s, "
		             "rank %d %s", c->rank, mode_name(all[0].mode), other,
		             mode_name(all[other].mode));
	} else if (nogpu >= 0) {
		if (nogpu == c->rank)
			rc = rt_errf(err, "cuda: rank %d: %s", c->rank, drv_err.msg);
		else
			rc = rt_errf(err, "cuda: rank %d: rank %d has no GPU (its own message says why)",
			             c->rank, nogpu);
	} else if (mode == RT_NCCL_ON && nolib >= 0) {
		if (nolib == c->rank)
			rc = rt_errf(err, "%s (SAMC_NCCL=%s demands NCCL; SAMC_NCCL=0 sums through the "
			             "host)", lib_err.msg, env);
		else
			rc = rt_errf(err, "nccl: rank %d: rank %d could not load NCCL (its own message "
			             "says why)", c->rank, nolib);
	} else if (mode == RT_NCCL_ON && shared >= 0) {
		/* its message names the machine and both counts */
		rc = rt_comm_nccl_ordinal(c, me.ngpus, &g->ordinal, err);
		if (rc == 0) /* cannot happen: every rank saw the same counts */
			rc = rt_errf(err, "nccl: rank %d: a machine has fewer GPUs than ranks", c->rank);
	}
	if (rc) {
		free(all);
		return -1;
	}
	if (mode == RT_NCCL_OFF || nolib >= 0 || shared >= 0) {
		g->ordinal = local % me.ngpus;
		if (mode == RT_NCCL_AUTO && nolib >= 0)
			snprintf(g->note, sizeof g->note,
			         "no NCCL on rank %d (%s does not load): the GPUs' sums go through the "
			         "host (SAMC_NCCL=/path/to/libnccl.so.2 names it; SAMC_NCCL=0 quiets this)",
			         nolib, lib);
		else if (mode == RT_NCCL_AUTO)
			snprintf(g->note, sizeof g->note,
			         "%d ranks share %d GPU%s on the machine of rank %d, and NCCL needs a GPU "
			         "per rank: the GPUs' sums go through the host (SAMC_NCCL=0 quiets this)",
			         all[shared].nlocal, all[shared].ngpus, all[shared].ngpus == 1 ? "" : "s",
			         shared);
		free(all);
		return 0;
	}
	free(all);
	/* NCCL: one GPU per rank, its local rank; a device of its own for
	 * NCCL (the primary context is the execs' too) */
	g->ordinal = local;
	rt_dev_cuda_opts o = {driver, NULL, NULL, local};
	rt_err dev_err = {{0}};
	g->dev = rt_dev_cuda_new(&o, &dev_err);
	/* attach with no device still joins the others' start, and fails */
	rt_err e = {{0}};
	if (rt_comm_nccl_attach(c, g->dev, lib, &e)) {
		if (!g->dev)
			rt_errf(err, "cuda: rank %d: %s", c->rank, dev_err.msg);
		else
			rt_errf(err, "%s (SAMC_NCCL=0 sums through the host instead)", e.msg);
		if (g->dev)
			g->dev->release(g->dev);
		g->dev = NULL;
		return -1;
	}
	char v[32];
	rt_nccl_version_str(rt_comm_nccl_version(c), v, sizeof v);
	snprintf(g->info, sizeof g->info, "NCCL %s, rank %d on GPU %d", v, c->rank, local);
	return 0;
}

void rt_comm_gpu_close(rt_comm *c, rt_comm_gpu *g)
{
	if (!g->dev)
		return;
	rt_comm_nccl_detach(c);
	g->dev->release(g->dev);
	g->dev = NULL;
}
