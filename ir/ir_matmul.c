/*
 * ir_matmul.c - torch.matmul's rules for 2-D and 3-D operands, over the
 * MATMUL op (2-D products, or batches of them: [B,m,k] x [B,k,n]):
 *
 *   [m,k]   x [k,n]   -> [m,n]
 *   [B,m,k] x [B,k,n] -> [B,m,n]   (a batch size of 1 on either side broadcasts)
 *   [B,m,k] x [k,n]   -> [B,m,n]   one [B*m,k] x [k,n] product, as torch folds it
 *   [m,k]   x [B,k,n] -> [B,m,n]   the 2-D operand repeated over the batch
 */
#include "ir.h"

static ir_node *batched(ir_graph *g, ir_node *x, int64_t batch)
{
	if (x->shape.rank == 3 && x->shape.dim[0] == batch)
		return x;
	ir_shape s = {3, {batch, x->shape.dim[x->shape.rank - 2], x->shape.dim[x->shape.rank - 1]}};
	if (x->shape.rank == 3) /* [1,m,k]: drop the 1 first */
		x = ir_reshape(g, x, ir_shape_make(2, x->shape.dim + 1));
	return ir_broadcast(g, x, s);
}

ir_node *ir_matmul_torch(ir_graph *g, ir_node *a, ir_node *b)
{
	if (!a || !b)
		return NULL;
	int ra = a->shape.rank, rb = b->shape.rank;
	if (ra < 2 || ra > 3 || rb < 2 || rb > 3) {
		char sa[64], sb[64];
		return ir_error(g, g->cur, "matmul: %s x %s: the operands must be 2-D or 3-D",
		                ir_shape_str(&a->shape, sa, sizeof sa), ir_shape_str(&b->shape, sb, sizeof sb));
	}
	if (ra == 2 && rb == 2)
		return ir_matmul(g, a, b, 0, 0);
	if (ra == 3 && rb == 2) {
		int64_t B = a->shape.dim[0], m = a->shape.dim[1], k = a->shape.dim[2];
		ir_node *c = ir_matmul(g, ir_reshape(g, a, ir_shape_make(2, (int64_t[]){B * m, k})), b, 0, 0);
		return c ? ir_reshape(g, c, ir_shape_make(3, (int64_t[]){B, m, c->shape.dim[1]})) : NULL;
	}
	int64_t Ba = ra == 3 ? a->shape.dim[0] : 1, Bb = rb == 3 ? b->shape.dim[0] : 1;
	if (ra == 3 && rb == 3 && Ba != Bb && Ba != 1 && Bb != 1) {
		char sa[64], sb[64];
		return ir_error(g, g->cur, "matmul: %s x %s: batch sizes %lld and %lld do not broadcast",
		                ir_shape_str(&a->shape, sa, sizeof sa), ir_shape_str(&b->shape, sb, sizeof sb),
		                (long long)Ba, (long long)Bb);
	}
	int64_t B = Ba > Bb ? Ba : Bb;
	return ir_matmul(g, batched(g, a, B), batched(g, b, B), 0, 0);
}
