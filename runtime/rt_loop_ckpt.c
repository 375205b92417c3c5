/*
 * rt_loop_ckpt.c - the training loop's checkpoints (see rt_train_run.h):
 * at the end of every epoch, every checkpoint.every_steps steps and on
 * SIGINT or SIGTERM after the step in progress, in the middle of an epoch; and resuming from either, bit for
 * bit (shuffles, augmentation and dropout masks are functions of the seed,
 * the epoch and the step, so the position is the whole random state).
 */
#include "rt_train_run.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "rt_ckpt.h"

/* The signal that asked the run to stop. A handler can only reach a
 * variable of static storage; rt_train installs it for its own duration
 * and restores what was there before. */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

void rt_run_catch_signals(train_run *R)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* a second Ctrl-C ends the process at once; system calls in progress
	 * (a write to a full pipe) go on */
	sa.sa_flags = SA_RESETHAND | SA_RESTART;
	stop_signal = 0;
	/* several ranks: a collective that waits for ranks silent since the
	 * signal gives up (rt_comm_mpi.h), where a rank died; where all are
	 * alive the step completes, and its sums carry the stop to every rank */
	rt_comm_set_stop(R->comm, &stop_signal);
	sigaction(SIGINT, &sa, &R->old_int);
	sigaction(SIGTERM, &sa, &R->old_term);
}

void rt_run_release_signals(train_run *R)
{
	sigaction(SIGINT, &R->old_int, NULL);
	sigaction(SIGTERM, &R->old_term, NULL);
	rt_comm_set_stop(R->comm, NULL);
}

int rt_run_interrupted(train_run *R)
{
	if (stop_signal)
		R->signal = (int)stop_signal;
	return R->signal != 0;
}

/* {"loss": [sum, count], ...}: cJSON prints doubles that read back exactly. */
static int sums_json(const train_run *R, char *out, size_t len, rt_err *err)
{
	cJSON *o = cJSON_CreateObject();
	for (int m = 0; o && m < R->nm; m++) {
		cJSON *pair = cJSON_CreateArray();
		if (!pair || !cJSON_AddItemToObject(o, R->names[m], pair)) {
			cJSON_Delete(pair);
			cJSON_Delete(o);
			o = NULL;
			break;
		}
		cJSON_AddItemToArray(pair, cJSON_CreateNumber(R->esum[m]));
		cJSON_AddItemToArray(pair, cJSON_CreateNumber(R->ecnt[m]));
	}
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (!s)
		return rt_errf(err, "out of memory for the checkpoint's epoch sums");
	int fits = strlen(s) < len;
	if (fits)
		snprintf(out, len, "%s", s);
	cJSON_free(s);
	return fits ? 0 : rt_errf(err, "the epoch's sums do not fit the checkpoint metadata");
}

static int read_sums(train_run *R, const char *path, const char *json, rt_err *err)
{
	cJSON *o = cJSON_Parse(json);
	int rc = 0;
	for (int m = 0; m < R->nm && !rc; m++) {
		const cJSON *pair = cJSON_GetObjectItemCaseSensitive(o, R->names[m]);
		if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 ||
		    !cJSON_IsNumber(cJSON_GetArrayItem(pair, 0)) ||
		    !cJSON_IsNumber(cJSON_GetArrayItem(pair, 1)))
			rc = rt_errf(err, "%s: checkpoint metadata 'epoch_sums' has no sums of '%s'", path,
			             R->names[m]);
		else {
			R->esum[m] = cJSON_GetArrayItem(pair, 0)->valuedouble;
			R->ecnt[m] = cJSON_GetArrayItem(pair, 1)->valuedouble;
		}
	}
	cJSON_Delete(o);
	return rc;
}

int rt_run_ckpt_dir_check(train_run *R, rt_err *err)
{
	const char *dir = R->o->ckpt_dir;
	if (!dir)
		return 0;
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return rt_errf(err, "%s: cannot create the checkpoint directory: %s", dir,
		               strerror(errno));
	char probe[4200];
	snprintf(probe, sizeof probe, "%s/.samc-probe.%ld", dir, (long)getpid());
	int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return rt_errf(err, "%s: cannot write checkpoints into this directory: %s", dir,
		               strerror(errno));
	close(fd);
	unlink(probe);
	return 0;
}

int rt_run_write_ckpt(train_run *R, int epochs_done, int mid_epoch, rt_err *err)
{
	const char *dir = R->o->ckpt_dir;
	if (!dir)
		return 0;
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return rt_errf(err, "%s: cannot create the checkpoint directory: %s", dir,
		               strerror(errno));
	rt_ckpt_info info = {.step = R->step, .epoch = epochs_done, .seed = R->seed,
	                     .batch_size = R->batch, .epochs = R->nepochs,
	                     .val_split = R->o->recipe->data.val_split};
	snprintf(info.program_hash, sizeof info.program_hash, "%s",
	         R->o->program_hash ? R->o->program_hash : "");
	if (mid_epoch && sums_json(R, info.epoch_sums, sizeof info.epoch_sums, err))
		return -1;
	int entered = 0, evicted = 0;
	if (!mid_epoch)
		rt_run_best_rank(R, epochs_done, &entered, &evicted);
	if (rt_run_best_json(R, info.best, sizeof info.best, err) ||
	    rt_run_early_json(R, info.early, sizeof info.early, err))
		return -1;
	char path[4096];
	if (entered) {
		snprintf(path, sizeof path, "%s/best-epoch-%d.safetensors", dir, epochs_done);
		if (rt_ckpt_write(path, &R->st, &info, err))
			return -1;
	}
	if (R->o->ckpt_keep && !mid_epoch) {
		snprintf(path, sizeof path, "%s/epoch-%d.safetensors", dir, epochs_done);
		if (rt_ckpt_write(path, &R->st, &info, err))
			return -1;
	}
	snprintf(path, sizeof path, "%s/last.safetensors", dir);
	if (rt_ckpt_write(path, &R->st, &info, err))
		return -1;
	snprintf(R->last_ckpt, sizeof R->last_ckpt, "%s", path);
	if (evicted > 0) { /* out of the ranking, once last.safetensors says so */
		char old[4096];
		snprintf(old, sizeof old, "%s/best-epoch-%d.safetensors", dir, evicted);
		if (remove(old) != 0 && errno != ENOENT)
			return rt_errf(err, "%s: cannot remove: %s", old, strerror(errno));
	}
	return 0;
}

/* Every PARAM and STATE buffer as rank 0 has it. */
static int bcast_buffers(train_run *R, rt_err *err)
{
	for (int i = 0; i < R->st.n; i++) {
		const rt_store_buf *b = &R->st.buf[i];
		if (b->slot.role == RT_SLOT_INPUT)
			continue;
		void *h = malloc(b->bytes ? b->bytes : 1);
		if (!h)
			return rt_errf(err, "out of memory for '%s'", b->slot.name);
		int rc = (R->comm->rank == 0 && rt_store_download(&R->st, i, h, err)) ||
		         R->comm->bcast(R->comm, h, b->bytes, 0, err) ||
		         (R->comm->rank != 0 && rt_store_upload(&R->st, i, h, err));
		free(h);
		if (rc)
			return -1;
	}
	return 0;
}

/* rt_ckpt_read on rank 0; on several ranks the others get its result,
 * what it read and the buffers it loaded (they need not see the file). */
static int read_ckpt(train_run *R, const char *path, rt_ckpt_info *in, rt_err *err)
{
	rt_comm *c = R->comm;
	const char *hash = R->o->program_hash ? R->o->program_hash : "";
	int rc = c->rank == 0 ? rt_ckpt_read(path, &R->st, hash, in, err) : 0;
	if (c->size == 1)
		return rc;
	struct {
		int rc;
		rt_ckpt_info in;
		rt_err err;
	} *m = calloc(1, sizeof *m);
	if (!m)
		return rt_errf(err, "out of memory");
	if (c->rank == 0) {
		m->rc = rc;
		m->in = *in;
		if (rc)
			m->err = *err;
	}
	rt_err ce;
	if (c->bcast(c, m, sizeof *m, 0, &ce)) {
		free(m);
		return rt_errf(err, "%s: %s", path, ce.msg);
	}
	*in = m->in;
	if (m->rc)
		*err = m->err;
	rc = m->rc;
	free(m);
	return rc ? -1 : bcast_buffers(R, err);
}

/* A resumed run continues the run the checkpoint records: its seed and,
 * if it was stopped before its planned end and --epochs does not say
 * otherwise, its number of epochs (the schedule's span); from its step, in
 * the middle of an epoch too. An explicit --seed that differs is refused,
 * not ignored. */
int rt_run_resume(train_run *R, rt_err *err)
{
	const char *path = R->o->resume_path;
	rt_ckpt_info in = {.batch_size = -1};
	if (read_ckpt(R, path, &in, err)) {
		if (in.batch_size > 0 && in.batch_size != R->batch)
			return rt_errf(err, "%s: checkpoint was trained with batches of %" PRId64 ", this "
			               "run's steps take batches of %" PRId64 " (the batch size is compiled "
			               "into the steps: resume with batch_size = %" PRId64 ")", path,
			               in.batch_size, R->batch, in.batch_size);
		return -1;
	}
	if (R->o->has_seed && in.seed != R->seed)
		return rt_errf(err, "%s: checkpoint was trained with seed %" PRIu64 ", this run asks for "
		               "--seed %" PRIu64 " (leave --seed out: a resumed run takes the "
		               "checkpoint's)", path, in.seed, R->seed);
	R->seed = in.seed;
	/* data.val_split decides the training rows: a resumed run trains on
	 * the same ones (the seed, the other half of that, is the checkpoint's) */
	double vs = R->o->recipe->data.val_split;
	if (in.val_split != vs) {
		char was[64], is[64];
		snprintf(was, sizeof was, in.val_split > 0 ? "data.val_split = %g" : "no data.val_split",
		         in.val_split);
		snprintf(is, sizeof is, vs > 0 ? "data.val_split = %g" : "none", vs);
		return rt_errf(err, "%s: checkpoint was trained with %s, this run has %s (it decides "
		               "which rows are trained on: resume with %s)", path, was, is, was);
	}
	/* an unfinished run (--stop-after, a signal) goes on as planned; a
	 * finished one trains on to the recipe's epochs */
	if (R->o->epochs <= 0 && in.epochs > in.epoch && in.epochs != R->nepochs) {
		R->nepochs = (int)in.epochs;
		R->total = (int64_t)R->nepochs * R->nb;
	}
	int64_t into = in.step - in.epoch * R->nb; /* batches done of the epoch in progress */
	if (in.batch_size != R->batch || into < 0 || into >= R->nb || (into > 0 && !in.epoch_sums[0]))
		return rt_errf(err, "%s: checkpoint is at step %" PRId64 " after %" PRId64 " epochs of "
		               "batch %" PRId64 ", but this run has %" PRId64 " batches of %" PRId64
		               " per epoch (were the data, batch size or drop_last changed?)",
		               path, in.step, in.epoch, in.batch_size, R->nb, R->batch);
	if ((into > 0 && read_sums(R, path, in.epoch_sums, err)) ||
	    rt_run_best_resume(R, path, in.best, err) ||
	    rt_run_early_resume(R, path, in.early, err))
		return -1;
	R->start_epoch = (int)in.epoch;
	R->start_batch = into;
	R->step = in.step;
	snprintf(R->last_ckpt, sizeof R->last_ckpt, "%s", path);
	return 0;
}
