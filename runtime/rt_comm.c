/*
 * rt_comm.c - the one-rank communicator and the helpers every
 * communicator shares (rt_comm.h). rt_comm_open lives beside the MPI
 * communicator, which it may choose (rt_comm_open.c).
 */
#include "rt_comm.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int self_allreduce(rt_comm *c, void *buf, size_t n, rt_comm_dtype dt, rt_err *err)
{
	(void)c, (void)buf, (void)n, (void)dt, (void)err;
	return 0;
}

static int self_bcast(rt_comm *c, void *buf, size_t bytes, int root, rt_err *err)
{
	(void)c, (void)buf, (void)bytes;
	if (root != 0)
		return rt_errf(err, "comm: broadcast from rank %d of a one-rank run", root);
	return 0;
}

static int self_allgather(rt_comm *c, const void *mine, size_t bytes, void *all, rt_err *err)
{
	(void)c, (void)err;
	if (bytes)
		memmove(all, mine, bytes);
	return 0;
}

static void self_release(rt_comm *c) { (void)c; }

rt_comm *rt_comm_self(void)
{
	/* no state is ever written: the counters stay 0, as one rank sends
	 * nothing */
	static rt_comm self = {
		.name = "self",
		.rank = 0,
		.size = 1,
		.allreduce = self_allreduce,
		.bcast = self_bcast,
		.allgather = self_allgather,
		.release = self_release,
		.serialized = 1,
	};
	return &self;
}

void rt_comm_set_stop(rt_comm *c, const volatile sig_atomic_t *stop)
{
	if (c != rt_comm_self())
		c->stop = stop;
}

static size_t dt_size(rt_comm_dtype dt) { return dt == RT_COMM_F64 ? 8 : 4; }

int rt_comm_allreduce_dev(rt_comm *c, rt_device *d, void *buf, size_t n, rt_comm_dtype dt,
                          void *scratch, rt_err *err)
{
	if (c->size == 1 || n == 0)
		return 0;
	if (c->allreduce_dev)
		return c->allreduce_dev(c, d, buf, n, dt, err);
	void *host = d->host_view ? d->host_view(d, buf) : NULL;
	if (host)
		return c->allreduce(c, host, n, dt, err);
	size_t bytes = n * dt_size(dt);
	if (d->download(d, scratch, buf, bytes, err) || c->allreduce(c, scratch, n, dt, err))
		return -1;
	return d->upload(d, buf, scratch, bytes, err);
}

int rt_comm_agree(rt_comm *c, const char *what, uint64_t value, rt_err *err)
{
	if (c->size == 1)
		return 0;
	uint64_t *all = calloc((size_t)c->size, sizeof *all);
	if (!all)
		return rt_errf(err, "comm: out of memory");
	if (c->allgather(c, &value, sizeof value, all, err)) {
		free(all);
		return -1;
	}
	char ranks[256] = "";
	size_t len = 0;
	int bad = 0, first = -1;
	for (int r = 1; r < c->size; r++) {
		if (all[r] == all[0])
			continue;
		if (first < 0)
			first = r;
		if (bad++ < 8 && len < sizeof ranks - 16)
			len += (size_t)snprintf(ranks + len, sizeof ranks - len, "%s%d", bad > 1 ? ", " : "", r);
	}
	if (!bad) {
		free(all);
		return 0;
	}
	rt_errf(err,
	        "comm: rank%s %s%s disagree%s with rank 0 on the %s (rank 0: %016" PRIx64
	        ", rank %d: %016" PRIx64 "): every rank must run the same model file, "
	        "arguments and recipe",
	        bad > 1 ? "s" : "", ranks, bad > 8 ? ", ..." : "", bad > 1 ? "" : "s", what,
	        all[0], first, all[first]);
	free(all);
	return -1;
}
