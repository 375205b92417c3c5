/*
 * rt_dev_cuda.c - the CUDA device (see rt_dev_cuda.h).
 */
#include "rt_dev_cuda_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char cuda_name[] = "cuda";

int rt_cudev_fail(cuda_dev *c, rt_cu_result r, const char *what, rt_err *err)
{
	char s[256];
	return rt_errf(err, "cuda: %s failed: error %d, %s", what, r,
	               rt_cuda_drv_errstr(&c->drv, r, s, sizeof s));
}

static int cuda_alloc(rt_device *d, size_t bytes, void **out, rt_err *err)
{
	cuda_dev *c = d->self;
	rt_cu_deviceptr p = 0;
	size_t n = (bytes + 255) / 256 * 256; /* 0 bytes still gets an address */
	if (n == 0)
		n = 256;
	rt_cu_result r = c->drv.cuMemAlloc(&p, n);
	if (r != RT_CU_SUCCESS) {
		char what[96];
		snprintf(what, sizeof what, "cuMemAlloc of %zu bytes", bytes);
		return rt_cudev_fail(c, r, what, err);
	}
	if ((r = c->drv.cuMemsetD8(p, 0, n)) != RT_CU_SUCCESS) {
		c->drv.cuMemFree(p);
		return rt_cudev_fail(c, r, "cuMemsetD8", err);
	}
	*out = (void *)(uintptr_t)p;
	return 0;
}

static void cuda_free(rt_device *d, void *buf)
{
	cuda_dev *c = d->self;
	if (buf)
		c->drv.cuMemFree(dptr(buf));
}

static int cuda_upload(rt_device *d, void *dst, const void *src, size_t bytes, rt_err *err)
{
	cuda_dev *c = d->self;
	if (bytes)
		CU(c, c->drv.cuMemcpyHtoD(dptr(dst), src, bytes), "cuMemcpyHtoD", err);
	return 0;
}

static int cuda_download(rt_device *d, void *dst, const void *src, size_t bytes, rt_err *err)
{
	cuda_dev *c = d->self;
	if (bytes)
		CU(c, c->drv.cuMemcpyDtoH(dst, dptr(src), bytes), "cuMemcpyDtoH", err);
	return 0;
}

static int cuda_copy(rt_device *d, void *dst, const void *src, size_t bytes, rt_err *err)
{
	cuda_dev *c = d->self;
	if (bytes && dst != src)
		CU(c, c->drv.cuMemcpyDtoD(dptr(dst), dptr(src), bytes), "cuMemcpyDtoD", err);
	return 0;
}

/* Pinned host memory: the copy engine reads it directly, so an upload
 * from it can run while the kernels do. */
static int cuda_host_alloc(rt_device *d, size_t bytes, void **out, rt_err *err)
{
	cuda_dev *c = d->self;
	CU(c, c->drv.cuMemHostAlloc(out, bytes ? bytes : 1, 0), "cuMemHostAlloc", err);
	return 0;
}

static void cuda_host_free(rt_device *d, void *p)
{
	cuda_dev *c = d->self;
	if (p)
		c->drv.cuMemFreeHost(p);
}

static int copy_stream(cuda_dev *c, rt_err *err)
{
	if (c->copy)
		return 0;
	CU(c, c->drv.cuEventCreate(&c->fence, RT_CU_EVENT_DISABLE_TIMING), "cuEventCreate", err);
	CU(c, c->drv.cuEventCreate(&c->uploaded, RT_CU_EVENT_DISABLE_TIMING), "cuEventCreate", err);
	CU(c, c->drv.cuStreamCreate(&c->copy, RT_CU_STREAM_NON_BLOCKING), "cuStreamCreate", err);
	return 0;
}

/* On the copy stream, after the fence: the kernels launched since run on */
static int cuda_upload_async(rt_device *d, void *dst, const void *src, size_t bytes, rt_err *err)
{
	cuda_dev *c = d->self;
	if (copy_stream(c, err))
		return -1;
	if (c->fenced)
		CU(c, c->drv.cuStreamWaitEvent(c->copy, c->fence, 0), "cuStreamWaitEvent", err);
	if (bytes)
		CU(c, c->drv.cuMemcpyHtoDAsync(dptr(dst), src, bytes, c->copy), "cuMemcpyHtoDAsync", err);
	CU(c, c->drv.cuEventRecord(c->uploaded, c->copy), "cuEventRecord", err);
	return 0;
}

static int cuda_upload_join(rt_device *d, rt_err *err)
{
	cuda_dev *c = d->self;
	if (c->copy)
		CU(c, c->drv.cuStreamWaitEvent(NULL, c->uploaded, 0), "cuStreamWaitEvent", err);
	return 0;
}

static int cuda_upload_fence(rt_device *d, rt_err *err)
{
	cuda_dev *c = d->self;
	if (copy_stream(c, err))
		return -1;
	CU(c, c->drv.cuEventRecord(c->fence, NULL), "cuEventRecord", err);
	c->fenced = 1;
	return 0;
}

static int cuda_supports(const rt_device *d, rt_kkind kind)
{
	(void)d;
	return kind >= RT_K_ELEM && kind <= RT_K_COMM;
}

int rt_cudev_launch(cuda_dev *c, rt_cu_function f, const rt_prog_kernel *k, void **args,
                    void *err_word, rt_cu_stream s, rt_err *err)
{
	if (k->cu_block < 1 || k->cu_block > 1024 || k->cu_grid < 1 || k->cu_grid > INT32_MAX)
		return rt_errf(err, "cuda: kernel %s has no CUDA launch (grid %lld, block %d): a table "
		               "compiled for another device", k->name ? k->name : "?",
		               (long long)k->cu_grid, k->cu_block);
	/* the parameters: each buffer's device address, then the error word's */
	void *params[k->nargs + 1];
	for (int j = 0; j < k->nargs; j++)
		params[j] = &args[j];
	params[k->nargs] = &err_word;
	rt_cu_result r = c->drv.cuLaunchKernel(f, (unsigned)k->cu_grid, 1, 1, (unsigned)k->cu_block,
	                                       1, 1, 0, s, params, NULL);
	if (r != RT_CU_SUCCESS) {
		char what[160];
		snprintf(what, sizeof what, "launching %s (%lld blocks of %d)", k->name,
		         (long long)k->cu_grid, k->cu_block);
		return rt_cudev_fail(c, r, what, err);
	}
	return 0;
}

static int find_fn(cuda_dev *c, const rt_prog_kernel *k, rt_cu_function *f, rt_err *err)
{
	if (!c->mod)
		return rt_errf(err, "cuda: kernel %s: the device has no module loaded",
		               k->name ? k->name : "?");
	rt_cu_result r = c->drv.cuModuleGetFunction(f, c->mod, k->name ? k->name : "");
	if (r != RT_CU_SUCCESS) {
		char what[160];
		snprintf(what, sizeof what, "finding kernel %s in the module", k->name ? k->name : "?");
		return rt_cudev_fail(c, r, what, err);
	}
	return 0;
}

static int cuda_launch(rt_device *d, const rt_prog_kernel *k, void **args, void *err_word,
                       rt_err *err)
{
	cuda_dev *c = d->self;
	rt_cu_function f;
	if (find_fn(c, k, &f, err))
		return -1;
	return rt_cudev_launch(c, f, k, args, err_word, NULL, err);
}

static int need_blas(cuda_dev *c, rt_err *err)
{
	if (c->blas.lib)
		return 0;
	return rt_cuda_blas_open(&c->blas, c->blas_path[0] ? c->blas_path : NULL, err);
}

static int cuda_gemm(rt_device *d, const rt_prog_kernel *k, void **args, rt_err *err)
{
	cuda_dev *c = d->self;
	if (need_blas(c, err))
		return -1;
	if (rt_cudev_bf16_is(k))
		return rt_cudev_bf16_gemm(c, k, args, err);
	return rt_cuda_blas_gemm(&c->blas, k->ta, k->tb, k->f64, k->m, k->n, k->k, k->batch, args[0],
	                         args[1], args[2], err);
}

static int need_dnn(cuda_dev *c, rt_err *err)
{
	if (c->dnn.lib)
		return 0;
	return rt_cuda_dnn_open(&c->dnn, c->dnn_path[0] ? c->dnn_path : NULL, err);
}

/* k's cuDNN plan, the workspace grown to its size: one buffer of the
 * largest plan's size serves every plan, their runs being ordered on one
 * stream */
static int conv_plan(cuda_dev *c, const rt_prog_kernel *k, const rt_cuda_dnn_plan **plan,
                     rt_err *err)
{
	size_t ws = 0;
	if (need_dnn(c, err))
		return -1;
	const rt_conv_op op = (rt_conv_op)k->conv_op;
	/* a bf16 convolution cuDNN refuses runs as the f32 one on the same
	 * bf16 values (exact products, f32 sums), unless SAMC_CUDA_BF16_STRICT */
	if (!rt_cudev_bf16_is(k) ||
	    rt_cuda_dnn_plan_get_bf16(&c->dnn, &k->conv, op, k->conv_bias, plan, &ws, err) != 0) {
		if (rt_cudev_bf16_is(k) && c->bf16_strict)
			return -1;
		if (rt_cuda_dnn_plan_get(&c->dnn, &k->conv, op, k->conv_bias, plan, &ws, err))
			return -1;
	}
	if (ws <= c->ws_bytes)
		return 0;
	if (c->ws) { /* runs still queued may use the old one */
		CU(c, c->drv.cuCtxSynchronize(), "cuCtxSynchronize", err);
		c->drv.cuMemFree(c->ws);
		c->ws = 0;
		c->ws_bytes = 0;
	}
	rt_cu_result r = c->drv.cuMemAlloc(&c->ws, ws);
	if (r != RT_CU_SUCCESS) {
		char what[128];
		c->ws = 0;
		snprintf(what, sizeof what, "cuMemAlloc of %zu bytes (a convolution's workspace)", ws);
		return rt_cudev_fail(c, r, what, err);
	}
	c->ws_bytes = ws;
	return 0;
}

static int run_conv(cuda_dev *c, const rt_cuda_dnn_plan *plan, const rt_prog_kernel *k,
                    void **args, rt_err *err)
{
	if (rt_cuda_dnn_plan_bf16(plan))
		return rt_cudev_bf16_conv(c, plan, k, args, err);
	rt_cu_deviceptr a[4] = {0};
	for (int j = 0; j < k->nargs && j < 4; j++)
		a[j] = dptr(args[j]);
	/* the legacy default stream, as the kernels' launches */
	return rt_cuda_dnn_run(&c->dnn, plan, a, c->ws, c->ws_bytes, NULL, err);
}

static int cuda_conv(rt_device *d, const rt_prog_kernel *k, void **args, rt_err *err)
{
	cuda_dev *c = d->self;
	const rt_cuda_dnn_plan *plan;
	if (conv_plan(c, k, &plan, err))
		return -1;
	return run_conv(c, plan, k, args, err);
}

static int cuda_sync(rt_device *d, rt_err *err)
{
	cuda_dev *c = d->self;
	CU(c, c->drv.cuCtxSynchronize(), "cuCtxSynchronize", err);
	return 0;
}

static void cuda_plan_free(rt_device *d, void *plan)
{
	cuda_plan *p = plan;
	if (p) {
		rt_cudev_graph_free(d->self, p);
		free(p->fn);
		free(p->conv);
		free(p);
	}
}

static int cuda_plan_make(rt_device *d, const rt_prog *p, void **out, rt_err *err)
{
	cuda_dev *c = d->self;
	cuda_plan *pl = calloc(1, sizeof *pl);
	if (!pl || !(pl->fn = calloc((size_t)p->nkernels + 1, sizeof *pl->fn)) ||
	    !(pl->conv = calloc((size_t)p->nkernels + 1, sizeof *pl->conv))) {
		cuda_plan_free(d, pl);
		return rt_errf(err, "cuda: out of memory");
	}
	int gemms = 0;
	for (int i = 0; i < p->nkernels; i++) {
		const rt_prog_kernel *k = &p->kernels[i];
		gemms += k->kind == RT_K_GEMM;
		if ((!rt_kkind_is_call(k->kind) && find_fn(c, k, &pl->fn[i], err)) ||
		    (k->kind == RT_K_CONV && conv_plan(c, k, &pl->conv[i], err))) {
			cuda_plan_free(d, pl);
			return -1;
		}
	}
	if ((gemms && need_blas(c, err)) || rt_cudev_bf16_plan(c, p, err) ||
	    rt_cudev_graph_plan(c, pl, p, err)) {
		cuda_plan_free(d, pl);
		return -1;
	}
	*out = pl;
	return 0;
}

static int cuda_run(rt_device *d, void *plan, const rt_dev_sched *s, rt_err *err)
{
	cuda_dev *c = d->self;
	const cuda_plan *pl = plan;
	const rt_prog *p = s->p;
	for (int i = 0; i < p->nkernels; i++) {
		const rt_prog_kernel *k = &p->kernels[i];
		int next, g = rt_cudev_graph_run(c, (cuda_plan *)pl, s, i, &next, err);
		if (g < 0)
			return -1;
		if (g > 0) {
			i = next - 1;
			if (s->done) /* enqueued: what the side queue's work may follow */
				s->done(s->done_ctx, next);
			continue;
		}
		int rc = k->kind == RT_K_GEMM   ? cuda_gemm(d, k, s->args[i], err)
		         : k->kind == RT_K_CONV ? run_conv(c, pl->conv[i], k, s->args[i], err)
		         : k->kind == RT_K_COMM ? rt_device_comm(d, k, s->args[i], s->comm, err)
		                                : rt_cudev_launch(c, pl->fn[i], k, s->args[i],
		                                                  s->errs + 4 * i, NULL, err);
		if (rc)
			return -1;
		if (s->done)
			s->done(s->done_ctx, i + 1);
	}
	return 0;
}

static void cuda_release(rt_device *d)
{
	cuda_dev *c = d->self;
	rt_cuda_blas_close(&c->blas);
	rt_cuda_dnn_close(&c->dnn); /* cudnnDestroy while the context lives */
	rt_cudev_graph_close(c);
	rt_cudev_bf16_close(c);
	rt_cudev_side_close(c);
	if (c->ws)
		c->drv.cuMemFree(c->ws);
	if (c->copy) {
		c->drv.cuStreamSynchronize(c->copy);
		c->drv.cuStreamDestroy(c->copy);
	}
	if (c->fence)
		c->drv.cuEventDestroy(c->fence);
	if (c->uploaded)
		c->drv.cuEventDestroy(c->uploaded);
	if (c->mod)
		c->drv.cuModuleUnload(c->mod);
	if (c->ctx)
		c->drv.cuDevicePrimaryCtxRelease(c->dev);
	rt_cuda_drv_close(&c->drv);
	free(c);
}

int rt_dev_is_cuda(const rt_device *d)
{
	return d && d->name == cuda_name;
}

rt_device *rt_dev_cuda_new(const rt_dev_cuda_opts *o, rt_err *err)
{
	rt_dev_cuda_opts def = {0};
	if (!o)
		o = &def;
	cuda_dev *c = calloc(1, sizeof *c);
	if (!c) {
		rt_errf(err, "cuda: out of memory");
		return NULL;
	}
	if (rt_cuda_drv_open(&c->drv, o->driver, err)) {
		free(c);
		return NULL;
	}
	rt_cu_result r;
	if (o->ordinal < 0 || o->ordinal >= c->drv.ndevices) {
		rt_errf(err, "cuda: no GPU %d: the driver sees %d", o->ordinal, c->drv.ndevices);
		goto fail;
	}
	if ((r = c->drv.cuDeviceGet(&c->dev, o->ordinal)) != RT_CU_SUCCESS) {
		rt_cudev_fail(c, r, "cuDeviceGet", err);
		goto fail;
	}
	if ((r = c->drv.cuDevicePrimaryCtxRetain(&c->ctx, c->dev)) != RT_CU_SUCCESS) {
		c->ctx = NULL;
		rt_cudev_fail(c, r, "cuDevicePrimaryCtxRetain", err);
		goto fail;
	}
	if ((r = c->drv.cuCtxSetCurrent(c->ctx)) != RT_CU_SUCCESS) {
		rt_cudev_fail(c, r, "cuCtxSetCurrent", err);
		goto fail;
	}
	c->ordinal = o->ordinal;
	rt_cudev_graph_open(c);
	const char *strict = getenv("SAMC_CUDA_BF16_STRICT");
	c->bf16_strict = strict && *strict && strcmp(strict, "0") != 0;
	if (o->blas)
		snprintf(c->blas_path, sizeof c->blas_path, "%s", o->blas);
	if (o->dnn)
		snprintf(c->dnn_path, sizeof c->dnn_path, "%s", o->dnn);
	/* one GPU's primary context is one address space for every device on it */
	snprintf(c->memory, sizeof c->memory, "cuda:%d", o->ordinal);
	c->d = (rt_device){.name = cuda_name, .memory = c->memory, .self = c, .named_kernels = 1,
	                   .alloc = cuda_alloc, .free = cuda_free, .upload = cuda_upload,
	                   .download = cuda_download, .copy = cuda_copy, .host_view = NULL,
	                   .host_alloc = cuda_host_alloc, .host_free = cuda_host_free,
	                   .upload_async = cuda_upload_async, .upload_join = cuda_upload_join,
	                   .upload_fence = cuda_upload_fence,
	                   .supports = cuda_supports, .launch = cuda_launch, .gemm = cuda_gemm,
	                   .conv = cuda_conv, .sync = cuda_sync, .plan = cuda_plan_make, .run = cuda_run,
	                   .plan_free = cuda_plan_free, .release = cuda_release};
	rt_cudev_side_init(c);
	return &c->d;
fail:
	cuda_release(&(rt_device){.self = c});
	return NULL;
}

int rt_dev_cuda_info(const rt_device *d, int *major, int *minor, char *desc, size_t len,
                     rt_err *err)
{
	if (!rt_dev_is_cuda(d))
		return rt_errf(err, "cuda: not a CUDA device");
	cuda_dev *c = d->self;
	CU(c, c->drv.cuDeviceGetAttribute(major, RT_CU_ATTR_CC_MAJOR, c->dev),
	   "cuDeviceGetAttribute", err);
	CU(c, c->drv.cuDeviceGetAttribute(minor, RT_CU_ATTR_CC_MINOR, c->dev),
	   "cuDeviceGetAttribute", err);
	if (desc)
		return rt_cuda_drv_describe(&c->drv, c->ordinal, desc, len, err);
	return 0;
}

int rt_dev_cuda_driver_version(const rt_device *d)
{
	return rt_dev_is_cuda(d) ? ((const cuda_dev *)d->self)->drv.driver_version : 0;
}

int rt_dev_cuda_load(rt_device *d, const void *image, rt_err *err)
{
	if (!rt_dev_is_cuda(d))
		return rt_errf(err, "cuda: not a CUDA device");
	cuda_dev *c = d->self;
	rt_cu_module m;
	CU(c, c->drv.cuModuleLoadData(&m, image), "cuModuleLoadData", err);
	if (c->mod)
		c->drv.cuModuleUnload(c->mod);
	c->mod = m;
	c->bf16_pack = c->bf16_unpack = NULL; /* the new module's, when asked */
	return 0;
}

int rt_dev_cuda_ordinal(const rt_device *d)
{
	return rt_dev_is_cuda(d) ? ((const cuda_dev *)d->self)->ordinal : -1;
}

int rt_dev_cuda_query(rt_device *d, rt_err *err)
{
	if (!rt_dev_is_cuda(d))
		return rt_errf(err, "cuda: not a CUDA device");
	cuda_dev *c = d->self;
	rt_cu_result r = c->drv.cuStreamQuery(NULL);
	if (r == RT_CU_ERROR_NOT_READY)
		return 0;
	CU(c, r, "cuStreamQuery", err);
	return 1;
}
