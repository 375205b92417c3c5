/*
 * rt_conv_lib.h - oneDNN and its OpenMP runtime, loaded on first use
 * (internal to rt_conv.c).
 *
 * samc links neither: rt_conv opens libdnnl.so.2 the first time a
 * convolution context (or rt_matmul's bf16 context) is made, so that a
 * program without convolutions (a trainer of an MLP) needs no oneDNN, and
 * so that OpenMP's waiting policy can still be chosen. Debian's oneDNN runs on libgomp, whose worker
 * threads by default spin for milliseconds after every parallel region:
 * between two convolutions of a step they would take the cores that the
 * CPU device's own pool needs for the kernels in between. libgomp reads
 * its settings from the environment once, when it is loaded, so unless the
 * user has set GOMP_SPINCOUNT or OMP_WAIT_POLICY, rt_conv sets
 * GOMP_SPINCOUNT=0 (sleep at once) just before it loads the library
 * (measured on 2 cores, the SAM step of a net with two convolutions at
 * batch 128: about 400 ms with libgomp's default spinning, 130 ms with
 * GOMP_SPINCOUNT=0 or 1000, 150 ms with 10000). This
 * is the second process-wide setting of rt_conv.h; it has no effect when
 * another part of the process loaded libgomp earlier.
 *
 * When the last rt_conv context is freed, OpenMP's worker threads are
 * ended (omp_pause_resource_all), so that a program leaves no idle threads
 * behind; the next context starts them again. (LeakSanitizer also cannot
 * walk the thread-local storage that the opened oneDNN has in them.)
 */
#ifndef SAMC_RT_CONV_LIB_H
#define SAMC_RT_CONV_LIB_H

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "rt_err.h"

/* every oneDNN function rt_conv calls */
#define RT_DNNL_FUNCS(X)                                                                  \
	X(dnnl_status2str) X(dnnl_cpu_isa2str) X(dnnl_set_max_cpu_isa)                    \
	X(dnnl_get_effective_cpu_isa) X(dnnl_engine_create) X(dnnl_engine_destroy)        \
	X(dnnl_stream_create) X(dnnl_stream_destroy) X(dnnl_stream_wait)                  \
	X(dnnl_memory_desc_init_by_tag) X(dnnl_memory_desc_equal)                         \
	X(dnnl_memory_desc_get_size) X(dnnl_memory_create) X(dnnl_memory_destroy)         \
	X(dnnl_memory_set_data_handle) X(dnnl_dilated_convolution_forward_desc_init)      \
	X(dnnl_dilated_convolution_backward_data_desc_init)                               \
	X(dnnl_dilated_convolution_backward_weights_desc_init)                            \
	X(dnnl_primitive_attr_create) X(dnnl_primitive_attr_destroy)                      \
	X(dnnl_primitive_attr_set_scratchpad_mode) X(dnnl_primitive_desc_create)          \
	X(dnnl_primitive_desc_destroy) X(dnnl_primitive_desc_query_md)                    \
	X(dnnl_reorder_primitive_desc_create) X(dnnl_primitive_create)                    \
	X(dnnl_primitive_destroy) X(dnnl_primitive_execute)                               \
	X(dnnl_primitive_desc_query) X(dnnl_memory_desc_init_by_strides)                  \
	X(dnnl_matmul_desc_init)

#define RT_DNNL_DECL(f) __typeof__(&f) f;

typedef struct {
	RT_DNNL_FUNCS(RT_DNNL_DECL)
	int (*omp_get_max_threads)(void);
	void (*omp_set_num_threads)(int);
	int (*omp_pause_resource_all)(int);
} rt_dnnl_api;

/* The loaded functions, or NULL with a message (a failed load is final:
 * every later call gets the same message). Thread-safe. The first call
 * in a process decides the instruction-set rule of rt_conv.h: lift = 0
 * pins oneDNN to AVX2, lift = 1 (a context for bf16 kernels) leaves it
 * free to use AVX-512 BF16 and AMX; later calls change nothing. */
const rt_dnnl_api *rt_dnnl_load(int lift, rt_err *err);
/* 1 if the library was loaded with lift = 1. */
int rt_dnnl_lifted(void);
/* 1 if oneDNN dispatches to AVX-512 BF16 or AMX here (lifted, on a CPU
 * with them, ONEDNN_MAX_CPU_ISA not lower). */
int rt_dnnl_bf16_isa(const rt_dnnl_api *api);

/* A context starts using the library / stops: the last to stop ends
 * OpenMP's worker threads (see above). Thread-safe. */
void rt_dnnl_hold(const rt_dnnl_api *api);
void rt_dnnl_drop(const rt_dnnl_api *api);

#endif
