/*
 * bench_cmd_steps.c - `samc_bench steps MODEL`: compiles the base and the
 * SAM step of a model, then times them in alternating blocks (base, SAM,
 * the SAM step's GEMMs alone, base, SAM, GEMMs, ...) so that machine noise
 * hits the steps and their GEMM floor alike. Each step is timed
 * alone; a block reports the median of its steps. Also reports the time to
 * load the model and to build each exec (the JIT path's compile time).
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

static int time_block(bench_step *s, int first, int n, double *ms)
{
	for (int i = 0; i < n; i++) {
		double t0 = bench_now();
		if (bench_step_run(s, first + i) != 0)
			return -1;
		ms[i] = (bench_now() - t0) * 1e3;
	}
	return 0;
}

int bench_cmd_steps(const bench_args *a)
{
	double t0 = bench_now();
	ir_model *m = bench_load_model(a);
	if (!m)
		return 1;
	double load_s = bench_now() - t0;
	bench_step st[2]; /* 0: base, 1: sam */
	const char *name[2] = {"base", "sam"};
	int rc = 1, ok = 0, ngemm = 0;
	bench_gemm_case *gemm = NULL;
	double *ms = calloc((size_t)a->steps, sizeof *ms);
	double *ms2 = calloc((size_t)a->steps, sizeof *ms2);
	rt_pool *pool = rt_pool_new(a->threads);
	if (!ms || !ms2 || !pool)
		goto done;
	if (bench_step_new(&st[0], m, PASS_PROG_BASE, a->threads, 8, a->cpu) != 0)
		goto done;
	ok = 1;
	if (bench_step_new(&st[1], m, PASS_PROG_SAM, a->threads, 8, a->cpu) != 0)
		goto done;
	ok = 2;
	if (bench_gemm_collect(m, PASS_PROG_SAM, &gemm, &ngemm) != 0)
		goto done;
	printf("{\"cmd\":\"compile\",\"model\":\"%s\",\"load_s\":%.4f,\"base_s\":%.4f,\"sam_s\":%.4f,"
	       "\"base_kernels\":%d,\"sam_kernels\":%d}\n",
	       a->model, load_s, st[0].compile_s, st[1].compile_s, cg_cpu_exec_nkernels(st[0].x),
	       cg_cpu_exec_nkernels(st[1].x));
	for (int p = 0; p < 2; p++)
		if (time_block(&st[p], 0, a->warmup, ms) != 0)
			goto done;
	for (int b = 0; b < a->blocks; b++) {
		for (int p = 0; p < 2; p++) {
			if (time_block(&st[p], a->warmup + b * a->steps, a->steps, ms) != 0)
				goto done;
			double lo = ms[0], sum = 0;
			for (int i = 0; i < a->steps; i++) {
				sum += ms[i];
				lo = ms[i] < lo ? ms[i] : lo;
			}
			printf("{\"cmd\":\"steps\",\"prog\":\"%s\",\"block\":%d,\"median_ms\":%.4f,\"mean_ms\":%.4f,"
			       "\"min_ms\":%.4f,\"loss\":%.5f}\n",
			       name[p], b, bench_median(ms, a->steps), sum / a->steps, lo, st[p].outs[0]);
			fflush(stdout);
		}
		/* the floor: the faster of the step's own split of each GEMM
		 * over a pool and OpenBLAS's own threads; the split first, as
		 * OpenBLAS's idle threads spin for a while after their last
		 * GEMM (and would steal the cores of whatever runs next) */
		for (int i = 0; i < a->steps; i++)
			ms2[i] = bench_gemm_run(gemm, ngemm, a->threads, pool);
		for (int i = 0; i < a->steps; i++)
			ms[i] = bench_gemm_run(gemm, ngemm, a->threads, NULL);
		bench_blas_settle();
		double blas = bench_median(ms, a->steps), split = bench_median(ms2, a->steps);
		printf("{\"cmd\":\"steps\",\"prog\":\"sam_gemm\",\"block\":%d,\"median_ms\":%.4f,"
		       "\"blas_ms\":%.4f,\"split_ms\":%.4f,\"gemms\":%d}\n",
		       b, blas < split ? blas : split, blas, split, ngemm);
		fflush(stdout);
	}
	rc = 0;
done:
	bench_gemm_free(gemm, ngemm);
	for (int p = 0; p < ok; p++)
		bench_step_free(&st[p]);
	free(ms);
	free(ms2);
	rt_pool_free(pool);
	fe_model_free(m);
	return rc;
}
