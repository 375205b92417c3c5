/*
 * test_bf16.c - round_bf16, the rounding of precision = "bf16": the
 * interpreter's ir_round_bf16 against a reference written from the
 * definition (the nearer of the two bf16 neighbours, ties to the even
 * one), and the CPU backend's kernels against the interpreter bit for bit
 * on ties, NaN, infinities, overflow, subnormals and random values (the
 * CUDA renderer's, through test_cuda_bf16.c); its derivative; the
 * precision pass on a small graph.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ir_model.h"
#include "pass_autodiff.h"
#include "cg_step.h"
#include "ir_conv.h"
#include "pass_precision.h"
#include "test_cg_harness.h"

static float from_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

static uint32_t bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

/* The definition: bf16 keeps the upper 16 bits of an f32; of the two
 * candidates around x (truncated, and one bf16 ulp further from zero),
 * the nearer, and on a tie the one whose last kept bit is 0. */
static float round_ref(float x)
{
	if (isnan(x) || isinf(x))
		return x;
	uint32_t u = bits(x), lo = u & 0xffff0000u, hi = lo + 0x10000u;
	/* past the largest finite bf16 the next one up is 2^128, which
	 * rounds to inf (IEEE 754's overflow rule) */
	double vh = (hi & 0x7fffffffu) == 0x7f800000u ? copysign(ldexp(1.0, 128), x) : from_bits(hi);
	double dl = fabs((double)x - (double)from_bits(lo));
	double dh = fabs(vh - (double)x);
	if (dl < dh || (dl == dh && !(lo & 0x10000u)))
		return from_bits(lo);
	return from_bits(hi);
}

/* 1 + k/256 lies halfway between two bf16 values for odd k */
static const float special[] = {
	0.0f, -0.0f, 1.0f, 1.00390625f /* 1 + 2^-8: tie, to 1 */, 1.01171875f /* 1 + 3*2^-8: tie, up */,
	-1.00390625f, 1.0039063f /* just past the tie */, 3.0e38f, 3.3895314e38f, 3.40282347e38f,
	-3.40282347e38f, 1e-40f /* subnormal */, -1e-45f, 1.17549435e-38f, INFINITY, -INFINITY,
	NAN, 65504.0f, 0.1f, -2.7182817f, 3.1415927f, 123456.79f};
#define NSPECIAL (sizeof special / sizeof *special)
#define NRANDOM 4096

static void fill(float *v, size_t n)
{
	uint64_t s = 7;
	for (size_t i = 0; i < n; i++) {
		if (i < NSPECIAL) {
			v[i] = special[i];
			continue;
		}
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t u = (uint32_t)(s >> 32);
		/* every few values a tie: the 16 dropped bits exactly 0x8000 */
		if (i % 5 == 0)
			u = (u & 0xffff0000u) | 0x8000u;
		v[i] = from_bits(u);
	}
}

static void test_reference(void **st)
{
	(void)st;
	float v[NSPECIAL + NRANDOM];
	fill(v, NSPECIAL + NRANDOM);
	for (size_t i = 0; i < NSPECIAL + NRANDOM; i++) {
		float got = (float)ir_round_bf16(v[i]), want = round_ref(v[i]);
		if (isnan(want) ? !isnan(got) : bits(got) != bits(want))
			fail_msg("round_bf16(%a) = %a, want %a", v[i], got, want);
	}
	assert_true(ir_round_bf16(1.00390625) == 1.0);
	assert_true(ir_round_bf16(1.01171875) == 1.015625);
	assert_true(isinf(ir_round_bf16(3.40282347e38)));
	assert_true(signbit(ir_round_bf16(-0.0)));
}

/* y = round_bf16(x) on the interpreter and the backend, compared bit for bit */
static void test_backend_bits(void **st)
{
	(void)st;
	enum { N = NSPECIAL + NRANDOM };
	int64_t n = N;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *x = ir_input(g, "x", IR_F32, ir_shape_make(1, &n));
	ir_node *y = ir_unary(g, IR_OP_ROUND_BF16, x);
	ir_node *a = cgh_observe(g, y, 0);
	assert_non_null(a);
	char err[1024];
	rt_exec *ref = ir_interp_exec_new(g, NULL, NULL, 0, err, sizeof err);
	assert_non_null(ref);
	cg_options o;
	cg_options_default(&o);
	rt_exec *cpu = cg_cpu_exec_new(g, NULL, NULL, 0, &o, err, sizeof err);
	if (!cpu)
		fail_msg("%s", err);
	static float xa[N], ya[N], yb[N];
	fill(xa, N);
	void *da[2], *db[2];
	int xi = strcmp(ref->slots[0].name, "x") == 0 ? 0 : 1;
	da[xi] = db[xi] = xa;
	da[1 - xi] = ya;
	db[1 - xi] = yb;
	rt_err e;
	double out[1];
	assert_int_equal(ref->run(ref, da, out, &e), 0);
	assert_int_equal(cpu->run(cpu, db, out, &e), 0);
	for (int i = 0; i < N; i++) {
		if (isnan(xa[i]) ? !isnan(ya[i]) || !isnan(yb[i]) : bits(ya[i]) != bits(yb[i]))
			fail_msg("round_bf16(%a): interpreter %a, backend %a", xa[i], ya[i], yb[i]);
	}
	ref->free(ref);
	cpu->free(cpu);
	ir_graph_free(g);
}

/* the derivative of a cast: the adjoint rounded (ToCopyBackward) */
static void test_gradient(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	int64_t n = 4;
	ir_init z = {IR_INIT_ZEROS, 0, 0};
	ir_node *p = ir_param(g, "p", IR_F32, ir_shape_make(1, &n), z);
	ir_node *c = ir_input(g, "c", IR_F32, ir_shape_make(1, &n));
	ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, ir_unary(g, IR_OP_ROUND_BF16, p), c), 0, 0);
	ir_node *grad = NULL;
	assert_int_equal(pass_grad(g, loss, &p, 1, &grad), 0);
	assert_int_equal(grad->op, IR_OP_ROUND_BF16);
	ir_graph_free(g);
}

/* the precision pass on linear + relu + cross_entropy: inputs and weights
 * cast, the bias added before the one rounding, the loss f32 */
static void test_pass(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_init z = {IR_INIT_ZEROS, 0, 0};
	ir_node *x = ir_input(g, "x", IR_F32, ir_shape_make(2, (int64_t[]){4, 3}));
	ir_node *lab = ir_input(g, "y", IR_I32, ir_shape_make(1, (int64_t[]){4}));
	ir_node *w = ir_param(g, "w", IR_F32, ir_shape_make(2, (int64_t[]){5, 3}), z);
	ir_node *b = ir_param(g, "b", IR_F32, ir_shape_make(1, (int64_t[]){5}), z);
	ir_node *mm = ir_matmul(g, x, w, 0, 1);
	ir_node *h = ir_binary(g, IR_OP_ADD, mm, b);
	ir_node *r = ir_unary(g, IR_OP_RELU, h);
	ir_node *loss = ir_cross_entropy(g, r, lab, IR_REDUCE_MEAN, 0.0);
	assert_non_null(loss);
	ir_node **roots[] = {&loss};
	assert_int_equal(pass_precision(g, loss->loc, roots, 1, NULL, 0), 0);
	assert_int_equal(ir_verify(g), 0);
	/* matmul(round(x), round(w)); add(matmul, round(b)); round; relu; ce */
	assert_int_equal(mm->in[0]->op, IR_OP_ROUND_BF16);
	assert_ptr_equal(mm->in[0]->in[0], x);
	assert_int_equal(mm->in[1]->op, IR_OP_ROUND_BF16);
	assert_ptr_equal(h->in[0], mm);
	assert_int_equal(h->in[1]->op, IR_OP_ROUND_BF16);
	assert_int_equal(r->in[0]->op, IR_OP_ROUND_BF16);
	assert_ptr_equal(r->in[0]->in[0], h);
	assert_ptr_equal(loss->in[0], r); /* relu is exact on bf16 values */
	/* the matmul's operands are bf16-exact (its GEMM entry gets bf16), and
	 * so is what moves or selects them; x itself and a sum are not */
	assert_true(ir_bf16_exact(mm->in[0]) && ir_bf16_exact(mm->in[1]));
	assert_true(ir_bf16_exact(ir_transpose2(g, mm->in[1], 0, 1)));
	assert_true(ir_bf16_exact(ir_unary(g, IR_OP_RELU, mm->in[0])));
	assert_false(ir_bf16_exact(x));
	assert_false(ir_bf16_exact(h));
	assert_false(ir_bf16_exact(ir_binary(g, IR_OP_ADD, mm->in[0], mm->in[0])));
	ir_graph_free(g);
	/* f64 programs are refused */
	g = ir_graph_new(IR_F64);
	x = ir_input(g, "x", IR_F64, ir_shape_make(1, (int64_t[]){3}));
	loss = ir_reduce(g, IR_OP_SUM, x, 0, 0);
	ir_node **roots2[] = {&loss};
	assert_int_equal(pass_precision(g, loss->loc, roots2, 1, NULL, 0), -1);
	assert_non_null(strstr(g->err, "must be f32"));
	ir_graph_free(g);
}

/* The library calls of a step table of linear(conv2d(x)) and its
 * gradients: every GEMM and convolution bf16 after the precision pass
 * (both operands rounded, forward and backward), none without it. */
static int call_flags(int bf16, int *ncalls)
{
	ir_graph *g = ir_graph_new(IR_F32);
	ir_init z = {IR_INIT_ZEROS, 0, 0};
	ir_node *x = ir_input(g, "x", IR_F32, ir_shape_make(4, (int64_t[]){2, 3, 6, 6}));
	ir_node *cw = ir_param(g, "cw", IR_F32, ir_shape_make(4, (int64_t[]){4, 3, 3, 3}), z);
	ir_node *w = ir_param(g, "w", IR_F32, ir_shape_make(2, (int64_t[]){5, 64}), z);
	ir_conv_params cp = ir_conv_params_default();
	ir_node *h = ir_conv2d(g, x, cw, &cp); /* [2,4,4,4] */
	ir_node *r = ir_reshape(g, h, ir_shape_make(2, (int64_t[]){2, 64}));
	ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_matmul(g, r, w, 0, 1), 0, 0);
	ir_node **roots[] = {&loss};
	if (bf16)
		assert_int_equal(pass_precision(g, loss->loc, roots, 1, NULL, 0), 0);
	ir_node *ps[] = {cw, w}, *gr[2] = {NULL, NULL};
	assert_int_equal(pass_grad(g, loss, ps, 2, gr), 0);
	ir_node *outs[] = {loss, ir_reduce(g, IR_OP_SUM, gr[0], 0, 0),
	                   ir_reduce(g, IR_OP_SUM, gr[1], 0, 0)};
	const char *names[] = {"loss", "g0", "g1"};
	char err[1024];
	cg_step *st = cg_step_new(g, outs, names, 3, NULL, err, sizeof err);
	if (!st)
		fail_msg("%s", err);
	int flagged = 0;
	*ncalls = 0;
	for (int i = 0; i < st->desc.nkernels; i++) {
		const rt_prog_kernel *k = &st->desc.kernels[i];
		int call = k->kind == RT_K_GEMM || k->kind == RT_K_CONV;
		*ncalls += call;
		flagged += call && k->bf16;
	}
	cg_step_free(st);
	ir_graph_free(g);
	return flagged;
}

static void test_table_flag(void **st)
{
	(void)st;
	int n = 0;
	/* conv forward, its weight gradient (x is an input: no data
	 * gradient), the matmul, its data and weight gradients */
	assert_int_equal(call_flags(1, &n), 5);
	assert_int_equal(n, 5);
	assert_int_equal(call_flags(0, &n), 0);
	assert_int_equal(n, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reference),
	    cmocka_unit_test(test_backend_bits),
	    cmocka_unit_test(test_gradient),
	    cmocka_unit_test(test_pass),
	    cmocka_unit_test(test_table_flag),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
