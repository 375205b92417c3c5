/*
 * test_losses.c - nll_loss and binary_cross_entropy_with_logits: the
 * reference interpreter in f64 against PyTorch's values and gradients
 * (tests/unit/test_loss_torch_ref.h, written by tests/oracle/loss_ref.py;
 * CTest's oracle_loss_ref checks it is still PyTorch's), the CPU backend
 * against the interpreter, labels out of range at run time, the shape
 * rules' errors, and the eval pass on a padded last batch; one_hot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pass_autodiff.h"
#include "pass_pipeline.h"
#include "test_cg_harness.h"

#include "test_loss_torch_ref.h"

static ir_shape S(int rank, int64_t a, int64_t b)
{
	int64_t d[2] = {a, b};
	return ir_shape_make(rank, d);
}

static int reduction_of(const char *r)
{
	return !strcmp(r, "none") ? IR_REDUCE_NONE : !strcmp(r, "sum") ? IR_REDUCE_SUM : IR_REDUCE_MEAN;
}

/* within a few ulps: the composed bce rounds differently from PyTorch's kernel */
static void expect(const loss_ref_row *row, const char *what, int i, double got, double want)
{
	if (fabs(got - want) <= 1e-14 * fmax(1.0, fabs(want)))
		return;
	fail_msg("%s(%s%s) %s[%d]: %.17g, PyTorch %.17g", row->loss, row->reduction,
	         row->pos_weight ? ", pos_weight" : "", what, i, got, want);
}

static void check_row(const loss_ref_row *row)
{
	enum { NC = LOSS_REF_N * LOSS_REF_C };
	ir_graph *g = ir_graph_new(IR_F64);
	ir_init zero = {IR_INIT_ZEROS, 0, 0};
	int nll = !strcmp(row->loss, "nll_loss");
	int red = reduction_of(row->reduction);
	ir_node *p[2] = {ir_param(g, "x", IR_F64, S(2, LOSS_REF_N, LOSS_REF_C), zero),
	                 ir_param(g, "t", IR_F64, S(2, LOSS_REF_N, LOSS_REF_C), zero)};
	ir_node *lab = ir_input(g, "y", IR_I32, S(1, LOSS_REF_N, 0));
	ir_node *pw = ir_input(g, "pw", IR_F64, S(1, LOSS_REF_C, 0));
	ir_node *y = nll ? ir_nll_loss(g, p[0], lab, red)
	                 : ir_bce_with_logits(g, p[0], p[1], row->pos_weight ? pw : NULL, red);
	assert_non_null(y);
	assert_int_equal(ir_shape_numel(&y->shape), row->n);
	ir_node *r = ir_input(g, "r", IR_F64, y->shape);
	ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, y, r), 0, 0);
	ir_node *grads[2];
	if (!loss || pass_grad(g, loss, p, 2, grads) != 0)
		fail_msg("%s: %s", row->loss, g->err);
	ir_env *e = ir_env_new(g);
	memcpy(ir_env_leaf(e, p[0]), nll ? loss_ref_logp : loss_ref_x, NC * sizeof(double));
	memcpy(ir_env_leaf(e, p[1]), loss_ref_t, NC * sizeof(double));
	memcpy(ir_env_leaf(e, pw), loss_ref_pw, LOSS_REF_C * sizeof(double));
	memcpy(ir_env_leaf(e, r), row->r, (size_t)row->n * sizeof(double));
	for (int i = 0; i < LOSS_REF_N; i++)
		ir_env_leaf(e, lab)[i] = loss_ref_labels[i];
	ir_node *outs[3] = {y, grads[0], grads[1]};
	double *v[3];
	char err[512];
	if (ir_interp_eval(e, outs, 3, v, err, sizeof err) != 0)
		fail_msg("%s: %s", row->loss, err);
	for (int i = 0; i < row->n; i++)
		expect(row, "value", i, v[0][i], row->y[i]);
	for (int i = 0; i < NC; i++) {
		expect(row, "d/dx", i, v[1][i], row->gx[i]);
		expect(row, "d/dtarget", i, v[2][i], row->gt[i]);
	}
	for (int k = 0; k < 3; k++)
		free(v[k]);
	ir_env_free(e);
	ir_graph_free(g);
}

static void test_against_torch(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof loss_ref_rows / sizeof *loss_ref_rows; i++)
		check_row(&loss_ref_rows[i]);
}

/* The CPU backend agrees with the interpreter on every reduction, both
 * dtypes, forward and gradient (nll_loss's gradient op included). */
static void test_backend(void **st)
{
	(void)st;
	for (int t = IR_F32; t <= IR_F64; t++)
		for (int red = IR_REDUCE_MEAN; red <= IR_REDUCE_SUM; red++) {
			ir_graph *g = ir_graph_new(t);
			int64_t N = 17, C = 10;
			ir_node *x = ir_param(g, "x", t, S(2, N, C), (ir_init){IR_INIT_ZEROS, 0, 0});
			ir_node *tg = ir_input(g, "t", t, S(2, N, C));
			ir_node *y = ir_input(g, "y", IR_I32, S(1, N, 0));
			ir_attr_set_i(y, IR_ATTR_NCLASSES, (int)C);
			ir_node *xs = ir_binary(g, IR_OP_MUL, x, ir_scalar(g, 3.0));
			ir_node *o[4] = {ir_nll_loss(g, ir_softmax(g, IR_OP_LOG_SOFTMAX, xs, 1), y, red),
			                 ir_bce_with_logits(g, xs, tg, NULL, red)};
			for (int k = 0; k < 2; k++) {
				ir_node *s = o[k]->shape.rank ? ir_reduce(g, IR_OP_SUM, o[k], 0, 0) : o[k];
				ir_node *gr;
				assert_int_equal(pass_grad(g, s, &x, 1, &gr), 0);
				o[2 + k] = gr;
			}
			for (int k = 0; k < 4; k++)
				assert_non_null(cgh_observe(g, o[k], k));
			assert_int_equal(ir_verify(g), 0);
			char err[1024] = "";
			double worst;
			int rc = cgh_compare(g, NULL, NULL, 0, 2, t == IR_F32 ? 2e-5 : 1e-12, 42, &worst,
			                     err, sizeof err);
			if (rc)
				fail_msg("dtype %d reduction %d: %s", t, red, err);
			ir_graph_free(g);
		}
}

static void expect_error(ir_graph *g, ir_node *n, const char *msg)
{
	assert_null(n);
	if (!strstr(g->err, msg))
		fail_msg("error '%s' lacks '%s'", g->err, msg);
	g->has_err = 0;
}

/* one_hot: the exact 0/1 rows of F.one_hot, in both backends, and a
 * cross-entropy written with it has cross_entropy's value and gradient. */
static void test_one_hot(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F64);
	ir_node *y = ir_input(g, "y", IR_I32, S(1, 3, 0));
	ir_node *x = ir_param(g, "x", IR_F64, S(2, 3, 4), (ir_init){IR_INIT_ZEROS, 0, 0});
	ir_node *oh = ir_one_hot(g, y, 4);
	assert_int_equal(oh->dtype, IR_F64);
	ir_node *ce = ir_cross_entropy(g, x, y, IR_REDUCE_MEAN, 0.0);
	ir_node *mine = ir_unary(g, IR_OP_NEG, ir_mean(g, ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, oh, ir_softmax(g, IR_OP_LOG_SOFTMAX, x, 1)), 2, 0), 0, 0));
	ir_node *gce, *gmine;
	assert_int_equal(pass_grad(g, ce, &x, 1, &gce), 0);
	assert_int_equal(pass_grad(g, mine, &x, 1, &gmine), 0);
	ir_env *e = ir_env_new(g);
	memcpy(ir_env_leaf(e, x), loss_ref_x, 12 * sizeof(double));
	for (int i = 0; i < 3; i++)
		ir_env_leaf(e, y)[i] = loss_ref_labels[i];
	ir_node *outs[5] = {oh, ce, mine, gce, gmine};
	double *v[5];
	char err[512];
	if (ir_interp_eval(e, outs, 5, v, err, sizeof err))
		fail_msg("%s", err);
	for (int i = 0; i < 12; i++) {
		assert_true(v[0][i] == (i % 4 == loss_ref_labels[i / 4] ? 1.0 : 0.0));
		assert_true(fabs(v[3][i] - v[4][i]) < 1e-15);
	}
	assert_true(fabs(v[1][0] - v[2][0]) < 1e-12);
	for (int k = 0; k < 5; k++)
		free(v[k]);
	ir_env_leaf(e, y)[2] = 4;
	assert_int_not_equal(ir_interp_eval(e, &oh, 1, v, err, sizeof err), 0);
	assert_non_null(strstr(err, "one_hot"));
	assert_non_null(strstr(err, "label 4 of example 2 is outside [0, 4) (input 'y')"));
	ir_env_free(e);
	ir_graph_free(g);

	for (int t = IR_F32; t <= IR_F64; t++) {
		g = ir_graph_new(t);
		y = ir_input(g, "y", IR_I32, S(1, 17, 0));
		ir_attr_set_i(y, IR_ATTR_NCLASSES, 10);
		assert_non_null(cgh_observe(g, ir_one_hot(g, y, 10), 0));
		assert_non_null(cgh_observe(g, ir_one_hot(g, y, 12), 1));
		char cerr[1024] = "";
		double worst;
		if (cgh_compare(g, NULL, NULL, 0, 2, 0.0, 42, &worst, cerr, sizeof cerr))
			fail_msg("%s", cerr);
		ir_graph_free(g);
	}

	g = ir_graph_new(IR_F32);
	ir_set_loc(g, "model.lua", 3);
	y = ir_input(g, "y", IR_I32, S(1, 2, 0));
	ir_node *s = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, ir_one_hot(g, y, 3),
	                                                ir_scalar(g, 2.0)), 0, 0);
	const char *name = "s";
	rt_exec *ex = cg_cpu_exec_new(g, &s, &name, 1, NULL, err, sizeof err);
	assert_non_null(ex);
	int32_t dy[2] = {0, 3};
	void *slots[1] = {dy};
	double out;
	rt_err re;
	assert_int_not_equal(ex->run(ex, slots, &out, &re), 0);
	if (!strstr(re.msg, "model.lua:3: one_hot") || !strstr(re.msg, "'y'"))
		fail_msg("%s", re.msg);
	dy[1] = 2;
	assert_int_equal(ex->run(ex, slots, &out, &re), 0);
	assert_true(out == 4.0);
	ex->free(ex);
	expect_error(g, ir_one_hot(g, y, 0), "one_hot: num_classes must be at least 1, got 0");
	expect_error(g, ir_one_hot(g, ir_input(g, "f", IR_F32, S(1, 2, 0)), 3),
	             "labels must be an i32 tensor [N], got f32[2]");
	ir_graph_free(g);
}

/* A label outside [0, C) stops the compiled step with the model line, the
 * op and the input; the interpreter reports it too. */
static void test_label_error(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_set_loc(g, "model.lua", 7);
	ir_node *x = ir_input(g, "x", IR_F32, S(2, 2, 3));
	ir_node *y = ir_input(g, "y", IR_I32, S(1, 2, 0));
	ir_node *loss = ir_nll_loss(g, x, y, IR_REDUCE_MEAN);
	const char *name = "loss";
	char err[512];
	rt_exec *ex = cg_cpu_exec_new(g, &loss, &name, 1, NULL, err, sizeof err);
	assert_non_null(ex);
	float dx[6] = {-1, -2, -3, -4, -5, -6};
	int32_t dy[2] = {1, 3};
	void *slots[2] = {dx, dy};
	double out;
	rt_err e;
	assert_int_not_equal(ex->run(ex, slots, &out, &e), 0);
	assert_non_null(strstr(e.msg, "model.lua:7: nll_loss"));
	assert_non_null(strstr(e.msg, "'y'"));
	dy[1] = -1;
	assert_int_not_equal(ex->run(ex, slots, &out, &e), 0);
	dy[1] = 2;
	assert_int_equal(ex->run(ex, slots, &out, &e), 0);
	assert_float_equal(out, (2.0 + 6.0) / 2, 1e-6);
	ex->free(ex);

	ir_env *en = ir_env_new(g);
	ir_env_leaf(en, y)[1] = 3;
	double *v;
	assert_int_not_equal(ir_interp_eval(en, &loss, 1, &v, err, sizeof err), 0);
	assert_non_null(strstr(err, "outside [0, 3)"));
	ir_env_free(en);
	ir_graph_free(g);
}

static void test_shape_errors(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *x = ir_input(g, "x", IR_F32, S(2, 4, 3));
	ir_node *v = ir_input(g, "v", IR_F32, S(1, 4, 0));
	ir_node *y = ir_input(g, "y", IR_I32, S(1, 4, 0));
	ir_node *y5 = ir_input(g, "y5", IR_I32, S(1, 5, 0));
	assert_true(ir_nll_loss(g, x, y, IR_REDUCE_MEAN)->shape.rank == 0);
	assert_true(ir_nll_loss(g, x, y, IR_REDUCE_SUM)->shape.rank == 0);
	assert_true(ir_nll_loss(g, x, y, IR_REDUCE_NONE)->shape.dim[0] == 4);
	expect_error(g, ir_nll_loss(g, v, y, IR_REDUCE_MEAN), "log-probabilities must be [N,C], got [4]");
	expect_error(g, ir_nll_loss(g, x, v, IR_REDUCE_MEAN), "labels must be an i32 tensor");
	expect_error(g, ir_nll_loss(g, x, y5, IR_REDUCE_MEAN), "expected labels of shape [N]");
	/* only nll_loss takes the sum */
	assert_int_equal(ir_verify(g), 0);
	assert_non_null(ir_cross_entropy(g, x, y, IR_REDUCE_SUM, 0.0));
	assert_int_not_equal(ir_verify(g), 0);
	ir_graph_free(g);

	g = ir_graph_new(IR_F32);
	x = ir_input(g, "x", IR_F32, S(2, 4, 3));
	ir_node *t = ir_input(g, "t", IR_F32, S(2, 4, 3));
	ir_node *pw = ir_input(g, "pw", IR_F32, S(1, 3, 0));
	ir_node *pw4 = ir_input(g, "pw4", IR_F32, S(1, 4, 0));
	y = ir_input(g, "y", IR_I32, S(1, 4, 0));
	assert_true(ir_bce_with_logits(g, x, t, pw, IR_REDUCE_NONE)->shape.dim[1] == 3);
	assert_true(ir_bce_with_logits(g, x, t, NULL, IR_REDUCE_SUM)->shape.rank == 0);
	expect_error(g, ir_bce_with_logits(g, x, ir_transpose2(g, t, 0, 1), NULL, IR_REDUCE_MEAN),
	             "logits [4,3] and target [3,4] must have the same shape");
	expect_error(g, ir_bce_with_logits(g, x, pw4, NULL, IR_REDUCE_MEAN), "must have the same shape");
	expect_error(g, ir_bce_with_logits(g, y, y, NULL, IR_REDUCE_MEAN), "must be float tensors");
	expect_error(g, ir_bce_with_logits(g, x, t, pw4, IR_REDUCE_MEAN),
	             "pos_weight [4] does not broadcast to the logits [4,3]");
	ir_graph_free(g);
}

/* The eval pass: a mean-reduced loss over a batch whose last row is
 * padding counts only the real rows (the sum of their per-example losses);
 * so does a sum of constant multiples of such losses. */
static void test_eval_padded_batch(void **st)
{
	(void)st;
	for (int k = 0; k < 3; k++) {
		ir_graph *g = ir_graph_new(IR_F64);
		ir_node *x = ir_input(g, "x", IR_F64, S(2, 4, 2));
		ir_node *t = ir_input(g, "t", IR_F64, S(2, 4, 2));
		ir_node *y = ir_input(g, "y", IR_I32, S(1, 4, 0));
		ir_node *nll = ir_nll_loss(g, x, y, IR_REDUCE_MEAN);
		ir_node *bce = ir_bce_with_logits(g, x, t, NULL, IR_REDUCE_MEAN);
		/* k == 2: nll / 4 + 0.5 * bce - (-nll) */
		ir_node *loss = k == 0 ? nll : k == 1 ? bce
		    : ir_binary(g, IR_OP_SUB,
		                ir_binary(g, IR_OP_ADD, ir_binary(g, IR_OP_DIV, nll, ir_scalar(g, 4.0)),
		                          ir_binary(g, IR_OP_MUL, ir_scalar(g, 0.5), bce)),
		                ir_unary(g, IR_OP_NEG, nll));
		ir_node *outs[1];
		assert_int_equal(pass_eval_rewrite(g, loss, NULL, 0, outs), 0);
		ir_node *mask = ir_find_leaf(g, IR_OP_INPUT, PASS_INPUT_MASK);
		assert_non_null(mask);
		ir_env *e = ir_env_new(g);
		const double xv[8] = {-1, -2, -3, -4, -5, -6, -100, -200}, mv[4] = {1, 1, 1, 0};
		memcpy(ir_env_leaf(e, x), xv, sizeof xv);
		memcpy(ir_env_leaf(e, mask), mv, sizeof mv);
		for (int i = 0; i < 8; i++)
			ir_env_leaf(e, t)[i] = i % 2;
		for (int i = 0; i < 4; i++)
			ir_env_leaf(e, y)[i] = i % 2;
		double *out;
		char err[512];
		if (ir_interp_eval(e, outs, 1, &out, err, sizeof err))
			fail_msg("%s", err);
		double wn = 0, wb = 0;
		for (int r = 0; r < 3; r++) {
			wn -= xv[r * 2 + r % 2];
			for (int c = 0; c < 2; c++) {
				double v = xv[r * 2 + c];
				wb += (fmax(v, 0) - v * (c % 2) + log1p(exp(-fabs(v)))) / 2;
			}
		}
		double want = k == 0 ? wn : k == 1 ? wb : wn / 4 + 0.5 * wb + wn;
		if (fabs(out[0] - want) > 1e-12)
			fail_msg("variant %d: masked sum %.17g, expected %.17g", k, out[0], want);
		free(out);
		ir_env_free(e);
		ir_graph_free(g);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_torch),    cmocka_unit_test(test_backend),
		cmocka_unit_test(test_label_error),      cmocka_unit_test(test_shape_errors),
		cmocka_unit_test(test_eval_padded_batch), cmocka_unit_test(test_one_hot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
