/*
 * pass_lowrank.h - SAM's perturbed forward pass of a layer fed by data, as
 * a low-rank update (a CPU/GPU backend pass; the interpreter runs the
 * graph as pass_sam builds it and so checks this rewrite).
 *
 * For a weight W that a layer applies to a batch X which depends on no
 * parameter (the input layer: x, not an activation), the first gradient
 * is a product G = D^T X (or X^T D) of the layer's output gradient D [B,N]
 * and X [B,K]. SAM needs G only twice: in the norm ||g|| and in the
 * forward pass at W + s*G. Both have forms in B x B Gram matrices:
 *
 *   ||G||^2        = sum((D D^T) * (X X^T))
 *   X (W + s G)^T  = X W^T + s (X X^T) D      (X W^T: the first forward)
 *
 * so the [N,K] gradient is never formed: 2 B N K multiply-adds twice
 * become B^2 K + 2 B^2 N. The rewrite is made where that is fewer (with a
 * batch of 128, any layer wider than about 100), where W's perturbation is
 * W + s*G with a scalar s (plain SAM, per-group rho; not ASAM, whose
 * perturbation scales G elementwise), and where G has no other use.
 *
 * Both are recognised by what they compute, not by the node chain
 * pass_sam happens to build: the norm is sum(G*G) or sum(G^2); the
 * perturbation is any chain of scalings of G by scalars (one element, of
 * rank up to 2: G*s, s*G, G/s, -G) that is then added to W on either
 * side or subtracted from it.
 */
#ifndef SAMC_PASS_LOWRANK_H
#define SAMC_PASS_LOWRANK_H

#include "ir.h"

/* Rewrites g in place (outs[] may be updated); *count (may be NULL)
 * receives the number of weights rewritten. Dead nodes are removed and
 * the graph re-verified when something changed. -1 with g->err set. */
int pass_sam_lowrank(ir_graph *g, ir_node **outs, int nout, int *count);

#endif
