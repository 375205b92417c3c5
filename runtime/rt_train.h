/*
 * rt_train.h - the training loop of a compiled model.
 *
 * A model gives up to three steps (rt_exec): train_sam (a SAM step),
 * train_base (a plain base-optimizer step) and eval. Step t (0-based over
 * the whole run) runs train_sam when there is no train_base, or when
 * recipe->opt.sam_every <= 1, or when t % sam_every == 0; train_base
 * otherwise. All steps share their buffers by slot name.
 *
 * Each epoch: shuffle (seeded, rt_dataset_order), for each batch fill the
 * data inputs, "opt.lr" = rt_sched_lr(recipe, t, total) and "opt.step" =
 * t + 1, run, stop on a non-finite loss; then evaluate the test split with
 * eval (masked sums divided by the number of test examples) - or, with a
 * validation set (data.val, data.val_split), that set, and the test split
 * once when the run ends (rt_loop_val.c) - print a line,
 * append JSON lines to the metrics file and write a checkpoint.
 *
 * Buffers are shared by slot name, so a name must have one dtype and shape
 * in every step: eval is compiled for the same batch as training. The
 * trailing short batch of training is dropped (drop_last) or filled by
 * wrapping around to the start of the epoch's order; evaluation pads with
 * zero rows masked out by "eval.mask".
 *
 *     rt_train_result res = {0};
 *     rt_train_opts o = {.recipe = &recipe, .ckpt_dir = "ckpt",
 *                        .program_hash = hash, .result = &res};
 *     if (rt_train(&o, sam, base, eval, &err)) fprintf(stderr, "%s\n", err.msg);
 *     ... res.test_acc ...
 *     rt_train_result_free(&res);
 */
#ifndef SAMC_RT_TRAIN_H
#define SAMC_RT_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "rt_exec.h"
#include "rt_recipe.h"

#define RT_TRAIN_MAX_METRICS 8

typedef struct {
	/* Metrics by name ("loss" first, then the steps' other outputs). */
	int nmetrics;
	char name[RT_TRAIN_MAX_METRICS][32];
	double train[RT_TRAIN_MAX_METRICS]; /* last epoch's means over its batches */
	double test[RT_TRAIN_MAX_METRICS];  /* last evaluation; NaN without eval */
	double val[RT_TRAIN_MAX_METRICS];   /* the validation set's, last epoch (has_val) */
	double train_loss, train_acc;       /* shortcuts: "loss", "accuracy" (NaN if absent) */
	double test_loss, test_acc;
	int64_t steps;       /* optimizer steps done over the whole run */
	int epochs;          /* epochs completed */
	int nepochs;         /* epochs the run was planned for */
	int stopped_early;   /* --stop-after ended it before nepochs */
	int has_test;        /* the test split was evaluated (test[] holds values) */
	int has_val;         /* a validation set was evaluated each epoch (val[]) */
	int interrupted;     /* SIGINT or SIGTERM stopped it (checkpoint in last_ckpt) */
	int64_t total_steps; /* steps the run was planned for */
	double samples_per_s;
	char last_ckpt[4096]; /* last checkpoint written (or resumed from), "" if none */
	rt_tensors params;   /* PARAM and STATE values at the end, by slot name */
} rt_train_result;

typedef struct {
	const rt_recipe *recipe;     /* required */
	int epochs;                  /* > 0: overrides recipe->epochs */
	int stop_after;              /* > 0: stop after this many epochs of the run, as if
	                                interrupted (the schedule still spans `epochs`) */
	int has_seed;                /* 1: use `seed` instead of recipe->seed */
	uint64_t seed;
	const char *data_dir;        /* relative data paths are taken under it (NULL: as is) */
	const char *metrics_path;    /* JSON lines, NULL: none */
	const char *ckpt_dir;        /* <dir>/last.safetensors each epoch, NULL: none */
	int ckpt_keep;               /* also keep <dir>/epoch-N.safetensors */
	const char *resume_path;     /* continue from this checkpoint, NULL: fresh start */
	const char *program_hash;    /* recorded in and checked against checkpoints */
	int log_every;               /* steps between progress lines; 0: recipe's, else 100 */
	int quiet;                   /* no progress or epoch lines */
	FILE *out;                   /* where lines go; NULL: stdout */
	rt_train_result *result;     /* filled on success (and on a NaN stop); may be NULL */
	/* Called after each epoch's record is in the metrics file (samc draws
	 * the curves from it; the runtime itself draws nothing). 0, or -1 with
	 * err: the run says so once as a warning, calls it no more and trains
	 * on. NULL: none. */
	int (*epoch_hook)(void *ctx, const char *metrics_path, int epoch, rt_err *err);
	void *epoch_hook_ctx;
	/* A step of micro-batches (optimizer.accumulate, optimizer.sam.m;
	 * rt_step_seq.h): the accumulate programs, NULL without. The train and
	 * these steps then take batch_size / n examples. */
	rt_exec *train_acc, *train_sam_acc;
	/* A data-parallel run (rt_step_seq.h): its ranks (NULL: one process)
	 * and the programs that end a step on several, upd and upd_sam
	 * (train_sam and train_base are then NULL). Rank 0 prints, writes the
	 * metrics, curves and checkpoints and reads the checkpoint it resumes
	 * from; the others only train. A step's loss and metrics, a signal
	 * that stops the run and the evaluation's sums are reduced over all. */
	rt_exec *train_upd, *train_upd_sam;
	struct rt_comm *comm;
} rt_train_opts;

/* Trains; 0 on success, -1 with a message in err. SIGINT or SIGTERM during
 * the run (on any rank) stop it after the step in progress, with a checkpoint where it
 * stands (ckpt_dir) and result->interrupted set; rt_train then returns 0
 * and the caller exits with 128 + the signal (130, 143). train_sam or train_base
 * may be NULL (not both); eval may be NULL (no test metrics). */
int rt_train(const rt_train_opts *o, rt_exec *train_sam, rt_exec *train_base, rt_exec *eval,
             rt_err *err);

void rt_train_result_free(rt_train_result *r);

/* The last line of a run, for samc and the trainers alike:
 *   test accuracy: 0.8312  test loss: 0.4567  (1 epoch, 468 steps, 51234 samples/s)
 * only the metrics the model has; "no test set" and the validation (else
 * train) metrics without data.test; a run ended by --stop-after says so and how to
 * resume it. */
void rt_train_print_summary(FILE *f, const rt_train_result *r);

#endif
