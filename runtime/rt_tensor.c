/*
 * rt_tensor.c - host tensors: dtype table, allocation, element access and
 * the named tensor list (see rt_tensor.h).
 *
 * Host memory is little-endian (x86-64, aarch64 in its usual mode); the
 * safetensors and IDX readers rely on that to copy data as is.
 */
#include "rt_tensor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	size_t size;
} dtype_info[] = {
	[RT_F32] = {"F32", 4}, [RT_F64] = {"F64", 8}, [RT_I32] = {"I32", 4},
	[RT_I64] = {"I64", 8}, [RT_U8] = {"U8", 1},   [RT_I8] = {"I8", 1},
	[RT_U32] = {"U32", 4}, [RT_U64] = {"U64", 8}, [RT_I16] = {"I16", 2},
	[RT_U16] = {"U16", 2}, [RT_F16] = {"F16", 2}, [RT_BF16] = {"BF16", 2},
};
#define NDTYPES ((int)(sizeof dtype_info / sizeof dtype_info[0]))

size_t rt_dtype_size(rt_dtype t)
{
	return (int)t >= 0 && (int)t < NDTYPES ? dtype_info[t].size : 0;
}

const char *rt_dtype_name(rt_dtype t)
{
	return (int)t >= 0 && (int)t < NDTYPES ? dtype_info[t].name : "?";
}

int rt_dtype_parse(const char *s, rt_dtype *out)
{
	for (int i = 0; s && i < NDTYPES; i++) {
		if (strcmp(s, dtype_info[i].name) == 0) {
			*out = (rt_dtype)i;
			return 0;
		}
	}
	return -1;
}

int64_t rt_tensor_numel(const rt_tensor *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->rank; i++)
		n *= t->dim[i];
	return n;
}

size_t rt_tensor_bytes(const rt_tensor *t)
{
	return (size_t)rt_tensor_numel(t) * rt_dtype_size(t->dtype);
}

/* Byte size of a shape, or -1 if the shape is invalid or the size would not
 * fit in memory. */
static int64_t shape_bytes(rt_dtype dtype, int rank, const int64_t *dim)
{
	size_t es = rt_dtype_size(dtype);
	if (es == 0 || rank < 0 || rank > RT_MAX_DIMS)
		return -1;
	int64_t n = (int64_t)es;
	for (int i = 0; i < rank; i++) {
		if (dim[i] < 0)
			return -1;
		if (dim[i] != 0 && n > (INT64_MAX / 2) / dim[i])
			return -1;
		n *= dim[i];
	}
	return (uint64_t)n > (uint64_t)SIZE_MAX ? -1 : n;
}

int rt_tensor_init(rt_tensor *t, const char *name, rt_dtype dtype, int rank,
                   const int64_t *dim)
{
	memset(t, 0, sizeof *t);
	int64_t bytes = shape_bytes(dtype, rank, dim);
	if (bytes < 0)
		return -1;
	/* calloc(0) may return NULL; always ask for at least one byte. */
	t->data = calloc(1, bytes > 0 ? (size_t)bytes : 1);
	t->name = strdup(name ? name : "");
	if (!t->data || !t->name) {
		rt_tensor_free(t);
		return -1;
	}
	t->dtype = dtype;
	t->rank = rank;
	for (int i = 0; i < rank; i++)
		t->dim[i] = dim[i];
	return 0;
}

void rt_tensor_free(rt_tensor *t)
{
	if (!t)
		return;
	free(t->name);
	free(t->data);
	memset(t, 0, sizeof *t);
}

/* IEEE half <-> float, round to nearest even. */
static float half_to_float(uint16_t h)
{
	int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
	float v;
	if (exp == 0)
		v = ldexpf((float)man, -24);
	else if (exp == 31)
		v = man ? NAN : INFINITY;
	else
		v = ldexpf((float)(man | 0x400), exp - 25);
	return sign ? -v : v;
}

static uint16_t float_to_half(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
	int32_t exp = (int32_t)((x >> 23) & 0xff);
	uint32_t man = x & 0x7fffff;
	if (exp == 0xff)
		return sign | 0x7c00 | (man ? 0x200 : 0);
	exp = exp - 127 + 15;
	if (exp >= 31)
		return sign | 0x7c00;
	if (exp <= 0) {
		if (exp < -10)
			return sign;
		man |= 0x800000;
		int shift = 14 - exp;
		uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (h & 1)))
			h++;
		return sign | (uint16_t)h;
	}
	uint32_t h = ((uint32_t)exp << 10) | (man >> 13), rem = man & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
		h++; /* may carry into the exponent, up to infinity: correct */
	return sign | (uint16_t)h;
}

static float bf16_to_float(uint16_t b)
{
	uint32_t x = (uint32_t)b << 16;
	float f;
	memcpy(&f, &x, 4);
	return f;
}

static uint16_t float_to_bf16(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((x >> 16) | 0x40); /* keep NaN a NaN */
	x += 0x7fff + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

double rt_tensor_get(const rt_tensor *t, int64_t i)
{
	const char *p = (const char *)t->data + (size_t)i * rt_dtype_size(t->dtype);
	switch (t->dtype) {
#define GET(DT, CT) case DT: { CT v; memcpy(&v, p, sizeof v); return (double)v; }
	GET(RT_F32, float) GET(RT_F64, double) GET(RT_I32, int32_t) GET(RT_I64, int64_t)
	GET(RT_U8, uint8_t) GET(RT_I8, int8_t) GET(RT_U32, uint32_t) GET(RT_U64, uint64_t)
	GET(RT_I16, int16_t) GET(RT_U16, uint16_t)
#undef GET
	case RT_F16: { uint16_t h; memcpy(&h, p, 2); return half_to_float(h); }
	case RT_BF16: { uint16_t h; memcpy(&h, p, 2); return bf16_to_float(h); }
	}
	return NAN;
}

/* Saturating conversion: out-of-range doubles are undefined behaviour in a
 * plain cast. */
static double clamp(double v, double lo, double hi)
{
	if (isnan(v))
		return 0;
	return v < lo ? lo : v > hi ? hi : v;
}

void rt_tensor_set(rt_tensor *t, int64_t i, double v)
{
	char *p = (char *)t->data + (size_t)i * rt_dtype_size(t->dtype);
	switch (t->dtype) {
#define SET(DT, CT, LO, HI) case DT: { CT x = (CT)clamp(v, LO, HI); memcpy(p, &x, sizeof x); return; }
	SET(RT_I32, int32_t, INT32_MIN, INT32_MAX)
	SET(RT_U8, uint8_t, 0, UINT8_MAX) SET(RT_I8, int8_t, INT8_MIN, INT8_MAX)
	SET(RT_U32, uint32_t, 0, UINT32_MAX)
	SET(RT_I16, int16_t, INT16_MIN, INT16_MAX) SET(RT_U16, uint16_t, 0, UINT16_MAX)
	/* 2^63 and 2^64 are exact doubles; stay strictly below them. */
	SET(RT_I64, int64_t, -9223372036854775808.0, 9223372036854774784.0)
	SET(RT_U64, uint64_t, 0, 18446744073709549568.0)
#undef SET
	case RT_F32: { float x = (float)v; memcpy(p, &x, 4); return; }
	case RT_F64: memcpy(p, &v, 8); return;
	case RT_F16: { uint16_t h = float_to_half((float)v); memcpy(p, &h, 2); return; }
	case RT_BF16: { uint16_t h = float_to_bf16((float)v); memcpy(p, &h, 2); return; }
	}
}

rt_tensor *rt_tensors_add(rt_tensors *ts, const char *name, rt_dtype dtype,
                          int rank, const int64_t *dim)
{
	if (ts->n == ts->cap) {
		int cap = ts->cap ? 2 * ts->cap : 8;
		rt_tensor *t = realloc(ts->t, (size_t)cap * sizeof *t);
		if (!t)
			return NULL;
		ts->t = t;
		ts->cap = cap;
	}
	if (rt_tensor_init(&ts->t[ts->n], name, dtype, rank, dim) != 0)
		return NULL;
	return &ts->t[ts->n++];
}

rt_tensor *rt_tensors_find(const rt_tensors *ts, const char *name)
{
	for (int i = 0; i < ts->n; i++)
		if (strcmp(ts->t[i].name, name) == 0)
			return &ts->t[i];
	return NULL;
}

void rt_tensors_free(rt_tensors *ts)
{
	for (int i = 0; i < ts->n; i++)
		rt_tensor_free(&ts->t[i]);
	free(ts->t);
	memset(ts, 0, sizeof *ts);
}
