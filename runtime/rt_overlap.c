/*
 * rt_overlap.c - the communication thread of an overlapped all-reduce
 * (see rt_overlap.h).
 */
#include "rt_overlap.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
	void *buf;
	size_t n;
	rt_dtype dtype;
} member;

typedef struct {
	int first, end; /* members [first, end) */
	int upto;       /* ready once kernels [0, upto) are complete */
	size_t bytes;
	rt_dtype dtype;
} bucket;

struct rt_overlap {
	rt_comm *comm;
	/* the device form: no thread; each bucket is enqueued on dev's side
	 * queue once ready, packed into dstage (the caller's) when it has
	 * several members */
	rt_device *dev;
	void *dstage;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* the run's plan: written only while the thread is idle */
	member *m;
	int nm, capm;
	bucket *b;
	int nb, capb;
	size_t bucket_bytes;
	int nkernels;
	/* under mu: buckets handed over (the caller's) and reduced (the thread's) */
	int nposted, ndone;
	int quit, failed;
	rt_err err;
	/* the thread's own: the packed bucket */
	char *stage;
	size_t stage_cap;
	int64_t buckets, early;
	double comm_s;  /* in the all-reduces (the thread's) */
	double after_s; /* in settle: the part not hidden behind the kernels */
};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static size_t esize(rt_dtype t) { return t == RT_F64 ? 8 : 4; }

/* Bucket i: one member is summed where it lies; several are packed into
 * the stage, summed with one call (one latency, not one per tensor) and
 * unpacked. */
static int reduce(rt_overlap *o, const bucket *k, rt_err *err)
{
	rt_comm_dtype dt = k->dtype == RT_F64 ? RT_COMM_F64 : RT_COMM_F32;
	size_t es = esize(k->dtype);
	if (k->end - k->first == 1)
		return o->comm->allreduce(o->comm, o->m[k->first].buf, o->m[k->first].n, dt, err);
	if (o->stage_cap < k->bytes) {
		char *p = realloc(o->stage, k->bytes);
		if (!p)
			return rt_errf(err, "out of memory for an all-reduce bucket of %zu bytes", k->bytes);
		o->stage = p;
		o->stage_cap = k->bytes;
	}
	char *at = o->stage;
	for (int i = k->first; i < k->end; i++) {
		memcpy(at, o->m[i].buf, o->m[i].n * es);
		at += o->m[i].n * es;
	}
	if (o->comm->allreduce(o->comm, o->stage, k->bytes / es, dt, err))
		return -1;
	at = o->stage;
	for (int i = k->first; i < k->end; i++) {
		memcpy(o->m[i].buf, at, o->m[i].n * es);
		at += o->m[i].n * es;
	}
	return 0;
}

/* The device form of reduce: the side queue follows the kernels enqueued
 * so far, then packs, sums (NCCL) and unpacks there; nothing waits. */
static int reduce_dev(rt_overlap *o, const bucket *k, rt_err *err)
{
	rt_device *d = o->dev;
	rt_comm *c = o->comm;
	rt_comm_dtype dt = k->dtype == RT_F64 ? RT_COMM_F64 : RT_COMM_F32;
	size_t es = esize(k->dtype);
	if (d->side_fork(d, err))
		return -1;
	if (k->end - k->first == 1)
		return c->allreduce_dev_side(c, d, o->m[k->first].buf, o->m[k->first].n, dt, err);
	char *at = o->dstage; /* a device address: offsets only */
	for (int i = k->first; i < k->end; i++) {
		if (d->side_copy(d, at, o->m[i].buf, o->m[i].n * es, err))
			return -1;
		at += o->m[i].n * es;
	}
	if (c->allreduce_dev_side(c, d, o->dstage, k->bytes / es, dt, err))
		return -1;
	at = o->dstage;
	for (int i = k->first; i < k->end; i++) {
		if (d->side_copy(d, o->m[i].buf, at, o->m[i].n * es, err))
			return -1;
		at += o->m[i].n * es;
	}
	return 0;
}

/* The device form: buckets [ndone, to) enqueued on the calling thread;
 * after a failure the rest are skipped (the run ends) */
static void post_dev(rt_overlap *o, int to)
{
	for (; o->ndone < to; o->ndone++) {
		rt_err e;
		double t0 = now_s();
		if (!o->failed && reduce_dev(o, &o->b[o->ndone], &e)) {
			o->failed = 1;
			o->err = e;
		}
		o->comm_s += now_s() - t0;
		o->buckets += !o->failed;
	}
}

/* Reduces the buckets handed over, in order; after a failure the rest are
 * skipped (the run ends) but still counted, so settle returns. */
static void *thread_main(void *arg)
{
	rt_overlap *o = arg;
	pthread_mutex_lock(&o->mu);
	for (;;) {
		while (!o->quit && o->ndone == o->nposted)
			pthread_cond_wait(&o->cv, &o->mu);
		if (o->ndone == o->nposted)
			break;
		const bucket *k = &o->b[o->ndone];
		int skip = o->failed;
		pthread_mutex_unlock(&o->mu);
		rt_err e;
		double t0 = now_s();
		int rc = skip ? 0 : reduce(o, k, &e);
		double dt = now_s() - t0;
		pthread_mutex_lock(&o->mu);
		o->comm_s += dt;
		if (rc && !o->failed) {
			o->failed = 1;
			o->err = e;
		}
		o->ndone++;
		o->buckets += !skip;
		pthread_cond_broadcast(&o->cv);
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

rt_overlap *rt_overlap_new(rt_comm *c, rt_err *err)
{
	rt_overlap *o = calloc(1, sizeof *o);
	if (!o) {
		rt_errf(err, "out of memory for the all-reduce thread");
		return NULL;
	}
	o->comm = c;
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	if (pthread_create(&o->thread, NULL, thread_main, o) != 0) {
		pthread_mutex_destroy(&o->mu);
		pthread_cond_destroy(&o->cv);
		free(o);
		rt_errf(err, "cannot start the all-reduce thread (allreduce_overlap = false runs "
		             "without it)");
		return NULL;
	}
	return o;
}

rt_overlap *rt_overlap_new_dev(rt_comm *c, rt_device *d, rt_err *err)
{
	if (!c->allreduce_dev_side || !c->wait_dev_side || !d->side_fork) {
		rt_errf(err, "the %s communicator cannot sum %s memory beside the kernels", c->name,
		        d->name);
		return NULL;
	}
	rt_overlap *o = calloc(1, sizeof *o);
	if (!o) {
		rt_errf(err, "out of memory for the overlapped all-reduce");
		return NULL;
	}
	o->comm = c;
	o->dev = d;
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	return o;
}

void rt_overlap_free(rt_overlap *o)
{
	if (!o)
		return;
	if (!o->dev) { /* the thread */
		pthread_mutex_lock(&o->mu);
		o->quit = 1;
		pthread_cond_broadcast(&o->cv);
		pthread_mutex_unlock(&o->mu);
		pthread_join(o->thread, NULL);
	}
	pthread_mutex_destroy(&o->mu);
	pthread_cond_destroy(&o->cv);
	free(o->m);
	free(o->b);
	free(o->stage);
	free(o);
}

void rt_overlap_begin(rt_overlap *o, size_t bucket_bytes, int nkernels)
{
	pthread_mutex_lock(&o->mu); /* the thread is idle: settle waited for it */
	o->nposted = o->ndone = 0;
	o->failed = 0;
	pthread_mutex_unlock(&o->mu);
	o->nm = o->nb = 0;
	o->bucket_bytes = bucket_bytes;
	o->nkernels = nkernels;
}

int rt_overlap_add(rt_overlap *o, void *buf, size_t n, rt_dtype dtype, int upto, rt_err *err)
{
	size_t bytes = n * esize(dtype);
	if (o->nm == o->capm || o->nb == o->capb) {
		int cm = o->capm ? 2 * o->capm : 16, cb = o->capb ? 2 * o->capb : 16;
		member *m = realloc(o->m, (size_t)cm * sizeof *m);
		if (m)
			o->m = m, o->capm = cm;
		bucket *b = m ? realloc(o->b, (size_t)cb * sizeof *b) : NULL;
		if (!b)
			return rt_errf(err, "out of memory for the all-reduce's plan");
		o->b = b, o->capb = cb;
	}
	bucket *last = o->nb ? &o->b[o->nb - 1] : NULL;
	if (!last || last->dtype != dtype || last->bytes + bytes > o->bucket_bytes) {
		last = &o->b[o->nb++];
		*last = (bucket){o->nm, o->nm, upto, 0, dtype};
	}
	o->m[o->nm++] = (member){buf, n, dtype};
	last->end = o->nm;
	last->upto = upto;
	last->bytes += bytes;
	return 0;
}

size_t rt_overlap_packed_bytes(const rt_overlap *o)
{
	size_t need = 0;
	for (int i = 0; i < o->nb; i++)
		if (o->b[i].end - o->b[i].first > 1 && o->b[i].bytes > need)
			need = o->b[i].bytes;
	return need;
}

void rt_overlap_set_stage(rt_overlap *o, void *dev_buf)
{
	o->dstage = dev_buf;
}

/* nposted is the caller's alone to write: it reads it without the lock */
void rt_overlap_done(void *ctx, int upto)
{
	rt_overlap *o = ctx;
	int to = o->nposted;
	while (to < o->nb && o->b[to].upto <= upto)
		to++;
	if (to == o->nposted)
		return;
	if (o->dev) {
		if (upto < o->nkernels)
			o->early += to - o->nposted;
		o->nposted = to;
		post_dev(o, to);
		return;
	}
	pthread_mutex_lock(&o->mu);
	if (upto < o->nkernels)
		o->early += to - o->nposted;
	o->nposted = to;
	pthread_cond_broadcast(&o->cv);
	pthread_mutex_unlock(&o->mu);
}

/* The device form: the rest enqueued, the side queue waited for (NCCL's
 * errors and timeout), and the kernels after this follow it. */
static int settle_dev(rt_overlap *o, rt_err *err)
{
	double t0 = now_s();
	o->nposted = o->nb;
	post_dev(o, o->nb);
	rt_err e = {{0}};
	if (o->nb && !o->failed &&
	    (o->comm->wait_dev_side(o->comm, o->dev, &e) || o->dev->side_join(o->dev, &e))) {
		o->failed = 1;
		o->err = e;
	}
	double dt = now_s() - t0;
	o->after_s += dt;
	o->comm_s += dt;
	if (o->failed && err)
		*err = o->err;
	return o->failed ? -1 : 0;
}

int rt_overlap_settle(void *ctx, rt_err *err)
{
	rt_overlap *o = ctx;
	if (o->dev)
		return settle_dev(o, err);
	double t0 = now_s();
	pthread_mutex_lock(&o->mu);
	o->nposted = o->nb;
	pthread_cond_broadcast(&o->cv);
	while (o->ndone < o->nposted)
		pthread_cond_wait(&o->cv, &o->mu);
	o->after_s += now_s() - t0;
	int failed = o->failed;
	if (failed && err)
		*err = o->err;
	pthread_mutex_unlock(&o->mu);
	return failed ? -1 : 0;
}

void rt_overlap_stats(rt_overlap *o, rt_overlap_stat *out)
{
	memset(out, 0, sizeof *out);
	if (!o)
		return;
	pthread_mutex_lock(&o->mu);
	*out = (rt_overlap_stat){o->buckets, o->early, o->comm_s, o->after_s};
	pthread_mutex_unlock(&o->mu);
}
