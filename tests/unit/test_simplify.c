/*
 * test_simplify.c - the simplify pass: common subexpressions merged,
 * ops over constants folded exactly as the interpreter computes them (a
 * kernel that only stored a constant disappears), inexact folds left alone,
 * and a where() over a constant (the resolved train/eval mode) replaced by
 * its branch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir_interp.h"
#include "pass_fuse.h"
#include "pass_simplify.h"

static ir_shape S2(int64_t a, int64_t b)
{
	int64_t d[2] = {a, b};
	return ir_shape_make(2, d);
}

static int count(const ir_graph *g, ir_op op)
{
	int n = 0;
	for (int i = 0; i < g->nnodes; i++)
		n += g->nodes[i]->op == op;
	return n;
}

static int simplify(ir_graph *g, ir_node **outs, int nout)
{
	if (pass_simplify(g, outs, nout) || pass_dce(g, outs, nout) || ir_verify(g))
		fail_msg("%s", g->err);
	return 0;
}

static void t_cse_merges_equal_nodes(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *x = ir_input(g, "x", IR_F32, S2(4, 8));
	ir_node *a = ir_unary(g, IR_OP_EXP, x), *b = ir_unary(g, IR_OP_EXP, x);
	ir_node *s1 = ir_reduce(g, IR_OP_SUM, a, 0, 0), *s2 = ir_reduce(g, IR_OP_SUM, b, 0, 0);
	ir_node *t = ir_reduce(g, IR_OP_SUM, a, 1, 0); /* other axes: not the same */
	ir_node *outs[3] = {s1, s2, t};
	simplify(g, outs, 3);
	assert_int_equal(count(g, IR_OP_EXP), 1);
	assert_int_equal(count(g, IR_OP_SUM), 2);
	assert_ptr_equal(outs[0], outs[1]);
	assert_ptr_not_equal(outs[0], outs[2]);
	ir_graph_free(g);
}

/* The value the interpreter gives a graph's first output. */
static double interp(ir_graph *g, ir_node *out)
{
	ir_env *e = ir_env_new(g);
	double *v = NULL;
	char err[256];
	if (!e || ir_interp_eval(e, &out, 1, &v, err, sizeof err))
		fail_msg("%s", err);
	double r = v[0];
	free(v);
	ir_env_free(e);
	return r;
}

/* f32 0.1 + 0.2, sqrt(2) and 1/3 folded bit for bit as the interpreter
 * computes them at run time. */
static void t_fold_is_exact(void **st)
{
	(void)st;
	for (int op = 0; op < 3; op++) {
		double want = 0;
		for (int pass = 0; pass < 2; pass++) {
			ir_graph *g = ir_graph_new(IR_F32);
			ir_node *a = ir_const(g, IR_F32, S2(2, 3), op == 0 ? 0.1 : op == 1 ? 2.0 : 1.0);
			ir_node *b = ir_const(g, IR_F32, ir_shape_scalar(), op == 0 ? 0.2 : 3.0);
			ir_node *v = op == 0 ? ir_binary(g, IR_OP_ADD, a, b)
			           : op == 1 ? ir_unary(g, IR_OP_SQRT, a)
			                     : ir_binary(g, IR_OP_DIV, a, b);
			ir_node *out = ir_reshape(g, v, ir_shape_make(1, (int64_t[]){6}));
			if (pass == 0) {
				want = interp(g, out);
			} else {
				simplify(g, &out, 1);
				assert_int_equal(g->nnodes, 1);
				assert_int_equal(out->op, IR_OP_CONST);
				assert_int_equal(out->shape.dim[0], 6);
				assert_memory_equal(&(double){interp(g, out)}, &want, sizeof want);
			}
			ir_graph_free(g);
		}
	}
}

/* A sum of a constant rounds at every step: not folded. */
static void t_inexact_sum_not_folded(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *s = ir_reduce(g, IR_OP_SUM, ir_const(g, IR_F32, S2(3, 7), 0.1), 0, 0);
	simplify(g, &s, 1);
	assert_int_equal(s->op, IR_OP_SUM);
	ir_graph_free(g);
}

static int nkernels(ir_graph *g, ir_node **outs, int nout)
{
	char err[256];
	pass_fusion *f = pass_fuse(g, outs, nout, err, sizeof err);
	if (!f)
		fail_msg("%s", err);
	int n = f->nk;
	pass_fusion_free(f);
	return n;
}

/* c = 1 + 2 read by two kernels is a kernel of its own until folded. */
static void t_constant_kernel_disappears(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *x = ir_input(g, "x", IR_F32, S2(4, 8));
	ir_node *c = ir_binary(g, IR_OP_ADD, ir_const(g, IR_F32, S2(4, 8), 1.0),
	                       ir_const(g, IR_F32, ir_shape_scalar(), 2.0));
	ir_node *outs[2] = {ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, x, c), 0, 0),
	                    ir_reduce(g, IR_OP_MAX, ir_binary(g, IR_OP_ADD, x, c), 0, 0)};
	assert_int_equal(nkernels(g, outs, 2), 3);
	double before = interp(g, outs[0]);
	simplify(g, outs, 2);
	assert_int_equal(nkernels(g, outs, 2), 2);
	assert_int_equal(count(g, IR_OP_ADD), 1);
	assert_true(interp(g, outs[0]) == before);
	ir_graph_free(g);
}

/* Leaves and assigns are never merged, even when they look alike. */
static void t_effects_and_leaves_kept(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_init z = {IR_INIT_ZEROS, 0, 0};
	ir_node *w1 = ir_param(g, "w1", IR_F32, S2(2, 2), z), *w2 = ir_param(g, "w2", IR_F32, S2(2, 2), z);
	ir_node *one = ir_const(g, IR_F32, ir_shape_scalar(), 1.0);
	ir_assign(g, w1, ir_binary(g, IR_OP_ADD, w1, one));
	ir_assign(g, w2, ir_binary(g, IR_OP_ADD, w2, one));
	simplify(g, NULL, 0);
	assert_int_equal(count(g, IR_OP_PARAM), 2);
	assert_int_equal(count(g, IR_OP_ASSIGN), 2);
	assert_int_equal(count(g, IR_OP_ADD), 2);
	ir_graph_free(g);
}

/* where(c, a, b) with c constant keeps the branch c selects (NaN counts as
 * true), and the other branch is dropped; a where whose branch would need
 * broadcasting to the result, or whose condition is data, stays. */
static void t_where_over_constant_keeps_its_branch(void **st)
{
	(void)st;
	const double conds[] = {1.0, 0.0, NAN, -2.0};
	for (int i = 0; i < 4; i++) {
		ir_graph *g = ir_graph_new(IR_F64);
		ir_node *x = ir_input(g, "x", IR_F64, S2(3, 4));
		ir_node *a = ir_unary(g, IR_OP_EXP, x), *b = ir_unary(g, IR_OP_TANH, x);
		ir_node *c = ir_const(g, IR_F64, ir_shape_scalar(), conds[i]);
		ir_node *outs[1] = {ir_where(g, c, a, b)};
		simplify(g, outs, 1);
		assert_int_equal(count(g, IR_OP_WHERE), 0);
		int keep_a = conds[i] != 0;
		assert_int_equal(outs[0]->op, keep_a ? IR_OP_EXP : IR_OP_TANH);
		assert_int_equal(count(g, keep_a ? IR_OP_TANH : IR_OP_EXP), 0);
		ir_graph_free(g);
	}
	ir_graph *g = ir_graph_new(IR_F64);
	ir_node *x = ir_input(g, "x", IR_F64, S2(3, 4));
	ir_node *one = ir_const(g, IR_F64, ir_shape_scalar(), 1.0);
	int64_t four = 4;
	ir_node *row = ir_input(g, "row", IR_F64, ir_shape_make(1, &four));
	/* the selected branch [4] is not the result's shape [3,4]: kept */
	ir_node *outs[2] = {ir_where(g, one, row, x), ir_where(g, ir_unary(g, IR_OP_SIGN, x), x, row)};
	simplify(g, outs, 2);
	assert_int_equal(count(g, IR_OP_WHERE), 2);
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_cse_merges_equal_nodes),
		cmocka_unit_test(t_fold_is_exact),
		cmocka_unit_test(t_inexact_sum_not_folded),
		cmocka_unit_test(t_constant_kernel_disappears),
		cmocka_unit_test(t_effects_and_leaves_kept),
		cmocka_unit_test(t_where_over_constant_keeps_its_branch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
