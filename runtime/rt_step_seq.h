/*
 * rt_step_seq.h - one optimizer step as a sequence of program runs: the
 * one place that says which compiled program runs on which micro-batch,
 * shared by the training loop (rt_loop.c), `samc steps` and the built
 * trainers (through rt_train).
 *
 * A model has up to four training programs (passes/pass_micro.h):
 *
 *   sam, base   a whole step; with micro-batches, the last run of a step
 *               (the one that updates)
 *   acc         accum.grad += the gradient at w (optimizer.accumulate)
 *   sam_acc     accum.sam += the gradient at perturbed weights
 *
 * Without micro-batches a step is one run: sam, or base between SAM steps
 * (optimizer.sam.every). With n = optimizer.accumulate or optimizer.sam.m
 * micro-batches of batch_size / n examples (micro-batch i holds rows
 * [i*b/n, (i+1)*b/n) of the step's batch):
 *
 *   base, accumulate K   acc(0) ... acc(K-2) base(K-1)
 *   SAM, accumulate K    acc(0) ... acc(K-1) sam_acc(0) ... sam_acc(K-2) sam(K-1)
 *   SAM, m = M           sam_acc(0) ... sam_acc(M-2) sam(M-1)
 *
 * The step scalars (lr, rho, ...) are those of step t in every run. The
 * random inputs (dropout) of micro-batch i are those of the noise step
 * t*n + i (t itself when n = 1), so a micro-batch sees the same noise at w
 * and at the perturbed weights, and every micro-batch its own. The step's
 * loss and metrics are the reporting runs' (those at w): their means
 * weighted by each micro-batch's real examples.
 *
 * On N > 1 ranks (opt.ranks, through rt_comm) a step is the same
 * machinery spread over them: rank r runs its n local micro-batches, which
 * are the micro-batches r*n .. r*n+n-1 of the N*n of the step (rows
 * [r*b/N, (r+1)*b/N) of the global batch), the accumulators are
 * all-reduced (summed over the ranks in rank order) and upd / upd_sam
 * update from their means over all N*n:
 *
 *   base                 acc(0) ... acc(n-1) [accum.grad] upd
 *   SAM, per replica     sam_acc(0) ... sam_acc(n-1) [accum.sam] upd_sam
 *   SAM, sam.sync        acc(0) ... acc(n-1) [accum.grad]
 *                        sam_acc(0) ... sam_acc(n-1) [accum.sam] upd_sam
 *
 * ([x]: x.* all-reduced after the run; with allreduce_overlap, in buckets
 * during it, as each accumulator's final value is written: rt_overlap.h).
 * Then the model's state (running
 * statistics) is rank 0's on every rank, as PyTorch DDP's
 * broadcast_buffers. Per-replica SAM equals one process with sam.m = N*n,
 * sam.sync and base steps one with accumulate = N*n, bit for bit where the
 * programs match (a sum in rank order from zero accumulators is the sum
 * one process makes in micro-batch order).
 */
#ifndef SAMC_RT_STEP_SEQ_H
#define SAMC_RT_STEP_SEQ_H

#include "rt_comm.h"
#include "rt_exec.h"
#include "rt_recipe.h"
#include "rt_store.h"

typedef enum {
	RT_STEP_SAM, RT_STEP_BASE, RT_STEP_ACC, RT_STEP_SAM_ACC,
	RT_STEP_UPD, RT_STEP_UPD_SAM, /* several ranks: the update alone */
	RT_STEP_NPROGS
} rt_step_prog;

/* A run's program name ("sam", "base", "acc", "sam_acc", "upd", "upd_sam"). */
const char *rt_step_prog_name(rt_step_prog p);

typedef struct {
	rt_exec *x[RT_STEP_NPROGS];  /* NULL where the model has none */
	void **bind[RT_STEP_NPROGS]; /* each one's bindings in the store */
} rt_step_execs;

typedef struct {
	rt_step_prog prog;
	int micro;  /* the micro-batch it runs on, 0..n-1 (local); -1: none (upd) */
	int report; /* its outputs are the step's loss and metrics */
	/* several ranks: the accumulators ("accum.grad", "accum.sam") summed
	 * over the ranks after this run, or NULL */
	const char *reduce;
} rt_step_run;

/* Micro-batches per step on one rank: optimizer.accumulate,
 * optimizer.sam.m or 1. */
int rt_step_micro(const rt_recipe *r);

/* Whether step t is a SAM step (optimizer.sam.every; always with SAM and
 * no base program). */
int rt_step_is_sam(const rt_recipe *r, const rt_step_execs *e, int64_t t);

/* The runs of a SAM step (sam 1) or a base step (sam 0): how many, and
 * run i of them. */
int rt_step_nruns(const rt_recipe *r, int sam);
rt_step_run rt_step_run_at(const rt_recipe *r, int sam, int i);

/* Checks that e has every program the recipe's steps run: 0, or -1 with
 * a message naming the missing one. */
int rt_step_check(const rt_recipe *r, const rt_step_execs *e, rt_err *err);

/* What a driver does around the runs. fill: puts micro-batch `micro` of
 * step t's batch into the data inputs (in the store, flushed) and returns
 * its number of real examples, or -1 with err. report: a reporting run's
 * outputs (x->noutputs of them), for `real` examples; 0 or -1 with err. */
typedef struct {
	int64_t (*fill)(void *ctx, int64_t t, int micro, int64_t micro_batch, rt_err *err);
	int (*report)(void *ctx, const rt_exec *x, const double *outs, int64_t real, rt_err *err);
	void *ctx;
	/* NULL, or called while the step's last run executes when its exec
	 * runs in two halves (launch, finish): the driver sends the next
	 * step's batch there. 0 or -1 with err. */
	int (*during)(void *ctx, int64_t t, rt_err *err);
	/* the ranks (NULL: one process); its size must be the recipe's
	 * opt.ranks */
	rt_comm *comm;
	/* NULL, or the driver's host buffer for the accumulators' all-reduce,
	 * kept between steps: one all-reduce of them all (one bucket) instead
	 * of one per tensor */
	struct rt_step_stage *stage;
} rt_step_io;

typedef struct rt_step_stage {
	void *buf;
	size_t cap;
	/* the same on the device for a device all-reduce (NCCL): dbuf of
	 * dcap bytes on ddev (rt_step_seq_dev.c) */
	void *dbuf;
	size_t dcap;
	rt_device *ddev;
	/* allreduce_overlap: the communication thread, started on the first
	 * overlapped run (rt_overlap.h), and whether its absence was noted */
	struct rt_overlap *ov;
	int noted;
	/* the accumulators' indices (rt_step_stage_idx) */
	int *idx;
	int idx_cap;
} rt_step_stage;
/* Frees the buffer and stops the thread; with SAMC_DEBUG >= 1 says on
 * stderr how many buckets went during the backward pass. */
void rt_step_stage_free(rt_step_stage *s);

/* The stage's device buffer (dbuf) of at least bytes in d's memory, kept
 * between steps and grown when a bucket needs more: the device buckets'
 * packing, with overlap (rt_overlap.h) or without. 0, or -1 with err. */
int rt_step_dev_stage(rt_step_stage *sg, rt_device *d, size_t bytes, rt_err *err);
/* Room for n indices in the stage, kept between steps; NULL when out of
 * memory. */
int *rt_step_stage_idx(rt_step_stage *sg, int n);

/* The accumulators "<what>.*" of st that hold bytes, in store order, as
 * one all-reduce packs them: their store indices into idx (room for st->n),
 * their dtype into *dt, their bytes in all into *bytes. Their number, or -1
 * when they (empty ones too) are of several dtypes: no bucket holds them. */
int rt_step_accums(const rt_store *st, const char *what, int *idx, rt_dtype *dt, size_t *bytes);

/* The accumulators "<what>.*" of a store on a device, summed over the
 * ranks with the communicator's device all-reduce (c->allreduce_dev, NCCL)
 * in buckets of at most cap bytes (allreduce_bucket_mb): consecutive
 * accumulators packed into the stage's device buffer with device copies,
 * one call, unpacked; a bucket of one tensor (one of cap bytes or more
 * among them) summed in place (rt_step_seq_dev.c). 1 when they are of
 * several dtypes (the caller sums them one by one), else 0 or -1 with err. */
#define RT_STEP_DEV_BUCKET ((size_t)25 << 20) /* allreduce_bucket_mb's default, PyTorch DDP's bucket_cap_mb */
int rt_step_reduce_dev(rt_comm *c, rt_store *st, const char *what, rt_step_stage *sg, size_t cap,
                       rt_err *err);

/* Runs optimizer step t (0-based, of `total`) of a run seeded `seed`:
 * its scalars, then each run in order (fill, noise, run, report, the
 * accumulators' all-reduce), then on several ranks rank 0's model state
 * everywhere. fill's `micro` is the micro-batch's index in the step over
 * all ranks (rank*n + i) and micro_batch batch_size / (ranks*n). outs has
 * room for the largest noutputs. 0, or -1 with err (the failing run's
 * program and micro-batch named when there are several). */
int rt_step_do(const rt_step_execs *e, rt_store *st, const rt_recipe *r, int64_t t,
               int64_t total, uint64_t seed, const rt_step_io *io, double *outs, rt_err *err);

#endif
