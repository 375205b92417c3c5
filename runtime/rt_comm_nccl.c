/*
 * rt_comm_nccl.c - NCCL through dlopen as a communicator's allreduce_dev
 * (see rt_comm_nccl.h).
 */
#include "rt_comm_nccl.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rt_dev_cuda.h"

/* how long a sum may go on after the stop flag is set (as rt_comm_mpi.c) */
#define STOP_GRACE_S 0.3

/* NCCL's part of a communicator (c->dev_self) */
typedef struct {
	rt_nccl_lib lib;
	rt_nccl_comm comm;
	rt_device *dev; /* the CUDA device attached */
	double timeout; /* seconds an allreduce may take */
	int aborted;    /* a sum failed: the NCCL communicator is gone */
} nccl_state;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void rt_nccl_version_str(int code, char *buf, size_t len)
{
	/* NCCL_VERSION(X,Y,Z): X*1000+Y*100+Z up to 2.8, X*10000+Y*100+Z after */
	if (code < 10000)
		snprintf(buf, len, "%d.%d.%d", code / 1000, code % 1000 / 100, code % 100);
	else
		snprintf(buf, len, "%d.%d.%d", code / 10000, code % 10000 / 100, code % 100);
}

int rt_nccl_check_version(int code, const char *path, rt_err *err)
{
	if (code >= RT_NCCL_MIN_VERSION)
		return 0;
	char have[32], need[32];
	rt_nccl_version_str(code, have, sizeof have);
	rt_nccl_version_str(RT_NCCL_MIN_VERSION, need, sizeof need);
	return rt_errf(err,
	               "nccl: %s is NCCL %s (ncclGetVersion %d), older than samc needs (%s, for "
	               "ncclCommGetAsyncError and ncclCommAbort): install a newer NCCL and name it "
	               "with SAMC_NCCL",
	               path, have, code, need);
}

void rt_nccl_lib_close(rt_nccl_lib *l)
{
	memset(l, 0, sizeof *l);
}

int rt_nccl_lib_open(rt_nccl_lib *l, const char *path, rt_err *err)
{
	memset(l, 0, sizeof *l);
	if (!path || !path[0])
		path = getenv("SAMC_NCCL");
	if (!path || !path[0])
		path = RT_NCCL_LIB;
	snprintf(l->path, sizeof l->path, "%s", path);
	l->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!l->lib) {
		const char *why = dlerror();
		return rt_errf(err,
		               "nccl: %s not found (%s): NCCL runs the GPUs' sums; install it (the CUDA "
		               "toolkit's lib64, or pip's nvidia-nccl-cu13) or name the library with "
		               "SAMC_NCCL=/path/to/libnccl.so.2",
		               path, why ? why : "dlopen failed");
	}
#define RT_NCCL_RESOLVE(name, ret, args)                                                           \
	if (!(*(void **)&l->name = dlsym(l->lib, #name))) {                                            \
		rt_errf(err, "nccl: %s has no %s: it is not NCCL 2.4 or newer", path, #name);             \
		rt_nccl_lib_close(l);                                                                      \
		return -1;                                                                                 \
	}
	RT_NCCL_FUNCS(RT_NCCL_RESOLVE)
#undef RT_NCCL_RESOLVE
	rt_nccl_result r = l->ncclGetVersion(&l->version);
	if (r != RT_NCCL_SUCCESS) {
		rt_errf(err, "nccl: ncclGetVersion of %s failed: %s", path, l->ncclGetErrorString(r));
		rt_nccl_lib_close(l);
		return -1;
	}
	if (rt_nccl_check_version(l->version, path, err)) {
		rt_nccl_lib_close(l);
		return -1;
	}
	return 0;
}

/* FNV-1a of the host name: which ranks share a machine */
static uint64_t host_hash(char *name, size_t len)
{
	if (gethostname(name, len) != 0)
		snprintf(name, len, "?");
	name[len - 1] = 0;
	uint64_t h = 1469598103934665603ull;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return h;
}

uint64_t rt_comm_host_id(void)
{
	char name[256];
	return host_hash(name, sizeof name);
}

int rt_comm_local_rank(rt_comm *c, int *local, int *nlocal, rt_err *err)
{
	char name[256];
	uint64_t mine = host_hash(name, sizeof name);
	uint64_t *all = calloc((size_t)c->size, sizeof *all);
	if (!all)
		return rt_errf(err, "comm: out of memory");
	if (c->allgather(c, &mine, sizeof mine, all, err)) {
		free(all);
		return -1;
	}
	*local = *nlocal = 0;
	for (int r = 0; r < c->size; r++)
		if (all[r] == mine) {
			*local += r < c->rank;
			++*nlocal;
		}
	free(all);
	return 0;
}

int rt_comm_nccl_ordinal(rt_comm *c, int ngpus, int *ordinal, rt_err *err)
{
	/* every rank checks every machine, so all fail together: a rank of
	 * a machine with GPUs enough does not wait in attach for the others */
	struct {
		uint64_t host;
		int32_t ngpus, pad;
	} me = {0}, *all = calloc((size_t)c->size, sizeof *all);
	char name[256];
	me.host = host_hash(name, sizeof name);
	me.ngpus = ngpus;
	if (!all)
		return rt_errf(err, "comm: out of memory");
	if (c->allgather(c, &me, sizeof me, all, err)) {
		free(all);
		return -1;
	}
	int local = 0;
	for (int r = 0; r < c->size; r++)
		local += r < c->rank && all[r].host == me.host;
	for (int r = 0; r < c->size; r++) {
		int n = 0, first = r;
		for (int s = 0; s < c->size; s++)
			if (all[s].host == all[r].host) {
				n++;
				first = s < first ? s : first;
			}
		int g = all[r].ngpus;
		if (n <= g || first != r)
			continue;
		if (all[r].host == me.host)
			rt_errf(err,
			        "nccl: rank %d: %d rank%s run%s on %s, which has %d GPU%s: NCCL needs a GPU "
			        "of its own for every rank (start at most %d rank%s per machine)",
			        c->rank, n, n == 1 ? "" : "s", n == 1 ? "s" : "", name, g, g == 1 ? "" : "s",
			        g, g == 1 ? "" : "s");
		else
			rt_errf(err,
			        "nccl: rank %d: %d ranks run on the machine of rank %d, which has %d GPU%s: "
			        "NCCL needs a GPU of its own for every rank (start at most %d rank%s per "
			        "machine)",
			        c->rank, n, r, g, g == 1 ? "" : "s", g, g == 1 ? "" : "s");
		free(all);
		return -1;
	}
	free(all);
	*ordinal = local;
	return 0;
}

int rt_comm_nccl_gpu(rt_comm *c, const char *driver, int *ordinal, rt_err *err)
{
	/* every rank joins the allgather, also one without a driver (0 GPUs) */
	rt_cuda_drv drv;
	rt_err mine = {{0}};
	int ngpus = 0;
	if (rt_cuda_drv_open(&drv, driver, &mine) == 0) {
		ngpus = drv.ndevices;
		rt_cuda_drv_close(&drv);
	}
	if (rt_comm_nccl_ordinal(c, ngpus, ordinal, err))
		return ngpus ? -1 : (*err = mine, -1);
	return 0;
}

/* What every rank tells the others before NCCL starts: whether it opened
 * the library (and its version), and its machine and GPU. */
typedef struct {
	int32_t ok, version, ordinal, pad;
	uint64_t host;
	uint64_t gpu_id; /* the GPU's PCI address + 1, or 0: unknown (the ordinal says) */
} nccl_hello;

/* 0 when every rank's hello is good; else -1 with the first problem */
static int check_hellos(rt_comm *c, const nccl_hello *all, rt_err *err)
{
	for (int r = 0; r < c->size; r++)
		if (!all[r].ok)
			return rt_errf(err, "nccl: rank %d: rank %d could not start NCCL (its own message "
			                    "says why)",
			               c->rank, r);
	for (int r = 1; r < c->size; r++)
		if (all[r].version != all[0].version) {
			char a[32], b[32];
			rt_nccl_version_str(all[0].version, a, sizeof a);
			rt_nccl_version_str(all[r].version, b, sizeof b);
			return rt_errf(err, "nccl: rank %d: rank 0 runs NCCL %s, rank %d NCCL %s: every "
			                    "rank needs the same NCCL",
			               c->rank, a, r, b);
		}
	for (int r = 0; r < c->size; r++)
		for (int s = r + 1; s < c->size; s++)
			if (all[r].host == all[s].host &&
			    (all[r].gpu_id && all[s].gpu_id ? all[r].gpu_id == all[s].gpu_id
			                                    : all[r].ordinal == all[s].ordinal))
				return rt_errf(err,
				               "nccl: rank %d: ranks %d and %d both use GPU %d of one machine: "
				               "NCCL needs a GPU of its own for every rank",
				               c->rank, r, s, all[r].ordinal);
	return 0;
}

/* Every rank learns whether all succeeded: a failure on one rank fails
 * all, so none waits for a rank that stopped. */
static int all_ok(rt_comm *c, int ok, const char *what, rt_err *err)
{
	int32_t mine = ok, *all = calloc((size_t)c->size, sizeof *all);
	if (!all)
		return rt_errf(err, "comm: out of memory");
	rt_err e2 = {{0}};
	if (c->allgather(c, &mine, sizeof mine, all, ok ? err : &e2)) {
		free(all);
		return -1;
	}
	int bad = -1;
	for (int r = 0; r < c->size && bad < 0; r++)
		if (!all[r])
			bad = r;
	free(all);
	if (bad < 0)
		return 0;
	if (ok)
		rt_errf(err, "nccl: rank %d: %s failed on rank %d (its own message says why)", c->rank,
		        what, bad);
	return -1;
}

static int nccl_allreduce_dev(rt_comm *c, rt_device *d, void *buf, size_t n, rt_comm_dtype dt,
                              rt_err *err);
static int nccl_allreduce_dev_side(rt_comm *c, rt_device *d, void *buf, size_t n,
                                   rt_comm_dtype dt, rt_err *err);
static int nccl_wait_dev_side(rt_comm *c, rt_device *d, rt_err *err);

/* SAMC_DIST_TIMEOUT, as the MPI communicator reads it */
static int read_timeout(double *out, rt_err *err)
{
	const char *s = getenv("SAMC_DIST_TIMEOUT");
	*out = RT_NCCL_TIMEOUT_DEFAULT;
	if (!s || !*s)
		return 0;
	char *end;
	double v = strtod(s, &end);
	if (*end || !(v > 0) || v > 1e9)
		return rt_errf(err, "nccl: SAMC_DIST_TIMEOUT='%s' is not a number of seconds > 0 (how "
		                    "long a sum waits for a silent rank; default %g)",
		               s, RT_NCCL_TIMEOUT_DEFAULT);
	*out = v;
	return 0;
}

int rt_comm_nccl_attach(rt_comm *c, rt_device *d, const char *lib, rt_err *err)
{
	return rt_comm_nccl_attach_gpu(c, d, lib, 0, err);
}

int rt_comm_nccl_attach_gpu(rt_comm *c, rt_device *d, const char *lib, uint64_t gpu_id,
                            rt_err *err)
{
	if (c->dev_self || c->allreduce_dev)
		return rt_errf(err, "nccl: the %s communicator already has a device allreduce", c->name);
	int ordinal = rt_dev_cuda_ordinal(d);
	nccl_state *st = calloc(1, sizeof *st);
	nccl_hello me = {.ordinal = ordinal, .gpu_id = gpu_id};
	nccl_hello *all = calloc((size_t)c->size, sizeof *all);
	char name[256];
	me.host = host_hash(name, sizeof name);
	rt_err mine = {{0}};
	if (!st || !all)
		rt_errf(&mine, "nccl: out of memory");
	else if (read_timeout(&st->timeout, &mine))
		;
	else if (ordinal < 0)
		rt_errf(&mine, "nccl: rank %d: NCCL sums the memory of a CUDA device, not of %s",
		        c->rank, d ? d->name : "(none)");
	else if (rt_nccl_lib_open(&st->lib, lib, &mine) == 0) {
		me.ok = 1;
		me.version = st->lib.version;
	}
	/* everyone hears of everyone's start before anyone waits in NCCL */
	rt_err tmp = {{0}};
	if (!all || c->allgather(c, &me, sizeof me, all, &tmp) ||
	    (me.ok && check_hellos(c, all, &tmp))) {
		*err = me.ok ? tmp : mine;
		goto fail;
	}
	if (!me.ok) {
		*err = mine;
		goto fail;
	}
	/* rank 0's unique id, and whether it made one, through the bcast */
	struct {
		int32_t ok;
		rt_nccl_id id;
	} idmsg = {0};
	rt_nccl_result r = RT_NCCL_SUCCESS;
	if (c->rank == 0) {
		r = st->lib.ncclGetUniqueId(&idmsg.id);
		idmsg.ok = r == RT_NCCL_SUCCESS;
	}
	if (c->bcast(c, &idmsg, sizeof idmsg, 0, err))
		goto fail;
	if (!idmsg.ok) {
		if (c->rank == 0)
			rt_errf(err, "nccl: rank 0: ncclGetUniqueId failed: %s (NCCL_DEBUG=INFO says more)",
			        st->lib.ncclGetErrorString(r));
		else
			rt_errf(err, "nccl: rank %d: rank 0 could not make NCCL's unique id (its message "
			             "says why)",
			        c->rank);
		goto fail;
	}
	r = st->lib.ncclCommInitRank(&st->comm, c->size, idmsg.id, c->rank);
	if (r != RT_NCCL_SUCCESS) {
		st->comm = NULL;
		rt_errf(err,
		        "nccl: rank %d: ncclCommInitRank on GPU %d failed: %s: NCCL finds no usable "
		        "GPU, or the ranks cannot reach each other",
		        c->rank, ordinal, st->lib.ncclGetErrorString(r));
	}
	if (all_ok(c, r == RT_NCCL_SUCCESS, "ncclCommInitRank", err))
		goto fail;
	st->dev = d;
	c->dev_self = st;
	c->allreduce_dev = nccl_allreduce_dev;
	c->allreduce_dev_side = nccl_allreduce_dev_side;
	c->wait_dev_side = nccl_wait_dev_side;
	free(all);
	return 0;
fail:
	if (st && st->comm)
		st->lib.ncclCommDestroy(st->comm);
	free(st);
	free(all);
	return -1;
}

void rt_comm_nccl_detach(rt_comm *c)
{
	nccl_state *st = c->dev_self;
	if (!st || c->allreduce_dev != nccl_allreduce_dev)
		return;
	if (st->comm) {
		if (st->aborted)
			st->lib.ncclCommAbort(st->comm);
		else
			st->lib.ncclCommDestroy(st->comm);
	}
	rt_nccl_lib_close(&st->lib);
	free(st);
	c->dev_self = NULL;
	c->allreduce_dev = NULL;
	c->allreduce_dev_side = NULL;
	c->wait_dev_side = NULL;
}

int rt_comm_nccl_version(const rt_comm *c)
{
	const nccl_state *st = c->dev_self;
	return st && c->allreduce_dev == nccl_allreduce_dev ? st->lib.version : 0;
}

/* Aborts NCCL's communicator after a failed sum: its kernels exit, and
 * every later sum fails at once. */
static int give_up(rt_comm *c, nccl_state *st, rt_err *err)
{
	if (!st->aborted) {
		st->aborted = 1;
		st->lib.ncclCommAbort(st->comm);
		st->comm = NULL;
	}
	(void)c;
	return -1;
}

/* The sum enqueued on stream s (NULL: the legacy default stream, the
 * kernels'), not waited for. */
static int enqueue(rt_comm *c, nccl_state *st, rt_device *d, void *buf, size_t n,
                   rt_comm_dtype dt, void *s, rt_err *err)
{
	if (st->aborted)
		return rt_errf(err, "nccl: rank %d: NCCL was stopped after an earlier failed sum",
		               c->rank);
	if (!rt_device_shares(d, st->dev))
		return rt_errf(err, "nccl: rank %d: a sum over %s memory, but NCCL was started on %s",
		               c->rank, d->memory ? d->memory : d->name, st->dev->memory);
	rt_nccl_result r = st->lib.ncclAllReduce(buf, buf, n, dt == RT_COMM_F64 ? RT_NCCL_FLOAT64
	                                                                        : RT_NCCL_FLOAT32,
	                                         RT_NCCL_SUM, st->comm, s ? s : RT_NCCL_STREAM_LEGACY);
	if (r != RT_NCCL_SUCCESS && r != RT_NCCL_IN_PROGRESS) {
		rt_errf(err, "nccl: rank %d: ncclAllReduce of %zu values failed: %s", c->rank, n,
		        st->lib.ncclGetErrorString(r));
		return give_up(c, st, err);
	}
	/* a ring all-reduce sends 2 (N-1)/N of the buffer from every rank */
	size_t es = dt == RT_COMM_F64 ? 8 : 4;
	c->bytes += (uint64_t)(2.0 * (c->size - 1) / c->size * (double)(n * es));
	return 0;
}

/* What a failed wait names: the sum of n values, or (side) the bucket. */
static const char *sum_what(char *buf, size_t len, int side, size_t n)
{
	if (side)
		return "the sum of a bucket of the overlapped all-reduce";
	snprintf(buf, len, "the sum of %zu values", n);
	return buf;
}

/* Waits for the sums enqueued on the default stream (side 0; the last of
 * n values) or on the device's side queue (1): their stream done, or
 * NCCL's error, or the timeout; the poll interval grows to 1 ms, so a
 * short sum costs little latency. */
static int wait_sums(rt_comm *c, nccl_state *st, int side, size_t n, rt_err *err)
{
	char what[64];
	double t0 = now(), stopped_at = 0;
	long nap = 2000;
	for (;;) {
		int q = side ? rt_dev_cuda_query_side(st->dev, err) : rt_dev_cuda_query(st->dev, err);
		if (q < 0)
			return give_up(c, st, err);
		if (q > 0)
			break;
		rt_nccl_result async = RT_NCCL_SUCCESS;
		rt_nccl_result r = st->lib.ncclCommGetAsyncError(st->comm, &async);
		if (r == RT_NCCL_SUCCESS && async != RT_NCCL_SUCCESS && async != RT_NCCL_IN_PROGRESS) {
			rt_errf(err,
			        "nccl: rank %d: %s failed: %s (a rank died or the network failed; "
			        "NCCL_DEBUG=WARN says more)",
			        c->rank, sum_what(what, sizeof what, side, n),
			        st->lib.ncclGetErrorString(async));
			return give_up(c, st, err);
		}
		if (now() - t0 > st->timeout) {
			rt_errf(err,
			        "nccl: rank %d: %s did not finish within %g s (SAMC_DIST_TIMEOUT): a "
			        "rank died or stopped answering",
			        c->rank, sum_what(what, sizeof what, side, n), st->timeout);
			return give_up(c, st, err);
		}
		/* a signal: the other ranks may have it too and still finish
		 * this sum (a stop after the step), as the MPI communicator
		 * gives them; one still unfinished STOP_GRACE_S later waits for a
		 * rank that ended */
		double t = now();
		if (c->stop && *c->stop && !stopped_at)
			stopped_at = t;
		if (stopped_at && t - stopped_at > STOP_GRACE_S) {
			int sig = (int)*c->stop;
			rt_errf(err,
			        "nccl: rank %d: %s was stopped by %s while waiting for the other ranks: "
			        "under mpirun this means another rank ended",
			        c->rank, sum_what(what, sizeof what, side, n),
			        sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "a signal");
			return give_up(c, st, err);
		}
		nanosleep(&(struct timespec){0, nap}, NULL);
		if (nap < 1000000)
			nap *= 2;
	}
	c->seconds += now() - t0;
	return 0;
}

static int nccl_allreduce_dev(rt_comm *c, rt_device *d, void *buf, size_t n, rt_comm_dtype dt,
                              rt_err *err)
{
	nccl_state *st = c->dev_self;
	double t0 = now();
	if (enqueue(c, st, d, buf, n, dt, NULL, err))
		return -1;
	c->seconds += now() - t0;
	return wait_sums(c, st, 0, n, err);
}

/* The overlapped all-reduce's buckets (rt_overlap.h): on d's side queue */
static int nccl_allreduce_dev_side(rt_comm *c, rt_device *d, void *buf, size_t n,
                                   rt_comm_dtype dt, rt_err *err)
{
	nccl_state *st = c->dev_self;
	if (!d->side_stream)
		return rt_errf(err, "nccl: rank %d: %s has no side queue", c->rank, d->name);
	void *s = d->side_stream(d, err);
	double t0 = now();
	if (!s || enqueue(c, st, d, buf, n, dt, s, err))
		return -1;
	c->seconds += now() - t0;
	return 0;
}

static int nccl_wait_dev_side(rt_comm *c, rt_device *d, rt_err *err)
{
	nccl_state *st = c->dev_self;
	if (!rt_device_shares(d, st->dev))
		return rt_errf(err, "nccl: rank %d: a wait on %s, but NCCL was started on %s", c->rank,
		               d->memory ? d->memory : d->name, st->dev->memory);
	return wait_sums(c, st, 1, 0, err);
}
