/*
 * cg_lower_ops.c - the lowering facet of each op: the loop-IR expression of
 * every elementwise op (from ir/ir_ops_elem.def), and which ops each kernel
 * kind of cg_lower.c lowers (cg_lower_has, checked by the op-table test).
 */
#include <math.h>

#include "cg_lower.h"

cg_expr *cg_lower_elem(ir_arena *ar, const ir_node *n, cg_expr *x, cg_expr *y, cg_expr *z)
{
	cg_type t = cg_type_of(n->dtype);
	(void)y, (void)z;
#define LU(op, v) cg_un(ar, CG_U_##op, v)
#define LB(op, v, w) cg_bin(ar, CG_B_##op, v, w)
#define LSEL(c, v, w) cg_select(ar, c, v, w)
#define LK(v) cg_const_f(ar, t, v)
#define AT(key) ir_attr_f(n, IR_ATTR_##key)
#define LNZ(v) cg_bin(ar, CG_B_NE, v, cg_const_f(ar, (v)->type, 0.0))
#define E1(e, f, gr, lo) case IR_OP_##e: return lo;
#define E2(e, f, ga, gb, lo)   \
	case IR_OP_##e: {          \
		cg_expr *a = x, *b = y; \
		return lo;             \
	}
#define E3(e, f, ga, gb, gc, lo)         \
	case IR_OP_##e: {                    \
		cg_expr *a = x, *b = y, *c = z;  \
		return lo;                       \
	}
	switch (n->op) {
#include "ir_ops_elem.def"
	case IR_OP_BROADCAST:
	case IR_OP_TRANSPOSE:
		return x; /* data movement: the index map did the work */
	default:
		return NULL;
	}
#undef E1
#undef E2
#undef E3
#undef LNZ
#undef LU
#undef LB
#undef LSEL
#undef LK
#undef AT
}

int cg_lower_has(ir_op op)
{
	switch (op) {
#define E1(e, f, gr, lo) case IR_OP_##e:
#define E2(e, f, ga, gb, lo) case IR_OP_##e:
#define E3(e, f, ga, gb, gc, lo) case IR_OP_##e:
#include "ir_ops_elem.def"
#undef E1
#undef E2
#undef E3
	case IR_OP_BROADCAST:
	case IR_OP_TRANSPOSE:
	case IR_OP_RESHAPE: /* an alias of its input: no code (pass_fuse.h) */
	case IR_OP_SUM:     /* lower_reduce */
	case IR_OP_MAX:
	case IR_OP_MATMUL:  /* a GEMM descriptor */
	case IR_OP_CONST:   /* inlined into its readers */
	case IR_OP_ASSIGN:  /* a commit of the memory plan */
	case IR_OP_RANK_SUM: /* a COMM call (lower_comm_call) */
		return 1;
	default:
		return cg_lower_row_has(op);
	}
}
