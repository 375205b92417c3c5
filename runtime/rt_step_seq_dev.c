/*
 * rt_step_seq_dev.c - the accumulators' all-reduce in buckets of device
 * memory, for a communicator that sums device memory (NCCL): see
 * rt_step_reduce_dev in rt_step_seq.h.
 *
 * The store allocates every buffer on its own, so the accumulators of a
 * kind lie apart; one NCCL call per tensor pays NCCL's launch latency (and
 * on several machines the network's) once per tensor, as PyTorch DDP's
 * buckets avoid. Packing costs two device copies of the bytes at the GPU's
 * memory bandwidth, far above a link's; the cap bounds the extra device
 * memory, and a tensor as large as the cap is summed where it is, uncopied.
 */
#include "rt_step_seq.h"

int rt_step_dev_stage(rt_step_stage *sg, rt_device *d, size_t bytes, rt_err *err)
{
	if (sg->dbuf && rt_device_shares(sg->ddev, d) && sg->dcap >= bytes)
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

/* One bucket: the accumulators idx[0..n) of `bytes` in all, one call. */
static int bucket(rt_comm *c, rt_store *st, const int *idx, int n, size_t bytes, rt_comm_dtype dt,
                  rt_step_stage *sg, rt_err *err)
{
	rt_device *d = st->dev;
	size_t count = bytes / (dt == RT_COMM_F64 ? 8 : 4);
	if (n == 1) /* summed in place */
		return c->allreduce_dev(c, d, st->buf[idx[0]].addr, count, dt, err);
	if (rt_step_dev_stage(sg, d, bytes, err))
		return -1;
	char *at = sg->dbuf; /* a device address: offsets only */
	for (int k = 0; k < n; k++) {
		const rt_store_buf *b = &st->buf[idx[k]];
		if (d->copy(d, at, b->addr, b->bytes, err))
			return -1;
		at += b->bytes;
	}
	if (c->allreduce_dev(c, d, sg->dbuf, count, dt, err))
		return -1;
	at = sg->dbuf;
	for (int k = 0; k < n; k++) {
		const rt_store_buf *b = &st->buf[idx[k]];
		if (d->copy(d, b->addr, at, b->bytes, err))
			return -1;
		at += b->bytes;
	}
	return 0;
}

int rt_step_reduce_dev(rt_comm *c, rt_store *st, const char *what, rt_step_stage *sg, size_t cap,
                       rt_err *err)
{
	int *idx = rt_step_stage_idx(sg, st->n), k = 0, rc = 0;
	if (!idx)
		return rt_errf(err, "out of memory for the all-reduce of %s.*", what);
	rt_dtype dt;
	size_t total, bytes = 0;
	int n = rt_step_accums(st, what, idx, &dt, &total);
	rt_comm_dtype cdt = dt == RT_F64 ? RT_COMM_F64 : RT_COMM_F32;
	/* consecutive accumulators up to cap bytes a bucket, in store order:
	 * a bucket is idx[j - k .. j) */
	for (int j = 0; j < n && !rc; j++) {
		size_t b = st->buf[idx[j]].bytes;
		if (k > 0 && bytes + b > cap) {
			rc = bucket(c, st, idx + j - k, k, bytes, cdt, sg, err);
			k = 0;
			bytes = 0;
		}
		k++;
		bytes += b;
	}
	if (!rc && k > 0)
		rc = bucket(c, st, idx + n - k, k, bytes, cdt, sg, err);
	return n < 0 ? 1 : rc ? -1 : 0;
}
