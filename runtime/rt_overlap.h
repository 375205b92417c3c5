/*
 * rt_overlap.h - the accumulators' all-reduce overlapped with the backward
 * pass of a step's last micro-batch run (recipe allreduce_overlap), in
 * buckets, as PyTorch DDP does.
 *
 * On several ranks the accumulators ("accum.grad.*", "accum.sam.*") are
 * summed over the ranks after the last micro-batch program of a step
 * (rt_step_seq.h). Each one's final value is written well before that
 * program ends: the gradient of the last layer first. Here a communication
 * thread all-reduces them while the device computes the rest:
 *
 *   plan    before the run, the accumulators in the order their final
 *           values become ready (the runner's rt_runner_final_at: after
 *           which kernel, in which buffer), packed into buckets of
 *           consecutive ones of one dtype, up to allreduce_bucket_mb
 *   done    the device reports kernels [0, u) complete (rt_dev_sched's
 *           done); every bucket whose members are all ready then goes to
 *           the thread, which packs it, all-reduces it and unpacks it into
 *           the buffers that hold the final values (an arena buffer before
 *           its commit: the commit then moves the sum)
 *   settle  before the commits, the rest go and the run waits for all
 *
 * On a GPU with NCCL the same plan runs without a thread (the device
 * form, rt_overlap_new_dev): `done` there means kernels [0, u) are
 * enqueued, and each ready bucket is enqueued behind them on the device's
 * side queue; settle waits for that queue and joins it to the kernels.
 *
 * Every element is the same fixed-order sum over the ranks whichever
 * bucket carries it (rt_comm.h), so a run with overlap is bit-identical to
 * one without. Every rank makes the same buckets in the same order (the
 * same program, the same plan). While the thread works the calling thread
 * makes no collective call (MPI_THREAD_SERIALIZED is enough; rt_comm's
 * `serialized`).
 */
#ifndef SAMC_RT_OVERLAP_H
#define SAMC_RT_OVERLAP_H

#include <stddef.h>
#include <stdint.h>

#include "rt_comm.h"
#include "rt_device.h"
#include "rt_err.h"
#include "rt_tensor.h"

typedef struct rt_overlap rt_overlap;

/* Starts the communication thread over c (NULL with err when it cannot). */
rt_overlap *rt_overlap_new(rt_comm *c, rt_err *err);
/* The device form (a GPU with NCCL): no thread. Each bucket, once the
 * kernels that make it are enqueued (the device's `done`), is packed,
 * summed and unpacked on d's side queue (rt_device.h's side_*) through
 * c's allreduce_dev_side; settle waits for the side queue (c's
 * wait_dev_side: NCCL's errors and timeout) and joins it to the kernels.
 * NULL with err when c or d lacks those entry points. */
rt_overlap *rt_overlap_new_dev(rt_comm *c, rt_device *d, rt_err *err);
/* Waits for the work given (rt_overlap_settle first), stops the thread. */
void rt_overlap_free(rt_overlap *o);

/* A new run's plan (a run of nkernels kernels): no member yet.
 * bucket_bytes: the most bytes of one bucket (a member larger goes
 * alone). Only between settle and the next run. */
void rt_overlap_begin(rt_overlap *o, size_t bucket_bytes, int nkernels);
/* A member: n elements of dtype (RT_F32 or RT_F64) at host address buf,
 * final once kernels [0, upto) are complete. Members are added in order
 * of upto. 0, or -1 with err (out of memory). */
int rt_overlap_add(rt_overlap *o, void *buf, size_t n, rt_dtype dtype, int upto, rt_err *err);

/* The device form, after the members: the bytes of the largest bucket of
 * several members (0: none is packed), and the device buffer of at least
 * that many that the caller keeps for it (rt_step_dev_stage: made before
 * the run, where an allocation may wait for the device). */
size_t rt_overlap_packed_bytes(const rt_overlap *o);
void rt_overlap_set_stage(rt_overlap *o, void *dev_buf);

/* rt_dev_sched's done: kernels [0, upto) are complete. Hands the thread
 * every bucket that is ready. */
void rt_overlap_done(void *o, int upto);
/* Hands over the rest and waits for every bucket: 0, or -1 with the
 * first failed all-reduce's message. */
int rt_overlap_settle(void *o, rt_err *err);

/* Since rt_overlap_new: buckets all-reduced, how many of them were handed
 * over before the run's last kernel, the seconds the thread spent in the
 * all-reduces and the seconds the runs waited for it in settle (what the
 * kernels did not hide; waiting for slower ranks included). The device
 * form: the seconds enqueuing and waiting, and the wait in settle, which
 * there includes the kernels still running (the host never waited for
 * them before). */
typedef struct {
	int64_t buckets, early;
	double comm_s, after_s;
} rt_overlap_stat;
void rt_overlap_stats(rt_overlap *o, rt_overlap_stat *out);

#endif
