/*
 * pass_looksam.h - LookSAM (Liu et al., "Towards Efficient and Scalable
 * Sharpness-Aware Minimization", CVPR 2022, Algorithm 1) over the two
 * training programs of `optimizer.sam.every`: the SAM program (every k-th
 * step) stores the part of the SAM gradient orthogonal to the plain one,
 *   g_v = g_s - ||g_s|| cos(g, g_s) g/||g|| = g_s - (<g, g_s> / ||g||^2) g,
 * as optimizer state "opt.<param>.looksam_gv"; the base program (the steps
 * between) hands its optimizer
 *   g + alpha (||g|| / ||g_v||) g_v
 * from one forward/backward. As in the paper's Algorithm 1 the norms and
 * the inner product are global, over all parameters together (one vector
 * x in R^d). Denominators carry 1e-24 (||g||^2) and 1e-12 (||g_v||), as
 * SAM's ||g|| + 1e-12, so zero gradients give zero terms, not NaN.
 */
#ifndef SAMC_PASS_LOOKSAM_H
#define SAMC_PASS_LOOKSAM_H

#include "ir_model.h"

/* The state that holds a param's g_v: "opt.<param>.looksam_gv". */
ir_node *pass_looksam_gv(ir_graph *g, const ir_node *param);

/* SAM program: assigns g_v from g (g1, at w) and g_s (g2, at w~) to each
 * param's state. Call after pass_sam (its state check refuses any assign
 * that reads w~, and g_v reads it by design). 0 or -1 (g->err). */
int pass_looksam_store(ir_graph *g, ir_node *const *params, ir_node *const *g1,
                       ir_node *const *g2, int n);

/* Base program: out[i] = grads[i] + alpha (||g|| / (||g_v|| + 1e-12)) g_v[i],
 * alpha the step input RT_SCALAR_LOOKSAM_ALPHA. 0 or -1 (g->err). */
int pass_looksam_mix(ir_graph *g, ir_node *const *params, ir_node *const *grads, int n,
                     ir_node **out);

#endif
