/*
 * pass_autodiff.h - reverse-mode differentiation as a graph edit.
 */
#ifndef SAMC_PASS_AUTODIFF_H
#define SAMC_PASS_AUTODIFF_H

#include "ir.h"

/* Appends to g the nodes computing d(loss)/d(wrt[i]) for i < n and stores
 * them in grads[i]. `loss` must be a float scalar; wrt may be any nodes
 * (leaves or not). A wrt node that loss does not depend on gets zeros.
 * Returns 0, or -1 with g->err set. */
int pass_grad(ir_graph *g, ir_node *loss, ir_node *const *wrt, int n, ir_node **grads);

/* Whether op has a derivative rule here (its gradient facet; the op table
 * says which ops need one). */
int pass_grad_has_rule(ir_op op);

/* Sums `d` over the axes that numpy broadcasting expanded from `shape`, so
 * the result has exactly `shape` (the adjoint of a broadcast). */
ir_node *pass_unbroadcast(ir_graph *g, ir_node *d, const ir_shape *shape);

#endif
