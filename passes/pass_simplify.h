/*
 * pass_simplify.h - graph clean-ups run at the end of the pipeline.
 */
#ifndef SAMC_PASS_SIMPLIFY_H
#define SAMC_PASS_SIMPLIFY_H

#include "ir.h"

/* Dead-code elimination: keeps the nodes that `outs` and the ASSIGNs need,
 * drops the rest (e.g. metrics recomputed at SAM's perturbed weights), and
 * renumbers ids in order. Node pointers of kept nodes stay valid. */
int pass_dce(ir_graph *g, ir_node *const *outs, int nout);

/* Common subexpressions merged (same op, inputs and attributes) and ops
 * whose inputs are all constants folded into one constant, computed by
 * the interpreter's own arithmetic and rounding, so numerics do not
 * change. A where() whose condition is a constant (the resolved train/eval
 * mode) becomes the branch it selects. Reads of a replaced node, outs[] included, move to its
 * replacement; the replaced nodes are left for pass_dce. */
int pass_simplify(ir_graph *g, ir_node **outs, int nout);

#endif
