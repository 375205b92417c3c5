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
 * as NCCL's tests count it), and MPI's own MPI_Allreduce timed in
 * alternate blocks as a reference. The model t(n) = A + B n takes A from
 * the sizes up to 256 B and B from those of 8 MiB and more (the best
 * blocks: others' load only adds time). The communicator's allreduce is two
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

#include <mpi.h>

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

/* One allreduce of n f32 in place: the communicator's, or MPI's own
 * MPI_Allreduce (the reference: Open MPI's tuned algorithms, in no fixed
 * order), on the same buffer. */
static int run_op(rt_comm *c, int mpi, float *buf, size_t n, rt_err *err)
{
	if (!mpi)
		return c->allreduce(c, buf, n, RT_COMM_F32, err);
	int rc = MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
	return rc == MPI_SUCCESS ? 0 : rt_errf(err, "MPI_Allreduce failed (%d)", rc);
}

/* Every rank runs the same iterations: rank 0's clock decides, and its
 * decisions are broadcast. Blocks of the communicator and of MPI
 * alternate, so that both see the same load. */
static int time_size(rt_comm *c, float *buf, size_t n, double block_s, double med[2],
                     double best[2], rt_err *err)
{
	for (int w = 0; w < 3; w++) /* warm-up */
		if (run_op(c, 0, buf, n, err) || run_op(c, 1, buf, n, err))
			return -1;
	/* groups of 1, 2, 4, ... allreduces until one takes a tenth of a block */
	double iters = 1, took = 0;
	for (;;) {
		double t0 = now_s();
		for (int i = 0; i < (int)iters; i++)
			if (run_op(c, 0, buf, n, err))
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
	double t[2][MAX_BLOCKS];
	for (int b = 0; b < MAX_BLOCKS; b++)
		for (int mpi = 0; mpi < 2; mpi++) {
			double x = 0; /* the ranks start a block together */
			if (c->allreduce(c, &x, 1, RT_COMM_F64, err))
				return -1;
			double t0 = now_s();
			for (int i = 0; i < (int)iters; i++)
				if (run_op(c, mpi, buf, n, err))
					return -1;
			t[mpi][b] = (now_s() - t0) / (int)iters;
		}
	for (int mpi = 0; mpi < 2; mpi++) {
		qsort(t[mpi], MAX_BLOCKS, sizeof **t, cmp_double);
		med[mpi] = t[mpi][MAX_BLOCKS / 2];
		best[mpi] = t[mpi][0];
	}
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
	/* zeros: repeated sums of anything else overflow */
	memset(buf, 0, maxb > 8 ? maxb : 8);
	size_t bytes[MAX_SIZES];
	double t[MAX_SIZES], tmed[2], tbest[2];
	int ns = 0;
	const int P = c->size;
	if (c->rank == 0)
		printf("allreduce (f32) on %d ranks, %d blocks of %.2f s: median, best; MPI_Allreduce "
		       "in alternate blocks\n\n%12s %12s %12s %12s %12s %12s\n",
		       P, MAX_BLOCKS, block_s, "bytes", "median (us)", "best (us)", "busbw (GB/s)",
		       "MPI med (us)", "MPI best (us)");
	for (size_t b = 8; b <= maxb && ns < MAX_SIZES; b *= 2) {
		if (time_size(c, buf, b / 4, block_s, tmed, tbest, &err)) {
			fprintf(stderr, "samc_comm_bench: rank %d: %s\n", c->rank, err.msg);
			return 1;
		}
		bytes[ns] = b;
		t[ns] = tbest[0];
		if (c->rank == 0)
			printf("%12zu %12.2f %12.2f %12.3f %12.2f %12.2f\n", b, tmed[0] * 1e6, t[ns] * 1e6,
			       2.0 * (P - 1) / P * (double)b / t[ns] / 1e9, tmed[1] * 1e6, tbest[1] * 1e6);
		ns++;
	}
	/* A from the small sizes (<= 256 B: latency alone), B from the large
	 * ones (>= 8 MiB: past the caches), each the median over its sizes of
	 * the best blocks (others' load only adds time; a least-squares fit
	 * over all sizes follows the sizes that fit in a cache instead) */
	double a[MAX_SIZES], bs[MAX_SIZES];
	int na = 0, nb = 0;
	for (int i = 0; i < ns; i++)
		if (bytes[i] <= 256)
			a[na++] = t[i];
	qsort(a, (size_t)na, sizeof *a, cmp_double);
	double A = na ? a[na / 2] : 0;
	for (int i = 0; i < ns; i++)
		if (bytes[i] >= ((size_t)8 << 20))
			bs[nb++] = (t[i] - A) / (double)bytes[i];
	qsort(bs, (size_t)nb, sizeof *bs, cmp_double);
	double B = nb ? bs[nb / 2] : 0;
	if (c->rank == 0 && B > 0) {
		printf("\nt(n) = A + B n: A = %.2f us (sizes <= 256 B), B = %.4g s/B (%.3f GB/s; "
		       "sizes >= 8 MiB)\n",
		       A * 1e6, B, 1 / B / 1e9);
		printf("per message: alpha = A/2 = %.2f us, "
		       "beta = B N/(2(N-1)) = %.4g s/B (%.3f GB/s)\n",
		       A / 2 * 1e6, B * P / (2.0 * (P - 1)), 2.0 * (P - 1) / (B * P) / 1e9);
	} else if (c->rank == 0) {
		printf("\n(no sizes of 8 MiB or more: no fit; --max-mib 8 or more)\n");
	}
	free(buf);
	c->release(c);
	return 0;
}
