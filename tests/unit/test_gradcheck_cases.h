/*
 * test_gradcheck_cases.h - the gradient-check cases, each a small graph
 * over params p0, p1 (and labels when it needs them), and the op each one
 * checks: test_gradcheck.c runs them against finite differences, and
 * test_op_table.c fails when an op with a derivative rule has none.
 */
#ifndef SAMC_TEST_GRADCHECK_CASES_H
#define SAMC_TEST_GRADCHECK_CASES_H

#include <math.h>
#include <stdio.h>

#include "ir.h"
#include "ir_conv.h"
#include "ir_pool.h"

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
/* slope, beta and threshold other than the defaults; the bounds inside
 * the inputs' range [-1, 1), so each branch is taken */
static ir_node *b_LEAKY_RELU(gc_case *c) { return ir_leaky_relu(c->g, mkparam(c, 2, 3, 4), 0.2); }
static ir_node *b_SOFTPLUS(gc_case *c) { return ir_softplus(c->g, mkparam(c, 2, 3, 4), 1.0, 20.0); }
static ir_node *b_SOFTPLUS_T(gc_case *c) { return ir_softplus(c->g, mkparam(c, 2, 3, 4), 2.0, 1.0); }
static ir_node *b_CLAMP(gc_case *c) { return ir_clamp(c->g, mkparam(c, 2, 3, 4), -0.5, 0.25); }
static ir_node *b_CLAMP_HI(gc_case *c) { return ir_clamp(c->g, mkparam(c, 2, 3, 4), -INFINITY, 0.25); }
/* the condition depends on p0 too (gt has no gradient); p1 broadcasts */
static ir_node *b_WHERE(gc_case *c) {
	ir_node *a = mkparam(c, 2, 3, 4), *b = mkparam(c, 1, 4, 0);
	return ir_where(c->g, ir_binary(c->g, IR_OP_GT, a, ir_scalar(c->g, 0.25)), a, b);
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
/* nll_loss and binary cross-entropy with logits (both of its inputs) */
static ir_node *b_NLL(gc_case *c) { return ir_nll_loss(c->g, mkparam(c, 2, 3, 4), mklabels(c, 3), IR_REDUCE_MEAN); }
static ir_node *b_NLL_SUM(gc_case *c) { return ir_nll_loss(c->g, mkparam(c, 2, 3, 4), mklabels(c, 3), IR_REDUCE_SUM); }
static ir_node *b_NLL_NONE(gc_case *c) { return ir_nll_loss(c->g, mkparam(c, 2, 3, 4), mklabels(c, 3), IR_REDUCE_NONE); }
static ir_node *b_BCE(gc_case *c) {
	ir_node *x = mkparam(c, 2, 3, 4);
	return ir_bce_with_logits(c->g, x, mkparam(c, 2, 3, 4), NULL, IR_REDUCE_MEAN);
}
static ir_node *b_BCE_PW(gc_case *c) {
	int64_t four = 4;
	ir_node *x = mkparam(c, 2, 3, 4), *pw = ir_const(c->g, IR_F64, ir_shape_make(1, &four), 2.5);
	return ir_bce_with_logits(c->g, x, mkparam(c, 2, 3, 4), pw, IR_REDUCE_NONE);
}
/* one_hot(y) as soft targets: -mean(sum(one_hot(y) * log_softmax(p))) */
static ir_node *b_ONE_HOT(gc_case *c) {
	ir_node *oh = ir_one_hot(c->g, mklabels(c, 3), 4);
	ir_node *lp = ir_softmax(c->g, IR_OP_LOG_SOFTMAX, mkparam(c, 2, 3, 4), 1);
	return ir_unary(c->g, IR_OP_NEG, ir_mean(c->g, ir_reduce(c->g, IR_OP_SUM, ir_binary(c->g, IR_OP_MUL, oh, lp), 2, 0), 0, 0));
}
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

/* slicing and joining: windows inside and at the ends, an input used twice */
static ir_node *b_NARROW(gc_case *c) { return ir_narrow(c->g, mkparam(c, 2, 3, 4), 1, 1, 2); }
static ir_node *b_NARROW0(gc_case *c) { return ir_narrow(c->g, mkparam(c, 2, 3, 4), 0, 2, 1); }
static ir_node *b_CAT(gc_case *c) {
	ir_node *a = mkparam(c, 2, 3, 4), *b = mkparam(c, 2, 3, 2);
	ir_node *xs[3] = {a, ir_unary(c->g, IR_OP_TANH, b), a};
	return ir_cat(c->g, xs, 3, 1);
}
static ir_node *b_CAT0(gc_case *c) {
	ir_node *a = mkparam(c, 2, 3, 4), *b = mkparam(c, 2, 2, 4);
	ir_node *xs[2] = {ir_narrow(c->g, a, 1, 0, 4), b};
	return ir_cat(c->g, xs, 2, 0);
}
/* pooling over p0 [1,2,5,4] (as NCHW): stride != kernel, padding, an
 * adaptive output that does not divide the input */
static ir_node *pool4(gc_case *c, ir_op op, ir_pool_params p) {
	int64_t d[4] = {1, 2, 5, 4};
	ir_node *x = ir_reshape(c->g, mkparam(c, 2, 5, 8), ir_shape_make(4, d));
	return ir_pool2d(c->g, op, x, NULL, &p);
}
static ir_node *b_MAXPOOL(gc_case *c) { return pool4(c, IR_OP_MAX_POOL2D, (ir_pool_params){3, 2, 2, 1, 1, 1, 1, 0, 0}); }
static ir_node *b_AVGPOOL(gc_case *c) { return pool4(c, IR_OP_AVG_POOL2D, (ir_pool_params){3, 2, 2, 1, 1, 1, 1, 0, 0}); }
static ir_node *b_AVGPOOL_NP(gc_case *c) { return pool4(c, IR_OP_AVG_POOL2D, (ir_pool_params){3, 3, 2, 2, 1, 1, 0, 0, 0}); }
static ir_node *b_ADAPTIVE(gc_case *c) { return pool4(c, IR_OP_ADAPTIVE_AVG_POOL2D, (ir_pool_params){0, 0, 0, 0, 0, 0, 1, 3, 3}); }

/* conv2d of p0 (as x [N,C,H,W]) by p1 (as w [O,C/groups,kh,kw]): stride 2
 * with padding (a last row no output reads), dilation 2 with groups 2
 * and uneven stride and padding, a depthwise 1x1 of stride 2, a 2x3
 * kernel */
static ir_node *conv(gc_case *c, const int64_t *xd, const int64_t *wd, ir_conv_params p) {
	ir_node *x = ir_reshape(c->g, mkparam(c, 2, xd[0] * xd[1], xd[2] * xd[3]), ir_shape_make(4, xd));
	ir_node *w = ir_reshape(c->g, mkparam(c, 2, wd[0], wd[1] * wd[2] * wd[3]), ir_shape_make(4, wd));
	return ir_conv2d(c->g, x, w, &p);
}
static ir_node *b_CONV_S2P1(gc_case *c) { return conv(c, (int64_t[]){2, 3, 6, 5}, (int64_t[]){4, 3, 3, 3}, (ir_conv_params){2, 2, 1, 1, 1, 1, 1}); }
static ir_node *b_CONV_D2G2(gc_case *c) { return conv(c, (int64_t[]){1, 4, 7, 6}, (int64_t[]){6, 2, 3, 2}, (ir_conv_params){1, 2, 2, 1, 2, 2, 2}); }
static ir_node *b_CONV_DW(gc_case *c) { return conv(c, (int64_t[]){2, 4, 5, 5}, (int64_t[]){4, 1, 1, 1}, (ir_conv_params){2, 2, 0, 0, 1, 1, 4}); }
static ir_node *b_CONV_2X3(gc_case *c) { return conv(c, (int64_t[]){1, 2, 5, 6}, (int64_t[]){3, 2, 2, 3}, (ir_conv_params){2, 1, 0, 1, 1, 1, 1}); }

/* embedding: indices [2,3] (k % 4: rows 0 and 1 twice, row 4 never) */
static ir_node *b_EMBED(gc_case *c) {
	int64_t d[2] = {2, 3};
	c->labels = ir_input(c->g, "labels", IR_I32, ir_shape_make(2, d));
	return ir_embedding(c->g, mkparam(c, 2, 5, 3), c->labels);
}

/* batched matmul: [2,3,4] x [2,4,5], and each matrix transposed; torch's
 * 3-D x 2-D (folded into one product) and 2-D x 3-D (broadcast) */
static ir_node *bmm3(gc_case *c, int ta, int tb) {
	ir_node *a = ir_reshape(c->g, mkparam(c, 2, 6, 4), ir_shape_make(3, (int64_t[]){2, ta ? 4 : 3, ta ? 3 : 4}));
	ir_node *b = ir_reshape(c->g, mkparam(c, 2, 8, 5), ir_shape_make(3, (int64_t[]){2, tb ? 5 : 4, tb ? 4 : 5}));
	return ir_matmul(c->g, a, b, ta, tb);
}
static ir_node *b_BMM(gc_case *c) { return bmm3(c, 0, 0); }
static ir_node *b_BMM_T(gc_case *c) { return bmm3(c, 1, 1); }
static ir_node *b_BMM_32(gc_case *c) {
	ir_node *a = ir_reshape(c->g, mkparam(c, 2, 6, 4), ir_shape_make(3, (int64_t[]){2, 3, 4}));
	return ir_matmul_torch(c->g, a, mkparam(c, 2, 4, 5));
}
static ir_node *b_BMM_23(gc_case *c) {
	ir_node *b = ir_reshape(c->g, mkparam(c, 2, 8, 5), ir_shape_make(3, (int64_t[]){2, 4, 5}));
	return ir_matmul_torch(c->g, mkparam(c, 2, 3, 4), b);
}

/* dropout in training (the mode resolved as the pipeline does before
 * autodiff): the noise a fixed input, the gradient the kept mask over 1-p */
static ir_node *b_DROPOUT(gc_case *c) {
	ir_node *y = ir_dropout(c->g, mkparam(c, 2, 3, 4), 0.25, "d");
	ir_resolve_mode(c->g, IR_MODE_TRAIN);
	return y;
}

/* round_bf16's rule is a cast's backward (the adjoint passed on, rounded
 * to bf16: test_bf16.c), not the derivative of the step function that
 * finite differences see; so here it rounds p * 0, where both are zero,
 * beside tanh(p): the case checks that the rule builds and composes. */
static ir_node *b_ROUND_BF16(gc_case *c) {
	ir_node *p = mkparam(c, 2, 3, 4);
	ir_node *z = ir_unary(c->g, IR_OP_ROUND_BF16, ir_binary(c->g, IR_OP_MUL, p, ir_scalar(c->g, 0.0)));
	return ir_binary(c->g, IR_OP_ADD, ir_unary(c->g, IR_OP_TANH, p), z);
}

/* rank_sum on one rank (no communicator: the identity) inside a
 * nonlinear use, so its adjoint (rank_sum of the incoming one) composes */
static ir_node *b_RANK_SUM(gc_case *c) {
	ir_node *p = mkparam(c, 2, 3, 4);
	return ir_binary(c->g, IR_OP_MUL, ir_unary(c->g, IR_OP_TANH, ir_rank_sum(c->g, p)), p);
}

/* X(case, the op it checks) */
#define GC_CASES(X)                                                                  \
	X(NEG, NEG) X(EXP, EXP) X(LOG, LOG) X(SQRT, SQRT) X(RSQRT, RSQRT) X(ABS, ABS)      \
	X(RELU, RELU) X(GELU, GELU) X(TANH, TANH) X(SIGMOID, SIGMOID) X(COS, COS)           \
	X(SIN, SIN) X(ADD, ADD) X(SUB, SUB) X(MUL, MUL) X(DIV, DIV) X(POW, POW)             \
	X(MINIMUM, MINIMUM) X(MAXIMUM, MAXIMUM) X(RESHAPE, RESHAPE)                         \
	X(TRANSPOSE, TRANSPOSE) X(BROADCAST, BROADCAST) X(SUM, SUM) X(SUMK, SUM)            \
	X(MEAN, SUM) X(MAX, MAX) X(MATMUL00, MATMUL) X(MATMUL01, MATMUL)                    \
	X(MATMUL10, MATMUL) X(MATMUL11, MATMUL) X(SOFTMAX, SOFTMAX) X(SOFTMAX0, SOFTMAX)    \
	X(LOG_SOFTMAX, LOG_SOFTMAX) X(CE, CROSS_ENTROPY) X(CE_LS, CROSS_ENTROPY)            \
	X(CE_NONE, CROSS_ENTROPY) X(FANOUT, TANH) X(MLP, MATMUL)                            \
	X(LEAKY_RELU, LEAKY_RELU) X(SOFTPLUS, SOFTPLUS) X(SOFTPLUS_T, SOFTPLUS)               \
	X(CLAMP, CLAMP) X(CLAMP_HI, CLAMP) X(WHERE, WHERE)                                  \
	X(NARROW, NARROW) X(NARROW0, NARROW) X(CAT, CAT) X(CAT0, CAT)                       \
	X(MAXPOOL, MAX_POOL2D) X(AVGPOOL, AVG_POOL2D) X(AVGPOOL_NP, AVG_POOL2D)            \
	X(ADAPTIVE, ADAPTIVE_AVG_POOL2D)                                                    \
	X(NLL, NLL_LOSS) X(NLL_SUM, NLL_LOSS) X(NLL_NONE, NLL_LOSS) X(BCE, MAXIMUM)          \
	X(BCE_PW, MAXIMUM) X(ONE_HOT, ONE_HOT)                                              \
	X(CONV_S2P1, CONV2D) X(CONV_D2G2, CONV2D) X(CONV_DW, CONV2D) X(CONV_2X3, CONV2D)        \
	X(EMBED, EMBEDDING)        \
	X(BMM, MATMUL) X(BMM_T, MATMUL) X(BMM_32, MATMUL) X(BMM_23, MATMUL) X(DROPOUT, GE) \
	X(ROUND_BF16, ROUND_BF16) X(RANK_SUM, RANK_SUM)

#endif
