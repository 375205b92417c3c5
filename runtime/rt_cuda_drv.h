/*
 * rt_cuda_drv.h - the CUDA driver API opened at run time with dlopen, so
 * samc links neither libcuda nor libcudart and starts on any machine. The
 * entry points live in a struct the caller owns; rt_cuda_drv_open says in
 * one message why there is no usable GPU: no driver library, the toolkit's
 * link stub (error 34), no device (100), or a driver older than the PTX
 * that NVRTC of CUDA 13 writes (PTX 9.0 needs a CUDA 13.0 driver).
 */
#ifndef SAMC_RT_CUDA_DRV_H
#define SAMC_RT_CUDA_DRV_H

#include <stddef.h>

#include "rt_err.h"

/* The driver's types, as its ABI has them (cuda.h is not needed). */
typedef int rt_cu_result;
typedef int rt_cu_device;
typedef struct rt_cu_ctx_st *rt_cu_context;
typedef struct rt_cu_mod_st *rt_cu_module;
typedef struct rt_cu_func_st *rt_cu_function;
typedef struct rt_cu_stream_st *rt_cu_stream;
typedef struct rt_cu_event_st *rt_cu_event;
typedef unsigned long long rt_cu_deviceptr;

/* The driver's codes samc names. */
#define RT_CU_SUCCESS 0
#define RT_CU_ERROR_INSUFFICIENT_DRIVER 35
#define RT_CU_ERROR_STUB_LIBRARY 34
#define RT_CU_ERROR_NO_DEVICE 100
#define RT_CU_ERROR_NOT_READY 600 /* cuStreamQuery: work still running */

/* The library opened when no path is given. */
#define RT_CUDA_DRV_LIB "libcuda.so.1"

/* cuDriverGetVersion's value the PTX of CUDA 13 (PTX ISA 9.0) needs. */
#define RT_CUDA_DRV_MIN_VERSION 13000

/* CU_STREAM_NON_BLOCKING (no implicit order with the legacy default
 * stream), CU_EVENT_DISABLE_TIMING */
#define RT_CU_STREAM_NON_BLOCKING 1
#define RT_CU_EVENT_DISABLE_TIMING 2

/* CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR / _MINOR */
#define RT_CU_ATTR_CC_MAJOR 75
#define RT_CU_ATTR_CC_MINOR 76

/* The entry points, under their ABI symbols (the _v2 ones take size_t
 * sizes and 64-bit device pointers). */
#define RT_CUDA_DRV_FUNCS(X)                                                                       \
	X(cuInit, "cuInit", rt_cu_result, (unsigned flags))                                            \
	X(cuDriverGetVersion, "cuDriverGetVersion", rt_cu_result, (int *version))                      \
	X(cuGetErrorName, "cuGetErrorName", rt_cu_result, (rt_cu_result e, const char **s))            \
	X(cuGetErrorString, "cuGetErrorString", rt_cu_result, (rt_cu_result e, const char **s))        \
	X(cuDeviceGetCount, "cuDeviceGetCount", rt_cu_result, (int *n))                                \
	X(cuDeviceGet, "cuDeviceGet", rt_cu_result, (rt_cu_device * d, int ordinal))                   \
	X(cuDeviceGetName, "cuDeviceGetName", rt_cu_result, (char *name, int len, rt_cu_device d))     \
	X(cuDeviceGetAttribute, "cuDeviceGetAttribute", rt_cu_result,                                  \
	  (int *v, int attr, rt_cu_device d))                                                          \
	X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", rt_cu_result,                          \
	  (rt_cu_context * c, rt_cu_device d))                                                         \
	X(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", rt_cu_result, (rt_cu_device d))   \
	X(cuCtxCreate, "cuCtxCreate_v2", rt_cu_result,                                                 \
	  (rt_cu_context * c, unsigned flags, rt_cu_device d))                                         \
	X(cuCtxDestroy, "cuCtxDestroy_v2", rt_cu_result, (rt_cu_context c))                            \
	X(cuCtxSetCurrent, "cuCtxSetCurrent", rt_cu_result, (rt_cu_context c))                         \
	X(cuCtxSynchronize, "cuCtxSynchronize", rt_cu_result, (void))                                  \
	X(cuMemAlloc, "cuMemAlloc_v2", rt_cu_result, (rt_cu_deviceptr * p, size_t n))                  \
	X(cuMemFree, "cuMemFree_v2", rt_cu_result, (rt_cu_deviceptr p))                                \
	X(cuMemcpyHtoD, "cuMemcpyHtoD_v2", rt_cu_result,                                               \
	  (rt_cu_deviceptr dst, const void *src, size_t n))                                            \
	X(cuMemcpyDtoH, "cuMemcpyDtoH_v2", rt_cu_result,                                               \
	  (void *dst, rt_cu_deviceptr src, size_t n))                                                  \
	X(cuMemcpyDtoD, "cuMemcpyDtoD_v2", rt_cu_result,                                               \
	  (rt_cu_deviceptr dst, rt_cu_deviceptr src, size_t n))                                        \
	X(cuMemsetD8, "cuMemsetD8_v2", rt_cu_result,                                                   \
	  (rt_cu_deviceptr dst, unsigned char v, size_t n))                                            \
	X(cuModuleLoadData, "cuModuleLoadData", rt_cu_result, (rt_cu_module * m, const void *image))   \
	X(cuModuleUnload, "cuModuleUnload", rt_cu_result, (rt_cu_module m))                            \
	X(cuModuleGetFunction, "cuModuleGetFunction", rt_cu_result,                                    \
	  (rt_cu_function * f, rt_cu_module m, const char *name))                                      \
	X(cuLaunchKernel, "cuLaunchKernel", rt_cu_result,                                              \
	  (rt_cu_function f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,          \
	   unsigned bz, unsigned shared, rt_cu_stream s, void **params, void **extra))                 \
	X(cuMemHostAlloc, "cuMemHostAlloc", rt_cu_result, (void **p, size_t n, unsigned flags))        \
	X(cuMemFreeHost, "cuMemFreeHost", rt_cu_result, (void *p))                                     \
	X(cuStreamCreate, "cuStreamCreate", rt_cu_result, (rt_cu_stream * s, unsigned flags))          \
	X(cuStreamDestroy, "cuStreamDestroy_v2", rt_cu_result, (rt_cu_stream s))                       \
	X(cuEventCreate, "cuEventCreate", rt_cu_result, (rt_cu_event * e, unsigned flags))             \
	X(cuEventDestroy, "cuEventDestroy_v2", rt_cu_result, (rt_cu_event e))                          \
	X(cuEventRecord, "cuEventRecord", rt_cu_result, (rt_cu_event e, rt_cu_stream s))               \
	X(cuStreamWaitEvent, "cuStreamWaitEvent", rt_cu_result,                                        \
	  (rt_cu_stream s, rt_cu_event e, unsigned flags))                                             \
	X(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", rt_cu_result,                                     \
	  (rt_cu_deviceptr dst, const void *src, size_t n, rt_cu_stream s))                            \
	X(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", rt_cu_result,                                     \
	  (rt_cu_deviceptr dst, rt_cu_deviceptr src, size_t n, rt_cu_stream s))                        \
	X(cuStreamSynchronize, "cuStreamSynchronize", rt_cu_result, (rt_cu_stream s))                \
	X(cuStreamQuery, "cuStreamQuery", rt_cu_result, (rt_cu_stream s))

#define RT_CUDA_DRV_FIELD(name, sym, ret, args) ret(*name) args;

typedef struct {
	void *lib;          /* dlopen handle */
	char path[256];     /* what was opened */
	int driver_version; /* cuDriverGetVersion: 13000 is CUDA 13.0 */
	int ndevices;       /* cuDeviceGetCount, at least 1 after a successful open */
	RT_CUDA_DRV_FUNCS(RT_CUDA_DRV_FIELD)
} rt_cuda_drv;

/* Opens the driver library at path (NULL: libcuda.so.1 on the loader's
 * path), resolves every entry point, calls cuInit and checks the driver's
 * version and that it sees a device. 0, or -1 with a message naming the
 * cause (and the driver's code); d is then closed. */
int rt_cuda_drv_open(rt_cuda_drv *d, const char *path, rt_err *err);

/* Closes the library; d may be zeroed or closed already. */
void rt_cuda_drv_close(rt_cuda_drv *d);

/* "CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected" for a code:
 * the driver's own words when it has them, samc's for the codes it names. */
const char *rt_cuda_drv_errstr(const rt_cuda_drv *d, rt_cu_result code, char *buf, size_t len);

/* The message for cuInit's failure with code, for the library at path
 * (used by rt_cuda_drv_open; separate so every case can be tested). */
int rt_cuda_drv_init_error(const rt_cuda_drv *d, const char *path, rt_cu_result code, rt_err *err);

/* -1 with a message if the driver's version is older than the PTX needs. */
int rt_cuda_drv_check_version(int version, rt_err *err);

/* "NVIDIA H200 (sm_90, driver 13.0)" for device ordinal i; -1 with a
 * message on failure. */
int rt_cuda_drv_describe(const rt_cuda_drv *d, int i, char *buf, size_t len, rt_err *err);

#endif
