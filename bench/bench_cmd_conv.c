/*
 * bench_cmd_conv.c - `samc_bench conv`: oneDNN's convolution primitives
 * alone, through rt_conv exactly as the CPU backend calls them, for the two
 * convolutions of examples/fashion_cnn.lua at batch 128:
 *
 *   conv1  1 -> 32 channels, 3x3, padding 1, on 28x28
 *   conv2  32 -> 64 channels, 3x3, padding 1, on 14x14
 *   conv3  64 -> 128 channels, 3x3, padding 1, on 7x7
 *
 * A training pass runs conv1's forward and weight gradient (its input is
 * the data: no input gradient) and conv2's and conv3's forward, input
 * gradient and weight gradient. Each primitive is timed alone in blocks of --steps
 * runs (median per block), on its own buffers of random values, with
 * --threads OpenMP threads; a block also reports the sum of the medians
 * of one pass, the "oneDNN alone" floor of a step's convolutions (a SAM
 * step makes two passes). `--bias 1` adds the bias and its gradient.
 * Convolutions with a BatchNorm after them have no bias, hence the default.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

#include "rt_conv.h"

typedef struct {
	const char *name;
	rt_conv_desc d;
	int dx; /* the input gradient is needed */
} conv_case;

typedef struct {
	float *x, *w, *b, *y, *dy, *dx, *dw, *db;
} conv_bufs;

static float *buf_new(int64_t n, uint64_t seed)
{
	float *p = aligned_alloc(64, (size_t)(n * 4 + 63) / 64 * 64);
	if (p)
		bench_fill(p, n, seed);
	return p;
}

static int bufs_new(const rt_conv_desc *d, conv_bufs *b)
{
	int64_t nx = d->n * d->c * d->h * d->w, nw = d->o * (d->c / d->groups) * d->kh * d->kw;
	int64_t ny = d->n * d->o * d->oh * d->ow;
	b->x = buf_new(nx, 1);
	b->w = buf_new(nw, 2);
	b->b = buf_new(d->o, 3);
	b->y = buf_new(ny, 4);
	b->dy = buf_new(ny, 5);
	b->dx = buf_new(nx, 6);
	b->dw = buf_new(nw, 7);
	b->db = buf_new(d->o, 8);
	return b->x && b->w && b->b && b->y && b->dy && b->dx && b->dw && b->db ? 0 : -1;
}

static void bufs_free(conv_bufs *b)
{
	free(b->x), free(b->w), free(b->b), free(b->y);
	free(b->dy), free(b->dx), free(b->dw), free(b->db);
}

/* One run of operation op; milliseconds, or -1 after printing the error. */
static double run_op(rt_conv *c, const conv_case *k, const conv_bufs *b, rt_conv_op op, int bias)
{
	rt_err err = {{0}};
	double t0 = bench_now();
	int rc = op == RT_CONV_FWD ? rt_conv_forward(c, &k->d, b->x, b->w, bias ? b->b : NULL, b->y, &err)
	       : op == RT_CONV_BWD_DATA ? rt_conv_backward_data(c, &k->d, b->dy, b->w, b->dx, &err)
	       : rt_conv_backward_weights(c, &k->d, b->x, b->dy, b->dw, bias ? b->db : NULL, &err);
	double ms = (bench_now() - t0) * 1e3;
	if (rc != 0) {
		fprintf(stderr, "samc_bench: conv: %s\n", err.msg);
		return -1;
	}
	return ms;
}

enum { NCONV = 3 };

static const char *op_key(rt_conv_op op)
{
	return op == RT_CONV_FWD ? "fwd" : op == RT_CONV_BWD_DATA ? "bwd_data" : "bwd_weights";
}

int bench_cmd_conv(const bench_args *a)
{
	conv_case cases[NCONV] = {
		{"conv1", {128, 1, 28, 28, 32, 3, 3, 28, 28, 1, 1, 1, 1, 1, 1, 1}, 0},
		{"conv2", {128, 32, 14, 14, 64, 3, 3, 14, 14, 1, 1, 1, 1, 1, 1, 1}, 1},
		{"conv3", {128, 64, 7, 7, 128, 3, 3, 7, 7, 1, 1, 1, 1, 1, 1, 1}, 1},
	};
	rt_err err = {{0}};
	rt_conv *c = rt_conv_new(a->threads, &err);
	conv_bufs bufs[NCONV] = {{0}};
	double *ms = calloc((size_t)a->steps, sizeof *ms);
	int rc = 1;
	if (!c) {
		fprintf(stderr, "samc_bench: conv: %s\n", err.msg);
		goto done;
	}
	int nb = 0;
	while (ms && nb < NCONV && bufs_new(&cases[nb].d, &bufs[nb]) == 0)
		nb++;
	if (nb < NCONV) {
		fprintf(stderr, "samc_bench: conv: out of memory\n");
		goto done;
	}
	printf("{\"cmd\":\"conv_info\",\"isa\":\"%s\",\"threads\":%d,\"bias\":%d}\n", rt_conv_isa(),
	       a->threads, a->bias);
	/* the first run of each creates its primitive: the warmup covers it */
	for (int w = 0; w < a->warmup + 1; w++)
		for (int i = 0; i < NCONV; i++)
			for (int op = 0; op < 3; op++)
				if ((op != RT_CONV_BWD_DATA || cases[i].dx) &&
				    run_op(c, &cases[i], &bufs[i], (rt_conv_op)op, a->bias) < 0)
					goto done;
	for (int blk = 0; blk < a->blocks; blk++) {
		double pass = 0;
		for (int i = 0; i < NCONV; i++)
			for (int op = 0; op < 3; op++) {
				if (op == RT_CONV_BWD_DATA && !cases[i].dx)
					continue;
				for (int s = 0; s < a->steps; s++)
					if ((ms[s] = run_op(c, &cases[i], &bufs[i], (rt_conv_op)op, a->bias)) < 0)
						goto done;
				/* bench_median sorts: ms[0] is then the best run */
				double med = bench_median(ms, a->steps), best = ms[0];
				const rt_conv_desc *d = &cases[i].d;
				double gflop = 2.0 * d->n * d->o * d->oh * d->ow * (d->c / d->groups) * d->kh *
				               d->kw * 1e-9;
				pass += med;
				printf("{\"cmd\":\"conv\",\"block\":%d,\"conv\":\"%s\",\"op\":\"%s\","
				       "\"median_ms\":%.4f,\"best_ms\":%.4f,\"gflops\":%.2f}\n",
				       blk, cases[i].name, op_key((rt_conv_op)op), med, best, gflop / med * 1e3);
			}
		printf("{\"cmd\":\"conv_pass\",\"block\":%d,\"median_ms\":%.4f}\n", blk, pass);
		fflush(stdout);
	}
	rc = 0;
done:
	for (int i = 0; i < NCONV; i++)
		bufs_free(&bufs[i]); /* free(NULL) for those never made */
	free(ms);
	rt_conv_free(c);
	return rc;
}
