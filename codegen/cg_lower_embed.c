/*
 * cg_lower_embed.c - loop IR of embedding and its gradient (ir_embed.h),
 * through cg_lower_row. The forward is a parallel loop over the index
 * positions, each copying one weight row. The gradient is a parallel loop
 * over the embedding's columns: each zeroes its column, then adds dy's
 * values into it in position order, so every element sums its
 * contributions in the interpreter's (and ATen's) order on any number of
 * threads, without atomics. Both check each index against [0, num) and
 * stop with error code 1.
 */
#include <stdio.h>

#include "cg_lower.h"
#include "ir_embed.h"

enum { L_IDX, L_COUNT };

static cg_expr *I(ir_arena *a, int64_t v) { return cg_const_i(a, CG_T_I64, v); }
static cg_expr *add(ir_arena *a, cg_expr *x, cg_expr *y) { return cg_bin(a, CG_B_ADD, x, y); }
static cg_expr *mul(ir_arena *a, cg_expr *x, cg_expr *y) { return cg_bin(a, CG_B_MUL, x, y); }

/* idx = indices[var p], checked against [0, num) */
static cg_stmt *load_index(ir_arena *a, int ibuf, int p, int64_t num)
{
	cg_expr *y = cg_local(a, CG_T_I64, L_IDX);
	cg_stmt *s = cg_set(a, L_IDX, cg_cast(a, CG_T_I64, cg_load(a, CG_T_I32, ibuf, cg_var(a, p))));
	cg_expr *bad = cg_bin(a, CG_B_OR, cg_bin(a, CG_B_LT, y, I(a, 0)), cg_bin(a, CG_B_GE, y, I(a, num)));
	s->next = cg_if(a, bad, cg_fail(a, 1));
	return s;
}

int cg_lower_embed(ir_arena *a, cg_kernel *k, const ir_node *n, const int *buf, char *err,
                   size_t errlen)
{
	if (!ir_embed_is(n->op) || n->shape.rank < 1) {
		snprintf(err, errlen, "lowering: %s is not an embedding op", ir_op_name(n->op));
		return -1;
	}
	cg_type t = cg_type_of(n->dtype);
	int grad = n->op == IR_OP_EMBEDDING_GRAD;
	int64_t num = grad ? n->shape.dim[0] : n->in[0]->shape.dim[0];
	int64_t D = grad ? n->shape.dim[1] : n->in[0]->shape.dim[1];
	int64_t P = ir_shape_numel(&n->in[1]->shape);
	k->nvars = 2;
	k->nlocals = L_COUNT;
	k->local_type = ir_arena_alloc(a, L_COUNT * sizeof *k->local_type);
	k->local_type[L_IDX] = CG_T_I64;
	k->fail_msg = "index outside [0, num_embeddings)";
	cg_expr *row = mul(a, cg_local(a, CG_T_I64, L_IDX), I(a, D));
	if (!grad) {
		/* vars: 0 = position, 1 = column */
		cg_stmt *body = load_index(a, buf[2], 0, num);
		cg_expr *v = cg_load(a, t, buf[1], add(a, row, cg_var(a, 1)));
		cg_append(&body, cg_loop(a, 1, D, CG_L_SERIAL,
		                         cg_store(a, buf[0], add(a, mul(a, cg_var(a, 0), I(a, D)), cg_var(a, 1)), v)));
		k->body = cg_loop(a, 0, P, CG_L_PARALLEL, body);
		k->work = P * D;
		return 0;
	}
	/* vars: 0 = column, 1 = row, then position */
	cg_expr *j = cg_var(a, 0);
	cg_stmt *body = cg_loop(a, 1, num, CG_L_SERIAL,
	                        cg_store(a, buf[0], add(a, mul(a, cg_var(a, 1), I(a, D)), j),
	                                 cg_const_f(a, t, 0.0)));
	cg_stmt *scatter = load_index(a, buf[2], 1, num);
	cg_expr *at = add(a, row, j);
	cg_expr *dy = cg_load(a, t, buf[1], add(a, mul(a, cg_var(a, 1), I(a, D)), j));
	cg_append(&scatter, cg_store(a, buf[0], at, add(a, cg_load(a, t, buf[0], at), dy)));
	cg_append(&body, cg_loop(a, 1, P, CG_L_SERIAL, scatter));
	k->body = cg_loop(a, 0, D, CG_L_PARALLEL, body);
	k->work = (num + P) * D;
	return 0;
}
