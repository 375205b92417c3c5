/*
 * ir_norm.h - batch_norm and layer_norm as compositions of graph ops
 * (sum, sub, mul, div, rsqrt, where, reshape), in the order of operations
 * of PyTorch's CPU kernels (ATen's batch_norm_cpu and LayerNormKernel), so
 * autodiff, the interpreter and every backend handle them with no op of
 * their own.
 *
 * batch_norm over x [N, C, ...] (statistics per channel, over every other
 * dim, n values each):
 *
 *     mean    = sum(x) / n                     (the batch's)
 *     var_sum = sum((x - mean)^2)
 *     train:  m, v = mean, var_sum / n         (biased variance)
 *     eval:   m, v = running_mean, running_var
 *     invstd  = 1 / sqrt(v + eps)
 *     alpha   = invstd * weight,  beta = bias - m * alpha
 *     y       = x * alpha + beta
 *
 * The choice between train and eval is where(mode, ...) on the per-channel
 * statistics, with mode the graph's ir_mode leaf: once the pipeline has
 * resolved it, pass_simplify keeps only the program's own branch.
 *
 * layer_norm over the trailing dims (M values per row):
 *
 *     mean = sum(x) / M,  var = sum((x - mean)^2) / M,  rstd = 1 / sqrt(var + eps)
 *     y    = (x * rstd + (-rstd * mean)) * weight + bias
 */
#ifndef SAMC_IR_NORM_H
#define SAMC_IR_NORM_H

#include "ir.h"

/* The batch's statistics per channel, for the running-statistics updates. */
typedef struct {
	ir_node *mean;         /* [C] */
	ir_node *unbiased_var; /* [C]: var_sum / (n - 1) */
	int64_t count;         /* n, values per channel */
} ir_bn_stats;

/* y = batch_norm(x) as above; weight and bias [C] or both NULL (no affine);
 * running_mean, running_var [C]; mode the train/eval leaf (ir_mode). x has
 * rank >= 2 and more than one value per channel (PyTorch refuses one in
 * training). *stats (may be NULL) gets the batch's statistics. */
ir_node *ir_batch_norm(ir_graph *g, ir_node *x, ir_node *weight, ir_node *bias,
                       ir_node *running_mean, ir_node *running_var, ir_node *mode, double eps,
                       ir_bn_stats *stats);

/* The same over the ranks of a data-parallel run (sync_bn, as PyTorch's
 * SyncBatchNorm), ranks > 1: the per-channel sums (of x, then of the
 * squared deviations from the global mean) are rank_sums, the count is n *
 * ranks, so every rank normalises by the global batch's statistics and the
 * unbiased variance divides by n * ranks - 1. ranks <= 1: ir_batch_norm. */
ir_node *ir_batch_norm_ranks(ir_graph *g, ir_node *x, ir_node *weight, ir_node *bias,
                             ir_node *running_mean, ir_node *running_var, ir_node *mode,
                             double eps, int ranks, ir_bn_stats *stats);

/* running := (1 - momentum) * running + momentum * batch, written as
 * PyTorch's momentum * batch + (1 - momentum) * running. */
ir_node *ir_bn_running(ir_graph *g, ir_node *running, ir_node *batch, double momentum);

/* y = layer_norm(x) over its last `ndims` dims; weight and bias of those
 * dims' shape, or both NULL. */
ir_node *ir_layer_norm(ir_graph *g, ir_node *x, int ndims, ir_node *weight, ir_node *bias,
                       double eps);

#endif
