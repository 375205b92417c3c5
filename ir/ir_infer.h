/* ir_infer.h - shape/dtype rules shared by the builder and the verifier. */
#ifndef SAMC_IR_INFER_H
#define SAMC_IR_INFER_H

#include "ir.h"

/* Computes the shape and dtype `n` must have from its op, inputs and
 * attributes. For RESHAPE/BROADCAST the target is n->shape; leaves keep
 * theirs. Returns 0, or -1 with the error recorded in g at n->loc. */
int ir_infer(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype);

/* Whether op has a shape rule (its shape facet). */
int ir_infer_has_rule(ir_op op);

#endif
