/*
 * rt_cuda_drv.c - the CUDA driver opened with dlopen (see rt_cuda_drv.h).
 */
#include "rt_cuda_drv.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* samc's names for the codes it explains; the stub library cannot name
 * its own error, and a missing driver has no cuGetErrorName at all */
static const char *known_name(rt_cu_result code)
{
	switch (code) {
	case RT_CU_ERROR_STUB_LIBRARY: return "CUDA_ERROR_STUB_LIBRARY";
	case RT_CU_ERROR_INSUFFICIENT_DRIVER: return "CUDA_ERROR_INSUFFICIENT_DRIVER";
	case RT_CU_ERROR_NO_DEVICE: return "CUDA_ERROR_NO_DEVICE";
	default: return NULL;
	}
}

const char *rt_cuda_drv_errstr(const rt_cuda_drv *d, rt_cu_result code, char *buf, size_t len)
{
	const char *name = NULL, *str = NULL;
	if (d && d->cuGetErrorName && d->cuGetErrorName(code, &name) != RT_CU_SUCCESS)
		name = NULL;
	if (d && d->cuGetErrorString && d->cuGetErrorString(code, &str) != RT_CU_SUCCESS)
		str = NULL;
	if (!name)
		name = known_name(code);
	if (name && str)
		snprintf(buf, len, "%s: %s", name, str);
	else
		snprintf(buf, len, "%s", name ? name : "unknown CUDA error");
	return buf;
}

int rt_cuda_drv_check_version(int version, rt_err *err)
{
	if (version >= RT_CUDA_DRV_MIN_VERSION)
		return 0;
	return rt_errf(err,
	               "cuda: the NVIDIA driver supports CUDA %d.%d (cuDriverGetVersion %d), older than "
	               "the PTX samc writes needs (CUDA %d.%d, %d): update the NVIDIA driver",
	               version / 1000, version % 1000 / 10, version, RT_CUDA_DRV_MIN_VERSION / 1000,
	               RT_CUDA_DRV_MIN_VERSION % 1000 / 10, RT_CUDA_DRV_MIN_VERSION);
}

int rt_cuda_drv_init_error(const rt_cuda_drv *d, const char *path, rt_cu_result code, rt_err *err)
{
	char s[256];
	rt_cuda_drv_errstr(d, code, s, sizeof s);
	switch (code) {
	case RT_CU_ERROR_STUB_LIBRARY:
		return rt_errf(err,
		               "cuda: no NVIDIA driver: %s is the CUDA toolkit's link stub, not a driver "
		               "(cuInit: error %d, %s)",
		               path, code, s);
	case RT_CU_ERROR_NO_DEVICE:
		return rt_errf(err, "cuda: no GPU: the NVIDIA driver (%s) finds no CUDA device (cuInit: "
		                    "error %d, %s)",
		               path, code, s);
	case RT_CU_ERROR_INSUFFICIENT_DRIVER:
		return rt_errf(err, "cuda: the NVIDIA driver (%s) is older than its CUDA runtime needs "
		                    "(cuInit: error %d, %s): update the NVIDIA driver",
		               path, code, s);
	default:
		return rt_errf(err, "cuda: the NVIDIA driver (%s) cannot start (cuInit: error %d, %s)",
		               path, code, s);
	}
}

void rt_cuda_drv_close(rt_cuda_drv *d)
{
	if (d->lib)
		dlclose(d->lib);
	memset(d, 0, sizeof *d);
}

int rt_cuda_drv_open(rt_cuda_drv *d, const char *path, rt_err *err)
{
	memset(d, 0, sizeof *d);
	if (!path)
		path = RT_CUDA_DRV_LIB;
	snprintf(d->path, sizeof d->path, "%s", path);
	d->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!d->lib) {
		const char *why = dlerror();
		return rt_errf(err, "cuda: %s not found: no NVIDIA driver on this machine (%s)", path,
		               why ? why : "dlopen failed");
	}
#define RT_CUDA_DRV_RESOLVE(name, sym, ret, args)                                                  \
	if (!(*(void **)&d->name = dlsym(d->lib, sym))) {                                              \
		rt_errf(err, "cuda: %s has no %s: it is not a CUDA driver of version 13 or newer", path,   \
		        sym);                                                                              \
		rt_cuda_drv_close(d);                                                                      \
		return -1;                                                                                 \
	}
	RT_CUDA_DRV_FUNCS(RT_CUDA_DRV_RESOLVE)
#undef RT_CUDA_DRV_RESOLVE
	rt_cu_result r = d->cuInit(0);
	if (r != RT_CU_SUCCESS) {
		rt_cuda_drv_init_error(d, path, r, err);
		rt_cuda_drv_close(d);
		return -1;
	}
	char s[256];
	if ((r = d->cuDriverGetVersion(&d->driver_version)) != RT_CU_SUCCESS) {
		rt_errf(err, "cuda: cuDriverGetVersion failed: error %d, %s", r,
		        rt_cuda_drv_errstr(d, r, s, sizeof s));
		rt_cuda_drv_close(d);
		return -1;
	}
	if (rt_cuda_drv_check_version(d->driver_version, err) != 0) {
		rt_cuda_drv_close(d);
		return -1;
	}
	if ((r = d->cuDeviceGetCount(&d->ndevices)) != RT_CU_SUCCESS || d->ndevices < 1) {
		rt_cuda_drv_init_error(d, path, r != RT_CU_SUCCESS ? r : RT_CU_ERROR_NO_DEVICE, err);
		rt_cuda_drv_close(d);
		return -1;
	}
	return 0;
}

int rt_cuda_drv_describe(const rt_cuda_drv *d, int i, char *buf, size_t len, rt_err *err)
{
	rt_cu_device dev;
	char name[256], s[256];
	int major = 0, minor = 0;
	rt_cu_result r;
	if ((r = d->cuDeviceGet(&dev, i)) != RT_CU_SUCCESS ||
	    (r = d->cuDeviceGetName(name, (int)sizeof name, dev)) != RT_CU_SUCCESS ||
	    (r = d->cuDeviceGetAttribute(&major, RT_CU_ATTR_CC_MAJOR, dev)) != RT_CU_SUCCESS ||
	    (r = d->cuDeviceGetAttribute(&minor, RT_CU_ATTR_CC_MINOR, dev)) != RT_CU_SUCCESS)
		return rt_errf(err, "cuda: device %d: error %d, %s", i, r,
		               rt_cuda_drv_errstr(d, r, s, sizeof s));
	snprintf(buf, len, "%s (sm_%d%d, driver %d.%d)", name, major, minor, d->driver_version / 1000,
	         d->driver_version % 1000 / 10);
	return 0;
}
