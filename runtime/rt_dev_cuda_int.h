/*
 * rt_dev_cuda_int.h - shared between the CUDA device's files (rt_dev_cuda.c,
 * rt_dev_cuda_graph.c, rt_dev_cuda_bf16.c); not part of its interface.
 */
#ifndef SAMC_RT_DEV_CUDA_INT_H
#define SAMC_RT_DEV_CUDA_INT_H

#include <stdint.h>

#include "rt_cuda_blas.h"
#include "rt_cuda_dnn.h"
#include "rt_dev_cuda.h"

/* The CUDA graph entry points (rt_dev_cuda_graph.c), resolved when the
 * driver has them: a device without them launches kernel by kernel. */
typedef struct rt_cu_graph_st *rt_cu_graph;
typedef struct rt_cu_graph_exec_st *rt_cu_graph_exec;
typedef struct {
	rt_cu_result (*begin)(rt_cu_stream s, int mode);
	rt_cu_result (*end)(rt_cu_stream s, rt_cu_graph *g);
	rt_cu_result (*instantiate)(rt_cu_graph_exec *e, rt_cu_graph g, unsigned long long flags);
	rt_cu_result (*launch)(rt_cu_graph_exec e, rt_cu_stream s);
	rt_cu_result (*exec_destroy)(rt_cu_graph_exec e);
	rt_cu_result (*destroy)(rt_cu_graph g);
} rt_cudev_graph_api;

typedef struct {
	rt_device d;
	rt_cuda_drv drv;
	rt_cu_device dev;
	int ordinal;
	rt_cu_context ctx; /* the GPU's primary context, retained */
	rt_cu_module mod;  /* the loop kernels, or NULL */
	rt_cuda_blas blas; /* open once a schedule has a GEMM */
	char blas_path[256];
	rt_cuda_dnn dnn;   /* open once a schedule has a convolution */
	char dnn_path[256];
	rt_cu_deviceptr ws; /* the convolutions' workspace, shared by all plans */
	size_t ws_bytes;
	char memory[32];   /* "cuda:0" */
	/* overlapped uploads: made at the first one */
	rt_cu_stream copy;    /* non-blocking: no implicit order with the kernels */
	rt_cu_event fence;    /* upload_fence, on the legacy default stream */
	rt_cu_event uploaded; /* after the last upload_async, on `copy` */
	int fenced;
	/* the side queue (rt_device.h's side_*, rt_dev_cuda_side.c): made at
	 * its first use */
	rt_cu_stream side;     /* non-blocking: the all-reduce beside the kernels */
	rt_cu_event side_at;   /* side_fork: on the legacy default stream */
	rt_cu_event side_done; /* side_join: on `side` */
	/* CUDA graphs of the runs of loop kernels (rt_dev_cuda_graph.c) */
	rt_cudev_graph_api graph;
	int graphs;           /* the driver has them and SAMC_CUDA_GRAPHS is not 0 */
	rt_cu_stream capture; /* the stream they are captured on */
	/* bf16 GEMMs and convolutions (rt_dev_cuda_bf16.c) */
	rt_cu_deviceptr bf16_buf; /* their operands in bf16 storage, shared by all */
	size_t bf16_bytes;
	rt_cu_function bf16_pack, bf16_unpack; /* the module's conversions, once found */
	int bf16_strict;    /* SAMC_CUDA_BF16_STRICT: a refused bf16 convolution fails */
} cuda_dev;

/* A run of consecutive loop kernels launched as one CUDA graph: captured
 * at the schedule's first run, again when its buffers' addresses change. */
typedef struct {
	int first, end;          /* kernels [first, end) */
	int state;               /* 0 not captured, 1 a graph, -1 capture failed: kernel by kernel */
	rt_cu_graph_exec exec;
	void **addr;             /* the addresses it was captured with: args, then error words */
	int naddr;
} rt_cudev_seg;

/* A schedule's loop kernels resolved once (run's plan). */
typedef struct {
	rt_cu_function *fn; /* per kernel; NULL for library calls */
	const rt_cuda_dnn_plan **conv; /* per kernel; the convolutions' (owned by dnn) */
	rt_cudev_seg *seg;  /* the runs that are graphs */
	int nseg;
	int *seg_at;        /* per kernel: the run starting there, or -1 */
} cuda_plan;


/* -1 with "cuda: WHAT failed: error N, <the driver's words>" */
int rt_cudev_fail(cuda_dev *c, rt_cu_result r, const char *what, rt_err *err);

#define CU(c, call, what, err)                                                                     \
	do {                                                                                           \
		rt_cu_result r_ = (call);                                                                  \
		if (r_ != RT_CU_SUCCESS)                                                                   \
			return rt_cudev_fail((c), r_, (what), (err));                                                \
	} while (0)

static inline rt_cu_deviceptr dptr(const void *p)
{
	return (rt_cu_deviceptr)(uintptr_t)p;
}

/* Launches loop kernel k (function f) with its arguments and error word
 * on stream s (NULL: the legacy default stream). */
int rt_cudev_launch(cuda_dev *c, rt_cu_function f, const rt_prog_kernel *k, void **args,
                    void *err_word, rt_cu_stream s, rt_err *err);

/* Graphs: the entry points and SAMC_CUDA_GRAPHS, at the device's making;
 * the runs of a schedule, at its plan; at a run, whether kernel i starts
 * a run that went as a graph (1, *next its end), or runs kernel by kernel
 * (0); the plan's graphs freed. */
void rt_cudev_graph_open(cuda_dev *c);
int rt_cudev_graph_plan(cuda_dev *c, cuda_plan *pl, const rt_prog *p, rt_err *err);
int rt_cudev_graph_run(cuda_dev *c, cuda_plan *pl, const rt_dev_sched *s, int i, int *next,
                       rt_err *err);
void rt_cudev_graph_free(cuda_dev *c, cuda_plan *pl);
void rt_cudev_graph_close(cuda_dev *c);

/* The side queue's entry points (rt_dev_cuda_side.c) set on d; its
 * stream and events destroyed (at the device's release). */
void rt_cudev_side_init(cuda_dev *c);
void rt_cudev_side_close(cuda_dev *c);

/* bf16 (rt_dev_cuda_bf16.c): whether k is a GEMM or convolution of bf16
 * operands; the scratch grown for a schedule's largest such call and the
 * module's conversion kernels found (at its plan); a GEMM (cuBLAS open)
 * and a convolution with its bf16 plan (cuDNN open), enqueued; the
 * scratch freed. */
int rt_cudev_bf16_is(const rt_prog_kernel *k);
int rt_cudev_bf16_plan(cuda_dev *c, const rt_prog *p, rt_err *err);
int rt_cudev_bf16_gemm(cuda_dev *c, const rt_prog_kernel *k, void **args, rt_err *err);
int rt_cudev_bf16_conv(cuda_dev *c, const rt_cuda_dnn_plan *plan, const rt_prog_kernel *k,
                       void **args, rt_err *err);
void rt_cudev_bf16_close(cuda_dev *c);

#endif
