/*
 * comm_bench.c - the MPI communicator's allreduce (runtime/rt_comm_mpi.c):
 * time against size, and the latency and bandwidth of the alpha-beta
 * model fitted to it.
 *
 *   mpirun -np 2 build/bench/samc_comm_bench [--max-mib 64] [--block-s 0.2]
 *
 * For every size from 8 B to --max-mib MiB (f32, sizes by 2x), rank 0
 * prints the median and the best over blocks of the time per allreduce
 * (each block runs as many allreduces as fill --block-s seconds, after a
 * warm-up), and the best block's bus bandwidth (2 (N-1)/N bytes per byte,
 * as NCCL's tests count it). The fit, over the best blocks (others' load
 * only adds time), is t(n) = A + B n weighted by 1/t^2 (relative errors,
 * so that the small sizes decide A). The communicator's allreduce is two
 * rounds (each a message to every other rank at once) that send
 * 2 (N-1)/N n bytes per rank, so the latency of one message is
 * alpha = A / 2 and the time per byte of a link beta = B N / (2 (N-1)):
 * the alpha and beta of the ring all-reduce's model
 * 2 (N-1) alpha + 2 (N-1)/N n beta (at N = 2 the two algorithms are one).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rt_comm.h"

#define MAX_SIZES 32
#define MAX_BLOCKS 7

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Every rank runs the same iterations: rank 0's clock decides, and its
 * decisions are broadcast. */
static int time_size(rt_comm *c, float *buf, size_t n, double block_s, double *med, double *best,
                     rt_err *err)
{
	for (int w = 0; w < 3; w++) /* warm-up */
		if (c->allreduce(c, buf, n, RT_COMM_F32, err))
			return -1;
	/* groups of 1, 2, 4, ... allreduces until one takes a tenth of a block */
	double iters = 1, took = 0;
	for (;;) {
		double t0 = now_s();
		for (int i = 0; i < (int)iters; i++)
			if (c->allreduce(c, buf, n, RT_COMM_F32, err))
				return -1;
		took = now_s() - t0;
		if (c->bcast(c, &took, sizeof took, 0, err))
			return -1;
		if (took >= block_s / 10 || iters >= 1e6)
			break;
		iters *= 2;
	}
	iters = fmax(3, fmin(1e6, ceil(iters * block_s / fmax(took, 1e-9))));
	if (c->bcast(c, &iters, sizeof iters, 0, err))
		return -1;
	double t[MAX_BLOCKS];
	for (int b = 0; b < MAX_BLOCKS; b++) {
		double x = 0; /* the ranks start a block together */
		if (c->allreduce(c, &x, 1, RT_COMM_F64, err))
			return -1;
		double t0 = now_s();
		for (int i = 0; i < (int)iters; i++)
			if (c->allreduce(c, buf, n, RT_COMM_F32, err))
				return -1;
		t[b] = (now_s() - t0) / (int)iters;
	}
	qsort(t, MAX_BLOCKS, sizeof *t, cmp_double);
	*med = t[MAX_BLOCKS / 2];
	*best = t[0];
	return 0;
}

int main(int argc, char **argv)
{
	double max_mib = 64, block_s = 0.2;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--max-mib") && i + 1 < argc)
			max_mib = atof(argv[++i]);
		else if (!strcmp(argv[i], "--block-s") && i + 1 < argc)
			block_s = atof(argv[++i]);
		else {
			fprintf(stderr, "usage: mpirun -np N samc_comm_bench [--max-mib M] [--block-s S]\n");
			return 2;
		}
	}
	rt_comm *c;
	rt_err err = {{0}};
	if (rt_comm_open(&c, &err)) {
		fprintf(stderr, "samc_comm_bench: %s\n", err.msg);
		return 1;
	}
	if (c->size < 2) {
		fprintf(stderr, "samc_comm_bench: run it under mpirun with 2 or more ranks "
		                "(mpirun -np 2 ...; this build %s MPI)\n",
		        strcmp(c->name, "mpi") ? "has no" : "has");
		c->release(c);
		return 1;
	}
	size_t maxb = (size_t)(max_mib * 1048576);
	float *buf = malloc(maxb > 8 ? maxb : 8);
	if (!buf) {
		fprintf(stderr, "samc_comm_bench: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < maxb / 4; i++)
		buf[i] = (float)(i % 1000) * 1e-3f;
	size_t bytes[MAX_SIZES];
	double t[MAX_SIZES], tmed[MAX_SIZES];
	int ns = 0;
	const int P = c->size;
	if (c->rank == 0)
		printf("allreduce (f32) on %d ranks, %d blocks of %.2f s: median, best\n\n"
		       "%12s %12s %12s %12s\n",
		       P, MAX_BLOCKS, block_s, "bytes", "median (us)", "best (us)", "busbw (GB/s)");
	for (size_t b = 8; b <= maxb && ns < MAX_SIZES; b *= 2) {
		if (time_size(c, buf, b / 4, block_s, &tmed[ns], &t[ns], &err)) {
			fprintf(stderr, "samc_comm_bench: rank %d: %s\n", c->rank, err.msg);
			return 1;
		}
		bytes[ns] = b;
		if (c->rank == 0)
			printf("%12zu %12.2f %12.2f %12.3f\n", b, tmed[ns] * 1e6, t[ns] * 1e6,
			       2.0 * (P - 1) / P * (double)b / t[ns] / 1e9);
		ns++;
	}
	/* weighted least squares over the best blocks (others' load only adds
	 * time): minimise sum ((A + B n_i - t_i) / t_i)^2 */
	double s00 = 0, s01 = 0, s11 = 0, r0 = 0, r1 = 0;
	for (int i = 0; i < ns; i++) {
		double w = 1 / (t[i] * t[i]), x = (double)bytes[i];
		s00 += w, s01 += w * x, s11 += w * x * x, r0 += w * t[i], r1 += w * x * t[i];
	}
	double det = s00 * s11 - s01 * s01;
	double A = (s11 * r0 - s01 * r1) / det, B = (s00 * r1 - s01 * r0) / det;
	if (c->rank == 0) {
		double worst = 0;
		for (int i = 0; i < ns; i++)
			worst = fmax(worst, fabs(A + B * (double)bytes[i] - t[i]) / t[i]);
		printf("\nfit t(n) = A + B n: A = %.2f us, B = %.4g s/B (%.3f GB/s), worst misfit %.0f%%\n",
		       A * 1e6, B, 1 / B / 1e9, worst * 100);
		printf("per message: alpha = A/2 = %.2f us, "
		       "beta = B N/(2(N-1)) = %.4g s/B (%.3f GB/s)\n",
		       A / 2 * 1e6, B * P / (2.0 * (P - 1)), 2.0 * (P - 1) / (B * P) / 1e9);
	}
	free(buf);
	c->release(c);
	return 0;
}
