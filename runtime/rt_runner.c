/*
 * rt_runner.c - the step runner over a device (see rt_runner.h). Every
 * access to step memory goes through the device's vtable.
 */
#include "rt_runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	const rt_prog *p;
	rt_device *dev;
	void **bufptr;    /* per buffer: its device address, bound at each run */
	void **args;      /* per kernel argument, all kernels back to back */
	void ***kargs;    /* per kernel: its first entry in args */
	char *arena;      /* device address */
	char *errs;       /* device address of one int32 error word per kernel */
	int32_t *errh;    /* host copy of the error words */
	int can_fail;     /* some kernel has a failure message */
	void *plan;       /* the device's plan of the schedule, or NULL */
	const rt_runner_watch *watch; /* during rt_runner_run_watched, else NULL */
} runner;

static int kernel_error(const rt_prog_kernel *k, int32_t rc, rt_err *err)
{
	return rt_errf(err, "%s: %s (code %d, input '%s')", k->fail_where ? k->fail_where : k->name,
	               k->fail_msg ? k->fail_msg : "kernel failed", (int)rc,
	               k->fail_input ? k->fail_input : "?");
}

/* After the kernels: the first kernel (in schedule order) whose error word
 * is set fails the step; the words are cleared for the next run. */
static int check_errors(runner *s, rt_err *err)
{
	const rt_prog *p = s->p;
	size_t bytes = (size_t)p->nkernels * sizeof(int32_t);
	if (s->dev->download(s->dev, s->errh, s->errs, bytes, err))
		return -1;
	int bad = 0;
	while (bad < p->nkernels && !s->errh[bad])
		bad++;
	if (bad == p->nkernels)
		return 0;
	kernel_error(&p->kernels[bad], s->errh[bad], err);
	memset(s->errh, 0, bytes);
	rt_err ce;
	if (s->dev->upload(s->dev, s->errs, s->errh, bytes, &ce) && err) {
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof err->msg - n, " (clearing the error words: %s)", ce.msg);
	}
	return -1;
}

static int read_outputs(runner *s, double *outputs, rt_err *err)
{
	const rt_prog *p = s->p;
	for (int i = 0; i < p->noutputs; i++) {
		const rt_prog_output *o = &p->outputs[i];
		union { float f; double d; int32_t i; } v;
		size_t es = o->dtype == RT_F64 ? 8 : 4;
		if (s->dev->download(s->dev, &v, s->bufptr[o->buf], es, err))
			return -1;
		outputs[i] = o->dtype == RT_F32 ? (double)v.f : o->dtype == RT_F64 ? v.d : (double)v.i;
	}
	return 0;
}

/* Commits on the device: first save values that sit in slots a commit
 * overwrites, then move every new value into its slot. */
static int commit(runner *s, rt_err *err)
{
	const rt_prog *p = s->p;
	rt_device *d = s->dev;
	for (int i = 0; i < p->ncommits; i++) {
		const rt_prog_commit *c = &p->commits[i];
		if (c->snapshot >= 0 && d->copy(d, s->bufptr[c->snapshot], s->bufptr[c->src],
		                                (size_t)p->bufs[c->snapshot].bytes, err))
			return -1;
	}
	for (int i = 0; i < p->ncommits; i++) {
		const rt_prog_commit *c = &p->commits[i];
		int from = c->snapshot >= 0 ? c->snapshot : c->src;
		if (s->bufptr[c->target] != s->bufptr[from] &&
		    d->copy(d, s->bufptr[c->target], s->bufptr[from], (size_t)p->bufs[c->target].bytes,
		            err))
			return -1;
	}
	return 0;
}

static int exec_launch(rt_exec *x, void **slot_data, rt_err *err)
{
	runner *s = x->self;
	const rt_prog *p = s->p;
	rt_device *d = s->dev;
	for (int b = 0; b < p->nbufs; b++) {
		int sl = p->bufs[b].slot;
		if (sl >= 0 && !(s->bufptr[b] = slot_data[sl]))
			return rt_errf(err, "%s: slot '%s' has no buffer", d->name, p->slots[sl].name);
	}
	for (int i = 0; i < p->nkernels; i++)
		for (int j = 0; j < p->kernels[i].nargs; j++)
			s->kargs[i][j] = s->bufptr[p->kernels[i].args[j]];
	rt_dev_sched sc = {p, s->kargs, s->errs, x->comm, s->watch ? s->watch->done : NULL,
	                   s->watch ? s->watch->ctx : NULL};
	return d->run ? d->run(d, s->plan, &sc, err) : rt_device_run_in_order(d, &sc, err);
}

static int exec_finish(rt_exec *x, double *outputs, rt_err *err)
{
	runner *s = x->self;
	rt_device *d = s->dev;
	if (s->can_fail && check_errors(s, err))
		return -1;
	if (read_outputs(s, outputs, err) || commit(s, err))
		return -1;
	return d->sync(d, err);
}

static int exec_run(rt_exec *x, void **slot_data, double *outputs, rt_err *err)
{
	return exec_launch(x, slot_data, err) || exec_finish(x, outputs, err) ? -1 : 0;
}

static void exec_free(rt_exec *x)
{
	if (!x)
		return;
	runner *s = x->self;
	if (s) {
		rt_device *d = s->dev;
		if (s->plan && d->plan_free)
			d->plan_free(d, s->plan);
		if (s->arena)
			d->free(d, s->arena);
		if (s->errs)
			d->free(d, s->errs);
		d->release(d);
		free(s->bufptr);
		free(s->args);
		free(s->kargs);
		free(s->errh);
		free(s);
	}
	free(x->slots);
	free(x->outputs);
	free(x);
}

static int bad_buf(const rt_prog *p, int b)
{
	return b < 0 || b >= p->nbufs;
}

/* A table from a file we wrote ourselves can still be stale or damaged:
 * refuse it with a message rather than crash in a kernel. */
static int check(const rt_prog *p, const rt_device *d, rt_err *err)
{
	const char *dn = d->name;
	if (p->nslots < 0 || p->nbufs < 0 || p->nkernels < 0 || p->noutputs < 0 || p->ncommits < 0 ||
	    p->arena_bytes < 0)
		return rt_errf(err, "%s: malformed step table (negative count)", dn);
	for (int b = 0; b < p->nbufs; b++) {
		const rt_prog_buf *bf = &p->bufs[b];
		if (bf->slot >= p->nslots || bf->bytes < 0 ||
		    (bf->slot < 0 && (bf->offset < 0 || bf->offset + bf->bytes > p->arena_bytes)))
			return rt_errf(err, "%s: step table: buffer %d lies outside its slot or arena", dn, b);
	}
	for (int i = 0; i < p->nkernels; i++) {
		const rt_prog_kernel *k = &p->kernels[i];
		if (!d->supports(d, k->kind) || (k->kind == RT_K_CONV && !d->conv))
			return rt_errf(err, "%s: kernel %d (%s) is of a kind this device does not run", dn, i,
			               k->name ? k->name : "?");
		if (!rt_kkind_is_call(k->kind) && !k->fn && !d->named_kernels)
			return rt_errf(err, "%s: kernel %d (%s) has no compiled function", dn, i,
			               k->name ? k->name : "?");
		if (k->kind == RT_K_GEMM && k->nargs != 3)
			return rt_errf(err, "%s: GEMM kernel %d has %d buffers, expected 3", dn, i, k->nargs);
		if (k->kind == RT_K_COMM && (k->nargs != 2 || k->comm_n < 0))
			return rt_errf(err, "%s: rank_sum kernel %d has %d buffers, expected 2", dn, i,
			               k->nargs);
		if (k->kind == RT_K_CONV) {
			rt_conv_op op = (rt_conv_op)k->conv_op;
			if (op != RT_CONV_FWD && op != RT_CONV_BWD_DATA && op != RT_CONV_BWD_WEIGHT)
				return rt_errf(err, "%s: convolution kernel %d has no operation", dn, i);
			/* (its sizes are the device's to check, when it plans) */
			if (k->nargs != rt_conv_nargs(op, k->conv_bias))
				return rt_errf(err, "%s: convolution kernel %d has %d buffers, expected %d", dn,
				               i, k->nargs, rt_conv_nargs(op, k->conv_bias));
		}
		for (int j = 0; j < k->nargs; j++)
			if (bad_buf(p, k->args[j]))
				return rt_errf(err, "%s: kernel %d reads buffer %d, out of range", dn, i,
				               k->args[j]);
	}
	for (int i = 0; i < p->noutputs; i++) {
		const rt_prog_output *o = &p->outputs[i];
		if (bad_buf(p, o->buf) || (o->dtype != RT_F32 && o->dtype != RT_F64 && o->dtype != RT_I32))
			return rt_errf(err, "%s: output '%s' has no buffer", dn, o->name);
	}
	for (int i = 0; i < p->ncommits; i++) {
		const rt_prog_commit *c = &p->commits[i];
		if (bad_buf(p, c->src) || bad_buf(p, c->target) || c->snapshot >= p->nbufs ||
		    p->bufs[c->target].slot < 0)
			return rt_errf(err, "%s: commit %d has buffers out of range", dn, i);
	}
	return 0;
}

static int setup(rt_exec *x, runner *s, rt_err *err)
{
	const rt_prog *p = s->p;
	rt_device *d = s->dev;
	int nargs = 0;
	for (int i = 0; i < p->nkernels; i++) {
		nargs += p->kernels[i].nargs;
		s->can_fail |= !rt_kkind_is_call(p->kernels[i].kind) && p->kernels[i].fail_msg != NULL;
	}
	s->bufptr = calloc((size_t)p->nbufs + 1, sizeof *s->bufptr);
	s->args = calloc((size_t)nargs + 1, sizeof *s->args);
	s->kargs = calloc((size_t)p->nkernels + 1, sizeof *s->kargs);
	s->errh = calloc((size_t)p->nkernels + 1, sizeof *s->errh);
	x->slots = calloc((size_t)p->nslots + 1, sizeof *x->slots);
	x->outputs = calloc((size_t)p->noutputs + 1, sizeof *x->outputs);
	if (!s->bufptr || !s->args || !s->kargs || !s->errh || !x->slots || !x->outputs)
		return rt_errf(err, "%s: out of memory", d->name);
	if (d->alloc(d, (size_t)p->arena_bytes, (void **)&s->arena, err) ||
	    d->alloc(d, ((size_t)p->nkernels + 1) * sizeof(int32_t), (void **)&s->errs, err))
		return -1;
	for (int b = 0; b < p->nbufs; b++)
		if (p->bufs[b].slot < 0)
			s->bufptr[b] = s->arena + p->bufs[b].offset;
	for (int i = 0, a = 0; i < p->nkernels; i++) {
		s->kargs[i] = s->args + a;
		a += p->kernels[i].nargs;
	}
	if (d->plan && d->plan(d, p, &s->plan, err))
		return -1;
	memcpy(x->slots, p->slots, (size_t)p->nslots * sizeof *x->slots);
	x->nslots = p->nslots;
	for (int i = 0; i < p->noutputs; i++)
		x->outputs[i] = p->outputs[i].name;
	x->noutputs = p->noutputs;
	return 0;
}

rt_exec *rt_runner_new(const rt_prog *p, rt_device *dev, rt_err *err)
{
	if (!dev) {
		rt_errf(err, "step runner: no device");
		return NULL;
	}
	if (check(p, dev, err)) {
		dev->release(dev);
		return NULL;
	}
	rt_exec *x = calloc(1, sizeof *x);
	runner *s = calloc(1, sizeof *s);
	if (!x || !s) {
		free(x);
		free(s);
		rt_errf(err, "%s: out of memory", dev->name);
		dev->release(dev);
		return NULL;
	}
	x->self = s;
	x->backend = dev->name;
	x->dev = dev;
	x->run = exec_run;
	x->launch = exec_launch;
	x->finish = exec_finish;
	x->free = exec_free;
	x->runner = x;
	s->p = p;
	s->dev = dev;
	if (setup(x, s, err)) {
		exec_free(x);
		return NULL;
	}
	return x;
}

/* --- where a value is final (the overlapped all-reduce, rt_overlap.h) --- */

static int bufs_meet(const rt_prog *p, int a, int b)
{
	const rt_prog_buf *x = &p->bufs[a], *y = &p->bufs[b];
	if (x->slot >= 0 || y->slot >= 0)
		return x->slot == y->slot;
	return x->offset < y->offset + y->bytes && y->offset < x->offset + x->bytes;
}

int rt_runner_final_at(const rt_exec *x, int slot, void **holder)
{
	if (!x || x->runner != x || x->free != exec_free || slot < 0 || slot >= x->nslots)
		return -1;
	const runner *s = x->self;
	const rt_prog *p = s->p;
	int hold = -1, own = -1;
	for (int b = 0; b < p->nbufs && own < 0; b++)
		if (p->bufs[b].slot == slot)
			own = b;
	if (own < 0)
		return -1;
	for (int i = 0; i < p->ncommits; i++) {
		const rt_prog_commit *c = &p->commits[i];
		if (p->bufs[c->target].slot != slot)
			continue;
		if (hold >= 0 || c->snapshot >= 0 || (p->bufs[c->src].slot >= 0 &&
		                                      p->bufs[c->src].slot != slot))
			return -1; /* saved before the commits, or another slot's memory */
		hold = c->src;
	}
	if (hold < 0)
		hold = own; /* written in place, or not at all */
	/* nothing after the run may read it: another commit, an output */
	for (int i = 0; i < p->ncommits; i++) {
		const rt_prog_commit *c = &p->commits[i];
		if (p->bufs[c->target].slot != slot &&
		    (bufs_meet(p, c->src, hold) || (c->snapshot >= 0 && bufs_meet(p, c->snapshot, hold))))
			return -1;
	}
	for (int i = 0; i < p->noutputs; i++)
		if (bufs_meet(p, p->outputs[i].buf, hold))
			return -1;
	int last = -1; /* the last kernel that touches its memory */
	for (int k = 0; k < p->nkernels; k++)
		for (int j = 0; j < p->kernels[k].nargs; j++)
			if (bufs_meet(p, p->kernels[k].args[j], hold))
				last = k;
	*holder = p->bufs[hold].slot >= 0 ? NULL : s->arena + p->bufs[hold].offset;
	return last + 1;
}

int rt_runner_nkernels(const rt_exec *x)
{
	if (!x || x->runner != x || x->free != exec_free)
		return -1;
	return ((const runner *)x->self)->p->nkernels;
}

int rt_runner_last_comm(const rt_exec *x)
{
	if (!x || x->runner != x || x->free != exec_free)
		return -1;
	const rt_prog *p = ((const runner *)x->self)->p;
	int last = -1;
	for (int i = 0; i < p->nkernels; i++)
		if (p->kernels[i].kind == RT_K_COMM)
			last = i;
	return last;
}

int rt_runner_run_watched(rt_exec *x, void **slot_data, double *outputs,
                          const rt_runner_watch *w, rt_err *err)
{
	runner *s = x->self;
	s->watch = w;
	int rc = exec_launch(x, slot_data, err);
	s->watch = NULL;
	if (!rc)
		w->done(w->ctx, s->p->nkernels);
	rt_err se; /* the thread is idle again before any return */
	if (w->settle(w->ctx, rc ? &se : err) || rc)
		return -1;
	return exec_finish(x, outputs, err);
}
