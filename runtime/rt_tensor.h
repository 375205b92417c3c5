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

/* A list of named tensors (a safetensors file's content). */
typedef struct {
	rt_tensor *t;
	int n, cap;
} rt_tensors;

rt_tensor *rt_tensors_add(rt_tensors *ts, const char *name, rt_dtype dtype,
                          int rank, const int64_t *dim); /* data zeroed */
rt_tensor *rt_tensors_find(const rt_tensors *ts, const char *name);
void rt_tensors_free(rt_tensors *ts);

#endif
