/*
 * rt_loop_epoch.c - one epoch of the training loop (see rt_train_run.h):
 * each step's batch filled into the store (sent ahead on a device with
 * overlapped uploads), the step run, its metrics summed into the epoch's,
 * the progress line, the stop on a signal or a loss that is not finite,
 * and checkpoint.every_steps.
 */
#include "rt_train_run.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

int rt_batch_targets(rt_store *st, const rt_dataset *ds, void ***dst, int **idx, rt_err *err)
{
	*dst = calloc((size_t)ds->ncol + 1, sizeof **dst);
	*idx = calloc((size_t)ds->ncol + 1, sizeof **idx);
	if (!*dst || !*idx)
		return rt_errf(err, "out of memory");
	for (int c = 0; c < ds->ncol; c++) {
		if (((*idx)[c] = rt_store_find(st, ds->col[c].input)) < 0)
			return rt_errf(err, "input '%s' has no buffer in the run", ds->col[c].input);
		if (!((*dst)[c] = rt_store_host(st, (*idx)[c])))
			return rt_errf(err, "out of memory for input '%s'", ds->col[c].input);
	}
	return 0;
}

int rt_batch_flush(const rt_store *st, const rt_dataset *ds, const int *idx, rt_err *err)
{
	for (int c = 0; c < ds->ncol; c++)
		if (rt_store_flush(st, idx[c], err))
			return -1;
	return 0;
}

int rt_batch_send(rt_store *st, const rt_dataset *ds, const int *idx, rt_err *err)
{
	for (int c = 0; c < ds->ncol; c++)
		if (rt_store_send(st, idx[c], err))
			return -1;
	return 0;
}

int rt_batch_land(rt_store *st, const rt_dataset *ds, const int *idx, rt_err *err)
{
	for (int c = 0; c < ds->ncol; c++)
		if (rt_store_land(st, idx[c], err))
			return -1;
	return rt_store_fence(st, err);
}

static const char *nonfinite_name(double v)
{
	return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

/* The training loop's side of a step (rt_step_seq.h): micro-batch
 * `micro` of batch b of the epoch, and the reporting runs' outputs. */
typedef struct {
	train_run *R;
	int64_t b;
	rt_augment *aug;
	int64_t real;         /* the step's real examples so far */
	int ov;               /* overlapped uploads (overlapped()) */
	int64_t b0;           /* the epoch's first batch here: uploaded at once */
	int64_t *real_next;   /* real examples of the batch sent ahead */
	double sum[RT_TRAIN_MAX_METRICS], cnt[RT_TRAIN_MAX_METRICS]; /* the step's */
} epoch_io;

static int64_t fill_micro(void *ctx, int64_t t, int micro, int64_t mb, rt_err *err)
{
	(void)t;
	epoch_io *io = ctx;
	train_run *R = io->R;
	rt_exec *x = R->train_x;
	/* overlapped: every batch but the epoch's first was sent during the
	 * step before (send_next); it only has to land */
	if (io->ov && io->b != io->b0)
		return rt_batch_land(&R->st, &R->train, R->idx_train, err) ? -1 : *io->real_next;
	int64_t real = rt_dataset_fill_aug(&R->train, R->order, io->b * R->batch + micro * mb, mb,
	                                   RT_PAD_WRAP, R->dst_train, NULL, RT_F32, x->pool, io->aug);
	if (rt_batch_flush(&R->st, &R->train, R->idx_train, err) ||
	    (io->ov && rt_batch_land(&R->st, &R->train, R->idx_train, err)))
		return -1;
	return real;
}

/* While step b runs (overlapped): batch b+1 filled and sent on the copy
 * stream. The staging is free: step b-1's finish waited for the device. */
static int send_next(void *ctx, int64_t t, rt_err *err)
{
	(void)t;
	epoch_io *io = ctx;
	train_run *R = io->R;
	if (io->b + 1 >= R->nb)
		return 0;
	rt_exec *x = R->train_x;
	*io->real_next = rt_dataset_fill_aug(&R->train, R->order, (io->b + 1) * R->batch, R->batch,
	                                     RT_PAD_WRAP, R->dst_train, NULL, RT_F32, x->pool, io->aug);
	return rt_batch_send(&R->st, &R->train, R->idx_train, err);
}

/* A step's reporting runs into io's sums (step_sums adds them to the
 * epoch's, over every rank). */
static int report_outs(void *ctx, const rt_exec *x, const double *outs, int64_t real, rt_err *err)
{
	(void)err;
	epoch_io *io = ctx;
	train_run *R = io->R;
	for (int i = 0; i < x->noutputs; i++) {
		int m = rt_run_metric_index(R, x->outputs[i]);
		io->sum[m] += outs[i] * (double)real;
		io->cnt[m] += (double)real;
	}
	io->real += real;
	return 0;
}

/* Whether batches travel while the step before runs: a device with
 * overlapped uploads, and execs that run in two halves. */
static int overlapped(const train_run *R)
{
	/* a step of micro-batches fills its data inputs several times */
	return rt_micro_total(&R->o->recipe->opt) == 1 && rt_store_can_send(&R->st) &&
	       (!R->sam || (R->sam->launch && R->sam->finish)) &&
	       (!R->base || (R->base->launch && R->base->finish));
}

int rt_run_epoch(train_run *R, int e, int64_t b0, double *train, rt_err *err)
{
	const rt_recipe *r = R->o->recipe;
	double *sum = R->esum, *cnt = R->ecnt;
	if (b0 == 0)
		for (int m = 0; m < RT_TRAIN_MAX_METRICS; m++)
			sum[m] = cnt[m] = 0;
	double t0 = rt_now();
	rt_dataset_order(R->train.n, R->seed, e, R->order);
	rt_augment aug = {&r->data.augment, R->seed, e};
	/* overlapped: batch b+1 is filled and sent while step b runs, and
	 * lands just before step b+1; step b's finish waits for the device,
	 * so the staging is free again when batch b+2 is filled */
	int ov = overlapped(R);
	int64_t real_next = 0;
	for (int64_t b = b0; b < R->nb; b++) {
		int64_t t = R->step;
		epoch_io io = {R, b, &aug, 0, ov, b0, &real_next, {0}, {0}};
		rt_step_io sio = {fill_micro, report_outs, &io, ov ? send_next : NULL, R->comm,
		                  &R->stage};
		rt_err xe;
		int stop = 0;
		R->nonfinite_m = -1;
		if (rt_step_do(&R->E, &R->st, r, t, R->total, R->seed, &sio, R->outs, &xe) ||
		    rt_run_step_sums(R, io.sum, io.cnt, &io.real, &stop, &xe))
			return rt_errf(err, "step %" PRId64 " (epoch %d): %s", t + 1, e + 1, xe.msg);
		if (R->nonfinite_m >= 0) {
			rt_progress_break(&R->prog);
			return rt_errf(err, "step %" PRId64 " (epoch %d): loss is %s; last good "
			               "checkpoint: %s", t + 1, e + 1, nonfinite_name(R->nonfinite_v),
			               R->last_ckpt[0] ? R->last_ckpt
			               : R->o->ckpt_dir ? "none yet" : "none (no checkpoint directory)");
		}
		double lr = rt_sched_lr(r, t, R->total);
		R->step++;
		R->samples += io.real;
		for (int m = 0; m < R->nm; m++)
			train[m] = cnt[m] > 0 ? sum[m] / cnt[m] : NAN;
		double el = rt_now() - t0, sps = el > 0 ? (double)((b + 1 - b0) * R->batch) / el : 0;
		double run_el = rt_now() - R->t_start;
		int64_t here = R->step - R->first_step;
		rt_progress_step_info si = {
			.epoch = e + 1, .nepochs = R->nepochs, .batch = b + 1, .nbatches = R->nb,
			.step = R->step, .total_steps = R->total, .lr = lr, .nmetrics = R->nm,
			.name = (const char (*)[32])R->names, .value = train, .samples_per_s = sps,
			.eta_s = here > 0 ? run_el / (double)here * (double)(R->stop_step - R->step) : 0};
		rt_progress_step(&R->prog, &si);
		if (stop)
			return 1;
		/* checkpoint.every_steps: where the run stands, as on a signal; at
		 * an epoch's end the epoch's own checkpoint follows its evaluation */
		int64_t every_ckpt = r->ckpt_every;
		if (every_ckpt > 0 && R->step % every_ckpt == 0 && b + 1 < R->nb &&
		    rt_run_write_ckpt(R, e, 1, err))
			return -1;
	}
	double el = rt_now() - t0;
	R->epoch_sps = el > 0 ? (double)((R->nb - b0) * R->batch) / el : 0;
	R->epoch_seconds = el;
	return 0;
}
