/*
 * test_nccl_toolkit.c - the CUDA toolkit's own NCCL (libnccl.so.2 beside
 * its other libraries) through rt_comm_nccl.h on a machine without a GPU:
 * it opens, its entry points resolve and its version is new enough; and
 * attaching it to a CUDA device with no GPU behind it (the driver's host
 * stand-in) fails with a message, not a crash or a hang. The attach runs in
 * a child process: NCCL keeps threads and memory of a failed start that a
 * leak checker would report at exit. Exit 77 (skipped) without the
 * toolkit's NCCL or the stand-in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt_comm_nccl.h"
#include "rt_dev_cuda.h"

#ifndef SAMC_NCCL_REAL
#define SAMC_NCCL_REAL ""
#endif
#ifndef SAMC_CUDA_STANDIN
#define SAMC_CUDA_STANDIN ""
#endif

static void test_opens(void **state)
{
	(void)state;
	rt_nccl_lib l;
	rt_err err = {{0}};
	if (rt_nccl_lib_open(&l, SAMC_NCCL_REAL, &err))
		fail_msg("%s", err.msg);
	char v[32];
	rt_nccl_version_str(l.version, v, sizeof v);
	printf("# %s: NCCL %s\n", SAMC_NCCL_REAL, v);
	assert_true(l.version >= RT_NCCL_MIN_VERSION);
	assert_string_equal(l.ncclGetErrorString(RT_NCCL_SUCCESS), "no error");
	rt_nccl_lib_close(&l);
}

static void test_no_gpu(void **state)
{
	(void)state;
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		rt_comm c = *rt_comm_self();
		rt_err err = {{0}};
		rt_dev_cuda_opts o = {SAMC_CUDA_STANDIN, NULL, NULL, 0};
		rt_device *d = rt_dev_cuda_new(&o, &err);
		int rc = d ? rt_comm_nccl_attach(&c, d, SAMC_NCCL_REAL, &err) : -1;
		ssize_t w = write(pfd[1], err.msg, strlen(err.msg) + 1);
		(void)w;
		_exit(rc == -1 ? 0 : 1); /* no exit handlers: NCCL's threads stay as they are */
	}
	close(pfd[1]);
	char msg[1100] = "";
	size_t n = 0;
	ssize_t k;
	while (n < sizeof msg - 1 && (k = read(pfd[0], msg + n, sizeof msg - 1 - n)) > 0)
		n += (size_t)k;
	msg[n] = 0;
	close(pfd[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	printf("# %s\n", msg);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_non_null(strstr(msg, "nccl: rank 0: ncclCommInitRank on GPU 0 failed: "));
	assert_non_null(strstr(msg, "NCCL finds no usable GPU"));
}

int main(void)
{
	if (!SAMC_NCCL_REAL[0] || access(SAMC_NCCL_REAL, R_OK) != 0 || !SAMC_CUDA_STANDIN[0]) {
		fprintf(stderr, "test_nccl_toolkit: no NCCL in the CUDA toolkit: skipped\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opens),
		cmocka_unit_test(test_no_gpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
