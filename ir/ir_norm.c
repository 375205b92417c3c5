/*
 * ir_norm.c - batch_norm and layer_norm built from graph ops (ir_norm.h).
 */
#include "ir_norm.h"

static ir_node *k(ir_graph *g, const ir_node *like, double v)
{
	return ir_const(g, like->dtype, ir_shape_scalar(), v);
}

static ir_node *bin(ir_graph *g, ir_op op, ir_node *a, ir_node *b)
{
	return ir_binary(g, op, a, b);
}

/* x's shape with every dim but the channel (dim 1) set to 1, so a [C]
 * statistic broadcasts over x. */
static ir_shape channel_shape(const ir_node *x)
{
	ir_shape s = x->shape;
	for (int i = 0; i < s.rank; i++)
		if (i != 1)
			s.dim[i] = 1;
	return s;
}

ir_node *ir_batch_norm(ir_graph *g, ir_node *x, ir_node *weight, ir_node *bias,
                       ir_node *running_mean, ir_node *running_var, ir_node *mode, double eps,
                       ir_bn_stats *stats)
{
	return ir_batch_norm_ranks(g, x, weight, bias, running_mean, running_var, mode, eps, 1,
	                           stats);
}

ir_node *ir_batch_norm_ranks(ir_graph *g, ir_node *x, ir_node *weight, ir_node *bias,
                             ir_node *running_mean, ir_node *running_var, ir_node *mode,
                             double eps, int ranks, ir_bn_stats *stats)
{
	if (!x || !running_mean || !running_var || !mode)
		return NULL;
	char buf[96];
	if (x->shape.rank < 2 || !ir_dtype_is_float(x->dtype))
		return ir_error(g, g->cur, "batch_norm: expects a float input [N, C, ...], got %s%s",
		                ir_dtype_name(x->dtype), ir_shape_str(&x->shape, buf, sizeof buf));
	int sync = ranks > 1;
	int64_t C = x->shape.dim[1], n = C ? ir_shape_numel(&x->shape) / C : 0;
	/* synchronised: the statistics of every rank's values, n of each */
	n *= sync ? ranks : 1;
	if (n < 2)
		return ir_error(g, g->cur, "batch_norm: expected more than 1 value per channel when "
		                "training, got input %s", ir_shape_str(&x->shape, buf, sizeof buf));
	if ((weight == NULL) != (bias == NULL))
		return ir_error(g, g->cur, "batch_norm: weight and bias come together");
	uint32_t axes = 0;
	for (int i = 0; i < x->shape.rank; i++)
		if (i != 1)
			axes |= 1u << i;
	ir_shape cs = channel_shape(x);
	/* ATen: the mean, then the sum of squared deviations from it (two passes) */
	ir_node *sum = ir_reduce(g, IR_OP_SUM, x, axes, 0);
	if (sync)
		sum = ir_rank_sum(g, sum);
	ir_node *mean = bin(g, IR_OP_DIV, sum, k(g, x, (double)n));
	ir_node *dev = bin(g, IR_OP_SUB, x, ir_reshape(g, mean, cs));
	ir_node *var_sum = ir_reduce(g, IR_OP_SUM, bin(g, IR_OP_MUL, dev, dev), axes, 0);
	if (sync)
		var_sum = ir_rank_sum(g, var_sum);
	ir_node *var = bin(g, IR_OP_DIV, var_sum, k(g, x, (double)n));
	ir_node *m = ir_where(g, mode, mean, running_mean);
	ir_node *v = ir_where(g, mode, var, running_var);
	ir_node *invstd = ir_unary(g, IR_OP_RSQRT, bin(g, IR_OP_ADD, v, k(g, x, eps)));
	ir_node *alpha = weight ? bin(g, IR_OP_MUL, invstd, weight) : invstd;
	ir_node *ma = bin(g, IR_OP_MUL, m, alpha);
	ir_node *beta = bias ? bin(g, IR_OP_SUB, bias, ma) : ir_unary(g, IR_OP_NEG, ma);
	ir_node *y = bin(g, IR_OP_ADD, bin(g, IR_OP_MUL, x, ir_reshape(g, alpha, cs)),
	                 ir_reshape(g, beta, cs));
	if (stats) {
		stats->mean = mean;
		stats->unbiased_var = bin(g, IR_OP_DIV, var_sum, k(g, x, (double)(n - 1)));
		stats->count = n;
		if (!stats->unbiased_var)
			return NULL;
	}
	return y;
}

ir_node *ir_bn_running(ir_graph *g, ir_node *running, ir_node *batch, double momentum)
{
	if (!running || !batch)
		return NULL;
	return bin(g, IR_OP_ADD, bin(g, IR_OP_MUL, k(g, batch, momentum), batch),
	           bin(g, IR_OP_MUL, k(g, running, 1.0 - momentum), running));
}

ir_node *ir_layer_norm(ir_graph *g, ir_node *x, int ndims, ir_node *weight, ir_node *bias,
                       double eps)
{
	if (!x)
		return NULL;
	char buf[96];
	if (ndims < 1 || ndims > x->shape.rank || !ir_dtype_is_float(x->dtype))
		return ir_error(g, g->cur, "layer_norm: cannot normalise the last %d dims of %s%s", ndims,
		                ir_dtype_name(x->dtype), ir_shape_str(&x->shape, buf, sizeof buf));
	if ((weight == NULL) != (bias == NULL))
		return ir_error(g, g->cur, "layer_norm: weight and bias come together");
	uint32_t axes = 0;
	int64_t M = 1;
	for (int i = x->shape.rank - ndims; i < x->shape.rank; i++) {
		axes |= 1u << i;
		M *= x->shape.dim[i];
	}
	ir_node *mean = bin(g, IR_OP_DIV, ir_reduce(g, IR_OP_SUM, x, axes, 1), k(g, x, (double)M));
	ir_node *dev = bin(g, IR_OP_SUB, x, mean);
	ir_node *var = bin(g, IR_OP_DIV, ir_reduce(g, IR_OP_SUM, bin(g, IR_OP_MUL, dev, dev), axes, 1),
	                   k(g, x, (double)M));
	ir_node *rstd = ir_unary(g, IR_OP_RSQRT, bin(g, IR_OP_ADD, var, k(g, x, eps)));
	/* ATen: scale = rstd, bias = -rstd * mean, y = x * scale + bias */
	ir_node *shift = bin(g, IR_OP_MUL, ir_unary(g, IR_OP_NEG, rstd), mean);
	ir_node *y = bin(g, IR_OP_ADD, bin(g, IR_OP_MUL, x, rstd), shift);
	if (weight)
		y = bin(g, IR_OP_ADD, bin(g, IR_OP_MUL, y, weight), bias);
	return y;
}
