/*
 * rt_comm_mpi.c - MPI_COMM_WORLD as a communicator (rt_comm_mpi.h):
 * point-to-point messages, polled with MPI_Test until they complete, the
 * communicator's timeout passes or the stop flag is set.
 *
 * How Open MPI 4.1 ends a job when a rank dies (measured with mpirun 4.1.4,
 * 3 ranks on one machine, rank 1 SIGKILLed in a collective, over shared
 * memory and over TCP): the survivors' MPI calls report no error and go on
 * polling; about 1 s later mpirun sends them SIGTERM, and 1 s after
 * that SIGKILL (the MCA parameter odls_base_sigkill_timeout, default 1). A
 * survivor therefore learns of the death only through SIGTERM, and has one
 * second to say so: the poll loop below sleeps at most 0.25 ms between looks
 * at the stop flag, and a failed collective never waits in MPI again
 * (release skips MPI_Finalize, which would wait for the dead rank). Should
 * an MPI call report an error, the message carries MPI's words. Ctrl-C (SIGINT) or SIGTERM to
 * mpirun ends a job the same way: SIGTERM to every rank, SIGKILL 1 s
 * later; `mpirun --mca odls_base_sigkill_timeout S` gives the ranks S s.
 */
#include "rt_comm_mpi.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>

#define MPI_CHUNK_DEFAULT ((size_t)64 << 20)
#define MPI_TIMEOUT_DEFAULT 300.0
#define STOP_GRACE_S 0.3

/* Tags keep the collectives' messages apart (MPI keeps the order of the
 * messages between two ranks with the same tag). */
enum { TAG_SCATTER = 1, TAG_GATHER, TAG_BCAST, TAG_ALLGATHER };

typedef struct {
	rt_comm c;
	double timeout; /* seconds without a message before a rank counts as gone */
	size_t chunk;   /* most bytes in one message */
	void *scratch;  /* allreduce: the slices of the other ranks */
	size_t scratch_cap;
	MPI_Request *req; /* 2 * size: the messages of one round */
	int *peer;        /* req[i]'s rank, negative - 1 for a send */
	const char **addend; /* size: the ranks' slices that allreduce sums */
	int broken;       /* a collective failed: no more MPI */
	int initialized;  /* this communicator called MPI_Init */
} mpi_comm;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static size_t dt_size(rt_comm_dtype dt) { return dt == RT_COMM_F64 ? 8 : 4; }

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGTERM:
		return "SIGTERM";
	case SIGINT:
		return "SIGINT";
	default:
		return "a signal";
	}
}

/* MPI's words for an error code, after "what". */
static int mpi_fail(mpi_comm *m, const char *coll, const char *what, int code, rt_err *err)
{
	char s[MPI_MAX_ERROR_STRING];
	int len = 0;
	if (MPI_Error_string(code, s, &len) != MPI_SUCCESS)
		snprintf(s, sizeof s, "error %d", code);
	m->broken = 1;
	return rt_errf(err, "comm: rank %d: %s: %s: %s", m->c.rank, coll, what, s);
}

/* Posts one message of a round: a receive from rank `from` (to < 0) or a
 * send to rank `to`. */
static int post(mpi_comm *m, int *nreq, const char *coll, void *buf, size_t bytes, int from,
                int to, int tag, rt_err *err)
{
	MPI_Request *r = &m->req[*nreq];
	int count = (int)bytes; /* <= chunk <= INT_MAX */
	int rc;
	if (to < 0) {
		rc = MPI_Irecv(buf, count, MPI_BYTE, from, tag, MPI_COMM_WORLD, r);
		m->peer[*nreq] = from;
	} else {
		rc = MPI_Isend(buf, count, MPI_BYTE, to, tag, MPI_COMM_WORLD, r);
		m->peer[*nreq] = -1 - to;
		m->c.bytes += bytes;
	}
	if (rc != MPI_SUCCESS) {
		char what[64];
		snprintf(what, sizeof what, to < 0 ? "receiving from rank %d" : "sending to rank %d",
		         to < 0 ? from : to);
		return mpi_fail(m, coll, what, rc, err);
	}
	(*nreq)++;
	return 0;
}

/* The ranks of the requests still open: receives first (a rank we wait
 * for), else the ranks our sends wait for. */
static void name_missing(const mpi_comm *m, int n, char *out, size_t len)
{
	size_t k = 0;
	int count = 0;
	out[0] = 0;
	for (int pass = 0; pass < 2 && !count; pass++)
		for (int i = 0; i < n; i++) {
			if (m->req[i] == MPI_REQUEST_NULL || (pass == 0) != (m->peer[i] >= 0))
				continue;
			int r = m->peer[i] >= 0 ? m->peer[i] : -1 - m->peer[i];
			if (count++ < 8 && k < len - 16)
				k += (size_t)snprintf(out + k, len - k, "%s%d", count > 1 ? ", " : "", r);
		}
	if (count > 8 && k < len - 8)
		snprintf(out + k, len - k, ", ...");
	(void)k;
}

/* Waits for the round's n requests. MPI_Test drives Open MPI's progress
 * (a large message moves only while one of the two ranks tests), so the
 * loop spins for up to 2 ms after the last message (after 0.2 ms yielding
 * the core, in case more ranks than cores share it), then sleeps between
 * looks, longer the longer nothing happens, at most 0.25 ms (a message
 * of more than 4 KiB is a few exchanges, each waiting for a sleeping
 * rank to wake: longer naps cost milliseconds per collective). Once the stop
 * flag is set, a round silent for STOP_GRACE_S fails: well within the
 * second that mpirun leaves between SIGTERM and SIGKILL, and long enough
 * for live ranks that got the same SIGTERM to finish their exchange. */
static int wait_round(mpi_comm *m, const char *coll, int n, rt_err *err)
{
	double last = now_s(), stopped_at = 0;
	long nap_ns = 0;
	int open = n;
	while (open > 0) {
		int progressed = 0;
		for (int i = 0; i < n; i++) {
			if (m->req[i] == MPI_REQUEST_NULL)
				continue;
			int done = 0;
			int rc = MPI_Test(&m->req[i], &done, MPI_STATUS_IGNORE);
			if (rc != MPI_SUCCESS) {
				int r = m->peer[i] >= 0 ? m->peer[i] : -1 - m->peer[i];
				char what[64];
				snprintf(what, sizeof what, "%s rank %d", m->peer[i] >= 0 ? "receiving from" : "sending to", r);
				return mpi_fail(m, coll, what, rc, err);
			}
			if (done) {
				open--;
				progressed = 1;
			}
		}
		if (!open)
			break;
		double t = now_s();
		if (progressed) {
			last = t;
			nap_ns = 0;
			continue;
		}
		/* a signal: the other ranks may have it too and still finish the
		 * step (a stop after the step); a round that stays silent for
		 * STOP_GRACE_S after it is waiting for a rank that ended */
		if (m->c.stop && *m->c.stop && !stopped_at)
			stopped_at = t;
		if (stopped_at && t - (last > stopped_at ? last : stopped_at) > STOP_GRACE_S) {
			m->broken = 1;
			return rt_errf(err, "comm: rank %d: %s: stopped by %s while waiting for the other "
			               "ranks: under mpirun this means another rank ended (its own message, "
			               "if any, is above or below)",
			               m->c.rank, coll, signal_name((int)*m->c.stop));
		}
		if (t - last > m->timeout) {
			char ranks[128];
			name_missing(m, n, ranks, sizeof ranks);
			m->broken = 1;
			return rt_errf(err, "comm: rank %d: %s: rank%s %s stopped answering (no message for "
			               "%g s; SAMC_DIST_TIMEOUT sets the limit): it ended, hangs or is far "
			               "slower than this rank",
			               m->c.rank, coll, strchr(ranks, ',') ? "s" : "", ranks, m->timeout);
		}
		if (t - last < 2e-3) {
			if (t - last > 2e-4)
				sched_yield();
			continue;
		}
		nap_ns = nap_ns ? (nap_ns * 2 > 250000 ? 250000 : nap_ns * 2) : 50000;
		struct timespec ts = {0, nap_ns};
		nanosleep(&ts, NULL); /* a signal cuts it short: the flag is read next */
	}
	return 0;
}

static int check(mpi_comm *m, const char *coll, rt_err *err)
{
	if (m->broken)
		return rt_errf(err, "comm: rank %d: %s: an earlier collective failed; the run must end",
		               m->c.rank, coll);
	return 0;
}

/* Slice s of a chunk of n elements over P ranks: [n*s/P, n*(s+1)/P). */
static size_t lo_of(size_t n, int s, int P) { return n * (size_t)s / (size_t)P; }

/* out[i] := ((x[0][i] + x[1][i]) + x[2][i]) + ..., in blocks that stay in
 * the L1 cache (out may be one of the x: a block is read before written). */
#define RT_SUM_BLOCK 512
#define SUM_FN(name, T)                                                                            \
	static void name(T *out, const T *const *x, int P, size_t n)                               \
	{                                                                                          \
		T acc[RT_SUM_BLOCK];                                                               \
		for (size_t b = 0; b < n; b += RT_SUM_BLOCK) {                                     \
			size_t m = n - b < RT_SUM_BLOCK ? n - b : RT_SUM_BLOCK;                    \
			memcpy(acc, x[0] + b, m * sizeof(T));                                      \
			for (int s = 1; s < P; s++)                                                \
				for (size_t i = 0; i < m; i++)                                     \
					acc[i] = acc[i] + x[s][b + i];                             \
			memcpy(out + b, acc, m * sizeof(T));                                       \
		}                                                                                  \
	}
SUM_FN(sum_f32, float)
SUM_FN(sum_f64, double)

/* One chunk of an allreduce: n elements at buf. */
static int allreduce_chunk(mpi_comm *m, char *buf, size_t n, rt_comm_dtype dt, const char *coll,
                           rt_err *err)
{
	const int P = m->c.size, me = m->c.rank;
	const size_t es = dt_size(dt);
	size_t lo = lo_of(n, me, P), len = lo_of(n, me + 1, P) - lo;
	char *scr = m->scratch;
	int nreq = 0;
	/* reduce-scatter: every rank's slice `me` into scratch[s*len] */
	for (int s = 0; s < P; s++) {
		if (s == me)
			continue;
		size_t slo = lo_of(n, s, P), slen = lo_of(n, s + 1, P) - slo;
		if (len && post(m, &nreq, coll, scr + (size_t)s * len * es, len * es, s, -1, TAG_SCATTER, err))
			return -1;
		if (slen && post(m, &nreq, coll, buf + slo * es, slen * es, -1, s, TAG_SCATTER, err))
			return -1;
	}
	if (wait_round(m, coll, nreq, err))
		return -1;
	/* the sum in rank order, into this rank's slice of buf (its own
	 * addend, read before it is overwritten, block by block) */
	const char **x = m->addend;
	for (int s = 0; s < P; s++)
		x[s] = s == me ? buf + lo * es : scr + (size_t)s * len * es;
	if (dt == RT_COMM_F64)
		sum_f64((double *)(buf + lo * es), (const double *const *)x, P, len);
	else
		sum_f32((float *)(buf + lo * es), (const float *const *)x, P, len);
	/* allgather of the summed slices */
	nreq = 0;
	for (int s = 0; s < P; s++) {
		if (s == me)
			continue;
		size_t slo = lo_of(n, s, P), slen = lo_of(n, s + 1, P) - slo;
		if (slen && post(m, &nreq, coll, buf + slo * es, slen * es, s, -1, TAG_GATHER, err))
			return -1;
		if (len && post(m, &nreq, coll, buf + lo * es, len * es, -1, s, TAG_GATHER, err))
			return -1;
	}
	return wait_round(m, coll, nreq, err);
}

static int mpi_allreduce(rt_comm *c, void *buf, size_t n, rt_comm_dtype dt, rt_err *err)
{
	mpi_comm *m = c->self;
	char coll[64];
	snprintf(coll, sizeof coll, "allreduce of %zu %s", n, dt == RT_COMM_F64 ? "f64" : "f32");
	if (check(m, coll, err))
		return -1;
	if (c->size == 1 || n == 0)
		return 0;
	double t0 = now_s();
	const size_t es = dt_size(dt);
	/* a chunk of ce elements: every message (a slice, ce/P + 1 elements)
	 * fits the chunk; the scratch holds P slices */
	size_t ce = m->chunk / es;
	if (ce < (size_t)c->size)
		ce = (size_t)c->size;
	if (ce > n)
		ce = n;
	size_t need = (ce / (size_t)c->size + 1) * (size_t)c->size * es;
	if (need > m->scratch_cap) {
		void *p = realloc(m->scratch, need);
		if (!p)
			return rt_errf(err, "comm: rank %d: %s: out of memory (%zu bytes of scratch)", c->rank,
			               coll, need);
		m->scratch = p, m->scratch_cap = need;
	}
	int rc = 0;
	for (size_t off = 0; off < n && !rc; off += ce)
		rc = allreduce_chunk(m, (char *)buf + off * es, n - off < ce ? n - off : ce, dt, coll, err);
	c->seconds += now_s() - t0;
	return rc;
}

static int mpi_bcast(rt_comm *c, void *buf, size_t bytes, int root, rt_err *err)
{
	mpi_comm *m = c->self;
	char coll[64];
	snprintf(coll, sizeof coll, "broadcast of %zu bytes from rank %d", bytes, root);
	if (check(m, coll, err))
		return -1;
	if (root < 0 || root >= c->size)
		return rt_errf(err, "comm: rank %d: %s: there is no rank %d (%d ranks)", c->rank, coll,
		               root, c->size);
	double t0 = now_s();
	int rc = 0;
	for (size_t off = 0; off < bytes && !rc; off += m->chunk) {
		size_t len = bytes - off < m->chunk ? bytes - off : m->chunk;
		int nreq = 0;
		for (int s = 0; s < c->size && !rc; s++)
			if (c->rank == root && s != root)
				rc = post(m, &nreq, coll, (char *)buf + off, len, -1, s, TAG_BCAST, err);
		if (c->rank != root && !rc)
			rc = post(m, &nreq, coll, (char *)buf + off, len, root, -1, TAG_BCAST, err);
		if (!rc)
			rc = wait_round(m, coll, nreq, err);
	}
	c->seconds += now_s() - t0;
	return rc;
}

static int mpi_allgather(rt_comm *c, const void *mine, size_t bytes, void *all, rt_err *err)
{
	mpi_comm *m = c->self;
	char coll[64];
	snprintf(coll, sizeof coll, "allgather of %zu bytes", bytes);
	if (check(m, coll, err))
		return -1;
	double t0 = now_s();
	char *dst = all;
	if (bytes)
		memmove(dst + (size_t)c->rank * bytes, mine, bytes);
	const char *src = dst + (size_t)c->rank * bytes;
	int rc = 0;
	for (size_t off = 0; off < bytes && !rc; off += m->chunk) {
		size_t len = bytes - off < m->chunk ? bytes - off : m->chunk;
		int nreq = 0;
		for (int s = 0; s < c->size && !rc; s++) {
			if (s == c->rank)
				continue;
			rc = post(m, &nreq, coll, dst + (size_t)s * bytes + off, len, s, -1, TAG_ALLGATHER, err);
			if (!rc)
				rc = post(m, &nreq, coll, (char *)src + off, len, -1, s, TAG_ALLGATHER, err);
		}
		if (!rc)
			rc = wait_round(m, coll, nreq, err);
	}
	c->seconds += now_s() - t0;
	return rc;
}

/* A broken communicator does not finalize: MPI_Finalize waits for every
 * rank, and a dead one never answers; mpirun ends the job when this
 * process exits with a failure. */
static void mpi_release(rt_comm *c)
{
	mpi_comm *m = c->self;
	int finalized = 0;
	if (!m->broken && m->initialized && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized)
		MPI_Finalize();
	free(m->scratch);
	free(m->req);
	free(m->peer);
	free(m->addend);
	free(m);
}

void rt_comm_mpi_set_chunk(rt_comm *c, size_t bytes)
{
	if (c->allreduce != mpi_allreduce)
		return;
	mpi_comm *m = c->self;
	m->chunk = bytes ? bytes : MPI_CHUNK_DEFAULT;
	if (m->chunk > INT_MAX)
		m->chunk = INT_MAX;
}

static int read_timeout(double *out, rt_err *err)
{
	const char *s = getenv("SAMC_DIST_TIMEOUT");
	*out = MPI_TIMEOUT_DEFAULT;
	if (!s || !*s)
		return 0;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !(v > 0) || v > 1e9)
		return rt_errf(err, "comm: SAMC_DIST_TIMEOUT='%s' is not a number of seconds > 0 "
		                    "(how long a collective waits for a silent rank; default %g)",
		               s, MPI_TIMEOUT_DEFAULT);
	*out = v;
	return 0;
}

int rt_comm_mpi_open(rt_comm **out, rt_err *err)
{
	double timeout;
	if (read_timeout(&timeout, err))
		return -1;
	int inited = 0, rc;
	MPI_Initialized(&inited);
	/* SERIALIZED: the overlapped all-reduce's thread (rt_overlap.h) calls
	 * MPI while this one computes, never both at once; a library that
	 * grants less runs without overlap (rt_comm's serialized) */
	int provided = 0;
	if (!inited && (rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided)) != MPI_SUCCESS)
		return rt_errf(err, "comm: MPI_Init_thread failed (error %d): MPI cannot start this rank", rc);
	if (inited)
		MPI_Query_thread(&provided);
	/* errors as values: MPI's default ends the job on the first error */
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	mpi_comm *m = calloc(1, sizeof *m);
	int size = 0, rank = 0;
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	if (m) {
		m->req = calloc(2 * (size_t)size, sizeof *m->req);
		m->peer = calloc(2 * (size_t)size, sizeof *m->peer);
		m->addend = calloc((size_t)size, sizeof *m->addend);
	}
	if (!m || !m->req || !m->peer || !m->addend) {
		if (m)
			free(m->req), free(m->peer), free(m->addend);
		free(m);
		return rt_errf(err, "comm: rank %d: out of memory", rank);
	}
	for (int i = 0; i < 2 * size; i++)
		m->req[i] = MPI_REQUEST_NULL;
	m->c = (rt_comm){
		.name = "mpi",
		.rank = rank,
		.size = size,
		.self = m,
		.allreduce = mpi_allreduce,
		.bcast = mpi_bcast,
		.allgather = mpi_allgather,
		.release = mpi_release,
		.serialized = provided >= MPI_THREAD_SERIALIZED,
	};
	m->timeout = timeout;
	m->chunk = MPI_CHUNK_DEFAULT;
	m->initialized = !inited;
	*out = &m->c;
	return 0;
}
