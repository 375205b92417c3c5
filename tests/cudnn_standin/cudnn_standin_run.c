/*
 * cudnn_standin_run.c - the cuDNN stand-in's convolutions, bias addition
 * and bias gradient: plain loops in double over host memory, from cuDNN's
 * documented semantics (see cudnn_standin.c).
 */
#include "cudnn_standin.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* element i of a tensor of data type dtype (f32, or bf16: the upper half
 * of an f32) */
static double load(const void *p, long long i, int dtype)
{
	if (dtype != CUDNN_DATA_BFLOAT16)
		return ((const float *)p)[i];
	uint32_t u = (uint32_t)((const uint16_t *)p)[i] << 16;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* v rounded to f32, then to bf16 to nearest even (NaN stays a NaN) */
static uint16_t to_bf16(double v)
{
	float f = (float)v;
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	if (f != f)
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

/* the workspace of a run: present, large enough, and written in full */
static cudnnStatus_t use_workspace(int op, int algo, const struct cudnnTensorStruct *x,
                                   const struct cudnnFilterStruct *w,
                                   const struct cudnnTensorStruct *y, void *ws, size_t bytes)
{
	long long need = standin_workspace(op, algo, x, w, y);
	if (need < 0)
		return CUDNN_STATUS_NOT_SUPPORTED;
	if ((size_t)need > bytes || (need > 0 && !ws))
		return CUDNN_STATUS_BAD_PARAM;
	if (need > 0)
		memset(ws, 0xa5, (size_t)need);
	return CUDNN_STATUS_SUCCESS;
}

/* Visits every term x[xi] * w[wi] of y[yi] of the convolution (x, w, y
 * shaped by the descriptors), the padding's zeros left out. */
#define FOR_TERMS(C_, X_, W_, Y_)                                                                  \
	for (long long n = 0; n < (Y_)->n; n++)                                                        \
		for (long long k = 0; k < (Y_)->c; k++)                                                    \
			for (long long oy = 0; oy < (Y_)->h; oy++)                                             \
				for (long long ox = 0; ox < (Y_)->w; ox++)                                         \
					for (long long ci = 0; ci < (W_)->c; ci++)                                     \
						for (long long r = 0; r < (W_)->h; r++)                                    \
							for (long long s = 0; s < (W_)->w; s++)                                \
								if (term(C_, X_, W_, Y_, n, k, oy, ox, ci, r, s, &xi, &wi, &yi))

static int term(const struct cudnnConvolutionStruct *c, const struct cudnnTensorStruct *x,
                const struct cudnnFilterStruct *w, const struct cudnnTensorStruct *y, long long n,
                long long k, long long oy, long long ox, long long ci, long long r, long long s,
                long long *xi, long long *wi, long long *yi)
{
	long long iy = oy * c->u - c->pad_h + r * c->dil_h;
	long long ix = ox * c->v - c->pad_w + s * c->dil_w;
	if (iy < 0 || iy >= x->h || ix < 0 || ix >= x->w)
		return 0;
	/* CUDNN_CONVOLUTION flips the kernel; cross-correlation does not */
	long long fr = c->mode == CUDNN_CONVOLUTION ? w->h - 1 - r : r;
	long long fs = c->mode == CUDNN_CONVOLUTION ? w->w - 1 - s : s;
	long long ch = k / (y->c / c->groups) * w->c + ci;
	*xi = ((n * x->c + ch) * x->h + iy) * x->w + ix;
	*wi = ((k * w->c + ci) * w->h + fr) * w->w + fs;
	*yi = ((n * y->c + k) * y->h + oy) * y->w + ox;
	return 1;
}

/* out[i] = alpha acc[i] + beta out[i] in out's data type, out not read
 * when beta is 0 */
static void store_as(void *out, int dtype, const double *acc, long long len, const void *alpha,
                     const void *beta)
{
	double a = *(const float *)alpha, b = *(const float *)beta;
	for (long long i = 0; i < len; i++) {
		double v = a * acc[i] + (b != 0 ? b * load(out, i, dtype) : 0.0);
		if (dtype == CUDNN_DATA_BFLOAT16)
			((uint16_t *)out)[i] = to_bf16(v);
		else
			((float *)out)[i] = (float)v;
	}
}

static void store(float *out, const double *acc, long long len, const void *alpha,
                  const void *beta)
{
	store_as(out, CUDNN_DATA_FLOAT, acc, len, alpha, beta);
}

static long long tensor_len(const struct cudnnTensorStruct *t)
{
	return (long long)t->n * t->c * t->h * t->w;
}

#define RUN_CHECK(op, h, alpha, beta, c, x, w, y, algo, ws, bytes)                                 \
	do {                                                                                           \
		if (!h || !alpha || !beta || !c || !x || !w || !standin_consistent(c, x, w, y))            \
			return CUDNN_STATUS_BAD_PARAM;                                                         \
		if (!standin_one_type(x, w, y))                                                            \
			return CUDNN_STATUS_NOT_SUPPORTED;                                                     \
		cudnnStatus_t s_ = use_workspace(op, (int)algo, x, w, y, ws, bytes);                       \
		if (s_ != CUDNN_STATUS_SUCCESS)                                                            \
			return s_;                                                                             \
		standin_runs[op]++;                                                                        \
		standin_runs_bf16[op] += (x)->dtype == CUDNN_DATA_BFLOAT16;                                \
	} while (0)

EXPORT cudnnStatus_t CUDNNWINAPI cudnnConvolutionForward(
	cudnnHandle_t h, const void *alpha, const cudnnTensorDescriptor_t xd, const void *x,
	const cudnnFilterDescriptor_t wd, const void *w, const cudnnConvolutionDescriptor_t c,
	cudnnConvolutionFwdAlgo_t algo, void *ws, size_t bytes, const void *beta,
	const cudnnTensorDescriptor_t yd, void *y)
{
	RUN_CHECK(0, h, alpha, beta, c, xd, wd, yd, algo, ws, bytes);
	double *acc = calloc((size_t)tensor_len(yd), sizeof *acc);
	if (!acc)
		return CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED;
	long long xi, wi, yi;
	FOR_TERMS(c, xd, wd, yd) acc[yi] += load(x, xi, xd->dtype) * load(w, wi, wd->dtype);
	store_as(y, yd->dtype, acc, tensor_len(yd), alpha, beta);
	free(acc);
	return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t CUDNNWINAPI cudnnConvolutionBackwardData(
	cudnnHandle_t h, const void *alpha, const cudnnFilterDescriptor_t wd, const void *w,
	const cudnnTensorDescriptor_t dyd, const void *dy, const cudnnConvolutionDescriptor_t c,
	cudnnConvolutionBwdDataAlgo_t algo, void *ws, size_t bytes, const void *beta,
	const cudnnTensorDescriptor_t dxd, void *dx)
{
	RUN_CHECK(1, h, alpha, beta, c, dxd, wd, dyd, algo, ws, bytes);
	double *acc = calloc((size_t)tensor_len(dxd), sizeof *acc);
	if (!acc)
		return CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED;
	long long xi, wi, yi;
	FOR_TERMS(c, dxd, wd, dyd)
	acc[xi] += load(dy, yi, dyd->dtype) * load(w, wi, wd->dtype);
	store_as(dx, dxd->dtype, acc, tensor_len(dxd), alpha, beta);
	free(acc);
	return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t CUDNNWINAPI cudnnConvolutionBackwardFilter(
	cudnnHandle_t h, const void *alpha, const cudnnTensorDescriptor_t xd, const void *x,
	const cudnnTensorDescriptor_t dyd, const void *dy, const cudnnConvolutionDescriptor_t c,
	cudnnConvolutionBwdFilterAlgo_t algo, void *ws, size_t bytes, const void *beta,
	const cudnnFilterDescriptor_t dwd, void *dw)
{
	RUN_CHECK(2, h, alpha, beta, c, xd, dwd, dyd, algo, ws, bytes);
	long long len = (long long)dwd->k * dwd->c * dwd->h * dwd->w;
	double *acc = calloc((size_t)len, sizeof *acc);
	if (!acc)
		return CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED;
	long long xi, wi, yi;
	FOR_TERMS(c, xd, dwd, dyd)
	acc[wi] += load(dy, yi, dyd->dtype) * load(x, xi, xd->dtype);
	store_as(dw, dwd->dtype, acc, len, alpha, beta);
	free(acc);
	return CUDNN_STATUS_SUCCESS;
}

/* db = alpha * dy summed over n, h, w + beta * db; db is [1, k, 1, 1] */
EXPORT cudnnStatus_t CUDNNWINAPI cudnnConvolutionBackwardBias(
	cudnnHandle_t h, const void *alpha, const cudnnTensorDescriptor_t dyd, const void *dy,
	const void *beta, const cudnnTensorDescriptor_t dbd, void *db)
{
	if (!h || !alpha || !beta || !dyd || !dbd || !dyd->set || !dbd->set || dbd->n != 1 ||
	    dbd->c != dyd->c || dbd->h != 1 || dbd->w != 1)
		return CUDNN_STATUS_BAD_PARAM;
	if (dyd->dtype != CUDNN_DATA_FLOAT || dbd->dtype != CUDNN_DATA_FLOAT)
		return CUDNN_STATUS_NOT_SUPPORTED; /* the stand-in's: samc sums f32 gradients */
	double *acc = calloc((size_t)dyd->c, sizeof *acc);
	if (!acc)
		return CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED;
	long long hw = (long long)dyd->h * dyd->w;
	for (long long i = 0; i < tensor_len(dyd); i++)
		acc[i / hw % dyd->c] += ((const float *)dy)[i];
	store(db, acc, dyd->c, alpha, beta);
	free(acc);
	return CUDNN_STATUS_SUCCESS;
}

/* C = alpha A + beta C, each dimension of A C's or 1 (broadcast) */
EXPORT cudnnStatus_t CUDNNWINAPI cudnnAddTensor(cudnnHandle_t h, const void *alpha,
                                                const cudnnTensorDescriptor_t ad, const void *a,
                                                const void *beta,
                                                const cudnnTensorDescriptor_t cd, void *cv)
{
	if (!h || !alpha || !beta || !ad || !cd || !ad->set || !cd->set)
		return CUDNN_STATUS_BAD_PARAM;
	if (ad->dtype != CUDNN_DATA_FLOAT || cd->dtype != CUDNN_DATA_FLOAT)
		return CUDNN_STATUS_NOT_SUPPORTED; /* the stand-in's: samc adds f32 biases */
	const int adim[4] = {ad->n, ad->c, ad->h, ad->w}, cdim[4] = {cd->n, cd->c, cd->h, cd->w};
	for (int i = 0; i < 4; i++)
		if (adim[i] != cdim[i] && adim[i] != 1)
			return CUDNN_STATUS_BAD_PARAM;
	double *acc = malloc((size_t)tensor_len(cd) * sizeof *acc);
	if (!acc)
		return CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED;
	long long i = 0;
	for (int n = 0; n < cd->n; n++)
		for (int c = 0; c < cd->c; c++)
			for (int y = 0; y < cd->h; y++)
				for (int x = 0; x < cd->w; x++, i++) {
					long long ai = (((long long)(ad->n > 1 ? n : 0) * ad->c +
					                 (ad->c > 1 ? c : 0)) * ad->h + (ad->h > 1 ? y : 0)) * ad->w +
					               (ad->w > 1 ? x : 0);
					acc[i] = ((const float *)a)[ai];
				}
	store(cv, acc, tensor_len(cd), alpha, beta);
	free(acc);
	return CUDNN_STATUS_SUCCESS;
}
