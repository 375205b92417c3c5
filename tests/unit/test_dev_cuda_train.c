/*
 * test_dev_cuda_train.c - a training run on the CUDA exec
 * (codegen/cuda/cg_cuda_exec.h) through the host stand-in for the driver
 * (tests/cuda_standin), whose counters see every transfer: tiny_mlp.lua's
 * SAM step trains through the real loop (rt_train) and
 *   - per step uploads only the batch (after an epoch's first, while the
 *     step before runs: pinned staging, a copy stream) and the step
 *     scalars, and downloads
 *     only the error words and the outputs; every loop kernel is launched
 *     once a step and every GEMM goes to cuBLAS once a step; each run of
 *     three or more loop kernels is captured once into a CUDA graph and
 *     launched as one each step (SAMC_CUDA_GRAPHS=0: kernel by kernel);
 *   - a checkpoint downloads every parameter and state buffer once, and a
 *     resumed run uploads each once (and no initial values before);
 *   - the second compile of the same step takes its PTX from the cache;
 *   - a bad label sets a kernel's error word on the device and the runner
 *     names the model line.
 * Exit 77 (skipped) without the stand-in, a host C++ compiler or NVRTC.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cuda/cg_cuda_exec.h"
#include "pass_pipeline.h"
#include "rt_dataset.h"
#include "rt_device.h"
#include "rt_prog.h"
#include "rt_store.h"
#include "rt_train.h"
#include "test_idx_write.h"
#include "test_model.h"
#include "test_tmpdir.h"
#include "../cuda_standin/standin.h"

#ifndef SAMC_CUDA_STANDIN
#define SAMC_CUDA_STANDIN ""
#endif


static void (*get_counts)(standin_counts *);
static void (*reset_counts)(void);
static char dir[4096];

/* the table's runs of at least three loop kernels (the device's CUDA
 * graphs, rt_dev_cuda_graph.c) and the kernels in them */
static int graph_runs, graph_kernels;

enum { NEX = 48, B = 16 };

typedef struct {
	ir_model *m;
	pass_program prog;
	rt_exec *x;
} compiled;

static void compile(compiled *c)
{
	char err[2048];
	c->m = test_load_model("tests/e2e/models/tiny_mlp.lua", IR_F32, NULL, 0);
	if (pass_build(c->m, PASS_PROG_SAM, &c->prog, err, sizeof err))
		fail_msg("%s", err);
	char cache[4200];
	snprintf(cache, sizeof cache, "%s/cache", dir);
	cg_cuda_options o;
	cg_cuda_options_default(&o);
	o.driver = o.blas = SAMC_CUDA_STANDIN;
	o.cache_dir = cache;
	if (!(c->x = cg_cuda_exec_new(c->prog.g, c->prog.outs, c->prog.names, c->prog.nout, &o, err,
	                              sizeof err)))
		fail_msg("%s", err);
	assert_string_equal(c->x->backend, "cuda");
	assert_string_equal(c->x->dev->name, "cuda");
}

static void compiled_free(compiled *c)
{
	c->x->free(c->x);
	pass_program_free(&c->prog);
	fe_model_free(c->m);
}

static void write_idx(const char *name, const unsigned char *data, int rank, const uint32_t *dim)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	test_write_idx(path, data, rank, dim);
}

static void make_data(void)
{
	static unsigned char img[NEX * 784], lab[NEX];
	for (int i = 0; i < NEX; i++) {
		lab[i] = (unsigned char)(i % 10);
		for (int j = 0; j < 784; j++)
			img[i * 784 + j] = (unsigned char)((i * 31 + j * 7) % 251);
	}
	uint32_t idim[3] = {NEX, 28, 28}, ldim[1] = {NEX};
	write_idx("train-images.idx", img, 3, idim);
	write_idx("train-labels.idx", lab, 1, ldim);
}

/* Trains `epochs` epochs (resuming from dir/ckpt/last.safetensors when
 * `resume`) on a fresh exec; the stand-in's counts of the run in *n. */
static void train_counted(int epochs, int resume, standin_counts *n, int *nsaved, int *up_step,
                          int *down_step, int *nloop, int *ngemm)
{
	compiled c = {0};
	compile(&c);
	rt_recipe r = c.m->recipe;
	r.data.train[0].path = "train-images.idx";
	r.data.train[1].path = "train-labels.idx";
	r.data.ntest = 0;
	r.epochs = epochs;
	char ckpt[4200], last[4300];
	snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
	snprintf(last, sizeof last, "%s/last.safetensors", ckpt);
	rt_train_opts o = {.recipe = &r, .data_dir = dir, .quiet = 1, .ckpt_dir = ckpt,
	                   .program_hash = "h", .resume_path = resume ? last : NULL};
	rt_err err = {{0}};
	reset_counts();
	if (rt_train(&o, c.x, NULL, NULL, &err))
		fail_msg("%s", err.msg);
	get_counts(n);
	int ndata = 0, nscalar = 0;
	*nsaved = 0;
	for (int i = 0; i < c.x->nslots; i++) {
		const rt_slot *s = &c.x->slots[i];
		if (s->role != RT_SLOT_INPUT)
			++*nsaved;
		else if (rt_dataset_is_data_input(s))
			ndata++;
		else
			nscalar++;
	}
	assert_int_equal(ndata, 2);
	assert_true(nscalar >= 1);
	*up_step = ndata + nscalar;
	*down_step = 1 + c.x->noutputs; /* the error words and each output */
	const rt_prog *p = cg_cuda_exec_prog(c.x);
	assert_non_null(p);
	*nloop = *ngemm = 0;
	graph_runs = graph_kernels = 0;
	for (int i = 0, run = 0; i <= p->nkernels; i++) {
		if (i < p->nkernels && !rt_kkind_is_call(p->kernels[i].kind)) {
			run++;
			continue;
		}
		graph_runs += run >= 3;
		graph_kernels += run >= 3 ? run : 0;
		run = 0;
	}
	for (int i = 0; i < p->nkernels; i++) {
		*ngemm += p->kernels[i].kind == RT_K_GEMM;
		*nloop += !rt_kkind_is_call(p->kernels[i].kind);
		assert_true(rt_kkind_is_call(p->kernels[i].kind) || p->kernels[i].cu_block > 0);
	}
	compiled_free(&c);
}

/* SAMC_CUDA_GRAPHS=0: every kernel launched on its own */
static void test_graphs_off(void **state)
{
	(void)state;
	standin_counts n;
	int nsaved, up_step, down_step, nloop, ngemm, nsteps = NEX / B;
	setenv("SAMC_CUDA_GRAPHS", "0", 1);
	train_counted(1, 0, &n, &nsaved, &up_step, &down_step, &nloop, &ngemm);
	unsetenv("SAMC_CUDA_GRAPHS");
	assert_int_equal(n.graph_launch, 0);
	assert_int_equal(n.captured, 0);
	assert_int_equal(n.launch, nsteps * nloop);
	assert_int_equal(n.up, nsaved + nsteps * up_step);
}

static void test_transfers(void **state)
{
	(void)state;
	standin_counts n;
	int nsaved, up_step, down_step, nloop, ngemm, nsteps = NEX / B;
	train_counted(1, 0, &n, &nsaved, &up_step, &down_step, &nloop, &ngemm);
	assert_int_equal(n.up, nsaved + nsteps * up_step);
	assert_int_equal(n.down, nsteps * down_step + nsaved);
	assert_true(nloop > 10 && ngemm > 3);
	assert_int_equal(n.launch, nsteps * nloop);
	assert_int_equal(n.gemm, nsteps * ngemm);
	assert_int_equal(n.copy_bytes % 4, 0); /* the commits, device to device */
	/* every batch but the epoch's first travels while the step before
	 * runs (its two columns, from pinned staging) */
	assert_int_equal(n.up_async, (nsteps - 1) * 2);
	assert_true(n.host_alloc >= 2);
	/* each run of loop kernels captured once into a graph, launched as
	 * one each step (the launches above are its kernels, replayed) */
	assert_true(graph_runs >= 2);
	assert_int_equal(n.captured, graph_kernels);
	assert_int_equal(n.graph_launch, nsteps * graph_runs);
	/* resumed for a second epoch: the checkpoint's buffers go up once */
	train_counted(2, 1, &n, &nsaved, &up_step, &down_step, &nloop, &ngemm);
	assert_int_equal(n.up, nsaved + nsteps * up_step);
	assert_int_equal(n.down, nsteps * down_step + nsaved);
	assert_int_equal(n.launch, nsteps * nloop);
	assert_int_equal(n.up_async, (nsteps - 1) * 2);
}

/* The same step compiled again takes its PTX from the cache: no NVRTC. */
static void test_cache(void **state)
{
	(void)state;
	compiled c = {0};
	compile(&c);
	const char *what = cg_cuda_exec_describe(c.x);
	assert_non_null(what);
	if (!strstr(what, "samc host stand-in (sm_90, driver 13.0), compute_90") ||
	    !strstr(what, "PTX from the cache"))
		fail_msg("second compile: %s", what);
	compiled_free(&c);
}

/* A label out of range: the loss kernel's error word on the device, the
 * runner names the model line; the next step runs. */
static void test_error_word(void **state)
{
	(void)state;
	compiled c = {0};
	compile(&c);
	rt_exec *x = c.x;
	rt_store st = {0};
	rt_err err = {{0}};
	assert_int_equal(rt_store_add_exec(&st, x, &err), 0);
	void **bind = rt_store_bind(&st, x, &err);
	assert_non_null(bind);
	int iy = rt_store_find(&st, "y");
	assert_true(iy >= 0);
	int32_t *y = rt_store_host(&st, iy);
	assert_non_null(y);
	for (int i = 0; i < B; i++)
		y[i] = i == 5 ? 10 : i % 10;
	assert_int_equal(rt_store_flush(&st, iy, &err), 0);
	assert_int_equal(rt_store_set_scalar(&st, "opt.lr", 0.1, &err), 0);
	double out[8];
	assert_int_not_equal(x->run(x, bind, out, &err), 0);
	if (!strstr(err.msg, "tiny_mlp.lua:") ||
	    !strstr(err.msg, ": cross_entropy: label outside [0, number of classes) (code 1, input 'y')"))
		fail_msg("unexpected message: %s", err.msg);
	y[5] = 5;
	assert_int_equal(rt_store_flush(&st, iy, &err), 0);
	if (x->run(x, bind, out, &err))
		fail_msg("the step after a failure: %s", err.msg);
	free(bind);
	rt_store_free(&st);
	compiled_free(&c);
}

int main(void)
{
	void *lib = NULL;
	if (!SAMC_CUDA_STANDIN[0] || !(lib = dlopen(SAMC_CUDA_STANDIN, RTLD_NOW | RTLD_LOCAL)) ||
	    system("c++ --version >/dev/null 2>&1") != 0 || !cg_nvrtc_available()) {
		fprintf(stderr, "test_dev_cuda_train: no host stand-in for the driver, no c++ or no "
		        "NVRTC: skipped\n");
		return 77;
	}
	*(void **)&get_counts = dlsym(lib, "samc_standin_counts");
	*(void **)&reset_counts = dlsym(lib, "samc_standin_reset");
	if (!get_counts || !reset_counts || tmpdir_make(dir, sizeof dir, "test_dev_cuda_train"))
		return 1;
	char cache[4200];
	snprintf(cache, sizeof cache, "%s/cache", dir);
	setenv("SAMC_CACHE_DIR", cache, 1); /* where the stand-in finds a module's source */
	make_data();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transfers),
		cmocka_unit_test(test_graphs_off),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_error_word),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	tmpdir_remove(dir);
	dlclose(lib);
	return rc;
}
