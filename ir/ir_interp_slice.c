/*
 * ir_interp_slice.c - the interpreter's kernels of the slicing and joining
 * ops (narrow, pad, cat): copies, exact in every dtype.
 */
#include <string.h>

#include "ir_interp.h"

/* Slicing and joining: a tensor as [outer, size along dim, inner]. */
static void split_at(const ir_shape *s, int dim, int64_t *outer, int64_t *inner)
{
	*outer = 1;
	*inner = 1;
	for (int i = 0; i < dim; i++)
		*outer *= s->dim[i];
	for (int i = dim + 1; i < s->rank; i++)
		*inner *= s->dim[i];
}

/* narrow: the window [start, start + length) along dim; pad: the input
 * placed at start along dim, zeros elsewhere */
int ir_interp_slice(const ir_node *n, const double *const *in, double *out, char *err,
                    size_t errlen)
{
	(void)err, (void)errlen;
	int dim = (int)ir_attr_i(n, IR_ATTR_AXIS);
	int64_t start = ir_attr_i(n, IR_ATTR_START), outer, inner;
	split_at(&n->shape, dim, &outer, &inner);
	int64_t D = n->in[0]->shape.dim[dim], R = n->shape.dim[dim];
	if (n->op == IR_OP_PAD)
		for (int64_t i = 0; i < ir_shape_numel(&n->shape); i++)
			out[i] = 0.0;
	for (int64_t o = 0; o < outer; o++) {
		if (n->op == IR_OP_NARROW)
			memcpy(out + o * R * inner, in[0] + (o * D + start) * inner,
			       (size_t)(R * inner) * sizeof *out);
		else
			memcpy(out + (o * R + start) * inner, in[0] + o * D * inner,
			       (size_t)(D * inner) * sizeof *out);
	}
	return 0;
}

int ir_interp_cat(const ir_node *n, const double *const *in, double *out, char *err,
                  size_t errlen)
{
	(void)err, (void)errlen;
	int dim = (int)ir_attr_i(n, IR_ATTR_AXIS);
	int64_t outer, inner, R = n->shape.dim[dim], at = 0;
	split_at(&n->shape, dim, &outer, &inner);
	for (int j = 0; j < n->nin; j++) {
		int64_t D = n->in[j]->shape.dim[dim];
		for (int64_t o = 0; o < outer; o++)
			memcpy(out + (o * R + at) * inner, in[j] + o * D * inner,
			       (size_t)(D * inner) * sizeof *out);
		at += D;
	}
	return 0;
}
