/*
 * ir_build.c - the graph and its builder: every node is made here, typed by
 * ir_infer at birth and stamped with the current model-file location.
 */
#include "ir.h"
#include "ir_pool.h"
#include "ir_infer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ir_graph *ir_graph_new(ir_dtype fdtype)
{
	ir_graph *g = calloc(1, sizeof *g);
	if (!g)
		return NULL;
	g->fdtype = fdtype;
	return g;
}

void ir_graph_free(ir_graph *g)
{
	if (!g)
		return;
	free(g->nodes);
	ir_names_free(g);
	ir_arena_free(&g->arena);
	free(g);
}

void ir_set_loc(ir_graph *g, const char *file, int line)
{
	/* Intern the file name once: most calls repeat the previous one. */
	if (file && (!g->cur.file || strcmp(g->cur.file, file) != 0))
		g->cur.file = ir_arena_strdup(&g->arena, file);
	else if (!file)
		g->cur.file = NULL;
	g->cur.line = line;
}

ir_node *ir_error(ir_graph *g, ir_loc loc, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (loc.file && loc.line > 0)
		snprintf(g->err, sizeof g->err, "%s:%d: %s", loc.file, loc.line, msg);
	else if (loc.file)
		snprintf(g->err, sizeof g->err, "%s: %s", loc.file, msg);
	else
		snprintf(g->err, sizeof g->err, "%s", msg);
	g->has_err = 1;
	return NULL;
}

/* An input that is NULL comes from a failed earlier call: keep its error. */
static ir_node *missing(ir_graph *g, const char *op)
{
	if (g->has_err)
		return NULL;
	return ir_error(g, g->cur, "%s: missing input", op);
}

/* A node being built: inputs and attributes on the stack until add()
 * copies them into the arena. */
typedef struct {
	ir_node n;
	ir_node *in[3];
	ir_attr_val attr[IR_MAX_ATTRS];
} proto;

/* A shape past IR_MAX_NUMEL elements (a leaf's as declared, or one an op
 * derives, such as an outer product's) is refused where it is made. */
static ir_node *too_large(ir_graph *g, const ir_node *p)
{
	char s[160];
	ir_shape_str(&p->shape, s, sizeof s);
	return ir_error(g, g->cur, "%s%s%s%s: shape %s has more than 2^40 elements, the most one "
	                "tensor may have", ir_op_name(p->op), p->name ? " '" : "",
	                p->name ? p->name : "", p->name ? "'" : "", s);
}

/* Types the prototype and copies it into the graph. */
static ir_node *add(ir_graph *g, ir_node *p)
{
	p->loc = g->cur;
	for (int i = 0; i < p->nin; i++)
		if (!p->in[i])
			return missing(g, ir_op_name(p->op));
	if (ir_infer(g, p, &p->shape, &p->dtype) != 0)
		return NULL;
	if (!ir_shape_fits(&p->shape))
		return too_large(g, p);
	if (g->max_nodes > 0 && g->nnodes >= g->max_nodes)
		return ir_error(g, g->cur, "%s: the model builds more than %d ops, the most samc "
		                "compiles (a loop that builds layers without end?)", ir_op_name(p->op),
		                g->max_nodes);
	if (g->nnodes == g->cap) {
		int cap = g->cap ? g->cap * 2 : 256;
		ir_node **nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
		if (!nodes)
			return ir_error(g, g->cur, "out of memory");
		g->nodes = nodes;
		g->cap = cap;
	}
	int na;
	ir_op_attrs(p->op, &na);
	ir_node *n = ir_arena_alloc(&g->arena, sizeof *n);
	*n = *p;
	n->in = ir_arena_alloc(&g->arena, (size_t)(p->nin > 0 ? p->nin : 1) * sizeof *n->in);
	for (int i = 0; i < p->nin; i++)
		n->in[i] = p->in[i];
	n->attr = ir_arena_alloc(&g->arena, (size_t)(na > 0 ? na : 1) * sizeof *n->attr);
	for (int i = 0; i < na; i++)
		n->attr[i] = p->attr[i];
	n->id = g->nnodes;
	g->nodes[g->nnodes++] = n;
	ir_names_note(g, n);
	return n;
}

/* For the builders of ops of at most three inputs; others go through
 * ir_node_make. */
static void proto_init(proto *p, ir_op op, ir_node *a, ir_node *b, ir_node *c)
{
	memset(p, 0, sizeof *p);
	p->n.op = op;
	p->in[0] = a;
	p->in[1] = b;
	p->in[2] = c;
	p->n.in = p->in;
	p->n.nin = ir_op_arity(op) < 0 ? 0 : ir_op_arity(op) > 3 ? 3 : ir_op_arity(op);
	p->n.attr = p->attr;
	ir_attr_defaults(op, p->attr);
}

ir_node *ir_node_make(ir_graph *g, ir_op op, ir_node *const *in, int nin)
{
	if (op >= IR_OP_COUNT || (ir_op_arity(op) >= 0 && nin != ir_op_arity(op)) || nin < 0)
		return ir_error(g, g->cur, "%s: takes %d inputs, got %d", ir_op_name(op), ir_op_arity(op),
		                nin);
	proto p;
	proto_init(&p, op, NULL, NULL, NULL);
	p.n.in = (ir_node **)in;
	p.n.nin = nin;
	return add(g, &p.n);
}

ir_node *ir_node_make_attrs(ir_graph *g, ir_op op, ir_node *const *in, int nin,
                            const ir_attr_val *attr)
{
	if (op >= IR_OP_COUNT || (ir_op_arity(op) >= 0 && nin != ir_op_arity(op)) || nin < 0)
		return ir_error(g, g->cur, "%s: takes %d inputs, got %d", ir_op_name(op), ir_op_arity(op),
		                nin);
	proto p;
	proto_init(&p, op, NULL, NULL, NULL);
	int na;
	ir_op_attrs(op, &na);
	for (int i = 0; i < na; i++)
		p.attr[i] = attr[i];
	p.n.in = (ir_node **)in;
	p.n.nin = nin;
	return add(g, &p.n);
}

static ir_node *leaf(ir_graph *g, ir_op op, const char *name, ir_dtype t, ir_shape s)
{
	if (s.rank < 0 || s.rank > IR_MAX_DIMS)
		return ir_error(g, g->cur, "%s '%s': rank %d not supported (at most %d)", ir_op_name(op),
		                name ? name : "", s.rank, IR_MAX_DIMS);
	for (int i = 0; i < s.rank; i++)
		if (s.dim[i] <= 0)
			return ir_error(g, g->cur, "%s '%s': dimension %d is %lld, must be positive",
			                ir_op_name(op), name ? name : "", i, (long long)s.dim[i]);
	if (name) {
		ir_node *old = ir_find_leaf(g, op, name);
		if (old)
			return ir_error(g, g->cur, "%s '%s' already defined (at line %d)", ir_op_name(op),
			                name, old->loc.line);
	}
	proto p;
	proto_init(&p, op, NULL, NULL, NULL);
	p.n.dtype = t;
	p.n.shape = s;
	if (name)
		p.n.name = ir_arena_strdup(&g->arena, name);
	return add(g, &p.n);
}

ir_node *ir_param(ir_graph *g, const char *name, ir_dtype t, ir_shape s, ir_init init)
{
	if (!ir_dtype_is_float(t))
		return ir_error(g, g->cur, "param '%s': parameters must be float", name);
	ir_node *n = leaf(g, IR_OP_PARAM, name, t, s);
	if (n) {
		ir_attr_set_i(n, IR_ATTR_INIT, init.kind);
		ir_attr_set_f(n, IR_ATTR_INIT_A, init.a);
		ir_attr_set_f(n, IR_ATTR_INIT_B, init.b);
	}
	return n;
}

ir_node *ir_input(ir_graph *g, const char *name, ir_dtype t, ir_shape s)
{
	return leaf(g, IR_OP_INPUT, name, t, s);
}

ir_node *ir_state(ir_graph *g, const char *name, ir_dtype t, ir_shape s)
{
	return leaf(g, IR_OP_STATE, name, t, s);
}

ir_node *ir_state_init(ir_graph *g, const char *name, ir_dtype t, ir_shape s, ir_init init)
{
	if (init.kind != IR_INIT_ZEROS && init.kind != IR_INIT_ONES && init.kind != IR_INIT_CONST)
		return ir_error(g, g->cur, "state '%s': init must be zeros, ones or a constant", name);
	ir_node *n = leaf(g, IR_OP_STATE, name, t, s);
	if (n) {
		ir_attr_set_i(n, IR_ATTR_INIT, init.kind);
		ir_attr_set_f(n, IR_ATTR_INIT_A, init.kind == IR_INIT_CONST ? init.a : 0.0);
	}
	return n;
}

ir_node *ir_const(ir_graph *g, ir_dtype t, ir_shape s, double value)
{
	ir_node *n = leaf(g, IR_OP_CONST, NULL, t, s);
	if (n)
		ir_attr_set_f(n, IR_ATTR_VALUE, value);
	return n;
}

ir_node *ir_scalar(ir_graph *g, double value)
{
	return ir_const(g, g->fdtype, ir_shape_scalar(), value);
}

ir_node *ir_mode(ir_graph *g)
{
	return leaf(g, IR_OP_MODE, NULL, g->fdtype, ir_shape_scalar());
}

int ir_resolve_mode(ir_graph *g, ir_mode_kind mode)
{
	int count = 0;
	for (int i = 0; i < g->nnodes; i++) {
		ir_node *n = g->nodes[i];
		if (n->op != IR_OP_MODE)
			continue;
		int na;
		ir_op_attrs(IR_OP_CONST, &na);
		n->op = IR_OP_CONST;
		n->attr = ir_arena_alloc(&g->arena, (size_t)na * sizeof *n->attr);
		ir_attr_defaults(IR_OP_CONST, n->attr);
		ir_attr_set_f(n, IR_ATTR_VALUE, mode == IR_MODE_TRAIN ? 1.0 : 0.0);
		count++;
	}
	return count;
}

ir_node *ir_unary(ir_graph *g, ir_op op, ir_node *x)
{
	if (ir_op_kind(op) != IR_KIND_ELEM || ir_op_arity(op) != 1)
		return ir_error(g, g->cur, "%s is not a unary elementwise op", ir_op_name(op));
	proto p;
	proto_init(&p, op, x, NULL, NULL);
	return add(g, &p.n);
}

ir_node *ir_rank_sum(ir_graph *g, ir_node *x)
{
	proto p;
	proto_init(&p, IR_OP_RANK_SUM, x, NULL, NULL);
	return add(g, &p.n);
}

ir_node *ir_binary(ir_graph *g, ir_op op, ir_node *a, ir_node *b)
{
	if (ir_op_kind(op) != IR_KIND_ELEM || ir_op_arity(op) != 2)
		return ir_error(g, g->cur, "%s is not a binary elementwise op", ir_op_name(op));
	proto p;
	proto_init(&p, op, a, b, NULL);
	return add(g, &p.n);
}

ir_node *ir_leaky_relu(ir_graph *g, ir_node *x, double negative_slope)
{
	if (isnan(negative_slope))
		return ir_error(g, g->cur, "leaky_relu: negative_slope is NaN");
	proto p;
	proto_init(&p, IR_OP_LEAKY_RELU, x, NULL, NULL);
	ir_attr_set_f(&p.n, IR_ATTR_NEG_SLOPE, negative_slope);
	return add(g, &p.n);
}

ir_node *ir_softplus(ir_graph *g, ir_node *x, double beta, double threshold)
{
	if (isnan(beta) || isnan(threshold) || beta == 0)
		return ir_error(g, g->cur, "softplus: beta must be a nonzero number and threshold a "
		                "number, got beta %g, threshold %g", beta, threshold);
	proto p;
	proto_init(&p, IR_OP_SOFTPLUS, x, NULL, NULL);
	ir_attr_set_f(&p.n, IR_ATTR_BETA, beta);
	ir_attr_set_f(&p.n, IR_ATTR_THRESHOLD, threshold);
	return add(g, &p.n);
}

ir_node *ir_clamp(ir_graph *g, ir_node *x, double lo, double hi)
{
	if (isnan(lo) || isnan(hi))
		return ir_error(g, g->cur, "clamp: a bound is NaN");
	proto p;
	proto_init(&p, IR_OP_CLAMP, x, NULL, NULL);
	ir_attr_set_f(&p.n, IR_ATTR_MIN, lo);
	ir_attr_set_f(&p.n, IR_ATTR_MAX, hi);
	return add(g, &p.n);
}

ir_node *ir_where(ir_graph *g, ir_node *cond, ir_node *a, ir_node *b)
{
	proto p;
	proto_init(&p, IR_OP_WHERE, cond, a, b);
	return add(g, &p.n);
}

ir_node *ir_reshape(ir_graph *g, ir_node *x, ir_shape s)
{
	if (!x)
		return missing(g, "reshape");
	int infer = -1;
	int64_t known = 1;
	char b[64];
	for (int i = 0; i < s.rank; i++) {
		if (s.dim[i] == -1 && infer < 0)
			infer = i;
		else if (s.dim[i] <= 0)
			return ir_error(g, g->cur, "reshape: invalid target shape %s", ir_shape_str(&s, b, sizeof b));
		else
			known *= s.dim[i];
	}
	if (infer >= 0) {
		int64_t total = ir_shape_numel(&x->shape);
		if (known == 0 || total % known != 0) {
			char a[64];
			return ir_error(g, g->cur, "reshape: cannot reshape %s to %s",
			                ir_shape_str(&x->shape, a, sizeof a), ir_shape_str(&s, b, sizeof b));
		}
		s.dim[infer] = total / known;
	}
	proto p;
	proto_init(&p, IR_OP_RESHAPE, x, NULL, NULL);
	p.n.shape = s;
	return add(g, &p.n);
}

ir_node *ir_transpose(ir_graph *g, ir_node *x, const int *perm)
{
	if (!x)
		return missing(g, "transpose");
	proto p;
	proto_init(&p, IR_OP_TRANSPOSE, x, NULL, NULL);
	ir_attr_set_ints(&p.n, IR_ATTR_PERM, perm, x->shape.rank);
	return add(g, &p.n);
}

ir_node *ir_transpose2(ir_graph *g, ir_node *x, int d0, int d1)
{
	if (!x)
		return missing(g, "transpose");
	int r = x->shape.rank, perm[IR_MAX_DIMS];
	if (d0 < 0) d0 += r;
	if (d1 < 0) d1 += r;
	if (d0 < 0 || d0 >= r || d1 < 0 || d1 >= r) {
		char b[64];
		return ir_error(g, g->cur, "transpose: dims out of range for shape %s",
		                ir_shape_str(&x->shape, b, sizeof b));
	}
	for (int i = 0; i < r; i++)
		perm[i] = i;
	perm[d0] = d1;
	perm[d1] = d0;
	return ir_transpose(g, x, perm);
}

ir_node *ir_broadcast(ir_graph *g, ir_node *x, ir_shape s)
{
	proto p;
	proto_init(&p, IR_OP_BROADCAST, x, NULL, NULL);
	p.n.shape = s;
	return add(g, &p.n);
}

ir_node *ir_reduce(ir_graph *g, ir_op op, ir_node *x, uint32_t axes, int keepdim)
{
	if (ir_op_kind(op) != IR_KIND_REDUCE)
		return ir_error(g, g->cur, "%s is not a reduction", ir_op_name(op));
	proto p;
	proto_init(&p, op, x, NULL, NULL);
	ir_attr_set_i(&p.n, IR_ATTR_AXES, axes);
	ir_attr_set_i(&p.n, IR_ATTR_KEEPDIM, keepdim != 0);
	return add(g, &p.n);
}

ir_node *ir_mean(ir_graph *g, ir_node *x, uint32_t axes, int keepdim)
{
	if (!x)
		return missing(g, "mean");
	ir_node *s = ir_reduce(g, IR_OP_SUM, x, axes, keepdim);
	if (!s)
		return NULL;
	double count = (double)ir_shape_numel(&x->shape) / (double)ir_shape_numel(&s->shape);
	ir_node *k = ir_const(g, x->dtype, ir_shape_scalar(), 1.0 / count);
	return k ? ir_binary(g, IR_OP_MUL, s, k) : NULL;
}

ir_node *ir_dot_all(ir_graph *g, ir_node *const *a, ir_node *const *b, int n)
{
	ir_node *s = NULL;
	for (int i = 0; i < n; i++) {
		ir_node *d = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, a[i], b[i]), 0, 0);
		s = s ? ir_binary(g, IR_OP_ADD, s, d) : d;
	}
	return s;
}

ir_node *ir_matmul(ir_graph *g, ir_node *a, ir_node *b, int ta, int tb)
{
	proto p;
	proto_init(&p, IR_OP_MATMUL, a, b, NULL);
	ir_attr_set_i(&p.n, IR_ATTR_TA, ta != 0);
	ir_attr_set_i(&p.n, IR_ATTR_TB, tb != 0);
	return add(g, &p.n);
}

ir_node *ir_softmax(ir_graph *g, ir_op op, ir_node *x, int axis)
{
	if (!x)
		return missing(g, "softmax");
	if (op != IR_OP_SOFTMAX && op != IR_OP_LOG_SOFTMAX)
		return ir_error(g, g->cur, "%s is not softmax or log_softmax", ir_op_name(op));
	proto p;
	proto_init(&p, op, x, NULL, NULL);
	ir_attr_set_i(&p.n, IR_ATTR_AXIS, axis < 0 ? axis + x->shape.rank : axis);
	return add(g, &p.n);
}

ir_node *ir_cross_entropy(ir_graph *g, ir_node *logits, ir_node *labels, int reduction,
                          double label_smoothing)
{
	if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
		return ir_error(g, g->cur, "cross_entropy: label_smoothing must be in [0,1], got %g",
		                label_smoothing);
	proto p;
	proto_init(&p, IR_OP_CROSS_ENTROPY, logits, labels, NULL);
	ir_attr_set_i(&p.n, IR_ATTR_REDUCTION, reduction);
	ir_attr_set_f(&p.n, IR_ATTR_SMOOTHING, label_smoothing);
	return add(g, &p.n);
}

ir_node *ir_cross_entropy_grad(ir_graph *g, ir_node *logits, ir_node *labels, ir_node *dloss,
                               int reduction, double label_smoothing)
{
	proto p;
	proto_init(&p, IR_OP_CROSS_ENTROPY_GRAD, logits, labels, dloss);
	ir_attr_set_i(&p.n, IR_ATTR_REDUCTION, reduction);
	ir_attr_set_f(&p.n, IR_ATTR_SMOOTHING, label_smoothing);
	return add(g, &p.n);
}

ir_node *ir_nll_loss(ir_graph *g, ir_node *logp, ir_node *labels, int reduction)
{
	proto p;
	proto_init(&p, IR_OP_NLL_LOSS, logp, labels, NULL);
	ir_attr_set_i(&p.n, IR_ATTR_REDUCTION, reduction);
	return add(g, &p.n);
}

ir_node *ir_one_hot(ir_graph *g, ir_node *labels, int num_classes)
{
	if (num_classes < 1)
		return ir_error(g, g->cur, "one_hot: num_classes must be at least 1, got %d", num_classes);
	proto p;
	proto_init(&p, IR_OP_ONE_HOT, labels, NULL, NULL);
	ir_attr_set_i(&p.n, IR_ATTR_NCLASSES, num_classes);
	return add(g, &p.n);
}

ir_node *ir_nll_loss_grad(ir_graph *g, ir_node *logp, ir_node *labels, ir_node *dloss,
                          int reduction)
{
	proto p;
	proto_init(&p, IR_OP_NLL_LOSS_GRAD, logp, labels, dloss);
	ir_attr_set_i(&p.n, IR_ATTR_REDUCTION, reduction);
	return add(g, &p.n);
}

ir_node *ir_correct(ir_graph *g, ir_node *logits, ir_node *labels)
{
	proto p;
	proto_init(&p, IR_OP_CORRECT, logits, labels, NULL);
	return add(g, &p.n);
}

ir_node *ir_assign(ir_graph *g, ir_node *target, ir_node *value)
{
	proto p;
	proto_init(&p, IR_OP_ASSIGN, target, value, NULL);
	return add(g, &p.n);
}

ir_node *ir_pool2d(ir_graph *g, ir_op op, ir_node *x, ir_node *dy, const ir_pool_params *pp)
{
	if (!ir_pool_is(op))
		return ir_error(g, g->cur, "%s is not a pooling op", ir_op_name(op));
	proto p;
	proto_init(&p, op, x, dy, NULL);
	if (ir_pool_forward(op) == IR_OP_ADAPTIVE_AVG_POOL2D) {
		ir_attr_set_i(&p.n, IR_ATTR_OUT_H, pp->oh);
		ir_attr_set_i(&p.n, IR_ATTR_OUT_W, pp->ow);
		return add(g, &p.n);
	}
	ir_attr_set_i(&p.n, IR_ATTR_KERNEL_H, pp->kh);
	ir_attr_set_i(&p.n, IR_ATTR_KERNEL_W, pp->kw);
	ir_attr_set_i(&p.n, IR_ATTR_STRIDE_H, pp->sh);
	ir_attr_set_i(&p.n, IR_ATTR_STRIDE_W, pp->sw);
	ir_attr_set_i(&p.n, IR_ATTR_PAD_H, pp->ph);
	ir_attr_set_i(&p.n, IR_ATTR_PAD_W, pp->pw);
	ir_attr_set_i(&p.n, IR_ATTR_COUNT_PAD, pp->count_pad);
	return add(g, &p.n);
}
