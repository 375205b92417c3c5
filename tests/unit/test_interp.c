/*
 * test_interp.c - the reference interpreter's ops against hand-derived
 * values: elementwise, data movement, reductions, matmul, row-wise ops.
 *
 * Every op gets a small graph whose expected result is written out below
 * (derived by hand, or from the closed forms with libm/PyTorch in float64),
 * never from the interpreter itself. Each check runs in an f64 graph and an
 * f32 graph: f64 must agree to 1e-12 relative, f32 to 1e-6 relative (a float
 * has 24 bits, 6e-8 relative, and each op rounds once), and every f32 value
 * must be exactly representable as a float. Gradient ops, steps and the
 * rt_exec wrapper: test_interp_step.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_interp.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		T2(unary_ops),   T2(binary_ops),        T2(const_and_rounding),
		T2(shape_ops),   T2(reduce_ops),        T2(matmul_ops),
		T2(matmul_blocked),
		T2(softmax_ops), T2(cross_entropy_ops), T2(correct_op),
		cmocka_unit_test(matmul_speed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
