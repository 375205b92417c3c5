/*
 * rt_comm.h - the ranks of a data-parallel run and the collectives the
 * runtime needs from them.
 *
 * A communicator is a small vtable, like a device (rt_device.h): the
 * runtime never calls MPI or NCCL itself. Implementations:
 *
 *   self   one rank (rt_comm_self): every collective is the identity;
 *          what a run gets outside a launcher
 *   mpi    the ranks of MPI_COMM_WORLD (rt_comm_mpi.h), when samc is
 *          built with an MPI and started by a launcher (mpirun)
 *
 * Sums are in a fixed order, so that every rank ends with the same bits
 * and a run does not depend on how its launcher placed the ranks:
 * element i of the result is ((x_0[i] + x_1[i]) + x_2[i]) + ... over the
 * ranks 0, 1, 2, ... in order, rounded in the buffer's type after each
 * addition. With one rank it is x_0 itself.
 *
 * A collective that does not complete (a rank died, or stopped answering
 * for longer than the communicator's timeout) returns -1 with a message
 * naming this rank, the collective and the cause; the caller ends the run
 * without writing a checkpoint for the unfinished step.
 */
#ifndef SAMC_RT_COMM_H
#define SAMC_RT_COMM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "rt_device.h"
#include "rt_err.h"

typedef enum { RT_COMM_F32, RT_COMM_F64 } rt_comm_dtype;

typedef struct rt_comm rt_comm;

struct rt_comm {
	const char *name; /* "self", "mpi" (in messages) */
	int rank, size;
	void *self;

	/* buf[0..n) := the fixed-order sum over the ranks of their buf, on
	 * every rank (host memory) */
	int (*allreduce)(rt_comm *c, void *buf, size_t n, rt_comm_dtype dt, rt_err *err);
	/* buf[0..bytes) := root's buf on every rank */
	int (*bcast)(rt_comm *c, void *buf, size_t bytes, int root, rt_err *err);
	/* all[r*bytes .. (r+1)*bytes) := rank r's mine, on every rank */
	int (*allgather)(rt_comm *c, const void *mine, size_t bytes, void *all, rt_err *err);

	/* optional: the same fixed-across-ranks sum over memory of device d
	 * (NCCL on GPUs: the same result on every rank, in NCCL's order);
	 * NULL: rt_comm_allreduce_dev stages through the host */
	int (*allreduce_dev)(rt_comm *c, rt_device *d, void *buf, size_t n, rt_comm_dtype dt,
	                     rt_err *err);
	/* optional, with allreduce_dev, both or neither: the same sum enqueued
	 * on d's side queue (rt_device.h's side_stream) and not waited for;
	 * wait_dev_side waits for everything on that queue and fails as
	 * allreduce_dev does (a rank gone, SAMC_DIST_TIMEOUT, a stop). Every
	 * rank enqueues the same sums in the same order (rt_overlap.h). */
	int (*allreduce_dev_side)(rt_comm *c, rt_device *d, void *buf, size_t n, rt_comm_dtype dt,
	                          rt_err *err);
	int (*wait_dev_side)(rt_comm *c, rt_device *d, rt_err *err);

	void (*release)(rt_comm *c); /* frees the communicator (MPI: finalizes) */

	/* what the collectives cost, summed since the communicator opened:
	 * wall seconds inside them and bytes this rank sent */
	double seconds;
	uint64_t bytes;

	/* a flag that a SIGINT/SIGTERM handler sets to its signal's number
	 * (rt_comm_set_stop); a collective waiting for other ranks polls it
	 * and fails when it is set and those ranks stay silent (MPI: for
	 * 0.3 s). NULL: not polled (self never waits). */
	const volatile sig_atomic_t *stop;

	/* the state of an allreduce_dev that is not the communicator's own
	 * (NCCL's, rt_comm_nccl.h), or NULL */
	void *dev_self;
	/* 1: the collectives may be called from another thread than the one
	 * that opened the communicator, one call at a time (MPI: the library
	 * granted MPI_THREAD_SERIALIZED); the overlapped all-reduce needs it
	 * (rt_overlap.h) */
	int serialized;
};

/* The one-rank communicator: a constant, release does nothing. */
rt_comm *rt_comm_self(void);

/* The run's communicator: MPI's world when this process was started by
 * an MPI launcher and samc has MPI, else rt_comm_self(). -1 with err when
 * a launcher started it and MPI cannot start (or samc has no MPI). */
int rt_comm_open(rt_comm **out, rt_err *err);

/* Hands the communicator the flag of the caller's signal handler (the
 * training loop's SIGINT/SIGTERM flag): a collective that waits for other
 * ranks then returns -1 soon after the signal instead of waiting for ranks
 * that ended (ranks that answer still complete it). Does nothing to
 * rt_comm_self(), which never waits. */
void rt_comm_set_stop(rt_comm *c, const volatile sig_atomic_t *stop);

/* allreduce over a buffer of device d: allreduce_dev when the
 * communicator has it, else download into scratch (n elements of dt,
 * host memory), allreduce, upload. */
int rt_comm_allreduce_dev(rt_comm *c, rt_device *d, void *buf, size_t n, rt_comm_dtype dt,
                          void *scratch, rt_err *err);

/* Checks that every rank holds the same value of `what` (a program hash,
 * the data set's size): 0, or -1 with a message naming the ranks that
 * disagree with rank 0 and both values. */
int rt_comm_agree(rt_comm *c, const char *what, uint64_t value, rt_err *err);

#endif
