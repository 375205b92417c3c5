/*
 * ir_loss.c - losses built from other ops: binary cross-entropy with
 * logits, in PyTorch's numerically stable form. Its derivatives, with
 * respect to the logits and the target alike, are those of its parts.
 */
#include "ir.h"

#define B(op, a, b) ir_binary(g, IR_OP_##op, a, b)
#define U(op, a) ir_unary(g, IR_OP_##op, a)

/* p broadcasts to x without changing x's shape: trailing dims 1 or equal */
static int broadcasts_to(const ir_shape *p, const ir_shape *x)
{
	if (p->rank > x->rank)
		return 0;
	for (int i = 1; i <= p->rank; i++)
		if (p->dim[p->rank - i] != 1 && p->dim[p->rank - i] != x->dim[x->rank - i])
			return 0;
	return 1;
}

/*
 * max(x,0) - x*t + log(1 + exp(-|x|)); with pos_weight p:
 * (1-t)*x + (1+(p-1)*t) * (log(1 + exp(-|x|)) + max(-x,0)).
 * At x = 0 maximum's tie rule (half to each side) and abs's zero slope give
 * PyTorch's derivative sigmoid(0) - t.
 */
ir_node *ir_bce_with_logits(ir_graph *g, ir_node *x, ir_node *t, ir_node *pos_weight,
                            int reduction)
{
	char sa[64], sb[64];
	if (!x || !t)
		return ir_error(g, g->cur, "binary_cross_entropy_with_logits: missing input");
	if (!ir_dtype_is_float(x->dtype) || t->dtype != x->dtype)
		return ir_error(g, g->cur, "binary_cross_entropy_with_logits: logits and target must be "
		                "float tensors of one dtype, got %s and %s", ir_dtype_name(x->dtype),
		                ir_dtype_name(t->dtype));
	if (!ir_shape_eq(&x->shape, &t->shape))
		return ir_error(g, g->cur, "binary_cross_entropy_with_logits: logits %s and target %s "
		                "must have the same shape", ir_shape_str(&x->shape, sa, sizeof sa),
		                ir_shape_str(&t->shape, sb, sizeof sb));
	if (pos_weight && !broadcasts_to(&pos_weight->shape, &x->shape))
		return ir_error(g, g->cur, "binary_cross_entropy_with_logits: pos_weight %s does not "
		                "broadcast to the logits %s",
		                ir_shape_str(&pos_weight->shape, sa, sizeof sa),
		                ir_shape_str(&x->shape, sb, sizeof sb));
	if (pos_weight && pos_weight->dtype != x->dtype)
		return ir_error(g, g->cur, "binary_cross_entropy_with_logits: pos_weight must be %s "
		                "like the logits, got %s", ir_dtype_name(x->dtype),
		                ir_dtype_name(pos_weight->dtype));
	ir_node *zero = ir_const(g, x->dtype, ir_shape_scalar(), 0.0);
	ir_node *one = ir_const(g, x->dtype, ir_shape_scalar(), 1.0);
	ir_node *soft = U(LOG, B(ADD, one, U(EXP, U(NEG, U(ABS, x))))); /* log(1 + exp(-|x|)) */
	ir_node *l;
	if (!pos_weight) {
		l = B(ADD, B(SUB, B(MAXIMUM, x, zero), B(MUL, x, t)), soft);
	} else {
		ir_node *lw = B(ADD, one, B(MUL, B(SUB, pos_weight, one), t));
		l = B(ADD, B(MUL, B(SUB, one, t), x), B(MUL, lw, B(ADD, soft, B(MAXIMUM, U(NEG, x), zero))));
	}
	if (reduction == IR_REDUCE_NONE || !l)
		return l;
	if (reduction == IR_REDUCE_SUM)
		return ir_reduce(g, IR_OP_SUM, l, 0, 0);
	return ir_mean(g, l, 0, 0);
}
