/*
 * rt_st_write.c - the safetensors writer (see rt_safetensors.h).
 *
 * The header is written by hand rather than through cJSON so that offsets
 * are always printed as exact integers and the key order is the caller's:
 * "__metadata__" first, then the tensors in list order, data laid out
 * contiguously in that order. The header is padded with spaces so the data
 * section starts at a multiple of 8 bytes.
 */
#include "rt_safetensors.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_file.h"

typedef struct {
	char *s;
	size_t n, cap;
	int oom;
} st_buf;

static void buf_put(st_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

static void buf_printf(st_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

static void buf_printf(st_buf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	buf_put(b, tmp, n < 0 ? 0 : (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string literal; bytes >= 0x80 pass through (UTF-8 stays UTF-8). */
static void buf_json_str(st_buf *b, const char *s)
{
	buf_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			buf_printf(b, "\\u%04x", c);
		else
			buf_put(b, (const char *)&c, 1);
	}
	buf_put(b, "\"", 1);
}

/* Names must be unique, non-empty and not the metadata key. */
static int check_names(const char *path, const rt_tensors *ts, rt_err *err)
{
	for (int i = 0; i < ts->n; i++) {
		const rt_tensor *t = &ts->t[i];
		if (!t->name || !t->name[0] || strcmp(t->name, "__metadata__") == 0)
			return rt_errf(err, "%s: tensor %d has an invalid name '%s'", path, i,
			               t->name ? t->name : "(null)");
		if (rt_dtype_size(t->dtype) == 0 || t->rank < 0 || t->rank > RT_MAX_DIMS)
			return rt_errf(err, "%s: tensor '%s': invalid dtype or rank %d", path, t->name,
			               t->rank);
		for (int d = 0; d < t->rank; d++)
			if (t->dim[d] < 0)
				return rt_errf(err, "%s: tensor '%s': negative dimension %" PRId64, path,
				               t->name, t->dim[d]);
		if (!t->data && rt_tensor_bytes(t) > 0)
			return rt_errf(err, "%s: tensor '%s' has no data", path, t->name);
		for (int j = 0; j < i; j++)
			if (strcmp(ts->t[j].name, t->name) == 0)
				return rt_errf(err, "%s: duplicate tensor name '%s'", path, t->name);
	}
	return 0;
}

int rt_st_write(const char *path, const rt_tensors *ts, const rt_meta *meta, rt_err *err)
{
	if (check_names(path, ts, err) != 0)
		return -1;
	st_buf b = {0};
	buf_put(&b, "{", 1);
	if (meta && meta->n > 0) {
		buf_json_str(&b, "__metadata__");
		buf_put(&b, ":{", 2);
		for (int i = 0; i < meta->n; i++) {
			if (i)
				buf_put(&b, ",", 1);
			buf_json_str(&b, meta->key[i]);
			buf_put(&b, ":", 1);
			buf_json_str(&b, meta->val[i]);
		}
		buf_put(&b, "}", 1);
	}
	uint64_t off = 0;
	for (int i = 0; i < ts->n; i++) {
		const rt_tensor *t = &ts->t[i];
		if (i || (meta && meta->n > 0))
			buf_put(&b, ",", 1);
		buf_json_str(&b, t->name);
		buf_printf(&b, ":{\"dtype\":\"%s\",\"shape\":[", rt_dtype_name(t->dtype));
		for (int d = 0; d < t->rank; d++)
			buf_printf(&b, "%s%" PRId64, d ? "," : "", t->dim[d]);
		uint64_t sz = rt_tensor_bytes(t);
		buf_printf(&b, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off, off + sz);
		off += sz;
	}
	buf_put(&b, "}", 1);
	while (b.n % 8)
		buf_put(&b, " ", 1);
	if (b.oom) {
		free(b.s);
		return rt_errf(err, "%s: out of memory building the header", path);
	}

	/* Explicit little-endian length, whatever the host. */
	unsigned char len8[8];
	for (int i = 0; i < 8; i++)
		len8[i] = (unsigned char)((uint64_t)b.n >> (8 * i));
	rt_file_part *parts = malloc(((size_t)ts->n + 2) * sizeof *parts);
	if (!parts) {
		free(b.s);
		return rt_errf(err, "%s: out of memory", path);
	}
	parts[0] = (rt_file_part){len8, 8};
	parts[1] = (rt_file_part){b.s, b.n};
	for (int i = 0; i < ts->n; i++)
		parts[i + 2] = (rt_file_part){ts->t[i].data, rt_tensor_bytes(&ts->t[i])};
	int rc = rt_file_write_atomic(path, parts, ts->n + 2, err);
	free(parts);
	free(b.s);
	return rc;
}
