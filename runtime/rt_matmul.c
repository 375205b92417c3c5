/*
 * rt_matmul.c - bf16 GEMMs through oneDNN's matmul (see rt_matmul.h): one
 * cached entry per shape holding the primitive, the memories its
 * pointers are bound to, and its scratchpad.
 */
#include "rt_matmul.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_conv_lib.h"

#define DN (c->dn)

typedef struct {
	int ta, tb;
	int64_t m, n, k, batch;
	int ok;                /* a bf16 primitive exists */
	dnnl_primitive_t prim;
	dnnl_memory_t a, b, y; /* no buffers of their own: bound per run */
	dnnl_memory_t scratch; /* NULL when none is needed */
} mm_entry;

struct rt_matmul {
	const rt_dnnl_api *dn;
	int threads;
	dnnl_engine_t eng;
	dnnl_stream_t stream;
	mm_entry *e;
	int ne, cap;
	char impl[64];
};

static int mm_fail(const rt_matmul *c, rt_err *err, const char *what, dnnl_status_t s)
{
	return rt_errf(err, "bf16 matmul: oneDNN: %s: %s", what, DN->dnnl_status2str(s));
}

rt_matmul *rt_matmul_new(int threads, rt_err *err)
{
	if (threads < 1)
		return rt_errf(err, "bf16 matmul: a oneDNN context needs at least one thread, got %d",
		               threads),
		       NULL;
	const rt_dnnl_api *dn = rt_dnnl_load(1, err);
	if (!dn)
		return NULL;
	if (!rt_dnnl_lifted() || !rt_dnnl_bf16_isa(dn))
		return rt_errf(err, "bf16 matmul: oneDNN dispatches to %s in this process, without "
		                    "bf16 instructions",
		               dn->dnnl_cpu_isa2str(dn->dnnl_get_effective_cpu_isa())),
		       NULL;
	rt_matmul *c = calloc(1, sizeof *c);
	if (!c)
		return rt_errf(err, "bf16 matmul: out of memory"), NULL;
	c->dn = dn;
	c->threads = threads;
	rt_dnnl_hold(dn);
	dnnl_status_t s = DN->dnnl_engine_create(&c->eng, dnnl_cpu, 0);
	if (s == dnnl_success)
		s = DN->dnnl_stream_create(&c->stream, c->eng, dnnl_stream_default_flags);
	if (s != dnnl_success) {
		mm_fail(c, err, "cannot create the CPU engine and stream", s);
		rt_matmul_free(c);
		return NULL;
	}
	return c;
}

static void entry_clear(const rt_matmul *c, mm_entry *e)
{
	DN->dnnl_memory_destroy(e->a);
	DN->dnnl_memory_destroy(e->b);
	DN->dnnl_memory_destroy(e->y);
	DN->dnnl_memory_destroy(e->scratch);
	DN->dnnl_primitive_destroy(e->prim);
	e->a = e->b = e->y = e->scratch = NULL;
	e->prim = NULL;
}

void rt_matmul_free(rt_matmul *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->ne; i++)
		entry_clear(c, &c->e[i]);
	free(c->e);
	if (c->stream)
		DN->dnnl_stream_destroy(c->stream);
	if (c->eng)
		DN->dnnl_engine_destroy(c->eng);
	rt_dnnl_drop(c->dn);
	free(c);
}

/* The row-major f32 GEMM's layouts as strided descriptors: A is [m,k]
 * (stored [k,m] when ta), B [k,n] (stored [n,k] when tb), C [m,n];
 * a leading batch dimension of consecutive matrices when batch > 1. */
static dnnl_status_t mds(const rt_matmul *c, const mm_entry *e, dnnl_memory_desc_t *a,
                         dnnl_memory_desc_t *b, dnnl_memory_desc_t *y)
{
	int64_t m = e->m, n = e->n, k = e->k;
	int three = e->batch > 1, nd = three ? 3 : 2, o = three;
	dnnl_dims_t da = {0}, db = {0}, dy = {0}, sa = {0}, sb = {0}, sy = {0};
	if (three) {
		da[0] = db[0] = dy[0] = e->batch;
		sa[0] = m * k;
		sb[0] = k * n;
		sy[0] = m * n;
	}
	da[o] = m, da[o + 1] = k;
	sa[o] = e->ta ? 1 : k, sa[o + 1] = e->ta ? m : 1;
	db[o] = k, db[o + 1] = n;
	sb[o] = e->tb ? 1 : n, sb[o + 1] = e->tb ? k : 1;
	dy[o] = m, dy[o + 1] = n;
	sy[o] = n, sy[o + 1] = 1;
	dnnl_status_t s;
	if ((s = DN->dnnl_memory_desc_init_by_strides(a, nd, da, dnnl_bf16, sa)) ||
	    (s = DN->dnnl_memory_desc_init_by_strides(b, nd, db, dnnl_bf16, sb)))
		return s;
	return DN->dnnl_memory_desc_init_by_strides(y, nd, dy, dnnl_f32, sy);
}

/* Creates e's primitive; dnnl_unimplemented when oneDNN has none. */
static dnnl_status_t entry_build(rt_matmul *c, mm_entry *e, const char **what)
{
	dnnl_memory_desc_t a, b, y;
	dnnl_matmul_desc_t md;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_status_t s;
	*what = "memory descriptors";
	if ((s = mds(c, e, &a, &b, &y)) || (s = DN->dnnl_matmul_desc_init(&md, &a, &b, NULL, &y)))
		return s;
	*what = "attributes";
	if ((s = DN->dnnl_primitive_attr_create(&attr)) ||
	    (s = DN->dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user)))
		goto done;
	*what = "primitive descriptor";
	if ((s = DN->dnnl_primitive_desc_create(&pd, &md, attr, c->eng, NULL)))
		goto done;
	const char *impl = NULL;
	if (DN->dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
	    impl)
		snprintf(c->impl, sizeof c->impl, "%s", impl);
	*what = "memory";
	if ((s = DN->dnnl_memory_create(&e->a, &a, c->eng, DNNL_MEMORY_NONE)) ||
	    (s = DN->dnnl_memory_create(&e->b, &b, c->eng, DNNL_MEMORY_NONE)) ||
	    (s = DN->dnnl_memory_create(&e->y, &y, c->eng, DNNL_MEMORY_NONE)))
		goto done;
	*what = "scratchpad";
	const dnnl_memory_desc_t *smd = DN->dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	if (smd && DN->dnnl_memory_desc_get_size(smd) > 0 &&
	    (s = DN->dnnl_memory_create(&e->scratch, smd, c->eng, DNNL_MEMORY_ALLOCATE)))
		goto done;
	*what = "primitive";
	s = DN->dnnl_primitive_create(&e->prim, pd);
done:
	DN->dnnl_primitive_desc_destroy(pd);
	DN->dnnl_primitive_attr_destroy(attr);
	return s;
}

/* OpenMP's thread count is the calling thread's: set it for one call */
static int threads_enter(const rt_matmul *c)
{
	int prev = DN->omp_get_max_threads();
	DN->omp_set_num_threads(c->threads);
	return prev;
}

static mm_entry *entry_get(rt_matmul *c, int ta, int tb, int64_t m, int64_t n, int64_t k,
                           int64_t batch, rt_err *err)
{
	batch = batch > 1 ? batch : 1;
	for (int i = 0; i < c->ne; i++) {
		mm_entry *e = &c->e[i];
		if (e->ta == ta && e->tb == tb && e->m == m && e->n == n && e->k == k &&
		    e->batch == batch)
			return e;
	}
	if (m < 1 || n < 1 || k < 1)
		return rt_errf(err, "bf16 matmul: sizes m %lld n %lld k %lld must be positive",
		               (long long)m, (long long)n, (long long)k),
		       NULL;
	if (c->ne == c->cap) {
		int cap = c->cap ? 2 * c->cap : 16;
		mm_entry *ne = realloc(c->e, (size_t)cap * sizeof *ne);
		if (!ne)
			return rt_errf(err, "bf16 matmul: out of memory"), NULL;
		c->e = ne;
		c->cap = cap;
	}
	mm_entry *e = &c->e[c->ne];
	*e = (mm_entry){ta != 0, tb != 0, m, n, k, batch, 0, NULL, NULL, NULL, NULL, NULL};
	const char *what = "";
	int prev = threads_enter(c);
	dnnl_status_t s = entry_build(c, e, &what);
	DN->omp_set_num_threads(prev);
	if (s != dnnl_success) {
		entry_clear(c, e);
		if (s != dnnl_unimplemented)
			return mm_fail(c, err, what, s), NULL;
	}
	e->ok = s == dnnl_success;
	c->ne++;
	return e;
}

int rt_matmul_prepare(rt_matmul *c, int ta, int tb, int64_t m, int64_t n, int64_t k,
                      int64_t batch, rt_err *err)
{
	mm_entry *e = entry_get(c, ta, tb, m, n, k, batch, err);
	return e ? e->ok : -1;
}

int rt_matmul_run(rt_matmul *c, int ta, int tb, int64_t m, int64_t n, int64_t k, int64_t batch,
                  const uint16_t *A, const uint16_t *B, float *C, rt_err *err)
{
	mm_entry *e = entry_get(c, ta, tb, m, n, k, batch, err);
	if (!e)
		return -1;
	if (!e->ok)
		return rt_errf(err, "bf16 matmul: oneDNN has no bf16 matmul of [%lld,%lld] x [%lld,%lld]",
		               (long long)m, (long long)k, (long long)k, (long long)n);
	int prev = threads_enter(c);
	dnnl_status_t s;
	const char *what = "binding";
	if (!(s = DN->dnnl_memory_set_data_handle(e->a, (void *)A)) &&
	    !(s = DN->dnnl_memory_set_data_handle(e->b, (void *)B)) &&
	    !(s = DN->dnnl_memory_set_data_handle(e->y, C))) {
		dnnl_exec_arg_t xa[4] = {{DNNL_ARG_SRC, e->a}, {DNNL_ARG_WEIGHTS, e->b},
		                         {DNNL_ARG_DST, e->y}, {DNNL_ARG_SCRATCHPAD, e->scratch}};
		what = "execution";
		if (!(s = DN->dnnl_primitive_execute(e->prim, c->stream, e->scratch ? 4 : 3, xa)))
			s = DN->dnnl_stream_wait(c->stream);
	}
	DN->omp_set_num_threads(prev);
	return s ? mm_fail(c, err, what, s) : 0;
}

void rt_matmul_to_bf16(uint16_t *dst, const float *src, int64_t lo, int64_t hi)
{
	for (int64_t i = lo; i < hi; i++) {
		uint32_t u;
		memcpy(&u, &src[i], sizeof u);
		dst[i] = (uint16_t)(u >> 16);
	}
}

int rt_matmul_cached(const rt_matmul *c)
{
	int n = 0;
	for (int i = 0; c && i < c->ne; i++)
		n += c->e[i].ok;
	return n;
}

const char *rt_matmul_impl(const rt_matmul *c) { return c ? c->impl : ""; }
