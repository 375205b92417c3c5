/*
 * rt_dev_comm.c - a step table's COMM entry (rank_sum) on any device: the
 * sum over the run's ranks through its communicator (see rt_device.h).
 */
#include <stdlib.h>

#include "rt_comm.h"
#include "rt_device.h"

int rt_device_comm(rt_device *d, const rt_prog_kernel *k, void **args, struct rt_comm *c,
                   rt_err *err)
{
	size_t n = (size_t)k->comm_n, bytes = n * (k->f64 ? sizeof(double) : sizeof(float));
	if (args[1] != args[0] && d->copy(d, args[1], args[0], bytes, err))
		return -1;
	if (!c || c->size <= 1 || n == 0)
		return 0;
	rt_comm_dtype dt = k->f64 ? RT_COMM_F64 : RT_COMM_F32;
	rt_err e = {{0}};
	int rc;
	void *host = d->host_view ? d->host_view(d, args[1]) : NULL;
	if (host) {
		/* host memory: the communicator's own sum, whatever else it has */
		rc = c->allreduce(c, host, n, dt, &e);
	} else {
		void *scratch = c->allreduce_dev ? NULL : malloc(bytes);
		if (!c->allreduce_dev && !scratch)
			return rt_errf(err, "%s: out of memory for a rank_sum of %zu bytes", d->name, bytes);
		rc = rt_comm_allreduce_dev(c, d, args[1], n, dt, scratch, &e);
		free(scratch);
	}
	if (rc)
		return rt_errf(err, "%s: %s", k->fail_where ? k->fail_where : "rank_sum", e.msg);
	return 0;
}
