/*
 * rt_ckpt.h - training checkpoints: every PARAM and STATE buffer of a run,
 * by slot name, in a safetensors file whose "__metadata__" records
 *
 *     format          "samc-ckpt"
 *     format_version  "1"
 *     step            optimizer steps done over the whole run
 *     epoch           epochs completed
 *     seed            the run's seed (init and shuffles derive from it)
 *     shuffle_stream  Philox stream of the next epoch's shuffle (hex)
 *     batch_size      the batch size the steps were taken with
 *     epochs          the epochs the run was planned for (its schedule's span)
 *     epoch_sums      only in a checkpoint written in the middle of an epoch
 *                     (on SIGINT/SIGTERM, or every checkpoint.every_steps
 *                     steps): {"loss": [sum, count], ...}, the
 *                     epoch's running sums of its metrics so far
 *     best            only with checkpoint.monitor: {"monitor": "test.accuracy",
 *                     "mode": "max", "kept": [[epoch, value], ...]}, the best
 *                     checkpoints kept so far (best-epoch-N.safetensors)
 *     early_stopping  only with early_stopping.monitor: {"monitor": "test.loss",
 *                     "mode": "min", "best": value, "best_epoch": N, "wait": N}
 *     val_split       only with data.val_split: the fraction of the training
 *                     rows held out (with the seed, which rows: the
 *                     training set a resumed run must train on)
 *     program_hash    identity of the compiled model
 *     checksum        "fnv1a64:<hex>" over every tensor (see rt_ckpt.c)
 *
 * Shuffles and initialisation are counter-based, so (seed, epoch, step) is
 * the whole random state: resuming at an epoch boundary, or in the middle
 * of an epoch (step - epoch * batches per epoch batches into it), replays
 * exactly.
 * Writes are atomic (rt_st_write); reads verify everything before touching
 * the run's buffers.
 */
#ifndef SAMC_RT_CKPT_H
#define SAMC_RT_CKPT_H

#include <stdint.h>

#include "rt_store.h"

#define RT_CKPT_VERSION 1

typedef struct {
	int64_t step;
	int64_t epoch;
	uint64_t seed;
	int64_t batch_size;
	int64_t epochs;       /* planned; 0 where not recorded */
	char epoch_sums[1024]; /* mid-epoch: the epoch's running sums (JSON), else "" */
	char best[1024];       /* with checkpoint.monitor: the best checkpoints (JSON), else "" */
	char early[256];       /* with early_stopping: its state (JSON), else "" */
	double val_split;      /* data.val_split of the run, 0: none */
	char program_hash[128];
} rt_ckpt_info;

/* Writes st's PARAM and STATE buffers and info to `path`, atomically. */
int rt_ckpt_write(const char *path, const rt_store *st, const rt_ckpt_info *info, rt_err *err);

/*
 * Reads `path`, verifies it and copies its tensors into st's PARAM and
 * STATE buffers. Errors, all naming the file: the safetensors reader's (a
 * truncated or malformed file); not a samc checkpoint or another format
 * version; "checkpoint is from a different model (program hash X, expected
 * Y)" when expect_hash is not NULL and differs; "corrupted (checksum
 * mismatch)"; a tensor missing, of another dtype or shape, or unknown to the
 * model. On error st is untouched. `info` may be NULL; on a program-hash
 * mismatch info->batch_size is the checkpoint's, so that the caller can
 * tell a changed batch size from another model.
 */
int rt_ckpt_read(const char *path, rt_store *st, const char *expect_hash, rt_ckpt_info *info,
                 rt_err *err);

/* The seed a checkpoint records, from its header alone (the rows
 * data.val_split holds out depend on it, before the run loads anything). */
int rt_ckpt_peek_seed(const char *path, uint64_t *seed, rt_err *err);

/* The checksum rt_ckpt_write records: FNV-1a 64 over the tensors sorted by
 * name, each as name, NUL, dtype name, NUL, rank and dims (int64 LE), data. */
uint64_t rt_ckpt_checksum(const rt_tensors *ts);

/*
 * `samc export`: verifies the checkpoint `in` (format, version, checksum;
 * errors name the file) and writes its parameters and buffers to `out`
 * (atomically) under their PyTorch state_dict names, loadable with
 * load_state_dict(strict=True): no "opt.*" optimizer state, BatchNorm's
 * num_batches_tracked as int64, and "__metadata__" only {"format": "pt"}.
 * A parameter P of a run with an EMA of the weights ("ema.P") is written
 * as its EMA, under P's name.
 * *ntensors (may be NULL): how many tensors were written.
 */
int rt_ckpt_export(const char *in, const char *out, int *ntensors, rt_err *err);

#endif
