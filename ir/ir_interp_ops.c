/*
 * ir_interp_ops.c - the interpreter's kernels: one case per op of
 * IR_OP_TABLE, written for obviousness (double arithmetic, one rounding to
 * the node's dtype at the end). The semantics follow PyTorch's.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir_interp.h"
#include "ir_conv.h"
#include "ir_embed.h"
#include "ir_pool.h"

/* "file:line: op: message", or "node %id (op): message" for pass-made nodes. */
int ir_interp_err(const ir_node *n, char *err, size_t errlen, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (err && errlen) {
		if (n->loc.file && n->loc.line > 0)
			snprintf(err, errlen, "%s:%d: %s: %s", n->loc.file, n->loc.line,
			         ir_op_name(n->op), msg);
		else
			snprintf(err, errlen, "node %%%d (%s): %s", n->id, ir_op_name(n->op), msg);
	}
	return -1;
}

static double rnd(ir_dtype t, double v)
{
	return t == IR_F32 ? (double)(float)v : v;
}

static void round_all(ir_dtype t, double *v, int64_t n)
{
	if (t != IR_F32)
		return;
	for (int64_t i = 0; i < n; i++)
		v[i] = (double)(float)v[i];
}

/* Row-major strides of `s`. */
static void row_strides(const ir_shape *s, int64_t *st)
{
	int64_t acc = 1;
	for (int i = s->rank - 1; i >= 0; i--) {
		st[i] = acc;
		acc *= s->dim[i];
	}
}

/*
 * Offsets into `in` for every element of `out` (row-major), given the
 * stride each output dim moves in `in` (0 = broadcast). NULL when out of
 * memory; an empty output gives a 1-element dummy.
 */
static int64_t *walk_offsets(const ir_shape *out, const int64_t *st)
{
	int64_t n = ir_shape_numel(out);
	int64_t *off = malloc((size_t)(n > 0 ? n : 1) * sizeof *off);
	if (!off || n == 0)
		return off;
	int64_t idx[IR_MAX_DIMS] = {0};
	int64_t cur = 0;
	for (int64_t i = 0; i < n; i++) {
		off[i] = cur;
		for (int d = out->rank - 1; d >= 0; d--) {
			idx[d]++;
			cur += st[d];
			if (idx[d] < out->dim[d])
				break;
			cur -= st[d] * idx[d];
			idx[d] = 0;
		}
	}
	return off;
}

/* Strides that read `in` broadcast to `out` (numpy rules, right-aligned).
 * 0 if the shapes are not compatible. */
static int bcast_strides(const ir_shape *in, const ir_shape *out, int64_t *st)
{
	if (in->rank > out->rank)
		return 0;
	int64_t acc = 1;
	for (int i = out->rank - 1, j = in->rank - 1; i >= 0; i--, j--) {
		if (j < 0) {
			st[i] = 0;
			continue;
		}
		if (in->dim[j] != 1 && in->dim[j] != out->dim[i])
			return 0;
		st[i] = in->dim[j] == 1 ? 0 : acc;
		acc *= in->dim[j];
	}
	return 1;
}

/* Offsets that read `in` broadcast to `out`; *off = NULL when the shapes are
 * equal (identity). Returns -1 (with a message) on mismatch or no memory. */
static int bcast_offsets(const ir_node *n, const ir_shape *in, const ir_shape *out,
                         int64_t **off, char *err, size_t errlen)
{
	char a[64], b[64];
	int64_t st[IR_MAX_DIMS];
	*off = NULL;
	if (ir_shape_eq(in, out))
		return 0;
	if (!bcast_strides(in, out, st))
		return ir_interp_err(n, err, errlen, "cannot broadcast %s to %s",
		                ir_shape_str(in, a, sizeof a), ir_shape_str(out, b, sizeof b));
	*off = walk_offsets(out, st);
	if (!*off)
		return ir_interp_err(n, err, errlen, "out of memory");
	return 0;
}

/* The elementwise family's formulas (ir_ops_elem.def). */
static double unary(const ir_node *n, double x)
{
#define AT(k) rnd(n->dtype, ir_attr_f(n, IR_ATTR_##k))
	switch (n->op) {
#define E1(e, f, gr, lo) case IR_OP_##e: return f;
#define E2(e, f, ga, gb, lo)
#define E3(e, f, ga, gb, gc, lo)
#include "ir_ops_elem.def"
#undef E1
#undef E2
#undef E3
	default: return NAN;
	}
#undef AT
}

static double binary(ir_op op, ir_dtype t, double a, double b)
{
	switch (op) {
#define E1(e, f, gr, lo)
#define E2(e, f, ga, gb, lo) case IR_OP_##e: return f;
#define E3(e, f, ga, gb, gc, lo)
#include "ir_ops_elem.def"
#undef E1
#undef E2
#undef E3
	default: return NAN;
	}
}

static double ternary(ir_op op, double a, double b, double c)
{
	switch (op) {
#define E1(e, f, gr, lo)
#define E2(e, f, ga, gb, lo)
#define E3(e, f, ga, gb, gc, lo) case IR_OP_##e: return f;
#include "ir_ops_elem.def"
#undef E1
#undef E2
#undef E3
	default: return NAN;
	}
}

static int run_unary(const ir_node *n, const double *const *in, double *out, char *err,
                     size_t errlen)
{
	int64_t cnt = ir_shape_numel(&n->shape);
	if (ir_shape_numel(&n->in[0]->shape) != cnt)
		return ir_interp_err(n, err, errlen, "input and result sizes differ");
	for (int64_t i = 0; i < cnt; i++)
		out[i] = rnd(n->dtype, unary(n, in[0][i]));
	return 0;
}

static int run_binary(const ir_node *n, const double *const *in, double *out, char *err,
                      size_t errlen)
{
	const double *A = in[0], *B = in[1];
	int64_t *oa, *ob;
	int64_t cnt = ir_shape_numel(&n->shape);
	if (bcast_offsets(n, &n->in[0]->shape, &n->shape, &oa, err, errlen))
		return -1;
	if (bcast_offsets(n, &n->in[1]->shape, &n->shape, &ob, err, errlen)) {
		free(oa);
		return -1;
	}
	for (int64_t i = 0; i < cnt; i++)
		out[i] = rnd(n->dtype, binary(n->op, n->dtype, A[oa ? oa[i] : i], B[ob ? ob[i] : i]));
	free(oa);
	free(ob);
	return 0;
}

static int run_ternary(const ir_node *n, const double *const *in, double *out, char *err,
                       size_t errlen)
{
	int64_t *off[3] = {NULL, NULL, NULL}, cnt = ir_shape_numel(&n->shape);
	int rc = 0;
	for (int k = 0; k < 3 && rc == 0; k++)
		rc = bcast_offsets(n, &n->in[k]->shape, &n->shape, &off[k], err, errlen);
	for (int64_t i = 0; i < cnt && rc == 0; i++)
		out[i] = rnd(n->dtype, ternary(n->op, in[0][off[0] ? off[0][i] : i],
		                               in[1][off[1] ? off[1][i] : i], in[2][off[2] ? off[2][i] : i]));
	for (int k = 0; k < 3; k++)
		free(off[k]);
	return rc;
}

/* Gathers out[i] = in[off[i]] (BROADCAST, TRANSPOSE). */
static int run_gather(const ir_node *n, const double *in, const int64_t *st, double *out,
                      char *err, size_t errlen)
{
	int64_t cnt = ir_shape_numel(&n->shape);
	int64_t *off = walk_offsets(&n->shape, st);
	if (!off)
		return ir_interp_err(n, err, errlen, "out of memory");
	for (int64_t i = 0; i < cnt; i++)
		out[i] = rnd(n->dtype, in[off[i]]);
	free(off);
	return 0;
}

static int run_transpose(const ir_node *n, const double *const *ins, double *out,
                         char *err, size_t errlen)
{
	const double *in = ins[0];
	const ir_shape *s = &n->in[0]->shape;
	int64_t ist[IR_MAX_DIMS], st[IR_MAX_DIMS];
	int seen = 0;
	if (s->rank != n->shape.rank)
		return ir_interp_err(n, err, errlen, "rank %d input for a rank %d result",
		                s->rank, n->shape.rank);
	row_strides(s, ist);
	for (int i = 0; i < n->shape.rank; i++) {
		int p = ir_attr_ints(n, IR_ATTR_PERM)[i];
		if (p < 0 || p >= s->rank || (seen & (1 << p)) || s->dim[p] != n->shape.dim[i])
			return ir_interp_err(n, err, errlen, "perm[%d] = %d is not a valid permutation entry",
			                i, p);
		seen |= 1 << p;
		st[i] = ist[p];
	}
	return run_gather(n, in, st, out, err, errlen);
}

/* SUM and MAX over the bitmask ir_attr_i(n, IR_ATTR_AXES) of the input's dims (0 = all). */
static int run_reduce(const ir_node *n, const double *const *ins, double *out,
                      char *err, size_t errlen)
{
	const double *in = ins[0];
	const ir_shape *s = &n->in[0]->shape;
	uint32_t axes = ir_attr_i(n, IR_ATTR_AXES) ? ir_attr_i(n, IR_ATTR_AXES) : (uint32_t)((1u << s->rank) - 1);
	int64_t ost[IR_MAX_DIMS], st[IR_MAX_DIMS];
	int64_t onum = ir_shape_numel(&n->shape), inum = ir_shape_numel(s);
	int o = 0;
	row_strides(&n->shape, ost);
	for (int i = 0; i < s->rank; i++) {
		int red = (axes >> i) & 1;
		int od = ir_attr_i(n, IR_ATTR_KEEPDIM) ? i : o;
		if (!red || ir_attr_i(n, IR_ATTR_KEEPDIM)) {
			if (od >= n->shape.rank || n->shape.dim[od] != (red ? 1 : s->dim[i]))
				return ir_interp_err(n, err, errlen, "result shape does not match the reduced input");
			o = od + 1;
		}
		st[i] = red ? 0 : ost[od];
	}
	if (o != n->shape.rank)
		return ir_interp_err(n, err, errlen, "result shape does not match the reduced input");
	int64_t *off = walk_offsets(s, st);
	if (!off)
		return ir_interp_err(n, err, errlen, "out of memory");
	for (int64_t i = 0; i < onum; i++)
		out[i] = n->op == IR_OP_SUM ? 0.0 : -INFINITY;
	for (int64_t i = 0; i < inum; i++) {
		double *d = &out[off[i]];
		if (n->op == IR_OP_SUM)
			*d += in[i];
		else if (isnan(in[i]) || in[i] > *d)
			*d = isnan(*d) ? *d : in[i];
	}
	free(off);
	round_all(n->dtype, out, onum);
	return 0;
}

/*
 * C[m,n] = A B with B stored [k,n]; A stored [m,k], or [k,m] when ta.
 * i-p-j order so the inner loop streams a row of B into rows of C, four
 * rows of C at a time so each row of B read serves four; every C[i][j] is
 * still summed over p in increasing order. The trainer tests run the
 * interpreter in debug builds, so GCC is asked to optimise this loop nest
 * whatever the build type (no contraction under -std=c11: same result).
 */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("O3")))
#endif
static void gemm_rows(const double *A, const double *B, double *C, int64_t m, int64_t k,
                      int64_t nn, int ta)
{
	for (int64_t i = 0; i < m * nn; i++)
		C[i] = 0.0;
	int64_t i = 0;
	for (; i + 4 <= m; i += 4) {
		double *restrict c0 = C + i * nn, *restrict c1 = c0 + nn;
		double *restrict c2 = c1 + nn, *restrict c3 = c2 + nn;
		for (int64_t p = 0; p < k; p++) {
			double a0 = ta ? A[p * m + i] : A[i * k + p];
			double a1 = ta ? A[p * m + i + 1] : A[(i + 1) * k + p];
			double a2 = ta ? A[p * m + i + 2] : A[(i + 2) * k + p];
			double a3 = ta ? A[p * m + i + 3] : A[(i + 3) * k + p];
			const double *restrict b = B + p * nn;
			for (int64_t j = 0; j < nn; j++) {
				double bj = b[j];
				c0[j] += a0 * bj;
				c1[j] += a1 * bj;
				c2[j] += a2 * bj;
				c3[j] += a3 * bj;
			}
		}
	}
	for (; i < m; i++) {
		double *restrict c = C + i * nn;
		for (int64_t p = 0; p < k; p++) {
			double a = ta ? A[p * m + i] : A[i * k + p];
			const double *restrict b = B + p * nn;
			for (int64_t j = 0; j < nn; j++)
				c[j] += a * b[j];
		}
	}
}

/* [m,k] x [k,n]; a stored operand is [k,m] when ta, [n,k] when tb. */
static int run_matmul(const ir_node *n, const double *const *in, double *C,
                      char *err, size_t errlen)
{
	const ir_shape *sa = &n->in[0]->shape, *sb = &n->in[1]->shape;
	int o = n->shape.rank - 2; /* 1: a batch of products [B,m,n] */
	if (o < 0 || o > 1 || sa->rank != n->shape.rank || sb->rank != n->shape.rank)
		return ir_interp_err(n, err, errlen, "only rank-2 or rank-3 operands are supported");
	int ta = (int)ir_attr_i(n, IR_ATTR_TA), tb = (int)ir_attr_i(n, IR_ATTR_TB);
	int64_t batch = o ? n->shape.dim[0] : 1, m = n->shape.dim[o], nn = n->shape.dim[o + 1];
	int64_t k = ta ? sa->dim[o] : sa->dim[o + 1];
	if ((ta ? sa->dim[o + 1] : sa->dim[o]) != m || (tb ? sb->dim[o + 1] : sb->dim[o]) != k ||
	    (tb ? sb->dim[o] : sb->dim[o + 1]) != nn || (o && (sa->dim[0] != batch || sb->dim[0] != batch)))
		return ir_interp_err(n, err, errlen, "operand shapes do not match the result");
	double *bt = NULL;
	if (tb) {
		bt = malloc((size_t)(k * nn > 0 ? k * nn : 1) * sizeof *bt);
		if (!bt)
			return ir_interp_err(n, err, errlen, "out of memory");
	}
	for (int64_t b = 0; b < batch; b++) {
		const double *A = in[0] + b * m * k, *B = in[1] + b * k * nn, *Bk = B;
		if (tb) {
			for (int64_t j = 0; j < nn; j++)
				for (int64_t p = 0; p < k; p++)
					bt[p * nn + j] = B[j * k + p];
			Bk = bt;
		}
		gemm_rows(A, Bk, C + b * m * nn, m, k, nn, ta);
	}
	free(bt);
	round_all(n->dtype, C, batch * m * nn);
	return 0;
}

/* SOFTMAX / LOG_SOFTMAX along ir_attr_i(n, IR_ATTR_AXIS), max-subtracted. */
static int run_softmax(const ir_node *n, const double *const *in, double *y, char *err,
                       size_t errlen)
{
	const double *x = in[0];
	const ir_shape *s = &n->shape;
	if (ir_attr_i(n, IR_ATTR_AXIS) < 0 || ir_attr_i(n, IR_ATTR_AXIS) >= s->rank)
		return ir_interp_err(n, err, errlen, "axis %d is outside a rank %d tensor",
		                (int)ir_attr_i(n, IR_ATTR_AXIS), s->rank);
	int64_t outer = 1, len = s->dim[ir_attr_i(n, IR_ATTR_AXIS)], inner = 1;
	for (int i = 0; i < ir_attr_i(n, IR_ATTR_AXIS); i++)
		outer *= s->dim[i];
	for (int i = ir_attr_i(n, IR_ATTR_AXIS) + 1; i < s->rank; i++)
		inner *= s->dim[i];
	for (int64_t o = 0; o < outer; o++) {
		for (int64_t q = 0; q < inner; q++) {
			const double *xr = x + o * len * inner + q;
			double *yr = y + o * len * inner + q;
			double mx = -INFINITY, sum = 0.0;
			for (int64_t c = 0; c < len; c++)
				mx = xr[c * inner] > mx ? xr[c * inner] : mx;
			for (int64_t c = 0; c < len; c++)
				sum += exp(xr[c * inner] - mx);
			for (int64_t c = 0; c < len; c++) {
				double v = xr[c * inner] - mx;
				yr[c * inner] = rnd(n->dtype, n->op == IR_OP_SOFTMAX ? exp(v) / sum
				                                                      : v - log(sum));
			}
		}
	}
	return 0;
}

static int run_const(const ir_node *n, const double *const *in, double *out, char *err,
                     size_t errlen)
{
	(void)in, (void)err, (void)errlen;
	for (int64_t i = 0; i < ir_shape_numel(&n->shape); i++)
		out[i] = rnd(n->dtype, ir_attr_f(n, IR_ATTR_VALUE));
	return 0;
}

static int run_reshape(const ir_node *n, const double *const *in, double *out, char *err,
                       size_t errlen)
{
	int64_t cnt = ir_shape_numel(&n->shape);
	if (ir_shape_numel(&n->in[0]->shape) != cnt)
		return ir_interp_err(n, err, errlen, "input and result sizes differ");
	for (int64_t i = 0; i < cnt; i++)
		out[i] = rnd(n->dtype, in[0][i]);
	return 0;
}

static int run_broadcast(const ir_node *n, const double *const *in, double *out, char *err,
                         size_t errlen)
{
	int64_t st[IR_MAX_DIMS];
	if (!bcast_strides(&n->in[0]->shape, &n->shape, st))
		return ir_interp_err(n, err, errlen, "input does not broadcast to the result");
	return run_gather(n, in[0], st, out, err, errlen);
}

/* the new value of the target, in the target's shape and dtype */
static int run_assign(const ir_node *n, const double *const *in, double *out, char *err,
                      size_t errlen)
{
	const ir_shape *ts = &n->in[0]->shape;
	int64_t *off;
	if (bcast_offsets(n, &n->in[1]->shape, ts, &off, err, errlen))
		return -1;
	for (int64_t i = 0; i < ir_shape_numel(ts); i++)
		out[i] = rnd(n->in[0]->dtype, in[1][off ? off[i] : i]);
	free(off);
	return 0;
}

typedef int (*interp_fn)(const ir_node *n, const double *const *in, double *out, char *err,
                         size_t errlen);

/* rank_sum on one rank: the identity. Over several ranks the driver sums
 * the value through its env's callback (ir_env_set_rank_sum). */
static int run_rank_sum(const ir_node *n, const double *const *in, double *out, char *err,
                        size_t errlen)
{
	(void)err, (void)errlen;
	memcpy(out, in[0], (size_t)ir_shape_numel(&n->shape) * sizeof *out);
	return 0;
}

/* The interpreter's facet of every op that computes (leaves other than
 * CONST take their values from the env or from a pass). */
static const interp_fn kernels[IR_OP_COUNT] = {
#define E1(e, f, gr, lo) [IR_OP_##e] = run_unary,
#define E2(e, f, ga, gb, lo) [IR_OP_##e] = run_binary,
#define E3(e, f, ga, gb, gc, lo) [IR_OP_##e] = run_ternary,
#include "ir_ops_elem.def"
#undef E1
#undef E2
#undef E3
	[IR_OP_CONST] = run_const,
	[IR_OP_RESHAPE] = run_reshape,
	[IR_OP_TRANSPOSE] = run_transpose,
	[IR_OP_BROADCAST] = run_broadcast,
	[IR_OP_NARROW] = ir_interp_slice,
	[IR_OP_PAD] = ir_interp_slice,
	[IR_OP_CAT] = ir_interp_cat,
	[IR_OP_SUM] = run_reduce,
	[IR_OP_MAX] = run_reduce,
	[IR_OP_MATMUL] = run_matmul,
	[IR_OP_SOFTMAX] = run_softmax,
	[IR_OP_LOG_SOFTMAX] = run_softmax,
	[IR_OP_CROSS_ENTROPY] = ir_interp_rowwise_loss,
	[IR_OP_CROSS_ENTROPY_GRAD] = ir_interp_rowwise_loss,
	[IR_OP_NLL_LOSS] = ir_interp_rowwise_loss,
	[IR_OP_NLL_LOSS_GRAD] = ir_interp_rowwise_loss,
	[IR_OP_ONE_HOT] = ir_interp_one_hot,
	[IR_OP_CORRECT] = ir_interp_rowwise_loss,
	[IR_OP_ASSIGN] = run_assign,
	[IR_OP_EMBEDDING] = ir_embed_run,
	[IR_OP_EMBEDDING_GRAD] = ir_embed_run,
	[IR_OP_MAX_POOL2D] = ir_pool_run,
	[IR_OP_AVG_POOL2D] = ir_pool_run,
	[IR_OP_ADAPTIVE_AVG_POOL2D] = ir_pool_run,
	[IR_OP_MAX_POOL2D_GRAD] = ir_pool_run,
	[IR_OP_AVG_POOL2D_GRAD] = ir_pool_run,
	[IR_OP_ADAPTIVE_AVG_POOL2D_GRAD] = ir_pool_run,
	[IR_OP_CONV2D] = ir_conv_run,
	[IR_OP_CONV2D_BWD_DATA] = ir_conv_run,
	[IR_OP_CONV2D_BWD_WEIGHT] = ir_conv_run,
	[IR_OP_RANK_SUM] = run_rank_sum,
};

int ir_interp_has_kernel(ir_op op)
{
	return op < IR_OP_COUNT && kernels[op] != NULL;
}

int ir_interp_node(const ir_node *n, const double *const *in, double *out,
                   char *err, size_t errlen)
{
	for (int i = 0; i < n->nin; i++)
		if (!in[i])
			return ir_interp_err(n, err, errlen, "input %d has no value", i);
	if (n->op == IR_OP_PARAM || n->op == IR_OP_INPUT || n->op == IR_OP_STATE)
		return ir_interp_err(n, err, errlen, "a leaf's value comes from the env, not a kernel");
	if (n->op == IR_OP_MODE)
		return ir_interp_err(n, err, errlen, "the train/eval mode is not resolved (ir_resolve_mode)");
	if (!ir_interp_has_kernel(n->op))
		return ir_interp_err(n, err, errlen, "op %d has no interpreter kernel", (int)n->op);
	return kernels[n->op](n, in, out, err, errlen);
}
