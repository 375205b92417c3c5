/*
 * ir_bf16.c - rounding to bfloat16, the one formula the interpreter, the
 * CPU renderer (cg_llvm.c) and the CUDA prelude (cg_cuda.c) all spell the
 * same way: on the f32 bits, add 0x7fff plus the lowest kept bit, then
 * clear the 16 low bits (round to nearest, ties to even); NaN is kept.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ir.h"

double ir_round_bf16(double x)
{
	float f = (float)x;
	if (f != f)
		return x;
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	u += 0x7fffu + ((u >> 16) & 1u);
	u &= 0xffff0000u;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* Ops whose result is one of their inputs' values, its negation or its
 * magnitude, element by element (pass_precision.c's exact ops less those
 * that compare or count): bf16 values in, bf16 values out. */
static int moves_values(ir_op op)
{
	switch (op) {
	case IR_OP_NEG: case IR_OP_ABS: case IR_OP_RELU: case IR_OP_MINIMUM: case IR_OP_MAXIMUM:
	case IR_OP_WHERE: case IR_OP_RESHAPE: case IR_OP_TRANSPOSE: case IR_OP_BROADCAST:
	case IR_OP_NARROW: case IR_OP_CAT: case IR_OP_MAX: case IR_OP_MAX_POOL2D:
		return 1;
	default:
		return 0;
	}
}

/* depth bounds the walk through chains of such ops (a cat of cats) */
static int exact_at(const ir_node *x, int depth)
{
	if (x->op == IR_OP_ROUND_BF16)
		return 1;
	if (depth == 0 || !moves_values(x->op) || !ir_dtype_is_float(x->dtype))
		return 0;
	for (int i = x->op == IR_OP_WHERE ? 1 : 0; i < x->nin; i++)
		if (!exact_at(x->in[i], depth - 1))
			return 0;
	return 1;
}

int ir_bf16_exact(const ir_node *x)
{
	return x && x->dtype == IR_F32 && exact_at(x, 8);
}
