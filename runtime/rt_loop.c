/*
 * rt_loop.c - the training loop (see rt_train.h): setup of buffers and
 * data, the loop over epochs, the run's result. One epoch's steps and the
 * NaN stop are in rt_loop_epoch.c; checkpoints, resume and the stop on a
 * signal in rt_loop_ckpt.c, evaluation in rt_evaluate.c.
 */
#include "rt_train_run.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rt_init.h"

void rt_train_result_free(rt_train_result *r)
{
	if (r)
		rt_tensors_free(&r->params);
}

int rt_run_metric_index(train_run *R, const char *name)
{
	for (int i = 0; i < R->nm; i++)
		if (strcmp(R->names[i], name) == 0)
			return i;
	if (R->nm == RT_TRAIN_MAX_METRICS)
		return -1;
	snprintf(R->names[R->nm], sizeof R->names[0], "%s", name);
	return R->nm++;
}

static int setup_metrics(train_run *R, rt_err *err)
{
	rt_run_metric_index(R, "loss");
	rt_exec *xs[5] = {R->sam, R->base, R->eval, R->E.x[RT_STEP_ACC], R->E.x[RT_STEP_SAM_ACC]};
	for (int k = 0; k < 5; k++) {
		rt_exec *x = xs[k];
		/* the runs at perturbed weights of an accumulating step report nothing */
		if (!x || (k != 2 && x->noutputs == 0 && rt_micro_total(&R->o->recipe->opt) > 1))
			continue;
		int has_loss = 0;
		for (int i = 0; i < x->noutputs; i++) {
			has_loss |= strcmp(x->outputs[i], "loss") == 0;
			if (rt_run_metric_index(R, x->outputs[i]) < 0)
				return rt_errf(err, "the %s step has more than %d outputs", x->backend,
				               RT_TRAIN_MAX_METRICS);
		}
		if (!has_loss)
			return rt_errf(err, "the %s step has no 'loss' output", k == 2 ? "eval" : "train");
		if (x->noutputs > R->maxout)
			R->maxout = x->noutputs;
	}
	R->outs = calloc((size_t)R->maxout + 1, sizeof *R->outs);
	return R->outs ? 0 : rt_errf(err, "out of memory");
}

/* The batch dimension of an exec's data inputs (all must agree). */
static int batch_of(const rt_exec *x, const char *what, int64_t *b, rt_err *err)
{
	*b = 0;
	for (int i = 0; i < x->nslots; i++) {
		const rt_slot *s = &x->slots[i];
		if (!rt_dataset_is_data_input(s))
			continue;
		if (s->rank < 1 || s->dim[0] <= 0)
			return rt_errf(err, "input '%s' of the %s step has no batch dimension", s->name, what);
		if (*b && s->dim[0] != *b)
			return rt_errf(err, "inputs of the %s step disagree on the batch size (%" PRId64
			               " and %" PRId64 ")", what, *b, s->dim[0]);
		*b = s->dim[0];
	}
	if (*b == 0)
		return rt_errf(err, "the %s step has no data inputs", what);
	return 0;
}

/* Every parameter and state buffer from its init rule (inputs stay zero). */
static int init_buffers(train_run *R, rt_err *err)
{
	for (int i = 0; i < R->st.n; i++) {
		const rt_store_buf *b = &R->st.buf[i];
		if (b->slot.role == RT_SLOT_INPUT)
			continue;
		void *h = malloc(b->bytes ? b->bytes : 1);
		if (!h)
			return rt_errf(err, "out of memory for slot '%s'", b->slot.name);
		int rc = rt_init_slot(&b->slot, h, R->seed, err) || rt_store_upload(&R->st, i, h, err);
		free(h);
		if (rc)
			return -1;
	}
	return 0;
}

static int scalar_slot(const rt_store *st, const char *name, int *idx, rt_err *err)
{
	*idx = rt_store_find(st, name);
	if (*idx < 0)
		return 0;
	const rt_slot *s = &st->buf[*idx].slot;
	int64_t n = 1;
	for (int i = 0; i < s->rank; i++)
		n *= s->dim[i];
	if (n != 1 || (s->dtype != RT_F32 && s->dtype != RT_F64))
		return rt_errf(err, "input '%s' must be a scalar of F32 or F64, not %s with %" PRId64
		               " elements", name, rt_dtype_name(s->dtype), n);
	return 0;
}

static int setup(train_run *R, rt_err *err)
{
	const rt_train_opts *o = R->o;
	const rt_recipe *r = o->recipe;
	rt_exec *train = R->train_x;
	R->seed = o->has_seed ? o->seed : r->seed;
	R->nepochs = o->epochs > 0 ? o->epochs : r->epochs;
	if (R->nepochs <= 0)
		return rt_errf(err, "the number of epochs must be positive, got %d", R->nepochs);
	rt_exec *xs[7] = {R->sam, R->base, R->eval, R->o->train_acc, R->o->train_sam_acc,
	                  R->o->train_upd, R->o->train_upd_sam};
	void ***binds[7] = {&R->bind_sam, &R->bind_base, &R->bind_eval, &R->bind_acc,
	                    &R->bind_sam_acc, &R->bind_upd, &R->bind_upd_sam};
	for (int k = 0; k < 7; k++)
		if (xs[k] && rt_store_add_exec(&R->st, xs[k], err))
			return -1;
	for (int k = 0; k < 7; k++)
		/* evaluation reads the EMA of the weights where the recipe keeps one */
		if (xs[k] && !(*binds[k] = rt_store_bind_prefer(&R->st, xs[k], k == 2 && r->ema ?
		                                                RT_EMA_PREFIX : NULL, err)))
			return -1;
	R->E = (rt_step_execs){{R->sam, R->base, xs[3], xs[4], xs[5], xs[6]},
	                       {R->bind_sam, R->bind_base, R->bind_acc, R->bind_sam_acc,
	                        R->bind_upd, R->bind_upd_sam}};
	if (R->comm->size != (rt_micro_dist(&r->opt) ? r->opt.ranks : 1))
		return rt_errf(err, "the model was compiled for %d rank%s, this run has %d (it is "
		               "compiled per run: start it again under the launcher it runs in)",
		               rt_micro_dist(&r->opt) ? r->opt.ranks : 1,
		               rt_micro_dist(&r->opt) ? "s" : "", R->comm->size);
	if (rt_step_check(r, &R->E, err) || setup_metrics(R, err) ||
	    batch_of(train, "train", &R->micro_batch, err))
		return -1;
	for (int k = 0; k < 5; k++) { /* upd and upd_sam read no batch */
		int64_t b2;
		if (k == 2 || !xs[k])
			continue;
		if (batch_of(xs[k], rt_step_prog_name(k < 2 ? (rt_step_prog)k : (rt_step_prog)(k - 1)),
		             &b2, err))
			return -1;
		if (b2 != R->micro_batch)
			return rt_errf(err, "the train steps disagree on the batch size (%" PRId64 " and %"
			               PRId64 ")", b2, R->micro_batch);
	}
	int n = rt_micro_total(&r->opt);
	R->batch = R->micro_batch * n;
	if (r->batch_size > 0 && r->batch_size != R->batch)
		return rt_errf(err, "the compiled train step takes batches of %" PRId64 "%s but the "
		               "recipe says batch_size = %d", R->micro_batch, n > 1 ? " (micro-batches)"
		               : "", r->batch_size);
	if (rt_dataset_load(&R->train, &r->data, RT_SPLIT_TRAIN, o->data_dir, train, err) ||
	    rt_dataset_augment_check(&R->train, &r->data.augment, err) || rt_run_hold_out(R, err))
		return -1;
	R->nb = rt_dataset_nbatches(R->train.n, R->batch, r->data.drop_last);
	if (R->nb == 0)
		return rt_errf(err, "the train split has %" PRId64 " examples, fewer than one batch of "
		               "%" PRId64 " with drop_last", R->train.n, R->batch);
	R->total = (int64_t)R->nepochs * R->nb;
	R->order = malloc((size_t)R->train.n * sizeof *R->order);
	if (!R->order)
		return rt_errf(err, "out of memory for the train order");
	if (rt_batch_targets(&R->st, &R->train, &R->dst_train, &R->idx_train, err))
		return -1;
	if (R->has_val && !R->eval)
		return rt_errf(err, "the recipe has a validation set but the model no eval step");
	if (R->eval && rt_evaluate_setup(R, err))
		return -1;
	if (scalar_slot(&R->st, "opt.lr", &R->lr_slot, err) ||
	    scalar_slot(&R->st, "opt.step", &R->step_slot, err))
		return -1;
	/* a resumed run loads every parameter and state buffer from the
	 * checkpoint instead: each crosses to the device once either way */
	return o->resume_path ? 0 : init_buffers(R, err);
}

/* The caller's epoch hook; a failure is a warning, said once: curves that
 * cannot be drawn are no reason to lose a run. */
static void epoch_hook(train_run *R, int epoch)
{
	const rt_train_opts *o = R->o;
	if (!o->epoch_hook || !o->metrics_path || R->hook_failed)
		return;
	rt_err he;
	if (o->epoch_hook(o->epoch_hook_ctx, o->metrics_path, epoch, &he)) {
		R->hook_failed = 1;
		rt_progress_break(&R->prog);
		fprintf(stderr, "warning: %s (the run goes on)\n", he.msg);
	}
}

static int train_loop(train_run *R, rt_err *err)
{
	int stop = R->nepochs;
	if (R->o->stop_after > 0 && R->o->stop_after >= R->nepochs)
		return rt_errf(err, "--stop-after %d stops nothing: the run ends after epoch %d "
		               "anyway", R->o->stop_after, R->nepochs);
	if (R->o->stop_after > 0 && R->o->stop_after <= R->start_epoch)
		return rt_errf(err, "--stop-after %d: the resumed run has trained %d epochs already",
		               R->o->stop_after, R->start_epoch);
	if (R->o->stop_after > 0)
		stop = R->o->stop_after;
	/* an unwritable checkpoint directory is found now, not after an epoch */
	if (rt_run_ckpt_dir_check(R, err))
		return -1;
	R->stop_step = (int64_t)stop * R->nb;
	R->first_step = R->step;
	R->t_start = rt_now();
	if (R->o->recipe->ckpt_every > 0 && !R->o->ckpt_dir && !R->o->quiet)
		fprintf(R->prog.out, "checkpoint.every_steps = %d, but no checkpoint directory "
		        "(--checkpoint-dir DIR): no checkpoints are written\n", R->o->recipe->ckpt_every);
	if (R->best_m >= 0 && !R->o->ckpt_dir && !R->o->quiet)
		fprintf(R->prog.out, "checkpoint.monitor = \"%s\", but no checkpoint directory "
		        "(--checkpoint-dir DIR): no best checkpoints are kept\n",
		        R->o->recipe->ckpt_monitor);
	if (R->o->recipe->log_csv && !R->o->metrics_path && !R->o->quiet)
		fprintf(R->prog.out, "log.csv = true, but no metrics file (--metrics FILE): no CSV "
		        "log is written\n");
	if (!R->has_test && !R->has_val && !R->o->quiet)
		fprintf(R->prog.out, "no test set (the recipe's data has no 'test'): nothing is "
		        "evaluated\n");
	if (rt_run_early_stopped(R)) /* resumed where early stopping ended the run */
		stop = R->start_epoch;
	for (int e = R->start_epoch; e < stop; e++) {
		int rc = rt_run_epoch(R, e, e == R->start_epoch ? R->start_batch : 0, R->train_m, err);
		if (rc < 0)
			return -1;
		if (rc > 0) /* a signal: checkpoint where the run stands, mid-epoch */
			return rt_run_write_ckpt(R, e, 1, err);
		/* with a validation set, it is evaluated each epoch and the test
		 * set once at the end (rt_run_final_test) */
		if (R->has_val ? rt_evaluate(R, RT_SPLIT_VAL, R->val_m, err)
		               : rt_evaluate(R, RT_SPLIT_TEST, R->test_m, err))
			return -1;
		R->epochs_done = e + 1;
		rt_progress_epoch_info ei = {
			.epoch = e + 1, .nepochs = R->nepochs, .step = R->step, .nmetrics = R->nm,
			.name = (const char (*)[32])R->names, .train = R->train_m, .test = R->test_m,
			.has_test = R->has_test && !R->has_val, .samples_per_s = R->epoch_sps,
			.seconds = R->epoch_seconds, .val = R->val_m, .has_val = R->has_val};
		rt_progress_epoch(&R->prog, &ei);
		epoch_hook(R, e + 1);
		int early = rt_run_early_update(R, e + 1);
		if (rt_run_write_ckpt(R, e + 1, 0, err))
			return -1;
		if (early)
			break;
	}
	if (rt_run_early_stopped(R) && !R->o->quiet)
		fprintf(R->prog.out, "early stopping at epoch %d: %s has not improved by more than "
		        "%g for %d epoch%s; best %.6g at epoch %d\n", R->epochs_done > R->start_epoch
		        ? R->epochs_done : R->start_epoch, R->o->recipe->es_monitor,
		        R->o->recipe->es_min_delta, R->es_wait, R->es_wait == 1 ? "" : "s", R->es_best,
		        R->es_best_epoch);
	/* Resumed at or past the end: report the checkpoint's metrics. */
	if (R->start_epoch >= stop && rt_evaluate(R, R->has_val ? RT_SPLIT_VAL : RT_SPLIT_TEST,
	                                          R->has_val ? R->val_m : R->test_m, err))
		return -1;
	if (rt_run_final_test(R, err))
		return -1;
	if (R->has_val && R->has_test) /* the curves with the final test record too */
		epoch_hook(R, R->epochs_done > R->start_epoch ? R->epochs_done : R->start_epoch);
	if (R->nbest > 0 && R->o->ckpt_dir && !R->o->quiet)
		fprintf(R->prog.out, "best checkpoint: %s/best-epoch-%d.safetensors (%s %.6g)\n",
		        R->o->ckpt_dir, R->best_epoch[0], R->o->recipe->ckpt_monitor, R->best_val[0]);
	return 0;
}

static double metric_of(const train_run *R, const double *v, const char *name)
{
	for (int i = 0; i < R->nm; i++)
		if (strcmp(R->names[i], name) == 0)
			return v[i];
	return NAN;
}

static int fill_result(train_run *R, rt_train_result *res, rt_err *err)
{
	rt_tensors_free(&res->params);
	memset(res, 0, sizeof *res);
	res->nmetrics = R->nm;
	for (int i = 0; i < R->nm; i++) {
		memcpy(res->name[i], R->names[i], sizeof res->name[i]);
		res->train[i] = R->train_m[i];
		res->test[i] = R->test_m[i];
		res->val[i] = R->val_m[i];
	}
	res->train_loss = metric_of(R, R->train_m, "loss");
	res->train_acc = metric_of(R, R->train_m, "accuracy");
	res->test_loss = metric_of(R, R->test_m, "loss");
	res->test_acc = metric_of(R, R->test_m, "accuracy");
	res->steps = R->step;
	res->nepochs = R->nepochs;
	res->has_test = R->has_test;
	res->has_val = R->has_val;
	res->stopped_early = R->o->stop_after > 0 && R->o->stop_after < R->nepochs;
	res->interrupted = R->signal;
	res->total_steps = R->total;
	res->epochs = R->epochs_done > R->start_epoch ? R->epochs_done : R->start_epoch;
	double el = rt_now() - R->t_start;
	res->samples_per_s = el > 0 ? (double)R->samples / el : 0;
	/* an interrupted run without a checkpoint directory wrote none (the
	 * one it may have resumed from is behind it) */
	snprintf(res->last_ckpt, sizeof res->last_ckpt, "%s",
	         R->signal && !R->o->ckpt_dir ? "" : R->last_ckpt);
	for (int i = 0; i < R->st.n; i++) {
		const rt_store_buf *b = &R->st.buf[i];
		if (b->slot.role == RT_SLOT_INPUT)
			continue;
		rt_tensor *t = rt_tensors_add(&res->params, b->slot.name, b->slot.dtype, b->slot.rank,
		                              b->slot.dim);
		if (!t)
			return rt_errf(err, "out of memory for the result's tensors");
		if (rt_store_download(&R->st, i, t->data, err))
			return -1;
	}
	return 0;
}

static void run_free(train_run *R)
{
	free(R->bind_sam);
	free(R->bind_base);
	free(R->bind_eval);
	free(R->bind_acc);
	free(R->bind_sam_acc);
	free(R->bind_upd);
	free(R->bind_upd_sam);
	rt_step_stage_free(&R->stage);
	free(R->dst_train);
	free(R->dst_test);
	free(R->idx_train);
	free(R->idx_test);
	free(R->order);
	free(R->eval_order);
	free(R->dst_val);
	free(R->idx_val);
	rt_dataset_free(&R->val);
	free(R->outs);
	rt_dataset_free(&R->train);
	rt_dataset_free(&R->test);
	rt_store_free(&R->st);
}

int rt_train(const rt_train_opts *o, rt_exec *train_sam, rt_exec *train_base, rt_exec *eval,
             rt_err *err)
{
	if (!o || !o->recipe)
		return rt_errf(err, "rt_train: no recipe given");
	if (!train_sam && !train_base && !o->train_upd && !o->train_upd_sam)
		return rt_errf(err, "rt_train: the model has no train step");
	train_run R;
	memset(&R, 0, sizeof R);
	R.comm = o->comm ? o->comm : rt_comm_self();
	/* every program's collectives (sync_bn's rank_sum) go over the run's ranks */
	rt_exec *progs[] = {train_sam, train_base, eval, o->train_acc, o->train_sam_acc,
	                    o->train_upd, o->train_upd_sam};
	for (size_t i = 0; i < sizeof progs / sizeof *progs; i++)
		if (progs[i])
			progs[i]->comm = R.comm;
	/* rank 0 speaks and writes for all */
	rt_train_opts quiet = *o;
	if (R.comm->rank != 0) {
		quiet.quiet = 1;
		quiet.metrics_path = NULL;
		quiet.ckpt_dir = NULL;
		quiet.epoch_hook = NULL;
		o = &quiet;
	}
	R.o = o;
	/* the programs that run on batches, in the order they are looked for */
	rt_exec *on_batches[4] = {train_base, train_sam, o->train_acc, o->train_sam_acc};
	for (int k = 0; k < 4 && !R.train_x; k++)
		R.train_x = on_batches[k];
	if (!R.train_x)
		return rt_errf(err, "rt_train: the model has no program that runs on a batch");
	R.sam = train_sam;
	R.base = train_base;
	/* the test split is optional (docs/dsl.md): without one nothing is
	 * evaluated, and the eval step is not run at all */
	R.has_test = o->recipe->data.ntest > 0;
	R.has_val = o->recipe->data.nval > 0 || o->recipe->data.val_split > 0;
	R.eval = R.has_test || R.has_val ? eval : NULL;
	R.lr_slot = R.step_slot = R.mask_slot = R.best_m = -1;
	for (int m = 0; m < RT_TRAIN_MAX_METRICS; m++)
		R.train_m[m] = R.test_m[m] = R.val_m[m] = NAN;
	int rc = setup(&R, err);
	if (!rc)
		rc = rt_run_best_setup(&R, err);
	if (!rc)
		rc = rt_run_early_setup(&R, err);
	rt_run_catch_signals(&R);
	if (!rc && o->resume_path)
		rc = rt_run_resume(&R, err);
	if (!rc)
		rc = rt_progress_open(&R.prog, o->out, o->quiet, o->log_every > 0 ? o->log_every
		                      : o->recipe->log_every, o->metrics_path, o->resume_path != NULL,
		                      err);
	if (!rc && o->recipe->log_csv && o->metrics_path &&
	    rt_progress_open_csv(&R.prog, o->metrics_path, o->resume_path != NULL, err)) {
		rt_err ce;
		rt_progress_close(&R.prog, o->metrics_path, &ce);
		rc = -1;
	}
	if (!rc) {
		rc = train_loop(&R, err);
		rt_err ce;
		if (rt_progress_close(&R.prog, o->metrics_path, &ce) && !rc)
			rc = rt_errf(err, "%s", ce.msg);
	}
	rt_run_release_signals(&R);
	/* A NaN stop still reports how far it got. */
	if (o->result && R.nm > 0) {
		rt_err re;
		if (fill_result(&R, o->result, &re) && !rc)
			rc = rt_errf(err, "%s", re.msg);
	}
	run_free(&R);
	return rc;
}
