/*
 * rt_train_run.h - the state of one rt_train call, shared by the loop
 * (rt_loop.c) and evaluation (rt_evaluate.c). Internal to the runtime.
 */
#ifndef SAMC_RT_TRAIN_RUN_H
#define SAMC_RT_TRAIN_RUN_H

#include "rt_dataset.h"
#include "rt_progress.h"
#include "rt_store.h"
#include "rt_train.h"

typedef struct {
	const rt_train_opts *o;
	rt_exec *sam, *base, *eval;
	rt_store st;                  /* one buffer per slot name */
	void **bind_sam, **bind_base, **bind_eval;
	rt_dataset train, test;
	void **dst_train, **dst_test; /* host memory each data column is filled into */
	int *idx_train, *idx_test;    /* its store buffer */
	int64_t *order, *test_order;
	int64_t batch, eval_batch;
	int64_t nb, total;            /* train batches per epoch, steps over the run */
	int nepochs, start_epoch, epochs_done;
	uint64_t seed;
	int64_t step;                 /* optimizer steps done over the run */
	int64_t first_step, stop_step, samples;
	int lr_slot, step_slot, mask_slot; /* store indices, -1 if absent */
	int nm;                       /* metrics: "loss" first */
	char names[RT_TRAIN_MAX_METRICS][32];
	double train_m[RT_TRAIN_MAX_METRICS], test_m[RT_TRAIN_MAX_METRICS];
	double *outs;                 /* scratch for a step's outputs */
	int maxout;
	double t_start, epoch_sps, epoch_seconds;
	rt_progress prog;
	char last_ckpt[4096];
} train_run;

/* Where a batch of ds goes: per column, host memory to fill (dst) and the
 * store buffer (idx) that rt_batch_flush then uploads it to (rt_store_host). */
int rt_batch_targets(rt_store *st, const rt_dataset *ds, void ***dst, int **idx, rt_err *err);
int rt_batch_flush(const rt_store *st, const rt_dataset *ds, const int *idx, rt_err *err);

/* Loads the test split for the eval step and checks its mask input. */
int rt_evaluate_setup(train_run *R, rt_err *err);
/* Runs eval over the whole test split: test[m] = masked sum / examples
 * (NaN for a metric eval does not output, all NaN without an eval step). */
int rt_evaluate(train_run *R, double *test, rt_err *err);

#endif
