/*
 * test_interp.c - the reference interpreter against hand-derived values.
 *
 * Every op gets a small graph whose expected result is written out below
 * (derived by hand, or from the closed forms with libm/PyTorch in float64),
 * never from the interpreter itself. Each check runs in an f64 graph and an
 * f32 graph: f64 must agree to 1e-12 relative, f32 to 1e-6 relative (a float
 * has 24 bits, 6e-8 relative, and each op rounds once), and every f32 value
 * must be exactly representable as a float.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ir.h"
#include "ir_interp.h"
#include "rt_init.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define SH(...) mk_shape((const int64_t[]){__VA_ARGS__}, \
                         (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))

static ir_shape mk_shape(const int64_t *d, int rank)
{
	return ir_shape_make(rank, d);
}

static ir_graph *graph(ir_dtype t)
{
	ir_graph *g = ir_graph_new(t);
	assert_non_null(g);
	ir_set_loc(g, "model.lua", 7);
	return g;
}

/* Asserts the builder accepted a node (shows its message otherwise). */
static ir_node *ok(ir_graph *g, ir_node *n)
{
	if (!n)
		fail_msg("builder: %s", g->err);
	return n;
}

static ir_node *input(ir_graph *g, const char *name, ir_dtype t, ir_shape s)
{
	return ok(g, ir_input(g, name, t, s));
}

static void fill(ir_env *e, const ir_node *leaf, const double *v, int64_t n)
{
	double *d = ir_env_leaf(e, leaf);
	assert_non_null(d);
	assert_int_equal(n, ir_shape_numel(&leaf->shape));
	memcpy(d, v, (size_t)n * sizeof *d);
}

/* Evaluates one node (no commit) and returns its value (caller frees). */
static double *eval1(ir_env *e, ir_node *out)
{
	char err[512];
	double *v = NULL;
	if (ir_interp_eval(e, &out, 1, &v, err, sizeof err))
		fail_msg("interpreter: %s", err);
	return v;
}

static void expect_vals(const double *got, const double *want, int64_t n, ir_dtype t)
{
	double tol = t == IR_F32 ? 1e-6 : 1e-12;
	for (int64_t i = 0; i < n; i++) {
		double w = want[i], d = fabs(got[i] - w);
		if (isnan(w) ? !isnan(got[i]) : d > tol * fmax(1.0, fabs(w)))
			fail_msg("element %lld: got %.17g, want %.17g", (long long)i, got[i], w);
		if (t == IR_F32 && (double)(float)got[i] != got[i] && !isnan(got[i]))
			fail_msg("element %lld: %.17g is not a float32 value", (long long)i, got[i]);
	}
}

/* ---- elementwise ---- */

static const double UX[] = {-1.5, -0.5, 0.0, 0.5, 2.0};
static const double PX[] = {0.25, 1.0, 4.0, 2.5};

static void unary_case(ir_dtype t, ir_op op, const double *x, int64_t n, const double *want)
{
	ir_graph *g = graph(t);
	ir_node *in = input(g, "x", t, SH(n));
	ir_node *y = ok(g, ir_unary(g, op, in));
	ir_env *e = ir_env_new(g);
	fill(e, in, x, n);
	double *v = eval1(e, y);
	expect_vals(v, want, n, t);
	free(v);
	ir_env_free(e);
	ir_graph_free(g);
}

static void unary_ops(ir_dtype t)
{
	unary_case(t, IR_OP_NEG, UX, 5, (const double[]){1.5, 0.5, 0.0, -0.5, -2.0});
	unary_case(t, IR_OP_ABS, UX, 5, (const double[]){1.5, 0.5, 0.0, 0.5, 2.0});
	unary_case(t, IR_OP_SIGN, UX, 5, (const double[]){-1, -1, 0, 1, 1});
	unary_case(t, IR_OP_RELU, UX, 5, (const double[]){0, 0, 0, 0.5, 2.0});
	unary_case(t, IR_OP_FLOOR, UX, 5, (const double[]){-2, -1, 0, 0, 2});
	unary_case(t, IR_OP_EXP, UX, 5, (const double[]){0.22313016014842982, 0.6065306597126334,
	           1.0, 1.6487212707001282, 7.38905609893065});
	unary_case(t, IR_OP_GELU, UX, 5, (const double[]){-0.10021080190328704,
	           -0.15426876936299344, 0.0, 0.34573123063700656, 1.9544997361036416});
	unary_case(t, IR_OP_TANH, UX, 5, (const double[]){-0.9051482536448664,
	           -0.46211715726000974, 0.0, 0.46211715726000974, 0.9640275800758169});
	unary_case(t, IR_OP_SIGMOID, UX, 5, (const double[]){0.18242552380635635,
	           0.3775406687981454, 0.5, 0.6224593312018546, 0.8807970779778823});
	unary_case(t, IR_OP_COS, UX, 5, (const double[]){0.0707372016677029, 0.8775825618903728,
	           1.0, 0.8775825618903728, -0.4161468365471424});
	unary_case(t, IR_OP_SIN, UX, 5, (const double[]){-0.9974949866040544, -0.479425538604203,
	           0.0, 0.479425538604203, 0.9092974268256817});
	unary_case(t, IR_OP_LOG, PX, 4, (const double[]){-1.3862943611198906, 0.0,
	           1.3862943611198906, 0.9162907318741551});
	unary_case(t, IR_OP_SQRT, PX, 4, (const double[]){0.5, 1.0, 2.0, 1.5811388300841898});
	unary_case(t, IR_OP_RSQRT, PX, 4, (const double[]){2.0, 1.0, 0.5, 0.6324555320336759});
}

/* a [2,3] op b, with b of shape bs filled from bv */
static void binary_case(ir_dtype t, ir_op op, ir_shape as, const double *av, ir_shape bs,
                        const double *bv, const double *want)
{
	ir_graph *g = graph(t);
	ir_node *a = input(g, "a", t, as), *b = input(g, "b", t, bs);
	ir_node *y = ok(g, ir_binary(g, op, a, b));
	ir_env *e = ir_env_new(g);
	fill(e, a, av, ir_shape_numel(&as));
	fill(e, b, bv, ir_shape_numel(&bs));
	double *v = eval1(e, y);
	expect_vals(v, want, ir_shape_numel(&y->shape), t);
	free(v);
	ir_env_free(e);
	ir_graph_free(g);
}

static void binary_ops(ir_dtype t)
{
	/* [2,3] op [3]: b repeats along the rows */
	const double a[] = {1, 2, 3, 4, 5, 6}, b[] = {0.5, -1, 2};
	ir_shape as = SH(2, 3), bs = SH(3);
	binary_case(t, IR_OP_ADD, as, a, bs, b, (const double[]){1.5, 1, 5, 4.5, 4, 8});
	binary_case(t, IR_OP_SUB, as, a, bs, b, (const double[]){0.5, 3, 1, 3.5, 6, 4});
	binary_case(t, IR_OP_MUL, as, a, bs, b, (const double[]){0.5, -2, 6, 2, -5, 12});
	binary_case(t, IR_OP_DIV, as, a, bs, b, (const double[]){2, -2, 1.5, 8, -5, 3});
	binary_case(t, IR_OP_POW, as, a, bs, b, (const double[]){1, 0.5, 9, 2, 0.2, 36});
	binary_case(t, IR_OP_MINIMUM, as, a, bs, b, (const double[]){0.5, -1, 2, 0.5, -1, 2});
	binary_case(t, IR_OP_MAXIMUM, as, a, bs, b, (const double[]){1, 2, 3, 4, 5, 6});
	const double c[] = {1, 5, 3};
	binary_case(t, IR_OP_GT, as, a, bs, c, (const double[]){0, 0, 0, 1, 0, 1});
	binary_case(t, IR_OP_EQ, as, a, bs, c, (const double[]){1, 0, 1, 0, 1, 0});
	/* [2,1] * [1,3] -> [2,3] outer product */
	binary_case(t, IR_OP_MUL, SH(2, 1), (const double[]){1, 2}, SH(1, 3),
	            (const double[]){10, 20, 30}, (const double[]){10, 20, 30, 20, 40, 60});
	/* [3] - [2,1]: both sides broadcast */
	binary_case(t, IR_OP_SUB, SH(3), (const double[]){1, 2, 3}, SH(2, 1),
	            (const double[]){10, 20}, (const double[]){-9, -8, -7, -19, -18, -17});
	/* [2,3] / scalar */
	binary_case(t, IR_OP_DIV, as, a, ir_shape_scalar(), (const double[]){4},
	            (const double[]){0.25, 0.5, 0.75, 1, 1.25, 1.5});
	/* gelu_grad(x, dy) = dy * (Phi(x) + x phi(x)) */
	binary_case(t, IR_OP_GELU_GRAD, SH(5), UX, SH(5), (const double[]){1, 2, -1, 0.5, 3},
	            (const double[]){-0.1274691922299796, 0.26500975068767424, -0.5,
	                             0.4337475623280814, 3.255695403234591});
}

/* A scalar const broadcast in an add; 1 + 1e-8 is 1 in float32. */
static void const_and_rounding(ir_dtype t)
{
	ir_graph *g = graph(t);
	ir_node *x = input(g, "x", t, SH(2));
	ir_node *c = ok(g, ir_const(g, t, SH(2), 2.5));
	ir_node *y = ok(g, ir_binary(g, IR_OP_ADD, x, ok(g, ir_scalar(g, 1e-8))));
	ir_node *z = ok(g, ir_binary(g, IR_OP_MUL, x, c));
	ir_env *e = ir_env_new(g);
	fill(e, x, (const double[]){1, -4}, 2);
	double *vy = eval1(e, y), *vz = eval1(e, z), *vc = eval1(e, c);
	expect_vals(vc, (const double[]){2.5, 2.5}, 2, t);
	expect_vals(vz, (const double[]){2.5, -10}, 2, t);
	if (t == IR_F32) {
		assert_true(vy[0] == 1.0);   /* exact rounding to float */
		assert_true(vy[1] == -4.0);
	} else {
		assert_true(vy[0] == 1.0 + 1e-8);
	}
	free(vy), free(vz), free(vc);
	/* a value written into an f32 leaf is read as the nearest float */
	fill(e, x, (const double[]){0.1, 1.0 / 3}, 2);
	double *vn = eval1(e, ok(g, ir_unary(g, IR_OP_NEG, x)));
	assert_true(vn[0] == (t == IR_F32 ? -(double)0.1f : -0.1));
	assert_true(vn[1] == (t == IR_F32 ? -(double)(1.0f / 3) : -1.0 / 3));
	free(vn);
	ir_env_free(e);
	ir_graph_free(g);
}

/* ---- data movement ---- */

static void shape_ops(ir_dtype t)
{
	ir_graph *g = graph(t);
	ir_node *x = input(g, "x", t, SH(2, 3));
	ir_node *col = input(g, "col", t, SH(2, 1));
	ir_node *cube = input(g, "cube", t, SH(2, 3, 4));
	ir_node *r = ok(g, ir_reshape(g, x, SH(3, -1)));
	ir_node *tr = ok(g, ir_transpose2(g, x, 0, 1));
	ir_node *b1 = ok(g, ir_broadcast(g, ok(g, ir_reshape(g, x, SH(1, 6))), SH(2, 6)));
	ir_node *b2 = ok(g, ir_broadcast(g, col, SH(2, 3)));
	ir_node *b3 = ok(g, ir_broadcast(g, ok(g, ir_reshape(g, col, SH(2))), SH(3, 2)));
	ir_node *t3 = ok(g, ir_transpose(g, cube, (const int[]){2, 0, 1}));
	ir_env *e = ir_env_new(g);
	double iota[24];
	for (int i = 0; i < 24; i++)
		iota[i] = i;
	fill(e, x, (const double[]){1, 2, 3, 4, 5, 6}, 6);
	fill(e, col, (const double[]){7, 8}, 2);
	fill(e, cube, iota, 24);

	double *v = eval1(e, r);
	assert_int_equal(r->shape.dim[1], 2);
	expect_vals(v, (const double[]){1, 2, 3, 4, 5, 6}, 6, t);
	free(v);
	v = eval1(e, tr);
	expect_vals(v, (const double[]){1, 4, 2, 5, 3, 6}, 6, t);
	free(v);
	v = eval1(e, b1);
	expect_vals(v, (const double[]){1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}, 12, t);
	free(v);
	v = eval1(e, b2);
	expect_vals(v, (const double[]){7, 7, 7, 8, 8, 8}, 6, t);
	free(v);
	v = eval1(e, b3);
	expect_vals(v, (const double[]){7, 8, 7, 8, 7, 8}, 6, t);
	free(v);
	/* out dim i = in dim perm[i]: out [4,2,3], out[a][b][c] = in[b][c][a] = 12b + 4c + a */
	v = eval1(e, t3);
	assert_int_equal(t3->shape.dim[0], 4);
	expect_vals(v, (const double[]){0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21,
	                                2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23}, 24, t);
	free(v);
	ir_env_free(e);
	ir_graph_free(g);
}

/* ---- reductions over x = iota [2,3,2] ---- */

static void reduce_case(ir_dtype t, ir_op op, uint32_t axes, int keepdim, int rank,
                        const int64_t *dims, const double *want)
{
	ir_graph *g = graph(t);
	ir_node *x = input(g, "x", t, SH(2, 3, 2));
	ir_node *y = ok(g, op == IR_OP_COUNT ? ir_mean(g, x, axes, keepdim)
	                                     : ir_reduce(g, op, x, axes, keepdim));
	assert_int_equal(y->shape.rank, rank);
	for (int i = 0; i < rank; i++)
		assert_int_equal(y->shape.dim[i], dims[i]);
	ir_env *e = ir_env_new(g);
	double iota[12];
	for (int i = 0; i < 12; i++)
		iota[i] = i;
	fill(e, x, iota, 12);
	double *v = eval1(e, y);
	expect_vals(v, want, ir_shape_numel(&y->shape), t);
	free(v);
	ir_env_free(e);
	ir_graph_free(g);
}

static void reduce_ops(ir_dtype t)
{
	/* x[i][j][k] = 6i + 2j + k */
	reduce_case(t, IR_OP_SUM, 2, 0, 2, (const int64_t[]){2, 2}, (const double[]){6, 9, 24, 27});
	reduce_case(t, IR_OP_SUM, 2, 1, 3, (const int64_t[]){2, 1, 2}, (const double[]){6, 9, 24, 27});
	/* axes 0 and 2: sum_i,k = 8j + 14 */
	reduce_case(t, IR_OP_SUM, 5, 0, 1, (const int64_t[]){3}, (const double[]){14, 22, 30});
	reduce_case(t, IR_OP_SUM, 5, 1, 3, (const int64_t[]){1, 3, 1}, (const double[]){14, 22, 30});
	reduce_case(t, IR_OP_SUM, 0, 0, 0, NULL, (const double[]){66});
	reduce_case(t, IR_OP_SUM, 1, 0, 2, (const int64_t[]){3, 2},
	            (const double[]){6, 8, 10, 12, 14, 16});
	reduce_case(t, IR_OP_MAX, 2, 0, 2, (const int64_t[]){2, 2}, (const double[]){4, 5, 10, 11});
	reduce_case(t, IR_OP_MAX, 5, 1, 3, (const int64_t[]){1, 3, 1}, (const double[]){7, 9, 11});
	reduce_case(t, IR_OP_MAX, 7, 0, 0, NULL, (const double[]){11});
	/* ir_mean is sum * (1/n) */
	reduce_case(t, IR_OP_COUNT, 0, 0, 0, NULL, (const double[]){5.5});
	reduce_case(t, IR_OP_COUNT, 4, 0, 2, (const int64_t[]){2, 3},
	            (const double[]){0.5, 2.5, 4.5, 6.5, 8.5, 10.5});
}

/* ---- matmul: A = [[1,2,3],[4,5,6]], B = [[7,8],[9,10],[11,12]] ---- */

static void matmul_ops(ir_dtype t)
{
	const double A[] = {1, 2, 3, 4, 5, 6}, At[] = {1, 4, 2, 5, 3, 6};
	const double B[] = {7, 8, 9, 10, 11, 12}, Bt[] = {7, 9, 11, 8, 10, 12};
	const double want[] = {58, 64, 139, 154};
	for (int ta = 0; ta < 2; ta++)
		for (int tb = 0; tb < 2; tb++) {
			ir_graph *g = graph(t);
			ir_node *a = input(g, "a", t, ta ? SH(3, 2) : SH(2, 3));
			ir_node *b = input(g, "b", t, tb ? SH(2, 3) : SH(3, 2));
			ir_node *c = ok(g, ir_matmul(g, a, b, ta, tb));
			ir_env *e = ir_env_new(g);
			fill(e, a, ta ? At : A, 6);
			fill(e, b, tb ? Bt : B, 6);
			double *v = eval1(e, c);
			expect_vals(v, want, 4, t);
			free(v);
			ir_env_free(e);
			ir_graph_free(g);
		}
}

/* m = 5 exercises both the four-row blocks and the leftover row of the
 * GEMM loop; the expected value is the textbook triple loop. */
static void matmul_blocked(ir_dtype t)
{
	enum { M = 5, K = 3, N = 4 };
	double A[M * K], B[K * N], At[K * M], Bt[N * K], want[M * N];
	for (int i = 0; i < M; i++)
		for (int p = 0; p < K; p++)
			At[p * M + i] = A[i * K + p] = (i + 1) * 0.5 - p;
	for (int p = 0; p < K; p++)
		for (int j = 0; j < N; j++)
			Bt[j * K + p] = B[p * N + j] = j * 0.25 + p * p;
	for (int i = 0; i < M; i++)
		for (int j = 0; j < N; j++) {
			want[i * N + j] = 0;
			for (int p = 0; p < K; p++)
				want[i * N + j] += A[i * K + p] * B[p * N + j];
		}
	for (int ta = 0; ta < 2; ta++)
		for (int tb = 0; tb < 2; tb++) {
			ir_graph *g = graph(t);
			ir_node *a = input(g, "a", t, ta ? SH(K, M) : SH(M, K));
			ir_node *b = input(g, "b", t, tb ? SH(N, K) : SH(K, N));
			ir_node *c = ok(g, ir_matmul(g, a, b, ta, tb));
			ir_env *e = ir_env_new(g);
			fill(e, a, ta ? At : A, M * K);
			fill(e, b, tb ? Bt : B, K * N);
			double *v = eval1(e, c);
			expect_vals(v, want, M * N, t);
			free(v);
			ir_env_free(e);
			ir_graph_free(g);
		}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The interpreter trains small MLPs in tests: a layer's GEMM must be quick.
 * Checks values too: A = 1/(1+i+p), B = j - p, so C[i][j] = sum_p A B. */
static void matmul_speed(void **state)
{
	(void)state;
	enum { M = 128, K = 784, N = 256 };
	ir_graph *g = graph(IR_F32);
	ir_node *a = input(g, "a", IR_F32, SH(M, K)), *b = input(g, "b", IR_F32, SH(K, N));
	ir_node *c = ok(g, ir_matmul(g, a, b, 0, 0));
	ir_env *e = ir_env_new(g);
	double *da = ir_env_leaf(e, a), *db = ir_env_leaf(e, b);
	for (int i = 0; i < M; i++)
		for (int p = 0; p < K; p++)
			da[i * K + p] = (double)(float)(1.0 / (1 + i + p));
	for (int p = 0; p < K; p++)
		for (int j = 0; j < N; j++)
			db[p * N + j] = j - p;
	double best = 1e9;
	for (int rep = 0; rep < 3; rep++) {
		double t0 = now_s();
		double *v = eval1(e, c);
		double dt = now_s() - t0;
		best = dt < best ? dt : best;
		for (int i = 0; i < M; i += 37)
			for (int j = 0; j < N; j += 51) {
				double want = 0;
				for (int p = 0; p < K; p++)
					want += da[i * K + p] * db[p * N + j];
				assert_true(fabs(v[i * N + j] - want) <= 1e-6 * fmax(1, fabs(want)));
			}
		free(v);
	}
	ir_env_free(e);
	ir_graph_free(g);
	/* about 5 ms when optimised; the limit leaves room for a loaded machine.
	 * Sanitizer builds check the values only. */
	if (!SANITIZED && best > 0.05)
		fail_msg("[128,784]x[784,256] took %.1f ms (limit 50 ms)", best * 1e3);
}

/* ---- row-wise ---- */

static void softmax_ops(ir_dtype t)
{
	ir_graph *g = graph(t);
	ir_node *x = input(g, "x", t, SH(2, 3));
	ir_node *s = ok(g, ir_softmax(g, IR_OP_SOFTMAX, x, -1));
	ir_node *ls = ok(g, ir_softmax(g, IR_OP_LOG_SOFTMAX, x, 1));
	ir_node *x0 = input(g, "x0", t, SH(2, 2));
	ir_node *s0 = ok(g, ir_softmax(g, IR_OP_SOFTMAX, x0, 0));
	ir_node *ls0 = ok(g, ir_softmax(g, IR_OP_LOG_SOFTMAX, x0, 0));
	ir_env *e = ir_env_new(g);
	/* the second row would overflow exp() without the max subtraction */
	fill(e, x, (const double[]){1, 2, 3, 1000, 1000, 1000}, 6);
	fill(e, x0, (const double[]){1, 2, 3, 5}, 4);
	double *v = eval1(e, s);
	expect_vals(v, (const double[]){0.09003057317038045, 0.2447284710547976, 0.6652409557748218,
	                                1.0 / 3, 1.0 / 3, 1.0 / 3}, 6, t);
	free(v);
	v = eval1(e, ls);
	expect_vals(v, (const double[]){-2.4076059644443806, -1.4076059644443804,
	                                -0.4076059644443804, -1.0986122886681098,
	                                -1.0986122886681098, -1.0986122886681098}, 6, t);
	free(v);
	v = eval1(e, s0);
	expect_vals(v, (const double[]){0.11920292202211755, 0.04742587317756679,
	                                0.8807970779778823, 0.9525741268224334}, 4, t);
	free(v);
	v = eval1(e, ls0);
	expect_vals(v, (const double[]){-2.1269280110429727, -3.048587351573742,
	                                -0.1269280110429726, -0.048587351573741965}, 4, t);
	free(v);
	ir_env_free(e);
	ir_graph_free(g);
}

/*
 * logits [[1,2,3],[1,0,-1]], labels [2,1]. Both rows have logsumexp
 * 3.4076059644443806 - 2 shifted, so -log_softmax is [2.4076,1.4076,0.4076]
 * for row 0 and [0.4076,1.4076,2.4076] for row 1: nll = 0.4076..., 1.4076...
 * With smoothing s = 0.1: (1-s) nll + s mean_c(-logp) = 0.5076..., 1.4076...
 */
static void ce_case(ir_dtype t, double smooth, const double *want_none, double want_mean,
                    const double *grad_mean, const double *grad_none)
{
	ir_graph *g = graph(t);
	ir_node *x = input(g, "logits", t, SH(2, 3));
	ir_node *y = input(g, "labels", IR_I32, SH(2));
	ir_node *dn = input(g, "dnone", t, SH(2));
	ir_node *lm = ok(g, ir_cross_entropy(g, x, y, IR_REDUCE_MEAN, smooth));
	ir_node *ln = ok(g, ir_cross_entropy(g, x, y, IR_REDUCE_NONE, smooth));
	ir_node *gm = ok(g, ir_cross_entropy_grad(g, x, y, ok(g, ir_scalar(g, 2.0)),
	                                          IR_REDUCE_MEAN, smooth));
	ir_node *gn = ok(g, ir_cross_entropy_grad(g, x, y, dn, IR_REDUCE_NONE, smooth));
	ir_env *e = ir_env_new(g);
	fill(e, x, (const double[]){1, 2, 3, 1, 0, -1}, 6);
	fill(e, y, (const double[]){2, 1}, 2);
	fill(e, dn, (const double[]){1.0, -0.5}, 2);
	ir_node *outs[] = {lm, ln, gm, gn};
	double *v[4];
	char err[512];
	if (ir_interp_eval(e, outs, 4, v, err, sizeof err))
		fail_msg("%s", err);
	assert_int_equal(lm->shape.rank, 0);
	expect_vals(v[0], &want_mean, 1, t);
	expect_vals(v[1], want_none, 2, t);
	expect_vals(v[2], grad_mean, 6, t);
	expect_vals(v[3], grad_none, 6, t);
	for (int i = 0; i < 4; i++)
		free(v[i]);
	ir_env_free(e);
	ir_graph_free(g);
}

static void cross_entropy_ops(ir_dtype t)
{
	/* gradients: (softmax - target) * dloss [/N for mean]; dloss = 2 (mean), [1,-0.5] */
	ce_case(t, 0.0, (const double[]){0.4076059644443804, 1.4076059644443804}, 0.9076059644443804,
	        (const double[]){0.09003057317038043, 0.24472847105479764, -0.3347590442251782,
	                         0.6652409557748218, -0.7552715289452023, 0.09003057317038043},
	        (const double[]){0.09003057317038043, 0.24472847105479764, -0.3347590442251782,
	                         -0.3326204778874109, 0.37763576447260117, -0.04501528658519022});
	ce_case(t, 0.1, (const double[]){0.5076059644443804, 1.4076059644443804}, 0.9576059644443804,
	        (const double[]){0.0566972398370471, 0.21139513772146432, -0.26809237755851156,
	                         0.6319076224414885, -0.6886048622785357, 0.0566972398370471},
	        (const double[]){0.0566972398370471, 0.21139513772146432, -0.26809237755851156,
	                         -0.31595381122074423, 0.34430243113926784, -0.02834861991852355});
}

static void correct_op(ir_dtype t)
{
	ir_graph *g = graph(t);
	ir_node *x = input(g, "logits", t, SH(4, 3));
	ir_node *y = input(g, "labels", IR_I32, SH(4));
	ir_node *c = ok(g, ir_correct(g, x, y));
	ir_env *e = ir_env_new(g);
	/* row 0: tie between 1 and 2, the first max (1) wins */
	fill(e, x, (const double[]){1, 3, 3, 1, 3, 3, 2, 1, 0, 0, 0, 5}, 12);
	fill(e, y, (const double[]){1, 2, 0, 1}, 4);
	double *v = eval1(e, c);
	expect_vals(v, (const double[]){1, 0, 1, 0}, 4, t);
	free(v);
	ir_env_free(e);
	ir_graph_free(g);
}

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

#define BOTH(fn) \
	static void fn##_f32(void **s) { (void)s; fn(IR_F32); } \
	static void fn##_f64(void **s) { (void)s; fn(IR_F64); }
BOTH(unary_ops)
BOTH(binary_ops)
BOTH(const_and_rounding)
BOTH(shape_ops)
BOTH(reduce_ops)
BOTH(matmul_ops)
BOTH(matmul_blocked)
BOTH(softmax_ops)
BOTH(cross_entropy_ops)
BOTH(correct_op)
BOTH(assign_swap)
#define T2(fn) cmocka_unit_test(fn##_f32), cmocka_unit_test(fn##_f64)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T2(unary_ops),   T2(binary_ops),        T2(const_and_rounding),
		T2(shape_ops),   T2(reduce_ops),        T2(matmul_ops),
		T2(matmul_blocked),
		T2(softmax_ops), T2(cross_entropy_ops), T2(correct_op),
		T2(assign_swap),
		cmocka_unit_test(ce_grad_fd),
		cmocka_unit_test(gelu_grad_fd),
		cmocka_unit_test(bad_label),
		cmocka_unit_test(graph_grows),
		cmocka_unit_test(exec_roundtrip),
		cmocka_unit_test(exec_state),
		cmocka_unit_test(exec_state_init),
		cmocka_unit_test(matmul_speed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
