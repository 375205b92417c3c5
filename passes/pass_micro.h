/*
 * pass_micro.h - the programs of a step of micro-batches.
 *
 * With optimizer.accumulate = K or optimizer.sam.m = M, one optimizer step
 * runs the model on n micro-batches (n = K or M) through several
 * programs, in the order runtime/rt_step_seq.h gives. Their gradients
 * meet in STATE accumulators, which are zero between steps:
 *
 *   accum.grad.<p>  the sum of the first gradients g_i = dL_i/dw
 *   accum.sam.<p>   the sum of the second gradients, at perturbed weights
 *
 *   base, accumulate K:  ACC x (K-1)        accum.grad += g_i
 *                        BASE               update with (accum.grad + g_K) / K,
 *                                           accum.grad := 0
 *   SAM, accumulate K:   ACC x K            accum.grad += g_i
 *                        SAM_ACC x (K-1)    w~ = w + rho g/||g||, g = accum.grad / K;
 *                                           accum.sam += dL_i(w~)/dw~
 *                        SAM                the same, then update with
 *                                           (accum.sam + g2_K) / K, both := 0
 *                                           (GSAM: that mean decomposed against
 *                                           accum.grad / K)
 *   SAM, m = M:          SAM_ACC x (M-1)    SAM on micro-batch i, its own
 *                                           w~_i from its own g_i (its own
 *                                           norm); accum.sam += g2_i
 *                        SAM                the same, then update with
 *                                           (accum.sam + g2_M) / M, := 0
 *
 * On several ranks (opt_config.ranks > 1, runtime/rt_step_seq.h) each rank
 * runs ACC and SAM_ACC on its micro-batches, the accumulators are summed
 * over the ranks, and UPD or UPD_SAM updates from their means over all
 * N x n micro-batches (no forward or backward pass) and zeroes them; SAM
 * under optimizer.sam.sync is perturbed as under accumulate, per-replica
 * SAM as under m.
 *
 * The model's state (batch_norm's running statistics) moves on every
 * micro-batch's first forward pass (ACC; SAM_ACC and SAM under m), never at
 * perturbed weights. With accumulate, the programs at perturbed weights
 * report nothing (no outputs): the step's loss and metrics are the ACC
 * runs', at w.
 */
#ifndef SAMC_PASS_MICRO_H
#define SAMC_PASS_MICRO_H

#include "pass_table.h"

/* Micro-batches per step of the model's recipe over all its ranks
 * (rt_micro_total): accumulate, sam.m or 1, times the ranks. */
int pass_micro_count(const opt_config *o);

/* The graph row "micro" (for BASE, SAM, ACC, SAM_ACC): nothing with one
 * micro-batch per step; else the accumulators' assigns above, and for the
 * updating programs c->update_grads becomes the mean. */
int pass_micro_run(pass_ctx *c, char *err, size_t errlen);

/* accum.grad.<p> / K for every param (a new array, the caller frees it),
 * or NULL (out of memory, g->err). */
ir_node **pass_micro_mean_grad(pass_ctx *c);

#endif
