/*
 * rt_device.c - what every device shares (see rt_device.h): the in-order
 * schedule, and the host device.
 */
#include "rt_device.h"

#include <stdlib.h>
#include <string.h>

static const char *memory_of(const rt_device *d)
{
	return d ? d->memory : "host"; /* no device: host memory */
}

int rt_device_shares(const rt_device *a, const rt_device *b)
{
	const char *ma = memory_of(a), *mb = memory_of(b);
	return a == b || (ma && mb && strcmp(ma, mb) == 0);
}

int rt_device_run_in_order(rt_device *d, const rt_dev_sched *s, rt_err *err)
{
	const rt_prog *p = s->p;
	for (int i = 0; i < p->nkernels; i++) {
		const rt_prog_kernel *k = &p->kernels[i];
		int rc = k->kind == RT_K_GEMM ? d->gemm(d, k, s->args[i], err)
		       : k->kind == RT_K_CONV ? d->conv(d, k, s->args[i], err)
		       : k->kind == RT_K_COMM ? rt_device_comm(d, k, s->args[i], s->comm, err)
		                              : d->launch(d, k, s->args[i], s->errs + 4 * i, err);
		if (rc)
			return -1;
	}
	return 0;
}

/* --- the host device: memory only --- */

static int host_alloc(rt_device *d, size_t bytes, void **out, rt_err *err)
{
	/* 64-byte aligned for vector loads of the kernels that share it */
	size_t n = (bytes + 64) / 64 * 64;
	if (!(*out = aligned_alloc(64, n)))
		return rt_errf(err, "%s: out of memory (%zu bytes)", d->name, bytes);
	memset(*out, 0, n);
	return 0;
}

static void host_free(rt_device *d, void *buf)
{
	(void)d;
	free(buf);
}

static int host_move(rt_device *d, void *dst, const void *src, size_t bytes, rt_err *err)
{
	(void)d;
	(void)err;
	if (bytes && dst != src)
		memcpy(dst, src, bytes);
	return 0;
}

static void *host_view(rt_device *d, void *buf)
{
	(void)d;
	return buf;
}

static int host_supports(const rt_device *d, rt_kkind kind)
{
	(void)d;
	(void)kind;
	return 0;
}

static int host_launch(rt_device *d, const rt_prog_kernel *k, void **args, void *err_word,
                       rt_err *err)
{
	(void)args;
	(void)err_word;
	return rt_errf(err, "%s: cannot run kernel %s", d->name, k->name ? k->name : "?");
}

static int host_gemm(rt_device *d, const rt_prog_kernel *k, void **args, rt_err *err)
{
	return host_launch(d, k, args, NULL, err);
}

static int host_sync(rt_device *d, rt_err *err)
{
	(void)d;
	(void)err;
	return 0;
}

static void host_release(rt_device *d)
{
	(void)d;
}

rt_device *rt_dev_host(void)
{
	/* no state: one constant table serves every caller */
	static rt_device host = {
	    .name = "host", .memory = "host", .alloc = host_alloc, .free = host_free,
	    .upload = host_move, .download = host_move, .copy = host_move, .host_view = host_view,
	    .supports = host_supports, .launch = host_launch, .gemm = host_gemm, .sync = host_sync,
	    .release = host_release};
	return &host;
}
