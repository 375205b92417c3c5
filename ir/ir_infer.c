/*
 * ir_infer.c - the shape and dtype rule of every op.
 *
 * One function, used twice: by the builder to give a new node its type, and
 * by the verifier to check that a node's stored type still follows the
 * rules after passes have edited the graph.
 */
#include "ir_infer.h"

#include <stdio.h>

#include "ir_conv.h"
#include "ir_embed.h"
#include "ir_pool.h"

#define SHP(s, b) ir_shape_str(&(s), b, sizeof b)

static int fail(ir_graph *g, const ir_node *n, const char *fmt, const char *a,
                const char *b)
{
	char msg[512];
	snprintf(msg, sizeof msg, fmt, a, b);
	ir_error(g, n->loc, "%s: %s", ir_op_name(n->op), msg);
	return -1;
}

static int need_float(ir_graph *g, const ir_node *n, const ir_node *x)
{
	if (ir_dtype_is_float(x->dtype))
		return 0;
	return fail(g, n, "expects a float tensor, got %s%s", ir_dtype_name(x->dtype), "");
}

static int infer_reduce(ir_graph *g, const ir_node *n, ir_shape *s)
{
	const ir_shape *in = &n->in[0]->shape;
	uint32_t axes = ir_attr_i(n, IR_ATTR_AXES);
	if (axes >> in->rank) {
		char b[64];
		return fail(g, n, "reduction axis out of range for shape %s%s", SHP(*in, b), "");
	}
	if (axes == 0)
		axes = (1u << in->rank) - 1;
	ir_shape r = {0};
	for (int i = 0; i < in->rank; i++) {
		if (axes & (1u << i)) {
			if (ir_attr_i(n, IR_ATTR_KEEPDIM))
				r.dim[r.rank++] = 1;
		} else {
			r.dim[r.rank++] = in->dim[i];
		}
	}
	*s = r;
	return 0;
}

static int infer_matmul(ir_graph *g, const ir_node *n, ir_shape *s)
{
	const ir_shape *a = &n->in[0]->shape, *b = &n->in[1]->shape;
	char ba[64], bb[64];
	/* [m,k] x [k,n], or a batch of them: [B,m,k] x [B,k,n] (ta, tb transpose
	 * each matrix) */
	if (!((a->rank == 2 && b->rank == 2) || (a->rank == 3 && b->rank == 3)))
		return fail(g, n, "%s x %s: the operands must be both 2-D or both 3-D", SHP(*a, ba),
		            SHP(*b, bb));
	int o = a->rank - 2;
	if (o && a->dim[0] != b->dim[0])
		return fail(g, n, "%s x %s: batch sizes differ", SHP(*a, ba), SHP(*b, bb));
	int ta = (int)ir_attr_i(n, IR_ATTR_TA), tb = (int)ir_attr_i(n, IR_ATTR_TB);
	int64_t m = ta ? a->dim[o + 1] : a->dim[o], k1 = ta ? a->dim[o] : a->dim[o + 1];
	int64_t k2 = tb ? b->dim[o + 1] : b->dim[o], nn = tb ? b->dim[o] : b->dim[o + 1];
	if (k1 != k2) {
		ir_shape ea = *a, eb = *b;
		if (ta) { ea.dim[o] = m; ea.dim[o + 1] = k1; }
		if (tb) { eb.dim[o] = k2; eb.dim[o + 1] = nn; }
		return fail(g, n, "%s x %s: inner dimensions differ", SHP(ea, ba), SHP(eb, bb));
	}
	int64_t d[3] = {a->dim[0], m, nn};
	*s = ir_shape_make(2 + o, d + 1 - o);
	return 0;
}

static int infer_ce(ir_graph *g, const ir_node *n, ir_shape *s)
{
	const ir_node *lg = n->in[0], *lb = n->in[1];
	int nll = n->op == IR_OP_NLL_LOSS || n->op == IR_OP_NLL_LOSS_GRAD;
	char ba[64], bb[64];
	if (need_float(g, n, lg))
		return -1;
	if (lg->shape.rank != 2)
		return fail(g, n, "%s must be [N,C], got %s", nll ? "log-probabilities" : "logits",
		            SHP(lg->shape, ba));
	if (lb->dtype != IR_I32)
		return fail(g, n, "labels must be an i32 tensor, got %s%s", ir_dtype_name(lb->dtype), "");
	if (lb->shape.rank != 1 || lb->shape.dim[0] != lg->shape.dim[0])
		return fail(g, n, nll ? "log-probabilities %s and labels %s: expected labels of shape [N]"
		                      : "logits %s and labels %s: expected labels of shape [N]",
		            SHP(lg->shape, ba), SHP(lb->shape, bb));
	int64_t N = lg->shape.dim[0];
	if (n->op == IR_OP_CROSS_ENTROPY || n->op == IR_OP_CORRECT || n->op == IR_OP_NLL_LOSS) {
		*s = (n->op == IR_OP_CORRECT || ir_attr_i(n, IR_ATTR_REDUCTION) == IR_REDUCE_NONE)
		         ? ir_shape_make(1, &N) : ir_shape_scalar();
		return 0;
	}
	/* CROSS_ENTROPY_GRAD, NLL_LOSS_GRAD: dloss matches the forward reduction */
	const ir_node *dl = n->in[2];
	ir_shape want = ir_attr_i(n, IR_ATTR_REDUCTION) == IR_REDUCE_NONE ? ir_shape_make(1, &N) : ir_shape_scalar();
	if (!ir_shape_eq(&dl->shape, &want) || dl->dtype != lg->dtype)
		return fail(g, n, "dloss has shape %s, expected %s", SHP(dl->shape, ba), SHP(want, bb));
	*s = lg->shape;
	return 0;
}

/* One rule per op family: the node's shape and dtype from its inputs. */
typedef int (*infer_fn)(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype);

static int infer_leaf(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	(void)g;
	*shape = n->shape;
	*dtype = n->dtype;
	return 0;
}

static int infer_unary(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	const ir_node *x = n->in[0];
	if (need_float(g, n, x))
		return -1;
	*shape = x->shape;
	*dtype = x->dtype;
	return 0;
}

/* numpy broadcasting between two operands of one dtype */
static int infer_binary(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	char ba[64], bb[64];
	const ir_node *x = n->in[0];
	if (x->dtype != n->in[1]->dtype)
		return fail(g, n, "operands have different dtypes (%s and %s)",
		            ir_dtype_name(x->dtype), ir_dtype_name(n->in[1]->dtype));
	if (need_float(g, n, x))
		return -1;
	if (!ir_shape_broadcast(&x->shape, &n->in[1]->shape, shape))
		return fail(g, n, "shapes %s and %s cannot be broadcast together",
		            SHP(x->shape, ba), SHP(n->in[1]->shape, bb));
	*dtype = x->dtype;
	return 0;
}

/* where(cond, a, b): a and b share a dtype; cond's is free */
static int infer_ternary(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	char ba[64], bb[64];
	const ir_node *c = n->in[0], *a = n->in[1], *b = n->in[2];
	ir_shape ab;
	if (a->dtype != b->dtype)
		return fail(g, n, "operands have different dtypes (%s and %s)", ir_dtype_name(a->dtype),
		            ir_dtype_name(b->dtype));
	if (!ir_shape_broadcast(&a->shape, &b->shape, &ab))
		return fail(g, n, "shapes %s and %s cannot be broadcast together", SHP(a->shape, ba),
		            SHP(b->shape, bb));
	if (!ir_shape_broadcast(&c->shape, &ab, shape))
		return fail(g, n, "condition %s cannot be broadcast with %s", SHP(c->shape, ba),
		            SHP(ab, bb));
	*dtype = a->dtype;
	return 0;
}

static int infer_reshape(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	char ba[64], bb[64];
	const ir_node *x = n->in[0];
	*dtype = x->dtype;
	if (ir_shape_numel(&n->shape) != ir_shape_numel(&x->shape))
		return fail(g, n, "cannot reshape %s to %s: element counts differ",
		            SHP(x->shape, ba), SHP(n->shape, bb));
	*shape = n->shape;
	return 0;
}

static int infer_transpose(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	char ba[64];
	const ir_node *x = n->in[0];
	unsigned seen = 0;
	ir_shape r = {0};
	*dtype = x->dtype;
	r.rank = x->shape.rank;
	for (int i = 0; i < r.rank; i++) {
		int p = ir_attr_ints(n, IR_ATTR_PERM)[i];
		if (p < 0 || p >= r.rank || (seen & (1u << p)))
			return fail(g, n, "invalid permutation for shape %s%s", SHP(x->shape, ba), "");
		seen |= 1u << p;
		r.dim[i] = x->shape.dim[p];
	}
	*shape = r;
	return 0;
}

/* the input must broadcast to the target exactly */
static int infer_broadcast(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	char ba[64], bb[64];
	const ir_node *x = n->in[0];
	ir_shape r;
	*dtype = x->dtype;
	if (!ir_shape_broadcast(&x->shape, &n->shape, &r) || !ir_shape_eq(&r, &n->shape))
		return fail(g, n, "cannot broadcast %s to %s", SHP(x->shape, ba), SHP(n->shape, bb));
	*shape = n->shape;
	return 0;
}

/* narrow and pad: one window along dim; the rest of the shape is kept */
static int infer_slice(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	char ba[64], bb[96];
	const ir_node *x = n->in[0];
	int64_t dim = ir_attr_i(n, IR_ATTR_AXIS), start = ir_attr_i(n, IR_ATTR_START);
	int64_t len = n->op == IR_OP_NARROW ? ir_attr_i(n, IR_ATTR_LENGTH) : 0;
	*dtype = x->dtype;
	if (x->shape.rank == 0 || dim < 0 || dim >= x->shape.rank)
		return fail(g, n, "dim out of range for shape %s%s", SHP(x->shape, ba), "");
	ir_shape r = x->shape;
	if (n->op == IR_OP_NARROW) {
		snprintf(bb, sizeof bb, " (dim %lld, start %lld, length %lld)", (long long)dim,
		         (long long)start, (long long)len);
		if (len < 1)
			return fail(g, n, "length must be at least 1%s%s", bb, "");
		if (start < 0 || start + len > x->shape.dim[dim])
			return fail(g, n, "start + length exceeds the size of dim in %s%s", SHP(x->shape, ba), bb);
		r.dim[dim] = len;
	} else {
		int64_t size = ir_attr_i(n, IR_ATTR_SIZE);
		snprintf(bb, sizeof bb, "%lld at start %lld", (long long)size, (long long)start);
		if (start < 0 || start + x->shape.dim[dim] > size)
			return fail(g, n, "%s does not fit in a result of size %s along dim",
			            SHP(x->shape, ba), bb);
		r.dim[dim] = size;
	}
	*shape = r;
	return 0;
}

/* cat: same rank, dtype and sizes but along dim */
static int infer_cat(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	char ba[64], bb[64];
	if (n->nin < 1)
		return fail(g, n, "expects at least one tensor%s%s", "", "");
	const ir_node *x = n->in[0];
	int64_t dim = ir_attr_i(n, IR_ATTR_AXIS);
	if (x->shape.rank == 0 || dim < 0 || dim >= x->shape.rank)
		return fail(g, n, "dim out of range for shape %s%s (zero-dimensional tensors cannot be "
		            "concatenated)", SHP(x->shape, ba), "");
	ir_shape r = x->shape;
	for (int i = 1; i < n->nin; i++) {
		const ir_node *y = n->in[i];
		if (y->dtype != x->dtype)
			return fail(g, n, "tensors have different dtypes (%s and %s)", ir_dtype_name(x->dtype),
			            ir_dtype_name(y->dtype));
		int ok = y->shape.rank == x->shape.rank;
		for (int d = 0; ok && d < r.rank; d++)
			ok = d == dim || y->shape.dim[d] == x->shape.dim[d];
		if (!ok)
			return fail(g, n, "sizes of %s and %s must match except in dim", SHP(x->shape, ba),
			            SHP(y->shape, bb));
		r.dim[dim] += y->shape.dim[dim];
	}
	*shape = r;
	*dtype = x->dtype;
	return 0;
}

static int infer_reduction(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	if (need_float(g, n, n->in[0]))
		return -1;
	*dtype = n->in[0]->dtype;
	return infer_reduce(g, n, shape);
}

static int infer_gemm(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	const ir_node *x = n->in[0];
	if (need_float(g, n, x) || need_float(g, n, n->in[1]))
		return -1;
	if (x->dtype != n->in[1]->dtype)
		return fail(g, n, "operands have different dtypes (%s and %s)",
		            ir_dtype_name(x->dtype), ir_dtype_name(n->in[1]->dtype));
	*dtype = x->dtype;
	return infer_matmul(g, n, shape);
}

static int infer_softmax(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	char ba[64];
	const ir_node *x = n->in[0];
	if (need_float(g, n, x))
		return -1;
	if (ir_attr_i(n, IR_ATTR_AXIS) < 0 || ir_attr_i(n, IR_ATTR_AXIS) >= x->shape.rank)
		return fail(g, n, "dim out of range for shape %s%s", SHP(x->shape, ba), "");
	*shape = x->shape;
	*dtype = x->dtype;
	return 0;
}

static int infer_one_hot(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	const ir_node *lb = n->in[0];
	char ba[64];
	if (lb->dtype != IR_I32 || lb->shape.rank != 1)
		return fail(g, n, "labels must be an i32 tensor [N], got %s%s", ir_dtype_name(lb->dtype),
		            SHP(lb->shape, ba));
	int64_t d[2] = {lb->shape.dim[0], ir_attr_i(n, IR_ATTR_NCLASSES)};
	*shape = ir_shape_make(2, d);
	*dtype = g->fdtype;
	return 0;
}

static int infer_loss(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	*dtype = n->in[0]->dtype;
	return infer_ce(g, n, shape);
}

static int infer_assign(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	char ba[64], bb[64];
	const ir_node *t = n->in[0], *v = n->in[1];
	if (t->op != IR_OP_PARAM && t->op != IR_OP_STATE)
		return fail(g, n, "target must be a param or state, not %s%s", ir_op_name(t->op), "");
	if (!ir_shape_eq(&t->shape, &v->shape) || t->dtype != v->dtype)
		return fail(g, n, "value %s does not match target %s", SHP(v->shape, ba), SHP(t->shape, bb));
	*shape = t->shape;
	*dtype = t->dtype;
	return 0;
}

/* The shape facet of every op. */
static const infer_fn rules[IR_OP_COUNT] = {
	[IR_OP_PARAM] = infer_leaf,
	[IR_OP_INPUT] = infer_leaf,
	[IR_OP_STATE] = infer_leaf,
	[IR_OP_CONST] = infer_leaf,
	[IR_OP_MODE] = infer_leaf,
#define E1(e, f, gr, lo) [IR_OP_##e] = infer_unary,
#define E2(e, f, ga, gb, lo) [IR_OP_##e] = infer_binary,
#define E3(e, f, ga, gb, gc, lo) [IR_OP_##e] = infer_ternary,
#include "ir_ops_elem.def"
#undef E1
#undef E2
#undef E3
	[IR_OP_RESHAPE] = infer_reshape,
	[IR_OP_TRANSPOSE] = infer_transpose,
	[IR_OP_BROADCAST] = infer_broadcast,
	[IR_OP_NARROW] = infer_slice,
	[IR_OP_PAD] = infer_slice,
	[IR_OP_CAT] = infer_cat,
	[IR_OP_SUM] = infer_reduction,
	[IR_OP_MAX] = infer_reduction,
	[IR_OP_MATMUL] = infer_gemm,
	[IR_OP_SOFTMAX] = infer_softmax,
	[IR_OP_LOG_SOFTMAX] = infer_softmax,
	[IR_OP_CROSS_ENTROPY] = infer_loss,
	[IR_OP_CROSS_ENTROPY_GRAD] = infer_loss,
	[IR_OP_CORRECT] = infer_loss,
	[IR_OP_NLL_LOSS] = infer_loss,
	[IR_OP_NLL_LOSS_GRAD] = infer_loss,
	[IR_OP_ONE_HOT] = infer_one_hot,
	[IR_OP_ASSIGN] = infer_assign,
	[IR_OP_EMBEDDING] = ir_embed_infer,
	[IR_OP_EMBEDDING_GRAD] = ir_embed_infer,
	[IR_OP_MAX_POOL2D] = ir_pool_infer,
	[IR_OP_AVG_POOL2D] = ir_pool_infer,
	[IR_OP_ADAPTIVE_AVG_POOL2D] = ir_pool_infer,
	[IR_OP_MAX_POOL2D_GRAD] = ir_pool_infer,
	[IR_OP_AVG_POOL2D_GRAD] = ir_pool_infer,
	[IR_OP_ADAPTIVE_AVG_POOL2D_GRAD] = ir_pool_infer,
	[IR_OP_CONV2D] = ir_conv_infer,
	[IR_OP_CONV2D_BWD_DATA] = ir_conv_infer,
	[IR_OP_CONV2D_BWD_WEIGHT] = ir_conv_infer,
	[IR_OP_RANK_SUM] = infer_unary, /* a float tensor, kept as it is */
};

int ir_infer_has_rule(ir_op op)
{
	return op < IR_OP_COUNT && rules[op] != NULL;
}

int ir_infer(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	for (int i = 0; i < n->nin; i++)
		if (!n->in[i])
			return fail(g, n, "missing input%s%s", "", "");
	if (!ir_infer_has_rule(n->op))
		return fail(g, n, "no shape rule%s%s", "", "");
	int ar = ir_op_arity(n->op);
	if (ar >= 0 && n->nin != ar) {
		char a[16], b[16];
		snprintf(a, sizeof a, "%d", ar);
		snprintf(b, sizeof b, "%d", n->nin);
		return fail(g, n, "takes %s inputs, got %s", a, b);
	}
	return rules[n->op](g, n, shape, dtype);
}
