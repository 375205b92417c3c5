/*
 * test_comm_nccl.c - NCCL as a communicator's allreduce_dev
 * (rt_comm_nccl.h) through the host stand-ins for NCCL
 * (tests/nccl_standin) and the CUDA driver (tests/cuda_standin): one rank;
 * two ranks (two processes, forked here, that exchange NCCL's unique id
 * and their hellos over a socket pair), their f32 and f64 sums checked;
 * the errors a user meets: no library (the message names SAMC_NCCL), a
 * version too old, a device that is not a GPU, more ranks on a machine than
 * GPUs, two ranks on one GPU, a peer that dies, a peer that stops
 * answering (the timeout), the last two also for a sum on the device's
 * side queue (the overlapped all-reduce's). Exit 77 (skipped) when the stand-ins were not
 * built.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt_comm_nccl.h"
#include "rt_dev_cuda.h"
#include "test_comm_pair.h"
#include "test_tmpdir.h"

#ifndef SAMC_NCCL_STANDIN
#define SAMC_NCCL_STANDIN ""
#endif
#ifndef SAMC_CUDA_STANDIN
#define SAMC_CUDA_STANDIN ""
#endif

static char dir[4096];

static rt_device *gpu(int ordinal, rt_err *err)
{
	rt_dev_cuda_opts o = {SAMC_CUDA_STANDIN, SAMC_CUDA_STANDIN, NULL, ordinal};
	return rt_dev_cuda_new(&o, err);
}

/* rank r's value i: exact halves in f32, so both orders of a two-rank sum
 * agree with the plain one; and inexact thirds, where they agree too (a sum
 * of two is commutative) */
static double value(int r, size_t i, int exact)
{
	return exact ? (double)(r + 1) * 0.5 * (double)i : (double)(r + 1) / 3.0 + 1e-3 * (double)i;
}

enum { RUN_SUMS, RUN_DIE_AFTER_ATTACH, RUN_HANG_AFTER_ATTACH, RUN_SAME_GPU };

/* One rank's part: "" on success, else what went wrong (in msg). */
static void rank_run(int rank, int fd, int scenario, char *msg, size_t len)
{
	rt_comm c = pair_comm(rank, fd);
	rt_err err = {{0}};
	int ordinal = 0;
	msg[0] = 0;
	/* the GPUs the driver sees, as a run counts them */
	if (scenario != RUN_SAME_GPU && rt_comm_nccl_gpu(&c, SAMC_CUDA_STANDIN, &ordinal, &err)) {
		snprintf(msg, len, "ordinal: %.900s", err.msg);
		return;
	}
	if (scenario != RUN_SAME_GPU && ordinal != rank) {
		snprintf(msg, len, "rank %d got GPU %d", rank, ordinal);
		return;
	}
	rt_device *d = gpu(ordinal, &err);
	if (!d) {
		snprintf(msg, len, "device: %.900s", err.msg);
		return;
	}
	if (rt_comm_nccl_attach(&c, d, SAMC_NCCL_STANDIN, &err)) {
		snprintf(msg, len, "attach: %.900s", err.msg);
		d->release(d);
		return;
	}
	if (scenario == RUN_DIE_AFTER_ATTACH)
		_exit(0);
	if (scenario == RUN_HANG_AFTER_ATTACH) {
		char b;
		if (read(fd, &b, 1) < 0) /* until the peer closes the socket */
			b = 0;
		_exit(0);
	}
	enum { N = 1000 };
	float hf[N], sf[N];
	double hd[N], sd[N];
	void *bf = NULL, *bd = NULL;
	for (int exact = 1; exact >= 0 && !msg[0]; exact--) {
		for (size_t i = 0; i < N; i++) {
			hf[i] = (float)value(rank, i, exact);
			hd[i] = value(rank, i, exact);
		}
		if ((!bf && (d->alloc(d, sizeof hf, &bf, &err) || d->alloc(d, sizeof hd, &bd, &err))) ||
		    d->upload(d, bf, hf, sizeof hf, &err) || d->upload(d, bd, hd, sizeof hd, &err) ||
		    rt_comm_allreduce_dev(&c, d, bf, N, RT_COMM_F32, NULL, &err) ||
		    rt_comm_allreduce_dev(&c, d, bd, N, RT_COMM_F64, NULL, &err) ||
		    d->download(d, sf, bf, sizeof sf, &err) || d->download(d, sd, bd, sizeof sd, &err)) {
			snprintf(msg, len, "sum: %.900s", err.msg);
			break;
		}
		for (size_t i = 0; i < N && !msg[0]; i++) {
			float wf = (float)value(0, i, exact) + (float)value(1, i, exact);
			double wd = value(0, i, exact) + value(1, i, exact);
			if (memcmp(&sf[i], &wf, sizeof wf) || memcmp(&sd[i], &wd, sizeof wd))
				snprintf(msg, len, "rank %d, element %zu: %.9g %.17g, want %.9g %.17g", rank, i,
				         sf[i], sd[i], wf, wd);
		}
	}
	if (!msg[0] && (c.bytes != 2 * (sizeof hf + sizeof hd) || c.seconds <= 0))
		snprintf(msg, len, "counters: %llu bytes, %g s", (unsigned long long)c.bytes, c.seconds);
	d->free(d, bf);
	d->free(d, bd);
	rt_comm_nccl_detach(&c);
	if (!msg[0] && c.allreduce_dev)
		snprintf(msg, len, "detach left allreduce_dev");
	d->release(d);
}

/* Forks rank 1 and runs rank 0 here; rank 1's message comes back through
 * its exit status (0 ok, 1 failed: printed on stderr). Returns rank 1's
 * status; *fd_out (if not NULL) keeps rank 0's socket open. */
static int two_ranks(int scenario, char *msg0, size_t len, pid_t *child, int *fd_out)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		char m[1024];
		rank_run(1, sv[1], scenario, m, sizeof m);
		if (m[0])
			fprintf(stderr, "rank 1: %s\n", m);
		_exit(m[0] ? 1 : 0);
	}
	close(sv[1]);
	rank_run(0, sv[0], scenario, msg0, len);
	*child = pid;
	if (fd_out) {
		*fd_out = sv[0];
		return 0;
	}
	close(sv[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void test_two_ranks(void **state)
{
	(void)state;
	setenv("SAMC_STANDIN_GPUS", "2", 1);
	char m[1024];
	pid_t pid;
	int st = two_ranks(RUN_SUMS, m, sizeof m, &pid, NULL);
	assert_string_equal(m, "");
	assert_int_equal(st, 0);
}

static void test_more_ranks_than_gpus(void **state)
{
	(void)state;
	setenv("SAMC_STANDIN_GPUS", "1", 1);
	char m[1024];
	pid_t pid;
	int st = two_ranks(RUN_SUMS, m, sizeof m, &pid, NULL);
	assert_non_null(strstr(m, "nccl: rank 0: 2 ranks run on "));
	assert_non_null(strstr(m, "which has 1 GPU: NCCL needs a GPU of its own for every rank"));
	assert_int_equal(st, 1); /* rank 1 refused too */
}

static void test_same_gpu(void **state)
{
	(void)state;
	setenv("SAMC_STANDIN_GPUS", "2", 1);
	char m[1024];
	pid_t pid;
	int st = two_ranks(RUN_SAME_GPU, m, sizeof m, &pid, NULL);
	assert_non_null(strstr(m, "ranks 0 and 1 both use GPU 0 of one machine"));
	assert_int_equal(st, 1);
}

/* rank 0 sums, rank 1 is gone or silent: a message, not a hang */
/* side: the sum enqueued on the device's side queue (the overlapped
 * all-reduce's form), the failure found by wait_dev_side */
static void peer_fails_on(int scenario, int signal, int side, const char *want)
{
	setenv("SAMC_STANDIN_GPUS", "2", 1);
	rt_comm c = {0};
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		char m[1024];
		rank_run(1, sv[1], scenario, m, sizeof m);
		_exit(1); /* rank_run ends the process itself */
	}
	close(sv[1]);
	c = pair_comm(0, sv[0]);
	rt_err err = {{0}};
	int o = -1;
	assert_int_equal(rt_comm_nccl_ordinal(&c, 2, &o, &err), 0);
	assert_int_equal(o, 0);
	rt_device *d = gpu(0, &err);
	assert_non_null(d);
	if (rt_comm_nccl_attach(&c, d, SAMC_NCCL_STANDIN, &err))
		fail_msg("%s", err.msg);
	static volatile sig_atomic_t stop;
	stop = signal;
	c.stop = &stop; /* a SIGTERM's handler set it: the wait ends */
	void *b;
	assert_int_equal(d->alloc(d, 64, &b, &err), 0);
	if (side) { /* enqueued without waiting; the wait finds it */
		assert_int_equal(c.allreduce_dev_side(&c, d, b, 16, RT_COMM_F32, &err), 0);
		assert_int_equal(c.wait_dev_side(&c, d, &err), -1);
	} else
		assert_int_equal(rt_comm_allreduce_dev(&c, d, b, 16, RT_COMM_F32, NULL, &err), -1);
	assert_non_null(strstr(err.msg, want));
	/* NCCL is aborted: a later sum fails at once */
	assert_int_equal(rt_comm_allreduce_dev(&c, d, b, 16, RT_COMM_F32, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "nccl: rank 0: NCCL was stopped after an earlier failed sum"));
	rt_comm_nccl_detach(&c);
	d->free(d, b);
	d->release(d);
	close(sv[0]); /* a silent peer's read ends */
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
}

static void peer_fails(int scenario, int signal, const char *want)
{
	peer_fails_on(scenario, signal, 0, want);
}

static void test_dead_peer(void **state)
{
	(void)state;
	unsetenv("SAMC_DIST_TIMEOUT");
	peer_fails(RUN_DIE_AFTER_ATTACH, 0,
	           "nccl: rank 0: the sum of 16 values failed: remote process exited or there was a "
	           "network error (a rank died");
}

static void test_silent_peer(void **state)
{
	(void)state;
	setenv("SAMC_DIST_TIMEOUT", "0.5", 1);
	peer_fails(RUN_HANG_AFTER_ATTACH, 0, "nccl: rank 0: the sum of 16 values did not finish within "
	                                  "0.5 s (SAMC_DIST_TIMEOUT): a rank died or stopped answering");
	unsetenv("SAMC_DIST_TIMEOUT");
}

static void test_stopped(void **state)
{
	(void)state;
	unsetenv("SAMC_DIST_TIMEOUT");
	peer_fails(RUN_HANG_AFTER_ATTACH, SIGTERM,
	           "nccl: rank 0: the sum of 16 values was stopped by SIGTERM while waiting");
}

static void test_dead_peer_side(void **state)
{
	(void)state;
	unsetenv("SAMC_DIST_TIMEOUT");
	peer_fails_on(RUN_DIE_AFTER_ATTACH, 0, 1,
	              "nccl: rank 0: the sum of a bucket of the overlapped all-reduce failed: remote "
	              "process exited or there was a network error (a rank died");
}

static void test_silent_peer_side(void **state)
{
	(void)state;
	setenv("SAMC_DIST_TIMEOUT", "0.5", 1);
	peer_fails_on(RUN_HANG_AFTER_ATTACH, 0, 1,
	              "nccl: rank 0: the sum of a bucket of the overlapped all-reduce did not finish "
	              "within 0.5 s (SAMC_DIST_TIMEOUT)");
	unsetenv("SAMC_DIST_TIMEOUT");
}

/* ---- one rank ---- */

static void test_one_rank(void **state)
{
	(void)state;
	unsetenv("SAMC_STANDIN_GPUS");
	rt_comm c = *rt_comm_self(); /* a copy: the constant one stays as it is */
	rt_err err = {{0}};
	rt_device *d = gpu(0, &err);
	assert_non_null(d);
	int ordinal = -1;
	assert_int_equal(rt_comm_nccl_ordinal(&c, 1, &ordinal, &err), 0);
	assert_int_equal(ordinal, 0);
	assert_int_equal(rt_comm_nccl_attach(&c, d, SAMC_NCCL_STANDIN, &err), 0);
	assert_int_equal(rt_comm_nccl_version(&c), 22809);
	assert_non_null(c.allreduce_dev);
	/* a second attach is refused */
	assert_int_equal(rt_comm_nccl_attach(&c, d, SAMC_NCCL_STANDIN, &err), -1);
	assert_non_null(strstr(err.msg, "already has a device allreduce"));
	double h[5] = {1, -2.5, 3e300, 0.1, 7}, back[5];
	void *b;
	assert_int_equal(d->alloc(d, sizeof h, &b, &err), 0);
	assert_int_equal(d->upload(d, b, h, sizeof h, &err), 0);
	/* one rank: NCCL's sum is the buffer itself (called directly:
	 * rt_comm_allreduce_dev skips a one-rank sum) */
	assert_int_equal(c.allreduce_dev(&c, d, b, 5, RT_COMM_F64, &err), 0);
	assert_int_equal(d->download(d, back, b, sizeof back, &err), 0);
	assert_memory_equal(back, h, sizeof h);
	assert_int_equal(c.bytes, 0);
	/* a device NCCL was not started on */
	rt_device *host = rt_dev_host();
	assert_int_equal(c.allreduce_dev(&c, host, b, 5, RT_COMM_F64, &err), -1);
	assert_non_null(strstr(err.msg, "but NCCL was started on cuda:0"));
	d->free(d, b);
	rt_comm_nccl_detach(&c);
	assert_null(c.allreduce_dev);
	assert_null(c.dev_self);
	assert_int_equal(rt_comm_nccl_version(&c), 0);
	rt_comm_nccl_detach(&c); /* twice: nothing */
	d->release(d);
}

static void test_errors(void **state)
{
	(void)state;
	rt_comm c = *rt_comm_self();
	rt_err err = {{0}};
	rt_device *d = gpu(0, &err);
	assert_non_null(d);
	/* no library: the message names it and SAMC_NCCL */
	assert_int_equal(rt_comm_nccl_attach(&c, d, "/nonexistent/libnccl.so.2", &err), -1);
	assert_non_null(strstr(err.msg, "nccl: /nonexistent/libnccl.so.2 not found"));
	assert_non_null(strstr(err.msg, "SAMC_NCCL=/path/to/libnccl.so.2"));
	assert_null(c.allreduce_dev);
	setenv("SAMC_NCCL", "/nonexistent/other.so", 1);
	assert_int_equal(rt_comm_nccl_attach(&c, d, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "nccl: /nonexistent/other.so not found"));
	unsetenv("SAMC_NCCL");
	/* a library without NCCL's entry points */
	assert_int_equal(rt_comm_nccl_attach(&c, d, SAMC_CUDA_STANDIN, &err), -1);
	assert_non_null(strstr(err.msg, "has no ncclGetVersion: it is not NCCL 2.4 or newer"));
	/* too old */
	setenv("SAMC_NCCL_STANDIN_VERSION", "2312", 1);
	assert_int_equal(rt_comm_nccl_attach(&c, d, SAMC_NCCL_STANDIN, &err), -1);
	assert_non_null(strstr(err.msg, "is NCCL 2.3.12 (ncclGetVersion 2312), older than samc "
	                                "needs (2.4.0"));
	unsetenv("SAMC_NCCL_STANDIN_VERSION");
	int o;
	/* a timeout that is not one */
	setenv("SAMC_DIST_TIMEOUT", "soon", 1);
	assert_int_equal(rt_comm_nccl_attach(&c, d, SAMC_NCCL_STANDIN, &err), -1);
	assert_non_null(strstr(err.msg, "nccl: SAMC_DIST_TIMEOUT='soon' is not a number of seconds"));
	unsetenv("SAMC_DIST_TIMEOUT");
	/* not a GPU */
	assert_int_equal(rt_comm_nccl_attach(&c, rt_dev_host(), SAMC_NCCL_STANDIN, &err), -1);
	assert_non_null(strstr(err.msg, "NCCL sums the memory of a CUDA device, not of host"));
	assert_null(c.allreduce_dev);
	assert_null(c.dev_self);
	/* no driver: its message */
	assert_int_equal(rt_comm_nccl_gpu(&c, "/nonexistent/libcuda.so.1", &o, &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/libcuda.so.1 not found"));
	/* more ranks than GPUs, one rank: only with no GPU at all */
	assert_int_equal(rt_comm_nccl_ordinal(&c, 0, &o, &err), -1);
	assert_non_null(strstr(err.msg, "1 rank runs on"));
	d->release(d);
}

static void test_versions(void **state)
{
	(void)state;
	char s[32];
	rt_nccl_version_str(22809, s, sizeof s);
	assert_string_equal(s, "2.28.9");
	rt_nccl_version_str(2803, s, sizeof s);
	assert_string_equal(s, "2.8.3");
	rt_nccl_version_str(21003, s, sizeof s);
	assert_string_equal(s, "2.10.3");
	rt_err err = {{0}};
	assert_int_equal(rt_nccl_check_version(2400, "x", &err), 0);
	assert_int_equal(rt_nccl_check_version(22809, "x", &err), 0);
	assert_int_equal(rt_nccl_check_version(2304, "x", &err), -1);
}

int main(void)
{
	if (!SAMC_NCCL_STANDIN[0] || access(SAMC_NCCL_STANDIN, R_OK) != 0 || !SAMC_CUDA_STANDIN[0] ||
	    access(SAMC_CUDA_STANDIN, R_OK) != 0) {
		fprintf(stderr, "test_comm_nccl: no host stand-ins for NCCL and the driver: skipped\n");
		return 77;
	}
	if (tmpdir_make(dir, sizeof dir, "test_comm_nccl"))
		return 1;
	setenv("TMPDIR", dir, 1);                          /* where the ranks meet */
	setenv("SAMC_CUDA_DRIVER", SAMC_CUDA_STANDIN, 1); /* whose stream NCCL's stand-in uses */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions),     cmocka_unit_test(test_errors),
		cmocka_unit_test(test_one_rank),     cmocka_unit_test(test_two_ranks),
		cmocka_unit_test(test_more_ranks_than_gpus), cmocka_unit_test(test_same_gpu),
		cmocka_unit_test(test_dead_peer),    cmocka_unit_test(test_silent_peer),
		cmocka_unit_test(test_stopped),      cmocka_unit_test(test_dead_peer_side),
		cmocka_unit_test(test_silent_peer_side),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	tmpdir_remove(dir);
	return rc;
}
