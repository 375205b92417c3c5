/*
 * pass_sam.h - the SAM rewrite: a base training step becomes
 * perturb -> recompute -> update, with no restore of the weights.
 */
#ifndef SAMC_PASS_SAM_H
#define SAMC_PASS_SAM_H

#include "ir_model.h"

/* Given the loss and its gradients g1 = dL/dw at the params, appends
 *   n   = || a * g1 ||_2 over all params     (a = ASAM's T_w = |w| + eta if
 *                                             adaptive, on *.weight only with
 *                                             only = "weights"; else 1)
 *   w~  = w + rho_i * a^2 * g1 / (n + 1e-12)  (rho_i: the step input of the
 *                                             param's group, rt_sam_group_of)
 *   g2  = dL(w~)/dw~                          (a second forward/backward)
 * and stores g2 in g2_out; with GSAM, g2 - alpha * (g1's part orthogonal
 * to g2) instead (see gsam_decompose). The original w is never written here: the
 * second pass reads w~ as its own value, and the base update that follows
 * reads w. Returns 0 or -1 (g->err). */
/* `forward_end`: nodes before it form the forward pass that is re-emitted
 * at w~ (the first backward, after it, is not).
 *
 * The second pass writes no state. The model's state updates (upd[0..nupd),
 * e.g. batch_norm's running statistics) are assigned here from the values
 * the first forward pass computes, before anything is re-emitted, and
 * pass_sam_check_state then refuses the step if any assign reads a value
 * that depends on w~: so running statistics and num_batches_tracked move
 * once per SAM step, as with davda54's bypass of BatchNorm's momentum in
 * the second pass and google-research/sam's discarded second-pass state. */
int pass_sam(ir_graph *g, const opt_config *o, ir_node *loss, ir_node *const *params,
             ir_node *const *g1, int n, int forward_end, const ir_update *upd, int nupd,
             ir_node **g2_out);

/* GSAM's decomposition of g1 against g2 (pass_sam.c), g2[i] replaced by
 * g2 - alpha (g1's part orthogonal to g2); pass_sam applies it when
 * o->gsam, and a step of accumulated micro-batches to the means
 * (pass_micro.c). 0 or -1 (g->err). */
int pass_gsam_decompose(ir_graph *g, ir_node *loss, ir_node *const *g1, ir_node **g2, int n);

/* The rule above as a check: 0 when no ASSIGN of g reads (through any
 * chain of nodes) one of wt[0..n); else -1 and g->err names the assign's
 * target. */
int pass_sam_check_state(ir_graph *g, ir_node *const *wt, int n);

/* Appends target := value for each of the model's state updates (a
 * training step's; evaluation writes no state). 0 or -1 (g->err). */
int pass_state_updates(ir_graph *g, const ir_update *upd, int nupd);

#endif
