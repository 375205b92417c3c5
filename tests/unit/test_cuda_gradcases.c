/*
 * test_cuda_gradcases.c - every gradient-check case
 * (test_gradcheck_cases.h: each op with a derivative rule) forward and
 * backward through the generated CUDA C run on the host
 * (test_cuda_host.h): the case's output, a weighted sum as its loss and the
 * loss's gradients for its params, observed and compared with the
 * interpreter's in f64; bad labels and indices stop the kernels that read
 * them, and the run names the model's line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_cuda_host.h"

#define cg_cpu_exec_new cuda_host_exec_new
#include "pass_autodiff.h"
#include "test_cg_harness.h"
#include "test_gradcheck_cases.h"

/* f64 throughout: only the order of sums differs from the interpreter */
#define TOL 1e-11

static int check_case(const char *name, gc_build build)
{
	gc_case c = {ir_graph_new(IR_F64), {0}, 0, NULL};
	ir_graph *g = c.g;
	ir_node *out = build(&c);
	if (!out) {
		print_error("%s: build failed: %s\n", name, g->err);
		ir_graph_free(g);
		return 1;
	}
	/* labels (and indices) below 3, in range for every case */
	if (c.labels)
		ir_attr_set_i(c.labels, IR_ATTR_NCLASSES, 3);
	ir_node *r = ir_input(g, "r", IR_F64, out->shape);
	ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, out, r), 0, 0);
	ir_node *grads[2];
	int rc = pass_grad(g, loss, c.p, c.np, grads);
	int nobs = 0;
	if (rc == 0) {
		rc |= !cgh_observe(g, out, nobs++);
		for (int i = 0; i < c.np; i++)
			rc |= !cgh_observe(g, grads[i], nobs++);
	}
	char err[1024] = "";
	double worst = 0;
	if (rc == 0 && ir_verify(g) == 0)
		rc = cgh_compare(g, &loss, (const char *[]){"loss"}, 1, 2, TOL, 5, &worst, err, sizeof err);
	else
		snprintf(err, sizeof err, "graph: %.1000s", g->err);
	if (rc)
		print_error("%s: %s\n", name, err);
	ir_graph_free(g);
	return rc != 0;
}

static void test_cases(void **st)
{
	(void)st;
	int failures = 0, n = 0;
#define CASE(N, OP) failures += check_case(#N, b_##N), n++;
	GC_CASES(CASE)
#undef CASE
	print_message("%d cases, %d failing\n", n, failures);
	assert_int_equal(failures, 0);
}

/* Runs g's step once with the given labels (or indices) in slot 1 and
 * checks the error names the model line; then with good ones, no error. */
static void bad_then_good(ir_graph *g, ir_node *out, int32_t *lab, int bad_at, int32_t bad,
                          int64_t nx)
{
	ir_node *obs = cgh_observe(g, out, 0);
	assert_non_null(obs);
	char err[1024];
	rt_exec *ex = cg_cpu_exec_new(g, NULL, NULL, 0, NULL, err, sizeof err);
	if (!ex)
		fail_msg("%s", err);
	double *x = calloc((size_t)nx, sizeof *x), *o = calloc((size_t)ir_shape_numel(&out->shape), sizeof *o);
	void *slots[3] = {x, lab, o};
	assert_int_equal(ex->nslots, 3);
	rt_err e;
	int32_t keep = lab[bad_at];
	lab[bad_at] = bad;
	assert_int_not_equal(ex->run(ex, slots, NULL, &e), 0);
	assert_non_null(strstr(e.msg, "model.lua:9"));
	lab[bad_at] = keep;
	assert_int_equal(ex->run(ex, slots, NULL, &e), 0);
	ex->free(ex);
	free(x);
	free(o);
}

/* a bad label in one row of a per-row loss (a block per row), a bad index
 * of an embedding (a thread per row): the kernel's error word, the line */
static void test_bad_labels(void **st)
{
	(void)st;
	int64_t d[2] = {6, 3};
	ir_graph *g = ir_graph_new(IR_F64);
	ir_node *x = ir_input(g, "x", IR_F64, ir_shape_make(2, d));
	ir_node *y = ir_input(g, "y", IR_I32, ir_shape_make(1, d));
	ir_set_loc(g, "model.lua", 9);
	int32_t lab[6] = {0, 1, 2, 0, 1, 2};
	bad_then_good(g, ir_cross_entropy(g, x, y, IR_REDUCE_NONE, 0.0), lab, 4, 3, 18);
	ir_graph_free(g);

	int64_t w[2] = {5, 3};
	g = ir_graph_new(IR_F64);
	x = ir_input(g, "w", IR_F64, ir_shape_make(2, w));
	y = ir_input(g, "i", IR_I32, ir_shape_make(1, d));
	ir_set_loc(g, "model.lua", 9);
	int32_t idx[6] = {0, 4, 2, 1, 3, 2};
	bad_then_good(g, ir_embedding(g, x, y), idx, 2, 7, 15);
	ir_graph_free(g);
}

static int cases(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	    cmocka_unit_test(test_bad_labels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(void)
{
	return cuda_host_main(cases, "test_cuda_gradcases", 1);
}
