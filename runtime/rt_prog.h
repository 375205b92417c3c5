/*
 * rt_prog.h - a compiled step as plain data, and the rt_exec that runs it.
 *
 * The CPU backend compiles each fused kernel to a function
 * `int32_t fn(void **bufs, int64_t lo, int64_t hi)` (see codegen/llvm/
 * cg_llvm.h). Everything else about a step is a table: its slots, the
 * buffers (a slot's memory or a range of one arena), the schedule of
 * kernels and GEMMs, the scalar outputs and the commits of assigns. The
 * JIT fills the table in memory; `samc build` writes it out as C next to
 * an object file of the same kernels. Both run it through rt_prog_exec_new,
 * so a standalone trainer and `samc model.lua --backend cpu` execute the
 * same schedule with the same machine code.
 *
 * A run: bind buffers (slots from the caller, the rest in the arena); run
 * the kernels in order (a kernel whose outermost loop is parallel and whose
 * work is large enough is split over the pool; a GEMM calls OpenBLAS, and
 * one of a matrix with its own transpose, A A^T, calls syrk);
 * read the outputs; commit: first copy every snapshot, then every source
 * into its target slot (skipped when the kernel wrote it in place). On two
 * threads, a GEMM whose result is needed only after a stretch of kernels
 * that run on one thread anyway may run whole on the worker beside them
 * (planned once per exec, see rt_prog.c).
 */
#ifndef SAMC_RT_PROG_H
#define SAMC_RT_PROG_H

#include <stdint.h>

#include "rt_exec.h"
#include "rt_pool.h"

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

typedef int32_t (*rt_kernel_fn)(void **bufs, int64_t lo, int64_t hi);

typedef enum { RT_PROG_LOOPS, RT_PROG_GEMM } rt_prog_kkind;

typedef struct {
	rt_prog_kkind kind;
	const char *name;       /* the kernel function's symbol */
	rt_kernel_fn fn;        /* LOOPS */
	int nargs;
	const int *args;        /* buffer ids, in the kernel's argument order */
	int64_t par_extent;     /* > 1: iterations of the outermost loop may be split */
	int64_t work;           /* elements touched */
	/* GEMM, row-major: C[m,n] = op(A) op(B) with A, B, C = args[0..2] */
	int ta, tb, f64;
	int64_t m, n, k;
	/* a failing kernel (nonzero code) is reported as
	 * "<where>: <msg> (code N, input '<input>')" */
	const char *fail_where; /* "model.lua:12: cross_entropy" */
	const char *fail_msg;
	const char *fail_input;
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

/* Checks the table (buffer ids in range, kernels with functions, slots
 * buffers large enough) and makes an exec with backend "cpu" that runs it
 * on `threads` threads (0: all cores; also OpenBLAS's thread count). The
 * table must outlive the exec. NULL with a message in err. */
rt_exec *rt_prog_exec_new(const rt_prog *p, int threads, rt_err *err);

/* How many GEMMs an exec from rt_prog_exec_new runs on its worker beside
 * the kernels that follow them (see rt_prog.c); -1 if x is not one. */
int rt_prog_exec_beside(const rt_exec *x);

/* Runs one kernel of a table as the exec does, its arguments bound
 * (a[j] = the memory of buffer k->args[j]), split over `pool` (NULL: on
 * the calling thread) by the rules above; the kernel's code (0 = ok).
 * OpenBLAS must be set to one thread (openblas_set_num_threads(1)) when a
 * pool is given. Public so that a profiler times exactly what runs. */
int32_t rt_prog_kernel_run(const rt_prog_kernel *k, void **a, rt_pool *pool);

#endif
