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

#include <stdlib.h>

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

/* Pushes the adjoint d of node n to its inputs. */
static int rule(ad_state *s, ir_node *n, ir_node *d)
{
	ir_graph *g = s->g;
	ir_node *a = n->nin > 0 ? n->in[0] : NULL, *b = n->nin > 1 ? n->in[1] : NULL;
	switch (n->op) {
	case IR_OP_NEG: return accum(s, a, ir_unary(g, IR_OP_NEG, d));
	case IR_OP_EXP: return accum(s, a, ir_binary(g, IR_OP_MUL, d, n));
	case IR_OP_LOG: return accum(s, a, ir_binary(g, IR_OP_DIV, d, a));
	case IR_OP_SQRT: /* d * 0.5 / sqrt(a) */
		return accum(s, a, ir_binary(g, IR_OP_DIV, ir_binary(g, IR_OP_MUL, d, k(g, n, 0.5)), n));
	case IR_OP_RSQRT: /* d * -0.5 * a^-1.5 = d * -0.5 * n / a */
		return accum(s, a, ir_binary(g, IR_OP_MUL, d,
		                       ir_binary(g, IR_OP_DIV, ir_binary(g, IR_OP_MUL, n, k(g, n, -0.5)), a)));
	case IR_OP_ABS: return accum(s, a, ir_binary(g, IR_OP_MUL, d, ir_unary(g, IR_OP_SIGN, a)));
	case IR_OP_RELU: /* d * (y > 0): y > 0 exactly where a > 0, and the forward
	                  * pass then need not keep a for the backward one */
		return accum(s, a, ir_binary(g, IR_OP_MUL, d, ir_binary(g, IR_OP_GT, n, k(g, n, 0.0))));
	case IR_OP_GELU: return accum(s, a, ir_binary(g, IR_OP_GELU_GRAD, a, d));
	case IR_OP_TANH: /* d * (1 - y^2) */
		return accum(s, a, ir_binary(g, IR_OP_MUL, d, ir_binary(g, IR_OP_SUB, k(g, n, 1.0),
		                                             ir_binary(g, IR_OP_MUL, n, n))));
	case IR_OP_SIGMOID: /* d * y * (1 - y) */
		return accum(s, a, ir_binary(g, IR_OP_MUL, ir_binary(g, IR_OP_MUL, d, n),
		                       ir_binary(g, IR_OP_SUB, k(g, n, 1.0), n)));
	case IR_OP_COS: return accum(s, a, ir_binary(g, IR_OP_MUL, ir_unary(g, IR_OP_NEG, d), ir_unary(g, IR_OP_SIN, a)));
	case IR_OP_SIN: return accum(s, a, ir_binary(g, IR_OP_MUL, d, ir_unary(g, IR_OP_COS, a)));
	case IR_OP_SIGN:
	case IR_OP_FLOOR:
	case IR_OP_GT:
	case IR_OP_EQ:
	case IR_OP_CORRECT:
		return 0; /* piecewise constant: zero derivative almost everywhere */
	case IR_OP_ADD:
		return accum(s, a, d) || accum(s, b, d) ? -1 : 0;
	case IR_OP_SUB:
		return accum(s, a, d) || accum(s, b, s->need[b->id] ? ir_unary(g, IR_OP_NEG, d) : d) ? -1 : 0;
	case IR_OP_MUL:
		if (s->need[a->id] && accum(s, a, ir_binary(g, IR_OP_MUL, d, b)))
			return -1;
		return s->need[b->id] ? accum(s, b, ir_binary(g, IR_OP_MUL, d, a)) : 0;
	case IR_OP_DIV:
		if (s->need[a->id] && accum(s, a, ir_binary(g, IR_OP_DIV, d, b)))
			return -1;
		/* d(a/b)/db = -(a/b)/b */
		return s->need[b->id] ? accum(s, b, ir_unary(g, IR_OP_NEG, ir_binary(g, IR_OP_DIV, ir_binary(g, IR_OP_MUL, d, n), b))) : 0;
	case IR_OP_POW:
		if (s->need[a->id]) {
			/* b * a^(b-1) */
			ir_node *e = ir_binary(g, IR_OP_POW, a, ir_binary(g, IR_OP_SUB, b, k(g, n, 1.0)));
			if (accum(s, a, ir_binary(g, IR_OP_MUL, d, ir_binary(g, IR_OP_MUL, b, e))))
				return -1;
		}
		return s->need[b->id] ? accum(s, b, ir_binary(g, IR_OP_MUL, ir_binary(g, IR_OP_MUL, d, n), ir_unary(g, IR_OP_LOG, a))) : 0;
	case IR_OP_MINIMUM:
	case IR_OP_MAXIMUM: {
		/* the chosen operand gets the gradient; ties go to b */
		ir_node *pick_a = n->op == IR_OP_MINIMUM ? ir_binary(g, IR_OP_GT, b, a) : ir_binary(g, IR_OP_GT, a, b);
		if (s->need[a->id] && accum(s, a, ir_binary(g, IR_OP_MUL, d, pick_a)))
			return -1;
		return s->need[b->id] ? accum(s, b, ir_binary(g, IR_OP_MUL, d, ir_binary(g, IR_OP_SUB, k(g, n, 1.0), pick_a))) : 0;
	}
	case IR_OP_RESHAPE: return accum(s, a, ir_reshape(g, d, a->shape));
	case IR_OP_TRANSPOSE: {
		int inv[IR_MAX_DIMS];
		for (int i = 0; i < n->shape.rank; i++)
			inv[ir_attr_ints(n, IR_ATTR_PERM)[i]] = i;
		return accum(s, a, ir_transpose(g, d, inv));
	}
	case IR_OP_BROADCAST: return accum(s, a, d); /* accum unbroadcasts */
	case IR_OP_SUM: return accum(s, a, expand_reduced(g, n, d));
	case IR_OP_MAX: {
		/* to the positions equal to the max (ties share, like amax's mask) */
		ir_node *m = expand_reduced(g, n, n);
		return accum(s, a, ir_binary(g, IR_OP_MUL, expand_reduced(g, n, d), ir_binary(g, IR_OP_EQ, a, m)));
	}
	case IR_OP_MATMUL: return rule_matmul(s, n, d);
	case IR_OP_SOFTMAX: {
		/* y * (d - sum(d*y)) */
		uint32_t ax = 1u << ir_attr_i(n, IR_ATTR_AXIS);
		ir_node *dy = ir_binary(g, IR_OP_MUL, d, n);
		ir_node *sm = dy ? ir_reduce(g, IR_OP_SUM, dy, ax, 1) : NULL;
		return accum(s, a, ir_binary(g, IR_OP_MUL, n, ir_binary(g, IR_OP_SUB, d, sm)));
	}
	case IR_OP_LOG_SOFTMAX: {
		/* d - exp(y) * sum(d) */
		ir_node *sm = ir_reduce(g, IR_OP_SUM, d, 1u << ir_attr_i(n, IR_ATTR_AXIS), 1);
		return accum(s, a, ir_binary(g, IR_OP_SUB, d, ir_binary(g, IR_OP_MUL, ir_unary(g, IR_OP_EXP, n), sm)));
	}
	case IR_OP_CROSS_ENTROPY:
		return accum(s, a, ir_cross_entropy_grad(g, a, b, d, (int)ir_attr_i(n, IR_ATTR_REDUCTION),
		                                              ir_attr_f(n, IR_ATTR_SMOOTHING)));
	case IR_OP_GELU_GRAD:
	case IR_OP_CROSS_ENTROPY_GRAD:
		ir_error(g, n->loc, "%s: second derivatives are not supported", ir_op_name(n->op));
		return -1;
	default:
		ir_error(g, n->loc, "%s: no derivative rule", ir_op_name(n->op));
		return -1;
	}
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
	int rc = -1;
	if (!s.adj || !s.need || !from_wrt || !to_loss)
		goto done;
	/* forward: depends on a wrt node; backward: the loss depends on it */
	for (int i = 0; i < n; i++)
		from_wrt[wrt[i]->id] = 1;
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
		int is_wrt = 0;
		for (int w = 0; w < n; w++)
			is_wrt |= wrt[w] == node;
		if (is_wrt)
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
	return rc;
}
