/*
 * test_cuda_gpu.c - the CUDA driver on a real GPU: the devices, their
 * names, one kernel compiled by NVRTC to PTX, loaded with cuModuleLoadData
 * and launched, its result copied back, and copied on a second stream
 * ordered by events between two launches (the side queue's pattern). Without a usable GPU (or without
 * NVRTC in this build) it says why and exits 77: skipped, never passed.
 * It needs only the driver, NVRTC and rt_cuda_drv.c, so it also builds
 * alone: cc -DSAMC_HAVE_NVRTC -Iruntime -I$CUDA/include test_cuda_gpu.c
 * runtime/rt_cuda_drv.c runtime/rt_err.c -L$CUDA/lib64 -lnvrtc -ldl
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_cuda_drv.h"

#ifdef SAMC_HAVE_NVRTC
#include <nvrtc.h>
#endif

#define SKIP 77

static const char *const src =
	"extern \"C\" __global__ void samc_axpy(float *y, const float *x, float a, int n)\n"
	"{\n"
	"\tint i = blockIdx.x * blockDim.x + threadIdx.x;\n"
	"\tif (i < n)\n"
	"\t\ty[i] += a * x[i];\n"
	"}\n";

#ifdef SAMC_HAVE_NVRTC
static char *compile(void)
{
	nvrtcProgram p;
	if (nvrtcCreateProgram(&p, src, "axpy.cu", 0, NULL, NULL) != NVRTC_SUCCESS)
		return NULL;
	const char *opts[] = {"--gpu-architecture=compute_80"};
	char *ptx = NULL;
	size_t n = 0;
	if (nvrtcCompileProgram(p, 1, opts) == NVRTC_SUCCESS && nvrtcGetPTXSize(p, &n) == NVRTC_SUCCESS &&
	    (ptx = malloc(n)) && nvrtcGetPTX(p, ptx) != NVRTC_SUCCESS) {
		free(ptx);
		ptx = NULL;
	}
	nvrtcDestroyProgram(&p);
	return ptx;
}
#endif

#define CHECK(call)                                                                                \
	do {                                                                                           \
		rt_cu_result r_ = (call);                                                                  \
		if (r_ != RT_CU_SUCCESS) {                                                                 \
			char s_[256];                                                                          \
			fprintf(stderr, "FAIL: %s: error %d, %s\n", #call, r_,                                 \
			        rt_cuda_drv_errstr(&d, r_, s_, sizeof s_));                                    \
			return 1;                                                                              \
		}                                                                                          \
	} while (0)

int main(void)
{
	rt_cuda_drv d;
	rt_err e = {{0}};
	if (rt_cuda_drv_open(&d, getenv("SAMC_CUDA_DRIVER"), &e) != 0) {
		printf("skipped: %s\n", e.msg);
		return SKIP;
	}
#ifndef SAMC_HAVE_NVRTC
	printf("skipped: a GPU is here, but this build has no NVRTC to compile the kernel\n");
	rt_cuda_drv_close(&d);
	return SKIP;
#else
	printf("driver %d, %d device(s)\n", d.driver_version, d.ndevices);
	for (int i = 0; i < d.ndevices; i++) {
		char what[320];
		if (rt_cuda_drv_describe(&d, i, what, sizeof what, &e) != 0) {
			fprintf(stderr, "FAIL: %s\n", e.msg);
			return 1;
		}
		if (!what[0] || what[0] == ' ') {
			fprintf(stderr, "FAIL: device %d has no name\n", i);
			return 1;
		}
		printf("device %d: %s\n", i, what);
	}
	char *ptx = compile();
	if (!ptx) {
		fprintf(stderr, "FAIL: NVRTC cannot compile the kernel\n");
		return 1;
	}
	rt_cu_device dev;
	rt_cu_context ctx;
	rt_cu_module mod;
	rt_cu_function f;
	CHECK(d.cuDeviceGet(&dev, 0));
	CHECK(d.cuDevicePrimaryCtxRetain(&ctx, dev));
	CHECK(d.cuCtxSetCurrent(ctx));
	CHECK(d.cuModuleLoadData(&mod, ptx));
	free(ptx);
	CHECK(d.cuModuleGetFunction(&f, mod, "samc_axpy"));
	enum { N = 1000 };
	static float x[N], y[N];
	for (int i = 0; i < N; i++) {
		x[i] = (float)i;
		y[i] = 1.0f;
	}
	rt_cu_deviceptr dx, dy, dz;
	CHECK(d.cuMemAlloc(&dx, sizeof x));
	CHECK(d.cuMemAlloc(&dy, sizeof y));
	CHECK(d.cuMemAlloc(&dz, sizeof y));
	CHECK(d.cuMemcpyHtoD(dx, x, sizeof x));
	CHECK(d.cuMemcpyHtoD(dz, y, sizeof y));
	CHECK(d.cuMemcpyDtoD(dy, dz, sizeof y));
	float a = 2.0f;
	int n = N;
	void *params[] = {&dy, &dx, &a, &n};
	CHECK(d.cuLaunchKernel(f, (N + 255) / 256, 1, 1, 256, 1, 1, 0, NULL, params, NULL));
	CHECK(d.cuCtxSynchronize());
	CHECK(d.cuMemcpyDtoH(y, dy, sizeof y));
	/* 2 i + 1 is exact in float32 for i < 2^23, with or without an FMA */
	for (int i = 0; i < N; i++)
		if (y[i] != 2.0f * (float)i + 1.0f) {
			fprintf(stderr, "FAIL: y[%d] = %g, expected %g\n", i, y[i], 2.0 * i + 1.0);
			return 1;
		}
	/* the side queue's pattern (rt_dev_cuda_side.c): a non-blocking stream
	 * that follows the default stream's kernel through an event, copies
	 * its result, and that the next kernel follows through another */
	rt_cu_stream side;
	rt_cu_event fork, join;
	CHECK(d.cuStreamCreate(&side, RT_CU_STREAM_NON_BLOCKING));
	CHECK(d.cuEventCreate(&fork, RT_CU_EVENT_DISABLE_TIMING));
	CHECK(d.cuEventCreate(&join, RT_CU_EVENT_DISABLE_TIMING));
	CHECK(d.cuMemcpyHtoD(dy, x, sizeof x)); /* y := x, then y += 2 x on the default stream */
	CHECK(d.cuLaunchKernel(f, (N + 255) / 256, 1, 1, 256, 1, 1, 0, NULL, params, NULL));
	CHECK(d.cuEventRecord(fork, NULL));
	CHECK(d.cuStreamWaitEvent(side, fork, 0));
	CHECK(d.cuMemcpyDtoDAsync(dz, dy, sizeof y, side)); /* z := 3 x, on the side */
	CHECK(d.cuEventRecord(join, side));
	CHECK(d.cuStreamWaitEvent(NULL, join, 0));
	void *zparams[] = {&dz, &dx, &a, &n};
	CHECK(d.cuLaunchKernel(f, (N + 255) / 256, 1, 1, 256, 1, 1, 0, NULL, zparams, NULL));
	CHECK(d.cuMemcpyDtoH(y, dz, sizeof y)); /* z = 5 x */
	for (int i = 0; i < N; i++)
		if (y[i] != 5.0f * (float)i) {
			fprintf(stderr, "FAIL: the side stream's copy: z[%d] = %g, expected %g\n", i, y[i],
			        5.0 * i);
			return 1;
		}
	CHECK(d.cuStreamSynchronize(side));
	CHECK(d.cuStreamDestroy(side));
	CHECK(d.cuEventDestroy(fork));
	CHECK(d.cuEventDestroy(join));
	CHECK(d.cuMemFree(dx));
	CHECK(d.cuMemFree(dy));
	CHECK(d.cuMemFree(dz));
	CHECK(d.cuModuleUnload(mod));
	CHECK(d.cuDevicePrimaryCtxRelease(dev));
	rt_cuda_drv_close(&d);
	printf("ok: one kernel launched on device 0, %d results exact, and ordered with a side "
	       "stream through events\n", N);
	return 0;
#endif
}
