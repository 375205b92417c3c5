/*
 * pass_optim.h - base optimizers lowered into the graph as assigns, with
 * PyTorch's exact update formulas (torch.optim.SGD, Adam, AdamW).
 */
#ifndef SAMC_PASS_OPTIM_H
#define SAMC_PASS_OPTIM_H

#include "ir_model.h"

/* Appends, for each params[i] with gradient grads[i], the update of the
 * param and its optimizer state (STATE leaves "opt.<name>.<buffer>",
 * created here) as ASSIGN nodes. `lr` and `step` are scalar nodes: the
 * step's learning rate and its 1-based count. Returns 0 or -1 (g->err). */
int pass_optim_lower(ir_graph *g, const opt_config *o, ir_node *const *params,
                     ir_node *const *grads, int n, ir_node *lr, ir_node *step);

#endif
