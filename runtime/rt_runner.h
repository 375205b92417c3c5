/*
 * rt_runner.h - the backend-neutral step runner: an rt_exec that runs a
 * compiled step's table (rt_prog.h) on a device (rt_device.h).
 *
 * A run binds the slots' device addresses and the arena's ranges to the
 * kernels' arguments; has the device run the schedule (its own `run`, or
 * one launch or GEMM after another); reads the kernels' error words and
 * reports the first failing kernel as "<model.lua:line: op>: <msg> (code
 * N, input 'y')"; downloads the scalar outputs; and commits the assigns on
 * the device: first every snapshot, then every new value into its slot
 * (skipped when the kernel wrote it in place). Per step the host moves only
 * the outputs and the error words (the batch and the step scalars are the
 * caller's uploads). No threads, no BLAS: that is the device's business.
 */
#ifndef SAMC_RT_RUNNER_H
#define SAMC_RT_RUNNER_H

#include "rt_device.h"
#include "rt_exec.h"
#include "rt_prog.h"

/* Checks the table (buffer ids in range, kernels the device supports and
 * loop kernels with functions, buffers inside their arena) and makes
 * an exec, backend dev->name, that owns dev (released with the exec, or at
 * once on failure). The table must outlive the exec. NULL with a message. */
rt_exec *rt_runner_new(const rt_prog *p, rt_device *dev, rt_err *err);

/* The overlapped all-reduce of the accumulators (rt_overlap.h) asks the
 * runner where a slot's new value is final: the number u of kernels after
 * which no kernel touches the buffer that holds it, and that buffer (*holder:
 * its arena address, the commit then moving it into the slot; NULL: the
 * slot's own memory). -1 when x is not a runner's exec or the value is not
 * one buffer's alone until the commits (a snapshot, an output, another
 * commit reads it). */
int rt_runner_final_at(const rt_exec *x, int slot, void **holder);
/* The schedule's kernel count, or -1 when x is not a runner's exec. */
int rt_runner_nkernels(const rt_exec *x);

/* The index of the schedule's last collective (RT_K_COMM: sync_bn's
 * rank_sum), or -1 when it has none or x is not a runner's exec. */
int rt_runner_last_comm(const rt_exec *x);

/* A run (as x->run) that reports its progress: done(ctx, u) whenever the
 * device says kernels [0, u) are complete, at the latest with u = nkernels
 * after them all; then settle(ctx, err), always (also after a failed
 * launch), before the error words are read and the assigns committed. */
typedef struct {
	void (*done)(void *ctx, int upto);
	int (*settle)(void *ctx, rt_err *err);
	void *ctx;
} rt_runner_watch;
int rt_runner_run_watched(rt_exec *x, void **slot_data, double *outputs,
                          const rt_runner_watch *w, rt_err *err);

#endif
