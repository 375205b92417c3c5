/*
 * rt_train_run.h - the state of one rt_train call, shared by the loop
 * (rt_loop*.c) and evaluation (rt_evaluate.c). Internal to the runtime.
 */
#ifndef SAMC_RT_TRAIN_RUN_H
#define SAMC_RT_TRAIN_RUN_H

#include <signal.h>

#include "rt_comm.h"
#include "rt_dataset.h"
#include "rt_progress.h"
#include "rt_step_seq.h"
#include "rt_store.h"
#include "rt_train.h"

typedef struct {
	const rt_train_opts *o;       /* on ranks other than 0: quiet, no files */
	rt_comm *comm;                /* the ranks; rt_comm_self() in one process */
	rt_exec *train_x;             /* a program that runs on batches (data, pool) */
	rt_exec *sam, *base, *eval;
	rt_store st;                  /* one buffer per slot name */
	void **bind_sam, **bind_base, **bind_eval;
	rt_dataset train, test;
	void **dst_train, **dst_test; /* host memory each data column is filled into */
	int *idx_train, *idx_test;    /* its store buffer */
	int64_t *order;
	rt_step_execs E;              /* the training programs (rt_step_seq.h) */
	rt_step_stage stage;          /* several ranks: the accumulators' all-reduce bucket */
	void **bind_acc, **bind_sam_acc, **bind_upd, **bind_upd_sam;
	int64_t batch, eval_batch;    /* batch: a step's examples (batch_size) */
	int64_t micro_batch;          /* the train programs' batch: batch / micro-batches */
	int nonfinite_m;              /* a step's metric that was not finite, or -1 */
	double nonfinite_v;
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
	int64_t start_batch;          /* batches of start_epoch a resumed run had done */
	double esum[RT_TRAIN_MAX_METRICS], ecnt[RT_TRAIN_MAX_METRICS]; /* the epoch so far */
	int best_m;                   /* checkpoint.monitor: metric index (-1: none) */
	const double *best_of;        /* the means it ranks by: train_m, val_m or test_m */
	int nbest;                    /* the best epochs so far, best first */
	int best_epoch[RT_CKPT_MAX_BEST + 1];
	double best_val[RT_CKPT_MAX_BEST + 1];
	int es_m;                     /* early_stopping.monitor: metric index (-1: none) */
	const double *es_of;          /* the means it watches: train_m, val_m or test_m */
	int es_best_epoch, es_wait;   /* the best epoch so far (0: none), epochs since */
	double es_best;               /* its value */
	int hook_failed;              /* the epoch hook failed once: not called again */
	int signal;                   /* SIGINT or SIGTERM that stopped the run, else 0 */
	struct sigaction old_int, old_term; /* handlers before rt_train's */
	/* The validation set (data.val or data.val_split): evaluated after
	 * every epoch instead of the test set, which is then evaluated once,
	 * when the run ends. */
	int has_val, has_test;
	rt_dataset val;
	void **dst_val;
	int *idx_val;
	double val_m[RT_TRAIN_MAX_METRICS];
	int64_t *eval_order;          /* 0, 1, 2, ...: the evaluated splits' row order */
} train_run;

/* The index of a metric name in R->names, added if new; -1 when the
 * table is full (rt_loop.c). */
int rt_run_metric_index(train_run *R, const char *name);
/* One epoch e of training from batch b0 (0, or where a resumed run stopped
 * in the middle of it); the means of the metrics into train[]. 1 when a
 * signal asked the run to stop after the step just done, else 0 or -1
 * with err (rt_loop_epoch.c). */
int rt_run_epoch(train_run *R, int e, int64_t b0, double *train, rt_err *err);
/* Checkpoints (rt_loop_ckpt.c). Writes DIR/last.safetensors (and, at an
 * epoch's end with ckpt_keep, DIR/epoch-N.safetensors) at the run's step;
 * mid_epoch also records the epoch's running sums, so a resumed run
 * continues the epoch's means too. */
int rt_run_write_ckpt(train_run *R, int epochs_done, int mid_epoch, rt_err *err);
/* Makes the checkpoint directory if needed and checks a file can be made
 * in it (before training, so a typo costs no epoch); 0 without one. */
int rt_run_ckpt_dir_check(train_run *R, rt_err *err);
/* Loads o->resume_path: the seed, epochs, step and position in the epoch. */
int rt_run_resume(train_run *R, rt_err *err);
/* The best checkpoints (rt_loop_best.c). setup: checkpoint.monitor against
 * the run's metrics; rank: the epoch just evaluated enters the ranking or
 * not (*entered), and pushes out *evicted (an epoch, 0: none); json: the
 * ranking for a checkpoint's metadata ("" without a monitor); resume: the
 * ranking a checkpoint carries, if it ranks by the same monitor and mode. */
int rt_run_best_setup(train_run *R, rt_err *err);
int rt_run_best_rank(train_run *R, int epoch, int *entered, int *evicted);
int rt_run_best_json(const train_run *R, char *out, size_t len, rt_err *err);
int rt_run_best_resume(train_run *R, const char *path, const char *json, rt_err *err);
/* Early stopping (rt_loop_early.c). setup: early_stopping.monitor against
 * the run's metrics; update: the epoch just evaluated, 1 when the run stops
 * there; json/resume: its state in a checkpoint's metadata. */
int rt_run_early_setup(train_run *R, rt_err *err);
int rt_run_early_update(train_run *R, int epoch);
int rt_run_early_stopped(const train_run *R);
int rt_run_early_json(const train_run *R, char *out, size_t len, rt_err *err);
int rt_run_early_resume(train_run *R, const char *path, const char *json, rt_err *err);
/* A step's reporting sums (sum, cnt per metric; real examples) into the
 * epoch's (rt_loop_ranks.c): on several ranks first summed over them in one
 * all-reduce that also carries a signal's stop from any rank, so every rank
 * stops after the same step. *stop: 1 then (R->signal set), else 0. */
int rt_run_step_sums(train_run *R, double *sum, double *cnt, int64_t *real, int *stop,
                     rt_err *err);
/* SIGINT and SIGTERM, while rt_train runs, ask it to stop after the step in
 * progress; a second one ends the process as usual. */
void rt_run_catch_signals(train_run *R);
void rt_run_release_signals(train_run *R);
/* 1 (and R->signal set) once a signal asked the run to stop. */
int rt_run_interrupted(train_run *R);

/* Where a batch of ds goes (rt_loop_epoch.c): per column, host memory to
 * fill (dst) and the store buffer (idx) that rt_batch_flush then uploads
 * it to (rt_store_host). */
int rt_batch_targets(rt_store *st, const rt_dataset *ds, void ***dst, int **idx, rt_err *err);
int rt_batch_flush(const rt_store *st, const rt_dataset *ds, const int *idx, rt_err *err);
/* The same overlapped (rt_store_send), and its landing before the step
 * that reads it (rt_store_land, then rt_store_fence). */
int rt_batch_send(rt_store *st, const rt_dataset *ds, const int *idx, rt_err *err);
int rt_batch_land(rt_store *st, const rt_dataset *ds, const int *idx, rt_err *err);

/* Loads the test split and the validation files (data.val) for the eval
 * step and checks its mask input. */
int rt_evaluate_setup(train_run *R, rt_err *err);
/* Runs eval over the whole RT_SPLIT_TEST or RT_SPLIT_VAL split: out[m] =
 * masked sum / examples (NaN for a metric eval does not output, all NaN
 * without that split). */
int rt_evaluate(train_run *R, int which, double *out, rt_err *err);

/* The validation set and monitors (rt_loop_val.c). hold_out: with
 * data.val_split, moves its rows out of the loaded training split;
 * monitor: "train.NAME", "val.NAME" or "test.NAME" of the recipe's key
 * `key` (checkpoint.monitor, ...), its metric index and the means it
 * reads; final_test: with a validation set, the test set's one
 * evaluation at the end of the run, printed and written to the metrics
 * file. */
int rt_run_hold_out(train_run *R, rt_err *err);
int rt_run_monitor(train_run *R, const char *key, const char *mon, int *m, const double **of,
                   rt_err *err);
int rt_run_final_test(train_run *R, rt_err *err);

#endif
