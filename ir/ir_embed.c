/* ir_embed.c - embedding: builders, shape rule, interpreter (see ir_embed.h). */
#include "ir_embed.h"

#include <math.h>
#include <stdio.h>

#include "ir_interp.h"

int ir_embed_is(ir_op op)
{
	return op == IR_OP_EMBEDDING || op == IR_OP_EMBEDDING_GRAD;
}

ir_node *ir_embedding(ir_graph *g, ir_node *weight, ir_node *indices)
{
	if (!weight || !indices)
		return NULL;
	ir_node *in[2] = {weight, indices};
	return ir_node_make(g, IR_OP_EMBEDDING, in, 2);
}

ir_node *ir_embedding_grad(ir_graph *g, ir_node *dy, ir_node *indices, int64_t num)
{
	if (!dy || !indices)
		return NULL;
	ir_attr_val at[IR_MAX_ATTRS];
	ir_attr_defaults(IR_OP_EMBEDDING_GRAD, at);
	at[0].i = num; /* the onehot set: classes */
	ir_node *in[2] = {dy, indices};
	return ir_node_make_attrs(g, IR_OP_EMBEDDING_GRAD, in, 2, at);
}

static int fail(ir_graph *g, const ir_node *n, const char *msg)
{
	ir_error(g, n->loc, "%s: %s", ir_op_name(n->op), msg);
	return -1;
}

int ir_embed_infer(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	const ir_node *idx = n->in[1];
	char msg[256], b1[64], b2[64];
	if (idx->dtype != IR_I32) {
		snprintf(msg, sizeof msg, "indices must be an i32 tensor, got %s%s",
		         ir_dtype_name(idx->dtype), ir_shape_str(&idx->shape, b1, sizeof b1));
		return fail(g, n, msg);
	}
	if (idx->shape.rank >= IR_MAX_DIMS) {
		snprintf(msg, sizeof msg, "indices of rank %d leave no room for the embedding dim "
		         "(at most %d)", idx->shape.rank, IR_MAX_DIMS - 1);
		return fail(g, n, msg);
	}
	const ir_node *x = n->in[0];
	if (!ir_dtype_is_float(x->dtype)) {
		snprintf(msg, sizeof msg, "expects a float %s, got %s", n->op == IR_OP_EMBEDDING
		         ? "weight" : "gradient", ir_dtype_name(x->dtype));
		return fail(g, n, msg);
	}
	if (n->op == IR_OP_EMBEDDING) {
		if (x->shape.rank != 2) {
			snprintf(msg, sizeof msg, "weight must be 2-D [num_embeddings, embedding_dim], "
			         "got %s", ir_shape_str(&x->shape, b1, sizeof b1));
			return fail(g, n, msg);
		}
		ir_shape s = idx->shape;
		s.dim[s.rank++] = x->shape.dim[1];
		*shape = s;
	} else {
		/* dy is [indices..., dim] */
		int ok = x->shape.rank == idx->shape.rank + 1;
		for (int d = 0; ok && d < idx->shape.rank; d++)
			ok = x->shape.dim[d] == idx->shape.dim[d];
		if (!ok || ir_attr_i(n, IR_ATTR_NCLASSES) < 1) {
			snprintf(msg, sizeof msg, "gradient %s does not match indices %s",
			         ir_shape_str(&x->shape, b1, sizeof b1),
			         ir_shape_str(&idx->shape, b2, sizeof b2));
			return fail(g, n, msg);
		}
		int64_t d[2] = {ir_attr_i(n, IR_ATTR_NCLASSES), x->shape.dim[x->shape.rank - 1]};
		*shape = ir_shape_make(2, d);
	}
	*dtype = x->dtype;
	return 0;
}

int ir_embed_run(const ir_node *n, const double *const *in, double *out, char *err,
                 size_t errlen)
{
	const ir_node *idx = n->in[1];
	int64_t P = ir_shape_numel(&idx->shape);
	int64_t num = n->op == IR_OP_EMBEDDING ? n->in[0]->shape.dim[0] : n->shape.dim[0];
	int64_t D = n->op == IR_OP_EMBEDDING ? n->in[0]->shape.dim[1] : n->shape.dim[1];
	for (int64_t p = 0; p < P; p++)
		if (!(in[1][p] >= 0 && in[1][p] < (double)num) || in[1][p] != floor(in[1][p]))
			return ir_interp_err(n, err, errlen,
			                     "index %g at position %lld is outside [0, %lld) (input '%s')",
			                     in[1][p], (long long)p, (long long)num,
			                     idx->name ? idx->name : "indices");
	if (n->op == IR_OP_EMBEDDING) {
		for (int64_t p = 0; p < P; p++)
			for (int64_t j = 0; j < D; j++)
				out[p * D + j] = in[0][(int64_t)in[1][p] * D + j];
		return 0;
	}
	for (int64_t i = 0; i < num * D; i++)
		out[i] = 0.0;
	for (int64_t p = 0; p < P; p++) {
		double *row = out + (int64_t)in[1][p] * D;
		for (int64_t j = 0; j < D; j++) {
			double v = row[j] + in[0][p * D + j];
			row[j] = n->dtype == IR_F32 ? (double)(float)v : v;
		}
	}
	return 0;
}
