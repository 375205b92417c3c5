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
 */
#ifndef SAMC_RT_DEV_CPU_H
#define SAMC_RT_DEV_CPU_H

#include <stdint.h>

#include "rt_conv.h"
#include "rt_device.h"
#include "rt_exec.h"
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
} rt_dev_cpu_plan;

int rt_dev_cpu_plan_make(const rt_prog *p, int threads, rt_dev_cpu_plan *out);

#endif
