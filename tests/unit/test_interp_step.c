/*
 * test_interp_step.c - the reference interpreter beyond single ops: its
 * gradient ops against central differences of their forwards, steps
 * (assigns that read each other's old values, a bad label's error, a graph
 * that grows after its env was made) and the rt_exec wrapper (an SGD step,
 * STATE slots, init rules). Expected values are derived by hand, never
 * from the interpreter itself (test_interp.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rt_init.h"
#include "test_interp.h"

/* ---- the gradient ops agree with central differences of their forwards ---- */

/* d/dlogits of sum_r w_r * CE_r (reduction none) and of CE (mean), with and
 * without smoothing, against (L(x+h) - L(x-h)) / 2h in f64. h = 1e-5 gives
 * a truncation error ~h^2 and a rounding error ~1e-16/h: 1e-8 is ample. */
static void ce_grad_fd(void **state)
{
	(void)state;
	enum { N = 3, C = 4 };
	const double x0[N * C] = {0.3, -1.2, 2.0, 0.7, 1.1, 0.0, -0.4, 0.9, -2.2, 0.5, 0.6, 1.7};
	const double lab[N] = {2, 0, 3}, w[N] = {0.7, -1.3, 2.1};
	for (int red = 0; red < 2; red++)
		for (int si = 0; si < 2; si++) {
			double s = si ? 0.2 : 0.0;
			ir_graph *g = graph(IR_F64);
			ir_node *x = input(g, "x", IR_F64, SH(N, C));
			ir_node *y = input(g, "y", IR_I32, SH(N));
			ir_node *wn = input(g, "w", IR_F64, SH(N));
			ir_node *l = ok(g, ir_cross_entropy(g, x, y, red, s));
			ir_node *obj = red == IR_REDUCE_NONE
			    ? ok(g, ir_reduce(g, IR_OP_SUM, ok(g, ir_binary(g, IR_OP_MUL, l, wn)), 0, 0))
			    : l;
			ir_node *dl = red == IR_REDUCE_NONE ? wn : ok(g, ir_scalar(g, 1.0));
			ir_node *gr = ok(g, ir_cross_entropy_grad(g, x, y, dl, red, s));
			ir_env *e = ir_env_new(g);
			fill(e, x, x0, N * C);
			fill(e, y, lab, N);
			fill(e, wn, w, N);
			double *an = eval1(e, gr), *xs = ir_env_leaf(e, x);
			for (int i = 0; i < N * C; i++) {
				const double h = 1e-5;
				xs[i] = x0[i] + h;
				double *lp = eval1(e, obj);
				xs[i] = x0[i] - h;
				double *lm = eval1(e, obj);
				xs[i] = x0[i];
				double fd = (lp[0] - lm[0]) / (2 * h);
				if (fabs(fd - an[i]) > 1e-8)
					fail_msg("red %d s %g element %d: analytic %.12g, differences %.12g",
					         red, s, i, an[i], fd);
				free(lp), free(lm);
			}
			free(an);
			ir_env_free(e);
			ir_graph_free(g);
		}
}

static void gelu_grad_fd(void **state)
{
	(void)state;
	const double xs[] = {-3.0, -1.1, -0.2, 0.0, 0.4, 1.7, 2.9};
	const double dy[] = {1.0, -2.0, 0.5, 1.0, 3.0, -0.25, 1.5};
	ir_graph *g = graph(IR_F64);
	ir_node *x = input(g, "x", IR_F64, SH(7)), *d = input(g, "dy", IR_F64, SH(7));
	ir_node *f = ok(g, ir_unary(g, IR_OP_GELU, x));
	ir_node *gr = ok(g, ir_binary(g, IR_OP_GELU_GRAD, x, d));
	ir_env *e = ir_env_new(g);
	fill(e, d, dy, 7);
	double *xv = ir_env_leaf(e, x), h = 1e-5, plus[7], minus[7];
	for (int i = 0; i < 7; i++)
		xv[i] = xs[i] + h;
	double *fp = eval1(e, f);
	memcpy(plus, fp, sizeof plus);
	for (int i = 0; i < 7; i++)
		xv[i] = xs[i] - h;
	double *fm = eval1(e, f);
	memcpy(minus, fm, sizeof minus);
	for (int i = 0; i < 7; i++)
		xv[i] = xs[i];
	double *an = eval1(e, gr);
	for (int i = 0; i < 7; i++) {
		double fd = dy[i] * (plus[i] - minus[i]) / (2 * h);
		if (fabs(fd - an[i]) > 1e-8)
			fail_msg("x = %g: analytic %.12g, differences %.12g", xs[i], an[i], fd);
	}
	free(fp), free(fm), free(an);
	ir_env_free(e);
	ir_graph_free(g);
}

/* ---- steps: assigns, errors, laziness ---- */

/* Two assigns that read each other's old value swap them; outputs see the
 * values from before the step; eval never commits. */
static void assign_swap(ir_dtype t)
{
	ir_graph *g = graph(t);
	ir_init z = {IR_INIT_ZEROS, 0, 0};
	ir_node *a = ok(g, ir_param(g, "a", t, SH(2), z));
	ir_node *b = ok(g, ir_param(g, "b", t, SH(2), z));
	ir_node *s = ok(g, ir_state(g, "step", t, ir_shape_scalar()));
	ir_node *sum = ok(g, ir_reduce(g, IR_OP_SUM, ok(g, ir_binary(g, IR_OP_ADD, a, b)), 0, 0));
	ok(g, ir_assign(g, a, b));
	ok(g, ir_assign(g, b, a));
	ok(g, ir_assign(g, s, ok(g, ir_binary(g, IR_OP_ADD, s, ok(g, ir_scalar(g, 1))))));
	ir_env *e = ir_env_new(g);
	fill(e, a, (const double[]){1, 2}, 2);
	fill(e, b, (const double[]){3, 4}, 2);
	char err[512];
	double *v;

	assert_int_equal(ir_interp_eval(e, &a, 1, &v, err, sizeof err), 0);
	expect_vals(v, (const double[]){1, 2}, 2, t);
	free(v);
	assert_int_equal(ir_interp_eval(e, &sum, 1, &v, err, sizeof err), 0);
	assert_true(v[0] == 10);
	free(v);

	if (ir_interp_run(e, &a, 1, &v, err, sizeof err))
		fail_msg("%s", err);
	expect_vals(v, (const double[]){1, 2}, 2, t); /* the value before the step */
	free(v);
	expect_vals(ir_env_leaf(e, a), (const double[]){3, 4}, 2, t);
	expect_vals(ir_env_leaf(e, b), (const double[]){1, 2}, 2, t);
	assert_true(ir_env_leaf(e, s)[0] == 1);
	assert_int_equal(ir_interp_run(e, NULL, 0, NULL, err, sizeof err), 0);
	expect_vals(ir_env_leaf(e, a), (const double[]){1, 2}, 2, t);
	assert_true(ir_env_leaf(e, s)[0] == 2);
	/* a second assign to the same leaf is refused, and nothing commits */
	ok(g, ir_assign(g, a, ok(g, ir_const(g, t, SH(2), 9))));
	assert_int_equal(ir_interp_run(e, NULL, 0, NULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "'a' is assigned twice"));
	expect_vals(ir_env_leaf(e, a), (const double[]){1, 2}, 2, t);
	assert_true(ir_env_leaf(e, s)[0] == 2);
	ir_env_free(e);
	ir_graph_free(g);
}

/* A label outside [0, C) is an error naming the node's line; a node the
 * outputs do not need is never computed (its bad labels go unnoticed). */
static void bad_label(void **state)
{
	(void)state;
	ir_graph *g = graph(IR_F32);
	ir_node *x = input(g, "logits", IR_F32, SH(2, 3));
	ir_node *y = input(g, "labels", IR_I32, SH(2));
	ir_set_loc(g, "model.lua", 12);
	ir_node *l = ok(g, ir_cross_entropy(g, x, y, IR_REDUCE_MEAN, 0.0));
	ir_node *other = ok(g, ir_unary(g, IR_OP_EXP, x));
	ir_env *e = ir_env_new(g);
	fill(e, y, (const double[]){0, 3}, 2);
	char err[512] = "";
	double *v = (double *)&v;
	assert_int_equal(ir_interp_eval(e, &l, 1, &v, err, sizeof err), -1);
	assert_null(v);
	assert_non_null(strstr(err, "model.lua:12:"));
	assert_non_null(strstr(err, "label 3"));
	assert_non_null(strstr(err, "[0, 3)"));
	fill(e, y, (const double[]){-1, 0}, 2);
	assert_int_equal(ir_interp_eval(e, &l, 1, &v, err, sizeof err), -1);
	assert_non_null(strstr(err, "label -1"));
	/* the CE node is not needed for `other` */
	assert_int_equal(ir_interp_eval(e, &other, 1, &v, err, sizeof err), 0);
	expect_vals(v, (const double[]){1, 1, 1, 1, 1, 1}, 6, IR_F32);
	free(v);
	ir_env_free(e);
	ir_graph_free(g);
}

/* Nodes appended after the env was made (as a pass does) are evaluated. */
static void graph_grows(void **state)
{
	(void)state;
	ir_graph *g = graph(IR_F64);
	ir_node *x = input(g, "x", IR_F64, SH(2));
	ir_env *e = ir_env_new(g);
	fill(e, x, (const double[]){3, 4}, 2);
	ir_node *w = ok(g, ir_state(g, "w", IR_F64, SH(2)));
	ir_node *y = ok(g, ir_binary(g, IR_OP_MUL, x, w));
	fill(e, w, (const double[]){0.5, 2}, 2);
	double *v = eval1(e, y);
	expect_vals(v, (const double[]){1.5, 8}, 2, IR_F64);
	free(v);
	assert_null(ir_env_leaf(e, y)); /* not a leaf */
	ir_env_free(e);
	ir_graph_free(g);
}

/* ---- the rt_exec wrapper ---- */

/* One SGD step of a linear classifier: w [3,2] (f32), x [2,3], labels [2].
 * loss = CE(x w); w -= 0.5 * dW with dW = x^T (softmax - onehot) / 2.
 * x = [[1,0,0],[0,1,0]], w = 0, labels [0,1]: logits 0, softmax 1/2,
 * loss = log 2, dlogits = [[-0.25,0.25],[0.25,-0.25]], dW rows 0,1 = those,
 * row 2 = 0, so w becomes [[0.125,-0.125],[-0.125,0.125],[0,0]]. */
static void exec_roundtrip(void **state)
{
	(void)state;
	ir_graph *g = graph(IR_F32);
	ir_init init = {IR_INIT_UNIFORM, -0.5, 0.5};
	ir_node *w = ok(g, ir_param(g, "fc.weight", IR_F32, SH(3, 2), init));
	ir_node *x = input(g, "x", IR_F32, SH(2, 3));
	ir_node *y = input(g, "y", IR_I32, SH(2));
	ir_node *unused = input(g, "unused", IR_F32, SH(4));
	ir_attr_set_i(y, IR_ATTR_NCLASSES, 2);
	ir_node *st = ok(g, ir_state(g, "step", IR_I32, ir_shape_scalar()));
	ir_node *logits = ok(g, ir_matmul(g, x, w, 0, 0));
	ir_node *loss = ok(g, ir_cross_entropy(g, logits, y, IR_REDUCE_MEAN, 0.0));
	ir_node *acc = ok(g, ir_mean(g, ok(g, ir_correct(g, logits, y)), 0, 0));
	ir_node *dl = ok(g, ir_cross_entropy_grad(g, logits, y, ok(g, ir_scalar(g, 1.0)),
	                                          IR_REDUCE_MEAN, 0.0));
	ir_node *dw = ok(g, ir_matmul(g, x, dl, 1, 0));
	ok(g, ir_assign(g, w, ok(g, ir_binary(g, IR_OP_SUB, w,
	                         ok(g, ir_binary(g, IR_OP_MUL, dw, ok(g, ir_scalar(g, 0.5))))))));
	(void)st, (void)unused; /* leaves the step never touches get no slot */
	ir_node *outs[] = {loss, acc};
	const char *names[] = {"loss", "accuracy"};
	char err[512];
	rt_exec *ex = ir_interp_exec_new(g, outs, names, 2, err, sizeof err);
	if (!ex)
		fail_msg("%s", err);
	assert_string_equal(ex->backend, "interp");
	assert_int_equal(ex->noutputs, 2);
	assert_string_equal(ex->outputs[1], "accuracy");
	/* slots: the leaves the step uses, in node order (not "unused", "step") */
	assert_int_equal(ex->nslots, 3);
	assert_string_equal(ex->slots[0].name, "fc.weight");
	assert_int_equal(ex->slots[0].role, RT_SLOT_PARAM);
	assert_int_equal(ex->slots[0].dtype, RT_F32);
	assert_int_equal(ex->slots[0].init, RT_INIT_UNIFORM);
	assert_true(ex->slots[0].init_a == -0.5 && ex->slots[0].init_b == 0.5);
	assert_int_equal(ex->slots[0].rank, 2);
	assert_int_equal(ex->slots[0].dim[0], 3);
	assert_string_equal(ex->slots[1].name, "x");
	assert_int_equal(ex->slots[1].role, RT_SLOT_INPUT);
	assert_string_equal(ex->slots[2].name, "y");
	assert_int_equal(ex->slots[2].dtype, RT_I32);
	assert_int_equal(ex->slots[2].nclasses, 2);

	float wbuf[6] = {0}, xbuf[6] = {1, 0, 0, 0, 1, 0};
	int32_t ybuf[2] = {0, 1};
	void *data[] = {wbuf, xbuf, ybuf};
	double out[2];
	rt_err e;
	if (ex->run(ex, data, out, &e))
		fail_msg("%s", e.msg);
	assert_true(fabs(out[0] - 0.6931471805599453) < 1e-6);
	assert_true(out[0] == (double)(float)0.6931471805599453);
	assert_true(out[1] == 0.5); /* all logits tie at 0: class 0 wins, right for row 0 only */
	const float want[] = {0.125f, -0.125f, -0.125f, 0.125f, 0, 0};
	for (int i = 0; i < 6; i++)
		assert_true(wbuf[i] == want[i]);
	assert_true(xbuf[0] == 1 && xbuf[4] == 1); /* inputs untouched */

	/* second step from the new weights: logits [[0.125,-0.125],[-0.125,0.125]] */
	if (ex->run(ex, data, out, &e))
		fail_msg("%s", e.msg);
	/* loss = log(1 + e^-0.25) */
	assert_true(fabs(out[0] - 0.5759394061928508) < 1e-6);
	assert_true(out[1] == 1.0);

	/* a label outside [0, 2) is an error value, and the params stay as they were */
	float before[6];
	memcpy(before, wbuf, sizeof before);
	ybuf[1] = 7;
	assert_int_not_equal(ex->run(ex, data, out, &e), 0);
	assert_non_null(strstr(e.msg, "label 7"));
	assert_non_null(strstr(e.msg, "model.lua:7:"));
	assert_memory_equal(before, wbuf, sizeof before);
	ex->free(ex);

	/* a non-scalar output is refused at creation */
	ir_node *bad[] = {logits};
	const char *bad_names[] = {"logits"};
	assert_null(ir_interp_exec_new(g, bad, bad_names, 1, err, sizeof err));
	assert_non_null(strstr(err, "logits"));
	ir_graph_free(g);
}

/* STATE slots are written back in their dtype (f64 here). */
static void exec_state(void **state)
{
	(void)state;
	ir_graph *g = graph(IR_F64);
	ir_node *m = ok(g, ir_state(g, "opt.m", IR_F64, SH(2)));
	ir_node *x = input(g, "x", IR_F64, SH(2));
	ok(g, ir_assign(g, m, ok(g, ir_binary(g, IR_OP_ADD,
	                         ok(g, ir_binary(g, IR_OP_MUL, m, ok(g, ir_scalar(g, 0.9)))), x))));
	ir_node *n2 = ok(g, ir_reduce(g, IR_OP_SUM, ok(g, ir_binary(g, IR_OP_MUL, m, m)), 0, 0));
	const char *names[] = {"norm2"};
	char err[512];
	rt_exec *ex = ir_interp_exec_new(g, &n2, names, 1, err, sizeof err);
	if (!ex)
		fail_msg("%s", err);
	assert_int_equal(ex->nslots, 2);
	assert_int_equal(ex->slots[0].role, RT_SLOT_STATE);
	assert_int_equal(ex->slots[0].dtype, RT_F64);
	double mb[2] = {1, 2}, xb[2] = {0.1, 0.2}, out;
	void *data[] = {mb, xb};
	rt_err e;
	assert_int_equal(ex->run(ex, data, &out, &e), 0);
	assert_true(out == 5.0);
	assert_true(fabs(mb[0] - 1.0) < 1e-15 && fabs(mb[1] - 2.0) < 1e-15);
	ex->free(ex);
	ir_graph_free(g);
}

/* A STATE's init rule reaches its slot: the runtime starts it there. */
static void exec_state_init(void **state)
{
	(void)state;
	ir_graph *g = graph(IR_F32);
	ir_node *v = ok(g, ir_state_init(g, "bn.running_var", IR_F32, SH(3),
	                                 (ir_init){IR_INIT_ONES, 0, 0}));
	ir_node *c = ok(g, ir_state_init(g, "c", IR_F32, SH(2), (ir_init){IR_INIT_CONST, 0.5, 0}));
	ir_node *z = ok(g, ir_state(g, "z", IR_F32, SH(2)));
	assert_null(ir_state_init(g, "r", IR_F32, SH(2), (ir_init){IR_INIT_UNIFORM, 0, 1}));
	assert_non_null(strstr(g->err, "zeros, ones or a constant"));
	g->has_err = 0;
	ir_node *s = ok(g, ir_binary(g, IR_OP_ADD, ok(g, ir_reduce(g, IR_OP_SUM, v, 0, 0)),
	                             ok(g, ir_reduce(g, IR_OP_SUM, ok(g, ir_binary(g, IR_OP_ADD, c, z)), 0, 0))));
	ok(g, ir_assign(g, v, ok(g, ir_binary(g, IR_OP_MUL, v, ok(g, ir_scalar(g, 2.0))))));
	const char *names[] = {"s"};
	char err[512];
	rt_exec *ex = ir_interp_exec_new(g, &s, names, 1, err, sizeof err);
	if (!ex)
		fail_msg("%s", err);
	assert_int_equal(ex->slots[0].init, RT_INIT_ONES);
	assert_int_equal(ex->slots[1].init, RT_INIT_CONST);
	assert_true(ex->slots[1].init_a == 0.5);
	assert_int_equal(ex->slots[2].init, RT_INIT_ZEROS);
	float vb[3] = {7, 7, 7}, cb[2] = {7, 7}, zb[2] = {7, 7};
	void *data[] = {vb, cb, zb};
	rt_err e;
	assert_int_equal(rt_init_exec(ex, data, 1, &e), 0);
	double out;
	assert_int_equal(ex->run(ex, data, &out, &e), 0);
	assert_true(out == 4.0); /* 3 ones + 2 halves + 2 zeros */
	assert_true(vb[0] == 2.0f && vb[2] == 2.0f);
	ex->free(ex);
	ir_graph_free(g);
}

BOTH(assign_swap)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T2(assign_swap),
		cmocka_unit_test(ce_grad_fd),
		cmocka_unit_test(gelu_grad_fd),
		cmocka_unit_test(bad_label),
		cmocka_unit_test(graph_grows),
		cmocka_unit_test(exec_roundtrip),
		cmocka_unit_test(exec_state),
		cmocka_unit_test(exec_state_init),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
