/*
 * rt_step_seq_dev.c - the accumulators' all-reduce in one bucket of device
 * memory, for a communicator that sums device memory (NCCL): see
 * rt_step_reduce_dev in rt_step_seq.h.
 *
 * The store allocates every buffer on its own, so the accumulators of a
 * kind lie apart; one NCCL call per tensor pays NCCL's launch latency (and
 * on several machines the network's) once per tensor, as DDP's buckets
 * avoid. Packing them with device copies costs two passes over the bytes
 * at the device's memory bandwidth, far below a link's.
 */
#include "rt_step_seq.h"

#include <string.h>

static int is_accum(const rt_store_buf *b, const char *what, size_t len)
{
	return strncmp(b->slot.name, what, len) == 0 && b->slot.name[len] == '.';
}

/* The stage's device buffer of at least bytes on d, kept between steps. */
static int dev_stage(rt_step_stage *sg, rt_device *d, size_t bytes, rt_err *err)
{
	if (sg->dbuf && sg->ddev == d && sg->dcap >= bytes)
		return 0;
	if (sg->dbuf)
		sg->ddev->free(sg->ddev, sg->dbuf);
	sg->dbuf = NULL;
	sg->dcap = 0;
	rt_err e = {{0}};
	if (d->alloc(d, bytes, &sg->dbuf, &e))
		return rt_errf(err, "the all-reduce's bucket of %zu bytes: %s", bytes, e.msg);
	sg->ddev = d;
	sg->dcap = bytes;
	return 0;
}

int rt_step_reduce_dev(rt_comm *c, rt_store *st, const char *what, rt_step_stage *sg,
                       rt_err *err)
{
	size_t len = strlen(what), bytes = 0;
	int dt = -1, n = 0, one = -1;
	for (int i = 0; i < st->n; i++) {
		const rt_store_buf *b = &st->buf[i];
		if (!is_accum(b, what, len))
			continue;
		if (dt >= 0 && (int)b->slot.dtype != dt)
			return 1;
		dt = (int)b->slot.dtype;
		bytes += b->bytes;
		n++;
		one = i;
	}
	if (bytes == 0)
		return 0;
	size_t esz = dt == RT_F64 ? 8 : 4;
	rt_comm_dtype cdt = dt == RT_F64 ? RT_COMM_F64 : RT_COMM_F32;
	rt_device *d = st->dev;
	if (n == 1) /* one tensor: summed in place */
		return c->allreduce_dev(c, d, st->buf[one].addr, bytes / esz, cdt, err);
	if (dev_stage(sg, d, bytes, err))
		return -1;
	char *at = sg->dbuf; /* a device address: offsets only */
	for (int i = 0; i < st->n; i++)
		if (is_accum(&st->buf[i], what, len)) {
			if (d->copy(d, at, st->buf[i].addr, st->buf[i].bytes, err))
				return -1;
			at += st->buf[i].bytes;
		}
	if (c->allreduce_dev(c, d, sg->dbuf, bytes / esz, cdt, err))
		return -1;
	at = sg->dbuf;
	for (int i = 0; i < st->n; i++)
		if (is_accum(&st->buf[i], what, len)) {
			if (d->copy(d, st->buf[i].addr, at, st->buf[i].bytes, err))
				return -1;
			at += st->buf[i].bytes;
		}
	return 0;
}
