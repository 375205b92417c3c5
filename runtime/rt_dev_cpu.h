/*
 * rt_dev_cpu.h - the CPU device (see rt_device.h): host memory, loop
 * kernels split over a thread pool, GEMMs through OpenBLAS.
 *
 * A convolution (RT_K_CONV, f32) runs through oneDNN (rt_conv.h) on as
 * many OpenMP threads as the device has. A loop kernel whose outermost
 * loop is parallel and whose work is large enough is split over the pool; a GEMM large enough is split along the
 * longer side of C, and one of a matrix with its own transpose, A A^T,
 * calls syrk. On two threads, a GEMM whose result is needed only after a
 * stretch of kernels that run on one thread anyway may run whole on the
 * worker beside them (planned once per schedule, rt_dev_cpu_plan.c).
 *
 * bf16 (precision = "bf16"): on a CPU with AVX-512 BF16 or AMX (cpuid,
 * less the features SAMC_CPU_MASK names, read when the device is made),
 * GEMM and convolution entries flagged bf16 (rt_prog.h) run as oneDNN's
 * bf16 matmul (rt_matmul.h; the operands' upper halves converted into
 * scratch over the pool) and bf16 convolution (rt_conv_new_bf16), f32
 * accumulation; elsewhere, and where oneDNN is pinned to AVX2 already or
 * has no bf16 primitive for a shape, they run as f32 calls on the same
 * values. The results then differ from the f32 calls' only in the order
 * of the f32 sums (and oneDNN's instruction set is no longer pinned in
 * that process: rt_conv.h).
 */
#ifndef SAMC_RT_DEV_CPU_H
#define SAMC_RT_DEV_CPU_H

#include <stdint.h>

#include "rt_conv.h"
#include "rt_device.h"
#include "rt_exec.h"
#include "rt_matmul.h"
#include "rt_pool.h"
#include "rt_prog.h"

/* below this many elements touched a kernel runs on one thread: measured
 * on 2 cores, a [128,256] activation (65536) is faster alone, a
 * [128,1024] one faster split */
#define RT_PROG_PAR_MIN_WORK 131072
/* below m*n*k of this a GEMM runs on one thread */
#define RT_PROG_GEMM_PAR_MIN (1 << 19)
/* below m*m*k of this a symmetric product A A^T runs on one thread: on 2
 * cores, [128,256] x its transpose is faster alone, [128,784] split */
#define RT_PROG_SYRK_PAR_MIN (1 << 23)
/* a GEMM's parts start on rows/columns of C that are multiples of this */
#define RT_PROG_GEMM_ALIGN 16

/* A CPU device on `threads` threads (0: all cores; also OpenBLAS's thread
 * count). NULL with a message. */
rt_device *rt_dev_cpu_new(int threads, rt_err *err);
/* Its pool (idle between runs, so the runtime may fill batches on it). */
rt_pool *rt_dev_cpu_pool(const rt_device *d);

/* The step runner (rt_runner.h) on a new CPU device: the exec of a table
 * from the JIT or from a standalone trainer. NULL with a message. */
rt_exec *rt_prog_exec_new(const rt_prog *p, int threads, rt_err *err);

/* How many GEMMs an exec from rt_prog_exec_new runs on its worker beside
 * the kernels that follow them; -1 if x is not one. */
int rt_prog_exec_beside(const rt_exec *x);

/* How many GEMM and convolution entries of an exec from rt_prog_exec_new
 * run on bf16 operands (see above); -1 if x is not one. */
int rt_prog_exec_bf16(const rt_exec *x);

/* Runs one loop or GEMM kernel of a table as the CPU device does, its arguments bound
 * (a[j] = the memory of buffer k->args[j]), split over `pool` (NULL: on
 * the calling thread); a loop kernel's error word is *flag. OpenBLAS must
 * be set to one thread (openblas_set_num_threads(1)) when a pool is given.
 * Public so that a profiler times exactly what runs. */
void rt_prog_kernel_run(const rt_prog_kernel *k, void **a, int32_t *flag, rt_pool *pool);

/* Runs a convolution kernel (RT_K_CONV) of a table on context c, its
 * arguments bound as above. 0 or -1 with a message. */
int rt_prog_conv_run(rt_conv *c, const rt_prog_kernel *k, void **a, rt_err *err);

/* --- internal to the CPU device (rt_dev_cpu*.c) --- */

/* The plan of GEMMs run beside the kernels after them: join[i] > i + 1
 * when kernel i runs on the worker beside kernels (i, join[i]). */
typedef struct {
	int *join;
	int nbeside;
	char *mm; /* [nkernels]: a GEMM run as oneDNN's bf16 matmul */
} rt_dev_cpu_plan;

/* mm (may be NULL) as the plan's: those GEMMs take every thread. */
int rt_dev_cpu_plan_make(const rt_prog *p, int threads, const char *mm, rt_dev_cpu_plan *out);

/* The device's bf16 GEMMs (rt_dev_cpu_bf16.c). */
typedef struct {
	rt_matmul *mm;  /* made on the first flagged GEMM */
	int failed;     /* oneDNN cannot: f32 GEMMs */
	uint16_t *buf;  /* the operands as bf16 */
	size_t cap;     /* elements of buf */
	int64_t runs;   /* GEMMs run as bf16 */
} rt_dev_cpu_bf16;

/* 1 if this CPU has AVX-512 BF16 or AMX-BF16, none of them in `mask`. */
int rt_dev_cpu_has_bf16(const char *mask);
/* 1 if flagged GEMM k will run as bf16 (its primitive made, scratch
 * sized), 0 if it stays f32. */
int rt_dev_cpu_bf16_prepare(rt_dev_cpu_bf16 *b, const rt_prog_kernel *k, int threads);
/* Runs flagged GEMM k (prepared with 1) on arguments a. 0 or -1. */
int rt_dev_cpu_gemm_bf16(rt_dev_cpu_bf16 *b, const rt_prog_kernel *k, void **a, rt_pool *pool,
                         rt_err *err);
void rt_dev_cpu_bf16_free(rt_dev_cpu_bf16 *b);

#endif
