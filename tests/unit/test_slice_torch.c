/*
 * test_slice_torch.c - narrow, cat and flatten through the reference
 * interpreter in f64 against PyTorch's values at fixed inputs: the forward
 * values and the gradients of sum(y * r) (narrow's through pad, cat's
 * through narrow). The table is tests/oracle/slice_ref.py's output; CTest's
 * oracle_slice_ref checks that it still is PyTorch's. Data movement only,
 * so the values must agree exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "ir_interp.h"
#include "pass_autodiff.h"

#include "test_slice_torch_ref.h"

static void expect_all(const slice_ref_row *row, const char *what, const double *got,
                       const double *want, int n)
{
	for (int i = 0; i < n; i++)
		if (got[i] != want[i])
			fail_msg("%s(dim %d, %d, %d): %s[%d] = %.17g, PyTorch %.17g", row->op, row->dim,
			         row->p1, row->p2, what, i, got[i], want[i]);
}

static void check_row(const slice_ref_row *row)
{
	ir_graph *g = ir_graph_new(IR_F64);
	int64_t ad[3] = {2, 3, 4}, bd[3] = {row->bshape[0], row->bshape[1], row->bshape[2]};
	ir_init zero = {IR_INIT_ZEROS, 0, 0};
	ir_node *p[2] = {ir_param(g, "a", IR_F64, ir_shape_make(3, ad), zero),
	                 ir_param(g, "b", IR_F64, ir_shape_make(3, bd), zero)};
	ir_node *y;
	if (strcmp(row->op, "narrow") == 0) {
		y = ir_narrow(g, p[0], row->dim, row->p1, row->p2);
	} else if (strcmp(row->op, "cat") == 0) {
		ir_node *xs[3] = {p[0], p[1], p[0]};
		y = ir_cat(g, xs, 3, row->dim);
	} else {
		y = ir_flatten(g, p[0], row->dim, row->p1);
	}
	if (!y)
		fail_msg("%s: %s", row->op, g->err);
	assert_int_equal(y->shape.rank, row->yrank);
	for (int i = 0; i < row->yrank; i++)
		assert_int_equal(y->shape.dim[i], row->yshape[i]);
	ir_node *r = ir_input(g, "r", IR_F64, y->shape);
	ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, y, r), 0, 0);
	ir_node *grads[2];
	if (!loss || pass_grad(g, loss, p, 2, grads) != 0)
		fail_msg("%s: %s", row->op, g->err);
	ir_env *e = ir_env_new(g);
	memcpy(ir_env_leaf(e, p[0]), row->a, sizeof row->a);
	if (row->nb)
		memcpy(ir_env_leaf(e, p[1]), row->b, (size_t)row->nb * sizeof(double));
	memcpy(ir_env_leaf(e, r), row->r, (size_t)row->ny * sizeof(double));
	ir_node *outs[3] = {y, grads[0], grads[1]};
	double *v[3];
	char err[512];
	if (ir_interp_eval(e, outs, 3, v, err, sizeof err) != 0)
		fail_msg("%s: %s", row->op, err);
	expect_all(row, "value", v[0], row->y, row->ny);
	expect_all(row, "gradient of a", v[1], row->ga, SLICE_REF_MAXA);
	if (row->nb)
		expect_all(row, "gradient of b", v[2], row->gb, row->nb);
	for (int k = 0; k < 3; k++)
		free(v[k]);
	ir_env_free(e);
	ir_graph_free(g);
}

static void test_rows(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof slice_ref_rows / sizeof *slice_ref_rows; i++)
		check_row(&slice_ref_rows[i]);
}

/* The shape rules refuse bad windows and mismatched inputs, naming the op. */
static void test_errors(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F64);
	int64_t ad[3] = {2, 3, 4}, bd[3] = {2, 5, 5};
	ir_node *a = ir_input(g, "a", IR_F64, ir_shape_make(3, ad));
	ir_node *b = ir_input(g, "b", IR_F64, ir_shape_make(3, bd));
	assert_null(ir_narrow(g, a, 2, 3, 2));
	assert_non_null(strstr(g->err, "narrow: start + length exceeds"));
	g->has_err = 0;
	assert_null(ir_narrow(g, a, 3, 0, 1));
	assert_non_null(strstr(g->err, "dim out of range"));
	g->has_err = 0;
	ir_node *xs[2] = {a, b};
	assert_null(ir_cat(g, xs, 2, 1));
	assert_non_null(strstr(g->err, "cat: sizes of [2,3,4] and [2,5,5] must match except in dim"));
	g->has_err = 0;
	assert_null(ir_flatten(g, a, 2, 1));
	assert_non_null(strstr(g->err, "flatten"));
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rows),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
