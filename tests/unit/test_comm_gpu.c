/*
 * test_comm_gpu.c - a data-parallel run's GPU and NCCL (rt_comm_gpu_open,
 * rt_comm_nccl.h) through the host stand-ins for NCCL and the CUDA driver:
 * SAMC_NCCL's values; one rank (GPU 0, no NCCL); two ranks (forked here,
 * over a socket pair) with NCCL on a GPU each, with SAMC_NCCL=0, sharing
 * one GPU (a note, no NCCL), each seeing only its own GPU (told apart by
 * their PCI addresses), and the errors: NCCL demanded on too few GPUs,
 * a library missing on one rank, a rank without a driver (every rank fails
 * and says which). Exit 77 (skipped) when the stand-ins were not built.
 */
#include <setjmp.h>
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
#include "test_comm_pair.h"
#include "test_tmpdir.h"

#ifndef SAMC_NCCL_STANDIN
#define SAMC_NCCL_STANDIN ""
#endif
#ifndef SAMC_CUDA_STANDIN
#define SAMC_CUDA_STANDIN ""
#endif

static char dir[4096];

/* What a rank is given and what it reports. */
typedef struct {
	const char *driver[2], *env[2]; /* per rank */
	const char *pci_base[2];        /* SAMC_STANDIN_PCI_BASE per rank, or NULL */
	int rc, ordinal, attached, version;
	char note[512], info[128], msg[1024];
} gpu_case;

static void rank_run(int rank, int fd, gpu_case *g)
{
	rt_comm c = pair_comm(rank, fd);
	rt_err err = {{0}};
	rt_comm_gpu gpu;
	if (g->pci_base[rank])
		setenv("SAMC_STANDIN_PCI_BASE", g->pci_base[rank], 1);
	else
		unsetenv("SAMC_STANDIN_PCI_BASE");
	g->rc = rt_comm_gpu_open(&c, g->driver[rank], g->env[rank], &gpu, &err);
	snprintf(g->msg, sizeof g->msg, "%s", g->rc ? err.msg : "");
	g->ordinal = gpu.ordinal;
	g->attached = gpu.dev != NULL && c.allreduce_dev != NULL;
	g->version = rt_comm_nccl_version(&c);
	snprintf(g->note, sizeof g->note, "%s", gpu.note);
	snprintf(g->info, sizeof g->info, "%s", gpu.info);
	rt_comm_gpu_close(&c, &gpu);
	if (c.allreduce_dev || gpu.dev)
		snprintf(g->msg, sizeof g->msg, "close left NCCL attached");
	unsetenv("SAMC_STANDIN_PCI_BASE");
}

/* Both ranks' reports: rank 1 forked, its report back through a pipe. */
static void two_ranks(const gpu_case *in, gpu_case out[2])
{
	int sv[2], pp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(pp), 0);
	out[0] = out[1] = *in;
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		close(pp[0]);
		rank_run(1, sv[1], &out[1]);
		_exit(pair_io(pp[1], &out[1], sizeof out[1], 1) ? 1 : 0);
	}
	close(sv[1]);
	close(pp[1]);
	rank_run(0, sv[0], &out[0]);
	close(sv[0]);
	assert_int_equal(pair_io(pp[0], &out[1], sizeof out[1], 0), 0);
	close(pp[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static gpu_case both(const char *env)
{
	return (gpu_case){.driver = {SAMC_CUDA_STANDIN, SAMC_CUDA_STANDIN}, .env = {env, env}};
}

static void test_mode(void **state)
{
	(void)state;
	rt_nccl_mode m;
	const char *lib;
	rt_nccl_mode_of(NULL, &m, &lib);
	assert_int_equal(m, RT_NCCL_AUTO);
	assert_string_equal(lib, RT_NCCL_LIB);
	rt_nccl_mode_of("", &m, &lib);
	assert_int_equal(m, RT_NCCL_AUTO);
	rt_nccl_mode_of("0", &m, &lib);
	assert_int_equal(m, RT_NCCL_OFF);
	rt_nccl_mode_of("1", &m, &lib);
	assert_int_equal(m, RT_NCCL_ON);
	assert_string_equal(lib, RT_NCCL_LIB);
	rt_nccl_mode_of("/x/libnccl.so.2", &m, &lib);
	assert_int_equal(m, RT_NCCL_ON);
	assert_string_equal(lib, "/x/libnccl.so.2");
}

static void test_one_rank(void **state)
{
	(void)state;
	rt_comm_gpu g;
	rt_err err = {{0}};
	/* no driver is even opened: one rank has no sums */
	assert_int_equal(rt_comm_gpu_open(rt_comm_self(), "/no/driver.so", "1", &g, &err), 0);
	assert_int_equal(g.ordinal, 0);
	assert_null(g.dev);
	assert_string_equal(g.note, "");
	rt_comm_gpu_close(rt_comm_self(), &g);
}

static void test_nccl(void **state)
{
	(void)state;
	setenv("SAMC_STANDIN_GPUS", "2", 1);
	gpu_case in = both(SAMC_NCCL_STANDIN), out[2];
	two_ranks(&in, out);
	for (int r = 0; r < 2; r++) {
		assert_string_equal(out[r].msg, "");
		assert_int_equal(out[r].rc, 0);
		assert_int_equal(out[r].ordinal, r); /* its local rank */
		assert_true(out[r].attached);
		assert_int_equal(out[r].version, 22809);
		assert_string_equal(out[r].note, "");
	}
	assert_string_equal(out[1].info, "NCCL 2.28.9, rank 1 on GPU 1");
}

static void test_off(void **state)
{
	(void)state;
	setenv("SAMC_STANDIN_GPUS", "2", 1);
	gpu_case in = both("0"), out[2];
	two_ranks(&in, out);
	for (int r = 0; r < 2; r++) {
		assert_int_equal(out[r].rc, 0);
		assert_int_equal(out[r].ordinal, r);
		assert_false(out[r].attached);
		assert_string_equal(out[r].note, "");
	}
}

static void test_shared_gpu(void **state)
{
	(void)state;
	setenv("SAMC_STANDIN_GPUS", "1", 1);
	gpu_case in = both(NULL), out[2];
	two_ranks(&in, out);
	for (int r = 0; r < 2; r++) {
		assert_int_equal(out[r].rc, 0);
		assert_int_equal(out[r].ordinal, 0);
		assert_false(out[r].attached);
		assert_non_null(strstr(out[r].note, "ranks 0 and 1 share GPU 0 of their machine (2 "
		                                    "ranks, 1 GPU there)"));
		assert_non_null(strstr(out[r].note, "the GPUs' sums go through the host"));
	}
	/* demanded: refused on both, naming the counts */
	in = both(SAMC_NCCL_STANDIN);
	two_ranks(&in, out);
	for (int r = 0; r < 2; r++) {
		assert_int_equal(out[r].rc, -1);
		assert_non_null(strstr(out[r].msg, "1 GPU there): NCCL needs a GPU of its own"));
		assert_non_null(strstr(out[r].msg, "start at most 1 rank per machine"));
	}
}

/* A launcher that gives each rank its own GPU (CUDA_VISIBLE_DEVICES): each
 * sees one GPU, GPU 0, at another PCI address; NCCL, both on their GPU 0 */
static void test_own_visible_gpu(void **state)
{
	(void)state;
	setenv("SAMC_STANDIN_GPUS", "1", 1);
	gpu_case in = both(SAMC_NCCL_STANDIN), out[2];
	in.pci_base[0] = "3";
	in.pci_base[1] = "4";
	two_ranks(&in, out);
	for (int r = 0; r < 2; r++) {
		assert_string_equal(out[r].msg, "");
		assert_int_equal(out[r].ordinal, 0);
		assert_true(out[r].attached);
		assert_string_equal(out[r].note, "");
	}
	/* the same PCI address on both: one GPU, refused */
	in.pci_base[1] = "3";
	two_ranks(&in, out);
	for (int r = 0; r < 2; r++)
		assert_non_null(strstr(out[r].msg, "ranks 0 and 1 share GPU 0 of their machine"));
}

static void test_missing(void **state)
{
	(void)state;
	setenv("SAMC_STANDIN_GPUS", "2", 1);
	gpu_case in = both(SAMC_NCCL_STANDIN), out[2];
	in.env[1] = "/no/such/libnccl.so.2";
	two_ranks(&in, out);
	assert_int_equal(out[0].rc, -1);
	assert_int_equal(out[1].rc, -1);
	assert_non_null(strstr(out[0].msg, "nccl: rank 0: rank 1 could not load"));
	assert_non_null(strstr(out[1].msg, "/no/such/libnccl.so.2 not found"));
	assert_non_null(strstr(out[1].msg, "SAMC_NCCL=0 sums through the host"));
	/* the ranks disagree on SAMC_NCCL: refused, not a hang in NCCL's start */
	in = both("0");
	in.env[1] = SAMC_NCCL_STANDIN;
	two_ranks(&in, out);
	assert_int_equal(out[0].rc, -1);
	assert_int_equal(out[1].rc, -1);
	assert_non_null(strstr(out[0].msg, "the ranks disagree on SAMC_NCCL: rank 0 has it 0 (off)"));
	/* no driver on rank 1: every rank fails, rank 0 naming rank 1 */
	in = both("0");
	in.driver[1] = "/no/such/libcuda.so.1";
	two_ranks(&in, out);
	assert_int_equal(out[0].rc, -1);
	assert_int_equal(out[1].rc, -1);
	assert_non_null(strstr(out[0].msg, "cuda: rank 0: rank 1 has no GPU"));
	assert_non_null(strstr(out[1].msg, "cuda: rank 1: "));
}

int main(void)
{
	if (!SAMC_NCCL_STANDIN[0] || access(SAMC_NCCL_STANDIN, R_OK) != 0 || !SAMC_CUDA_STANDIN[0] ||
	    access(SAMC_CUDA_STANDIN, R_OK) != 0) {
		fprintf(stderr, "test_comm_gpu: no host stand-ins for NCCL and the driver: skipped\n");
		return 77;
	}
	if (tmpdir_make(dir, sizeof dir, "test_comm_gpu"))
		return 1;
	setenv("TMPDIR", dir, 1);                          /* where the ranks meet */
	setenv("SAMC_CUDA_DRIVER", SAMC_CUDA_STANDIN, 1); /* whose stream NCCL's stand-in uses */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode),       cmocka_unit_test(test_one_rank),
		cmocka_unit_test(test_nccl),       cmocka_unit_test(test_off),
		cmocka_unit_test(test_shared_gpu), cmocka_unit_test(test_own_visible_gpu),
		cmocka_unit_test(test_missing),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	tmpdir_remove(dir);
	return rc;
}
