/*
 * rt_dev_cuda_bf16.c - the CUDA device's GEMMs and convolutions of bf16
 * operands (rt_prog_kernel.bf16: precision = "bf16" marks those whose
 * multiplied operands are results of round_bf16, bf16 values held in f32).
 *
 * cuBLAS and cuDNN read bf16 from bf16 storage, so each such call first
 * converts its two operands (one launch) with the module's samc_bf16_pack (the prelude
 * every rendered module starts with, cg_cuda.c; for bf16 values it keeps
 * the upper 16 bits) into the device's bf16 scratch, then runs
 *   a GEMM         as cublasGemmEx / cublasGemmStridedBatchedEx, bf16 A and
 *                  B, f32 C, f32 sums (rt_cuda_blas_gemm_bf16): the result
 *                  lands in the kernel's f32 output directly;
 *   a convolution  through cuDNN's bf16 plan (rt_cuda_dnn_plan_get_bf16),
 *                  whose result is bf16 (cuDNN's legacy API has no f32
 *                  output for bf16 inputs): samc_bf16_unpack widens it into
 *                  the kernel's f32 output (exact), then the bias, or its
 *                  gradient from the f32 dy, in f32 (rt_cuda_dnn_run_bias).
 * A bf16 convolution cuDNN has no plan for runs as the f32 one on the
 * same values (rt_dev_cuda.c's conv_plan), unless SAMC_CUDA_BF16_STRICT
 * was set when the device was made.
 * The scratch is one device buffer, grown once per schedule to the
 * largest call's operands when the runner plans it (every call is ordered
 * on the legacy default stream, so one buffer serves all); the conversions
 * run on that stream between the library calls, outside CUDA graphs.
 */
#include "rt_dev_cuda_int.h"

#include <stdint.h>
#include <stdio.h>

#define BF16_BLOCK 256
#define BF16_MAX_GRID 4096 /* a grid-stride loop covers the rest */

int rt_cudev_bf16_is(const rt_prog_kernel *k)
{
	return k->bf16 && !k->f64 && (k->kind == RT_K_GEMM || k->kind == RT_K_CONV);
}

/* Elements of k's two multiplied operands and of its bf16 result (0 for a
 * GEMM: cuBLAS writes f32), in the order their copies lie in the scratch:
 *   GEMM                A, B
 *   RT_CONV_FWD         x, w, y
 *   RT_CONV_BWD_DATA    dy, w, dx
 *   RT_CONV_BWD_WEIGHT  x, dy, dw */
static void operand_sizes(const rt_prog_kernel *k, int64_t n[3])
{
	if (k->kind == RT_K_GEMM) {
		int64_t b = k->batch > 1 ? k->batch : 1;
		n[0] = b * k->m * k->k;
		n[1] = b * k->k * k->n;
		n[2] = 0;
		return;
	}
	const rt_conv_desc *c = &k->conv;
	int64_t g = c->groups > 0 ? c->groups : 1;
	int64_t x = c->n * c->c * c->h * c->w, w = c->o * (c->c / g) * c->kh * c->kw,
	        y = c->n * c->o * c->oh * c->ow;
	n[0] = k->conv_op == RT_CONV_BWD_DATA ? y : x;
	n[1] = k->conv_op == RT_CONV_BWD_WEIGHT ? y : w;
	n[2] = k->conv_op == RT_CONV_FWD ? y : k->conv_op == RT_CONV_BWD_DATA ? x : w;
}

static size_t aligned(int64_t elems)
{
	return ((size_t)elems * 2 + 255) / 256 * 256;
}

static size_t scratch_bytes(const rt_prog_kernel *k)
{
	int64_t n[3];
	operand_sizes(k, n);
	return aligned(n[0]) + aligned(n[1]) + aligned(n[2]);
}

/* the module's conversion kernels, looked up once per module */
static int need_kernels(cuda_dev *c, rt_err *err)
{
	if (c->bf16_pack && c->bf16_unpack)
		return 0;
	if (!c->mod)
		return rt_errf(err, "cuda: a bf16 matrix product or convolution needs the module's "
		                    "samc_bf16_pack, and the device has no module loaded");
	if (c->drv.cuModuleGetFunction(&c->bf16_pack, c->mod, "samc_bf16_pack") != RT_CU_SUCCESS ||
	    c->drv.cuModuleGetFunction(&c->bf16_unpack, c->mod, "samc_bf16_unpack") !=
	        RT_CU_SUCCESS) {
		c->bf16_pack = c->bf16_unpack = NULL;
		return rt_errf(err, "cuda: the module has no samc_bf16_pack and samc_bf16_unpack, which "
		                    "the bf16 matrix products and convolutions of precision = \"bf16\" "
		                    "need: it was compiled by an older samc; compile the model again");
	}
	return 0;
}

/* the scratch grown to at least bytes */
static int reserve(cuda_dev *c, size_t bytes, rt_err *err)
{
	if (bytes <= c->bf16_bytes)
		return 0;
	if (c->bf16_buf) { /* calls still queued may read the old one */
		CU(c, c->drv.cuCtxSynchronize(), "cuCtxSynchronize", err);
		c->drv.cuMemFree(c->bf16_buf);
		c->bf16_buf = 0;
		c->bf16_bytes = 0;
	}
	rt_cu_result r = c->drv.cuMemAlloc(&c->bf16_buf, bytes);
	if (r != RT_CU_SUCCESS) {
		char what[128];
		c->bf16_buf = 0;
		snprintf(what, sizeof what, "cuMemAlloc of %zu bytes (bf16 operands)", bytes);
		return rt_cudev_fail(c, r, what, err);
	}
	c->bf16_bytes = bytes;
	return 0;
}

int rt_cudev_bf16_plan(cuda_dev *c, const rt_prog *p, rt_err *err)
{
	size_t most = 0;
	int any = 0;
	for (int i = 0; i < p->nkernels; i++)
		if (rt_cudev_bf16_is(&p->kernels[i])) {
			size_t b = scratch_bytes(&p->kernels[i]);
			any = 1;
			most = b > most ? b : most;
		}
	if (!any)
		return 0;
	return need_kernels(c, err) || reserve(c, most, err) ? -1 : 0;
}

void rt_cudev_bf16_close(cuda_dev *c)
{
	if (c->bf16_buf)
		c->drv.cuMemFree(c->bf16_buf);
	c->bf16_buf = 0;
	c->bf16_bytes = 0;
}

/* f over n elements with its parameters, on the legacy default stream */
static int convert(cuda_dev *c, rt_cu_function f, const char *name, void **params, int64_t n,
                   rt_err *err)
{
	if (n <= 0)
		return 0;
	int64_t grid = (n + BF16_BLOCK - 1) / BF16_BLOCK;
	if (grid > BF16_MAX_GRID)
		grid = BF16_MAX_GRID;
	rt_cu_result r = c->drv.cuLaunchKernel(f, (unsigned)grid, 1, 1, BF16_BLOCK, 1, 1, 0, NULL,
	                                       params, NULL);
	if (r != RT_CU_SUCCESS) {
		char what[96];
		snprintf(what, sizeof what, "launching %s over %lld elements", name, (long long)n);
		return rt_cudev_fail(c, r, what, err);
	}
	return 0;
}

/* k's bf16 copies in the scratch, its two operands converted into them */
static int pack_operands(cuda_dev *c, const rt_prog_kernel *k, void **args, int64_t n[3],
                         rt_cu_deviceptr s[3], rt_err *err)
{
	operand_sizes(k, n);
	if (need_kernels(c, err) || reserve(c, scratch_bytes(k), err))
		return -1;
	size_t off = 0;
	for (int j = 0; j < 3; j++) {
		s[j] = c->bf16_buf + off;
		off += aligned(n[j]);
	}
	/* both operands in one launch */
	void *a = args[0], *b = args[1], *a16 = (void *)(uintptr_t)s[0], *b16 = (void *)(uintptr_t)s[1];
	long long na = (long long)n[0], nb = (long long)n[1];
	void *params[6] = {&a, &a16, &na, &b, &b16, &nb};
	return convert(c, c->bf16_pack, "samc_bf16_pack", params, n[0] + n[1], err);
}

int rt_cudev_bf16_gemm(cuda_dev *c, const rt_prog_kernel *k, void **args, rt_err *err)
{
	int64_t n[3];
	rt_cu_deviceptr s[3];
	if (pack_operands(c, k, args, n, s, err))
		return -1;
	return rt_cuda_blas_gemm_bf16(&c->blas, k->ta, k->tb, k->m, k->n, k->k, k->batch,
	                              (const void *)(uintptr_t)s[0], (const void *)(uintptr_t)s[1],
	                              args[2], err);
}

int rt_cudev_bf16_conv(cuda_dev *c, const rt_cuda_dnn_plan *plan, const rt_prog_kernel *k,
                       void **args, rt_err *err)
{
	int64_t n[3];
	rt_cu_deviceptr s[3], a[4] = {0};
	if (pack_operands(c, k, args, n, s, err) ||
	    rt_cuda_dnn_run(&c->dnn, plan, s, c->ws, c->ws_bytes, NULL, err))
		return -1;
	/* the result's f32 argument: y after the bias in the forward's order */
	int out = k->conv_op == RT_CONV_FWD && k->conv_bias ? 3 : 2;
	for (int j = 0; j < k->nargs && j < 4; j++)
		a[j] = dptr(args[j]);
	void *y16 = (void *)(uintptr_t)s[2], *y = args[out];
	long long ny = (long long)n[2];
	void *params[3] = {&y16, &y, &ny};
	if (convert(c, c->bf16_unpack, "samc_bf16_unpack", params, n[2], err))
		return -1;
	return rt_cuda_dnn_run_bias(&c->dnn, plan, a, NULL, err);
}
