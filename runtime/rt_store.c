/* rt_store.c - one device buffer per slot name (see rt_store.h). */
#include "rt_store.h"
#include "rt_recipe.h"

#include "rt_device.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void rt_shape_str(char *buf, size_t n, int rank, const int64_t *dim)
{
	size_t k = 0;
	buf[0] = 0;
	k += (size_t)snprintf(buf, n, "[");
	for (int i = 0; i < rank && k < n; i++)
		k += (size_t)snprintf(buf + k, n - k, "%s%" PRId64, i ? "," : "", dim[i]);
	if (k < n)
		snprintf(buf + k, n - k, "]");
}

static const char *role_name(rt_slot_role r)
{
	return r == RT_SLOT_PARAM ? "parameter" : r == RT_SLOT_STATE ? "state" : "input";
}

int rt_store_find(const rt_store *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->buf[i].slot.name, name) == 0)
			return i;
	return -1;
}

void *rt_store_addr(const rt_store *s, const char *name)
{
	int i = rt_store_find(s, name);
	return i < 0 ? NULL : s->buf[i].addr;
}

int rt_store_upload(const rt_store *s, int i, const void *src, rt_err *err)
{
	const rt_store_buf *b = &s->buf[i];
	return b->bytes ? s->dev->upload(s->dev, b->addr, src, b->bytes, err) : 0;
}

int rt_store_download(const rt_store *s, int i, void *dst, rt_err *err)
{
	const rt_store_buf *b = &s->buf[i];
	return b->bytes ? s->dev->download(s->dev, dst, b->addr, b->bytes, err) : 0;
}

void *rt_store_host(rt_store *s, int i)
{
	rt_store_buf *b = &s->buf[i];
	void *v = s->dev->host_view ? s->dev->host_view(s->dev, b->addr) : NULL;
	if (v)
		return v;
	if (!b->stage && rt_store_can_send(s)) {
		rt_err e;
		size_t n = b->bytes ? b->bytes : 1;
		if (s->dev->host_alloc(s->dev, n, &b->stage, &e) == 0) {
			memset(b->stage, 0, n);
			b->pinned = 1;
		}
	}
	if (!b->stage)
		b->stage = calloc(1, b->bytes ? b->bytes : 1);
	return b->stage;
}

int rt_store_can_send(const rt_store *s)
{
	const rt_device *d = s->dev;
	return d && d->host_alloc && d->host_free && d->upload_async && d->upload_join &&
	       d->upload_fence;
}

int rt_store_send(rt_store *s, int i, rt_err *err)
{
	rt_store_buf *b = &s->buf[i];
	if (!rt_store_can_send(s) || !b->stage)
		return rt_store_flush(s, i, err);
	if (!b->dstage && s->dev->alloc(s->dev, b->bytes, &b->dstage, err))
		return -1;
	if (s->dev->upload_async(s->dev, b->dstage, b->stage, b->bytes, err))
		return -1;
	b->pending = 1;
	return 0;
}

int rt_store_land(rt_store *s, int i, rt_err *err)
{
	rt_store_buf *b = &s->buf[i];
	if (!b->pending)
		return 0;
	b->pending = 0;
	if (s->dev->upload_join(s->dev, err))
		return -1;
	return s->dev->copy(s->dev, b->addr, b->dstage, b->bytes, err);
}

int rt_store_fence(const rt_store *s, rt_err *err)
{
	return rt_store_can_send(s) ? s->dev->upload_fence(s->dev, err) : 0;
}

int rt_store_flush(const rt_store *s, int i, rt_err *err)
{
	const rt_store_buf *b = &s->buf[i];
	return b->stage ? rt_store_upload(s, i, b->stage, err) : 0;
}

static int same_shape(const rt_slot *a, const rt_slot *b)
{
	if (a->rank != b->rank || a->dtype != b->dtype)
		return 0;
	for (int i = 0; i < a->rank; i++)
		if (a->dim[i] != b->dim[i])
			return 0;
	return 1;
}

static int add_slot(rt_store *s, const rt_slot *sl, const char *backend, rt_err *err)
{
	int j = rt_store_find(s, sl->name);
	if (j >= 0) {
		const rt_slot *o = &s->buf[j].slot;
		char a[96], b[96];
		rt_shape_str(a, sizeof a, o->rank, o->dim);
		rt_shape_str(b, sizeof b, sl->rank, sl->dim);
		if (o->role != sl->role)
			return rt_errf(err, "slot '%s' is a %s in one step and a %s in another", sl->name,
			               role_name(o->role), role_name(sl->role));
		if (!same_shape(o, sl))
			return rt_errf(err, "slot '%s' is %s %s in one step and %s %s in another",
			               sl->name, rt_dtype_name(o->dtype), a, rt_dtype_name(sl->dtype), b);
		return 0;
	}
	int64_t n = 1;
	for (int i = 0; i < sl->rank; i++) {
		if (sl->dim[i] < 0 || (sl->dim[i] > 0 && n > INT64_MAX / 16 / sl->dim[i]))
			return rt_errf(err, "slot '%s' of the %s step has an invalid shape", sl->name,
			               backend ? backend : "?");
		n *= sl->dim[i];
	}
	size_t es = rt_dtype_size(sl->dtype);
	if (es == 0 || sl->rank < 0 || sl->rank > RT_MAX_DIMS)
		return rt_errf(err, "slot '%s': unsupported dtype or rank", sl->name);
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 16;
		rt_store_buf *nb = realloc(s->buf, (size_t)cap * sizeof *nb);
		if (!nb)
			return rt_errf(err, "out of memory for slot '%s'", sl->name);
		s->buf = nb;
		s->cap = cap;
	}
	rt_store_buf *b = &s->buf[s->n];
	memset(b, 0, sizeof *b);
	b->slot = *sl;
	b->bytes = (size_t)n * es;
	b->slot.name = strdup(sl->name);
	b->addr = b->stage = NULL;
	if (!b->slot.name)
		return rt_errf(err, "out of memory for slot '%s'", sl->name);
	rt_err de;
	if (s->dev->alloc(s->dev, b->bytes ? b->bytes : 1, &b->addr, &de)) {
		free((char *)b->slot.name);
		return rt_errf(err, "slot '%s' (%zu bytes): %s", sl->name, b->bytes, de.msg);
	}
	s->n++;
	return 0;
}

int rt_store_add_exec(rt_store *s, const rt_exec *x, rt_err *err)
{
	if (!s->dev)
		s->dev = x->dev ? x->dev : rt_dev_host();
	else if (!rt_device_shares(s->dev, x->dev))
		return rt_errf(err, "the %s step runs on device '%s', which cannot reach the run's "
		               "buffers on '%s'", x->backend, x->dev ? x->dev->name : "host",
		               s->dev->name);
	for (int i = 0; i < x->nslots; i++) {
		if (!x->slots[i].name)
			return rt_errf(err, "slot %d of the %s step has no name", i, x->backend);
		if (add_slot(s, &x->slots[i], x->backend, err))
			return -1;
	}
	return 0;
}

void **rt_store_bind(const rt_store *s, const rt_exec *x, rt_err *err)
{
	return rt_store_bind_prefer(s, x, NULL, err);
}

void **rt_store_bind_prefer(const rt_store *s, const rt_exec *x, const char *prefix,
                            rt_err *err)
{
	void **d = calloc((size_t)(x->nslots > 0 ? x->nslots : 1), sizeof *d);
	if (!d) {
		rt_errf(err, "out of memory");
		return NULL;
	}
	for (int i = 0; i < x->nslots; i++) {
		d[i] = NULL;
		if (prefix && x->slots[i].role == RT_SLOT_PARAM) {
			char name[512];
			snprintf(name, sizeof name, "%s%s", prefix, x->slots[i].name);
			d[i] = rt_store_addr(s, name);
		}
		if (!d[i])
			d[i] = rt_store_addr(s, x->slots[i].name);
		if (!d[i]) {
			rt_errf(err, "slot '%s' has no buffer in the run", x->slots[i].name);
			free(d);
			return NULL;
		}
	}
	return d;
}

void rt_store_free(rt_store *s)
{
	int pending = 0;
	for (int i = 0; i < s->n; i++)
		pending |= s->buf[i].pending;
	rt_err e;
	if (pending) /* an upload in flight still reads a stage */
		s->dev->sync(s->dev, &e);
	for (int i = 0; i < s->n; i++) {
		rt_store_buf *b = &s->buf[i];
		free((char *)b->slot.name);
		s->dev->free(s->dev, b->addr);
		if (b->dstage)
			s->dev->free(s->dev, b->dstage);
		if (b->pinned)
			s->dev->host_free(s->dev, b->stage);
		else
			free(b->stage);
	}
	free(s->buf);
	memset(s, 0, sizeof *s);
}

int rt_store_set_scalar(const rt_store *s, const char *name, double v, rt_err *err)
{
	int k = rt_store_find(s, name);
	if (k < 0)
		return 0;
	union { double d; int32_t i; float f; } u;
	size_t n;
	switch (s->buf[k].slot.dtype) {
	case RT_F64: u.d = v; n = 8; break;
	case RT_I32: u.i = (int32_t)v; n = 4; break;
	default: u.f = (float)v; n = 4; break;
	}
	/* a scalar slot holds one element; never write past a larger one */
	if (s->buf[k].bytes < n)
		return rt_errf(err, "input '%s' is too small for a scalar", name);
	return s->dev->upload(s->dev, s->buf[k].addr, &u, n, err);
}
