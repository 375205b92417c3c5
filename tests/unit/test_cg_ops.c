/*
 * test_cg_ops.c - every op through the CPU backend against the reference
 * interpreter, in f32 and f64, on random inputs; assign semantics (a swap,
 * in-place updates); label errors.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_cg_harness.h"

/* f32: the interpreter rounds each op's double result once; the backend
 * computes in float (libm's expf/logf within an ulp or two, sums of a few
 * hundred terms in float) -> agreement to ~1e-5 relative. f64: only the
 * order of operations differs. */
#define TOL32 2e-5
#define TOL64 1e-12

static ir_shape S(int rank, int64_t a, int64_t b, int64_t c)
{
	int64_t d[3] = {a, b, c};
	return ir_shape_make(rank, d);
}

static void check(ir_graph *g, ir_node **obs, int nobs, double tol)
{
	char err[1024] = "";
	double worst;
	assert_false(g->has_err);
	for (int i = 0; i < nobs; i++)
		assert_non_null(cgh_observe(g, obs[i], i));
	assert_int_equal(ir_verify(g), 0);
	int rc = cgh_compare(g, NULL, NULL, 0, 2, tol, 42, &worst, err, sizeof err);
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
}

static void unary_ops(ir_dtype t, double tol)
{
	static const ir_op ops[] = {IR_OP_NEG, IR_OP_EXP, IR_OP_ABS, IR_OP_SIGN, IR_OP_RELU,
	                            IR_OP_GELU, IR_OP_TANH, IR_OP_SIGMOID, IR_OP_COS, IR_OP_SIN,
	                            IR_OP_FLOOR};
	static const ir_op pos[] = {IR_OP_LOG, IR_OP_SQRT, IR_OP_RSQRT};
	for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
		ir_graph *g = ir_graph_new(t);
		ir_node *x = ir_input(g, "x", t, S(2, 7, 33, 0));
		ir_node *y = ir_unary(g, ops[i], x);
		check(g, &y, 1, tol);
		ir_graph_free(g);
	}
	for (size_t i = 0; i < sizeof pos / sizeof *pos; i++) {
		ir_graph *g = ir_graph_new(t);
		ir_node *x = ir_input(g, "px", t, S(2, 7, 33, 0));
		ir_node *y = ir_unary(g, pos[i], x);
		check(g, &y, 1, tol);
		ir_graph_free(g);
	}
}

/* The ops with attributes, with their defaults and with others. */
static void attr_ops(ir_dtype t, double tol)
{
	for (int i = 0; i < 7; i++) {
		ir_graph *g = ir_graph_new(t);
		ir_node *x = ir_input(g, "x", t, S(2, 7, 33, 0));
		ir_node *y = i == 0   ? ir_leaky_relu(g, x, 0.01)
		             : i == 1 ? ir_leaky_relu(g, x, 0.2)
		             : i == 2 ? ir_softplus(g, x, 1.0, 20.0)
		             : i == 3 ? ir_softplus(g, x, 2.0, 0.5)
		             : i == 4 ? ir_clamp(g, x, -0.25, 0.5)
		             : i == 5 ? ir_clamp(g, x, -INFINITY, 0.5)
		                      : ir_clamp(g, x, 0.5, -0.25); /* lo > hi: hi everywhere */
		check(g, &y, 1, tol);
		ir_graph_free(g);
	}
}

static void test_attr_f32(void **st) { (void)st; attr_ops(IR_F32, TOL32); }
static void test_attr_f64(void **st) { (void)st; attr_ops(IR_F64, TOL64); }

static void test_unary_f32(void **st) { (void)st; unary_ops(IR_F32, TOL32); }
static void test_unary_f64(void **st) { (void)st; unary_ops(IR_F64, TOL64); }

static void binary_ops(ir_dtype t, double tol)
{
	static const ir_op ops[] = {IR_OP_ADD, IR_OP_SUB, IR_OP_MUL, IR_OP_DIV, IR_OP_POW,
	                            IR_OP_MINIMUM, IR_OP_MAXIMUM, IR_OP_GT, IR_OP_GE, IR_OP_LT,
	                            IR_OP_LE, IR_OP_EQ, IR_OP_NE,
	                            IR_OP_GELU_GRAD};
	ir_shape shapes[][2] = {
	    {S(2, 6, 9, 0), S(2, 6, 9, 0)},
	    {S(2, 6, 9, 0), S(1, 9, 0, 0)},
	    {S(2, 6, 1, 0), S(2, 1, 9, 0)},
	    {S(0, 0, 0, 0), S(3, 2, 3, 4)},
	    {S(3, 4, 1, 5), S(2, 3, 1, 0)},
	};
	for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
		for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
			ir_graph *g = ir_graph_new(t);
			ir_node *a = ir_input(g, "pa", t, shapes[s][0]);
			ir_node *b = ir_input(g, "pb", t, shapes[s][1]);
			ir_node *y = ir_binary(g, ops[i], a, b);
			ir_node *z = ir_binary(g, ops[i], a, a); /* one input read twice */
			ir_node *o[2] = {y, z};
			check(g, o, 2, tol);
			ir_graph_free(g);
		}
}

/* where over three broadcast shapes, its condition a comparison, a raw
 * input (nonzero: true) and a scalar */
static void where_ops(ir_dtype t, double tol)
{
	ir_graph *g = ir_graph_new(t);
	ir_node *c = ir_input(g, "pc", t, S(2, 6, 1, 0));
	ir_node *a = ir_input(g, "pa", t, S(2, 6, 9, 0));
	ir_node *b = ir_input(g, "pb", t, S(1, 9, 0, 0));
	ir_node *y0 = ir_where(g, ir_binary(g, IR_OP_GT, c, ir_scalar(g, 0.0)), a, b);
	ir_node *y1 = ir_where(g, c, b, a);
	ir_node *y2 = ir_where(g, ir_binary(g, IR_OP_LE, a, b), ir_scalar(g, 0.5), ir_unary(g, IR_OP_EXP, a));
	ir_node *o[3] = {y0, y1, y2};
	check(g, o, 3, tol);
	ir_graph_free(g);
}

static void test_where_f32(void **st) { (void)st; where_ops(IR_F32, TOL32); }
static void test_where_f64(void **st) { (void)st; where_ops(IR_F64, TOL64); }

static void test_binary_f32(void **st) { (void)st; binary_ops(IR_F32, TOL32); }
static void test_binary_f64(void **st) { (void)st; binary_ops(IR_F64, TOL64); }

static void test_shape_ops(void **st)
{
	(void)st;
	for (int t = IR_F32; t <= IR_F64; t++) {
		ir_graph *g = ir_graph_new(t);
		ir_node *x = ir_input(g, "x", t, S(3, 2, 3, 4));
		int perm[3] = {2, 0, 1};
		ir_node *tr = ir_transpose(g, x, perm);
		ir_node *tr2 = ir_unary(g, IR_OP_EXP, ir_transpose(g, ir_unary(g, IR_OP_NEG, x), perm));
		ir_node *rs = ir_reshape(g, x, S(2, 6, 4, 0));
		ir_node *rs2 = ir_reshape(g, ir_binary(g, IR_OP_MUL, x, x), S(2, 4, 6, 0));
		ir_node *bc = ir_broadcast(g, ir_reshape(g, x, S(3, 2, 1, 12)), S(3, 2, 5, 12));
		ir_node *bc2 = ir_broadcast(g, ir_input(g, "v", t, S(1, 4, 0, 0)), S(3, 2, 3, 4));
		ir_node *o[6] = {tr, tr2, rs, rs2, bc, bc2};
		check(g, o, 6, t == IR_F32 ? TOL32 : TOL64);
		ir_graph_free(g);
	}
}

/* narrow, pad and cat along each dim, on leaves, fused expressions and
 * reshape aliases (flatten), cat of five inputs */
static void test_slice_ops(void **st)
{
	(void)st;
	for (int t = IR_F32; t <= IR_F64; t++)
		for (int d = 0; d < 3; d++) {
			ir_graph *g = ir_graph_new(t);
			ir_node *x = ir_input(g, "x", t, S(3, 4, 5, 6));
			ir_node *e = ir_unary(g, IR_OP_EXP, x);
			ir_node *nw = ir_narrow(g, x, d, 1, 2);
			ir_node *nw2 = ir_unary(g, IR_OP_TANH, ir_narrow(g, e, d, 0, 3));
			ir_node *pd = ir_pad(g, ir_binary(g, IR_OP_MUL, nw, nw), d, 2, x->shape.dim[d] + 1);
			ir_node *flat = ir_flatten(g, x, 1, 2);
			ir_node *nf = ir_narrow(g, flat, 1, 7, 11);
			ir_node *xs[5] = {x, e, nw, x, ir_unary(g, IR_OP_NEG, nw)};
			ir_node *ct = ir_cat(g, xs, 5, d);
			ir_node *ct2 = ir_binary(g, IR_OP_ADD, ir_cat(g, xs + 2, 1, d), nw);
			ir_node *o[6] = {nw, nw2, pd, nf, ct, ct2};
			check(g, o, 6, t == IR_F32 ? TOL32 : TOL64);
			ir_graph_free(g);
		}
}

static void test_reductions(void **st)
{
	(void)st;
	for (int t = IR_F32; t <= IR_F64; t++)
		for (int op = IR_OP_SUM; op <= IR_OP_MAX; op++)
			for (uint32_t axes = 0; axes < 8; axes++)
				for (int keep = 0; keep < 2; keep++) {
					ir_graph *g = ir_graph_new(t);
					ir_node *x = ir_input(g, "x", t, S(3, 5, 7, 300));
					ir_node *y = ir_reduce(g, op, ir_unary(g, IR_OP_EXP, x), axes, keep);
					check(g, &y, 1, t == IR_F32 ? TOL32 : TOL64);
					ir_graph_free(g);
				}
}

static void test_matmul(void **st)
{
	(void)st;
	for (int t = IR_F32; t <= IR_F64; t++)
		for (int ta = 0; ta < 2; ta++)
			for (int tb = 0; tb < 2; tb++) {
				ir_graph *g = ir_graph_new(t);
				int64_t m = 13, k = 37, n = 11;
				ir_node *a = ir_input(g, "a", t, ta ? S(2, k, m, 0) : S(2, m, k, 0));
				ir_node *b = ir_param(g, "b", t, tb ? S(2, n, k, 0) : S(2, k, n, 0),
				                      (ir_init){IR_INIT_ZEROS, 0, 0});
				ir_node *bias = ir_input(g, "bias", t, S(1, n, 0, 0));
				ir_node *y = ir_matmul(g, a, b, ta, tb);
				ir_node *z = ir_unary(g, IR_OP_RELU, ir_binary(g, IR_OP_ADD, y, bias));
				ir_node *o[2] = {y, z};
				check(g, o, 2, t == IR_F32 ? TOL32 : TOL64);
				ir_graph_free(g);
			}
}

static void test_softmax(void **st)
{
	(void)st;
	for (int t = IR_F32; t <= IR_F64; t++)
		for (int axis = 0; axis < 3; axis++) {
			ir_graph *g = ir_graph_new(t);
			ir_node *x = ir_input(g, "x", t, S(3, 4, 5, 6));
			ir_node *o[2] = {ir_softmax(g, IR_OP_SOFTMAX, x, axis),
			                 ir_softmax(g, IR_OP_LOG_SOFTMAX, x, axis)};
			check(g, o, 2, t == IR_F32 ? TOL32 : TOL64);
			ir_graph_free(g);
		}
}

static void test_losses(void **st)
{
	(void)st;
	for (int t = IR_F32; t <= IR_F64; t++)
		for (int red = 0; red < 2; red++)
			for (int sm = 0; sm < 2; sm++) {
				ir_graph *g = ir_graph_new(t);
				int64_t N = 17, C = 10;
				ir_node *x = ir_input(g, "x", t, S(2, N, C, 0));
				ir_node *y = ir_input(g, "y", IR_I32, S(1, N, 0, 0));
				ir_attr_set_i(y, IR_ATTR_NCLASSES, (int)C);
				double ls = sm ? 0.1 : 0.0;
				ir_node *ce = ir_cross_entropy(g, ir_binary(g, IR_OP_MUL, x, ir_scalar(g, 3.0)),
				                               y, red, ls);
				ir_node *dl = red == IR_REDUCE_NONE ? ir_input(g, "dl", t, S(1, N, 0, 0))
				                                    : ir_scalar(g, 1.0);
				ir_node *gr = ir_cross_entropy_grad(g, x, y, dl, red, ls);
				ir_node *cor = ir_correct(g, x, y);
				ir_node *o[3] = {ce, gr, cor};
				check(g, o, 3, t == IR_F32 ? TOL32 : TOL64);
				ir_graph_free(g);
			}
}

/* a := b, b := a in the same step must swap; w := 2w+1 updates in place. */
static void test_assign_swap(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_init z = {IR_INIT_ZEROS, 0, 0};
	ir_node *a = ir_param(g, "a", IR_F32, S(1, 5, 0, 0), z);
	ir_node *b = ir_param(g, "b", IR_F32, S(1, 5, 0, 0), z);
	ir_node *w = ir_param(g, "w", IR_F32, S(2, 4, 3, 0), z);
	ir_node *m = ir_state(g, "m", IR_F32, S(2, 4, 3, 0));
	ir_assign(g, a, b);
	ir_assign(g, b, a);
	/* momentum-like: m' = 0.9m + w; w' = w - 0.1m' (m' read after m is written) */
	ir_node *m2 = ir_binary(g, IR_OP_ADD, ir_binary(g, IR_OP_MUL, m, ir_scalar(g, 0.9)), w);
	ir_assign(g, m, m2);
	ir_assign(g, w, ir_binary(g, IR_OP_SUB, w, ir_binary(g, IR_OP_MUL, m2, ir_scalar(g, 0.1))));
	assert_int_equal(ir_verify(g), 0);

	cg_options o;
	cg_options_default(&o);
	char err[512];
	rt_exec *x = cg_cpu_exec_new(g, NULL, NULL, 0, &o, err, sizeof err);
	assert_non_null(x);
	float da[5] = {1, 2, 3, 4, 5}, db[5] = {10, 20, 30, 40, 50}, dw[12], dm[12];
	for (int i = 0; i < 12; i++) {
		dw[i] = (float)i;
		dm[i] = 1.0f;
	}
	void *slots[4];
	for (int i = 0; i < x->nslots; i++)
		slots[i] = !strcmp(x->slots[i].name, "a") ? (void *)da
		         : !strcmp(x->slots[i].name, "b") ? (void *)db
		         : !strcmp(x->slots[i].name, "w") ? (void *)dw : (void *)dm;
	assert_int_equal(x->nslots, 4);
	rt_err e;
	assert_int_equal(x->run(x, slots, NULL, &e), 0);
	for (int i = 0; i < 5; i++) {
		assert_true(da[i] == (float)(10 * (i + 1)));
		assert_true(db[i] == (float)(i + 1));
	}
	for (int i = 0; i < 12; i++) {
		float mm = 0.9f * 1.0f + (float)i;
		assert_float_equal(dm[i], mm, 1e-6);
		assert_float_equal(dw[i], (float)i - 0.1f * mm, 1e-5);
	}
	x->free(x);
	ir_graph_free(g);

	/* the same through the harness, against the interpreter, 3 steps */
	g = ir_graph_new(IR_F64);
	a = ir_param(g, "a", IR_F64, S(1, 5, 0, 0), z);
	b = ir_param(g, "b", IR_F64, S(1, 5, 0, 0), z);
	ir_node *c = ir_param(g, "c", IR_F64, S(1, 5, 0, 0), z);
	ir_assign(g, a, b);
	ir_assign(g, b, ir_binary(g, IR_OP_ADD, a, c));
	ir_assign(g, c, a);
	double worst;
	int rc = cgh_compare(g, NULL, NULL, 0, 3, TOL64, 7, &worst, err, sizeof err);
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	ir_graph_free(g);
}

static void test_label_error(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_set_loc(g, "model.lua", 12);
	ir_node *x = ir_input(g, "x", IR_F32, S(2, 2, 3, 0));
	ir_node *y = ir_input(g, "y", IR_I32, S(1, 2, 0, 0));
	ir_node *loss = ir_cross_entropy(g, x, y, IR_REDUCE_MEAN, 0.0);
	const char *name = "loss";
	char err[512];
	rt_exec *ex = cg_cpu_exec_new(g, &loss, &name, 1, NULL, err, sizeof err);
	assert_non_null(ex);
	float dx[6] = {0};
	int32_t dy[2] = {1, 3};
	void *slots[2] = {dx, dy};
	double out;
	rt_err e;
	assert_int_not_equal(ex->run(ex, slots, &out, &e), 0);
	assert_non_null(strstr(e.msg, "model.lua:12"));
	assert_non_null(strstr(e.msg, "'y'"));
	dy[1] = 2;
	assert_int_equal(ex->run(ex, slots, &out, &e), 0);
	assert_float_equal(out, log(3.0), 1e-6);
	ex->free(ex);
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unary_f32),   cmocka_unit_test(test_unary_f64),
	    cmocka_unit_test(test_attr_f32),    cmocka_unit_test(test_attr_f64),
	    cmocka_unit_test(test_where_f32),   cmocka_unit_test(test_where_f64),
	    cmocka_unit_test(test_binary_f32),  cmocka_unit_test(test_binary_f64),
	    cmocka_unit_test(test_shape_ops),   cmocka_unit_test(test_reductions),
	    cmocka_unit_test(test_matmul),      cmocka_unit_test(test_softmax),
	    cmocka_unit_test(test_losses),      cmocka_unit_test(test_assign_swap),
	    cmocka_unit_test(test_label_error),
	    cmocka_unit_test(test_slice_ops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
