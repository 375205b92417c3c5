/*
 * test_dev_cuda_conv.c - convolution kernels (RT_K_CONV) on the CUDA
 * device through the host stand-ins for the driver (tests/cuda_standin)
 * and cuDNN (tests/cudnn_standin): a step table's forward with bias, input
 * gradient and weight and bias gradients of a grouped, strided convolution
 * run by the step runner agree with rt_conv (oneDNN) within float32
 * rounding; each run is one cuDNN call per kernel, the plans made once
 * when the runner plans; without cuDNN the table is refused with a message
 * naming the library and SAMC_CUDA_DNN, while a table without
 * convolutions never opens it. Exit 77 when a stand-in was not built.
 */
#include <dlfcn.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt_conv.h"
#include "rt_dev_cuda.h"
#include "rt_prog.h"
#include "rt_runner.h"

#ifndef SAMC_CUDA_STANDIN
#define SAMC_CUDA_STANDIN ""
#endif
#ifndef SAMC_CUDNN_STANDIN
#define SAMC_CUDNN_STANDIN ""
#endif

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

static rt_device *dev_new(const char *dnn)
{
	rt_err err = {{0}};
	rt_dev_cuda_opts o = {SAMC_CUDA_STANDIN, SAMC_CUDA_STANDIN, dnn, 0};
	rt_device *d = rt_dev_cuda_new(&o, &err);
	if (!d)
		fail_msg("%s", err.msg);
	return d;
}

/* the stand-in's count of runs per operation, from the library the device
 * opened (dlopen of the same path is the same library) */
static void runs(long out[3])
{
	void *lib = dlopen(SAMC_CUDNN_STANDIN, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		fail_msg("%s", dlerror());
	void (*f)(long *);
	*(void **)&f = dlsym(lib, "cudnn_standin_runs");
	assert_non_null(f);
	f(out);
	dlclose(lib);
}

static void expect_close(const float *got, const float *want, int n, const char *what)
{
	for (int i = 0; i < n; i++)
		if (fabsf(got[i] - want[i]) > 1e-5f * (1.0f + fabsf(want[i])))
			fail_msg("%s[%d]: %.8g, rt_conv %.8g", what, i, (double)got[i], (double)want[i]);
}

static void test_table_through_cudnn(void **state)
{
	(void)state;
	rt_device *dev = dev_new(SAMC_CUDNN_STANDIN);
	assert_true(dev->supports(dev, RT_K_CONV));
	assert_non_null(dev->conv);
	rt_prog p = table();
	rt_err err = {{0}};
	long before[3], after[3];
	rt_exec *x = rt_runner_new(&p, dev, &err);
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
	runs(before);
	if (x->run(x, data, out, &err) != 0)
		fail_msg("%s", err.msg);
	runs(after);
	for (int op = 0; op < 3; op++)
		assert_int_equal(after[op] - before[op], 1); /* one cuDNN call per kernel */

	rt_conv_desc d = CONV_DESC;
	static float ry[NY], rdx[NX], rdw[NW], rdb[NB];
	rt_conv *c = rt_conv_new(1, &err);
	assert_non_null(c);
	assert_int_equal(rt_conv_forward(c, &d, in_x, in_w, in_b, ry, &err), 0);
	assert_int_equal(rt_conv_backward_data(c, &d, in_dy, in_w, rdx, &err), 0);
	assert_int_equal(rt_conv_backward_weights(c, &d, in_x, in_dy, rdw, rdb, &err), 0);
	rt_conv_free(c);
	expect_close(y, ry, NY, "y");
	expect_close(dx, rdx, NX, "dx");
	expect_close(dw, rdw, NW, "dw");
	expect_close(db, rdb, NB, "db");
	assert_true(fabs(out[0] - (double)rdb[0]) <= 1e-5 * (1 + fabs((double)rdb[0])));
	/* a second run: the same bits, three more calls */
	static float y2[NY];
	memcpy(y2, y, sizeof y);
	memset(y, 0, sizeof y);
	assert_int_equal(x->run(x, data, out, &err), 0);
	assert_memory_equal(y, y2, sizeof y);
	runs(before);
	for (int op = 0; op < 3; op++)
		assert_int_equal(before[op] - after[op], 1);
	x->free(x);
}

static void test_missing_cudnn(void **state)
{
	(void)state;
	rt_err err = {{0}};
	rt_prog p = table();
	rt_device *dev = dev_new("/nonexistent/libcudnn.so.9");
	rt_exec *x = rt_runner_new(&p, dev, &err);
	if (x)
		x->free(x);
	assert_null(x);
	if (!strstr(err.msg, "/nonexistent/libcudnn.so.9") || !strstr(err.msg, "SAMC_CUDA_DNN") ||
	    !strstr(err.msg, "cuDNN 9"))
		fail_msg("message '%s' names neither the library nor SAMC_CUDA_DNN", err.msg);
	/* a table without convolutions never opens cuDNN */
	p.kernels = NULL;
	p.nkernels = 0;
	dev = dev_new("/nonexistent/libcudnn.so.9");
	x = rt_runner_new(&p, dev, &err);
	if (!x)
		fail_msg("%s", err.msg);
	x->free(x);
}

int main(void)
{
	if (!SAMC_CUDA_STANDIN[0] || access(SAMC_CUDA_STANDIN, R_OK) != 0 ||
	    !SAMC_CUDNN_STANDIN[0] || access(SAMC_CUDNN_STANDIN, R_OK) != 0) {
		fprintf(stderr, "test_dev_cuda_conv: no host stand-in for the driver or cuDNN: skipped\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_through_cudnn),
		cmocka_unit_test(test_missing_cudnn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
