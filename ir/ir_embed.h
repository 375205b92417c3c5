/*
 * ir_embed.h - the embedding ops' shape rule and interpreter kernels
 * (ir_embed.c), registered in ir_infer.c and ir_interp_ops.c:
 *
 *     embedding(weight [num, dim], indices i32 [...]) -> [..., dim]
 *     embedding_grad(dy [..., dim], indices [...]) -> [num, dim]
 *
 * as PyTorch's F.embedding (no padding_idx, max_norm or
 * scale_grad_by_freq). Indices outside [0, num) are an error naming the
 * model line. The gradient adds dy's rows into zeros in index order, as
 * ATen's CPU embedding backward (index_add_), so repeated indices sum in
 * a fixed order.
 */
#ifndef SAMC_IR_EMBED_H
#define SAMC_IR_EMBED_H

#include "ir.h"

int ir_embed_is(ir_op op);
int ir_embed_infer(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype);
int ir_embed_run(const ir_node *n, const double *const *in, double *out, char *err,
                 size_t errlen);

#endif
