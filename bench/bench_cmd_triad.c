/*
 * bench_cmd_triad.c - `samc_bench triad`: a STREAM-like triad
 * a[i] = b[i] + s * c[i] over three float arrays, split over `threads`
 * threads (each thread first touches the part it later streams, so pages
 * sit near it). Bytes per element are counted as STREAM does: 12 (two
 * reads, one write; write-allocate traffic not counted). The best block is
 * the machine's bandwidth, as in STREAM; the median is printed too.
 */
#include "bench.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
	float *a, *b, *c;
	int64_t lo, hi;
	int init;
} triad_part;

static void *triad_run(void *arg)
{
	triad_part *t = arg;
	float *restrict a = t->a;
	const float *restrict b = t->b, *restrict c = t->c;
	if (t->init) {
		for (int64_t i = t->lo; i < t->hi; i++) {
			t->a[i] = 0.0f;
			t->b[i] = 1.0f;
			t->c[i] = 2.0f;
		}
		return NULL;
	}
	for (int64_t i = t->lo; i < t->hi; i++)
		a[i] = b[i] + 3.0f * c[i];
	return NULL;
}

/* One pass over the arrays on `nt` threads (part 0 on this thread). */
static int triad_pass(float *a, float *b, float *c, int64_t n, int nt, int init)
{
	pthread_t th[64];
	triad_part part[64];
	for (int t = 0; t < nt; t++)
		part[t] = (triad_part){a, b, c, n * t / nt, n * (t + 1) / nt, init};
	for (int t = 1; t < nt; t++)
		if (pthread_create(&th[t], NULL, triad_run, &part[t]) != 0) {
			for (int u = 1; u < t; u++)
				pthread_join(th[u], NULL);
			return -1;
		}
	triad_run(&part[0]);
	for (int t = 1; t < nt; t++)
		pthread_join(th[t], NULL);
	return 0;
}

int bench_cmd_triad(const bench_args *a)
{
	int64_t n = a->triad_n;
	int nt = a->threads < 1 ? 1 : a->threads > 64 ? 64 : a->threads;
	size_t bytes = (size_t)(n * 4 + 63) / 64 * 64;
	float *x = aligned_alloc(64, bytes), *y = aligned_alloc(64, bytes), *z = aligned_alloc(64, bytes);
	double *ms = calloc((size_t)a->steps, sizeof *ms);
	int rc = 1;
	if (!x || !y || !z || !ms) {
		fprintf(stderr, "samc_bench: triad: out of memory for 3 x %lld floats\n", (long long)n);
		goto done;
	}
	if (triad_pass(x, y, z, n, nt, 1) != 0)
		goto no_threads;
	for (int w = 0; w < a->warmup; w++)
		if (triad_pass(x, y, z, n, nt, 0) != 0)
			goto no_threads;
	for (int b = 0; b < a->blocks; b++) {
		double best = 1e30;
		for (int s = 0; s < a->steps; s++) {
			double t0 = bench_now();
			if (triad_pass(x, y, z, n, nt, 0) != 0)
				goto no_threads;
			ms[s] = (bench_now() - t0) * 1e3;
			best = ms[s] < best ? ms[s] : best;
		}
		double med = bench_median(ms, a->steps), moved = 12.0 * (double)n;
		printf("{\"cmd\":\"triad\",\"block\":%d,\"n\":%lld,\"threads\":%d,\"best_gbs\":%.3f,"
		       "\"median_gbs\":%.3f,\"check\":%.1f}\n",
		       b, (long long)n, nt, moved / (best * 1e-3) * 1e-9, moved / (med * 1e-3) * 1e-9,
		       (double)x[n / 2]);
		fflush(stdout);
	}
	rc = 0;
	goto done;
no_threads:
	fprintf(stderr, "samc_bench: triad: cannot start %d threads\n", nt);
done:
	free(x);
	free(y);
	free(z);
	free(ms);
	return rc;
}
