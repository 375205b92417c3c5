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
