/*
 * cudnn_standin.c - a host stand-in of the cuDNN 9 entry points samc calls
 * (runtime/rt_cuda_dnn.h), for tests on machines without a GPU: a shared
 * library exporting the same symbols over host memory (a device pointer is
 * a host pointer), computing convolutions with plain loops in double from
 * cuDNN's documented semantics:
 *   - tensors NCHW, filters KCRS with C the input channels of one group,
 *     the group count dividing both channel counts;
 *   - output size 1 + (in + 2 pad - ((k - 1) dil + 1)) / stride;
 *   - CUDNN_CROSS_CORRELATION, or CUDNN_CONVOLUTION (the kernel flipped);
 *   - out = alpha op(in) + beta out, alpha and beta f32 host values; when
 *     beta is 0 the output is not read (it may hold NaNs);
 *   - a workspace smaller than the algorithm's size, or missing, is
 *     CUDNN_STATUS_BAD_PARAM; the stand-in writes its whole size (so that
 *     AddressSanitizer sees a short buffer);
 *   - the data types of cudnnConvolutionForward's table of supported
 *     configurations that samc uses: FLOAT_CONFIG (x, w, y float, compute
 *     float) and PSEUDO_BFLOAT16_CONFIG (x, w, y bfloat16, compute float:
 *     the products summed in float, the result rounded to bfloat16, to
 *     nearest even); a convolution mixing the two is
 *     CUDNN_STATUS_NOT_SUPPORTED, as is a bias or its gradient on bf16
 *     tensors (samc adds those in f32).
 * The algorithms all compute the same sums; their workspace sizes are the
 * stand-in's own. The heuristics rank like cuDNN's do (non-deterministic
 * and tensor-op entries among them), so a caller's filter is exercised.
 *
 * Built against cuDNN's own header when the CUDA toolkit has one: then the
 * compiler checks every definition here against cuDNN's prototype, and
 * the constants and the perf struct of rt_cuda_dnn.h against cuDNN's.
 *
 * Test hooks (not cuDNN's): cudnn_standin_refuse(op, algo) makes an
 * algorithm unsupported, CUDNN_STATUS_NOT_SUPPORTED_SHAPE (op 0 forward,
 * 1 backward data, 2 backward filter; algo -1 clears);
 * cudnn_standin_refuse_bf16(1) refuses bf16 tensors (0 accepts them);
 * cudnn_standin_live() counts the handles and descriptors not destroyed;
 * cudnn_standin_stream(h) is h's stream; cudnn_standin_runs(out) the
 * convolutions run per op. A process that names a file in
 * CUDNN_STANDIN_COUNTS appends "cudnn runs FWD BWD_DATA BWD_FILTER" to it
 * when the library is unloaded, so a test can see that a command's
 * convolutions were cuDNN calls.
 */
#include "cudnn_standin.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef STANDIN_HAVE_CUDNN_H
#include "rt_cuda_dnn.h"

/* rt_cuda_dnn.h's copy of cuDNN's ABI is cuDNN's */
#define SAME(a, b) _Static_assert((int)(a) == (int)(b), #a " is " #b)
SAME(RT_CUDNN_STATUS_SUCCESS, CUDNN_STATUS_SUCCESS);
SAME(RT_CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED, CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED);
SAME(RT_CUDNN_STATUS_NOT_SUPPORTED, CUDNN_STATUS_NOT_SUPPORTED);
SAME(RT_CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT);
SAME(RT_CUDNN_DATA_BFLOAT16, CUDNN_DATA_BFLOAT16);
SAME(RT_CUDNN_TENSOR_OP_MATH, CUDNN_TENSOR_OP_MATH);
SAME(RT_CUDNN_TENSOR_NCHW, CUDNN_TENSOR_NCHW);
SAME(RT_CUDNN_CROSS_CORRELATION, CUDNN_CROSS_CORRELATION);
SAME(RT_CUDNN_DEFAULT_MATH, CUDNN_DEFAULT_MATH);
SAME(RT_CUDNN_FMA_MATH, CUDNN_FMA_MATH);
SAME(RT_CUDNN_DETERMINISTIC, CUDNN_DETERMINISTIC);
SAME(RT_CUDNN_FWD_ALGO_IMPLICIT_GEMM, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM);
SAME(RT_CUDNN_BWD_DATA_ALGO_1, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1);
SAME(RT_CUDNN_BWD_FILTER_ALGO_1, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1);
_Static_assert(RT_CUDNN_ALGO_MAX >= CUDNN_CONVOLUTION_FWD_ALGO_COUNT, "perf array");
_Static_assert(sizeof(int) == sizeof(cudnnStatus_t), "enums are ints");
#define SAME_PERF(T)                                                                               \
	_Static_assert(sizeof(rt_cudnn_algo_perf) == sizeof(T), #T);                                   \
	_Static_assert(offsetof(rt_cudnn_algo_perf, memory) == offsetof(T, memory), #T);               \
	_Static_assert(offsetof(rt_cudnn_algo_perf, determinism) == offsetof(T, determinism), #T);     \
	_Static_assert(offsetof(rt_cudnn_algo_perf, math_type) == offsetof(T, mathType), #T)
SAME_PERF(cudnnConvolutionFwdAlgoPerf_t);
SAME_PERF(cudnnConvolutionBwdDataAlgoPerf_t);
SAME_PERF(cudnnConvolutionBwdFilterAlgoPerf_t);
#endif

int standin_live;
int standin_refused[3][8];
long standin_runs[3];
long standin_runs_bf16[3];

EXPORT void cudnn_standin_runs(long out[3])
{
	memcpy(out, standin_runs, sizeof standin_runs);
}

EXPORT void cudnn_standin_runs_bf16(long out[3])
{
	memcpy(out, standin_runs_bf16, sizeof standin_runs_bf16);
}

__attribute__((destructor)) static void standin_report(void)
{
	const char *path = getenv("CUDNN_STANDIN_COUNTS");
	FILE *f = path && *path ? fopen(path, "a") : NULL;
	if (f) {
		fprintf(f, "cudnn runs %ld %ld %ld\n", standin_runs[0], standin_runs[1],
		        standin_runs[2]);
		fprintf(f, "cudnn bf16 runs %ld %ld %ld\n", standin_runs_bf16[0], standin_runs_bf16[1],
		        standin_runs_bf16[2]);
		fclose(f);
	}
}

static int refuse_bf16;

/* a cuDNN without bf16 tensors (on 1), for the caller's fallback */
EXPORT void cudnn_standin_refuse_bf16(int on)
{
	refuse_bf16 = on;
}

EXPORT void cudnn_standin_refuse(int op, int algo)
{
	if (op < 0 || op > 2)
		return;
	if (algo < 0)
		memset(standin_refused[op], 0, sizeof standin_refused[op]);
	else if (algo < 8)
		standin_refused[op][algo] = 1;
}

EXPORT int cudnn_standin_live(void)
{
	return standin_live;
}

EXPORT void *cudnn_standin_stream(cudnnHandle_t h)
{
	return h ? (void *)h->stream : NULL;
}

EXPORT size_t CUDNNWINAPI cudnnGetVersion(void)
{
	return 91900;
}

EXPORT const char *CUDNNWINAPI cudnnGetErrorString(cudnnStatus_t s)
{
	switch ((int)s) {
	case CUDNN_STATUS_SUCCESS: return "CUDNN_STATUS_SUCCESS";
	case CUDNN_STATUS_NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
	case CUDNN_STATUS_BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
	case CUDNN_STATUS_BAD_PARAM_NULL_POINTER: return "CUDNN_STATUS_BAD_PARAM_NULL_POINTER";
	case CUDNN_STATUS_NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
	case CUDNN_STATUS_NOT_SUPPORTED_SHAPE: return "CUDNN_STATUS_NOT_SUPPORTED_SHAPE";
	case CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED:
		return "CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED";
	default: return "CUDNN_STATUS_UNKNOWN";
	}
}

/* handles and descriptors: calloc'd structs, counted */
#define NEW(p)                                                                                     \
	do {                                                                                           \
		if (!(p))                                                                                  \
			return CUDNN_STATUS_BAD_PARAM_NULL_POINTER;                                            \
		if (!(*(p) = calloc(1, sizeof **(p))))                                                     \
			return CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED;                             \
		standin_live++;                                                                            \
		return CUDNN_STATUS_SUCCESS;                                                               \
	} while (0)
#define DEL(p)                                                                                     \
	do {                                                                                           \
		if (p) {                                                                                   \
			free(p);                                                                               \
			standin_live--;                                                                        \
		}                                                                                          \
		return CUDNN_STATUS_SUCCESS;                                                               \
	} while (0)

EXPORT cudnnStatus_t CUDNNWINAPI cudnnCreate(cudnnHandle_t *h)
{
	NEW(h);
}
EXPORT cudnnStatus_t CUDNNWINAPI cudnnDestroy(cudnnHandle_t h)
{
	DEL(h);
}
EXPORT cudnnStatus_t CUDNNWINAPI cudnnSetStream(cudnnHandle_t h, cudaStream_t s)
{
	if (!h)
		return CUDNN_STATUS_BAD_PARAM;
	h->stream = s;
	return CUDNN_STATUS_SUCCESS;
}
EXPORT cudnnStatus_t CUDNNWINAPI cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *t)
{
	NEW(t);
}
EXPORT cudnnStatus_t CUDNNWINAPI cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t t)
{
	DEL(t);
}
EXPORT cudnnStatus_t CUDNNWINAPI cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *f)
{
	NEW(f);
}
EXPORT cudnnStatus_t CUDNNWINAPI cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t f)
{
	DEL(f);
}
EXPORT cudnnStatus_t CUDNNWINAPI cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *c)
{
	NEW(c);
}
EXPORT cudnnStatus_t CUDNNWINAPI cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t c)
{
	DEL(c);
}

/* the stand-in computes NCHW tensors of f32 or bf16 */
EXPORT cudnnStatus_t CUDNNWINAPI cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t t,
                                                            cudnnTensorFormat_t format,
                                                            cudnnDataType_t dtype, int n, int c,
                                                            int h, int w)
{
	if (!t || n <= 0 || c <= 0 || h <= 0 || w <= 0)
		return CUDNN_STATUS_BAD_PARAM;
	if ((int)format != CUDNN_TENSOR_NCHW ||
	    ((int)dtype != CUDNN_DATA_FLOAT && (int)dtype != CUDNN_DATA_BFLOAT16) ||
	    ((int)dtype == CUDNN_DATA_BFLOAT16 && refuse_bf16))
		return CUDNN_STATUS_NOT_SUPPORTED;
	*t = (struct cudnnTensorStruct){1, n, c, h, w, (int)dtype};
	return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t CUDNNWINAPI cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t f,
                                                            cudnnDataType_t dtype,
                                                            cudnnTensorFormat_t format, int k,
                                                            int c, int h, int w)
{
	if (!f || k <= 0 || c <= 0 || h <= 0 || w <= 0)
		return CUDNN_STATUS_BAD_PARAM;
	if ((int)format != CUDNN_TENSOR_NCHW ||
	    ((int)dtype != CUDNN_DATA_FLOAT && (int)dtype != CUDNN_DATA_BFLOAT16))
		return CUDNN_STATUS_NOT_SUPPORTED;
	*f = (struct cudnnFilterStruct){1, k, c, h, w, (int)dtype};
	return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t CUDNNWINAPI cudnnSetConvolution2dDescriptor(
	cudnnConvolutionDescriptor_t c, int pad_h, int pad_w, int u, int v, int dil_h, int dil_w,
	cudnnConvolutionMode_t mode, cudnnDataType_t compute)
{
	if (!c || pad_h < 0 || pad_w < 0 || u <= 0 || v <= 0 || dil_h <= 0 || dil_w <= 0 ||
	    ((int)mode != CUDNN_CONVOLUTION && (int)mode != CUDNN_CROSS_CORRELATION))
		return CUDNN_STATUS_BAD_PARAM;
	if ((int)compute != CUDNN_DATA_FLOAT)
		return CUDNN_STATUS_NOT_SUPPORTED;
	*c = (struct cudnnConvolutionStruct){1, pad_h, pad_w, u, v, dil_h, dil_w, (int)mode, 1, 0};
	return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t CUDNNWINAPI cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t c,
                                                               int groups)
{
	if (!c || groups <= 0)
		return CUDNN_STATUS_BAD_PARAM;
	c->groups = groups;
	return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t CUDNNWINAPI cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t c,
                                                             cudnnMathType_t m)
{
	if (!c || (int)m < 0 || (int)m > 3)
		return CUDNN_STATUS_BAD_PARAM;
	c->math = (int)m;
	return CUDNN_STATUS_SUCCESS;
}

/* cuDNN's output size along one axis, 0 when the kernel does not fit */
static int out_size(int in, int pad, int k, int dil, int stride)
{
	int span = in + 2 * pad - ((k - 1) * dil + 1);
	return span < 0 ? 0 : 1 + span / stride;
}

EXPORT cudnnStatus_t CUDNNWINAPI cudnnGetConvolution2dForwardOutputDim(
	const cudnnConvolutionDescriptor_t c, const cudnnTensorDescriptor_t x,
	const cudnnFilterDescriptor_t w, int *n, int *ch, int *h, int *wd)
{
	if (!c || !x || !w || !c->set || !x->set || !w->set || x->c != w->c * c->groups ||
	    w->k % c->groups != 0)
		return CUDNN_STATUS_BAD_PARAM;
	int oh = out_size(x->h, c->pad_h, w->h, c->dil_h, c->u);
	int ow = out_size(x->w, c->pad_w, w->w, c->dil_w, c->v);
	if (oh <= 0 || ow <= 0)
		return CUDNN_STATUS_BAD_PARAM;
	*n = x->n, *ch = w->k, *h = oh, *wd = ow;
	return CUDNN_STATUS_SUCCESS;
}

int standin_consistent(const struct cudnnConvolutionStruct *c, const struct cudnnTensorStruct *x,
                      const struct cudnnFilterStruct *w, const struct cudnnTensorStruct *y)
{
	int n, k, h, wd;
	if (!y || !y->set ||
	    cudnnGetConvolution2dForwardOutputDim((cudnnConvolutionDescriptor_t)c,
	                                          (cudnnTensorDescriptor_t)x,
	                                          (cudnnFilterDescriptor_t)w, &n, &k, &h,
	                                          &wd) != CUDNN_STATUS_SUCCESS)
		return 0;
	return y->n == n && y->c == k && y->h == h && y->w == wd;
}

int standin_one_type(const struct cudnnTensorStruct *x, const struct cudnnFilterStruct *w,
                     const struct cudnnTensorStruct *y)
{
	return x->dtype == w->dtype && w->dtype == y->dtype;
}

/* the stand-in's algorithms per operation and their workspaces (its own
 * sizes: cuDNN's depend on the GPU): -1 if it has no such algorithm */
long long standin_workspace(int op, int algo, const struct cudnnTensorStruct *x,
                           const struct cudnnFilterStruct *w, const struct cudnnTensorStruct *y)
{
	if (algo < 0 || algo >= 8 || standin_refused[op][algo])
		return -1;
	long long kernel = (long long)w->c * w->h * w->w;
	switch (op) {
	case 0: /* IMPLICIT_GEMM, IMPLICIT_PRECOMP_GEMM (indices), GEMM (im2col) */
		return algo == 0 ? 0 : algo == 1 ? 4 * kernel : algo == 2 ? 4 * kernel * y->h * y->w : -1;
	case 1: /* ALGO_0, ALGO_1, FFT_TILING */
		return algo == 0 ? 0 : algo == 1 ? 4 * kernel : algo == 3 ? 8LL * x->h * x->w : -1;
	default: /* ALGO_0, ALGO_1, ALGO_3, FFT_TILING */
		return algo == 0   ? 0
		       : algo == 1 ? 4LL * y->h * y->w
		       : algo == 3 ? 64
		       : algo == 6 ? 4 * kernel
		                   : -1;
	}
}

static cudnnStatus_t workspace_size(int op, cudnnConvolutionDescriptor_t c,
                                    cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
                                    cudnnTensorDescriptor_t y, int algo, size_t *bytes)
{
	if (!c || !x || !w || !bytes || !standin_consistent(c, x, w, y))
		return CUDNN_STATUS_BAD_PARAM;
	if (!standin_one_type(x, w, y))
		return CUDNN_STATUS_NOT_SUPPORTED;
	long long b = standin_workspace(op, algo, x, w, y);
	/* cuDNN 9 names kinds of "not supported": a refused algorithm says
	 * one of them, an algorithm the stand-in lacks the plain status */
	if (b < 0 && algo >= 0 && algo < 8 && standin_refused[op][algo])
		return CUDNN_STATUS_NOT_SUPPORTED_SHAPE;
	if (b < 0)
		return CUDNN_STATUS_NOT_SUPPORTED;
	*bytes = (size_t)b;
	return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t CUDNNWINAPI cudnnGetConvolutionForwardWorkspaceSize(
	cudnnHandle_t h, const cudnnTensorDescriptor_t x, const cudnnFilterDescriptor_t w,
	const cudnnConvolutionDescriptor_t c, const cudnnTensorDescriptor_t y,
	cudnnConvolutionFwdAlgo_t algo, size_t *bytes)
{
	return h ? workspace_size(0, c, x, w, y, (int)algo, bytes) : CUDNN_STATUS_BAD_PARAM;
}

EXPORT cudnnStatus_t CUDNNWINAPI cudnnGetConvolutionBackwardDataWorkspaceSize(
	cudnnHandle_t h, const cudnnFilterDescriptor_t w, const cudnnTensorDescriptor_t dy,
	const cudnnConvolutionDescriptor_t c, const cudnnTensorDescriptor_t dx,
	cudnnConvolutionBwdDataAlgo_t algo, size_t *bytes)
{
	return h ? workspace_size(1, c, dx, w, dy, (int)algo, bytes) : CUDNN_STATUS_BAD_PARAM;
}

EXPORT cudnnStatus_t CUDNNWINAPI cudnnGetConvolutionBackwardFilterWorkspaceSize(
	cudnnHandle_t h, const cudnnTensorDescriptor_t x, const cudnnTensorDescriptor_t dy,
	const cudnnConvolutionDescriptor_t c, const cudnnFilterDescriptor_t dw,
	cudnnConvolutionBwdFilterAlgo_t algo, size_t *bytes)
{
	return h ? workspace_size(2, c, x, dw, dy, (int)algo, bytes) : CUDNN_STATUS_BAD_PARAM;
}

/* a ranking like cuDNN's: {algo, deterministic, math type} of op */
static const int ranking[3][4][3] = {
	{{1, 1, CUDNN_TENSOR_OP_MATH},
	 {1, 1, CUDNN_FMA_MATH},
	 {0, 1, CUDNN_FMA_MATH},
	 {2, 1, CUDNN_FMA_MATH}},
	{{0, 0, CUDNN_FMA_MATH}, {3, 1, CUDNN_FMA_MATH}, {1, 1, CUDNN_FMA_MATH}, {-1, 0, 0}},
	{{0, 0, CUDNN_FMA_MATH}, {3, 0, CUDNN_FMA_MATH}, {6, 1, CUDNN_FMA_MATH}, {1, 1, CUDNN_FMA_MATH}},
};

#define HEURISTIC(op, perf, requested, returned)                                                   \
	do {                                                                                           \
		if (!h || !perf || !returned || requested <= 0)                                            \
			return CUDNN_STATUS_BAD_PARAM;                                                         \
		if (!standin_one_type(XD, WD, YD))                                                         \
			return CUDNN_STATUS_NOT_SUPPORTED;                                                     \
		int n_ = 0;                                                                                \
		for (int i = 0; i < 4 && n_ < requested && ranking[op][i][0] >= 0; i++, n_++) {            \
			memset(&perf[n_], 0, sizeof perf[n_]);                                                 \
			perf[n_].algo = ranking[op][i][0];                                                     \
			long long b = standin_workspace(op, ranking[op][i][0], XD, WD, YD);                    \
			perf[n_].status = b < 0 ? CUDNN_STATUS_NOT_SUPPORTED : CUDNN_STATUS_SUCCESS;           \
			perf[n_].memory = b < 0 ? 0 : (size_t)b;                                               \
			perf[n_].determinism = ranking[op][i][1];                                              \
			perf[n_].mathType = ranking[op][i][2];                                                 \
		}                                                                                          \
		*returned = n_;                                                                            \
		return CUDNN_STATUS_SUCCESS;                                                               \
	} while (0)

EXPORT cudnnStatus_t CUDNNWINAPI cudnnGetConvolutionForwardAlgorithm_v7(
	cudnnHandle_t h, const cudnnTensorDescriptor_t x, const cudnnFilterDescriptor_t w,
	const cudnnConvolutionDescriptor_t c, const cudnnTensorDescriptor_t y, const int requested,
	int *returned, cudnnConvolutionFwdAlgoPerf_t *perf)
{
	if (!standin_consistent(c, x, w, y))
		return CUDNN_STATUS_BAD_PARAM;
#define XD x
#define WD w
#define YD y
	HEURISTIC(0, perf, requested, returned);
}

EXPORT cudnnStatus_t CUDNNWINAPI cudnnGetConvolutionBackwardDataAlgorithm_v7(
	cudnnHandle_t h, const cudnnFilterDescriptor_t w, const cudnnTensorDescriptor_t dy,
	const cudnnConvolutionDescriptor_t c, const cudnnTensorDescriptor_t dx, const int requested,
	int *returned, cudnnConvolutionBwdDataAlgoPerf_t *perf)
{
	if (!standin_consistent(c, dx, w, dy))
		return CUDNN_STATUS_BAD_PARAM;
#undef XD
#undef YD
#define XD dx
#define YD dy
	HEURISTIC(1, perf, requested, returned);
}

EXPORT cudnnStatus_t CUDNNWINAPI cudnnGetConvolutionBackwardFilterAlgorithm_v7(
	cudnnHandle_t h, const cudnnTensorDescriptor_t x, const cudnnTensorDescriptor_t dy,
	const cudnnConvolutionDescriptor_t c, const cudnnFilterDescriptor_t dw, const int requested,
	int *returned, cudnnConvolutionBwdFilterAlgoPerf_t *perf)
{
	if (!standin_consistent(c, x, dw, dy))
		return CUDNN_STATUS_BAD_PARAM;
#undef XD
#undef WD
#undef YD
#define XD x
#define WD dw
#define YD dy
	HEURISTIC(2, perf, requested, returned);
#undef XD
#undef WD
#undef YD
}
