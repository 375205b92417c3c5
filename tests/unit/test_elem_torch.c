/*
 * test_elem_torch.c - the elementwise ops with attributes, minimum/maximum
 * and the comparisons through the reference interpreter in f64, against
 * PyTorch's values at fixed inputs (kinks, ties, thresholds and NaN
 * included): the forward values and the gradients of sum(op(...) * r).
 * where is checked the same way. The table is tests/oracle/elem_ref.py's output; CTest's oracle_elem_ref
 * checks that it still is PyTorch's.
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

#include "test_elem_torch_ref.h"

static ir_op op_named(const char *name)
{
	for (int op = 0; op < IR_OP_COUNT; op++)
		if (strcmp(ir_op_name((ir_op)op), name) == 0)
			return (ir_op)op;
	fail_msg("no op named %s", name);
	return IR_OP_COUNT;
}

/* equal, or both NaN, or within a few ulps (PyTorch's and libm's exp and
 * log1p may round differently) */
static void expect(const char *what, const elem_ref_row *row, int i, double got, double want)
{
	if (isnan(want) ? isnan(got) : fabs(got - want) <= 1e-15 * fmax(1.0, fabs(want)))
		return;
	fail_msg("%s(p0 %g, p1 %g) at a=%g b=%g: %s %.17g, PyTorch %.17g", row->op, row->p0,
	         row->p1, row->a[i], row->b[i], what, got, want);
}

static void check_row(const elem_ref_row *row)
{
	ir_graph *g = ir_graph_new(IR_F64);
	ir_op op = op_named(row->op);
	int64_t n = row->n;
	ir_shape s = ir_shape_make(1, &n);
	ir_init zero = {IR_INIT_ZEROS, 0, 0};
	ir_node *p[3] = {ir_param(g, "a", IR_F64, s, zero), ir_param(g, "b", IR_F64, s, zero),
	                 ir_param(g, "c", IR_F64, s, zero)};
	ir_node *y = op == IR_OP_LEAKY_RELU ? ir_leaky_relu(g, p[0], row->p0)
	             : op == IR_OP_SOFTPLUS ? ir_softplus(g, p[0], row->p0, row->p1)
	             : op == IR_OP_CLAMP    ? ir_clamp(g, p[0], row->p0, row->p1)
	             : op == IR_OP_WHERE    ? ir_where(g, p[0], p[1], p[2])
	                                    : ir_binary(g, op, p[0], p[1]);
	ir_node *r = ir_input(g, "r", IR_F64, s);
	ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, y, r), 0, 0);
	ir_node *grads[3];
	if (!loss || pass_grad(g, loss, p, 3, grads) != 0)
		fail_msg("%s: %s", row->op, g->err);
	ir_env *e = ir_env_new(g);
	memcpy(ir_env_leaf(e, p[0]), row->a, (size_t)n * sizeof(double));
	memcpy(ir_env_leaf(e, p[1]), row->b, (size_t)n * sizeof(double));
	memcpy(ir_env_leaf(e, p[2]), row->c, (size_t)n * sizeof(double));
	memcpy(ir_env_leaf(e, r), row->r, (size_t)n * sizeof(double));
	ir_node *outs[4] = {y, grads[0], grads[1], grads[2]};
	double *v[4];
	char err[512];
	if (ir_interp_eval(e, outs, 4, v, err, sizeof err) != 0)
		fail_msg("%s: %s", row->op, err);
	for (int i = 0; i < row->n; i++) {
		expect("value", row, i, v[0][i], row->y[i]);
		expect("gradient of a", row, i, v[1][i], row->ga[i]);
		expect("gradient of b", row, i, v[2][i], row->gb[i]);
		expect("gradient of c", row, i, v[3][i], row->gc[i]);
	}
	for (int k = 0; k < 4; k++)
		free(v[k]);
	ir_env_free(e);
	ir_graph_free(g);
}

static void test_against_torch(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof elem_ref_rows / sizeof *elem_ref_rows; i++)
		check_row(&elem_ref_rows[i]);
}

/* The mask arithmetic is exact: ties give exactly half, the leaky slope
 * exactly the slope, so a check at a tolerance cannot hide a wrong rule. */
static void test_ties_exact(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof elem_ref_rows / sizeof *elem_ref_rows; i++) {
		const elem_ref_row *row = &elem_ref_rows[i];
		if (strcmp(row->op, "maximum") && strcmp(row->op, "minimum"))
			continue;
		assert_true(row->a[0] == row->b[0]);
		assert_true(row->ga[0] == 0.5 * row->r[0] && row->gb[0] == 0.5 * row->r[0]);
	}
	check_row(&elem_ref_rows[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_torch),
		cmocka_unit_test(test_ties_exact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
