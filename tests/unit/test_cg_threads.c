/*
 * test_cg_threads.c - a compiled step gives the same bits on 1, 2 and 3
 * threads: the medium MLP's SAM and base steps (parallel kernels, GEMMs
 * split over the pool, the SAM norms as chunked reductions, the GEMM run
 * beside other kernels on two threads), large full reductions with a
 * remainder and reductions over the rows, which must also agree with the
 * interpreter; conv2d and its two derivatives, their planes split over
 * the pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cg_split.h"
#include "ir_conv.h"
#include "pass_autodiff.h"
#include "cg_step.h"
#include "pass_pipeline.h"
#include "rt_dev_cpu.h"
#include "test_cg_harness.h"
#include "test_model.h"

#define NTHREADS 3

typedef struct {
	void **slot[NTHREADS];
	double out[NTHREADS][16];
} runs;

/* Runs `steps` steps of g on 1..NTHREADS threads, each from the same
 * random slots; fails unless every slot and output agrees bit for bit.
 * conv_loops: f32 convolutions as generated loops, not oneDNN calls (whose
 * weight gradients oneDNN may split by the thread count, as PyTorch's). */
static void same_bits_with(ir_graph *g, ir_node *const *outs, const char *const *names, int nout,
                           int steps, int want_kernels, int conv_loops)
{
	char err[1024];
	rt_exec *x[NTHREADS];
	runs r;
	assert_true(nout <= 16);
	for (int t = 0; t < NTHREADS; t++) {
		cg_options o;
		cg_options_default(&o);
		o.threads = t + 1;
		o.conv_loops = conv_loops;
		if (!(x[t] = cg_cpu_exec_new(g, outs, names, nout, &o, err, sizeof err)))
			fail_msg("%s", err);
		if (want_kernels)
			assert_int_equal(cg_cpu_exec_nkernels(x[t]), want_kernels);
		uint64_t seed = 7;
		r.slot[t] = calloc((size_t)x[t]->nslots + 1, sizeof *r.slot[t]);
		assert_non_null(r.slot[t]);
		for (int i = 0; i < x[t]->nslots; i++) {
			const rt_slot *sl = &x[t]->slots[i];
			r.slot[t][i] = malloc((size_t)cgh_numel(sl) * (sl->dtype == RT_F64 ? 8 : 4));
			assert_non_null(r.slot[t][i]);
			cgh_fill(sl, r.slot[t][i], &seed);
		}
		for (int s = 0; s < steps; s++) {
			rt_err e;
			if (x[t]->run(x[t], r.slot[t], r.out[t], &e))
				fail_msg("%d threads: %s", t + 1, e.msg);
		}
	}
	for (int t = 1; t < NTHREADS; t++) {
		for (int i = 0; i < nout; i++)
			if (memcmp(&r.out[0][i], &r.out[t][i], sizeof(double)))
				fail_msg("output %s: %.9g on 1 thread, %.9g on %d", names[i], r.out[0][i],
				         r.out[t][i], t + 1);
		for (int i = 0; i < x[0]->nslots; i++) {
			const rt_slot *sl = &x[0]->slots[i];
			size_t es = sl->dtype == RT_F64 ? 8 : 4;
			for (int64_t j = 0; j < cgh_numel(sl); j++)
				if (memcmp((char *)r.slot[0][i] + j * es, (char *)r.slot[t][i] + j * es, es))
					fail_msg("slot %s[%lld]: %.9g on 1 thread, %.9g on %d", sl->name,
					         (long long)j, cgh_get(sl, r.slot[0][i], j),
					         cgh_get(sl, r.slot[t][i], j), t + 1);
		}
	}
	for (int t = 0; t < NTHREADS; t++) {
		for (int i = 0; i < x[t]->nslots; i++)
			free(r.slot[t][i]);
		free(r.slot[t]);
		x[t]->free(x[t]);
	}
}

static void same_bits(ir_graph *g, ir_node *const *outs, const char *const *names, int nout,
                      int steps, int want_kernels)
{
	same_bits_with(g, outs, names, nout, steps, want_kernels, 0);
}

/* How many reductions of p's compiled step run as parallel chunks: a
 * kernel of one parallel loop around a reduce loop, writing a scratch
 * vector, followed by the kernel that folds it. */
static int split_reductions(const pass_program *p)
{
	char err[1024];
	cg_step *s = cg_step_new(p->g, p->outs, p->names, p->nout, NULL, err, sizeof err);
	if (!s)
		fail_msg("%s", err);
	int n = 0;
	for (int i = 0; i + 1 < s->prog->nk; i++) {
		const cg_kernel *k = &s->prog->k[i];
		const cg_stmt *in = cg_kernel_par_extent(k) > 1 ? k->body->body : NULL;
		if (!in || !in->next || in->next->kind != CG_S_LOOP || in->next->loop != CG_L_REDUCE)
			continue;
		/* the fold: same fused kernel, reads the scratch vector written here */
		const cg_kernel *f = &s->prog->k[i + 1];
		assert_int_equal(f->src, k->src);
		assert_int_equal(f->args[f->nargs - 1].id, k->args[k->nargs - 1].id);
		assert_true(k->args[k->nargs - 1].id >= s->p->nbuf);
		assert_int_equal(cg_program_buf_numel(s->prog, k->args[k->nargs - 1].id), k->body->extent);
		n++;
	}
	/* the listing names the kinds: the chunks and the fold of a norm */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	cg_program_print(f, s->prog);
	fclose(f);
	assert_non_null(strstr(text, "_chunks("));
	assert_non_null(strstr(text, " parallel:\n"));
	assert_non_null(strstr(text, " reduce(+: t0):\n"));
	free(text);
	cg_step_free(s);
	return n;
}

static void test_mlp2_steps(void **st)
{
	(void)st;
	char err[1024];
	/* every second step a plain base step, so that both programs exist */
	const char *sets[] = {"optimizer.sam.every=2"};
	ir_model *m = test_load_model("examples/fashion_mlp2.lua", IR_F32, sets, 1);
	pass_programs ps;
	if (pass_build_all(m, &ps, err, sizeof err))
		fail_msg("%s", err);
	assert_non_null(ps.sam.g);
	assert_non_null(ps.base.g);
	assert_int_equal(split_reductions(&ps.sam), 1);
	same_bits(ps.sam.g, ps.sam.outs, ps.sam.names, ps.sam.nout, 2, 0);
	same_bits(ps.base.g, ps.base.outs, ps.base.names, ps.base.nout, 2, 0);
	pass_programs_free(&ps);
	fe_model_free(m);
}

static ir_shape S1(int64_t n)
{
	return ir_shape_make(1, &n);
}

/* A full reduction of n values: split into chunks and a fold (2 kernels),
 * the same bits on every thread count, and within tol of the interpreter. */
static void full_reduction(ir_dtype t, ir_op op, int64_t n, double tol)
{
	ir_graph *g = ir_graph_new(t);
	ir_node *x = ir_input(g, "x", t, S1(n));
	ir_node *y = ir_reduce(g, op, ir_binary(g, IR_OP_MUL, x, ir_unary(g, IR_OP_EXP, x)), 0, 0);
	const char *name = "y";
	assert_false(g->has_err);
	same_bits(g, &y, &name, 1, 1, 2);
	double worst;
	char err[1024] = "";
	int rc = cgh_compare(g, &y, &name, 1, 1, tol, 3, &worst, err, sizeof err);
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	ir_graph_free(g);
}

static void test_full_reductions(void **st)
{
	(void)st;
	/* enough work for the pool; 300000 leaves a remainder after the
	 * chunks, 131072 none */
	assert_true(300000 >= RT_PROG_PAR_MIN_WORK && 300000 % CG_SPLIT_CHUNK != 0);
	assert_true(131072 >= RT_PROG_PAR_MIN_WORK && 131072 % CG_SPLIT_CHUNK == 0);
	/* f32: 3e5 terms of mixed sign summed in float in chunks (the
	 * interpreter sums in double): ~1e-5 of the sum's magnitude, scaled by
	 * |sum| + 1; f64: only the order differs */
	for (int op = IR_OP_SUM; op <= IR_OP_MAX; op++) {
		full_reduction(IR_F32, op, 300000, 1e-5);
		full_reduction(IR_F64, op, 300000, 1e-12);
		full_reduction(IR_F32, op, 131072, 1e-5);
	}
}

/* The parallel extent of the one loop kernel g compiles to. */
static int64_t par_extent(ir_graph *g)
{
	char err[1024];
	cg_step *s = cg_step_new(g, NULL, NULL, 0, NULL, err, sizeof err);
	if (!s)
		fail_msg("%s", err);
	assert_int_equal(s->prog->nk, 1);
	int64_t e = cg_kernel_par_extent(&s->prog->k[0]);
	cg_step_free(s);
	return e;
}

/* A sum or max over the rows (the last dims kept, as a bias gradient):
 * blocks of columns in parallel, each column summing its rows in order. */
static void test_row_reductions(void **st)
{
	(void)st;
	for (int t = IR_F32; t <= IR_F64; t++)
		for (int op = IR_OP_SUM; op <= IR_OP_MAX; op++)
			for (int keep = 0; keep < 2; keep++) {
				ir_graph *g = ir_graph_new(t);
				int64_t d[3] = {4, 75, 1024};
				ir_node *x = ir_input(g, "x", t, ir_shape_make(3, d));
				ir_node *y = ir_reduce(g, op, ir_unary(g, IR_OP_EXP, x), 3, keep);
				assert_false(g->has_err);
				assert_non_null(cgh_observe(g, y, 0));
				/* 1024 columns in blocks of 256; 4*75*1024 above the pool's threshold */
				assert_int_equal(par_extent(g), 4);
				assert_true(4 * 75 * 1024 >= RT_PROG_PAR_MIN_WORK);
				same_bits(g, NULL, NULL, 0, 1, 1);
				double worst;
				char err[1024] = "";
				/* 300 terms per column: f32 1e-5 as the op tests, f64 order only */
				int rc = cgh_compare(g, NULL, NULL, 0, 1, t == IR_F32 ? 2e-5 : 1e-12, 3, &worst,
				                     err, sizeof err);
				if (rc)
					print_error("%s\n", err);
				assert_int_equal(rc, 0);
				ir_graph_free(g);
			}
}

/* Below the pool's threshold a reduction stays one kernel. */
static void test_small_reduction_not_split(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *x = ir_input(g, "x", IR_F32, S1(3 * CG_SPLIT_CHUNK));
	ir_node *y = ir_reduce(g, IR_OP_SUM, x, 0, 0);
	const char *name = "y";
	assert_true(3 * CG_SPLIT_CHUNK < RT_PROG_PAR_MIN_WORK);
	same_bits(g, &y, &name, 1, 1, 1);
	ir_graph_free(g);
}

/* conv2d forward, bwd_data and bwd_weight as generated loops: each plane's
 * sums whole on one thread, so any number of threads gives the same bits. */
static void test_conv(void **st)
{
	(void)st;
	for (int t = IR_F32; t <= IR_F64; t++) {
		ir_graph *g = ir_graph_new(t);
		ir_init zero = {IR_INIT_ZEROS, 0, 0};
		int64_t xd[4] = {12, 4, 15, 13}, wd[4] = {10, 2, 3, 3};
		ir_node *xw[2] = {ir_param(g, "x", t, ir_shape_make(4, xd), zero),
		                  ir_param(g, "w", t, ir_shape_make(4, wd), zero)};
		ir_conv_params p = {2, 1, 1, 1, 1, 2, 2};
		ir_node *y = ir_conv2d(g, xw[0], xw[1], &p), *gr[2];
		assert_non_null(y);
		/* 12*10*8*11 outputs of 2*3*3 terms: enough for the pool to split */
		assert_true(12 * 10 * 8 * 11 * 18 >= RT_PROG_PAR_MIN_WORK);
		ir_node *r = ir_input(g, "r", t, y->shape);
		ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, y, r), 0, 0);
		assert_int_equal(pass_grad(g, loss, xw, 2, gr), 0);
		for (int i = 0; i < 3; i++)
			assert_non_null(cgh_observe(g, i ? gr[i - 1] : y, i));
		same_bits_with(g, NULL, NULL, 0, 1, 0, 1);
		ir_graph_free(g);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mlp2_steps),
	    cmocka_unit_test(test_full_reductions),
	    cmocka_unit_test(test_row_reductions),
	    cmocka_unit_test(test_small_reduction_not_split),
	    cmocka_unit_test(test_conv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
