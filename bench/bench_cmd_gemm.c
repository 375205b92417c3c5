/*
 * bench_cmd_gemm.c - `samc_bench gemm MODEL`: the GEMM floor of a step.
 *
 * Compiles the model's SAM and base steps to their tables exactly as the
 * CPU backend does (cg_step_new: fusion, plan, loop IR, schedule), takes
 * every GEMM of the schedule, and times those GEMMs alone, back to back, through the same
 * cblas_sgemm call the backend makes (same shapes, transposes and leading
 * dimensions), on buffers of their own, two ways: one call each with
 * OpenBLAS's own threads, and split over a pool as the step runs them
 * (OpenBLAS on one thread). No step can be faster than its GEMMs: the
 * faster of the two sums is the step's floor.
 */
#include "bench.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cg_step.h"
#include "rt_dev_cpu.h"

static void run_case(const bench_gemm_case *g)
{
	int lda = g->ta ? g->m : g->k, ldb = g->tb ? g->k : g->n;
	cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans,
	            g->m, g->n, g->k, 1.0f, g->a, lda, g->b, ldb, 0.0f, g->c, g->n);
}

/* The GEMMs of program `kind`: *out (caller frees, with the buffers). */
int bench_gemm_collect(const ir_model *m, pass_prog_kind kind, bench_gemm_case **out, int *nout)
{
	char err[1024];
	pass_program prog = {0};
	cg_step *st = NULL;
	int rc = -1;
	if (pass_build(m, kind, &prog, err, sizeof err) != 0 ||
	    !(st = cg_step_new(prog.g, prog.outs, prog.names, prog.nout, NULL, err, sizeof err))) {
		fprintf(stderr, "samc_bench: gemm: %s\n", err);
		goto done;
	}
	bench_gemm_case *c = calloc((size_t)st->desc.nkernels + 1, sizeof *c);
	int n = 0;
	for (int i = 0; c && i < st->desc.nkernels; i++) {
		const rt_prog_kernel *k = &st->desc.kernels[i];
		if (k->kind != RT_K_GEMM)
			continue;
		bench_gemm_case *g = &c[n++];
		g->ta = k->ta;
		g->tb = k->tb;
		g->m = (int)k->m;
		g->n = (int)k->n;
		g->k = (int)k->k;
		g->a = aligned_alloc(64, (size_t)(g->m * g->k * 4 + 63) / 64 * 64);
		g->b = aligned_alloc(64, (size_t)(g->k * g->n * 4 + 63) / 64 * 64);
		g->c = aligned_alloc(64, (size_t)(g->m * g->n * 4 + 63) / 64 * 64);
		if (!g->a || !g->b || !g->c) {
			fprintf(stderr, "samc_bench: gemm: out of memory\n");
			goto done;
		}
		bench_fill(g->a, (int64_t)g->m * g->k, 1);
		bench_fill(g->b, (int64_t)g->k * g->n, 2);
	}
	if (!c) {
		fprintf(stderr, "samc_bench: gemm: out of memory\n");
		goto done;
	}
	*out = c;
	*nout = n;
	rc = 0;
done:
	cg_step_free(st);
	if (prog.g)
		pass_program_free(&prog);
	return rc;
}

void bench_gemm_free(bench_gemm_case *c, int n)
{
	for (int i = 0; c && i < n; i++) {
		free(c[i].a);
		free(c[i].b);
		free(c[i].c);
	}
	free(c);
}

static void run_split(const bench_gemm_case *g, rt_pool *pool)
{
	rt_prog_kernel k = {.kind = RT_K_GEMM, .nargs = 3, .ta = g->ta, .tb = g->tb,
	                    .m = g->m, .n = g->n, .k = g->k};
	void *a[3] = {g->a, g->b, g->c};
	rt_prog_kernel_run(&k, a, NULL, pool);
}

void bench_blas_settle(void)
{
	openblas_set_num_threads(1);
	usleep(BENCH_BLAS_SETTLE_US);
}

double bench_gemm_run(const bench_gemm_case *c, int n, int threads, rt_pool *pool)
{
	openblas_set_num_threads(pool ? 1 : threads);
	double t0 = bench_now();
	for (int i = 0; i < n; i++) {
		if (pool)
			run_split(&c[i], pool);
		else
			run_case(&c[i]);
	}
	return (bench_now() - t0) * 1e3;
}

int bench_cmd_gemm(const bench_args *a)
{
	ir_model *m = bench_load_model(a);
	if (!m)
		return 1;
	openblas_set_num_threads(a->threads);
	bench_gemm_case *c[2] = {NULL, NULL};
	int n[2] = {0, 0}, rc = 1;
	const char *name[2] = {"base", "sam"};
	double *ms = calloc((size_t)a->steps, sizeof *ms);
	double *ms2 = calloc((size_t)a->steps, sizeof *ms2);
	rt_pool *pool = rt_pool_new(a->threads);
	if (!ms || !ms2 || !pool || bench_gemm_collect(m, PASS_PROG_BASE, &c[0], &n[0]) ||
	    bench_gemm_collect(m, PASS_PROG_SAM, &c[1], &n[1]))
		goto done;
	for (int i = 0; i < n[1]; i++)
		printf("{\"cmd\":\"gemm_shape\",\"prog\":\"sam\",\"i\":%d,\"m\":%d,\"n\":%d,\"k\":%d,"
		       "\"ta\":%d,\"tb\":%d}\n",
		       i, c[1][i].m, c[1][i].n, c[1][i].k, c[1][i].ta, c[1][i].tb);
	for (int p = 0; p < 2; p++)
		for (int w = 0; w < a->warmup; w++) {
			bench_gemm_run(c[p], n[p], a->threads, pool);
			bench_gemm_run(c[p], n[p], a->threads, NULL);
		}
	for (int b = 0; b < a->blocks; b++)
		for (int p = 0; p < 2; p++) {
			/* the split first: OpenBLAS's threads spin for a while
			 * after their last GEMM */
			for (int s = 0; s < a->steps; s++)
				ms2[s] = bench_gemm_run(c[p], n[p], a->threads, pool);
			for (int s = 0; s < a->steps; s++)
				ms[s] = bench_gemm_run(c[p], n[p], a->threads, NULL);
			bench_blas_settle();
			double blas = bench_median(ms, a->steps), split = bench_median(ms2, a->steps);
			double flop = 0;
			for (int i = 0; i < n[p]; i++)
				flop += 2.0 * c[p][i].m * c[p][i].n * c[p][i].k;
			printf("{\"cmd\":\"gemm\",\"model\":\"%s\",\"prog\":\"%s\",\"block\":%d,\"gemms\":%d,"
			       "\"median_ms\":%.4f,\"blas_ms\":%.4f,\"split_ms\":%.4f,\"gflop\":%.4f}\n",
			       a->model, name[p], b, n[p], blas < split ? blas : split, blas, split,
			       flop * 1e-9);
			fflush(stdout);
		}
	rc = 0;
done:
	bench_gemm_free(c[0], n[0]);
	bench_gemm_free(c[1], n[1]);
	free(ms);
	free(ms2);
	rt_pool_free(pool);
	fe_model_free(m);
	return rc;
}
