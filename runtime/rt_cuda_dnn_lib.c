/*
 * rt_cuda_dnn_lib.c - cuDNN opened with dlopen: the library, its entry
 * points, the handle and the messages of its failures (see rt_cuda_dnn.h).
 */
#include "rt_cuda_dnn.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rt_cuda_dnn_status_error(const rt_cuda_dnn *d, const char *call, rt_cudnn_status s,
                             rt_err *err)
{
	const char *str = d && d->cudnnGetErrorString ? d->cudnnGetErrorString(s) : NULL;
	/* a sub-library cuDNN loads on first use is missing */
	const char *hint = "";
	if (s == RT_CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED)
		hint = ": cuDNN 9 is installed incompletely (libcudnn_graph, _ops and _cnn.so.9 must "
		       "be next to libcudnn.so.9)";
	else if (strcmp(call, "cudnnCreate") == 0)
		hint = ": cuDNN needs a GPU, with the CUDA context of the runs current";
	return rt_errf(err, "cuda: cuDNN: %s failed: %s (error %d)%s", call,
	               str ? str : "unknown status", s, hint);
}

int rt_cuda_dnn_load(rt_cuda_dnn *d, const char *path, rt_err *err)
{
	memset(d, 0, sizeof *d);
	if (!path)
		path = RT_CUDA_DNN_LIB;
	snprintf(d->path, sizeof d->path, "%s", path);
	d->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!d->lib) {
		const char *why = dlerror();
		return rt_errf(err,
		               "cuda: cannot load %s (cuDNN 9, for convolutions on the GPU): %s; install "
		               "cuDNN 9 for CUDA 13 (NVIDIA's package libcudnn9-cuda-13, or the one in the "
		               "CUDA toolkit's lib64) on the loader's path, or name the library in "
		               "SAMC_CUDA_DNN",
		               path, why ? why : "not found");
	}
#define RT_CUDA_DNN_RESOLVE(name, ret, args)                                                       \
	if (!(*(void **)&d->name = dlsym(d->lib, #name))) {                                            \
		rt_errf(err, "cuda: %s has no %s: it is not cuDNN 9", path, #name);                        \
		rt_cuda_dnn_close(d);                                                                      \
		return -1;                                                                                 \
	}
	RT_CUDA_DNN_FUNCS(RT_CUDA_DNN_RESOLVE)
#undef RT_CUDA_DNN_RESOLVE
	d->version = d->cudnnGetVersion();
	if (d->version < RT_CUDA_DNN_MIN_VERSION) {
		rt_errf(err, "cuda: %s is cuDNN %zu.%zu.%zu; samc needs cuDNN 9", path,
		        d->version / 10000, d->version % 10000 / 100, d->version % 100);
		rt_cuda_dnn_close(d);
		return -1;
	}
	return 0;
}

int rt_cuda_dnn_open(rt_cuda_dnn *d, const char *path, rt_err *err)
{
	if (rt_cuda_dnn_load(d, path, err) != 0)
		return -1;
	rt_cudnn_status s = d->cudnnCreate(&d->handle);
	if (s != RT_CUDNN_STATUS_SUCCESS) {
		d->handle = NULL;
		rt_cuda_dnn_status_error(d, "cudnnCreate", s, err);
		rt_cuda_dnn_close(d);
		return -1;
	}
	return 0;
}
