/* ir_slot.c - graph leaves as runtime slots (see ir_slot.h). */
#include "ir_slot.h"

rt_dtype ir_slot_dtype(ir_dtype t)
{
	return t == IR_F32 ? RT_F32 : t == IR_F64 ? RT_F64 : RT_I32;
}

static rt_init_kind init_kind(ir_init_kind k)
{
	switch (k) {
	case IR_INIT_ONES: return RT_INIT_ONES;
	case IR_INIT_UNIFORM: return RT_INIT_UNIFORM;
	case IR_INIT_NORMAL: return RT_INIT_NORMAL;
	case IR_INIT_CONST: return RT_INIT_CONST;
	case IR_INIT_ZEROS: break;
	}
	return RT_INIT_ZEROS;
}

void ir_slot_from_leaf(rt_slot *sl, const ir_node *n)
{
	sl->name = n->name;
	sl->role = n->op == IR_OP_PARAM ? RT_SLOT_PARAM
	         : n->op == IR_OP_STATE ? RT_SLOT_STATE : RT_SLOT_INPUT;
	sl->dtype = ir_slot_dtype(n->dtype);
	sl->rank = n->shape.rank;
	for (int d = 0; d < n->shape.rank && d < RT_MAX_DIMS; d++)
		sl->dim[d] = n->shape.dim[d];
	sl->init = RT_INIT_ZEROS;
	sl->init_a = sl->init_b = 0;
	if (n->op == IR_OP_PARAM || n->op == IR_OP_STATE) {
		ir_init in = ir_node_init(n);
		sl->init = init_kind(in.kind);
		sl->init_a = in.a;
		sl->init_b = in.b;
	}
	sl->nclasses = n->op == IR_OP_INPUT ? (int)ir_attr_i(n, IR_ATTR_NCLASSES) : 0;
}
