/*
 * test_comm_pair.h - two ranks over a socket pair (one forked), for the
 * unit tests of what NCCL needs from a communicator: bcast and allgather
 * (the sums themselves are NCCL's, so the host allreduce refuses).
 */
#ifndef SAMC_TEST_COMM_PAIR_H
#define SAMC_TEST_COMM_PAIR_H

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "rt_comm.h"

static int pair_io(int fd, void *buf, size_t n, int out)
{
	char *p = buf;
	while (n) {
		ssize_t k = out ? write(fd, p, n) : read(fd, p, n);
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int pair_bcast(rt_comm *c, void *buf, size_t bytes, int root, rt_err *err)
{
	if (pair_io((int)(intptr_t)c->self, buf, bytes, c->rank == root))
		return rt_errf(err, "pair: bcast: the peer is gone");
	return 0;
}

static int pair_allgather(rt_comm *c, const void *mine, size_t bytes, void *all, rt_err *err)
{
	int fd = (int)(intptr_t)c->self;
	memcpy((char *)all + (size_t)c->rank * bytes, mine, bytes);
	/* small messages: the socket's buffer holds one while both write */
	if (pair_io(fd, (void *)mine, bytes, 1) ||
	    pair_io(fd, (char *)all + (size_t)(1 - c->rank) * bytes, bytes, 0))
		return rt_errf(err, "pair: allgather: the peer is gone");
	return 0;
}

static int pair_allreduce(rt_comm *c, void *buf, size_t n, rt_comm_dtype dt, rt_err *err)
{
	(void)c, (void)buf, (void)n, (void)dt;
	return rt_errf(err, "pair: no host allreduce here");
}

/* Rank `rank` of the pair, talking through socket fd. */
static rt_comm pair_comm(int rank, int fd)
{
	return (rt_comm){.name = "pair", .rank = rank, .size = 2, .self = (void *)(intptr_t)fd,
	                 .allreduce = pair_allreduce, .bcast = pair_bcast,
	                 .allgather = pair_allgather};
}

#endif
