/*
 * test_comm_self.c - the one-rank communicator (rt_comm.h) and what
 * rt_comm_open gives outside a launcher: identity collectives, the
 * agreement check of one rank, the stop flag left alone. The ranks of an
 * MPI run are tested under mpirun (tests/dist).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rt_comm.h"

static void test_open_outside_launcher(void **state)
{
	(void)state;
	/* as a process that no launcher started */
	unsetenv("OMPI_COMM_WORLD_SIZE");
	unsetenv("PMIX_RANK");
	unsetenv("PMI_SIZE");
	rt_comm *c = NULL;
	rt_err err = {{0}};
	assert_int_equal(rt_comm_open(&c, &err), 0);
	assert_ptr_equal(c, rt_comm_self());
	assert_string_equal(c->name, "self");
	assert_int_equal(c->rank, 0);
	assert_int_equal(c->size, 1);
	c->release(c);
}

static void test_self_collectives(void **state)
{
	(void)state;
	rt_comm *c = rt_comm_self();
	rt_err err = {{0}};
	double x[3] = {1.5, -2, 1e300};
	assert_int_equal(c->allreduce(c, x, 3, RT_COMM_F64, &err), 0);
	assert_true(x[0] == 1.5 && x[1] == -2 && x[2] == 1e300);
	float f[2] = {0.1f, 3};
	assert_int_equal(c->bcast(c, f, sizeof f, 0, &err), 0);
	assert_true(f[0] == 0.1f && f[1] == 3);
	assert_int_equal(c->bcast(c, f, sizeof f, 1, &err), -1);
	assert_non_null(strstr(err.msg, "broadcast from rank 1 of a one-rank run"));
	uint64_t mine = 0x1234, all = 0;
	assert_int_equal(c->allgather(c, &mine, sizeof mine, &all, &err), 0);
	assert_true(all == 0x1234);
	assert_int_equal(rt_comm_agree(c, "program", 77, &err), 0);
	assert_int_equal(rt_comm_allreduce_dev(c, NULL, x, 3, RT_COMM_F64, NULL, &err), 0);
	assert_true(c->seconds == 0 && c->bytes == 0);
}

/* self never waits: it keeps no flag (it is a constant shared by all) */
static void test_self_stop(void **state)
{
	(void)state;
	static volatile sig_atomic_t flag = SIGTERM;
	rt_comm *c = rt_comm_self();
	rt_comm_set_stop(c, &flag);
	assert_null(c->stop);
	rt_err err = {{0}};
	double x = 2;
	assert_int_equal(c->allreduce(c, &x, 1, RT_COMM_F64, &err), 0);
	assert_true(x == 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_outside_launcher),
		cmocka_unit_test(test_self_collectives),
		cmocka_unit_test(test_self_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
