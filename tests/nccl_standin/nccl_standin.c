/*
 * nccl_standin.c - a host stand-in for NCCL, for tests on machines without
 * a GPU: a shared library exporting the entry points rt_comm_nccl.h
 * resolves, over the host stand-in for the CUDA driver (tests/cuda_standin,
 * whose device memory is host memory). Tests select it with SAMC_NCCL and
 * name the driver stand-in in SAMC_CUDA_DRIVER (it must be loaded already:
 * its stream is where a sum is enqueued).
 *
 * The ranks are processes of one machine that meet in a directory: the
 * "unique id" is the path of a fresh directory under $TMPDIR, made by
 * ncclGetUniqueId and carried to the other ranks by the caller (MPI's
 * bcast, as with NCCL). ncclCommInitRank writes the rank's pid there and
 * waits for every rank's. ncclAllReduce writes the rank's buffer as file
 * SEQ.RANK and returns at once, counting a pending operation on the driver
 * stand-in's stream (samc_standin_pending_on); a thread of the communicator
 * waits for every rank's file, sums them in rank order into the receive
 * buffer and ends the pending operation, as NCCL's kernel ends on the
 * stream. A peer whose process is gone (or that aborted) while this rank
 * waits for it is reported by ncclCommGetAsyncError as ncclRemoteError,
 * and the sum stays unfinished until ncclCommAbort, as with NCCL.
 *
 * ncclGetVersion says 2.28.9, or $SAMC_NCCL_STANDIN_VERSION's code.
 * With $SAMC_NCCL_STANDIN_LOG every ncclAllReduce appends a line to that
 * file (log_call).
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

#ifdef STANDIN_HAVE_NCCL_H
/* built against NCCL's header: these prototypes, and rt_comm_nccl.h's
 * declarations, are checked against NCCL's */
#include <nccl.h>

#include "rt_comm_nccl.h"
_Static_assert(sizeof(rt_nccl_id) == sizeof(ncclUniqueId), "ncclUniqueId");
_Static_assert(RT_NCCL_FLOAT32 == ncclFloat32 && RT_NCCL_FLOAT64 == ncclFloat64, "types");
_Static_assert(RT_NCCL_SUM == ncclSum && RT_NCCL_SUCCESS == ncclSuccess, "codes");
_Static_assert(RT_NCCL_IN_PROGRESS == ncclInProgress, "ncclInProgress");
_Static_assert(RT_NCCL_STREAM_LEGACY == (void *)cudaStreamLegacy, "cudaStreamLegacy");
#else
typedef enum {
	ncclSuccess = 0, ncclUnhandledCudaError = 1, ncclSystemError = 2, ncclInternalError = 3,
	ncclInvalidArgument = 4, ncclInvalidUsage = 5, ncclRemoteError = 6, ncclInProgress = 7,
} ncclResult_t;
typedef enum { ncclFloat32 = 7, ncclFloat64 = 8 } ncclDataType_t;
typedef enum { ncclSum = 0 } ncclRedOp_t;
typedef struct {
	char internal[128];
} ncclUniqueId;
typedef struct ncclComm *ncclComm_t;
typedef void *cudaStream_t;
#endif

struct ncclComm {
	char dir[128];
	int n, rank;
	long seq;
	pid_t *pids;
	void (*pending)(void *, int); /* the driver stand-in's samc_standin_pending_on */
	void *stream;                 /* the running sum's */
	/* the sum in flight */
	pthread_t worker;
	int busy;
	void *recv;
	size_t count;
	ncclDataType_t dtype;
	atomic_int async, stop;
};

EXPORT ncclResult_t ncclGetVersion(int *v)
{
	const char *s = getenv("SAMC_NCCL_STANDIN_VERSION");
	*v = s ? atoi(s) : 22809;
	return ncclSuccess;
}

EXPORT const char *ncclGetErrorString(ncclResult_t r)
{
	switch (r) {
	case ncclSuccess: return "no error";
	case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
	case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
	case ncclInternalError: return "internal error - please report this issue to the NCCL developers";
	case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
	case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
	case ncclRemoteError: return "remote process exited or there was a network error";
	case ncclInProgress: return "NCCL operation in progress";
	default: return "unknown result code";
	}
}

EXPORT ncclResult_t ncclGetUniqueId(ncclUniqueId *id)
{
	memset(id, 0, sizeof *id);
	const char *t = getenv("TMPDIR");
	int len = snprintf(id->internal, sizeof id->internal, "%s/samc-nccl-XXXXXX",
	                   t && t[0] ? t : "/tmp");
	if (len >= (int)sizeof id->internal || !mkdtemp(id->internal))
		return ncclSystemError;
	return ncclSuccess;
}

static void path_of(const ncclComm_t c, char *buf, size_t len, const char *what, long i)
{
	snprintf(buf, len, "%s/%s%ld", c->dir, what, i);
}

/* writes bytes as DIR/NAME, whole or not at all (the readers poll for it) */
static int put(const ncclComm_t c, const char *name, const void *bytes, size_t n)
{
	char tmp[256], fin[256];
	snprintf(tmp, sizeof tmp, "%s/.%s.%d", c->dir, name, c->rank);
	snprintf(fin, sizeof fin, "%s/%s", c->dir, name);
	FILE *f = fopen(tmp, "wb");
	if (!f)
		return -1;
	int ok = fwrite(bytes, 1, n, f) == n;
	ok &= fclose(f) == 0;
	return ok && rename(tmp, fin) == 0 ? 0 : -1;
}

static void nap(void)
{
	nanosleep(&(struct timespec){0, 200000}, NULL);
}

/* Is rank r's process gone (or a zombie not yet reaped)? */
static int peer_gone(const ncclComm_t c, int r)
{
	if (kill(c->pids[r], 0) != 0 && errno == ESRCH)
		return 1;
	char p[64], buf[256];
	snprintf(p, sizeof p, "/proc/%d/stat", (int)c->pids[r]);
	FILE *f = fopen(p, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *s = strrchr(buf, ')');
	return s && s[1] == ' ' && (s[2] == 'Z' || s[2] == 'X');
}

EXPORT ncclResult_t ncclCommInitRank(ncclComm_t *out, int n, ncclUniqueId id, int rank)
{
	*out = NULL;
	if (n < 1 || rank < 0 || rank >= n || !memchr(id.internal, 0, sizeof id.internal))
		return ncclInvalidArgument;
	/* the driver stand-in, loaded by the caller: sums go on its stream */
	const char *drv = getenv("SAMC_CUDA_DRIVER");
	void *h = drv ? dlopen(drv, RTLD_NOW | RTLD_NOLOAD) : NULL;
	void (*pending)(void *, int) =
	    h ? (void (*)(void *, int))dlsym(h, "samc_standin_pending_on") : NULL;
	if (!pending)
		return ncclUnhandledCudaError;
	struct stat st;
	if (stat(id.internal, &st) != 0 || !S_ISDIR(st.st_mode))
		return ncclInvalidArgument;
	ncclComm_t c = calloc(1, sizeof *c);
	if (!c || !(c->pids = calloc((size_t)n, sizeof *c->pids))) {
		free(c);
		return ncclSystemError;
	}
	snprintf(c->dir, sizeof c->dir, "%s", id.internal);
	c->n = n;
	c->rank = rank;
	c->pending = pending;
	char name[64], p[256];
	snprintf(name, sizeof name, "pid%d", rank);
	pid_t me = getpid();
	if (put(c, name, &me, sizeof me) != 0)
		goto fail;
	/* every rank's pid: NCCL's bootstrap, which waits for all of them */
	for (int r = 0; r < n; r++) {
		path_of(c, p, sizeof p, "pid", r);
		for (int tries = 0;; tries++) {
			FILE *f = fopen(p, "rb");
			if (f) {
				size_t got = fread(&c->pids[r], sizeof c->pids[r], 1, f);
				fclose(f);
				if (got == 1)
					break;
			}
			if (tries > 600000) /* two minutes */
				goto fail;
			nap();
		}
	}
	*out = c;
	return ncclSuccess;
fail:
	free(c->pids);
	free(c);
	return ncclSystemError;
}

static void *sum_worker(void *arg)
{
	ncclComm_t c = arg;
	size_t es = c->dtype == ncclFloat64 ? 8 : 4, bytes = c->count * es;
	char *acc = calloc(1, bytes ? bytes : 1), *in = malloc(bytes ? bytes : 1);
	char p[256], ab[256];
	for (int r = 0; r < c->n && acc && in; r++) {
		char name[64];
		snprintf(name, sizeof name, "%ld.", c->seq);
		path_of(c, p, sizeof p, name, r);
		path_of(c, ab, sizeof ab, "abort", r);
		FILE *f;
		while (!(f = fopen(p, "rb"))) {
			if (atomic_load(&c->stop))
				goto out;
			if (r != c->rank && !atomic_load(&c->async) &&
			    (peer_gone(c, r) || access(ab, F_OK) == 0))
				atomic_store(&c->async, ncclRemoteError); /* and wait on, as NCCL's kernel */
			nap();
		}
		size_t got = fread(in, 1, bytes, f);
		fclose(f);
		if (got != bytes) {
			atomic_store(&c->async, ncclInvalidUsage); /* the ranks' counts differ */
			while (!atomic_load(&c->stop))
				nap();
			goto out;
		}
		/* rank order, rounded in the type after each addition */
		for (size_t i = 0; i < c->count; i++)
			if (es == 8)
				((double *)acc)[i] = r ? ((double *)acc)[i] + ((double *)in)[i] : ((double *)in)[i];
			else
				((float *)acc)[i] = r ? ((float *)acc)[i] + ((float *)in)[i] : ((float *)in)[i];
	}
	if (acc && in) {
		memcpy(c->recv, acc, bytes);
		/* every rank has posted this sum, so all have read the previous one */
		char name[64];
		snprintf(name, sizeof name, "%ld.", c->seq - 1);
		path_of(c, p, sizeof p, name, c->rank);
		unlink(p);
	} else
		atomic_store(&c->async, ncclSystemError);
out:
	free(acc);
	free(in);
	c->pending(c->stream, -1);
	return NULL;
}

static void join(ncclComm_t c)
{
	if (c->busy) {
		pthread_join(c->worker, NULL);
		c->busy = 0;
	}
}

/* $SAMC_NCCL_STANDIN_LOG: a line "allreduce RANK COUNT f32|f64 STREAM" per
 * sum, appended, so a test can tell that a run summed on NCCL, how often
 * and where (STREAM: "default" for the legacy default stream, else "side") */
static void log_call(ncclComm_t c, size_t count, ncclDataType_t dtype, cudaStream_t stream)
{
	const char *path = getenv("SAMC_NCCL_STANDIN_LOG");
	FILE *f = path && *path ? fopen(path, "a") : NULL;
	if (!f)
		return;
	int legacy = !stream || stream == (cudaStream_t)0x1;
	fprintf(f, "allreduce %d %zu %s %s\n", c->rank, count, dtype == ncclFloat64 ? "f64" : "f32",
	        legacy ? "default" : "side");
	fclose(f);
}

EXPORT ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count,
                                  ncclDataType_t dtype, ncclRedOp_t op, ncclComm_t c,
                                  cudaStream_t stream)
{
	if (!c || (dtype != ncclFloat32 && dtype != ncclFloat64) || op != ncclSum)
		return ncclInvalidArgument;
	if (atomic_load(&c->async))
		return (ncclResult_t)atomic_load(&c->async);
	join(c); /* one sum at a time: NCCL would queue this one behind it */
	char name[64];
	snprintf(name, sizeof name, "%ld.%d", ++c->seq, c->rank);
	if (put(c, name, send, count * (dtype == ncclFloat64 ? 8 : 4)) != 0)
		return ncclSystemError;
	c->recv = recv;
	c->count = count;
	c->dtype = dtype;
	log_call(c, count, dtype, stream);
	c->stream = stream;
	c->pending(stream, +1);
	if (pthread_create(&c->worker, NULL, sum_worker, c) != 0) {
		c->pending(stream, -1);
		return ncclSystemError;
	}
	c->busy = 1;
	return ncclSuccess;
}

EXPORT ncclResult_t ncclCommGetAsyncError(ncclComm_t c, ncclResult_t *async)
{
	if (!c)
		return ncclInvalidArgument;
	*async = (ncclResult_t)atomic_load(&c->async);
	return ncclSuccess;
}

static void free_comm(ncclComm_t c)
{
	free(c->pids);
	free(c);
}

EXPORT ncclResult_t ncclCommAbort(ncclComm_t c)
{
	if (!c)
		return ncclSuccess;
	atomic_store(&c->stop, 1);
	join(c);
	char name[64];
	snprintf(name, sizeof name, "abort%d", c->rank);
	put(c, name, "", 0); /* the peers see it as a remote error */
	free_comm(c);
	return ncclSuccess;
}

EXPORT ncclResult_t ncclCommDestroy(ncclComm_t c)
{
	if (!c)
		return ncclSuccess;
	join(c);
	char name[64], p[512];
	snprintf(name, sizeof name, "done%d", c->rank);
	put(c, name, "", 0);
	/* the last rank to finish removes the meeting place */
	int done = 0;
	for (int r = 0; r < c->n; r++) {
		path_of(c, p, sizeof p, "done", r);
		done += access(p, F_OK) == 0;
	}
	if (done == c->n) {
		DIR *d = opendir(c->dir);
		struct dirent *e;
		while (d && (e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				snprintf(p, sizeof p, "%s/%s", c->dir, e->d_name);
				unlink(p);
			}
		if (d)
			closedir(d);
		rmdir(c->dir);
	}
	free_comm(c);
	return ncclSuccess;
}
