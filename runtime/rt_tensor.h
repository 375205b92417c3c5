/*
 * rt_tensor.h - a named host tensor, the unit of every file samc reads or
 * writes (safetensors, data sets, checkpoints) and of the buffers the
 * runtime hands to a backend.
 */
#ifndef SAMC_RT_TENSOR_H
#define SAMC_RT_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define RT_MAX_DIMS 6

typedef enum {
	RT_F32, RT_F64, RT_I32, RT_I64, RT_U8, RT_I8, RT_U32, RT_U64, RT_I16, RT_U16, RT_F16, RT_BF16
} rt_dtype;

typedef struct {
	char *name;          /* owned */
	rt_dtype dtype;
	int rank;
	int64_t dim[RT_MAX_DIMS];
	void *data;          /* owned, numel * rt_dtype_size(dtype) bytes */
} rt_tensor;

size_t rt_dtype_size(rt_dtype t);
const char *rt_dtype_name(rt_dtype t);   /* safetensors spelling: "F32", "I64", ... */
int rt_dtype_parse(const char *s, rt_dtype *out); /* 0 ok */
int64_t rt_tensor_numel(const rt_tensor *t);
size_t rt_tensor_bytes(const rt_tensor *t);

/* Allocates a standalone tensor (name copied, data zeroed). Returns 0, or -1
 * on a rank outside [0, RT_MAX_DIMS], a negative dim, a size that overflows,
 * or out of memory; `t` is then left empty. */
int rt_tensor_init(rt_tensor *t, const char *name, rt_dtype dtype, int rank,
                   const int64_t *dim);
void rt_tensor_free(rt_tensor *t); /* frees name and data, zeroes *t */

/* Element i (flat, row-major) as a double, and the reverse. set() rounds to
 * the dtype (f16/bf16 to nearest even) and saturates integers; NaN stores 0
 * in an integer dtype. */
double rt_tensor_get(const rt_tensor *t, int64_t i);
void rt_tensor_set(rt_tensor *t, int64_t i, double v);

/* A list of named tensors (a safetensors file's content). */
typedef struct {
	rt_tensor *t;
	int n, cap;
} rt_tensors;

/* Appends a tensor (data zeroed). NULL on a bad rank/dim or out of memory.
 * The pointer is valid until the next add. Names are not checked for
 * duplicates here (rt_st_write and rt_st_read do). */
rt_tensor *rt_tensors_add(rt_tensors *ts, const char *name, rt_dtype dtype,
                          int rank, const int64_t *dim);
rt_tensor *rt_tensors_find(const rt_tensors *ts, const char *name);
void rt_tensors_free(rt_tensors *ts);

#endif
