/*
 * standin.h - shared between the host stand-in's files (standin.c: the
 * driver; standin_blas.c: cuBLAS; standin_graph.c: CUDA graphs).
 */
#ifndef SAMC_STANDIN_H
#define SAMC_STANDIN_H

#define EXPORT __attribute__((visibility("default")))

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef void (*hostlaunch_fn)(unsigned grid, unsigned block, void **params);

enum {
	OK = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, NOT_INITIALIZED = 3, INVALID_IMAGE = 200,
	FILE_NOT_FOUND = 301, NOT_FOUND = 500, LAUNCH_FAILED = 719, INVALID_DEVICE = 101,
	NOT_READY = 600,
};

/* what a test reads back: transfers by direction (count, bytes), launches;
 * of the uploads, those on a stream other than the default one (async),
 * and the pinned host allocations */
typedef struct {
	long up, down, copy, launch, gemm, memset;
	long long up_bytes, down_bytes, copy_bytes;
	long up_async, host_alloc;
	long graph_launch, captured; /* graphs launched; kernels recorded into graphs */
	long gemm_bf16;              /* cublasGemmEx and cublasGemmStridedBatchedEx (bf16) */
	long mem_alloc;              /* cuMemAlloc calls */
	long copy_async;             /* cuMemcpyDtoDAsync on a stream of samc's own */
	long side_waits;             /* cuStreamWaitEvent of the default stream on another's event */
} standin_counts;

extern standin_counts counts;

/* a kernel function's parameter count (its NAME_hostnparams), -1 unknown */
int standin_nparams(void *f);

/* the stream being captured, or NULL; a launch on it is recorded */
extern void *standin_capturing;
CUresult standin_record(void *f, unsigned grid, unsigned block, void **params);

/* work another library (the NCCL stand-in) runs for a stream
 * (standin_stream.c): cuStreamQuery says NOT_READY while the stream has
 * some; what is enqueued on that stream after it, an event's waiters and
 * the synchronizations wait for it. standin_wait_stream(NULL): the legacy
 * default stream's; standin_wait_pending: every stream's. */
void standin_wait_stream(void *s);
void standin_wait_pending(void);

#endif
