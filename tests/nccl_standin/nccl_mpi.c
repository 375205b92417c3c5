/*
 * nccl_mpi.c - rt_comm_nccl's whole path under mpirun, through the host
 * stand-ins for NCCL and the CUDA driver: the MPI communicator
 * (rt_comm_open), each rank's GPU from its local rank (against Open MPI's
 * OMPI_COMM_WORLD_LOCAL_RANK where the launcher sets it), the CUDA device on
 * it, NCCL attached (the unique id through MPI's bcast), then f32 and f64
 * sums of device buffers through rt_comm_allreduce_dev: exact values
 * (halves, whose sums are exact in any order) checked bit for bit, inexact
 * ones within a few ulps of the rank-order sum (NCCL's order is its own),
 * and every rank's result the same bits (allgather of a hash). Run by
 * tests/nccl_standin/tests.cmake with SAMC_STANDIN_GPUS, SAMC_CUDA_DRIVER and
 * SAMC_NCCL set; exit 0, or 1 with "rank R: ..." on stderr.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_comm_nccl.h"
#include "rt_dev_cuda.h"

static int rank = -1;

static int fail(const char *what, const char *msg)
{
	fprintf(stderr, "rank %d: %s: %s\n", rank, what, msg);
	return 1;
}

static double value(int r, size_t i, int exact)
{
	return exact ? (double)(r + 1) * 0.5 * (double)(i % 4096)
	             : (double)(r + 1) / 3.0 + 1e-3 * (double)i;
}

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ull;
	return h;
}

static int sums(rt_comm *c, rt_device *d, size_t n, uint64_t *hash)
{
	rt_err e = {{0}};
	float *hf = malloc(n * sizeof *hf);
	double *hd = malloc(n * sizeof *hd);
	void *bf = NULL, *bd = NULL;
	if (!hf || !hd || d->alloc(d, n * sizeof *hf, &bf, &e) || d->alloc(d, n * sizeof *hd, &bd, &e))
		return fail("buffers", e.msg);
	int bad = 0;
	for (int exact = 1; exact >= 0 && !bad; exact--) {
		for (size_t i = 0; i < n; i++) {
			hf[i] = (float)value(c->rank, i, exact);
			hd[i] = value(c->rank, i, exact);
		}
		if (d->upload(d, bf, hf, n * sizeof *hf, &e) || d->upload(d, bd, hd, n * sizeof *hd, &e) ||
		    rt_comm_allreduce_dev(c, d, bf, n, RT_COMM_F32, NULL, &e) ||
		    rt_comm_allreduce_dev(c, d, bd, n, RT_COMM_F64, NULL, &e) ||
		    d->download(d, hf, bf, n * sizeof *hf, &e) || d->download(d, hd, bd, n * sizeof *hd, &e))
			return fail("sum", e.msg);
		for (size_t i = 0; i < n && !bad; i++) {
			float wf = 0;
			double wd = 0;
			for (int r = 0; r < c->size; r++) {
				wf += (float)value(r, i, exact);
				wd += value(r, i, exact);
			}
			/* exact: any order gives these bits; inexact: an order of N
			 * additions is within N roundings of another */
			double tf = exact ? 0 : c->size * 6e-8 * fabs(wf), td = exact ? 0 : c->size * 1.2e-16 * fabs(wd);
			if (fabs(hf[i] - wf) > tf || fabs(hd[i] - wd) > td) {
				char m[200];
				snprintf(m, sizeof m, "element %zu (%s): %.9g %.17g, want %.9g %.17g", i,
				         exact ? "exact" : "inexact", hf[i], hd[i], wf, wd);
				bad = fail("sum", m);
			}
		}
		*hash = fnv(hd, n * sizeof *hd, fnv(hf, n * sizeof *hf, *hash));
	}
	d->free(d, bf);
	d->free(d, bd);
	free(hf);
	free(hd);
	return bad;
}

int main(void)
{
	rt_err e = {{0}};
	rt_comm *c;
	if (rt_comm_open(&c, &e))
		return fail("open", e.msg);
	rank = c->rank;
	int rc = 1, ordinal = -1;
	rt_device *d = NULL;
	const char *drvpath = getenv("SAMC_CUDA_DRIVER");
	if (rt_comm_nccl_gpu(c, drvpath, &ordinal, &e)) {
		fail("ordinal", e.msg);
		goto out;
	}
	const char *lr = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
	if (lr && atoi(lr) != ordinal) {
		fail("ordinal", "not OMPI_COMM_WORLD_LOCAL_RANK");
		goto out;
	}
	rt_dev_cuda_opts o = {drvpath, NULL, NULL, ordinal};
	if (!(d = rt_dev_cuda_new(&o, &e))) {
		fail("device", e.msg);
		goto out;
	}
	if (rt_comm_nccl_attach(c, d, NULL, &e)) {
		fail("attach", e.msg);
		goto out;
	}
	/* a small sum and one of several MiB */
	uint64_t h = 1469598103934665603ull, *all = calloc((size_t)c->size, sizeof *all);
	if (!all || sums(c, d, 1000, &h) || sums(c, d, 1 << 20, &h))
		goto out;
	if (c->allgather(c, &h, sizeof h, all, &e)) {
		fail("allgather", e.msg);
		goto out;
	}
	for (int r = 1; r < c->size; r++)
		if (all[r] != all[0]) {
			fail("sum", "the ranks' results differ");
			goto out;
		}
	free(all);
	rt_comm_nccl_detach(c);
	printf("rank %d of %d: GPU %d, NCCL sums ok\n", c->rank, c->size, ordinal);
	rc = 0;
out:
	rt_comm_nccl_detach(c);
	if (d)
		d->release(d);
	c->release(c);
	return rc;
}
