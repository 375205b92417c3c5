/*
 * cg_cuda.h - the loop IR (cg_loop.h) rendered as CUDA C: one
 * `extern "C" __global__` function per loop kernel of a program, readable,
 * for NVRTC (cg_nvrtc.h) and, unchanged, for the host C++ compiler against
 * samc_cuda_host.h (how the tests run it without a GPU).
 *
 * A kernel's parameters are its buffers in cg_kernel.args order (`const`
 * where it only reads them), then `int *err`, the error word it writes a
 * FAIL code to before it stops, as the CPU kernels do.
 *
 * How a kernel maps to the grid (cg_cuda_map):
 *
 *   THREADS    the body is one parallel loop with no reduce loop in it:
 *              a grid-stride loop, one iteration per thread (an
 *              elementwise kernel's whole nest flattened into one index,
 *              so consecutive threads touch consecutive elements). No
 *              barriers.
 *   BLOCKS     the body is one parallel loop with reduce loops inside (a
 *              row op, the chunks of a split reduction): a block per
 *              iteration, grid-stride over the blocks, and the block's
 *              threads share the iteration's reduce loops.
 *   ONE_BLOCK  anything else (a whole reduction's fold, serial loops): one
 *              block.
 *
 * Inside a block (BLOCKS, ONE_BLOCK) every thread runs the statements
 * outside loops with the same values; thread 0 alone stores them (and the
 * block waits at a barrier when the kernel reads that buffer too). A
 * reduce loop's iterations are dealt to the threads in a fixed stride,
 * each thread folds its own in loop order, then a tree in shared memory
 * (pairs at distance blockDim/2, /4, ... 1) combines the partial values,
 * and the result is folded into the accumulator's value from before the
 * loop once. A parallel loop there is dealt the same way, with a barrier
 * after it. The order of every fold depends only on the block size, which
 * the renderer fixes per kernel: results are the same on every run, with
 * no atomics on values. Nested loops inside a thread's share run in order.
 *
 * GEMM and CONV kernels are library calls (cuBLAS, cuDNN on a GPU): the
 * module lists them in a comment table and renders no code for them.
 *
 * The module ends, under `#ifdef SAMC_CUDA_HOST` (NVRTC never sees it),
 * with `extern "C" void NAME_hostlaunch(unsigned grid, unsigned block,
 * void **params)` per kernel: cuLaunchKernel's grid, block and parameter
 * array (params[j] points at buffer j's device address, the last at the
 * error word's), run on the host against samc_cuda_host.h. The host
 * stand-in for the driver (tests/cuda_standin) launches kernels there.
 */
#ifndef SAMC_CG_CUDA_H
#define SAMC_CG_CUDA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cg_lower.h"

typedef enum { CG_CUDA_THREADS, CG_CUDA_BLOCKS, CG_CUDA_ONE_BLOCK } cg_cuda_map;

/* One rendered kernel: its name in the module and its launch. */
typedef struct {
	char name[80];
	int kernel;       /* index into the program's kernels */
	cg_cuda_map map;
	int64_t grid;     /* blocks */
	int block;        /* threads per block (a power of two) */
	int barriers;     /* whether it calls __syncthreads (its threads need fibers on a host) */
	int64_t smem;     /* bytes of static shared memory */
	int line;         /* the first line of its text in the module (1-based) */
} cg_cuda_kernel;

typedef struct cg_cuda_mod {
	char *src;        /* the CUDA C module, NUL-terminated */
	size_t len;
	cg_cuda_kernel *k; /* the loop kernels, in program order */
	int nk;
	int ncall;        /* library calls (GEMM, CONV) listed, not rendered */
} cg_cuda_mod;

/* Renders every loop kernel of prog; `prefix` (may be NULL) goes before
 * each kernel's name, so several programs can share one module. NULL with
 * a message in err. */
cg_cuda_mod *cg_cuda_render(const cg_program *prog, const char *prefix, char *err, size_t errlen);
void cg_cuda_mod_free(cg_cuda_mod *m);

/* The text every module starts with (once, however many programs share
 * it): the helpers, and the two kernels the CUDA device launches around a
 * bf16 GEMM or convolution, samc_bf16_pack (a call's two operands from
 * f32 to bf16 storage: a, a16, na, b, b16, nb) and samc_bf16_unpack (its
 * result back: x, y, n), grid-stride loops, with their host launch entry
 * points under SAMC_CUDA_HOST. */
const char *cg_cuda_prelude(void);

/* The host entry points for running a module on the CPU against
 * samc_cuda_host.h: `NAME_host(void **bufs, int64_t lo, int64_t hi,
 * int32_t *err)`, the signature of a CPU kernel (rt_prog.h), each of which
 * launches NAME over its grid on the calling thread. Appended after the
 * module's source by whoever compiles it for the host. */
void cg_cuda_host_shims(FILE *out, const cg_cuda_mod *m, const cg_program *prog);

#endif
