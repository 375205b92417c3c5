/*
 * test_conv_table.c - convolution kernels (RT_K_CONV) in a step table, as
 * the CPU device runs them through the step runner: the forward with bias,
 * the input gradient and the weight and bias gradients of a grouped,
 * strided convolution equal rt_conv's own results bit for bit on 1 and 2
 * threads; malformed convolution kernels are refused with a message; a
 * device without convolutions refuses the table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rt_dev_cpu.h"
#include "rt_prog.h"
#include "rt_runner.h"

/* x [2,4,7,7], w [6,2,3,3] (groups 2), stride 2, padding 1: y [2,6,4,4] */
#define CONV_DESC {2, 4, 7, 7, 6, 3, 3, 4, 4, 2, 2, 1, 1, 1, 1, 2}
enum { NX = 2 * 4 * 7 * 7, NW = 6 * 2 * 3 * 3, NB = 6, NY = 2 * 6 * 4 * 4 };

/* slots: 0 x, 1 w, 2 b, 3 dy (inputs and params); 4 y, 5 dx, 6 dw, 7 db
 * (state the kernels write); buffer i is slot i */
static const rt_slot slots[] = {
	{.name = "x", .role = RT_SLOT_INPUT, .dtype = RT_F32, .rank = 4, .dim = {2, 4, 7, 7}},
	{.name = "w", .role = RT_SLOT_PARAM, .dtype = RT_F32, .rank = 4, .dim = {6, 2, 3, 3}},
	{.name = "b", .role = RT_SLOT_PARAM, .dtype = RT_F32, .rank = 1, .dim = {6}},
	{.name = "dy", .role = RT_SLOT_INPUT, .dtype = RT_F32, .rank = 4, .dim = {2, 6, 4, 4}},
	{.name = "y", .role = RT_SLOT_STATE, .dtype = RT_F32, .rank = 4, .dim = {2, 6, 4, 4}},
	{.name = "dx", .role = RT_SLOT_STATE, .dtype = RT_F32, .rank = 4, .dim = {2, 4, 7, 7}},
	{.name = "dw", .role = RT_SLOT_STATE, .dtype = RT_F32, .rank = 4, .dim = {6, 2, 3, 3}},
	{.name = "db", .role = RT_SLOT_STATE, .dtype = RT_F32, .rank = 1, .dim = {6}},
};
static const rt_prog_buf bufs[] = {
	{0, 0, NX * 4}, {1, 0, NW * 4}, {2, 0, NB * 4}, {3, 0, NY * 4},
	{4, 0, NY * 4}, {5, 0, NX * 4}, {6, 0, NW * 4}, {7, 0, NB * 4},
};
static const int args[] = {0, 1, 2, 4, /* fwd */ 3, 1, 5, /* bwd data */ 0, 3, 6, 7};
static const rt_prog_kernel kernels[] = {
	{.kind = RT_K_CONV, .name = "conv_fwd", .nargs = 4, .args = args, .conv = CONV_DESC,
	 .conv_op = RT_CONV_FWD, .conv_bias = 1},
	{.kind = RT_K_CONV, .name = "conv_bwd_data", .nargs = 3, .args = args + 4, .conv = CONV_DESC,
	 .conv_op = RT_CONV_BWD_DATA},
	{.kind = RT_K_CONV, .name = "conv_bwd_weight", .nargs = 4, .args = args + 7,
	 .conv = CONV_DESC, .conv_op = RT_CONV_BWD_WEIGHT, .conv_bias = 1},
};
static const rt_prog_output outputs[] = {{"db0", 7, RT_F32}};

static rt_prog table(void)
{
	rt_prog p = {slots, 8, outputs, 1, bufs, 8, kernels, 3, NULL, 0, 0};
	return p;
}

static void fill(float *p, int n, unsigned seed)
{
	for (int i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
	}
}

static void run_table(int threads)
{
	rt_prog p = table();
	rt_err err = {{0}};
	rt_exec *x = rt_prog_exec_new(&p, threads, &err);
	if (!x)
		fail_msg("%s", err.msg);
	static float in_x[NX], in_w[NW], in_b[NB], in_dy[NY];
	static float y[NY], dx[NX], dw[NW], db[NB];
	fill(in_x, NX, 1);
	fill(in_w, NW, 2);
	fill(in_b, NB, 3);
	fill(in_dy, NY, 4);
	void *data[8] = {in_x, in_w, in_b, in_dy, y, dx, dw, db};
	double out[1];
	if (x->run(x, data, out, &err) != 0)
		fail_msg("%s", err.msg);

	/* the same operations through rt_conv directly */
	rt_conv_desc d = CONV_DESC;
	static float ry[NY], rdx[NX], rdw[NW], rdb[NB];
	rt_conv *c = rt_conv_new(threads, &err);
	assert_non_null(c);
	assert_int_equal(rt_conv_forward(c, &d, in_x, in_w, in_b, ry, &err), 0);
	assert_int_equal(rt_conv_backward_data(c, &d, in_dy, in_w, rdx, &err), 0);
	assert_int_equal(rt_conv_backward_weights(c, &d, in_x, in_dy, rdw, rdb, &err), 0);
	rt_conv_free(c);
	assert_memory_equal(y, ry, sizeof y);
	assert_memory_equal(dx, rdx, sizeof dx);
	assert_memory_equal(dw, rdw, sizeof dw);
	assert_memory_equal(db, rdb, sizeof db);
	assert_true(out[0] == (double)rdb[0]);
	/* a second run reuses the primitives and gives the same bits */
	memset(y, 0, sizeof y);
	assert_int_equal(x->run(x, data, out, &err), 0);
	assert_memory_equal(y, ry, sizeof y);
	x->free(x);
}

static void test_runs_as_rt_conv(void **state)
{
	(void)state;
	run_table(1);
	run_table(2);
}

static void expect_refused(const rt_prog_kernel *k, const char *needle)
{
	rt_prog p = table();
	p.kernels = k;
	p.nkernels = 1;
	rt_err err = {{0}};
	rt_exec *x = rt_prog_exec_new(&p, 1, &err);
	if (x)
		x->free(x);
	assert_null(x);
	if (!strstr(err.msg, needle))
		fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

static void test_malformed_refused(void **state)
{
	(void)state;
	rt_prog_kernel k = kernels[0];
	k.nargs = 3; /* the bias is missing */
	expect_refused(&k, "convolution kernel 0 has 3 buffers, expected 4");
	k = kernels[0];
	k.conv_op = 7;
	expect_refused(&k, "convolution kernel 0 has no operation");
	k = kernels[0];
	k.conv.oh = 5;
	expect_refused(&k, "the output is 4x4, not 5x4");
	k = kernels[2];
	k.conv.groups = 3;
	expect_refused(&k, "divisible by the groups");
}

/* the host device runs no kernels at all, convolutions included */
static void test_host_refuses(void **state)
{
	(void)state;
	rt_prog p = table();
	rt_err err = {{0}};
	rt_exec *x = rt_runner_new(&p, rt_dev_host(), &err);
	if (x)
		x->free(x);
	assert_null(x);
	assert_non_null(strstr(err.msg, "conv_fwd) is of a kind this device does not run"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_as_rt_conv),
		cmocka_unit_test(test_malformed_refused),
		cmocka_unit_test(test_host_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
