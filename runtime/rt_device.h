/*
 * rt_device.h - the device layer: where a compiled step's memory lives and
 * where its kernels run.
 *
 * A device is a small vtable in the style of ggml's backend interface:
 * memory (alloc, free, upload, download, copy) is separate from compute
 * (launch a loop kernel, GEMM, synchronise), and `supports` says which
 * kernel kinds it runs. Every call returns 0 or -1 with a message in an
 * rt_err; none crashes on a bad argument it can see.
 *
 *   memory   A device buffer is named by its device address (`void *`),
 *            which the host may offset (base + bytes) and pass back to the
 *            device, but never dereferences: for a GPU it is not host
 *            memory at all. alloc returns zeroed memory. Transfers are
 *            explicit: upload (host -> device), download (device -> host),
 *            copy (device -> device, e.g. the commits of a step).
 *            `host_view` is the one exception: a device whose memory the
 *            host can address (the CPU) returns the host pointer of a
 *            device address, so the runtime fills a batch straight into it
 *            instead of staging it and uploading; any other device returns
 *            NULL there and the runtime goes through upload/download.
 *   compute  `launch` runs one loop kernel (rt_prog_kernel of a loop kind)
 *            over its whole extent with its arguments bound to device
 *            addresses; a kernel that finds bad data (a label out of range)
 *            cannot return an error from a GPU, so it writes a nonzero code
 *            to its int32 error word (a device address too) and stops. The
 *            runner reads the words after the kernels and reports the first
 *            failing kernel with the model's file:line. `gemm` runs one
 *            RT_K_GEMM entry, `conv` one RT_K_CONV entry (a convolution
 *            library call; NULL on a device that does not support the
 *            kind). Launches may be asynchronous; `sync` waits
 *            for all of them, and a download is ordered after them.
 *   schedule A device may look at a whole step's schedule once (`plan`) and
 *            then run it itself (`run`), e.g. the CPU device runs a GEMM on
 *            its worker beside the small kernels that follow it. A device
 *            without them gets its kernels launched one by one, in order.
 *
 * The backend-neutral step runner (rt_runner.h) drives a device: it binds
 * buffers, launches, downloads outputs and error words, commits; it knows
 * nothing of threads or BLAS. Devices so far: the CPU (rt_dev_cpu.h) and
 * the host (rt_dev_host below: host memory, no kernels; the interpreter's
 * and hand-written execs' memory: an rt_exec without a device). A backend
 * for a new target provides one of these vtables and its kernels' code.
 *
 * Over a training run (rt_train.h) parameters, optimizer state and the
 * arena's activations stay on the device. The run's buffers (rt_store.h)
 * are allocated on the device of its first exec, which owns it; execs that
 * share that memory (rt_device_shares) use them too. Per step the host
 * uploads the batch and the step scalars, and the runner downloads the
 * outputs and the error words; a checkpoint downloads every parameter and
 * state buffer once, a resume uploads each once. tests/unit/test_device.c
 * holds these counts to a device that keeps its memory closed outside its
 * own calls.
 */
#ifndef SAMC_RT_DEVICE_H
#define SAMC_RT_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "rt_err.h"
#include "rt_prog.h"

typedef struct rt_device rt_device;
struct rt_comm;

/* A step's schedule bound to device addresses, as the runner hands it to
 * a device's `run`: kernel i reads args[i][0..nargs) and, if it is a loop
 * kernel, writes its error word at errs + 4*i. */
typedef struct {
	const rt_prog *p;
	void ***args; /* per kernel */
	char *errs;   /* device address of p->nkernels int32 words */
	/* the run's ranks (the exec's comm), for COMM entries; NULL: one rank */
	struct rt_comm *comm;
	/* NULL, or called as done(done_ctx, u) from the thread that runs the
	 * schedule once kernels [0, u) are complete, u increasing (the
	 * overlapped all-reduce, rt_overlap.h); a device may call it seldom or
	 * never: the runner calls it with nkernels after the run. A device
	 * with a side queue (below) calls it once they are enqueued: work put
	 * on the side after side_fork then follows them */
	void (*done)(void *ctx, int upto);
	void *done_ctx;
} rt_dev_sched;

struct rt_device {
	const char *name;   /* "cpu", "host", ... (in messages) */
	/* devices with the same non-NULL memory name address the same memory
	 * (every "host" device); otherwise only a device itself does */
	const char *memory;
	void *self;
	/* 1: the device finds loop kernels by name in code of its own (a
	 * CUDA module), so a table's kernels need no host function `fn` */
	int named_kernels;

	int (*alloc)(rt_device *d, size_t bytes, void **out, rt_err *err);
	void (*free)(rt_device *d, void *buf);
	int (*upload)(rt_device *d, void *dst, const void *src, size_t bytes, rt_err *err);
	int (*download)(rt_device *d, void *dst, const void *src, size_t bytes, rt_err *err);
	int (*copy)(rt_device *d, void *dst, const void *src, size_t bytes, rt_err *err);
	/* host pointer of a device address, or NULL (see above); may be NULL */
	void *(*host_view)(rt_device *d, void *buf);

	int (*supports)(const rt_device *d, rt_kkind kind);
	int (*launch)(rt_device *d, const rt_prog_kernel *k, void **args, void *err_word,
	              rt_err *err);
	int (*gemm)(rt_device *d, const rt_prog_kernel *k, void **args, rt_err *err);
	int (*conv)(rt_device *d, const rt_prog_kernel *k, void **args, rt_err *err);
	int (*sync)(rt_device *d, rt_err *err);

	/* optional, all or none: pinned host memory (staging that a copy
	 * engine reads), and uploads that overlap the kernels (a GPU's copy
	 * stream):
	 *   upload_async  copies bytes of host memory from host_alloc to dst
	 *                 once the work launched before the last upload_fence
	 *                 is done, without waiting for it or for the copy; the
	 *                 host leaves src as it is until the next sync
	 *   upload_join   the work launched after it sees every upload_async
	 *                 before it (the host does not wait)
	 *   upload_fence  marks where the work launched so far ends, for the
	 *                 next upload_async (which may overwrite what it read) */
	int (*host_alloc)(rt_device *d, size_t bytes, void **out, rt_err *err);
	void (*host_free)(rt_device *d, void *p);
	int (*upload_async)(rt_device *d, void *dst, const void *src, size_t bytes, rt_err *err);
	int (*upload_join)(rt_device *d, rt_err *err);
	int (*upload_fence)(rt_device *d, rt_err *err);

	/* optional, all or none: a second queue beside the kernels (a GPU's
	 * communication stream), where the overlapped all-reduce (rt_overlap.h)
	 * packs, sums and unpacks while the kernels run; the host waits for
	 * none of these:
	 *   side_fork    the side's work from now on follows the work
	 *                launched so far
	 *   side_copy    a device copy, on the side
	 *   side_join    the work launched from now on follows the side's
	 *   side_stream  the side's handle, for a library that enqueues there
	 *                (NCCL's stream; rt_comm's allreduce_dev_side) */
	int (*side_fork)(rt_device *d, rt_err *err);
	int (*side_copy)(rt_device *d, void *dst, const void *src, size_t bytes, rt_err *err);
	int (*side_join)(rt_device *d, rt_err *err);
	void *(*side_stream)(rt_device *d, rt_err *err);

	/* optional, both or neither: a plan made once per schedule (*plan may
	 * stay NULL), then each run of the bound schedule; plan_free frees it */
	int (*plan)(rt_device *d, const rt_prog *p, void **plan, rt_err *err);
	int (*run)(rt_device *d, void *plan, const rt_dev_sched *s, rt_err *err);
	void (*plan_free)(rt_device *d, void *plan);

	void (*release)(rt_device *d); /* frees the device itself */
};

/* Do a and b address the same memory? */
int rt_device_shares(const rt_device *a, const rt_device *b);

/* The host device: memory from malloc (zeroed), transfers are memcpy, no
 * kernels. A constant shared by everyone (it has no state); release does
 * nothing. */
rt_device *rt_dev_host(void);

/* Runs a COMM entry (RT_K_COMM, rank_sum) on d: args[1] := args[0] summed
 * over c's ranks (c NULL or one rank: a copy). Every device runs it so,
 * in its place in the schedule: host memory through c->allreduce, device
 * memory through rt_comm_allreduce_dev (NCCL where attached, else staged
 * through the host). 0, or -1 with err naming the op's model line. */
int rt_device_comm(rt_device *d, const rt_prog_kernel *k, void **args, struct rt_comm *c,
                   rt_err *err);

/* Runs s's kernels on d one by one, in order (what the runner does when d
 * has no `run`; public so a device's own `run` can fall back to it). */
int rt_device_run_in_order(rt_device *d, const rt_dev_sched *s, rt_err *err);

#endif
