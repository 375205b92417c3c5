/*
 * rt_comm_mpi.h - the ranks of MPI_COMM_WORLD as a communicator (rt_comm.h).
 *
 * Compiled only when samc is built with an MPI (SAMC_HAVE_MPI); the
 * header itself needs no MPI, so a caller may include it in any build.
 *
 * Collectives are point-to-point messages that this rank polls, never a
 * blocking MPI call: a rank that dies or hangs cannot stall the others
 * forever. A collective returns -1 with a message naming this rank, the
 * collective and the cause when
 *   - no message from the ranks it waits for arrived for the
 *     communicator's timeout (SAMC_DIST_TIMEOUT seconds, default 300):
 *     "rank 1 stopped answering";
 *   - the stop flag (rt_comm_set_stop) was set by a SIGINT/SIGTERM handler
 *     and the ranks it waits for stay silent for 0.3 s more: under mpirun
 *     a SIGTERM means another rank ended (mpirun ends the job with SIGTERM,
 *     then SIGKILL a second later: see rt_comm_mpi.c). Ranks that all got
 *     the signal (Ctrl-C) and still answer finish the collective, so a run
 *     can stop after its step.
 * After such a failure the communicator is broken: every later collective
 * fails at once, and release does not wait in MPI_Finalize for ranks that
 * will never answer. The caller ends the run (exit 1).
 *
 * allreduce is a reduce-scatter and an allgather: rank r sums slice r of
 * the buffer over the ranks in rank order, then sends its slice to every
 * rank (each rank sends 2 (N-1)/N of the buffer, as a ring all-reduce
 * does). Messages carry at most 64 MiB, so buffers of any size (past the
 * 2^31 elements an MPI count holds) go through in pieces.
 */
#ifndef SAMC_RT_COMM_MPI_H
#define SAMC_RT_COMM_MPI_H

#include "rt_comm.h"

/* MPI_Init (unless the process already did) and MPI_COMM_WORLD as a
 * communicator: 0, or -1 with a message (MPI does not start, a bad
 * SAMC_DIST_TIMEOUT). */
int rt_comm_mpi_open(rt_comm **out, rt_err *err);

/* The most bytes one message carries (default 64 MiB): tests make it small
 * to run the splitting that large buffers need. 0: the default. Does
 * nothing to a communicator that is not MPI's. */
void rt_comm_mpi_set_chunk(rt_comm *c, size_t bytes);

#endif
