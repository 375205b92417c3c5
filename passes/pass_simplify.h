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

#endif
