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

typedef struct {
	ir_graph *g;
	ir_node *p[2];
	int np;
	ir_node *labels;
} gc_case;

typedef ir_node *(*gc_build)(gc_case *c);

static ir_node *mkparam(gc_case *c, int rank, int64_t d0, int64_t d1)
{
	int64_t d[2] = {d0, d1};
	char name[16];
	snprintf(name, sizeof name, "p%d", c->np);
	ir_init init = {IR_INIT_ZEROS, 0, 0};
	ir_node *p = ir_param(c->g, name, IR_F64, ir_shape_make(rank, d), init);
	c->p[c->np++] = p;
	return p;
}

static ir_node *mklabels(gc_case *c, int64_t n)
{
	c->labels = ir_input(c->g, "labels", IR_I32, ir_shape_make(1, &n));
	return c->labels;
}

#define U(OP) \
	static ir_node *b_##OP(gc_case *c) { return ir_unary(c->g, IR_OP_##OP, mkparam(c, 2, 3, 4)); }
U(NEG) U(EXP) U(TANH) U(SIGMOID) U(GELU) U(COS) U(SIN) U(RELU) U(ABS)
static ir_node *b_LOG(gc_case *c) { /* positive inputs: log(exp(p)) would be trivial, so log(p*p+1) */
	ir_node *p = mkparam(c, 2, 3, 4);
	return ir_unary(c->g, IR_OP_LOG, ir_binary(c->g, IR_OP_ADD, ir_binary(c->g, IR_OP_MUL, p, p), ir_scalar(c->g, 1.0)));
}
static ir_node *b_SQRT(gc_case *c) {
	ir_node *p = mkparam(c, 2, 3, 4);
	return ir_unary(c->g, IR_OP_SQRT, ir_binary(c->g, IR_OP_ADD, ir_binary(c->g, IR_OP_MUL, p, p), ir_scalar(c->g, 0.5)));
}
static ir_node *b_RSQRT(gc_case *c) {
	ir_node *p = mkparam(c, 2, 3, 4);
	return ir_unary(c->g, IR_OP_RSQRT, ir_binary(c->g, IR_OP_ADD, ir_binary(c->g, IR_OP_MUL, p, p), ir_scalar(c->g, 0.5)));
}
#define BIN(OP, R0, A0, B0, R1, A1, B1) \
	static ir_node *b_##OP(gc_case *c) { \
		ir_node *a = mkparam(c, R0, A0, B0); ir_node *b = mkparam(c, R1, A1, B1); \
		return ir_binary(c->g, IR_OP_##OP, a, b); }
BIN(ADD, 2, 3, 4, 1, 4, 1) BIN(SUB, 2, 3, 1, 2, 1, 4) BIN(MUL, 2, 3, 4, 2, 3, 1)
BIN(MINIMUM, 2, 3, 4, 2, 3, 4) BIN(MAXIMUM, 2, 3, 4, 1, 4, 1)
static ir_node *b_DIV(gc_case *c) {
	ir_node *a = mkparam(c, 2, 3, 4), *b = mkparam(c, 1, 4, 1);
	return ir_binary(c->g, IR_OP_DIV, a, ir_binary(c->g, IR_OP_ADD, ir_binary(c->g, IR_OP_MUL, b, b), ir_scalar(c->g, 1.0)));
}
static ir_node *b_POW(gc_case *c) {
	ir_node *a = mkparam(c, 2, 3, 4), *b = mkparam(c, 2, 3, 4);
	ir_node *base = ir_binary(c->g, IR_OP_ADD, ir_binary(c->g, IR_OP_MUL, a, a), ir_scalar(c->g, 0.5));
	return ir_binary(c->g, IR_OP_POW, base, b);
}
static ir_node *b_RESHAPE(gc_case *c) {
	int64_t d[3] = {2, 3, 2};
	return ir_reshape(c->g, mkparam(c, 2, 3, 4), ir_shape_make(3, d));
}
static ir_node *b_TRANSPOSE(gc_case *c) { return ir_transpose2(c->g, mkparam(c, 2, 3, 4), 0, 1); }
static ir_node *b_BROADCAST(gc_case *c) {
	int64_t d[3] = {2, 3, 4};
	return ir_broadcast(c->g, mkparam(c, 2, 3, 1), ir_shape_make(3, d));
}
static ir_node *b_SUM(gc_case *c) { return ir_reduce(c->g, IR_OP_SUM, mkparam(c, 2, 3, 4), 2, 0); }
static ir_node *b_SUMK(gc_case *c) { return ir_reduce(c->g, IR_OP_SUM, mkparam(c, 2, 3, 4), 1, 1); }
static ir_node *b_MEAN(gc_case *c) { return ir_mean(c->g, mkparam(c, 2, 3, 4), 0, 0); }
static ir_node *b_MAX(gc_case *c) { return ir_reduce(c->g, IR_OP_MAX, mkparam(c, 2, 3, 4), 2, 0); }
#define MM(TA, TB) \
	static ir_node *b_MATMUL##TA##TB(gc_case *c) { \
		ir_node *a = TA ? mkparam(c, 2, 4, 3) : mkparam(c, 2, 3, 4); \
		ir_node *b = TB ? mkparam(c, 2, 5, 4) : mkparam(c, 2, 4, 5); \
		return ir_matmul(c->g, a, b, TA, TB); }
MM(0, 0) MM(0, 1) MM(1, 0) MM(1, 1)
static ir_node *b_SOFTMAX(gc_case *c) { return ir_softmax(c->g, IR_OP_SOFTMAX, mkparam(c, 2, 3, 4), 1); }
static ir_node *b_SOFTMAX0(gc_case *c) { return ir_softmax(c->g, IR_OP_SOFTMAX, mkparam(c, 2, 3, 4), 0); }
static ir_node *b_LOG_SOFTMAX(gc_case *c) { return ir_softmax(c->g, IR_OP_LOG_SOFTMAX, mkparam(c, 2, 3, 4), -1); }
static ir_node *b_CE(gc_case *c) { ir_node *p = mkparam(c, 2, 3, 4); return ir_cross_entropy(c->g, p, mklabels(c, 3), IR_REDUCE_MEAN, 0.0); }
static ir_node *b_CE_LS(gc_case *c) { ir_node *p = mkparam(c, 2, 3, 4); return ir_cross_entropy(c->g, p, mklabels(c, 3), IR_REDUCE_MEAN, 0.1); }
static ir_node *b_CE_NONE(gc_case *c) { ir_node *p = mkparam(c, 2, 3, 4); return ir_cross_entropy(c->g, p, mklabels(c, 3), IR_REDUCE_NONE, 0.2); }
/* a fan-out: p used three times, through different paths */
static ir_node *b_FANOUT(gc_case *c) {
	ir_node *p = mkparam(c, 2, 3, 4);
	ir_node *t = ir_unary(c->g, IR_OP_TANH, p);
	return ir_binary(c->g, IR_OP_ADD, ir_binary(c->g, IR_OP_MUL, t, p), ir_reduce(c->g, IR_OP_SUM, p, 1, 1));
}
/* a tiny MLP: linear -> relu -> linear -> cross-entropy */
static ir_node *b_MLP(gc_case *c) {
	int64_t xd[2] = {3, 4};
	ir_node *x = ir_input(c->g, "x", IR_F64, ir_shape_make(2, xd));
	ir_node *w1 = mkparam(c, 2, 5, 4), *w2 = mkparam(c, 2, 3, 5);
	ir_node *h = ir_unary(c->g, IR_OP_GELU, ir_matmul(c->g, x, w1, 0, 1));
	return ir_cross_entropy(c->g, ir_matmul(c->g, h, w2, 0, 1), mklabels(c, 3), IR_REDUCE_MEAN, 0.0);
}

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

#define CASE(N) \
	static void t_##N(void **state) { (void)state; check_case(#N, b_##N); }
CASE(NEG) CASE(EXP) CASE(LOG) CASE(SQRT) CASE(RSQRT) CASE(ABS) CASE(RELU) CASE(GELU)
CASE(TANH) CASE(SIGMOID) CASE(COS) CASE(SIN)
CASE(ADD) CASE(SUB) CASE(MUL) CASE(DIV) CASE(POW) CASE(MINIMUM) CASE(MAXIMUM)
CASE(RESHAPE) CASE(TRANSPOSE) CASE(BROADCAST) CASE(SUM) CASE(SUMK) CASE(MEAN) CASE(MAX)
CASE(MATMUL00) CASE(MATMUL01) CASE(MATMUL10) CASE(MATMUL11)
CASE(SOFTMAX) CASE(SOFTMAX0) CASE(LOG_SOFTMAX) CASE(CE) CASE(CE_LS) CASE(CE_NONE)
CASE(FANOUT) CASE(MLP)

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
#define T(N) cmocka_unit_test(t_##N),
		T(NEG) T(EXP) T(LOG) T(SQRT) T(RSQRT) T(ABS) T(RELU) T(GELU) T(TANH) T(SIGMOID)
		T(COS) T(SIN) T(ADD) T(SUB) T(MUL) T(DIV) T(POW) T(MINIMUM) T(MAXIMUM)
		T(RESHAPE) T(TRANSPOSE) T(BROADCAST) T(SUM) T(SUMK) T(MEAN) T(MAX)
		T(MATMUL00) T(MATMUL01) T(MATMUL10) T(MATMUL11) T(SOFTMAX) T(SOFTMAX0)
		T(LOG_SOFTMAX) T(CE) T(CE_LS) T(CE_NONE) T(FANOUT) T(MLP) T(unreached)
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
