/*
 * cudnn_standin.h - what the two files of the cuDNN stand-in share (see
 * cudnn_standin.c): cuDNN's types (its own header when the toolkit has
 * one), the descriptors' contents, and the checks the runs repeat.
 */
#ifndef CUDNN_STANDIN_H
#define CUDNN_STANDIN_H

#include <stddef.h>

#ifdef STANDIN_HAVE_CUDNN_H
#include <cudnn.h>
#else
/* cuDNN's ABI, as far as the stand-in needs it */
#define CUDNNWINAPI
typedef int cudnnStatus_t, cudnnDataType_t, cudnnTensorFormat_t, cudnnConvolutionMode_t,
	cudnnMathType_t, cudnnConvolutionFwdAlgo_t, cudnnConvolutionBwdDataAlgo_t,
	cudnnConvolutionBwdFilterAlgo_t, cudnnDeterminism_t;
typedef struct CUstream_st *cudaStream_t;
typedef struct cudnnContext *cudnnHandle_t;
typedef struct cudnnTensorStruct *cudnnTensorDescriptor_t;
typedef struct cudnnFilterStruct *cudnnFilterDescriptor_t;
typedef struct cudnnConvolutionStruct *cudnnConvolutionDescriptor_t;
typedef struct {
	int algo;
	cudnnStatus_t status;
	float time;
	size_t memory;
	cudnnDeterminism_t determinism;
	cudnnMathType_t mathType;
	int reserved[3];
} cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionBwdDataAlgoPerf_t,
	cudnnConvolutionBwdFilterAlgoPerf_t;
enum {
	CUDNN_STATUS_SUCCESS = 0,
	CUDNN_STATUS_NOT_INITIALIZED = 1001,
	CUDNN_STATUS_BAD_PARAM = 2000,
	CUDNN_STATUS_BAD_PARAM_NULL_POINTER = 2002,
	CUDNN_STATUS_NOT_SUPPORTED = 3000,
	CUDNN_STATUS_NOT_SUPPORTED_SHAPE = 3002,
	CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED = 4003,
	CUDNN_DATA_FLOAT = 0,
	CUDNN_DATA_BFLOAT16 = 9,
	CUDNN_TENSOR_NCHW = 0,
	CUDNN_CONVOLUTION = 0,
	CUDNN_CROSS_CORRELATION = 1,
	CUDNN_DEFAULT_MATH = 0,
	CUDNN_TENSOR_OP_MATH = 1,
	CUDNN_FMA_MATH = 3,
	CUDNN_NON_DETERMINISTIC = 0,
	CUDNN_DETERMINISTIC = 1,
};
#endif

#define EXPORT __attribute__((visibility("default")))

struct cudnnContext {
	cudaStream_t stream;
};
/* dtype: CUDNN_DATA_FLOAT or CUDNN_DATA_BFLOAT16 */
struct cudnnTensorStruct {
	int set, n, c, h, w, dtype;
};
struct cudnnFilterStruct {
	int set, k, c, h, w, dtype;
};
struct cudnnConvolutionStruct {
	int set, pad_h, pad_w, u, v, dil_h, dil_w, mode, groups, math;
};

#define HIDDEN __attribute__((visibility("hidden")))

/* handles and descriptors not destroyed; algorithms refused per op */
HIDDEN extern int standin_live;
HIDDEN extern int standin_refused[3][8];
/* convolutions run, per op (0 forward, 1 backward data, 2 backward
 * filter); of them, those on bf16 tensors */
HIDDEN extern long standin_runs[3];
HIDDEN extern long standin_runs_bf16[3];

/* x, w and y describe one convolution of c */
HIDDEN int standin_consistent(const struct cudnnConvolutionStruct *c,
                              const struct cudnnTensorStruct *x,
                              const struct cudnnFilterStruct *w,
                              const struct cudnnTensorStruct *y);

/* x, w and y have one data type (cuDNN's configurations do not mix) */
HIDDEN int standin_one_type(const struct cudnnTensorStruct *x, const struct cudnnFilterStruct *w,
                            const struct cudnnTensorStruct *y);

/* the workspace of algorithm algo of op (0 forward, 1 backward data,
 * 2 backward filter), or -1 if the stand-in has no such algorithm */
HIDDEN long long standin_workspace(int op, int algo, const struct cudnnTensorStruct *x,
                                   const struct cudnnFilterStruct *w,
                                   const struct cudnnTensorStruct *y);

#endif
