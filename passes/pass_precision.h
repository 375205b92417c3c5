/*
 * pass_precision.h - the precision row of the pass table: with
 * `precision = "bf16"`, the forward graph rewritten to compute as
 * torch.autocast("cpu", dtype=torch.bfloat16) does (pass_precision.c has
 * the rules), before autodiff and SAM see it.
 */
#ifndef SAMC_PASS_PRECISION_H
#define SAMC_PASS_PRECISION_H

#include "ir_model.h"

/* Rewrites g (an f32 graph; any other is an error at `loc`) in place: each
 * *roots[i] (the loss, metrics, state updates: values read from outside
 * the graph) is redirected to its rounded value where the rewrite rounds
 * it. Nodes are put back in order (ir_reorder). 0 or -1 (g->err). */
/* follows[0..nf): the layers whose result takes their input's dtype
 * (ir_follow), as nodes of g. */
int pass_precision(ir_graph *g, ir_loc loc, ir_node **const *roots, int nroots,
                   const ir_follow *follows, int nf);

#endif
