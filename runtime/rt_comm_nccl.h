/*
 * rt_comm_nccl.h - NCCL as a communicator's allreduce_dev (rt_comm.h), for
 * the CUDA device (rt_dev_cuda.h).
 *
 * NCCL is opened at run time with dlopen, as the CUDA driver is
 * (rt_cuda_drv.h): no samc binary links libnccl, and its few types are
 * declared here as its ABI has them (nccl.h is not needed). The library is
 * the caller's path, else $SAMC_NCCL, else libnccl.so.2 on the loader's
 * path (the CUDA toolkit's lib64, or Python's nvidia-nccl wheel).
 *
 * One GPU per rank: NCCL does not support one CUDA device as two ranks of
 * a communicator (its documentation: "may lead to hangs"). A rank's GPU is
 * its local rank, its index among the ranks on its machine
 * (rt_comm_nccl_ordinal); a machine with more ranks than GPUs is refused on
 * every rank with a message naming both counts, and so are two ranks of one
 * machine on the same GPU (attach).
 *
 * Attach is collective: every rank opens the library and reports to the
 * others (so no rank waits for one that could not start), rank 0 makes
 * NCCL's unique id and broadcasts it through the communicator's bcast (MPI),
 * and every rank then calls ncclCommInitRank with its rank, which waits for
 * all of them (NCCL's own bootstrap). The communicator's existing
 * collectives (allreduce, bcast, allgather) stay its own; only
 * allreduce_dev becomes NCCL's.
 *
 * allreduce_dev sums an f32 or f64 buffer of the CUDA device in place with
 * ncclAllReduce(ncclSum) on the device's stream (the legacy default stream,
 * which orders it after the step's kernels and before what follows), then
 * waits for it, polling the stream and ncclCommGetAsyncError: an
 * asynchronous NCCL error (a peer's process gone, a network failure), a
 * sum unfinished after the timeout ($SAMC_DIST_TIMEOUT seconds, default
 * 300, as the MPI communicator's) or the communicator's stop flag (a
 * SIGINT/SIGTERM, rt_comm_set_stop) with the sum unfinished 0.3 s later,
 * as the MPI communicator, aborts the NCCL communicator and
 * returns -1 with a message naming this rank; every later allreduce_dev
 * then fails at once.
 *
 * The order of the sum is NCCL's (its ring or tree, chosen by its tuning
 * for the message size and topology), not the fixed rank order of the CPU
 * collectives: every rank ends with the same bits (NCCL's all-reduce is
 * deterministic for a fixed communicator, size and algorithm), but those
 * bits may differ in the last place from the rank-order sum, so a run on
 * NCCL agrees with one process within float tolerance, not bit for bit.
 */
#ifndef SAMC_RT_COMM_NCCL_H
#define SAMC_RT_COMM_NCCL_H

#include "rt_comm.h"
#include "rt_device.h"
#include "rt_err.h"

/* The library opened when neither the caller nor $SAMC_NCCL names one. */
#define RT_NCCL_LIB "libnccl.so.2"

/* ncclGetVersion's code of the oldest NCCL samc accepts: 2.4.0, the first
 * with ncclCommGetAsyncError and ncclCommAbort (a dead peer is found and
 * the sum abandoned through them). Codes: 2.4.0 is 2400 (X*1000 + Y*100 +
 * Z up to 2.8), 2.28.9 is 22809 (X*10000 + Y*100 + Z from 2.9). */
#define RT_NCCL_MIN_VERSION 2400

/* Seconds a sum may take when SAMC_DIST_TIMEOUT is not set. */
#define RT_NCCL_TIMEOUT_DEFAULT 300.0

/* NCCL's types, as its ABI has them. */
typedef int rt_nccl_result;
typedef struct rt_nccl_comm_st *rt_nccl_comm;
#define RT_NCCL_UNIQUE_ID_BYTES 128
typedef struct {
	char internal[RT_NCCL_UNIQUE_ID_BYTES];
} rt_nccl_id;
#define RT_NCCL_SUCCESS 0
#define RT_NCCL_IN_PROGRESS 7
#define RT_NCCL_FLOAT32 7
#define RT_NCCL_FLOAT64 8
#define RT_NCCL_SUM 0
/* cudaStreamLegacy: the legacy default stream, whatever NCCL's own build
 * makes of stream 0 */
#define RT_NCCL_STREAM_LEGACY ((void *)0x1)

#define RT_NCCL_FUNCS(X)                                                                           \
	X(ncclGetVersion, rt_nccl_result, (int *version))                                              \
	X(ncclGetUniqueId, rt_nccl_result, (rt_nccl_id * id))                                          \
	X(ncclCommInitRank, rt_nccl_result, (rt_nccl_comm * comm, int nranks, rt_nccl_id id, int rank)) \
	X(ncclAllReduce, rt_nccl_result,                                                               \
	  (const void *send, void *recv, size_t count, int dtype, int op, rt_nccl_comm comm,           \
	   void *stream))                                                                              \
	X(ncclCommDestroy, rt_nccl_result, (rt_nccl_comm comm))                                        \
	X(ncclCommAbort, rt_nccl_result, (rt_nccl_comm comm))                                          \
	X(ncclGetErrorString, const char *, (rt_nccl_result r))                                        \
	X(ncclCommGetAsyncError, rt_nccl_result, (rt_nccl_comm comm, rt_nccl_result * async))

#define RT_NCCL_FIELD(name, ret, args) ret(*name) args;

typedef struct {
	void *lib;
	char path[256];
	int version; /* ncclGetVersion's code */
	RT_NCCL_FUNCS(RT_NCCL_FIELD)
} rt_nccl_lib;

/* Opens NCCL at path (NULL: $SAMC_NCCL, else libnccl.so.2), resolves its
 * entry points and checks its version. 0, or -1 with a message (a missing
 * library names SAMC_NCCL). */
int rt_nccl_lib_open(rt_nccl_lib *l, const char *path, rt_err *err);

/* Forgets the library. It stays loaded: NCCL may keep a bootstrap thread
 * running after a failed start, and unloading its code under that thread
 * would crash the process. */
void rt_nccl_lib_close(rt_nccl_lib *l);

/* "2.28.9" for ncclGetVersion's code; -1 with a message if code is older
 * than RT_NCCL_MIN_VERSION (separate so every case can be tested). */
void rt_nccl_version_str(int code, char *buf, size_t len);
int rt_nccl_check_version(int code, const char *path, rt_err *err);

/* This machine's id: FNV-1a of its host name (the ranks of a machine
 * share it). */
uint64_t rt_comm_host_id(void);

/* This rank's index among the ranks on its machine (*local) and their
 * number (*nlocal), from the machines' host names (one allgather: the
 * same answer with every launcher). */
int rt_comm_local_rank(rt_comm *c, int *local, int *nlocal, rt_err *err);

/* The GPU ordinal of this rank: its local rank (collective). -1 with a
 * message on every rank when a machine runs more ranks than it has GPUs
 * (ngpus: this rank's machine's count). */
int rt_comm_nccl_ordinal(rt_comm *c, int ngpus, int *ordinal, rt_err *err);

/* The same, counting the GPUs with the CUDA driver at driver (NULL:
 * libcuda.so.1); a rank without a driver counts 0 and fails with the
 * driver's message. What a run calls before it makes its CUDA device
 * (rt_dev_cuda_opts.ordinal). */
int rt_comm_nccl_gpu(rt_comm *c, const char *driver, int *ordinal, rt_err *err);

/* Makes NCCL c's allreduce_dev over the CUDA device cuda_dev (collective:
 * every rank calls it). lib: the library (NULL: $SAMC_NCCL, else
 * libnccl.so.2). Sets c->allreduce_dev and c->dev_self. 0, or -1 with a
 * message on every rank, c unchanged. */
int rt_comm_nccl_attach(rt_comm *c, rt_device *cuda_dev, const char *lib, rt_err *err);

/* The same, with the GPU's PCI address + 1 (gpu_id; 0: unknown) telling
 * the ranks of a machine whether they share a GPU: ranks whose launcher
 * gives each its own GPU as CUDA_VISIBLE_DEVICES all see it as GPU 0. */
int rt_comm_nccl_attach_gpu(rt_comm *c, rt_device *cuda_dev, const char *lib, uint64_t gpu_id,
                            rt_err *err);

/* Ends NCCL's part of c (ncclCommDestroy, or ncclCommAbort after a failed
 * sum) and clears allreduce_dev. Before the CUDA device is released (NCCL
 * frees its memory in that device's context) and before c->release. Does
 * nothing when NCCL is not attached. */
void rt_comm_nccl_detach(rt_comm *c);

/* The NCCL version of an attached c (ncclGetVersion's code), else 0. */
int rt_comm_nccl_version(const rt_comm *c);


/* A run's GPU and NCCL (rt_comm_nccl_run.c): what `samc model.lua
 * --device cuda`, `samc steps` and a CUDA trainer do on several ranks.
 *
 * $SAMC_NCCL says whether the GPUs' sums run on NCCL:
 *   unset, ""  NCCL when libnccl.so.2 loads on every rank and every machine
 *              has a GPU per rank; else a one-line note (rank 0) and the
 *              sums staged through the host (rt_comm_allreduce_dev)
 *   "0"        never: the sums through the host, no note
 *   "1"        NCCL (libnccl.so.2) or an error
 *   a path     that library, or an error
 * Rank r runs on the GPU of its local rank modulo the GPUs it sees (its
 * local rank on a machine with a GPU per rank; GPU 0 when the launcher
 * gives each rank its own GPU through CUDA_VISIBLE_DEVICES). Two ranks of
 * a machine share a GPU when their GPUs' PCI addresses are the same (the
 * same ordinal where the driver does not say): NCCL refuses that, so then
 * the sums go through the host (unset) or the run stops (NCCL demanded).
 * One rank: GPU 0, no NCCL. */
typedef enum { RT_NCCL_AUTO, RT_NCCL_OFF, RT_NCCL_ON } rt_nccl_mode;

/* SAMC_NCCL's value (env may be NULL) as a mode, and the library to open
 * (RT_NCCL_LIB unless a path is given). */
void rt_nccl_mode_of(const char *env, rt_nccl_mode *mode, const char **lib);

typedef struct {
	int ordinal;     /* the GPU this rank runs on (rt_dev_cuda_opts.ordinal) */
	rt_device *dev;  /* the device NCCL was attached with, or NULL: host-staged */
	char note[512];  /* why the sums go through the host ("" when they do not
	                  * or SAMC_NCCL=0 asked for it); rank 0 prints it */
	char info[128];  /* "NCCL 2.28.9, rank 0 on GPU 0" when attached */
} rt_comm_gpu;

/* Collective: every rank of c calls it before it makes its CUDA execs.
 * driver: the CUDA driver library (NULL: libcuda.so.1); env: $SAMC_NCCL.
 * 0, or -1 with a message on every rank (no driver or GPU on a rank, NCCL
 * demanded and missing, a machine with fewer GPUs than ranks under NCCL,
 * NCCL's start failed). */
int rt_comm_gpu_open(rt_comm *c, const char *driver, const char *env, rt_comm_gpu *g,
                     rt_err *err);

/* Detaches NCCL and releases its device; before the run's CUDA execs are
 * freed and before c->release. g may be zeroed (nothing to do). */
void rt_comm_gpu_close(rt_comm *c, rt_comm_gpu *g);

#endif
