/*
 * rt_step_seq.c - the runs of one optimizer step (see rt_step_seq.h).
 */
#include "rt_step_seq.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_noise.h"
#include "rt_overlap.h"
#include "rt_runner.h"

const char *rt_step_prog_name(rt_step_prog p)
{
	static const char *const names[RT_STEP_NPROGS] = {"sam", "base", "acc", "sam_acc", "upd",
	                                                  "upd_sam"};
	return p >= 0 && p < RT_STEP_NPROGS ? names[p] : "?";
}

int rt_step_micro(const rt_recipe *r) { return rt_micro_local(&r->opt); }

int rt_step_is_sam(const rt_recipe *r, const rt_step_execs *e, int64_t t)
{
	/* optimizer.sam.every, or LookSAM's k */
	int every = rt_sam_period(&r->opt);
	int has_sam = e->x[RT_STEP_SAM] || e->x[RT_STEP_UPD_SAM];
	int has_base = e->x[RT_STEP_BASE] || e->x[RT_STEP_UPD];
	return has_sam && (!has_base || t % every == 0);
}

int rt_step_nruns(const rt_recipe *r, int sam)
{
	int n = rt_step_micro(r), accum = rt_micro_accum(&r->opt);
	if (rt_micro_dist(&r->opt)) /* the micro-batches, then the update */
		return (sam && accum ? 2 * n : n) + 1;
	return sam && accum ? 2 * n : n;
}

/* Several ranks (rt_step_seq.h): micro-batch runs, the all-reduces, upd. */
static rt_step_run run_dist(const rt_recipe *r, int sam, int i)
{
	int n = rt_step_micro(r), accum = rt_micro_accum(&r->opt);
	int nmicro = sam && accum ? 2 * n : n;
	if (i == nmicro)
		return (rt_step_run){sam ? RT_STEP_UPD_SAM : RT_STEP_UPD, -1, 0, NULL};
	if (sam && accum && i < n) /* sam.sync: the first gradients first */
		return (rt_step_run){RT_STEP_ACC, i, 1, i == n - 1 ? "accum.grad" : NULL};
	if (sam) {
		int k = accum ? i - n : i;
		return (rt_step_run){RT_STEP_SAM_ACC, k, !accum, k == n - 1 ? "accum.sam" : NULL};
	}
	return (rt_step_run){RT_STEP_ACC, i, 1, i == n - 1 ? "accum.grad" : NULL};
}

rt_step_run rt_step_run_at(const rt_recipe *r, int sam, int i)
{
	int n = rt_step_micro(r);
	rt_step_prog last = sam ? RT_STEP_SAM : RT_STEP_BASE;
	if (rt_micro_dist(&r->opt))
		return run_dist(r, sam, i);
	if (n == 1)
		return (rt_step_run){last, 0, 1, NULL};
	if (r->opt.accumulate > 1 && sam) /* first gradients, then second ones */
		return i < n ? (rt_step_run){RT_STEP_ACC, i, 1, NULL}
		             : (rt_step_run){i == 2 * n - 1 ? RT_STEP_SAM : RT_STEP_SAM_ACC, i - n, 0,
		                             NULL};
	rt_step_prog mid = sam ? RT_STEP_SAM_ACC : RT_STEP_ACC;
	return (rt_step_run){i == n - 1 ? last : mid, i, 1, NULL};
}

int rt_step_check(const rt_recipe *r, const rt_step_execs *e, rt_err *err)
{
	int need[RT_STEP_NPROGS] = {0}, dist = rt_micro_dist(&r->opt);
	rt_step_prog last_sam = dist ? RT_STEP_UPD_SAM : RT_STEP_SAM;
	rt_step_prog last_base = dist ? RT_STEP_UPD : RT_STEP_BASE;
	for (int sam = 0; sam < 2; sam++) {
		if (sam ? !e->x[last_sam] : !e->x[last_base])
			continue;
		for (int i = 0; i < rt_step_nruns(r, sam); i++)
			need[rt_step_run_at(r, sam, i).prog] = 1;
	}
	if (!e->x[last_sam] && !e->x[last_base])
		return rt_errf(err, "no train step (%s)", dist ? "upd_sam or upd" : "sam or base");
	for (int p = 0; p < RT_STEP_NPROGS; p++)
		if (need[p] && !e->x[p])
			return rt_errf(err, "the recipe's steps of %d micro-batches need the '%s' program, "
			               "which the model was not compiled with", rt_step_micro(r),
			               rt_step_prog_name((rt_step_prog)p));
	return 0;
}

static rt_comm_dtype comm_dtype(rt_dtype t) { return t == RT_F64 ? RT_COMM_F64 : RT_COMM_F32; }

void rt_step_stage_free(rt_step_stage *s)
{
	const char *dbg = getenv("SAMC_DEBUG");
	if (s->ov && dbg && atoi(dbg) >= 1) {
		rt_overlap_stat o;
		rt_overlap_stats(s->ov, &o);
		fprintf(stderr, "allreduce_overlap: %" PRId64 " buckets, %" PRId64
		        " of them during the backward pass; %.3f s in the all-reduces, %.3f s of "
		        "it after the kernels\n", o.buckets, o.early, o.comm_s, o.after_s);
	}
	rt_overlap_free(s->ov);
	s->ov = NULL;
	free(s->buf);
	s->buf = NULL;
	s->cap = 0;
	free(s->idx);
	s->idx = NULL;
	s->idx_cap = 0;
	if (s->dbuf)
		s->ddev->free(s->ddev, s->dbuf);
	s->dbuf = NULL;
	s->dcap = 0;
}

static int is_accum(const rt_store_buf *b, const char *what, size_t len)
{
	return strncmp(b->slot.name, what, len) == 0 && b->slot.name[len] == '.';
}

/* Buffer i's bytes into the stage (in) or back from it: a copy where the
 * host sees the device's memory, else a transfer. */
static int stage_copy(rt_store *st, int i, char *stage, int in, rt_err *err)
{
	const rt_store_buf *b = &st->buf[i];
	void *host = !st->dev ? b->addr : st->dev->host_view ? st->dev->host_view(st->dev, b->addr)
	                                                      : NULL;
	if (host) {
		memcpy(in ? stage : host, in ? host : stage, b->bytes);
		return 0;
	}
	return in ? rt_store_download(st, i, stage, err) : rt_store_upload(st, i, stage, err);
}

int *rt_step_stage_idx(rt_step_stage *sg, int n)
{
	if (sg->idx_cap < n + 1) {
		int *p = realloc(sg->idx, ((size_t)n + 1) * sizeof *p);
		if (!p)
			return NULL;
		sg->idx = p;
		sg->idx_cap = n + 1;
	}
	return sg->idx;
}

int rt_step_accums(const rt_store *st, const char *what, int *idx, rt_dtype *dt, size_t *bytes)
{
	size_t len = strlen(what);
	int n = 0, first = -1;
	*dt = RT_F32;
	*bytes = 0;
	for (int i = 0; i < st->n; i++) {
		const rt_store_buf *b = &st->buf[i];
		if (!is_accum(b, what, len))
			continue;
		if (first >= 0 && (int)b->slot.dtype != first)
			return -1;
		first = (int)b->slot.dtype;
		*dt = b->slot.dtype;
		if (b->bytes == 0)
			continue;
		idx[n++] = i;
		*bytes += b->bytes;
	}
	return n;
}

/* One bucket: the accumulators of one dtype packed into the stage, one
 * all-reduce (a call's latency is paid once, not per tensor: the store
 * allocates each buffer on its own), unpacked. 1 when they are of several
 * dtypes (no bucket), else 0 or -1 with err. */
static int reduce_bucket(rt_comm *c, rt_store *st, const char *what, rt_step_stage *sg,
                         rt_err *err)
{
	int *idx = rt_step_stage_idx(sg, st->n);
	if (!idx)
		return rt_errf(err, "out of memory for the all-reduce of %s.*", what);
	rt_dtype dt;
	size_t bytes;
	int n = rt_step_accums(st, what, idx, &dt, &bytes), rc = 0;
	if (n <= 0)
		return n < 0;
	if (sg->cap < bytes) {
		void *p = realloc(sg->buf, bytes);
		if (!p)
			return rt_errf(err, "out of memory for the all-reduce of %s.* (%zu bytes)", what,
			               bytes);
		sg->buf = p;
		sg->cap = bytes;
	}
	char *at = sg->buf;
	for (int k = 0; k < n && !rc; at += st->buf[idx[k]].bytes, k++)
		rc = stage_copy(st, idx[k], at, 1, err);
	if (!rc)
		rc = c->allreduce(c, sg->buf, bytes / (dt == RT_F64 ? 8 : 4), comm_dtype(dt), err);
	at = sg->buf;
	for (int k = 0; k < n && !rc; at += st->buf[idx[k]].bytes, k++)
		rc = stage_copy(st, idx[k], at, 0, err);
	return rc ? -1 : 0;
}

/* The accumulators "<what>.*" summed over the ranks: one bucket through
 * the driver's stage where it gives one (in host memory when the
 * communicator sums host memory, in device memory for a device all-reduce,
 * NCCL), else one all-reduce per tensor. */
static int reduce_accum(rt_comm *c, rt_store *st, const char *what, rt_step_stage *sg,
                        size_t cap, rt_err *err)
{
	if (sg && (!c->allreduce_dev || st->dev)) {
		int rc = !c->allreduce_dev ? reduce_bucket(c, st, what, sg, err)
		                           : rt_step_reduce_dev(c, st, what, sg, cap, err);
		if (rc <= 0)
			return rc;
	}
	size_t len = strlen(what);
	for (int i = 0; i < st->n; i++) {
		const rt_store_buf *b = &st->buf[i];
		if (!is_accum(b, what, len))
			continue;
		size_t n = b->bytes / (b->slot.dtype == RT_F64 ? 8 : 4);
		int rc;
		if (!st->dev) {
			rc = c->allreduce(c, b->addr, n, comm_dtype(b->slot.dtype), err);
		} else {
			void *scratch = malloc(b->bytes ? b->bytes : 1);
			if (!scratch)
				return rt_errf(err, "out of memory for the all-reduce of '%s'", b->slot.name);
			rc = rt_comm_allreduce_dev(c, st->dev, b->addr, n, comm_dtype(b->slot.dtype),
			                           scratch, err);
			free(scratch);
		}
		if (rc)
			return -1;
	}
	return 0;
}

/* --- the overlapped all-reduce (rt_overlap.h) --- */

typedef struct {
	int upto, idx; /* ready after kernel upto - 1; the store's order among equals */
	void *host;    /* host memory; the device form: a device address */
	size_t n;
	rt_dtype dtype;
} ov_member;

static int ov_cmp(const void *a, const void *b)
{
	const ov_member *x = a, *y = b;
	return x->upto != y->upto ? (x->upto > y->upto) - (x->upto < y->upto) : x->idx - y->idx;
}

/* The communication thread (host memory) or the device form (d's side
 * queue, NCCL), made on the first call; NULL (after a note on rank 0,
 * once) where neither can be had. */
static rt_overlap *ov_make(rt_comm *c, rt_device *d, int on_dev, rt_step_stage *sg)
{
	if (sg->ov || sg->noted)
		return sg->ov;
	rt_err e;
	if (on_dev) {
		if ((sg->ov = rt_overlap_new_dev(c, d, &e)))
			return sg->ov;
	} else if (!c->serialized)
		snprintf(e.msg, sizeof e.msg, "the MPI library grants less than "
		         "MPI_THREAD_SERIALIZED");
	else if ((sg->ov = rt_overlap_new(c, &e)))
		return sg->ov;
	sg->noted = 1;
	if (c->rank == 0)
		fprintf(stderr, "note: %s: the accumulators' all-reduce runs after the backward pass "
		        "(allreduce_overlap off)\n", e.msg);
	return NULL;
}

/* Run x with the accumulators "<what>.*" all-reduced during it: 1 when it
 * ran so (0 or -1 in *rc), 0 when the overlapped form does not apply
 * (nothing ran: the caller runs and reduces after). */
static int run_overlapped(rt_exec *x, void **bind, double *outs, rt_comm *c, rt_store *st,
                          const char *what, const rt_recipe *r, rt_step_stage *sg, int *rc,
                          rt_err *err)
{
	rt_exec *rx = x->runner;
	rt_device *d = rx ? rx->dev : NULL;
	if (!r->allreduce_overlap || c->size < 2 || !sg || !rx || !d)
		return 0;
	/* host memory: the thread and c's allreduce; device memory summed by
	 * the communicator (NCCL): the device's side queue */
	int on_dev = c->allreduce_dev && c->allreduce_dev_side && d->side_fork;
	if (!on_dev && (!d->host_view || c->allreduce_dev))
		return 0;
	size_t len = strlen(what);
	int n = 0;
	for (int i = 0; i < st->n; i++)
		n += is_accum(&st->buf[i], what, len);
	ov_member *m = calloc((size_t)n + 1, sizeof *m);
	if (!m)
		return 0;
	/* the program's own collectives (sync_bn) run on this thread: no bucket
	 * goes before the last of them, so the two never call the communicator
	 * at once and every rank issues its collectives in the same order */
	int k = 0, after = rt_runner_last_comm(rx) + 1;
	for (int i = 0; i < st->n; i++) {
		const rt_store_buf *b = &st->buf[i];
		if (!is_accum(b, what, len))
			continue;
		int sl = rt_exec_find_slot(rx, b->slot.name);
		void *holder = NULL;
		int upto = sl >= 0 ? rt_runner_final_at(rx, sl, &holder) : -1;
		if (upto < 0 || (b->slot.dtype != RT_F32 && b->slot.dtype != RT_F64)) {
			free(m); /* not one buffer's until the commits: after the run */
			return 0;
		}
		void *at = holder ? holder : bind[sl];
		m[k++] = (ov_member){upto > after ? upto : after, i, on_dev ? at : d->host_view(d, at),
		                     b->bytes / (b->slot.dtype == RT_F64 ? 8 : 4), b->slot.dtype};
	}
	rt_overlap *ov = ov_make(c, d, on_dev, sg);
	if (!ov) {
		free(m);
		return 0;
	}
	qsort(m, (size_t)n, sizeof *m, ov_cmp);
	rt_overlap_begin(ov, (size_t)(r->allreduce_bucket_mb * 1048576.0), rt_runner_nkernels(rx));
	for (int i = 0; i < n; i++)
		if (rt_overlap_add(ov, m[i].host, m[i].n, m[i].dtype, m[i].upto, err)) {
			free(m);
			*rc = -1;
			return 1;
		}
	free(m);
	size_t packed = on_dev ? rt_overlap_packed_bytes(ov) : 0;
	if (packed && rt_step_dev_stage(sg, d, packed, err)) {
		*rc = -1;
		return 1;
	}
	rt_overlap_set_stage(ov, packed ? sg->dbuf : NULL);
	rt_runner_watch w = {rt_overlap_done, rt_overlap_settle, ov};
	rx->comm = x->comm; /* x's run would hand it over: its collectives (sync_bn) */
	*rc = rt_runner_run_watched(rx, bind, outs, &w, err);
	return 1;
}

static int has_slot(const rt_exec *x, const char *name)
{
	for (int i = 0; x && i < x->nslots; i++)
		if (strcmp(x->slots[i].name, name) == 0)
			return 1;
	return 0;
}

/* The model's state (batch_norm's running statistics): the STATE the
 * micro-batch programs move and the updates do not read, accumulators
 * aside. Each rank moved it with its own micro-batches; rank 0's is
 * everyone's (PyTorch DDP's broadcast_buffers). */
static int bcast_state(rt_comm *c, const rt_step_execs *e, rt_store *st, rt_err *err)
{
	for (int i = 0; i < st->n; i++) {
		const rt_store_buf *b = &st->buf[i];
		const char *name = b->slot.name;
		if (b->slot.role != RT_SLOT_STATE || strncmp(name, "accum.", 6) == 0 ||
		    (!has_slot(e->x[RT_STEP_ACC], name) && !has_slot(e->x[RT_STEP_SAM_ACC], name)) ||
		    has_slot(e->x[RT_STEP_UPD], name) || has_slot(e->x[RT_STEP_UPD_SAM], name))
			continue;
		void *h = malloc(b->bytes ? b->bytes : 1);
		if (!h)
			return rt_errf(err, "out of memory for the broadcast of '%s'", name);
		int rc = rt_store_download(st, i, h, err) || c->bcast(c, h, b->bytes, 0, err) ||
		         rt_store_upload(st, i, h, err);
		free(h);
		if (rc)
			return -1;
	}
	return 0;
}

/* One run; the step's last one in two halves around io->during, where the
 * driver and the exec allow it. */
static int run_one(rt_exec *x, void **bind, double *outs, const rt_step_io *io, int64_t t,
                   int last, rt_err *err)
{
	if (!last || !io->during || !x->launch || !x->finish)
		return x->run(x, bind, outs, err);
	if (x->launch(x, bind, err))
		return -1;
	if (io->during(io->ctx, t, err)) {
		rt_err ignored; /* the device must be idle before the error returns */
		x->finish(x, outs, &ignored);
		return -1;
	}
	return x->finish(x, outs, err);
}

int rt_step_do(const rt_step_execs *e, rt_store *st, const rt_recipe *r, int64_t t,
               int64_t total, uint64_t seed, const rt_step_io *io, double *outs, rt_err *err)
{
	int sam = rt_step_is_sam(r, e, t), n = rt_step_micro(r), nruns = rt_step_nruns(r, sam);
	int total_n = rt_micro_total(&r->opt), dist = rt_micro_dist(&r->opt);
	rt_comm *comm = io->comm ? io->comm : rt_comm_self();
	if (comm->size != (dist ? r->opt.ranks : 1))
		return rt_errf(err, "the model was compiled for %d rank%s, the run has %d",
		               dist ? r->opt.ranks : 1, dist ? "s" : "", comm->size);
	int first = dist ? comm->rank * n : 0; /* this rank's first micro-batch of the step */
	rt_step_scalar sc[RT_STEP_SCALARS_MAX];
	int nsc = rt_step_scalars(r, t, total, sc);
	for (int i = 0; i < nsc; i++)
		if (rt_store_set_scalar(st, sc[i].name, sc[i].value, err))
			return -1;
	int64_t micro_batch = r->batch_size / total_n;
	int filled = -1; /* the micro-batch in the data inputs now */
	for (int i = 0; i < nruns; i++) {
		rt_step_run run = rt_step_run_at(r, sam, i);
		rt_exec *x = e->x[run.prog];
		rt_err xe;
		int64_t real = 0;
		if (!x)
			return rt_errf(err, "no '%s' program", rt_step_prog_name(run.prog));
		if (run.micro < 0) { /* upd, upd_sam: the accumulators alone */
			if (x->run(x, e->bind[run.prog], outs, &xe))
				return rt_errf(err, "%s (program %s)", xe.msg, rt_step_prog_name(run.prog));
			continue;
		}
		int gm = first + run.micro; /* the micro-batch over all ranks */
		if (run.micro != filled || n > 1) {
			if ((real = io->fill(io->ctx, t, gm, micro_batch, &xe)) < 0)
				goto fail;
			filled = run.micro;
		}
		int ov = 0, rc = 0; /* the accumulators' all-reduce during the run */
		if (rt_noise_fill(st, seed, total_n > 1 ? t * total_n + gm : t, x->pool, &xe))
			goto fail;
		if (run.reduce)
			ov = run_overlapped(x, e->bind[run.prog], outs, comm, st, run.reduce, r, io->stage,
			                    &rc, &xe);
		if ((ov ? rc : run_one(x, e->bind[run.prog], outs, io, t, i == nruns - 1, &xe)) ||
		    (run.report && io->report(io->ctx, x, outs, real, &xe)))
			goto fail;
		if (run.reduce && !ov && reduce_accum(comm, st, run.reduce, io->stage,
		                                     (size_t)(r->allreduce_bucket_mb * 1048576.0), &xe))
			return rt_errf(err, "%s", xe.msg);
		continue;
	fail:
		if (total_n == 1)
			return rt_errf(err, "%s", xe.msg);
		return rt_errf(err, "%s (micro-batch %d of %d, program %s)", xe.msg, gm + 1, total_n,
		               rt_step_prog_name(run.prog));
	}
	if (dist && bcast_state(comm, e, st, err))
		return -1;
	return 0;
}
