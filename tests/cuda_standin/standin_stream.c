/*
 * standin_stream.c - the host stand-in's streams and events as other
 * libraries see them: the NCCL stand-in (tests/nccl_standin) enqueues a
 * sum on a stream, as NCCL enqueues its kernel on the caller's stream, by
 * counting it pending there (samc_standin_pending_on(stream, +1)) and
 * done (-1) from its own thread. The stand-in's own work is synchronous,
 * so pending work is only theirs: cuStreamQuery says CUDA_ERROR_NOT_READY
 * while a stream has some, and what must follow it waits for it on the
 * host: the next copy or launch on that stream, a stream waiting on an
 * event recorded there (the whole stream's pending work: later work too,
 * which only waits longer) and the synchronizations.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "standin.h"

typedef struct {
	atomic_int pending;
} stream;

typedef struct {
	stream *on; /* where it was last recorded; NULL: never */
} event;

static stream legacy; /* the legacy default stream (NULL, or NCCL's 0x1) */
static atomic_int total;

static stream *of(void *s)
{
	return !s || s == (void *)0x1 ? &legacy : (stream *)s;
}

EXPORT void samc_standin_pending_on(void *s, int delta)
{
	atomic_fetch_add(&of(s)->pending, delta);
	atomic_fetch_add(&total, delta);
}

static void wait_on(const stream *s)
{
	while (atomic_load(&s->pending) > 0)
		nanosleep(&(struct timespec){0, 200000}, NULL);
}

void standin_wait_stream(void *s)
{
	wait_on(of(s));
}

void standin_wait_pending(void)
{
	while (atomic_load(&total) > 0)
		nanosleep(&(struct timespec){0, 200000}, NULL);
}

EXPORT CUresult cuStreamQuery(void *s)
{
	return atomic_load(&of(s)->pending) > 0 ? NOT_READY : OK;
}

EXPORT CUresult cuStreamCreate(void **s, unsigned flags)
{
	(void)flags;
	return (*s = calloc(1, sizeof(stream))) ? OK : OUT_OF_MEMORY;
}

EXPORT CUresult cuStreamDestroy_v2(void *s)
{
	if (!s)
		return INVALID_VALUE;
	wait_on(s); /* as CUDA: the stream's work completes first */
	free(s);
	return OK;
}

EXPORT CUresult cuStreamSynchronize(void *s)
{
	wait_on(of(s));
	return OK;
}

EXPORT CUresult cuEventCreate(void **e, unsigned flags)
{
	(void)flags;
	return (*e = calloc(1, sizeof(event))) ? OK : OUT_OF_MEMORY;
}

EXPORT CUresult cuEventDestroy_v2(void *e)
{
	free(e);
	return e ? OK : INVALID_VALUE;
}

EXPORT CUresult cuEventRecord(void *e, void *s)
{
	if (!e)
		return INVALID_VALUE;
	((event *)e)->on = of(s);
	return OK;
}

EXPORT CUresult cuStreamWaitEvent(void *s, void *e, unsigned flags)
{
	if (!e || flags)
		return INVALID_VALUE;
	const event *ev = e;
	if (!ev->on)
		return OK; /* never recorded: nothing to wait for */
	if (of(s) == &legacy && ev->on != &legacy)
		counts.side_waits++;
	wait_on(ev->on);
	return OK;
}
