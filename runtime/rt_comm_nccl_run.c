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
	int32_t local;  /* this rank's index among them */
	int32_t lib;    /* NCCL's library loads here */
	int32_t mode;   /* SAMC_NCCL's (rt_nccl_mode) */
	int32_t pad;
	uint64_t host;   /* rt_comm_host_id */
	uint64_t gpu_id; /* its GPU's PCI address + 1; 0: unknown */
} gpu_hello;

/* A rank's GPU: its local rank, modulo its machine's GPUs. */
static int ordinal_of(const gpu_hello *h) { return h->ngpus ? h->local % h->ngpus : 0; }

/* Whether ranks a and b run on one GPU: one machine, and the same PCI
 * address where both drivers tell it (a launcher that gives each rank its
 * own GPU through CUDA_VISIBLE_DEVICES makes every rank's GPU 0), else the
 * same ordinal. */
static int same_gpu(const gpu_hello *a, const gpu_hello *b)
{
	if (a->host != b->host)
		return 0;
	return a->gpu_id && b->gpu_id ? a->gpu_id == b->gpu_id : ordinal_of(a) == ordinal_of(b);
}

/* The PCI address + 1 of GPU `ordinal`, or 0 when the driver does not
 * say. */
static uint64_t gpu_id(rt_cuda_drv *d, int ordinal)
{
	rt_cu_device dev;
	int dom = 0, bus = 0, slot = 0;
	if (d->cuDeviceGet(&dev, ordinal) != RT_CU_SUCCESS ||
	    d->cuDeviceGetAttribute(&dom, 50, dev) != RT_CU_SUCCESS || /* PCI_DOMAIN_ID */
	    d->cuDeviceGetAttribute(&bus, 33, dev) != RT_CU_SUCCESS || /* PCI_BUS_ID */
	    d->cuDeviceGetAttribute(&slot, 34, dev) != RT_CU_SUCCESS)  /* PCI_DEVICE_ID */
		return 0;
	return ((uint64_t)(uint32_t)dom << 16 | (uint64_t)(bus & 0xff) << 8 | (uint64_t)(slot & 0xff)) +
	       1;
}

/* The first rank whose hello fails test (0 ngpus, no library, sharing a
 * GPU with rank *with, another SAMC_NCCL than rank 0's), or -1. */
static int first_rank(const gpu_hello *all, int n, int what, int *with)
{
	for (int r = 0; r < n; r++) {
		if ((what == 0 && all[r].ngpus == 0) || (what == 1 && !all[r].lib) ||
		    (what == 3 && all[r].mode != all[0].mode))
			return r;
		for (int s = r + 1; what == 2 && s < n; s++)
			if (same_gpu(&all[r], &all[s])) {
				*with = s;
				return r;
			}
	}
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
	gpu_hello me = {.nlocal = nlocal, .local = local, .mode = (int32_t)mode,
	                .host = rt_comm_host_id()};
	rt_cuda_drv drv;
	if (rt_cuda_drv_open(&drv, driver, &drv_err) == 0) {
		me.ngpus = drv.ndevices;
		me.gpu_id = gpu_id(&drv, ordinal_of(&me));
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
	int with = -1, nogpu = first_rank(all, c->size, 0, &with),
	    nolib = first_rank(all, c->size, 1, &with), other = first_rank(all, c->size, 3, &with),
	    shared = first_rank(all, c->size, 2, &with), rc = 0;
	char share[200] = "";
	if (shared >= 0)
		snprintf(share, sizeof share,
		         "ranks %d and %d share GPU %d of their machine (%d ranks, %d GPU%s there)",
		         shared, with, ordinal_of(&all[shared]), all[shared].nlocal, all[shared].ngpus,
		         all[shared].ngpus == 1 ? "" : "s");
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
		rc = rt_errf(err, "nccl: rank %d: %s: NCCL needs a GPU of its own for every rank "
		             "(start at most %d rank%s per machine, or give each rank its own GPU "
		             "with CUDA_VISIBLE_DEVICES)", c->rank, share, all[shared].ngpus,
		             all[shared].ngpus == 1 ? "" : "s");
	}
	if (rc) {
		free(all);
		return -1;
	}
	g->ordinal = ordinal_of(&me);
	if (mode == RT_NCCL_OFF || nolib >= 0 || shared >= 0) {
		if (mode == RT_NCCL_AUTO && nolib >= 0)
			snprintf(g->note, sizeof g->note,
			         "no NCCL on rank %d (%s does not load): the GPUs' sums go through the "
			         "host (SAMC_NCCL=/path/to/libnccl.so.2 names it; SAMC_NCCL=0 quiets this)",
			         nolib, lib);
		else if (mode == RT_NCCL_AUTO)
			snprintf(g->note, sizeof g->note,
			         "%s, and NCCL needs a GPU per rank: the GPUs' sums go through the host "
			         "(SAMC_NCCL=0 quiets this)", share);
		free(all);
		return 0;
	}
	free(all);
	/* NCCL: a device of its own on the rank's GPU (the primary context is
	 * the execs' too) */
	rt_dev_cuda_opts o = {driver, NULL, NULL, g->ordinal};
	rt_err dev_err = {{0}};
	g->dev = rt_dev_cuda_new(&o, &dev_err);
	/* attach with no device still joins the others' start, and fails */
	rt_err e = {{0}};
	if (rt_comm_nccl_attach_gpu(c, g->dev, lib, me.gpu_id, &e)) {
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
	snprintf(g->info, sizeof g->info, "NCCL %s, rank %d on GPU %d", v, c->rank, g->ordinal);
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
