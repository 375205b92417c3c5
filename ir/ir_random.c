/*
 * ir_random.c - dropout, the one op family that draws random numbers.
 *
 * The graph holds no generator: the random numbers are a step input that
 * the runtime fills before every step (rt_noise.h), an INPUT leaf named
 * RT_NOISE_PREFIX + the layer's name, uniform in [0,1) in the float dtype,
 * drawn as a pure function of (seed, step, element). The mask is an
 * ordinary computation over it. Since the noise depends on no parameter,
 * SAM's re-emitted forward pass reads the same mask as the first, and the
 * eval program, where the mode folds the dropout away, reads none.
 */
#include "ir.h"
#include "rt_noise.h"

#include <stdio.h>

ir_node *ir_dropout(ir_graph *g, ir_node *x, double p, const char *name)
{
	if (!x)
		return NULL;
	if (!ir_dtype_is_float(x->dtype))
		return ir_error(g, g->cur, "dropout: input must be a float tensor, got %s",
		                ir_dtype_name(x->dtype));
	if (!(p >= 0.0 && p <= 1.0))
		return ir_error(g, g->cur, "dropout: p must be in [0, 1], got %g", p);
	/* ATen's dropout: the input itself when p = 0, input * 0 when p = 1 */
	if (p == 0.0)
		return x;
	ir_node *train;
	if (p == 1.0) {
		train = ir_binary(g, IR_OP_MUL, x, ir_const(g, x->dtype, ir_shape_scalar(), 0.0));
	} else {
		char slot[256];
		snprintf(slot, sizeof slot, "%s%s", RT_NOISE_PREFIX, name);
		if (ir_find_leaf(g, IR_OP_INPUT, slot))
			return ir_error(g, g->cur, "dropout: a dropout named '%s' already exists "
			                "(give each its own name)", name);
		ir_node *u = ir_input(g, slot, x->dtype, x->shape);
		/* noise.bernoulli_(1 - p).div_(1 - p); input * noise: kept where u >= p */
		ir_node *keep = ir_binary(g, IR_OP_GE, u, ir_const(g, x->dtype, ir_shape_scalar(), p));
		ir_node *scale = ir_binary(g, IR_OP_DIV, keep,
		                           ir_const(g, x->dtype, ir_shape_scalar(), 1.0 - p));
		train = ir_binary(g, IR_OP_MUL, x, scale);
	}
	return ir_where(g, ir_mode(g), train, x);
}
