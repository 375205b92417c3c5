/*
 * rt_loop_val.c - the validation set of a run (data.val files, or
 * data.val_split of the training rows), as Keras and Lightning have it:
 * evaluated after every epoch in place of the test set, monitored as
 * "val.NAME"; the test set, still optional, is then evaluated once, when
 * the run ends. Without a validation set the test set is evaluated after
 * every epoch, as it always was.
 */
#include "rt_train_run.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "rt_ckpt.h"

/* The checkpoint's seed; on several ranks rank 0 reads it and the others
 * get it (they need not see the file). */
static int peek_seed(train_run *R, const char *path, uint64_t *seed, rt_err *err)
{
	rt_comm *c = R->comm;
	struct {
		int rc;
		uint64_t seed;
		rt_err err;
	} m;
	memset(&m, 0, sizeof m);
	if (c->rank == 0)
		m.rc = rt_ckpt_peek_seed(path, &m.seed, &m.err);
	rt_err ce;
	if (c->size > 1 && c->bcast(c, &m, sizeof m, 0, &ce))
		return rt_errf(err, "%s: %s", path, ce.msg);
	if (m.rc) {
		*err = m.err;
		return -1;
	}
	*seed = m.seed;
	return 0;
}

int rt_run_hold_out(train_run *R, rt_err *err)
{
	const rt_train_opts *o = R->o;
	const data_config *dc = &o->recipe->data;
	if (!(dc->val_split > 0))
		return 0;
	if (dc->nval > 0)
		return rt_errf(err, "data.val and data.val_split are both given: the validation set "
		               "is either files of its own or a part of the training set");
	/* the rows depend on the seed: a resumed run takes the checkpoint's
	 * (rt_run_resume), so it holds out what the run it continues did */
	uint64_t seed = R->seed;
	if (o->resume_path && !o->has_seed && peek_seed(R, o->resume_path, &seed, err))
		return -1;
	int64_t n = R->train.n;
	if (rt_dataset_hold_out(&R->train, dc->val_split, seed, &R->val, err))
		return -1;
	if (!o->quiet)
		fprintf(o->out ? o->out : stdout, "validation set: %" PRId64 " of the %" PRId64
		        " training examples held out (data.val_split = %g, seed %" PRIu64 "); "
		        "training on %" PRId64 "\n", R->val.n, n, dc->val_split, seed, R->train.n);
	return 0;
}

int rt_run_monitor(train_run *R, const char *key, const char *mon, int *m, const double **of,
                   rt_err *err)
{
	const char *name = strchr(mon, '.');
	size_t k = name ? (size_t)(name - mon) : 0;
	int train = k == 5 && !strncmp(mon, "train", 5), val = k == 3 && !strncmp(mon, "val", 3);
	int test = k == 4 && !strncmp(mon, "test", 4);
	if (!train && !val && !test)
		return rt_errf(err, "%s '%s': expected \"val.NAME\", \"train.NAME\" or \"test.NAME\"",
		               key, mon);
	*m = -1;
	for (int i = 0; i < R->nm; i++)
		if (!strcmp(R->names[i], name + 1))
			*m = i;
	if (*m < 0)
		return rt_errf(err, "%s '%s': the run reports no metric '%s'", key, mon, name + 1);
	if (val && !R->has_val)
		return rt_errf(err, "%s '%s' needs a validation set (data.val files or "
		               "data.val_split)", key, mon);
	if (test && !R->has_test)
		return rt_errf(err, "%s '%s' needs a test set (the recipe's data has no 'test')", key,
		               mon);
	if (test && R->has_val)
		return rt_errf(err, "%s '%s': with a validation set the test set is evaluated once, "
		               "at the end of the run; monitor \"val.%s\"", key, mon, name + 1);
	*of = train ? R->train_m : val ? R->val_m : R->test_m;
	return 0;
}

int rt_run_final_test(train_run *R, rt_err *err)
{
	if (!R->has_val || !R->has_test)
		return 0;
	if (rt_evaluate(R, RT_SPLIT_TEST, R->test_m, err))
		return -1;
	int epochs = R->epochs_done > R->start_epoch ? R->epochs_done : R->start_epoch;
	rt_progress_epoch_info ei = {.epoch = epochs, .nepochs = R->nepochs, .step = R->step,
	                             .nmetrics = R->nm, .name = (const char (*)[32])R->names,
	                             .test = R->test_m, .has_test = 1};
	rt_progress_final_test(&R->prog, &ei);
	return 0;
}
