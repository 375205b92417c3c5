/*
 * ir_build_slice.c - builders of the slicing and joining ops: narrow, its
 * adjoint pad, cat, and flatten (a reshape). Dims are >= 0 here; the model
 * language turns PyTorch's negative dims into these.
 */
#include "ir.h"

#include <string.h>

/* The attribute values of `op` with `key` set to v (the rest defaults). */
static void set(ir_op op, ir_attr_val *attr, ir_attr_key key, int64_t v)
{
	int na;
	const ir_attr_desc *d = ir_op_attrs(op, &na);
	for (int i = 0; i < na; i++)
		if (d[i].key == key)
			attr[i].i = v;
}

static ir_node *sliced(ir_graph *g, ir_op op, ir_node *x, int dim, int64_t start,
                       ir_attr_key third, int64_t v)
{
	if (!x)
		return g->has_err ? NULL : ir_error(g, g->cur, "%s: missing input", ir_op_name(op));
	ir_attr_val attr[IR_MAX_ATTRS];
	memset(attr, 0, sizeof attr);
	ir_attr_defaults(op, attr);
	set(op, attr, IR_ATTR_AXIS, dim);
	set(op, attr, IR_ATTR_START, start);
	set(op, attr, third, v);
	return ir_node_make_attrs(g, op, &x, 1, attr);
}

ir_node *ir_narrow(ir_graph *g, ir_node *x, int dim, int64_t start, int64_t length)
{
	return sliced(g, IR_OP_NARROW, x, dim, start, IR_ATTR_LENGTH, length);
}

ir_node *ir_pad(ir_graph *g, ir_node *x, int dim, int64_t start, int64_t size)
{
	return sliced(g, IR_OP_PAD, x, dim, start, IR_ATTR_SIZE, size);
}

ir_node *ir_cat(ir_graph *g, ir_node *const *xs, int n, int dim)
{
	for (int i = 0; i < n; i++)
		if (!xs[i])
			return g->has_err ? NULL : ir_error(g, g->cur, "cat: missing input");
	if (n < 1)
		return ir_error(g, g->cur, "cat: expects at least one tensor");
	ir_attr_val attr[IR_MAX_ATTRS];
	memset(attr, 0, sizeof attr);
	ir_attr_defaults(IR_OP_CAT, attr);
	set(IR_OP_CAT, attr, IR_ATTR_AXIS, dim);
	return ir_node_make_attrs(g, IR_OP_CAT, xs, n, attr);
}

/* torch.flatten: dims start_dim..end_dim become one; a scalar becomes [1] */
ir_node *ir_flatten(ir_graph *g, ir_node *x, int start_dim, int end_dim)
{
	if (!x)
		return g->has_err ? NULL : ir_error(g, g->cur, "flatten: missing input");
	const ir_shape *s = &x->shape;
	ir_shape r = {0};
	if (s->rank == 0) {
		r.rank = 1;
		r.dim[0] = 1;
		return ir_reshape(g, x, r);
	}
	if (start_dim < 0 || end_dim >= s->rank || start_dim > end_dim)
		return ir_error(g, g->cur, "flatten: start_dim %d and end_dim %d do not fit a tensor of "
		                "rank %d (start_dim must come first)", start_dim, end_dim, s->rank);
	for (int i = 0; i < start_dim; i++)
		r.dim[r.rank++] = s->dim[i];
	int64_t m = 1;
	for (int i = start_dim; i <= end_dim; i++)
		m *= s->dim[i];
	r.dim[r.rank++] = m;
	for (int i = end_dim + 1; i < s->rank; i++)
		r.dim[r.rank++] = s->dim[i];
	return ir_reshape(g, x, r);
}
