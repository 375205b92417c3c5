/*
 * test_cuda_gradcases.c - every gradient-check case
 * (test_gradcheck_cases.h: each op with a derivative rule) forward and
 * backward through the generated CUDA C run on the host
 * (test_cuda_host.h): the case's output, a weighted sum as its loss and the
 * loss's gradients for its params, observed and compared with the
 * interpreter's in f64.
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
		snprintf(err, sizeof err, "graph: %s", g->err);
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

static int cases(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

int main(void)
{
	return cuda_host_main(cases, "test_cuda_gradcases", 1);
}
