/*
 * rt_cuda_dnn.h - f32 NCHW convolutions on the GPU through cuDNN 9, opened
 * at run time with dlopen (no samc binary links cuDNN), for the CUDA
 * device: the same three operations on the same descriptors as rt_conv.h
 * (forward with an optional bias, backward data, backward weights with an
 * optional bias gradient), PyTorch's conv2d (cross-correlation, groups,
 * stride, zero padding, dilation).
 *
 * Use:
 *
 *   rt_cuda_dnn d;
 *   rt_cuda_dnn_open(&d, NULL, &err);     // the device's context current
 *   const rt_cuda_dnn_plan *p; size_t ws;
 *   rt_cuda_dnn_plan_get(&d, &desc, RT_CONV_FWD, 1, &p, &ws, &err);
 *   ...  the device allocates the largest ws of all its plans once ...
 *   rt_cuda_dnn_run(&d, p, args, workspace, ws_bytes, stream, &err);
 *   rt_cuda_dnn_close(&d);
 *
 * A plan is keyed by (descriptor, operation, bias), made on its first
 * request and kept in d until rt_cuda_dnn_close: its cuDNN descriptors,
 * its algorithm and its workspace size are decided once. The workspace is
 * the caller's device memory (NULL when a plan needs 0 bytes): one buffer
 * of the largest size serves every plan whose runs are ordered on one
 * stream. Runs are asynchronous on the caller's stream, like kernels.
 *
 * Numerics: the math type is CUDNN_FMA_MATH (no TF32 tensor cores, so a
 * result is an f32 sum like the CPU's, within f32 rounding of it), and
 * every algorithm is deterministic (the same bits on every run on one GPU):
 *   forward           the first of cuDNN's heuristic ranking
 *                     (cudnnGetConvolutionForwardAlgorithm_v7) that is
 *                     deterministic, not a tensor-op math type and whose
 *                     workspace is at most RT_CUDA_DNN_MAX_WORKSPACE;
 *                     IMPLICIT_GEMM (no workspace) if none is;
 *   backward data     CUDNN_CONVOLUTION_BWD_DATA_ALGO_1 (ALGO_0 sums with
 *                     atomics); if cuDNN does not support it for the
 *                     descriptor (a CUDNN_STATUS_NOT_SUPPORTED* status of
 *                     its workspace query), the heuristic's first
 *                     deterministic FMA one;
 *   backward weights  CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 (ALGO_0 and
 *                     ALGO_3 use atomics), with the same fallback.
 * The bias is added with cudnnAddTensor, its gradient summed by
 * cudnnConvolutionBackwardBias. Every output is overwritten (beta 0).
 *
 * bf16 plans (rt_cuda_dnn_plan_get_bf16; rt_prog_kernel.bf16, precision =
 * "bf16"): x, w and y are CUDNN_DATA_BFLOAT16 with compute type float,
 * cuDNN's PSEUDO_BFLOAT16_CONFIG, in CUDNN_TENSOR_OP_MATH (the tensor
 * cores; any math type of the heuristic's is taken, the products of bf16
 * values being exact in f32). cuDNN's legacy API has no configuration with
 * bf16 inputs and an f32 output (its mixed rows are the int8 ones), so the
 * result is bf16: the f32 sum rounded to nearest even, the rounding the
 * precision row puts on every matmul and conv2d result anyway. The caller
 * converts the operands to bf16 storage and the result back (exact), and
 * runs the bias part in f32 with rt_cuda_dnn_run_bias.
 *
 * One rt_cuda_dnn is used by one thread at a time.
 */
#ifndef SAMC_RT_CUDA_DNN_H
#define SAMC_RT_CUDA_DNN_H

#include <stddef.h>

#include "rt_conv.h"
#include "rt_cuda_drv.h"
#include "rt_err.h"

/* The library opened when no path is given (the CUDA device lets
 * SAMC_CUDA_DNN name another). */
#define RT_CUDA_DNN_LIB "libcudnn.so.9"
#define RT_CUDA_DNN_MIN_VERSION 90000 /* cudnnGetVersion of 9.0.0 */
/* the largest workspace a heuristic's forward algorithm may ask for */
#define RT_CUDA_DNN_MAX_WORKSPACE ((size_t)256 << 20)

/* cuDNN's types, as its ABI has them (cudnn.h is not needed; the struct
 * tags are cuDNN's own, so the types agree where the header is included).
 * Enumerations are passed as int. */
typedef int rt_cudnn_status;
typedef struct cudnnContext *rt_cudnn_handle;
typedef struct cudnnTensorStruct *rt_cudnn_tensor;
typedef struct cudnnFilterStruct *rt_cudnn_filter;
typedef struct cudnnConvolutionStruct *rt_cudnn_conv;

/* cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t: the three are alike */
typedef struct {
	int algo;
	rt_cudnn_status status;
	float time;
	size_t memory;
	int determinism;
	int math_type;
	int reserved[3];
} rt_cudnn_algo_perf;

/* the values of cuDNN's enumerations samc passes or reads */
#define RT_CUDNN_STATUS_SUCCESS 0
#define RT_CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED 1008
#define RT_CUDNN_STATUS_NOT_SUPPORTED 3000 /* 3000-3999: its kinds (cuDNN 9) */
#define RT_CUDNN_DATA_FLOAT 0
#define RT_CUDNN_DATA_BFLOAT16 9
#define RT_CUDNN_TENSOR_NCHW 0
#define RT_CUDNN_CROSS_CORRELATION 1
#define RT_CUDNN_DEFAULT_MATH 0
#define RT_CUDNN_TENSOR_OP_MATH 1
#define RT_CUDNN_FMA_MATH 3
#define RT_CUDNN_DETERMINISTIC 1
#define RT_CUDNN_FWD_ALGO_IMPLICIT_GEMM 0
#define RT_CUDNN_BWD_DATA_ALGO_1 1
#define RT_CUDNN_BWD_FILTER_ALGO_1 1
#define RT_CUDNN_ALGO_MAX 8 /* more than any op's ALGO_COUNT */

/* The entry points; all are exported by libcudnn.so.9 (which loads the
 * sub-libraries libcudnn_graph, _ops and _cnn on first use). */
#define RT_CUDA_DNN_FUNCS(X)                                                                       \
	X(cudnnGetVersion, size_t, (void))                                                             \
	X(cudnnGetErrorString, const char *, (rt_cudnn_status s))                                      \
	X(cudnnCreate, rt_cudnn_status, (rt_cudnn_handle * h))                                         \
	X(cudnnDestroy, rt_cudnn_status, (rt_cudnn_handle h))                                          \
	X(cudnnSetStream, rt_cudnn_status, (rt_cudnn_handle h, rt_cu_stream s))                        \
	X(cudnnCreateTensorDescriptor, rt_cudnn_status, (rt_cudnn_tensor * t))                         \
	X(cudnnDestroyTensorDescriptor, rt_cudnn_status, (rt_cudnn_tensor t))                          \
	X(cudnnSetTensor4dDescriptor, rt_cudnn_status,                                                 \
	  (rt_cudnn_tensor t, int format, int dtype, int n, int c, int h, int w))                      \
	X(cudnnCreateFilterDescriptor, rt_cudnn_status, (rt_cudnn_filter * f))                         \
	X(cudnnDestroyFilterDescriptor, rt_cudnn_status, (rt_cudnn_filter f))                          \
	X(cudnnSetFilter4dDescriptor, rt_cudnn_status,                                                 \
	  (rt_cudnn_filter f, int dtype, int format, int k, int c, int h, int w))                      \
	X(cudnnCreateConvolutionDescriptor, rt_cudnn_status, (rt_cudnn_conv * c))                      \
	X(cudnnDestroyConvolutionDescriptor, rt_cudnn_status, (rt_cudnn_conv c))                       \
	X(cudnnSetConvolution2dDescriptor, rt_cudnn_status,                                            \
	  (rt_cudnn_conv c, int pad_h, int pad_w, int u, int v, int dil_h, int dil_w, int mode,        \
	   int compute_type))                                                                          \
	X(cudnnSetConvolutionGroupCount, rt_cudnn_status, (rt_cudnn_conv c, int groups))              \
	X(cudnnSetConvolutionMathType, rt_cudnn_status, (rt_cudnn_conv c, int math_type))             \
	X(cudnnGetConvolution2dForwardOutputDim, rt_cudnn_status,                                      \
	  (rt_cudnn_conv c, rt_cudnn_tensor x, rt_cudnn_filter w, int *n, int *ch, int *h, int *wd))   \
	X(cudnnGetConvolutionForwardAlgorithm_v7, rt_cudnn_status,                                     \
	  (rt_cudnn_handle h, rt_cudnn_tensor x, rt_cudnn_filter w, rt_cudnn_conv c,                   \
	   rt_cudnn_tensor y, int requested, int *returned, rt_cudnn_algo_perf *perf))                 \
	X(cudnnGetConvolutionBackwardDataAlgorithm_v7, rt_cudnn_status,                                \
	  (rt_cudnn_handle h, rt_cudnn_filter w, rt_cudnn_tensor dy, rt_cudnn_conv c,                  \
	   rt_cudnn_tensor dx, int requested, int *returned, rt_cudnn_algo_perf *perf))                \
	X(cudnnGetConvolutionBackwardFilterAlgorithm_v7, rt_cudnn_status,                              \
	  (rt_cudnn_handle h, rt_cudnn_tensor x, rt_cudnn_tensor dy, rt_cudnn_conv c,                  \
	   rt_cudnn_filter dw, int requested, int *returned, rt_cudnn_algo_perf *perf))                \
	X(cudnnGetConvolutionForwardWorkspaceSize, rt_cudnn_status,                                    \
	  (rt_cudnn_handle h, rt_cudnn_tensor x, rt_cudnn_filter w, rt_cudnn_conv c,                   \
	   rt_cudnn_tensor y, int algo, size_t *bytes))                                                \
	X(cudnnGetConvolutionBackwardDataWorkspaceSize, rt_cudnn_status,                               \
	  (rt_cudnn_handle h, rt_cudnn_filter w, rt_cudnn_tensor dy, rt_cudnn_conv c,                  \
	   rt_cudnn_tensor dx, int algo, size_t *bytes))                                               \
	X(cudnnGetConvolutionBackwardFilterWorkspaceSize, rt_cudnn_status,                             \
	  (rt_cudnn_handle h, rt_cudnn_tensor x, rt_cudnn_tensor dy, rt_cudnn_conv c,                  \
	   rt_cudnn_filter dw, int algo, size_t *bytes))                                               \
	X(cudnnConvolutionForward, rt_cudnn_status,                                                    \
	  (rt_cudnn_handle h, const void *alpha, rt_cudnn_tensor xd, const void *x,                    \
	   rt_cudnn_filter wd, const void *w, rt_cudnn_conv c, int algo, void *ws, size_t ws_bytes,    \
	   const void *beta, rt_cudnn_tensor yd, void *y))                                             \
	X(cudnnConvolutionBackwardData, rt_cudnn_status,                                               \
	  (rt_cudnn_handle h, const void *alpha, rt_cudnn_filter wd, const void *w,                    \
	   rt_cudnn_tensor dyd, const void *dy, rt_cudnn_conv c, int algo, void *ws, size_t ws_bytes,  \
	   const void *beta, rt_cudnn_tensor dxd, void *dx))                                           \
	X(cudnnConvolutionBackwardFilter, rt_cudnn_status,                                             \
	  (rt_cudnn_handle h, const void *alpha, rt_cudnn_tensor xd, const void *x,                    \
	   rt_cudnn_tensor dyd, const void *dy, rt_cudnn_conv c, int algo, void *ws, size_t ws_bytes,  \
	   const void *beta, rt_cudnn_filter dwd, void *dw))                                           \
	X(cudnnConvolutionBackwardBias, rt_cudnn_status,                                               \
	  (rt_cudnn_handle h, const void *alpha, rt_cudnn_tensor dyd, const void *dy,                  \
	   const void *beta, rt_cudnn_tensor dbd, void *db))                                           \
	X(cudnnAddTensor, rt_cudnn_status,                                                             \
	  (rt_cudnn_handle h, const void *alpha, rt_cudnn_tensor ad, const void *a, const void *beta,  \
	   rt_cudnn_tensor cd, void *c))

#define RT_CUDA_DNN_FIELD(name, ret, args) ret(*name) args;

typedef struct rt_cuda_dnn_plan rt_cuda_dnn_plan;

typedef struct {
	void *lib;          /* dlopen handle */
	char path[256];     /* what was opened */
	size_t version;     /* cudnnGetVersion: 91900 is 9.19.0 */
	rt_cudnn_handle handle;
	rt_cu_stream stream; /* the handle's stream, set when a run names another */
	rt_cuda_dnn_plan **plans;
	int nplans, cap;
	RT_CUDA_DNN_FUNCS(RT_CUDA_DNN_FIELD)
} rt_cuda_dnn;

/* Opens cuDNN at path (NULL: libcudnn.so.9 on the loader's path), resolves
 * every entry point and checks the version (rt_cuda_dnn_load), then
 * creates the handle (cudnnCreate), which needs the CUDA context the runs
 * will use to be current on the calling thread. 0, or -1 with a message
 * (a missing library says how to install one); d is then closed. */
int rt_cuda_dnn_open(rt_cuda_dnn *d, const char *path, rt_err *err);

/* The library and its entry points only, no handle (no GPU needed): what
 * rt_cuda_dnn_open does first; rt_cuda_dnn_check_desc works on it. */
int rt_cuda_dnn_load(rt_cuda_dnn *d, const char *path, rt_err *err);

/* Frees every plan and the handle, closes the library; d may be zeroed or
 * closed already. */
void rt_cuda_dnn_close(rt_cuda_dnn *d);

/* The plan of operation op of desc, with a bias (forward) or a bias
 * gradient (backward weights) when bias, made on the first request: its
 * descriptors (checked: cuDNN's output size must be desc's), algorithm and
 * workspace size (*workspace_bytes). The plan lives in d until
 * rt_cuda_dnn_close. 0, or -1 with a message naming the cuDNN call and its
 * status. */
int rt_cuda_dnn_plan_get(rt_cuda_dnn *d, const rt_conv_desc *desc, rt_conv_op op, int bias,
                         const rt_cuda_dnn_plan **plan, size_t *workspace_bytes, rt_err *err);

/* Runs plan p on stream with device pointers args in rt_prog_kernel's CONV
 * order (rt_conv_nargs(op, bias) of them):
 *   RT_CONV_FWD         x, w, [b,] y
 *   RT_CONV_BWD_DATA    dy, w, dx
 *   RT_CONV_BWD_WEIGHT  x, dy, dw [, db]
 * workspace: at least the plan's workspace size of device memory
 * (workspace_bytes says how much it is; 0 and no pointer are fine when the
 * plan needs none). Enqueues only. 0, or -1 with a message. */
int rt_cuda_dnn_run(rt_cuda_dnn *d, const rt_cuda_dnn_plan *p, const rt_cu_deviceptr *args,
                    rt_cu_deviceptr workspace, size_t workspace_bytes, rt_cu_stream stream,
                    rt_err *err);

/* The bf16 plan of the same (rt_cuda_dnn.h's top: bf16 plans); a separate
 * plan from the f32 one of the same key. */
int rt_cuda_dnn_plan_get_bf16(rt_cuda_dnn *d, const rt_conv_desc *desc, rt_conv_op op, int bias,
                              const rt_cuda_dnn_plan **plan, size_t *workspace_bytes, rt_err *err);

/* For a bf16 plan, rt_cuda_dnn_run takes the three bf16 operands (x, w, y;
 * dy, w, dx; x, dy, dw: the bias's entries left out) and runs only the
 * convolution; then, with y converted to f32, rt_cuda_dnn_run_bias takes
 * the f32 arguments in the full CONV order and adds the bias (forward) or
 * sums its gradient from the f32 dy (backward weights). It does nothing
 * for an f32 plan (rt_cuda_dnn_run did both) or a plan without bias. */
int rt_cuda_dnn_run_bias(rt_cuda_dnn *d, const rt_cuda_dnn_plan *p, const rt_cu_deviceptr *args,
                         rt_cu_stream stream, rt_err *err);

/* Whether p is a bf16 plan. */
int rt_cuda_dnn_plan_bf16(const rt_cuda_dnn_plan *p);

/* A plan's algorithm (cuDNN's number for its operation) and workspace. */
int rt_cuda_dnn_plan_algo(const rt_cuda_dnn_plan *p);
size_t rt_cuda_dnn_plan_workspace(const rt_cuda_dnn_plan *p);

/* Makes desc's cuDNN descriptors, an f32 plan's and a bf16 plan's, and
 * checks that cuDNN computes desc's output size, then frees them (no
 * handle needed). 0 or -1. */
int rt_cuda_dnn_check_desc(const rt_cuda_dnn *d, const rt_conv_desc *desc, rt_err *err);

/* "cudnnConvolutionForward: CUDNN_STATUS_BAD_PARAM (error 2000)" */
int rt_cuda_dnn_status_error(const rt_cuda_dnn *d, const char *call, rt_cudnn_status s,
                             rt_err *err);

#endif
