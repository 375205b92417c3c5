/*
 * pass_autodiff.c - reverse-mode autodiff: one derivative rule per op.
 *
 * Walks the nodes between the wrt set and the loss in reverse order,
 * accumulating each node's adjoint (the sum over its uses) before pushing
 * it to its inputs. Only nodes that depend on a wrt node and that the loss
 * depends on are visited, so constants, labels and unrelated metrics get
 * no backward nodes. Backward nodes carry the location of the forward node
 * they differentiate, so an error in them still names a model line.
 */
#include "pass_autodiff.h"
#include "ir_conv.h"
#include "ir_pool.h"

#include <stdlib.h>
#include <string.h>

ir_node *pass_unbroadcast(ir_graph *g, ir_node *d, const ir_shape *shape)
{
	if (!d)
		return NULL;
	if (ir_shape_eq(&d->shape, shape))
		return d;
	int R = d->shape.rank, lead = R - shape->rank;
	uint32_t axes = 0;
	for (int i = 0; i < R; i++)
		if (i < lead || (shape->dim[i - lead] == 1 && d->shape.dim[i] != 1))
			axes |= 1u << i;
	ir_node *s = axes ? ir_reduce(g, IR_OP_SUM, d, axes, 1) : d;
	return s ? ir_reshape(g, s, *shape) : NULL;
}

/* Adjoint bookkeeping: adj[id] accumulates contributions. */
typedef struct {
	ir_graph *g;
	ir_node **adj;
	char *need;       /* need[id]: node lies between wrt and loss */
} ad_state;

static int accum(ad_state *s, ir_node *x, ir_node *c)
{
	if (!s->need[x->id])
		return 0;
	if (!c)
		return -1;
	c = pass_unbroadcast(s->g, c, &x->shape);
	if (!c)
		return -1;
	s->adj[x->id] = s->adj[x->id] ? ir_binary(s->g, IR_OP_ADD, s->adj[x->id], c) : c;
	return s->adj[x->id] ? 0 : -1;
}

static ir_node *k(ir_graph *g, const ir_node *like, double v)
{
	return ir_const(g, like->dtype, ir_shape_scalar(), v);
}

/* The adjoint of a reduction's output, expanded back to its input's shape. */
static ir_node *expand_reduced(ir_graph *g, const ir_node *n, ir_node *d)
{
	const ir_shape *in = &n->in[0]->shape;
	uint32_t axes = ir_attr_i(n, IR_ATTR_AXES) ? ir_attr_i(n, IR_ATTR_AXES) : (1u << in->rank) - 1;
	ir_shape kept = *in;
	for (int i = 0; i < in->rank; i++)
		if (axes & (1u << i))
			kept.dim[i] = 1;
	ir_node *r = ir_reshape(g, d, kept);
	return r ? ir_broadcast(g, r, *in) : NULL;
}

static int rule_matmul(ad_state *s, ir_node *n, ir_node *d)
{
	ir_graph *g = s->g;
	ir_node *A = n->in[0], *B = n->in[1];
	ir_node *dA = NULL, *dB = NULL;
	if (s->need[A->id]) {
		if (!ir_attr_i(n, IR_ATTR_TA))
			dA = ir_matmul(g, d, B, 0, !ir_attr_i(n, IR_ATTR_TB));           /* dC op(B)^T */
		else
			dA = ir_attr_i(n, IR_ATTR_TB) ? ir_matmul(g, B, d, 1, 1) : ir_matmul(g, B, d, 0, 1);
		if (accum(s, A, dA))
			return -1;
	}
	if (s->need[B->id]) {
		if (!ir_attr_i(n, IR_ATTR_TB))
			dB = ir_matmul(g, A, d, !ir_attr_i(n, IR_ATTR_TA), 0);           /* op(A)^T dC */
		else
			dB = ir_attr_i(n, IR_ATTR_TA) ? ir_matmul(g, d, A, 1, 1) : ir_matmul(g, d, A, 1, 0);
		if (accum(s, B, dB))
			return -1;
	}
	return 0;
}

/* The elementwise family's derivatives (ir/ir_ops_elem.def): one rule
 * function per op. */
#define U(op, v) ir_unary(g, IR_OP_##op, v)
#define T(op, u, v, w) ir_where(g, u, v, w) /* the one ternary op */
#define B(op, v, w) ir_binary(g, IR_OP_##op, v, w)
#define K(v) k(g, n, v)
#define AT(key) ir_attr_f(n, IR_ATTR_##key)
#define ZERO NULL
#define NONE NULL
#define E1(e, f, gr, lo)                                            \
	static int grad_##e(ad_state *s, ir_node *n, ir_node *d)        \
	{                                                               \
		ir_graph *g = s->g;                                         \
		ir_node *x = n->in[0], *y = n;                              \
		(void)g, (void)y;                                           \
		return accum(s, x, gr);                                     \
	}
#define E2(e, f, ga, gb, lo)                                        \
	static int grad_##e(ad_state *s, ir_node *n, ir_node *d)        \
	{                                                               \
		ir_graph *g = s->g;                                         \
		ir_node *a = n->in[0], *b = n->in[1], *y = n;               \
		(void)g, (void)y;                                           \
		if (s->need[a->id] && accum(s, a, ga))                      \
			return -1;                                              \
		return s->need[b->id] ? accum(s, b, gb) : 0;                \
	}
/* an input whose column is ZERO (a condition) gets no adjoint; #ga is
 * the column as written, before ZERO expands */
#define E3(e, f, ga, gb, gc, lo)                                              \
	static int grad_##e(ad_state *s, ir_node *n, ir_node *d)                  \
	{                                                                         \
		ir_graph *g = s->g;                                                   \
		ir_node *a = n->in[0], *b = n->in[1], *c = n->in[2], *y = n;          \
		(void)g, (void)y;                                                     \
		if (s->need[a->id] && strcmp(#ga, "ZERO") && accum(s, a, ga))         \
			return -1;                                                        \
		if (s->need[b->id] && strcmp(#gb, "ZERO") && accum(s, b, gb))         \
			return -1;                                                        \
		return s->need[c->id] && strcmp(#gc, "ZERO") ? accum(s, c, gc) : 0;   \
	}
#include "ir_ops_elem.def"
#undef E1
#undef E2
#undef E3

static int grad_reshape(ad_state *s, ir_node *n, ir_node *d)
{
	return accum(s, n->in[0], ir_reshape(s->g, d, n->in[0]->shape));
}

/* y = sum over the ranks of x_r: every rank's loss reads y, so x_r's
 * adjoint is the sum over the ranks of theirs (SyncBatchNorm's backward
 * all-reduce of its sums of dy and dy * xhat) */
static int grad_rank_sum(ad_state *s, ir_node *n, ir_node *d)
{
	return accum(s, n->in[0], ir_rank_sum(s->g, d));
}

static int grad_transpose(ad_state *s, ir_node *n, ir_node *d)
{
	int inv[IR_MAX_DIMS];
	for (int i = 0; i < n->shape.rank; i++)
		inv[ir_attr_ints(n, IR_ATTR_PERM)[i]] = i;
	return accum(s, n->in[0], ir_transpose(s->g, d, inv));
}

static int grad_broadcast(ad_state *s, ir_node *n, ir_node *d)
{
	return accum(s, n->in[0], d); /* accum unbroadcasts */
}

static int grad_sum(ad_state *s, ir_node *n, ir_node *d)
{
	return accum(s, n->in[0], expand_reduced(s->g, n, d));
}

/* to the positions equal to the max (ties share, like amax's mask) */
static int grad_max(ad_state *s, ir_node *n, ir_node *d)
{
	ir_graph *g = s->g;
	ir_node *a = n->in[0], *m = expand_reduced(g, n, n);
	return accum(s, a, B(MUL, expand_reduced(g, n, d), B(EQ, a, m)));
}

/* y * (d - sum(d*y)) */
static int grad_softmax(ad_state *s, ir_node *n, ir_node *d)
{
	ir_graph *g = s->g;
	uint32_t ax = 1u << ir_attr_i(n, IR_ATTR_AXIS);
	ir_node *dy = B(MUL, d, n);
	ir_node *sm = dy ? ir_reduce(g, IR_OP_SUM, dy, ax, 1) : NULL;
	return accum(s, n->in[0], B(MUL, n, B(SUB, d, sm)));
}

/* d - exp(y) * sum(d) */
static int grad_log_softmax(ad_state *s, ir_node *n, ir_node *d)
{
	ir_graph *g = s->g;
	ir_node *sm = ir_reduce(g, IR_OP_SUM, d, 1u << ir_attr_i(n, IR_ATTR_AXIS), 1);
	return accum(s, n->in[0], B(SUB, d, B(MUL, U(EXP, n), sm)));
}

static int grad_cross_entropy(ad_state *s, ir_node *n, ir_node *d)
{
	return accum(s, n->in[0],
	             ir_cross_entropy_grad(s->g, n->in[0], n->in[1], d,
	                                   (int)ir_attr_i(n, IR_ATTR_REDUCTION),
	                                   ir_attr_f(n, IR_ATTR_SMOOTHING)));
}
/* dx by the op's _GRAD (x, dy), which scans the same windows */
static int grad_pool(ad_state *s, ir_node *n, ir_node *d)
{
	ir_op gop = n->op == IR_OP_MAX_POOL2D   ? IR_OP_MAX_POOL2D_GRAD
	            : n->op == IR_OP_AVG_POOL2D ? IR_OP_AVG_POOL2D_GRAD
	                                        : IR_OP_ADAPTIVE_AVG_POOL2D_GRAD;
	ir_pool_params pp = ir_pool_params_of(n);
	if (!s->need[n->in[0]->id])
		return 0;
	return accum(s, n->in[0], d ? ir_pool2d(s->g, gop, n->in[0], d, &pp) : NULL);
}

/* dx by conv2d_bwd_data (dy, w), dw by conv2d_bwd_weight (x, dy) */
static int grad_conv(ad_state *s, ir_node *n, ir_node *d)
{
	ir_node *x = n->in[0], *w = n->in[1];
	ir_conv_params p = ir_conv_params_of(n);
	if (s->need[x->id] &&
	    accum(s, x, d ? ir_conv2d_bwd_data(s->g, d, w, x->shape.dim[2], x->shape.dim[3], &p)
	                  : NULL))
		return -1;
	if (s->need[w->id] &&
	    accum(s, w, d ? ir_conv2d_bwd_weight(s->g, x, d, w->shape.dim[2], w->shape.dim[3], &p)
	                  : NULL))
		return -1;
	return 0;
}

/* the weight's rows get dy's rows back, added in index order (ir_embed.h);
 * the indices get none */
static int grad_embedding(ad_state *s, ir_node *n, ir_node *d)
{
	if (!s->need[n->in[0]->id])
		return 0;
	return accum(s, n->in[0], ir_embedding_grad(s->g, d, n->in[1], n->in[0]->shape.dim[0]));
}

static int grad_nll_loss(ad_state *s, ir_node *n, ir_node *d)
{
	return accum(s, n->in[0],
	             ir_nll_loss_grad(s->g, n->in[0], n->in[1], d, (int)ir_attr_i(n, IR_ATTR_REDUCTION)));
}
#undef U
#undef T
#undef B
#undef K
#undef AT
#undef ZERO
#undef NONE

/* narrow: the adjoint placed in zeros of the input's shape */
static int grad_narrow(ad_state *s, ir_node *n, ir_node *d)
{
	int dim = (int)ir_attr_i(n, IR_ATTR_AXIS);
	return accum(s, n->in[0], ir_pad(s->g, d, dim, ir_attr_i(n, IR_ATTR_START),
	                                 n->in[0]->shape.dim[dim]));
}

/* cat: each input's window of the adjoint */
static int grad_cat(ad_state *s, ir_node *n, ir_node *d)
{
	int dim = (int)ir_attr_i(n, IR_ATTR_AXIS);
	int64_t at = 0;
	for (int i = 0; i < n->nin; i++) {
		int64_t len = n->in[i]->shape.dim[dim];
		if (s->need[n->in[i]->id] && accum(s, n->in[i], ir_narrow(s->g, d, dim, at, len)))
			return -1;
		at += len;
	}
	return 0;
}

typedef int (*grad_fn)(ad_state *s, ir_node *n, ir_node *d);

/* The gradient facet of every op the op table marks IR_GRAD_RULE. */
static const grad_fn rules[IR_OP_COUNT] = {
#define E1(e, f, gr, lo) [IR_OP_##e] = grad_##e,
#define E2(e, f, ga, gb, lo) [IR_OP_##e] = grad_##e,
#define E3(e, f, ga, gb, gc, lo) [IR_OP_##e] = grad_##e,
#include "ir_ops_elem.def"
#undef E1
#undef E2
#undef E3
	[IR_OP_RESHAPE] = grad_reshape,
	[IR_OP_TRANSPOSE] = grad_transpose,
	[IR_OP_BROADCAST] = grad_broadcast,
	[IR_OP_NARROW] = grad_narrow,
	[IR_OP_CAT] = grad_cat,
	[IR_OP_SUM] = grad_sum,
	[IR_OP_MAX] = grad_max,
	[IR_OP_MATMUL] = rule_matmul,
	[IR_OP_SOFTMAX] = grad_softmax,
	[IR_OP_LOG_SOFTMAX] = grad_log_softmax,
	[IR_OP_CROSS_ENTROPY] = grad_cross_entropy,
	[IR_OP_MAX_POOL2D] = grad_pool,
	[IR_OP_AVG_POOL2D] = grad_pool,
	[IR_OP_ADAPTIVE_AVG_POOL2D] = grad_pool,
	[IR_OP_EMBEDDING] = grad_embedding,
	[IR_OP_NLL_LOSS] = grad_nll_loss,
	[IR_OP_CONV2D] = grad_conv,
	[IR_OP_RANK_SUM] = grad_rank_sum,
};

int pass_grad_has_rule(ir_op op)
{
	if (op >= IR_OP_COUNT || ir_op_grad(op) != IR_GRAD_RULE || !rules[op])
		return 0;
	/* the elementwise rows give their rule as an expression: not ZERO/NONE */
	static const char *const given[IR_OP_COUNT] = {
#define E1(e, f, gr, lo) [IR_OP_##e] = #gr,
#define E2(e, f, ga, gb, lo) [IR_OP_##e] = #ga,
#define E3(e, f, ga, gb, gc, lo) [IR_OP_##e] = #gb, /* a's is ZERO: a condition */
#include "ir_ops_elem.def"
#undef E1
#undef E2
#undef E3
	};
	return !given[op] || (strcmp(given[op], "ZERO") != 0 && strcmp(given[op], "NONE") != 0);
}

/* Pushes the adjoint d of node n to its inputs. */
static int rule(ad_state *s, ir_node *n, ir_node *d)
{
	switch (ir_op_grad(n->op)) {
	case IR_GRAD_LEAF:
	case IR_GRAD_ZERO: /* piecewise constant: zero derivative almost everywhere */
		return 0;
	case IR_GRAD_RULE:
		if (n->op == IR_OP_WHERE && n->in[0]->op == IR_OP_CONST) {
			/* a resolved train/eval mode (dropout): the whole adjoint goes to
			 * the branch taken, the other's is zero and is not built */
			double c = ir_attr_f(n->in[0], IR_ATTR_VALUE);
			if (n->in[0]->dtype == IR_F32)
				c = (float)c;
			return accum(s, n->in[c != 0 || c != c ? 1 : 2], d);
		}
		if (rules[n->op])
			return rules[n->op](s, n, d);
		break;
	case IR_GRAD_NONE:
		if (n->op == IR_OP_GELU_GRAD || n->op == IR_OP_CROSS_ENTROPY_GRAD ||
		    ir_pool_is(n->op) || n->op == IR_OP_NLL_LOSS_GRAD ||
		    ir_conv_is(n->op) || n->op == IR_OP_EMBEDDING_GRAD)
			ir_error(s->g, n->loc, "%s: second derivatives are not supported", ir_op_name(n->op));
		else
			ir_error(s->g, n->loc, "%s: not differentiable", ir_op_name(n->op));
		return -1;
	}
	ir_error(s->g, n->loc, "%s: no derivative rule", ir_op_name(n->op));
	return -1;
}

int pass_grad(ir_graph *g, ir_node *loss, ir_node *const *wrt, int n, ir_node **grads)
{
	if (!ir_dtype_is_float(loss->dtype) || loss->shape.rank != 0) {
		char b[64];
		ir_error(g, loss->loc, "loss must be a float scalar, got %s%s", ir_dtype_name(loss->dtype),
		         ir_shape_str(&loss->shape, b, sizeof b));
		return -1;
	}
	int limit = g->nnodes;
	ad_state s = {g, calloc((size_t)limit, sizeof(ir_node *)), calloc((size_t)limit, 1)};
	char *from_wrt = calloc((size_t)limit, 1), *to_loss = calloc((size_t)limit, 1);
	char *is_wrt = calloc((size_t)limit, 1); /* by id: a scan per node was quadratic */
	int rc = -1;
	if (!s.adj || !s.need || !from_wrt || !to_loss || !is_wrt)
		goto done;
	/* forward: depends on a wrt node; backward: the loss depends on it */
	for (int i = 0; i < n; i++)
		from_wrt[wrt[i]->id] = is_wrt[wrt[i]->id] = 1;
	for (int i = 0; i < limit; i++)
		for (int j = 0; j < g->nodes[i]->nin; j++)
			if (from_wrt[g->nodes[i]->in[j]->id])
				from_wrt[i] = 1;
	to_loss[loss->id] = 1;
	for (int i = loss->id; i >= 0; i--)
		if (to_loss[i])
			for (int j = 0; j < g->nodes[i]->nin; j++)
				to_loss[g->nodes[i]->in[j]->id] = 1;
	for (int i = 0; i < limit; i++)
		s.need[i] = from_wrt[i] && to_loss[i];

	g->cur = loss->loc;
	s.adj[loss->id] = s.need[loss->id] ? ir_const(g, loss->dtype, ir_shape_scalar(), 1.0) : NULL;
	for (int i = loss->id; i >= 0; i--) {
		ir_node *node = g->nodes[i];
		if (!s.need[i] || !s.adj[i] || ir_op_kind(node->op) == IR_KIND_LEAF || from_wrt[i] == 0)
			continue;
		/* stop at wrt nodes that are not leaves: their adjoint is the answer */
		if (is_wrt[i])
			continue;
		g->cur = node->loc;
		if (rule(&s, node, s.adj[i]) != 0)
			goto done;
	}
	for (int i = 0; i < n; i++) {
		grads[i] = s.adj[wrt[i]->id];
		if (!grads[i]) /* the loss does not depend on it */
			grads[i] = ir_const(g, wrt[i]->dtype, wrt[i]->shape, 0.0);
		if (!grads[i])
			goto done;
	}
	rc = 0;
done:
	if (rc != 0 && !g->has_err)
		ir_error(g, loss->loc, "autodiff: out of memory");
	free(s.adj);
	free(s.need);
	free(from_wrt);
	free(to_loss);
	free(is_wrt);
	return rc;
}
