/*
 * rt_conv.c - 2-D convolution through oneDNN's C API (see rt_conv.h): one
 * cached entry per (descriptor, operation, bias) holding the primitive, the
 * reorders between the caller's NCHW tensors and the layouts the primitive
 * chose, their buffers and the scratchpad.
 */
#include "rt_conv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_conv_lib.h"

/* oneDNN's functions, through the context (rt_conv_lib.h) */
#define DN (c->dn)

/* the most tensor arguments of one operation: forward x, w, b, y */
#define CONV_MAX_ARGS 4

/* One tensor argument: the caller's memory (its pointer bound per run)
 * and, when the primitive prefers another layout, the primitive's own
 * memory and the reorder between the two. */
typedef struct {
	int arg;                  /* DNNL_ARG_* */
	int out;                  /* written by the primitive */
	dnnl_memory_t user;       /* caller's layout, no buffer of its own */
	dnnl_memory_t inner;      /* primitive's layout, or NULL: the user's */
	dnnl_primitive_t reorder; /* user -> inner (input), inner -> user (output) */
} conv_arg;

typedef struct {
	rt_conv_desc d;
	rt_conv_op op;
	int bias;
	int want_bf16;         /* asked for bf16 operands (the key) */
	int bf16;              /* runs on bf16 operands (0: the f32 primitive) */
	dnnl_primitive_t prim;
	dnnl_memory_t scratch; /* NULL when the primitive needs none */
	conv_arg a[CONV_MAX_ARGS];
	int na;
} conv_entry;

struct rt_conv {
	const rt_dnnl_api *dn;
	int threads;
	int bf16; /* bf16 entries may be made (rt_conv_new_bf16 on a CPU with them) */
	dnnl_engine_t eng;
	dnnl_stream_t stream;
	conv_entry **e;
	int ne, cap;
};

static int dnnl_fail(const rt_conv *c, rt_err *err, const rt_conv_desc *d, rt_conv_op op, const char *what,
                     dnnl_status_t s)
{
	char ds[256];
	rt_conv_desc_str(d, ds, sizeof ds);
	return rt_errf(err, "%s: oneDNN %s: %s: %s", ds, rt_conv_op_name(op), what,
	               DN->dnnl_status2str(s));
}

int64_t rt_conv_out_size(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil)
{
	int64_t span = in + 2 * pad - dil * (k - 1) - 1;
	return span < 0 || stride < 1 ? 0 : span / stride + 1;
}

const char *rt_conv_op_name(rt_conv_op op)
{
	return op == RT_CONV_FWD ? "forward" : op == RT_CONV_BWD_DATA ? "backward data"
	                                                                : "backward weights";
}

void rt_conv_desc_str(const rt_conv_desc *d, char *buf, size_t len)
{
	snprintf(buf, len,
	         "conv2d x [%lld,%lld,%lld,%lld] w [%lld,%lld,%lld,%lld] stride %lldx%lld "
	         "padding %lldx%lld dilation %lldx%lld groups %lld",
	         (long long)d->n, (long long)d->c, (long long)d->h, (long long)d->w, (long long)d->o,
	         (long long)(d->groups > 0 ? d->c / d->groups : d->c), (long long)d->kh,
	         (long long)d->kw, (long long)d->stride_h, (long long)d->stride_w, (long long)d->pad_h,
	         (long long)d->pad_w, (long long)d->dil_h, (long long)d->dil_w, (long long)d->groups);
}

int rt_conv_desc_check(const rt_conv_desc *d, rt_err *err)
{
	char ds[256];
	rt_conv_desc_str(d, ds, sizeof ds);
	if (d->n < 1 || d->c < 1 || d->h < 1 || d->w < 1 || d->o < 1 || d->kh < 1 || d->kw < 1)
		return rt_errf(err, "%s: every size must be positive", ds);
	if (d->stride_h < 1 || d->stride_w < 1 || d->dil_h < 1 || d->dil_w < 1 || d->pad_h < 0 ||
	    d->pad_w < 0 || d->groups < 1)
		return rt_errf(err, "%s: stride, dilation and groups must be positive, padding >= 0", ds);
	if (d->c % d->groups || d->o % d->groups)
		return rt_errf(err, "%s: %lld input and %lld output channels must both be divisible "
		                    "by the groups", ds, (long long)d->c, (long long)d->o);
	int64_t oh = rt_conv_out_size(d->h, d->kh, d->stride_h, d->pad_h, d->dil_h);
	int64_t ow = rt_conv_out_size(d->w, d->kw, d->stride_w, d->pad_w, d->dil_w);
	if (oh < 1 || ow < 1)
		return rt_errf(err, "%s: the padded input is smaller than the dilated kernel", ds);
	if (oh != d->oh || ow != d->ow)
		return rt_errf(err, "%s: the output is %lldx%lld, not %lldx%lld", ds, (long long)oh,
		               (long long)ow, (long long)d->oh, (long long)d->ow);
	return 0;
}

/* --- the instruction set (pinned when the library is loaded) --- */

const char *rt_conv_isa(void)
{
	const rt_dnnl_api *dn = rt_dnnl_load(0, NULL);
	return dn ? dn->dnnl_cpu_isa2str(dn->dnnl_get_effective_cpu_isa()) : "none (no oneDNN)";
}

static int isa_check(const rt_dnnl_api *dn, rt_err *err)
{
	dnnl_cpu_isa_t isa = dn->dnnl_get_effective_cpu_isa();
	if (rt_dnnl_lifted()) /* a bf16 program's process: no pin (rt_conv.h) */
		return 0;
	/* the ISA values are nested bit sets: any bit beyond AVX2's is more */
	if ((unsigned)isa & ~(unsigned)dnnl_cpu_isa_avx2)
		return rt_errf(err, "conv2d: oneDNN dispatches to %s in this process and can no "
		                    "longer be pinned to AVX2 (results would depend on the CPU)",
		               dn->dnnl_cpu_isa2str(isa));
	return 0;
}

/* --- the context --- */

/* OpenMP's thread count is the calling thread's: set it for one call. */
static int threads_enter(const rt_conv *c)
{
	int prev = DN->omp_get_max_threads();
	DN->omp_set_num_threads(c->threads);
	return prev;
}

static void threads_leave(const rt_conv *c, int prev) { DN->omp_set_num_threads(prev); }

static rt_conv *conv_new(int threads, int bf16, rt_err *err)
{
	if (threads < 1)
		return rt_errf(err, "conv2d: a oneDNN context needs at least one thread, got %d",
		               threads),
		       NULL;
	const rt_dnnl_api *dn = rt_dnnl_load(bf16, err);
	if (!dn || isa_check(dn, err) != 0)
		return NULL;
	rt_conv *c = calloc(1, sizeof *c);
	if (!c)
		return rt_errf(err, "conv2d: out of memory"), NULL;
	c->dn = dn;
	c->threads = threads;
	c->bf16 = bf16 && rt_dnnl_bf16_isa(dn);
	rt_dnnl_hold(dn);
	dnnl_status_t s = DN->dnnl_engine_create(&c->eng, dnnl_cpu, 0);
	if (s == dnnl_success)
		s = DN->dnnl_stream_create(&c->stream, c->eng, dnnl_stream_default_flags);
	if (s != dnnl_success) {
		rt_errf(err, "conv2d: oneDNN: cannot create the CPU engine and stream: %s",
		        DN->dnnl_status2str(s));
		rt_conv_free(c);
		return NULL;
	}
	return c;
}

static void entry_free(const rt_conv *c, conv_entry *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->na; i++) {
		DN->dnnl_primitive_destroy(e->a[i].reorder);
		DN->dnnl_memory_destroy(e->a[i].inner);
		DN->dnnl_memory_destroy(e->a[i].user);
	}
	DN->dnnl_memory_destroy(e->scratch);
	DN->dnnl_primitive_destroy(e->prim);
	free(e);
}

void rt_conv_free(rt_conv *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->ne; i++)
		entry_free(c, c->e[i]);
	free(c->e);
	if (c->stream)
		DN->dnnl_stream_destroy(c->stream);
	if (c->eng)
		DN->dnnl_engine_destroy(c->eng);
	rt_dnnl_drop(c->dn);
	free(c);
}

rt_conv *rt_conv_new(int threads, rt_err *err) { return conv_new(threads, 0, err); }

rt_conv *rt_conv_new_bf16(int threads, rt_err *err) { return conv_new(threads, 1, err); }

int rt_conv_bf16(const rt_conv *c) { return c && c->bf16; }

int rt_conv_cached(const rt_conv *c) { return c ? c->ne : 0; }

int rt_conv_cached_bf16(const rt_conv *c)
{
	int n = 0;
	for (int i = 0; c && i < c->ne; i++)
		n += c->e[i]->bf16;
	return n;
}

/* --- creating an entry --- */

typedef struct {
	dnnl_memory_desc_t x, w, y, b;       /* the caller's layouts */
	dnnl_memory_desc_t xa, wa, ya;       /* format_tag_any, of the operation */
	dnnl_memory_desc_t xh, wh, yh;       /* format_tag_any, of the forward hint */
	dnnl_dims_t stride, dil, pad;
} conv_mds;

/* A bf16 entry's operands: the two multiplied tensors bf16 (the caller's
 * f32 values reordered to bf16, exact as they are bf16 values), the
 * result f32 (f32 accumulation); the forward hint of a backward entry all
 * bf16, as PyTorch's bf16 training makes it. */
static void op_types(rt_conv_op op, int bf16, dnnl_data_type_t t[3], dnnl_data_type_t h[3])
{
	dnnl_data_type_t lo = bf16 ? dnnl_bf16 : dnnl_f32;
	h[0] = h[1] = h[2] = lo;
	t[0] = op == RT_CONV_BWD_DATA ? dnnl_f32 : lo;   /* x, or dx */
	t[1] = op == RT_CONV_BWD_WEIGHT ? dnnl_f32 : lo; /* w, or dw */
	t[2] = op == RT_CONV_FWD ? dnnl_f32 : lo;        /* y, or dy */
}

static dnnl_status_t mds_init(const rt_conv *c, const rt_conv_desc *d, rt_conv_op op, int bf16,
                              conv_mds *m)
{
	dnnl_data_type_t t[3], h[3];
	op_types(op, bf16, t, h);
	dnnl_dims_t x = {d->n, d->c, d->h, d->w}, y = {d->n, d->o, d->oh, d->ow}, b = {d->o};
	/* grouped weights are 5-D [g, o/g, c/g, kh, kw], as PyTorch hands them */
	dnnl_dims_t w4 = {d->o, d->c, d->kh, d->kw};
	dnnl_dims_t w5 = {d->groups, d->o / d->groups, d->c / d->groups, d->kh, d->kw};
	int g = d->groups > 1;
	dnnl_status_t s;
	if ((s = DN->dnnl_memory_desc_init_by_tag(&m->x, 4, x, dnnl_f32, dnnl_nchw)) ||
	    (s = DN->dnnl_memory_desc_init_by_tag(&m->y, 4, y, dnnl_f32, dnnl_nchw)) ||
	    (s = DN->dnnl_memory_desc_init_by_tag(&m->b, 1, b, dnnl_f32, dnnl_a)) ||
	    (s = DN->dnnl_memory_desc_init_by_tag(&m->w, g ? 5 : 4, g ? w5 : w4, dnnl_f32,
	                                      g ? dnnl_goihw : dnnl_oihw)) ||
	    (s = DN->dnnl_memory_desc_init_by_tag(&m->xa, 4, x, t[0], dnnl_format_tag_any)) ||
	    (s = DN->dnnl_memory_desc_init_by_tag(&m->ya, 4, y, t[2], dnnl_format_tag_any)) ||
	    (s = DN->dnnl_memory_desc_init_by_tag(&m->wa, g ? 5 : 4, g ? w5 : w4, t[1],
	                                      dnnl_format_tag_any)) ||
	    (s = DN->dnnl_memory_desc_init_by_tag(&m->xh, 4, x, h[0], dnnl_format_tag_any)) ||
	    (s = DN->dnnl_memory_desc_init_by_tag(&m->yh, 4, y, h[2], dnnl_format_tag_any)) ||
	    (s = DN->dnnl_memory_desc_init_by_tag(&m->wh, g ? 5 : 4, g ? w5 : w4, h[1],
	                                      dnnl_format_tag_any)))
		return s;
	m->stride[0] = d->stride_h;
	m->stride[1] = d->stride_w;
	m->dil[0] = d->dil_h - 1; /* oneDNN counts the gaps: 0 is dense */
	m->dil[1] = d->dil_w - 1;
	m->pad[0] = d->pad_h;
	m->pad[1] = d->pad_w;
	return dnnl_success;
}

/* The forward primitive descriptor: the forward operation itself, and the
 * hint that makes a backward one choose matching layouts. */
static dnnl_status_t fwd_pd(const rt_conv *c, const conv_mds *m, int bias, int hint,
                            const_dnnl_primitive_attr_t attr, dnnl_primitive_desc_t *pd)
{
	dnnl_convolution_desc_t cd;
	dnnl_status_t s = DN->dnnl_dilated_convolution_forward_desc_init(
	        &cd, dnnl_forward_training, dnnl_convolution_direct, hint ? &m->xh : &m->xa,
	        hint ? &m->wh : &m->wa, bias ? &m->b : NULL, hint ? &m->yh : &m->ya, m->stride,
	        m->dil, m->pad, m->pad);
	return s ? s : DN->dnnl_primitive_desc_create(pd, &cd, attr, c->eng, NULL);
}

/* Binds argument `arg` of pd: the caller's memory and, if pd wants another
 * layout, a memory of that layout and the reorder between them. */
static dnnl_status_t arg_init(const rt_conv *c, const_dnnl_primitive_desc_t pd, int arg, int out,
                              const dnnl_memory_desc_t *user_md, conv_arg *a, const char **what)
{
	a->arg = arg;
	a->out = out;
	const dnnl_memory_desc_t *md = DN->dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
	dnnl_status_t s;
	*what = "memory";
	if ((s = DN->dnnl_memory_create(&a->user, user_md, c->eng, DNNL_MEMORY_NONE)))
		return s;
	if (!md || DN->dnnl_memory_desc_equal(md, user_md))
		return dnnl_success;
	if ((s = DN->dnnl_memory_create(&a->inner, md, c->eng, DNNL_MEMORY_ALLOCATE)))
		return s;
	*what = "reorder";
	dnnl_primitive_desc_t rpd;
	s = out ? DN->dnnl_reorder_primitive_desc_create(&rpd, md, c->eng, user_md, c->eng, NULL)
	        : DN->dnnl_reorder_primitive_desc_create(&rpd, user_md, c->eng, md, c->eng, NULL);
	if (s)
		return s;
	s = DN->dnnl_primitive_create(&a->reorder, rpd);
	DN->dnnl_primitive_desc_destroy(rpd);
	return s;
}

typedef struct {
	int arg, out;
	const dnnl_memory_desc_t *md;
} arg_spec;

static int entry_build(rt_conv *c, conv_entry *e, rt_err *err)
{
	const rt_conv_desc *d = &e->d;
	conv_mds m;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_primitive_desc_t hint = NULL, pd = NULL;
	dnnl_convolution_desc_t cd;
	const char *what = "memory descriptors";
	dnnl_status_t s = mds_init(c, d, e->op, e->bf16, &m);
	if (s)
		goto fail;
	/* the scratchpad is ours, allocated once, so a run allocates nothing */
	what = "attributes";
	if ((s = DN->dnnl_primitive_attr_create(&attr)) ||
	    (s = DN->dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user)))
		goto fail;
	what = "primitive descriptor";
	if (e->op == RT_CONV_FWD) {
		if ((s = fwd_pd(c, &m, e->bias, 0, attr, &pd)))
			goto fail;
	} else if (e->op == RT_CONV_BWD_DATA) {
		if ((s = fwd_pd(c, &m, 0, 1, attr, &hint)) ||
		    (s = DN->dnnl_dilated_convolution_backward_data_desc_init(
		             &cd, dnnl_convolution_direct, &m.xa, &m.wa, &m.ya, m.stride, m.dil, m.pad,
		             m.pad)) ||
		    (s = DN->dnnl_primitive_desc_create(&pd, &cd, attr, c->eng, hint)))
			goto fail;
	} else {
		if ((s = fwd_pd(c, &m, e->bias, 1, attr, &hint)) ||
		    (s = DN->dnnl_dilated_convolution_backward_weights_desc_init(
		             &cd, dnnl_convolution_direct, &m.xa, &m.wa, e->bias ? &m.b : NULL, &m.ya,
		             m.stride, m.dil, m.pad, m.pad)) ||
		    (s = DN->dnnl_primitive_desc_create(&pd, &cd, attr, c->eng, hint)))
			goto fail;
	}
	/* inputs first, in the order they are reordered before the run */
	arg_spec args[CONV_MAX_ARGS];
	int na = 0;
	if (e->op == RT_CONV_FWD) {
		args[na++] = (arg_spec){DNNL_ARG_SRC, 0, &m.x};
		args[na++] = (arg_spec){DNNL_ARG_WEIGHTS, 0, &m.w};
		if (e->bias)
			args[na++] = (arg_spec){DNNL_ARG_BIAS, 0, &m.b};
		args[na++] = (arg_spec){DNNL_ARG_DST, 1, &m.y};
	} else if (e->op == RT_CONV_BWD_DATA) {
		args[na++] = (arg_spec){DNNL_ARG_DIFF_DST, 0, &m.y};
		args[na++] = (arg_spec){DNNL_ARG_WEIGHTS, 0, &m.w};
		args[na++] = (arg_spec){DNNL_ARG_DIFF_SRC, 1, &m.x};
	} else {
		args[na++] = (arg_spec){DNNL_ARG_SRC, 0, &m.x};
		args[na++] = (arg_spec){DNNL_ARG_DIFF_DST, 0, &m.y};
		args[na++] = (arg_spec){DNNL_ARG_DIFF_WEIGHTS, 1, &m.w};
		if (e->bias)
			args[na++] = (arg_spec){DNNL_ARG_DIFF_BIAS, 1, &m.b};
	}
	for (int i = 0; i < na; i++) {
		e->na = i + 1;
		if ((s = arg_init(c, pd, args[i].arg, args[i].out, args[i].md, &e->a[i], &what)))
			goto fail;
	}
	what = "scratchpad";
	const dnnl_memory_desc_t *smd = DN->dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	if (smd && DN->dnnl_memory_desc_get_size(smd) > 0 &&
	    (s = DN->dnnl_memory_create(&e->scratch, smd, c->eng, DNNL_MEMORY_ALLOCATE)))
		goto fail;
	what = "primitive";
	s = DN->dnnl_primitive_create(&e->prim, pd);
fail:
	DN->dnnl_primitive_desc_destroy(pd);
	DN->dnnl_primitive_desc_destroy(hint);
	DN->dnnl_primitive_attr_destroy(attr);
	return s ? dnnl_fail(c, err, d, e->op, what, s) : 0;
}

/* A new entry of (d, op, bias) on bf16 operands or f32 ones. */
static conv_entry *entry_new(rt_conv *c, const rt_conv_desc *d, rt_conv_op op, int bias,
                             int bf16, rt_err *err)
{
	conv_entry *e = calloc(1, sizeof *e);
	if (!e)
		return rt_errf(err, "conv2d: out of memory"), NULL;
	e->d = *d;
	e->op = op;
	e->bias = bias;
	e->want_bf16 = e->bf16 = bf16;
	int prev = threads_enter(c);
	int rc = entry_build(c, e, err);
	threads_leave(c, prev);
	if (rc != 0) {
		entry_free(c, e);
		return NULL;
	}
	return e;
}

/* The cached entry of (d, op, bias, bf16), created on first use. A bf16
 * entry where the context has no bf16 (or oneDNN no bf16 primitive for
 * this convolution) is the f32 one: the same values, summed in f32. */
static conv_entry *entry_get(rt_conv *c, const rt_conv_desc *d, rt_conv_op op, int bias,
                             int bf16, rt_err *err)
{
	for (int i = 0; i < c->ne; i++) {
		conv_entry *e = c->e[i];
		if (e->op == op && e->bias == bias && e->want_bf16 == bf16 &&
		    memcmp(&e->d, d, sizeof *d) == 0)
			return e;
	}
	if (rt_conv_desc_check(d, err) != 0)
		return NULL;
	if (c->ne == c->cap) {
		int cap = c->cap ? 2 * c->cap : 8;
		conv_entry **ne = realloc(c->e, (size_t)cap * sizeof *ne);
		if (!ne)
			return rt_errf(err, "conv2d: out of memory"), NULL;
		c->e = ne;
		c->cap = cap;
	}
	conv_entry *e = bf16 && c->bf16 ? entry_new(c, d, op, bias, 1, NULL) : NULL;
	if (!e && !(e = entry_new(c, d, op, bias, 0, err)))
		return NULL;
	e->want_bf16 = bf16;
	c->e[c->ne++] = e;
	return e;
}

int rt_conv_prepare(rt_conv *c, const rt_conv_desc *d, rt_conv_op op, int bias, int bf16,
                    rt_err *err)
{
	conv_entry *e = entry_get(c, d, op, bias != 0, bf16 != 0, err);
	return e ? e->bf16 : -1;
}

/* --- running an entry --- */

static dnnl_status_t reorder_run(const rt_conv *c, const conv_arg *a)
{
	dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, a->out ? a->inner : a->user},
	                         {DNNL_ARG_TO, a->out ? a->user : a->inner}};
	return DN->dnnl_primitive_execute(a->reorder, c->stream, 2, ra);
}

/* Runs e on the caller's buffers ptr[i] (for e->a[i]). */
static int entry_run(rt_conv *c, conv_entry *e, void *const *ptr, rt_err *err)
{
	dnnl_exec_arg_t xa[CONV_MAX_ARGS + 1];
	int nx = 0;
	const char *what = "binding";
	dnnl_status_t s = dnnl_success;
	int prev = threads_enter(c);
	for (int i = 0; i < e->na && !s; i++) {
		s = DN->dnnl_memory_set_data_handle(e->a[i].user, ptr[i]);
		xa[nx++] = (dnnl_exec_arg_t){e->a[i].arg, e->a[i].inner ? e->a[i].inner : e->a[i].user};
	}
	if (e->scratch)
		xa[nx++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, e->scratch};
	what = "reorder";
	for (int i = 0; i < e->na && !s; i++)
		if (!e->a[i].out && e->a[i].reorder)
			s = reorder_run(c, &e->a[i]);
	if (!s) {
		what = "execution";
		s = DN->dnnl_primitive_execute(e->prim, c->stream, nx, xa);
	}
	what = "reorder";
	for (int i = 0; i < e->na && !s; i++)
		if (e->a[i].out && e->a[i].reorder)
			s = reorder_run(c, &e->a[i]);
	if (!s) {
		what = "execution";
		s = DN->dnnl_stream_wait(c->stream);
	}
	threads_leave(c, prev);
	return s ? dnnl_fail(c, err, &e->d, e->op, what, s) : 0;
}

int rt_conv_forward(rt_conv *c, const rt_conv_desc *d, const float *x, const float *w,
                    const float *b, float *y, rt_err *err)
{
	conv_entry *e = entry_get(c, d, RT_CONV_FWD, b != NULL, 0, err);
	if (!e)
		return -1;
	void *p[CONV_MAX_ARGS] = {(void *)x, (void *)w, (void *)b, y};
	if (!b) /* no bias argument: y is the third */
		p[2] = y;
	return entry_run(c, e, p, err);
}

int rt_conv_backward_data(rt_conv *c, const rt_conv_desc *d, const float *dy, const float *w,
                          float *dx, rt_err *err)
{
	conv_entry *e = entry_get(c, d, RT_CONV_BWD_DATA, 0, 0, err);
	if (!e)
		return -1;
	void *p[CONV_MAX_ARGS] = {(void *)dy, (void *)w, dx, NULL};
	return entry_run(c, e, p, err);
}

int rt_conv_backward_weights(rt_conv *c, const rt_conv_desc *d, const float *x, const float *dy,
                             float *dw, float *db, rt_err *err)
{
	conv_entry *e = entry_get(c, d, RT_CONV_BWD_WEIGHT, db != NULL, 0, err);
	if (!e)
		return -1;
	void *p[CONV_MAX_ARGS] = {(void *)x, (void *)dy, dw, db};
	return entry_run(c, e, p, err);
}

int rt_conv_run(rt_conv *c, const rt_conv_desc *d, rt_conv_op op, int bias, int bf16,
                void *const *args, rt_err *err)
{
	conv_entry *e = entry_get(c, d, op, bias != 0, bf16 != 0, err);
	return e ? entry_run(c, e, args, err) : -1;
}
