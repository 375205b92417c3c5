/*
 * test_nccl_gpu.c - NCCL (rt_comm_nccl.h) on a real GPU with one rank: the
 * rank's GPU from its local rank, the CUDA device on it, NCCL attached
 * (ncclCommInitRank of one rank on that GPU, through the unique id's bcast),
 * f32 and f64 sums of device buffers on the device's stream waited for
 * through the stream and ncclCommGetAsyncError (one rank: the sum is the
 * buffer itself, bit for bit), the time of a sum, and detach. It needs no
 * MPI: one rank is the communicator of a run without a launcher. NCCL does
 * not support two ranks on one GPU, so a machine with one GPU checks one
 * rank; the sums between ranks are checked on the host (test_comm_nccl).
 * Without a GPU or without NCCL it says why and exits 77: skipped, never
 * passed. NCCL is $SAMC_NCCL, else the toolkit's of this build, else
 * libnccl.so.2 on the loader's path. `test_nccl_gpu --small` sums 1 MiB
 * twice: the suite runs it so through the host stand-ins (SAMC_CUDA_DRIVER,
 * SAMC_NCCL), which keeps this program working between GPU runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rt_comm_nccl.h"
#include "rt_dev_cuda.h"

#define SKIP 77

#ifndef SAMC_NCCL_REAL
#define SAMC_NCCL_REAL ""
#endif

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int fail(const char *what, const rt_err *e)
{
	fprintf(stderr, "FAIL: %s: %s\n", what, e->msg);
	return 1;
}

int main(int argc, char **argv)
{
	int small = argc > 1 && !strcmp(argv[1], "--small");
	rt_err e = {{0}};
	const char *drvpath = getenv("SAMC_CUDA_DRIVER");
	rt_cuda_drv drv;
	if (rt_cuda_drv_open(&drv, drvpath, &e) != 0) {
		printf("skipped: %s\n", e.msg);
		return SKIP;
	}
	int ngpus = drv.ndevices;
	rt_cuda_drv_close(&drv);
	const char *lib = getenv("SAMC_NCCL");
	if (!lib || !lib[0])
		lib = SAMC_NCCL_REAL[0] && access(SAMC_NCCL_REAL, R_OK) == 0 ? SAMC_NCCL_REAL : NULL;
	rt_nccl_lib l;
	if (rt_nccl_lib_open(&l, lib, &e) != 0) {
		printf("skipped: a GPU is here, but no NCCL: %s\n", e.msg);
		return SKIP;
	}
	char ver[32];
	rt_nccl_version_str(l.version, ver, sizeof ver);
	rt_nccl_lib_close(&l);

	rt_comm c = *rt_comm_self(); /* a copy: attach writes to it */
	int ordinal = -1;
	if (rt_comm_nccl_ordinal(&c, ngpus, &ordinal, &e) || ordinal != 0)
		return fail("the rank's GPU", &e);
	rt_dev_cuda_opts o = {drvpath, NULL, NULL, ordinal};
	rt_device *d = rt_dev_cuda_new(&o, &e);
	if (!d)
		return fail("the CUDA device", &e);
	char desc[320] = "";
	int major, minor;
	if (rt_dev_cuda_info(d, &major, &minor, desc, sizeof desc, &e))
		return fail("the GPU", &e);
	double t0 = now();
	if (rt_comm_nccl_attach(&c, d, lib, &e))
		return fail("attach", &e);
	double t_attach = now() - t0;

	/* 64 MiB of f32 and 8 MiB of f64 (--small: 1 MiB, 128 KiB), each
	 * element distinct */
	size_t NF = small ? 1 << 18 : 16 << 20, ND = small ? 1 << 14 : 1 << 20;
	float *hf = malloc(NF * sizeof *hf), *bf_back = malloc(NF * sizeof *hf);
	double *hd = malloc(ND * sizeof *hd), *bd_back = malloc(ND * sizeof *hd);
	void *bf, *bd;
	if (!hf || !bf_back || !hd || !bd_back) {
		fprintf(stderr, "FAIL: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < NF; i++)
		hf[i] = (float)i * 0.37f - 1e3f;
	for (size_t i = 0; i < ND; i++)
		hd[i] = (double)i / 3.0 - 7.0;
	if (d->alloc(d, NF * sizeof *hf, &bf, &e) || d->alloc(d, ND * sizeof *hd, &bd, &e) ||
	    d->upload(d, bf, hf, NF * sizeof *hf, &e) || d->upload(d, bd, hd, ND * sizeof *hd, &e))
		return fail("the buffers", &e);
	/* one rank: rt_comm_allreduce_dev would skip the sum, so NCCL's is
	 * called directly */
	int reps = small ? 2 : 20;
	t0 = now();
	for (int r = 0; r < reps; r++)
		if (c.allreduce_dev(&c, d, bf, NF, RT_COMM_F32, &e) ||
		    c.allreduce_dev(&c, d, bd, ND, RT_COMM_F64, &e))
			return fail("allreduce_dev", &e);
	double t_sum = (now() - t0) / reps;
	if (d->download(d, bf_back, bf, NF * sizeof *hf, &e) ||
	    d->download(d, bd_back, bd, ND * sizeof *hd, &e))
		return fail("download", &e);
	if (memcmp(bf_back, hf, NF * sizeof *hf) || memcmp(bd_back, hd, ND * sizeof *hd)) {
		fprintf(stderr, "FAIL: a one-rank NCCL sum changed the buffer\n");
		return 1;
	}
	/* a sum over memory of another device is refused, not run */
	if (c.allreduce_dev(&c, rt_dev_host(), hf, 4, RT_COMM_F32, &e) != -1 ||
	    !strstr(e.msg, "but NCCL was started on cuda:0"))
		return fail("a host buffer was not refused", &e);
	d->free(d, bf);
	d->free(d, bd);
	rt_comm_nccl_detach(&c);
	d->release(d);
	free(hf), free(bf_back), free(hd), free(bd_back);
	printf("NCCL %s on %s, one rank: attach %.2f s, a sum of %zu MiB f32 + %zu KiB f64 %.3f ms\n",
	       ver, desc, t_attach, NF * 4 >> 20, ND * 8 >> 10, 1e3 * t_sum);
	return 0;
}
