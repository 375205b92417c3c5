/*
 * rt_prog.h - a compiled step as plain data.
 *
 * A backend compiles each fused kernel to a function
 * `void fn(void **bufs, int64_t lo, int64_t hi, int32_t *err)` (see
 * codegen/llvm/cg_llvm.h): it runs iterations [lo, hi) of its outermost
 * loop over buffers bufs[0..nargs) and, when it finds bad data, writes a
 * nonzero code to *err and stops. Everything else about a step is a table:
 * its slots, the buffers (a slot's memory or a range of one arena), the
 * schedule of kernels and GEMMs, the scalar outputs and the commits of
 * assigns. The JIT fills the table in memory; `samc build` writes it out as
 * C next to an object file of the same kernels. Both run it through the
 * step runner (rt_runner.h) on a device (rt_device.h; the CPU:
 * rt_dev_cpu.h), so a standalone trainer and `samc model.lua --backend cpu`
 * execute the same schedule with the same machine code.
 */
#ifndef SAMC_RT_PROG_H
#define SAMC_RT_PROG_H

#include <stdint.h>

#include "rt_conv.h"
#include "rt_exec.h"
#include "rt_kkind.h"

typedef void (*rt_kernel_fn)(void **bufs, int64_t lo, int64_t hi, int32_t *err);


typedef struct {
	rt_kkind kind;
	const char *name;       /* the kernel function's symbol */
	rt_kernel_fn fn;        /* the loop kinds (not rt_kkind_is_call) */
	int nargs;
	const int *args;        /* buffer ids, in the kernel's argument order */
	int64_t par_extent;     /* > 1: iterations of the outermost loop may be split */
	int64_t work;           /* elements touched */
	/* GEMM, row-major: C[m,n] = op(A) op(B) with A, B, C = args[0..2];
	 * batch > 1: that many products of consecutive matrices of A, B and C
	 * (A holds batch * m * k elements, ...); 0 or 1: one */
	int ta, tb, f64;
	int64_t m, n, k;
	int64_t batch;
	/* CONV (f32, NCHW): operation conv_op (an rt_conv_op) of the
	 * convolution conv, on args
	 *   RT_CONV_FWD         x, w, [b,] y     b when conv_bias
	 *   RT_CONV_BWD_DATA    dy, w, dx
	 *   RT_CONV_BWD_WEIGHT  x, dy, dw [, db] db when conv_bias */
	rt_conv_desc conv;
	int conv_op, conv_bias;
	/* GEMM and CONV: both multiplied operands are bf16-exact values (results
	 * of round_bf16, precision = "bf16"): the device may multiply them as
	 * bf16 with f32 accumulation. A product of two bf16 values is exact in
	 * f32, so this differs from the f32 call only in the order of the f32
	 * sums. 0: f32 operands. */
	int bf16;
	/* COMM: args[1][0..comm_n) := the sum over the run's ranks (rt_exec's
	 * comm, rt_comm.h's fixed order) of each rank's args[0][0..comm_n),
	 * f64 ? double : float; args[0] == args[1] sums in place. One rank (no
	 * comm): a copy. */
	int64_t comm_n;
	/* a kernel that can fail has a message: its nonzero error word is
	 * reported as "<where>: <msg> (code N, input '<input>')" */
	const char *fail_where; /* "model.lua:12: cross_entropy" */
	const char *fail_msg;
	const char *fail_input;
	/* CUDA (rt_dev_cuda.h): a loop kernel runs as `name` in the device's
	 * module, cu_grid blocks of cu_block threads (cg_cuda_kernel's
	 * launch); 0 in a table for the CPU */
	int64_t cu_grid;
	int cu_block;
} rt_prog_kernel;

typedef struct {
	int slot;       /* >= 0: the memory of slot `slot`; -1: in the arena */
	int64_t offset; /* arena byte offset */
	int64_t bytes;
} rt_prog_buf;

typedef struct {
	int src;      /* buffer holding the new value */
	int snapshot; /* buffer the value is saved to before any commit, or -1 */
	int target;   /* the slot buffer it goes to */
} rt_prog_commit;

typedef struct {
	const char *name; /* "loss", "accuracy", ... */
	int buf;          /* a one-element buffer */
	rt_dtype dtype;   /* RT_F32, RT_F64 or RT_I32 */
} rt_prog_output;

typedef struct {
	const rt_slot *slots;
	int nslots;
	const rt_prog_output *outputs;
	int noutputs;
	const rt_prog_buf *bufs;
	int nbufs;
	const rt_prog_kernel *kernels;
	int nkernels;
	const rt_prog_commit *commits;
	int ncommits;
	int64_t arena_bytes;
} rt_prog;

#endif
