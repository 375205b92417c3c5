/*
 * rt_matmul.h - bf16 GEMMs on the CPU through oneDNN's matmul, for the GEMM
 * entries of a step table flagged bf16 (rt_prog.h): operands that hold
 * bf16 values, multiplied as bf16 with f32 accumulation, the result f32.
 *
 * The operands are bf16 arrays (the upper halves of the f32 values,
 * rt_matmul_to_bf16: exact, as the values are bf16), laid out as the f32
 * GEMM's (row-major, op() by ta/tb, `batch` consecutive products); the
 * result is C as the f32 GEMM writes it. A product of two bf16 values is
 * exact in f32, so the result differs from the f32 GEMM's only in the
 * order of its f32 sums, which depends on oneDNN's kernel for this CPU
 * (AVX-512 BF16 or AMX).
 *
 * A context opens oneDNN as a bf16 program's (rt_dnnl_load(1), the
 * instruction-set rule of rt_conv.h) and runs its primitives on its own
 * OpenMP thread count, like rt_conv. The first call of a shape creates
 * its primitive and scratchpad; later calls bind pointers and run. A
 * context is used by one thread at a time.
 */
#ifndef SAMC_RT_MATMUL_H
#define SAMC_RT_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "rt_err.h"

typedef struct rt_matmul rt_matmul;

/* A context on `threads` threads. NULL with a message (no oneDNN; or
 * oneDNN cannot run bf16 here: a CPU without AVX-512 BF16 or AMX, or the
 * library already pinned to AVX2 by an f32 program of this process). */
rt_matmul *rt_matmul_new(int threads, rt_err *err);
void rt_matmul_free(rt_matmul *c);

/* Creates (once) the primitive of a shape. 1: oneDNN has a bf16 matmul
 * for it; 0: none (the caller keeps its f32 GEMM); -1 with a message. */
int rt_matmul_prepare(rt_matmul *c, int ta, int tb, int64_t m, int64_t n, int64_t k,
                      int64_t batch, rt_err *err);

/* C[b] = op(A[b]) op(B[b]) for b < max(batch, 1). 0 or -1 with a message
 * (also when the shape has no bf16 primitive). */
int rt_matmul_run(rt_matmul *c, int ta, int tb, int64_t m, int64_t n, int64_t k, int64_t batch,
                  const uint16_t *A, const uint16_t *B, float *C, rt_err *err);

/* dst[i] = the bf16 of src[i] for i in [lo, hi): its upper 16 bits, which
 * is exact for a bf16 value (and truncates any other). */
void rt_matmul_to_bf16(uint16_t *dst, const float *src, int64_t lo, int64_t hi);

/* How many shapes have a bf16 primitive; the implementation oneDNN chose
 * for the last one made ("brg:avx512_core_bf16"), or "" . */
int rt_matmul_cached(const rt_matmul *c);
const char *rt_matmul_impl(const rt_matmul *c);

#endif
