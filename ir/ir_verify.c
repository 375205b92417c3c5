/*
 * ir_verify.c - the graph's invariants, checked after construction and
 * after every pass: inputs defined before use, arity as the op table says,
 * stored types equal to what the shape rules give, leaves uniquely named,
 * at most one assign per target.
 */
#include "ir.h"
#include "ir_infer.h"

#include <string.h>

int ir_verify(ir_graph *g)
{
	for (int i = 0; i < g->nnodes; i++) {
		ir_node *n = g->nodes[i];
		if (n->id != i)
			return ir_error(g, n->loc, "verify: node %%%d stored at index %d", n->id, i), -1;
		if ((unsigned)n->op >= IR_OP_COUNT)
			return ir_error(g, n->loc, "verify: node %%%d has an unknown op", i), -1;
		if (ir_op_arity(n->op) >= 0 ? n->nin != ir_op_arity(n->op) : n->nin < 0)
			return ir_error(g, n->loc, "verify: %%%d %s has %d inputs, expected %d", i,
			                ir_op_name(n->op), n->nin, ir_op_arity(n->op)), -1;
		int na;
		ir_op_attrs(n->op, &na);
		if (na > 0 && !n->attr)
			return ir_error(g, n->loc, "verify: %%%d %s has no attributes", i,
			                ir_op_name(n->op)), -1;
		/* only nll_loss takes "sum" */
		unsigned red_max = n->op == IR_OP_NLL_LOSS || n->op == IR_OP_NLL_LOSS_GRAD
		                       ? IR_REDUCE_SUM : IR_REDUCE_NONE;
		if ((unsigned)ir_attr_i(n, IR_ATTR_REDUCTION) > red_max ||
		    (unsigned)ir_attr_i(n, IR_ATTR_INIT) > IR_INIT_CONST)
			return ir_error(g, n->loc, "verify: %%%d %s: an enum attribute is out of range", i,
			                ir_op_name(n->op)), -1;
		for (int k = 0; k < n->nin; k++) {
			ir_node *x = n->in[k];
			if (!x || x->id >= i || g->nodes[x->id] != x)
				return ir_error(g, n->loc, "verify: %%%d %s: input %d is not an earlier node", i,
				                ir_op_name(n->op), k), -1;
		}
		ir_shape s;
		ir_dtype t;
		if (ir_infer(g, n, &s, &t) != 0)
			return -1;
		if (!ir_shape_eq(&s, &n->shape) || t != n->dtype) {
			char a[64], b[64];
			return ir_error(g, n->loc, "verify: %%%d %s has type %s%s, its rule gives %s%s", i,
			                ir_op_name(n->op), ir_dtype_name(n->dtype),
			                ir_shape_str(&n->shape, a, sizeof a), ir_dtype_name(t),
			                ir_shape_str(&s, b, sizeof b)), -1;
		}
		if (n->op == IR_OP_PARAM || n->op == IR_OP_INPUT || n->op == IR_OP_STATE) {
			if (!n->name)
				return ir_error(g, n->loc, "verify: %%%d %s has no name", i, ir_op_name(n->op)), -1;
			for (int j = 0; j < i; j++) {
				ir_node *m = g->nodes[j];
				if (m->op == n->op && m->name && strcmp(m->name, n->name) == 0)
					return ir_error(g, n->loc, "verify: %s '%s' defined twice", ir_op_name(n->op),
					                n->name), -1;
			}
		}
		if (n->op == IR_OP_ASSIGN)
			for (int j = 0; j < i; j++)
				if (g->nodes[j]->op == IR_OP_ASSIGN && g->nodes[j]->in[0] == n->in[0])
					return ir_error(g, n->loc, "verify: '%s' is assigned twice in one step",
					                n->in[0]->name), -1;
	}
	return 0;
}
