/*
 * rt_cuda_dnn.c - convolution plans through cuDNN: descriptors, the
 * deterministic algorithm and its workspace, decided once per (descriptor,
 * operation, bias, data type); runs on the caller's stream (see
 * rt_cuda_dnn.h).
 */
#include "rt_cuda_dnn.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rt_cuda_dnn_plan {
	rt_conv_desc desc; /* the key, with op and bias */
	rt_conv_op op;
	int bias;
	int bf16;                /* x, w, y bf16 (PSEUDO_BFLOAT16_CONFIG) */
	rt_cudnn_tensor x, y, b; /* b: [1, o, 1, 1], when bias */
	rt_cudnn_tensor y32;     /* a bf16 plan's y as f32, for the bias (when bias) */
	rt_cudnn_filter w;
	rt_cudnn_conv conv;
	int algo;
	size_t workspace;
};

/* the status message, prefixed with the convolution and its operation */
static int plan_fail(const rt_cuda_dnn *d, const rt_conv_desc *desc, rt_conv_op op,
                     const char *call, rt_cudnn_status s, rt_err *err)
{
	char ds[256];
	rt_err e;
	rt_conv_desc_str(desc, ds, sizeof ds);
	rt_cuda_dnn_status_error(d, call, s, &e);
	return rt_errf(err, "%s (%s): %s", ds, rt_conv_op_name(op), e.msg);
}

static void plan_free_descs(const rt_cuda_dnn *d, rt_cuda_dnn_plan *p)
{
	if (p->x)
		(void)d->cudnnDestroyTensorDescriptor(p->x);
	if (p->y)
		(void)d->cudnnDestroyTensorDescriptor(p->y);
	if (p->b)
		(void)d->cudnnDestroyTensorDescriptor(p->b);
	if (p->y32)
		(void)d->cudnnDestroyTensorDescriptor(p->y32);
	if (p->w)
		(void)d->cudnnDestroyFilterDescriptor(p->w);
	if (p->conv)
		(void)d->cudnnDestroyConvolutionDescriptor(p->conv);
	p->x = p->y = p->b = p->y32 = NULL;
	p->w = NULL;
	p->conv = NULL;
}

/* every size of desc fits cuDNN's int arguments */
static int fits_int(const rt_conv_desc *c)
{
	const int64_t v[] = {c->n, c->c, c->h, c->w, c->o, c->kh, c->kw, c->oh, c->ow,
	                     c->stride_h, c->stride_w, c->pad_h, c->pad_w, c->dil_h, c->dil_w, c->groups};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		if (v[i] > INT_MAX)
			return 0;
	return 1;
}

#define DNN_TRY(call, args)                                                                        \
	do {                                                                                           \
		rt_cudnn_status s_ = d->call args;                                                         \
		if (s_ != RT_CUDNN_STATUS_SUCCESS) {                                                       \
			plan_fail(d, c, p->op, #call, s_, err);                                                \
			plan_free_descs(d, p);                                                                 \
			return -1;                                                                             \
		}                                                                                          \
	} while (0)

/* p's descriptors for p->desc (and its bias tensor when p->bias), checked
 * against cuDNN's output size. 0, or -1 with p's descriptors freed. */
static int plan_descs(const rt_cuda_dnn *d, rt_cuda_dnn_plan *p, rt_err *err)
{
	const rt_conv_desc *c = &p->desc;
	if (rt_conv_desc_check(c, err) != 0)
		return -1;
	if (!fits_int(c)) {
		char ds[256];
		rt_conv_desc_str(c, ds, sizeof ds);
		return rt_errf(err, "%s: a size over %d, more than cuDNN takes", ds, INT_MAX);
	}
	/* a bf16 plan: x, w and y bf16, the sums in f32 (the only bf16 row of
	 * cuDNN's table of legacy configurations: y cannot be f32), on the
	 * tensor cores */
	const int F = RT_CUDNN_DATA_FLOAT, L = RT_CUDNN_TENSOR_NCHW;
	const int T = p->bf16 ? RT_CUDNN_DATA_BFLOAT16 : F;
	DNN_TRY(cudnnCreateTensorDescriptor, (&p->x));
	DNN_TRY(cudnnSetTensor4dDescriptor, (p->x, L, T, (int)c->n, (int)c->c, (int)c->h, (int)c->w));
	DNN_TRY(cudnnCreateTensorDescriptor, (&p->y));
	DNN_TRY(cudnnSetTensor4dDescriptor,
	        (p->y, L, T, (int)c->n, (int)c->o, (int)c->oh, (int)c->ow));
	DNN_TRY(cudnnCreateFilterDescriptor, (&p->w));
	DNN_TRY(cudnnSetFilter4dDescriptor,
	        (p->w, T, L, (int)c->o, (int)(c->c / c->groups), (int)c->kh, (int)c->kw));
	DNN_TRY(cudnnCreateConvolutionDescriptor, (&p->conv));
	DNN_TRY(cudnnSetConvolution2dDescriptor,
	        (p->conv, (int)c->pad_h, (int)c->pad_w, (int)c->stride_h, (int)c->stride_w,
	         (int)c->dil_h, (int)c->dil_w, RT_CUDNN_CROSS_CORRELATION, F));
	DNN_TRY(cudnnSetConvolutionGroupCount, (p->conv, (int)c->groups));
	DNN_TRY(cudnnSetConvolutionMathType,
	        (p->conv, p->bf16 ? RT_CUDNN_TENSOR_OP_MATH : RT_CUDNN_FMA_MATH));
	if (p->bias) {
		DNN_TRY(cudnnCreateTensorDescriptor, (&p->b));
		DNN_TRY(cudnnSetTensor4dDescriptor, (p->b, L, F, 1, (int)c->o, 1, 1));
	}
	if (p->bias && p->bf16) {
		DNN_TRY(cudnnCreateTensorDescriptor, (&p->y32));
		DNN_TRY(cudnnSetTensor4dDescriptor,
		        (p->y32, L, F, (int)c->n, (int)c->o, (int)c->oh, (int)c->ow));
	}
	int n, ch, h, w;
	DNN_TRY(cudnnGetConvolution2dForwardOutputDim, (p->conv, p->x, p->w, &n, &ch, &h, &w));
	if (n != c->n || ch != c->o || h != c->oh || w != c->ow) {
		char ds[256];
		rt_conv_desc_str(c, ds, sizeof ds);
		plan_free_descs(d, p);
		return rt_errf(err, "%s: cuDNN computes the output [%d,%d,%d,%d], not [%lld,%lld,%lld,%lld]",
		               ds, n, ch, h, w, (long long)c->n, (long long)c->o, (long long)c->oh,
		               (long long)c->ow);
	}
	return 0;
}

/* the workspace algorithm algo of p's operation needs */
static rt_cudnn_status workspace_of(const rt_cuda_dnn *d, const rt_cuda_dnn_plan *p, int algo,
                                    size_t *bytes)
{
	switch (p->op) {
	case RT_CONV_FWD:
		return d->cudnnGetConvolutionForwardWorkspaceSize(d->handle, p->x, p->w, p->conv, p->y,
		                                                  algo, bytes);
	case RT_CONV_BWD_DATA:
		return d->cudnnGetConvolutionBackwardDataWorkspaceSize(d->handle, p->w, p->y, p->conv,
		                                                       p->x, algo, bytes);
	default:
		return d->cudnnGetConvolutionBackwardFilterWorkspaceSize(d->handle, p->x, p->y, p->conv,
		                                                         p->w, algo, bytes);
	}
}

/* cuDNN's heuristic ranking for p's operation; 0 or a failed status */
static rt_cudnn_status heuristic(const rt_cuda_dnn *d, const rt_cuda_dnn_plan *p,
                                 rt_cudnn_algo_perf *perf, int *n)
{
	switch (p->op) {
	case RT_CONV_FWD:
		return d->cudnnGetConvolutionForwardAlgorithm_v7(d->handle, p->x, p->w, p->conv, p->y,
		                                                 RT_CUDNN_ALGO_MAX, n, perf);
	case RT_CONV_BWD_DATA:
		return d->cudnnGetConvolutionBackwardDataAlgorithm_v7(d->handle, p->w, p->y, p->conv,
		                                                      p->x, RT_CUDNN_ALGO_MAX, n, perf);
	default:
		return d->cudnnGetConvolutionBackwardFilterAlgorithm_v7(d->handle, p->x, p->y, p->conv,
		                                                        p->w, RT_CUDNN_ALGO_MAX, n, perf);
	}
}

/* The heuristic's first algorithm that is deterministic, runs in FMA (not
 * tensor-op) math, or any math for a bf16 plan (its products are exact in
 * f32: no TF32 rounding to avoid), and needs at most
 * RT_CUDA_DNN_MAX_WORKSPACE: 1 with
 * p->algo and p->workspace set, 0 if none is, -1 on failure. */
static int first_usable(const rt_cuda_dnn *d, rt_cuda_dnn_plan *p, rt_err *err)
{
	rt_cudnn_algo_perf perf[RT_CUDNN_ALGO_MAX];
	int n = 0;
	memset(perf, 0, sizeof perf);
	rt_cudnn_status s = heuristic(d, p, perf, &n);
	if (s != RT_CUDNN_STATUS_SUCCESS)
		return plan_fail(d, &p->desc, p->op,
		                 p->op == RT_CONV_FWD ? "cudnnGetConvolutionForwardAlgorithm_v7"
		                 : p->op == RT_CONV_BWD_DATA
		                         ? "cudnnGetConvolutionBackwardDataAlgorithm_v7"
		                         : "cudnnGetConvolutionBackwardFilterAlgorithm_v7",
		                 s, err);
	for (int i = 0; i < n && i < RT_CUDNN_ALGO_MAX; i++) {
		size_t ws = 0;
		if (perf[i].status != RT_CUDNN_STATUS_SUCCESS ||
		    perf[i].determinism != RT_CUDNN_DETERMINISTIC ||
		    (!p->bf16 && perf[i].math_type != RT_CUDNN_DEFAULT_MATH &&
		     perf[i].math_type != RT_CUDNN_FMA_MATH))
			continue;
		if (workspace_of(d, p, perf[i].algo, &ws) != RT_CUDNN_STATUS_SUCCESS ||
		    ws > RT_CUDA_DNN_MAX_WORKSPACE)
			continue;
		p->algo = perf[i].algo;
		p->workspace = ws;
		return 1;
	}
	return 0;
}

static const char *workspace_call(rt_conv_op op)
{
	return op == RT_CONV_FWD ? "cudnnGetConvolutionForwardWorkspaceSize"
	       : op == RT_CONV_BWD_DATA ? "cudnnGetConvolutionBackwardDataWorkspaceSize"
	                                : "cudnnGetConvolutionBackwardFilterWorkspaceSize";
}

/* p's algorithm and workspace (rt_cuda_dnn.h says which and why) */
static int plan_algo(const rt_cuda_dnn *d, rt_cuda_dnn_plan *p, rt_err *err)
{
	int preferred = p->op == RT_CONV_FWD ? -1
	                : p->op == RT_CONV_BWD_DATA ? RT_CUDNN_BWD_DATA_ALGO_1
	                                            : RT_CUDNN_BWD_FILTER_ALGO_1;
	rt_cudnn_status s = RT_CUDNN_STATUS_SUCCESS;
	if (preferred >= 0) {
		s = workspace_of(d, p, preferred, &p->workspace);
		if (s == RT_CUDNN_STATUS_SUCCESS) {
			p->algo = preferred;
			return 0;
		}
		if (s / 1000 != RT_CUDNN_STATUS_NOT_SUPPORTED / 1000) /* not "not supported" */
			return plan_fail(d, &p->desc, p->op, workspace_call(p->op), s, err);
	}
	int found = first_usable(d, p, err);
	if (found != 0)
		return found < 0 ? -1 : 0;
	if (p->op == RT_CONV_FWD) {
		p->algo = RT_CUDNN_FWD_ALGO_IMPLICIT_GEMM;
		s = workspace_of(d, p, p->algo, &p->workspace);
		if (s == RT_CUDNN_STATUS_SUCCESS)
			return 0;
	}
	char ds[256];
	rt_conv_desc_str(&p->desc, ds, sizeof ds);
	rt_err e;
	rt_cuda_dnn_status_error(d, workspace_call(p->op), s, &e);
	return rt_errf(err, "%s (%s): cuDNN has no deterministic FMA algorithm for it (%s)", ds,
	               rt_conv_op_name(p->op), e.msg);
}

static int same_key(const rt_cuda_dnn_plan *p, const rt_conv_desc *desc, rt_conv_op op, int bias,
                    int bf16)
{
	return p->op == op && p->bias == bias && p->bf16 == bf16 &&
	       memcmp(&p->desc, desc, sizeof *desc) == 0;
}

static int plan_get(rt_cuda_dnn *d, const rt_conv_desc *desc, rt_conv_op op, int bias, int bf16,
                    const rt_cuda_dnn_plan **plan, size_t *workspace_bytes, rt_err *err)
{
	bias = bias && op != RT_CONV_BWD_DATA;
	bf16 = bf16 != 0;
	for (int i = 0; i < d->nplans; i++)
		if (same_key(d->plans[i], desc, op, bias, bf16)) {
			*plan = d->plans[i];
			*workspace_bytes = d->plans[i]->workspace;
			return 0;
		}
	if (!d->handle)
		return rt_errf(err, "cuda: cuDNN (%s) is loaded without a handle: open it with "
		                    "rt_cuda_dnn_open", d->path);
	if (d->nplans == d->cap) {
		int cap = d->cap ? 2 * d->cap : 16;
		rt_cuda_dnn_plan **np = realloc(d->plans, (size_t)cap * sizeof *np);
		if (!np)
			return rt_errf(err, "cuda: out of memory");
		d->plans = np;
		d->cap = cap;
	}
	rt_cuda_dnn_plan *p = calloc(1, sizeof *p);
	if (!p)
		return rt_errf(err, "cuda: out of memory");
	p->desc = *desc;
	p->op = op;
	p->bias = bias;
	p->bf16 = bf16;
	if (plan_descs(d, p, err) != 0) {
		free(p);
		return -1;
	}
	if (plan_algo(d, p, err) != 0) {
		plan_free_descs(d, p);
		free(p);
		return -1;
	}
	d->plans[d->nplans++] = p;
	*plan = p;
	*workspace_bytes = p->workspace;
	return 0;
}

int rt_cuda_dnn_plan_get(rt_cuda_dnn *d, const rt_conv_desc *desc, rt_conv_op op, int bias,
                         const rt_cuda_dnn_plan **plan, size_t *workspace_bytes, rt_err *err)
{
	return plan_get(d, desc, op, bias, 0, plan, workspace_bytes, err);
}

int rt_cuda_dnn_plan_get_bf16(rt_cuda_dnn *d, const rt_conv_desc *desc, rt_conv_op op, int bias,
                              const rt_cuda_dnn_plan **plan, size_t *workspace_bytes, rt_err *err)
{
	return plan_get(d, desc, op, bias, 1, plan, workspace_bytes, err);
}

int rt_cuda_dnn_plan_bf16(const rt_cuda_dnn_plan *p)
{
	return p->bf16;
}

int rt_cuda_dnn_plan_algo(const rt_cuda_dnn_plan *p)
{
	return p->algo;
}

size_t rt_cuda_dnn_plan_workspace(const rt_cuda_dnn_plan *p)
{
	return p->workspace;
}

int rt_cuda_dnn_check_desc(const rt_cuda_dnn *d, const rt_conv_desc *desc, rt_err *err)
{
	for (int bf16 = 0; bf16 < 2; bf16++) { /* an f32 plan's descriptors, a bf16 plan's */
		rt_cuda_dnn_plan p;
		memset(&p, 0, sizeof p);
		p.desc = *desc;
		p.op = RT_CONV_FWD;
		p.bias = 1;
		p.bf16 = bf16;
		if (plan_descs(d, &p, err) != 0)
			return -1;
		plan_free_descs(d, &p);
	}
	return 0;
}

static void *ptr(rt_cu_deviceptr p)
{
	return (void *)(uintptr_t)p;
}

#define RUN_TRY(call, args)                                                                        \
	do {                                                                                           \
		rt_cudnn_status s_ = d->call args;                                                         \
		if (s_ != RT_CUDNN_STATUS_SUCCESS)                                                         \
			return plan_fail(d, &p->desc, p->op, #call, s_, err);                                  \
	} while (0)

int rt_cuda_dnn_run(rt_cuda_dnn *d, const rt_cuda_dnn_plan *p, const rt_cu_deviceptr *a,
                    rt_cu_deviceptr workspace, size_t workspace_bytes, rt_cu_stream stream,
                    rt_err *err)
{
	if (workspace_bytes < p->workspace || (p->workspace > 0 && !workspace)) {
		char ds[256];
		rt_conv_desc_str(&p->desc, ds, sizeof ds);
		return rt_errf(err, "%s (%s): a workspace of %zu bytes is given, the plan needs %zu", ds,
		               rt_conv_op_name(p->op), workspace ? workspace_bytes : 0, p->workspace);
	}
	if (stream != d->stream) {
		RUN_TRY(cudnnSetStream, (d->handle, stream));
		d->stream = stream;
	}
	/* scaling factors of f32 data are f32 host values: out = 1 op + 0 out */
	const float one = 1.0f, zero = 0.0f;
	void *ws = p->workspace ? ptr(workspace) : NULL;
	size_t wsb = p->workspace ? workspace_bytes : 0;
	/* a bf16 plan's args are the three bf16 operands; its bias is
	 * rt_cuda_dnn_run_bias's */
	int bias = p->bias && !p->bf16;
	switch (p->op) {
	case RT_CONV_FWD: {
		void *y = ptr(a[2 + bias]);
		RUN_TRY(cudnnConvolutionForward, (d->handle, &one, p->x, ptr(a[0]), p->w, ptr(a[1]),
		                                  p->conv, p->algo, ws, wsb, &zero, p->y, y));
		if (bias)
			RUN_TRY(cudnnAddTensor, (d->handle, &one, p->b, ptr(a[2]), &one, p->y, y));
		return 0;
	}
	case RT_CONV_BWD_DATA:
		RUN_TRY(cudnnConvolutionBackwardData, (d->handle, &one, p->w, ptr(a[1]), p->y, ptr(a[0]),
		                                       p->conv, p->algo, ws, wsb, &zero, p->x, ptr(a[2])));
		return 0;
	case RT_CONV_BWD_WEIGHT:
		RUN_TRY(cudnnConvolutionBackwardFilter, (d->handle, &one, p->x, ptr(a[0]), p->y, ptr(a[1]),
		                                         p->conv, p->algo, ws, wsb, &zero, p->w, ptr(a[2])));
		if (bias)
			RUN_TRY(cudnnConvolutionBackwardBias,
			        (d->handle, &one, p->y, ptr(a[1]), &zero, p->b, ptr(a[3])));
		return 0;
	}
	return rt_errf(err, "cuda: convolution plan with no operation");
}

int rt_cuda_dnn_run_bias(rt_cuda_dnn *d, const rt_cuda_dnn_plan *p, const rt_cu_deviceptr *a,
                         rt_cu_stream stream, rt_err *err)
{
	if (!p->bf16 || !p->bias || p->op == RT_CONV_BWD_DATA)
		return 0;
	if (stream != d->stream) {
		RUN_TRY(cudnnSetStream, (d->handle, stream));
		d->stream = stream;
	}
	const float one = 1.0f, zero = 0.0f;
	if (p->op == RT_CONV_FWD)
		RUN_TRY(cudnnAddTensor, (d->handle, &one, p->b, ptr(a[2]), &one, p->y32, ptr(a[3])));
	else
		RUN_TRY(cudnnConvolutionBackwardBias,
		        (d->handle, &one, p->y32, ptr(a[1]), &zero, p->b, ptr(a[3])));
	return 0;
}

void rt_cuda_dnn_close(rt_cuda_dnn *d)
{
	for (int i = 0; i < d->nplans; i++) {
		plan_free_descs(d, d->plans[i]);
		free(d->plans[i]);
	}
	free(d->plans);
	if (d->handle && d->cudnnDestroy)
		(void)d->cudnnDestroy(d->handle);
	if (d->lib)
		dlclose(d->lib);
	memset(d, 0, sizeof *d);
}
