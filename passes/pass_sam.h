/*
 * pass_sam.h - the SAM rewrite: a base training step becomes
 * perturb -> recompute -> update, with no restore of the weights.
 */
#ifndef SAMC_PASS_SAM_H
#define SAMC_PASS_SAM_H

#include "ir_model.h"

/* Given the loss and its gradients g1 = dL/dw at the params, appends
 *   n   = || a * g1 ||_2 over all params     (a = |w| if adaptive, else 1)
 *   w~  = w + rho_i * a^2 * g1 / (n + 1e-12)  (rho_i: the step input of the
 *                                             param's group, rt_sam_group_of)
 *   g2  = dL(w~)/dw~                          (a second forward/backward)
 * and stores g2 in g2_out. The original w is never written here: the
 * second pass reads w~ as its own value, and the base update that follows
 * reads w. Returns 0 or -1 (g->err). */
/* `forward_end`: nodes before it form the forward pass that is re-emitted
 * at w~ (the first backward, after it, is not). */
int pass_sam(ir_graph *g, const opt_config *o, ir_node *loss, ir_node *const *params,
             ir_node *const *g1, int n, int forward_end, ir_node **g2_out);

#endif
