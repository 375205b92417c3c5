/*
 * bench.h - samc_bench, the C side of bench/run.py: times samc's compiled
 * training steps directly through the rt_exec interface (no CLI, no data
 * loading), plus the floors they are judged against.
 *
 *   samc_bench steps   MODEL  base and SAM steps, alternating blocks
 *   samc_bench opt     MODEL  the optimizer part alone (norm, perturb, update)
 *   samc_bench gemm    MODEL  the SAM step's GEMMs alone through cblas_sgemm
 *   samc_bench profile MODEL  time per kernel of the SAM (or base) step
 *   samc_bench triad          STREAM-like triad bandwidth
 *   samc_bench conv           fashion_cnn's convolutions alone through oneDNN
 *
 * Every command prints JSON objects, one per line, on stdout; errors go to
 * stderr with exit status 1. Not a test: nothing here is registered with CTest.
 */
#ifndef SAMC_BENCH_H
#define SAMC_BENCH_H

#include <stdint.h>

#include "cg_cpu.h"
#include "fe_model.h"
#include "pass_pipeline.h"
#include "rt_pool.h"
#include "rt_store.h"

#define BENCH_MAX_SETS 8

typedef struct {
	const char *model;   /* model file */
	const char *prog;    /* "sam" or "base" (profile) */
	int threads;         /* kernel and BLAS threads */
	int steps;           /* timed steps (or iterations) per block */
	int blocks;          /* blocks (repetitions) */
	int warmup;          /* untimed steps before the first block */
	int64_t triad_n;     /* triad: floats per array */
	int bias;            /* conv: with the bias and its gradient */
	int batch;           /* > 0: the model's batch size (as --set batch_size=N) */
	const char *cpu;     /* the CPU the kernels are compiled for (samc build --cpu); NULL: host */
	const char *sets[BENCH_MAX_SETS]; /* --set KEY=VALUE overrides of the recipe */
	int nsets;
} bench_args;

/* A compiled training step with its buffers, ready to run. */
typedef struct {
	pass_program prog;
	rt_exec *x;
	rt_store st;
	void **bind;
	double *outs;
	int x_slot, y_slot;  /* input slots rebound to another batch each step */
	float **xs;          /* pre-made batches (x) */
	int32_t **ys;        /* and their labels */
	int nbatch;
	double compile_s;    /* pass_build + cg_cpu_exec_new */
} bench_step;

/* Monotonic clock in seconds. */
double bench_now(void);
/* Median of v[0..n) (sorts v). */
double bench_median(double *v, int n);
/* Uniform floats in [-1, 1) from a fixed-seed xorshift. */
void bench_fill(float *p, int64_t n, uint64_t seed);

/* Loads the model (fe_load_model), or prints the error and returns NULL. */
/* batch > 0 overrides the model's batch size. */
ir_model *bench_load_model(const bench_args *a);

/* Builds program `kind` of m, compiles it for the CPU with `threads`,
 * binds buffers (params initialised from the model's seed), and makes
 * `nbatch` random batches. 0, or -1 after printing the error. */
int bench_step_new(bench_step *s, const ir_model *m, pass_prog_kind kind, int threads, int nbatch,
                   const char *cpu);
/* One training step on batch i % nbatch. 0, or -1 after printing the error. */
int bench_step_run(bench_step *s, int i);
void bench_step_free(bench_step *s);

/* The GEMMs of a step's schedule, each with buffers of its own. */
typedef struct {
	int ta, tb, m, n, k;
	float *a, *b, *c;
} bench_gemm_case;

/* The GEMM kernels of program `kind` (bench_cmd_gemm.c). 0, or -1 after
 * printing the error. */
int bench_gemm_collect(const ir_model *m, pass_prog_kind kind, bench_gemm_case **out, int *nout);
/* Runs them back to back; milliseconds taken. pool NULL: each through
 * one cblas_sgemm call with OpenBLAS's own `threads`; else split over the
 * pool exactly as the step runs them (rt_prog_kernel_run, OpenBLAS on one
 * thread). The floor is the faster of the two. */
double bench_gemm_run(const bench_gemm_case *c, int n, int threads, rt_pool *pool);
void bench_gemm_free(bench_gemm_case *c, int n);
/* OpenBLAS's idle threads spin for about 0.1 s after their last GEMM
 * (its THREAD_TIMEOUT): after timing with its threads, wait them out so
 * that they do not steal the cores of the next measurement. */
#define BENCH_BLAS_SETTLE_US 250000
void bench_blas_settle(void);

int bench_cmd_steps(const bench_args *a);
int bench_cmd_opt(const bench_args *a);
int bench_cmd_gemm(const bench_args *a);
int bench_cmd_profile(const bench_args *a);
int bench_cmd_triad(const bench_args *a);
int bench_cmd_conv(const bench_args *a);

#endif
