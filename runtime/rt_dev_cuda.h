/*
 * rt_dev_cuda.h - the CUDA device (see rt_device.h) over the driver API
 * opened with dlopen (rt_cuda_drv.h): device memory from cuMemAlloc
 * (zeroed with cuMemsetD8), transfers through the driver's copies,
 * host_view NULL (the runtime stages batches and uploads them), loop
 * kernels from a module of PTX (rt_dev_cuda_load) found by their table
 * names, GEMMs through cuBLAS (rt_cuda_blas.h, opened when a schedule
 * first has one), f32 convolutions (RT_K_CONV) through cuDNN
 * (rt_cuda_dnn.h, opened when a schedule first has one, so a model without
 * convolutions never needs it).
 *
 * Every device works in the primary context of its GPU and on the legacy
 * default stream, so the devices of one run's execs (train, base, eval)
 * address the same memory (their `memory` is "cuda:ORDINAL") and each one's
 * work is ordered after the others'. A launch passes each argument's
 * device address and then the error word's address as the kernel's
 * parameters, over rt_prog_kernel's cu_grid blocks of cu_block threads.
 * A convolution's cuDNN plan (descriptors, algorithm, workspace size) is
 * made once, when the runner plans the schedule; all plans of a device
 * share one workspace of the largest plan's size (cuMemAlloc), and run on
 * the same stream as the kernels. A GEMM or convolution of bf16 operands
 * (rt_prog_kernel.bf16) runs as cuBLAS's or cuDNN's bf16 call on copies
 * in bf16 storage made by the module's conversion kernels
 * (rt_dev_cuda_bf16.c).
 *
 * Each run of three or more consecutive loop kernels of a schedule is a
 * CUDA graph (rt_dev_cuda_graph.c): captured at the first run on a stream
 * of the device's own, launched onto the legacy default stream as one
 * launch per step; SAMC_CUDA_GRAPHS=0 (read when the device is made), a
 * driver without graphs, or a capture that fails leave its kernels
 * launched one by one. Staging for uploads is pinned memory
 * (cuMemHostAlloc), and upload_async copies on a non-blocking stream,
 * ordered by events (rt_device.h). The side queue (rt_device.h's side_*)
 * is another non-blocking stream, ordered by events too
 * (rt_dev_cuda_side.c); a run's `done` (rt_dev_sched) reports kernels
 * enqueued on the default stream, not finished: the side's work follows
 * them through side_fork.
 */
#ifndef SAMC_RT_DEV_CUDA_H
#define SAMC_RT_DEV_CUDA_H

#include "rt_cuda_drv.h"
#include "rt_device.h"

typedef struct {
	const char *driver; /* the driver library; NULL: libcuda.so.1 */
	const char *blas;   /* cuBLAS; NULL: libcublas.so.13 */
	const char *dnn;    /* cuDNN; NULL: libcudnn.so.9 */
	int ordinal;        /* which GPU */
} rt_dev_cuda_opts;

/* Opens the driver and GPU o->ordinal (o may be NULL: the defaults) and
 * retains its primary context. NULL with a message naming the cause (no
 * driver, no device, ...). */
rt_device *rt_dev_cuda_new(const rt_dev_cuda_opts *o, rt_err *err);

/* Whether d is a CUDA device. */
int rt_dev_is_cuda(const rt_device *d);

/* The GPU's compute capability (9.0: *major 9, *minor 0), and
 * "NVIDIA H200 (sm_90, driver 13.0)" in desc (may be NULL). */
int rt_dev_cuda_info(const rt_device *d, int *major, int *minor, char *desc, size_t len,
                     rt_err *err);

/* The driver's version (13000 for CUDA 13.0). */
int rt_dev_cuda_driver_version(const rt_device *d);

/* Loads a module (PTX text, NUL-terminated, or a CUBIN) with
 * cuModuleLoadData; the device's loop kernels are its functions, found by
 * rt_prog_kernel.name. A device holds one module (a second replaces it). */
int rt_dev_cuda_load(rt_device *d, const void *image, rt_err *err);

/* The GPU's ordinal (which GPU of the machine), -1 for another device. */
int rt_dev_cuda_ordinal(const rt_device *d);

/* Whether the work launched so far on the device's stream (the legacy
 * default stream) is done: 1 done, 0 still running, -1 with a message on
 * an error. For a caller that waits with a timeout (rt_comm_nccl.c). */
int rt_dev_cuda_query(rt_device *d, rt_err *err);
/* The same for the side queue's stream (1 when it was never made). */
int rt_dev_cuda_query_side(rt_device *d, rt_err *err);

#endif
