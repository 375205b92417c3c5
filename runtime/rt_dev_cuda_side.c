/*
 * rt_dev_cuda_side.c - the CUDA device's side queue (rt_device.h's
 * side_*): a non-blocking stream of its own beside the legacy default
 * stream that the kernels run on, where the overlapped all-reduce
 * (rt_overlap.h) packs a bucket, sums it with NCCL and unpacks it while
 * the backward pass goes on.
 *
 * Non-blocking, because the legacy default stream waits for every
 * blocking stream's work, which would put the sums back in line with the
 * kernels. The order between the two is only the events': side_fork
 * records one on the default stream for the side to wait on, side_join
 * one on the side for the default stream to wait on. The host waits for
 * neither (NCCL's own wait polls the side's stream: rt_comm_nccl.c).
 */
#include "rt_dev_cuda_int.h"

static int side_make(cuda_dev *c, rt_err *err)
{
	if (c->side)
		return 0;
	if (!c->side_at)
		CU(c, c->drv.cuEventCreate(&c->side_at, RT_CU_EVENT_DISABLE_TIMING), "cuEventCreate",
		   err);
	if (!c->side_done)
		CU(c, c->drv.cuEventCreate(&c->side_done, RT_CU_EVENT_DISABLE_TIMING), "cuEventCreate",
		   err);
	CU(c, c->drv.cuStreamCreate(&c->side, RT_CU_STREAM_NON_BLOCKING), "cuStreamCreate", err);
	return 0;
}

static int side_fork(rt_device *d, rt_err *err)
{
	cuda_dev *c = d->self;
	if (side_make(c, err))
		return -1;
	CU(c, c->drv.cuEventRecord(c->side_at, NULL), "cuEventRecord", err);
	CU(c, c->drv.cuStreamWaitEvent(c->side, c->side_at, 0), "cuStreamWaitEvent", err);
	return 0;
}

static int side_copy(rt_device *d, void *dst, const void *src, size_t bytes, rt_err *err)
{
	cuda_dev *c = d->self;
	if (side_make(c, err))
		return -1;
	if (bytes && dst != src)
		CU(c, c->drv.cuMemcpyDtoDAsync(dptr(dst), dptr(src), bytes, c->side),
		   "cuMemcpyDtoDAsync", err);
	return 0;
}

static int side_join(rt_device *d, rt_err *err)
{
	cuda_dev *c = d->self;
	if (!c->side)
		return 0; /* nothing was ever put there */
	CU(c, c->drv.cuEventRecord(c->side_done, c->side), "cuEventRecord", err);
	CU(c, c->drv.cuStreamWaitEvent(NULL, c->side_done, 0), "cuStreamWaitEvent", err);
	return 0;
}

static void *side_stream(rt_device *d, rt_err *err)
{
	cuda_dev *c = d->self;
	return side_make(c, err) ? NULL : (void *)c->side;
}

void rt_cudev_side_init(cuda_dev *c)
{
	c->d.side_fork = side_fork;
	c->d.side_copy = side_copy;
	c->d.side_join = side_join;
	c->d.side_stream = side_stream;
}

void rt_cudev_side_close(cuda_dev *c)
{
	if (c->side) {
		c->drv.cuStreamSynchronize(c->side);
		c->drv.cuStreamDestroy(c->side);
	}
	if (c->side_at)
		c->drv.cuEventDestroy(c->side_at);
	if (c->side_done)
		c->drv.cuEventDestroy(c->side_done);
	c->side = NULL;
	c->side_at = c->side_done = NULL;
}

int rt_dev_cuda_query_side(rt_device *d, rt_err *err)
{
	if (!rt_dev_is_cuda(d))
		return rt_errf(err, "cuda: not a CUDA device");
	cuda_dev *c = d->self;
	if (!c->side)
		return 1;
	rt_cu_result r = c->drv.cuStreamQuery(c->side);
	if (r == RT_CU_ERROR_NOT_READY)
		return 0;
	CU(c, r, "cuStreamQuery", err);
	return 1;
}
