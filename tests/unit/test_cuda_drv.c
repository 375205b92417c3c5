/*
 * test_cuda_drv.c - the CUDA driver opened with dlopen says why there is no
 * GPU: a library that is not there, a library that is not a driver, the
 * toolkit's link stub (cuInit's 34, when the toolkit is installed), no
 * device (100) and a driver older than the PTX needs, each named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rt_cuda_drv.h"

#define STUB "/usr/local/cuda/lib64/stubs/libcuda.so"

static void expect_in(const char *msg, const char *part)
{
	if (!strstr(msg, part))
		fail_msg("\"%s\" not in \"%s\"", part, msg);
}

static void test_missing_library(void **state)
{
	(void)state;
	rt_cuda_drv d;
	rt_err e = {{0}};
	assert_int_equal(rt_cuda_drv_open(&d, "/nonexistent/libcuda.so.1", &e), -1);
	expect_in(e.msg, "/nonexistent/libcuda.so.1 not found: no NVIDIA driver");
	assert_null(d.lib);
}

static void test_not_a_driver(void **state)
{
	(void)state;
	rt_cuda_drv d;
	rt_err e = {{0}};
	assert_int_equal(rt_cuda_drv_open(&d, "libm.so.6", &e), -1);
	expect_in(e.msg, "libm.so.6 has no cuInit");
	assert_null(d.lib);
}

static void test_stub(void **state)
{
	(void)state;
	if (access(STUB, R_OK) != 0) {
		print_message("no CUDA toolkit stub at %s: not checked\n", STUB);
		return;
	}
	rt_cuda_drv d;
	rt_err e = {{0}};
	assert_int_equal(rt_cuda_drv_open(&d, STUB, &e), -1);
	expect_in(e.msg, "no NVIDIA driver");
	expect_in(e.msg, "link stub");
	expect_in(e.msg, "error 34");
	expect_in(e.msg, "CUDA_ERROR_STUB_LIBRARY");
	assert_null(d.lib);
}

static void test_no_device(void **state)
{
	(void)state;
	rt_err e = {{0}};
	assert_int_equal(rt_cuda_drv_init_error(NULL, "libcuda.so.1", RT_CU_ERROR_NO_DEVICE, &e), -1);
	expect_in(e.msg, "no GPU");
	expect_in(e.msg, "error 100");
	expect_in(e.msg, "CUDA_ERROR_NO_DEVICE");
	assert_int_equal(rt_cuda_drv_init_error(NULL, "libcuda.so.1", 999, &e), -1);
	expect_in(e.msg, "error 999");
}

static void test_old_driver(void **state)
{
	(void)state;
	rt_err e = {{0}};
	assert_int_equal(rt_cuda_drv_check_version(12080, &e), -1);
	expect_in(e.msg, "supports CUDA 12.8");
	expect_in(e.msg, "CUDA 13.0");
	expect_in(e.msg, "12080");
	assert_int_equal(rt_cuda_drv_check_version(13000, &e), 0);
	assert_int_equal(rt_cuda_drv_check_version(13020, &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_library), cmocka_unit_test(test_not_a_driver),
		cmocka_unit_test(test_stub),            cmocka_unit_test(test_no_device),
		cmocka_unit_test(test_old_driver),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
