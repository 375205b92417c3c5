/*
 * test_gradcheck.c - every derivative rule against central finite
 * differences, in f64 through the reference interpreter.
 *
 * Each case builds a small graph from params p0, p1 (and labels when it
 * needs them); the loss is sum(op(...) * r) with r a fixed random input, so
 * every output element carries a distinct weight into the gradient.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "ir_interp.h"
#include "pass_autodiff.h"

#include "test_gradcheck_cases.h"

static double urand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return ((*s >> 8) & 0xffff) / 65536.0;
}

static void fill(ir_env *e, ir_graph *g, unsigned *seed)
{
	for (int i = 0; i < g->nnodes; i++) {
		ir_node *n = g->nodes[i];
		if (n->op != IR_OP_PARAM && n->op != IR_OP_INPUT)
			continue;
		double *v = ir_env_leaf(e, n);
		for (int64_t k = 0; k < ir_shape_numel(&n->shape); k++)
			v[k] = n->dtype == IR_I32 ? (double)(k % 4) : 2.0 * urand(seed) - 1.0;
	}
}

static void check_case(const char *name, gc_build build)
{
	gc_case c = {ir_graph_new(IR_F64), {0}, 0, NULL};
	ir_graph *g = c.g;
	ir_node *out = build(&c);
	if (!out)
		fail_msg("%s: build failed: %s", name, g->err);
	ir_node *r = ir_input(g, "r", IR_F64, out->shape);
	ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, out, r), 0, 0);
	ir_node *grads[2];
	if (pass_grad(g, loss, c.p, c.np, grads) != 0)
		fail_msg("%s: autodiff failed: %s", name, g->err);
	assert_int_equal(ir_verify(g), 0);

	ir_env *e = ir_env_new(g);
	unsigned seed = 7;
	fill(e, g, &seed);
	char err[512];
	ir_node *outs[3] = {loss, grads[0], c.np > 1 ? grads[1] : grads[0]};
	double *vals[3];
	if (ir_interp_eval(e, outs, 3, vals, err, sizeof err) != 0)
		fail_msg("%s: %s", name, err);
	for (int pi = 0; pi < c.np; pi++) {
		double *w = ir_env_leaf(e, c.p[pi]);
		int64_t n = ir_shape_numel(&c.p[pi]->shape);
		double num2 = 0, diff2 = 0;
		for (int64_t k = 0; k < n; k++) {
			const double h = 1e-6, w0 = w[k];
			double *lp, *lm;
			w[k] = w0 + h;
			assert_int_equal(ir_interp_eval(e, &loss, 1, &lp, err, sizeof err), 0);
			w[k] = w0 - h;
			assert_int_equal(ir_interp_eval(e, &loss, 1, &lm, err, sizeof err), 0);
			w[k] = w0;
			double fd = (*lp - *lm) / (2 * h);
			free(lp);
			free(lm);
			double an = vals[1 + pi][k];
			num2 += fd * fd;
			diff2 += (fd - an) * (fd - an);
		}
		/* central differences in f64 with h = 1e-6 carry ~1e-9 relative error */
		double rel = sqrt(diff2) / (sqrt(num2) + 1e-12);
		if (rel > 1e-6)
			fail_msg("%s: d loss/d p%d: relative error %.3g", name, pi, rel);
	}
	for (int i = 0; i < 3; i++)
		free(vals[i]);
	ir_env_free(e);
	ir_graph_free(g);
}

#define CASE(N, OP) \
	static void t_##N(void **state) { (void)state; check_case(#N, b_##N); }
GC_CASES(CASE)
#undef CASE

/* A wrt node the loss does not reach gets an all-zero gradient. */
static void t_unreached(void **state)
{
	(void)state;
	ir_graph *g = ir_graph_new(IR_F64);
	ir_init z = {IR_INIT_ZEROS, 0, 0};
	int64_t d = 3;
	ir_node *a = ir_param(g, "a", IR_F64, ir_shape_make(1, &d), z);
	ir_node *b = ir_param(g, "b", IR_F64, ir_shape_make(1, &d), z);
	ir_node *loss = ir_reduce(g, IR_OP_SUM, a, 0, 0);
	ir_node *w[2] = {a, b}, *gr[2];
	assert_int_equal(pass_grad(g, loss, w, 2, gr), 0);
	assert_int_equal(gr[1]->op, IR_OP_CONST);
	assert_true(ir_attr_f(gr[1], IR_ATTR_VALUE) == 0.0);
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(N, OP) cmocka_unit_test(t_##N),
		GC_CASES(T)
#undef T
		cmocka_unit_test(t_unreached),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
