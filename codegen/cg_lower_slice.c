/*
 * cg_lower_slice.c - loop IR of the slicing and joining ops: narrow (a
 * window along one dim), pad (narrow's adjoint: the input placed in
 * zeros) and cat. Each sees its tensors as [outer, size along dim, inner]
 * and copies contiguous runs of (size * inner) elements per outer index,
 * in a parallel loop over the outer index. Same layout as the interpreter
 * (ir_interp_ops.c).
 */
#include <stdio.h>

#include "cg_lower.h"

static cg_expr *I(ir_arena *a, int64_t v) { return cg_const_i(a, CG_T_I64, v); }

/* dst[dbase + j] = src[sbase + j] for j < len (var 1), at outer index var 0 */
static cg_stmt *copy_run(ir_arena *a, cg_type t, int dst, int64_t dstride, int64_t doff, int src,
                         int64_t sstride, int64_t soff, int64_t len)
{
	cg_expr *o = cg_var(a, 0), *j = cg_var(a, 1);
	cg_expr *di = cg_bin(a, CG_B_ADD, cg_bin(a, CG_B_MUL, o, I(a, dstride)), I(a, doff));
	cg_expr *si = cg_bin(a, CG_B_ADD, cg_bin(a, CG_B_MUL, o, I(a, sstride)), I(a, soff));
	cg_expr *v = cg_load(a, t, src, cg_bin(a, CG_B_ADD, si, j));
	return cg_loop(a, 1, len, CG_L_SERIAL, cg_store(a, dst, cg_bin(a, CG_B_ADD, di, j), v));
}

int cg_lower_slice_has(ir_op op)
{
	return op == IR_OP_NARROW || op == IR_OP_PAD || op == IR_OP_CAT;
}

int cg_lower_slice(ir_arena *a, cg_kernel *k, const ir_node *n, const int *buf, char *err,
                   size_t errlen)
{
	if (!cg_lower_slice_has(n->op)) {
		snprintf(err, errlen, "lowering: %s is not a slicing op", ir_op_name(n->op));
		return -1;
	}
	cg_type t = cg_type_of(n->dtype);
	int dim = (int)ir_attr_i(n, IR_ATTR_AXIS);
	int64_t outer = 1, inner = 1, R = n->shape.dim[dim];
	for (int i = 0; i < dim; i++)
		outer *= n->shape.dim[i];
	for (int i = dim + 1; i < n->shape.rank; i++)
		inner *= n->shape.dim[i];
	cg_stmt *body = NULL;
	if (n->op == IR_OP_NARROW) {
		int64_t D = n->in[0]->shape.dim[dim], start = ir_attr_i(n, IR_ATTR_START);
		body = copy_run(a, t, buf[0], R * inner, 0, buf[1], D * inner, start * inner, R * inner);
	} else if (n->op == IR_OP_PAD) {
		int64_t D = n->in[0]->shape.dim[dim], start = ir_attr_i(n, IR_ATTR_START);
		cg_expr *zi = cg_bin(a, CG_B_ADD, cg_bin(a, CG_B_MUL, cg_var(a, 0), I(a, R * inner)),
		                     cg_var(a, 1));
		body = cg_loop(a, 1, R * inner, CG_L_SERIAL, cg_store(a, buf[0], zi, cg_const_f(a, t, 0.0)));
		cg_append(&body, copy_run(a, t, buf[0], R * inner, start * inner, buf[1], D * inner, 0,
		                          D * inner));
	} else {
		int64_t at = 0;
		for (int i = 0; i < n->nin; i++) {
			int64_t D = n->in[i]->shape.dim[dim];
			cg_append(&body, copy_run(a, t, buf[0], R * inner, at * inner, buf[1 + i], D * inner,
			                          0, D * inner));
			at += D;
		}
	}
	k->body = cg_loop(a, 0, outer, CG_L_PARALLEL, body);
	k->nvars = 2;
	k->work = ir_shape_numel(&n->shape);
	return 0;
}
