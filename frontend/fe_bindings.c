/*
 * fe_bindings.c - the model language's facet of the op table: how a model
 * file spells each op that ir.h marks IR_DSL_BOUND, with an expression that
 * builds it. tests/unit/test_op_table.c runs every example and checks that
 * it makes a node of its op, so this list cannot drift from fe_ops.c,
 * fe_tensor.c and fe_dsl.c, where the bindings live.
 */
#include "fe_bindings.h"

static const fe_binding bindings[] = {
	{IR_OP_PARAM, "param(name, shape)", "param(\"q\", {3})"},
	{IR_OP_INPUT, "input(name, shape)", "input(\"z\", {B, 3})"},
	{IR_OP_CONST, "a number in arithmetic", "x * 2"},
	{IR_OP_NEG, "-x", "-x"},
	{IR_OP_EXP, "exp(x)", "exp(x)"},
	{IR_OP_LOG, "log(x)", "log(x)"},
	{IR_OP_SQRT, "sqrt(x)", "sqrt(x)"},
	{IR_OP_ABS, "abs(x)", "abs(x)"},
	{IR_OP_RELU, "relu(x)", "relu(x)"},
	{IR_OP_GELU, "gelu(x)", "gelu(x)"},
	{IR_OP_TANH, "tanh(x)", "tanh(x)"},
	{IR_OP_SIGMOID, "sigmoid(x)", "sigmoid(x)"},
	{IR_OP_LEAKY_RELU, "leaky_relu(x, negative_slope)", "leaky_relu(x, 0.2)"},
	{IR_OP_SOFTPLUS, "softplus(x, beta, threshold)", "softplus(x, 2, 10)"},
	{IR_OP_CLAMP, "clamp(x, min, max)", "clamp(x, nil, 1)"},
	{IR_OP_ADD, "a + b", "x + x"},
	{IR_OP_SUB, "a - b", "x - x"},
	{IR_OP_MUL, "a * b", "x * x"},
	{IR_OP_DIV, "a / b", "x / x"},
	{IR_OP_POW, "a ^ b", "x ^ 2"},
	{IR_OP_MINIMUM, "minimum(a, b)", "minimum(x, 0)"},
	{IR_OP_MAXIMUM, "maximum(a, b)", "maximum(x, x * 2)"},
	{IR_OP_GT, "gt(a, b)", "gt(x, 0)"},
	{IR_OP_GE, "ge(a, b)", "ge(x, 0)"},
	{IR_OP_LT, "lt(a, b)", "lt(x, 0)"},
	{IR_OP_LE, "le(a, b)", "le(x, 0)"},
	{IR_OP_EQ, "eq(a, b)", "eq(x, 0)"},
	{IR_OP_NE, "ne(a, b)", "ne(x, 0)"},
	{IR_OP_WHERE, "where(cond, a, b)", "where(gt(x, 0), x, 0)"},
	{IR_OP_RESHAPE, "reshape(x, shape)", "reshape(x, {3, B})"},
	{IR_OP_TRANSPOSE, "transpose(x, d0, d1)", "transpose(x, 0, 1)"},
	{IR_OP_NARROW, "narrow(x, dim, start, length)", "narrow(x, 1, 0, 2)"},
	{IR_OP_CAT, "cat({a, b, ...}, dim)", "cat({x, x * 2}, 1)"},
	{IR_OP_SUM, "sum(x, dim, keepdim)", "sum(x, 1)"},
	{IR_OP_MAX, "max(x, dim, keepdim)", "max(x, 1)"},
	{IR_OP_MATMUL, "matmul(a, b)", "matmul(x, w)"},
	{IR_OP_SOFTMAX, "softmax(x, dim)", "softmax(x, 1)"},
	{IR_OP_LOG_SOFTMAX, "log_softmax(x, dim)", "log_softmax(x, 1)"},
	{IR_OP_CROSS_ENTROPY, "cross_entropy(logits, labels)", "cross_entropy(x, y)"},
	{IR_OP_CORRECT, "accuracy(logits, labels)", "accuracy(x, y)"},
	{IR_OP_MAX_POOL2D, "max_pool2d(x, kernel_size, stride, padding)",
	 "max_pool2d(reshape(x, {1, 1, B, 3}), 2, 1, 1)"},
	{IR_OP_AVG_POOL2D, "avg_pool2d(x, kernel_size, stride, padding, count_include_pad)",
	 "avg_pool2d(reshape(x, {1, 1, B, 3}), {2, 3}, 1, {1, 0}, false)"},
	{IR_OP_ADAPTIVE_AVG_POOL2D, "adaptive_avg_pool2d(x, output_size)",
	 "adaptive_avg_pool2d(reshape(x, {1, 1, B, 3}), 1)"},
	{IR_OP_CONV2D, "conv2d(x, out_channels, kernel_size, {stride, padding, dilation, groups, bias, name})",
	 "conv2d(reshape(x, {1, 1, B, 3}), 2, {2, 3}, {padding = 1})"},
	{IR_OP_NLL_LOSS, "nll_loss(log_probs, labels)", "nll_loss(log_softmax(x, 1), y)"},
	{IR_OP_ONE_HOT, "one_hot(labels, num_classes)", "one_hot(y, 3)"},
	{IR_OP_EMBEDDING, "embedding(indices, num_embeddings, embedding_dim)", "embedding(y, 5, 4)"},
};

const fe_binding *fe_op_binding(ir_op op)
{
	for (size_t i = 0; i < sizeof bindings / sizeof *bindings; i++)
		if (bindings[i].op == op)
			return &bindings[i];
	return NULL;
}
