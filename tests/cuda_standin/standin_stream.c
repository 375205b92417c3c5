/*
 * standin_stream.c - the host stand-in's default stream as other libraries
 * see it: the NCCL stand-in (tests/nccl_standin) enqueues a sum there, as
 * NCCL enqueues its kernel on the caller's stream, by counting it pending
 * here (samc_standin_pending(+1)) and done (-1) from its own thread. The
 * stand-in's own work is synchronous, so pending work is only theirs:
 * cuStreamQuery says CUDA_ERROR_NOT_READY while there is some, and the
 * synchronizations wait for it.
 */
#include <stdatomic.h>
#include <time.h>

#include "standin.h"

static atomic_int pending;

EXPORT void samc_standin_pending(int delta)
{
	atomic_fetch_add(&pending, delta);
}

void standin_wait_pending(void)
{
	while (atomic_load(&pending) > 0)
		nanosleep(&(struct timespec){0, 200000}, NULL);
}

EXPORT CUresult cuStreamQuery(void *s)
{
	(void)s;
	return atomic_load(&pending) > 0 ? NOT_READY : OK;
}
