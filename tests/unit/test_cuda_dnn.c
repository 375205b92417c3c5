/*
 * test_cuda_dnn.c - convolutions through rt_cuda_dnn (cuDNN opened with
 * dlopen) against rt_conv (oneDNN, the CPU device's path), with the host
 * stand-in of cuDNN (tests/cudnn_standin) in place of libcudnn.so.9: all
 * three operations, with and without bias, on shapes with stride, padding,
 * dilation, groups (depthwise too), rectangular kernels and batches;
 * the deterministic algorithms chosen and their fallbacks; plans cached;
 * the workspace and the stream the caller gives; the messages of a missing
 * library, a library that is not cuDNN, bad descriptors, a short workspace
 * and a failed cuDNN call. When the toolkit's real libcudnn.so.9 is there,
 * it is loaded too: it must agree with every descriptor's output size, and
 * without a GPU cudnnCreate's failure is named.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_conv.h"
#include "rt_cuda_dnn.h"

#ifndef SAMC_CUDNN_STANDIN
#error "SAMC_CUDNN_STANDIN names the stand-in library (tests/cudnn_standin/tests.cmake)"
#endif
#ifndef SAMC_CUDNN_REAL
#define SAMC_CUDNN_REAL ""
#endif

/* (n, c, h, w, o, kh, kw, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups) */
static const int64_t shapes[][14] = {
	{2, 3, 7, 7, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1},
	{3, 4, 9, 8, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1},   /* stride 2, odd sizes */
	{2, 4, 10, 10, 8, 3, 3, 1, 1, 2, 2, 2, 2, 1}, /* dilation 2 */
	{2, 6, 8, 8, 9, 3, 3, 1, 1, 1, 1, 1, 1, 3},   /* groups 3 */
	{2, 8, 6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8},   /* depthwise */
	{2, 8, 9, 7, 16, 3, 3, 2, 1, 1, 0, 1, 1, 8},  /* depthwise, 2 per channel, mixed */
	{4, 16, 5, 5, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1},  /* 1x1 */
	{2, 5, 11, 9, 7, 5, 3, 2, 1, 0, 2, 1, 2, 1},  /* rectangular everything */
	{3, 4, 12, 10, 6, 3, 2, 3, 2, 2, 1, 2, 3, 2}, /* stride 3, dilation 3, groups 2 */
	{8, 16, 12, 12, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1},
};
#define NSHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static rt_conv_desc desc_of(const int64_t *s)
{
	rt_conv_desc d = {s[0], s[1], s[2],  s[3],  s[4],  s[5],  s[6], 0,
	                  0,    s[7], s[8], s[9], s[10], s[11], s[12], s[13]};
	d.oh = rt_conv_out_size(d.h, d.kh, d.stride_h, d.pad_h, d.dil_h);
	d.ow = rt_conv_out_size(d.w, d.kw, d.stride_w, d.pad_w, d.dil_w);
	return d;
}

static void fill(float *p, int64_t n, uint64_t seed)
{
	for (int64_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = (float)((double)(seed >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
	}
}

static void expect_in(const char *msg, const char *part)
{
	if (!strstr(msg, part))
		fail_msg("\"%s\" not in \"%s\"", part, msg);
}

/* the stand-in's test hooks, from the library rt_cuda_dnn opened */
typedef struct {
	void *lib;
	void (*refuse)(int op, int algo);
	int (*live)(void);
	void *(*stream)(rt_cudnn_handle h);
} standin;

static standin standin_open(void)
{
	standin s;
	s.lib = dlopen(SAMC_CUDNN_STANDIN, RTLD_NOW | RTLD_LOCAL);
	if (!s.lib)
		fail_msg("%s", dlerror());
	*(void **)&s.refuse = dlsym(s.lib, "cudnn_standin_refuse");
	*(void **)&s.live = dlsym(s.lib, "cudnn_standin_live");
	*(void **)&s.stream = dlsym(s.lib, "cudnn_standin_stream");
	assert_non_null(s.refuse);
	assert_non_null(s.live);
	assert_non_null(s.stream);
	s.refuse(0, -1), s.refuse(1, -1), s.refuse(2, -1);
	return s;
}

static void dnn_open(rt_cuda_dnn *d)
{
	rt_err err = {{0}};
	if (rt_cuda_dnn_open(d, SAMC_CUDNN_STANDIN, &err) != 0)
		fail_msg("%s", err.msg);
}

static rt_cu_deviceptr dp(const void *p)
{
	return (rt_cu_deviceptr)(uintptr_t)p;
}

/* |terms| summed per output element of each operation: the scale of the
 * f32 rounding both sides make (rt_conv sums in f32; the stand-in in
 * double, rounded once) */
static void magnitudes(const rt_conv_desc *d, const float *x, const float *w, const float *dy,
                       double *my, double *mdx, double *mdw)
{
	int64_t cg = d->c / d->groups, og = d->o / d->groups;
	for (int64_t n = 0; n < d->n; n++)
		for (int64_t o = 0; o < d->o; o++)
			for (int64_t oy = 0; oy < d->oh; oy++)
				for (int64_t ox = 0; ox < d->ow; ox++)
					for (int64_t ci = 0; ci < cg; ci++)
						for (int64_t ky = 0; ky < d->kh; ky++)
							for (int64_t kx = 0; kx < d->kw; kx++) {
								int64_t iy = oy * d->stride_h - d->pad_h + ky * d->dil_h;
								int64_t ix = ox * d->stride_w - d->pad_w + kx * d->dil_w;
								if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w)
									continue;
								int64_t xi = ((n * d->c + o / og * cg + ci) * d->h + iy) * d->w + ix;
								int64_t wi = ((o * cg + ci) * d->kh + ky) * d->kw + kx;
								int64_t yi = ((n * d->o + o) * d->oh + oy) * d->ow + ox;
								my[yi] += fabs((double)x[xi] * w[wi]);
								mdx[xi] += fabs((double)dy[yi] * w[wi]);
								mdw[wi] += fabs((double)dy[yi] * x[xi]);
							}
}

/* got within f32 rounding of the CPU's: |got - cpu| <= 1e-5 times the sum
 * of the terms' magnitudes (f32 sums of a few thousand terms stay well
 * inside it; a wrong index or a missed term does not) */
static void expect_close(const char *what, int si, const float *got, const float *cpu,
                         const double *mag, int64_t len)
{
	for (int64_t i = 0; i < len; i++)
		if (!(fabs((double)got[i] - cpu[i]) <= 1e-5 * mag[i] + 1e-6))
			fail_msg("shape %d: %s[%lld] = %.9g, CPU %.9g", si, what, (long long)i,
			         (double)got[i], (double)cpu[i]);
}

/* runs op of shape si through d with a workspace of exactly the plan's
 * size (NULL when 0), its outputs first set to NaN: beta is 0, so cuDNN
 * must not read them, and every element must be written */
static void run(rt_cuda_dnn *d, const rt_conv_desc *c, rt_conv_op op, int bias,
                const rt_cu_deviceptr *args, rt_cu_stream stream)
{
	rt_err err = {{0}};
	const rt_cuda_dnn_plan *p;
	size_t ws = 0;
	if (rt_cuda_dnn_plan_get(d, c, op, bias, &p, &ws, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(ws, rt_cuda_dnn_plan_workspace(p));
	void *w = ws ? malloc(ws) : NULL;
	if (rt_cuda_dnn_run(d, p, args, dp(w), ws, stream, &err) != 0)
		fail_msg("%s", err.msg);
	free(w);
}

static void check_shape(rt_conv *cpu, rt_cuda_dnn *d, int si, rt_cu_stream stream)
{
	rt_conv_desc c = desc_of(shapes[si]);
	int64_t nx = c.n * c.c * c.h * c.w, nw = c.o * (c.c / c.groups) * c.kh * c.kw;
	int64_t ny = c.n * c.o * c.oh * c.ow;
	float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(c.o * 4), *dy = malloc(ny * 4);
	float *y = malloc(ny * 4), *dx = malloc(nx * 4), *dw = malloc(nw * 4), *db = malloc(c.o * 4);
	float *cy = malloc(ny * 4), *cyb = malloc(ny * 4), *cdx = malloc(nx * 4);
	float *cdw = malloc(nw * 4), *cdb = malloc(c.o * 4);
	double *my = calloc(ny, 8), *mdx = calloc(nx, 8), *mdw = calloc(nw, 8), *mdb = calloc(c.o, 8);
	assert_non_null(mdb);
	fill(x, nx, 1 + si);
	fill(w, nw, 2 + si);
	fill(b, c.o, 3 + si);
	fill(dy, ny, 4 + si);
	magnitudes(&c, x, w, dy, my, mdx, mdw);
	for (int64_t i = 0; i < ny; i++)
		mdb[i / (c.oh * c.ow) % c.o] += fabs(dy[i]);
	rt_err err = {{0}};
	if (rt_conv_forward(cpu, &c, x, w, NULL, cy, &err) != 0 ||
	    rt_conv_forward(cpu, &c, x, w, b, cyb, &err) != 0 ||
	    rt_conv_backward_data(cpu, &c, dy, w, cdx, &err) != 0 ||
	    rt_conv_backward_weights(cpu, &c, x, dy, cdw, cdb, &err) != 0)
		fail_msg("%s", err.msg);

	memset(y, 0xff, ny * 4);
	run(d, &c, RT_CONV_FWD, 0, (rt_cu_deviceptr[]){dp(x), dp(w), dp(y)}, stream);
	expect_close("y", si, y, cy, my, ny);
	for (int64_t i = 0; i < ny; i++)
		my[i] += fabs(b[i / (c.oh * c.ow) % c.o]);
	memset(y, 0xff, ny * 4);
	run(d, &c, RT_CONV_FWD, 1, (rt_cu_deviceptr[]){dp(x), dp(w), dp(b), dp(y)}, stream);
	expect_close("y+b", si, y, cyb, my, ny);
	memset(dx, 0xff, nx * 4);
	run(d, &c, RT_CONV_BWD_DATA, 0, (rt_cu_deviceptr[]){dp(dy), dp(w), dp(dx)}, stream);
	expect_close("dx", si, dx, cdx, mdx, nx);
	memset(dw, 0xff, nw * 4);
	run(d, &c, RT_CONV_BWD_WEIGHT, 0, (rt_cu_deviceptr[]){dp(x), dp(dy), dp(dw)}, stream);
	expect_close("dw", si, dw, cdw, mdw, nw);
	memset(dw, 0xff, nw * 4);
	memset(db, 0xff, c.o * 4);
	run(d, &c, RT_CONV_BWD_WEIGHT, 1, (rt_cu_deviceptr[]){dp(x), dp(dy), dp(dw), dp(db)}, stream);
	expect_close("dw (with db)", si, dw, cdw, mdw, nw);
	expect_close("db", si, db, cdb, mdb, c.o);
	free(x), free(w), free(b), free(dy), free(y), free(dx), free(dw), free(db);
	free(cy), free(cyb), free(cdx), free(cdw), free(cdb);
	free(my), free(mdx), free(mdw), free(mdb);
}

/* every shape, every operation, twice: the plans are made once */
static void test_against_cpu(void **state)
{
	(void)state;
	standin s = standin_open();
	rt_err err = {{0}};
	rt_conv *cpu = rt_conv_new(1, &err);
	if (!cpu)
		fail_msg("%s", err.msg);
	rt_cuda_dnn d;
	dnn_open(&d);
	assert_int_equal(d.version, 91900);
	rt_cu_stream stream = (rt_cu_stream)(uintptr_t)0x5a5a0;
	for (int si = 0; si < NSHAPES; si++)
		check_shape(cpu, &d, si, stream);
	/* five plans a shape: forward with and without bias, backward data,
	 * backward weights with and without the bias gradient */
	assert_int_equal(d.nplans, 5 * NSHAPES);
	int live = s.live();
	for (int si = 0; si < NSHAPES; si++)
		check_shape(cpu, &d, si, stream);
	assert_int_equal(d.nplans, 5 * NSHAPES);
	assert_int_equal(s.live(), live);
	assert_ptr_equal(s.stream(d.handle), (void *)stream);
	rt_cuda_dnn_close(&d);
	assert_int_equal(s.live(), 0);
	rt_conv_free(cpu);
	dlclose(s.lib);
}

static int algo_of(rt_cuda_dnn *d, int si, rt_conv_op op, size_t *ws)
{
	rt_conv_desc c = desc_of(shapes[si]);
	const rt_cuda_dnn_plan *p;
	rt_err err = {{0}};
	if (rt_cuda_dnn_plan_get(d, &c, op, 0, &p, ws, &err) != 0)
		fail_msg("%s", err.msg);
	return rt_cuda_dnn_plan_algo(p);
}

/* ALGO_1 for both backward operations; the forward heuristic's first
 * deterministic FMA entry (the stand-in ranks a tensor-op one first);
 * with ALGO_1 unsupported, the heuristic's first deterministic one */
static void test_algorithms(void **state)
{
	(void)state;
	standin s = standin_open();
	rt_cuda_dnn d;
	size_t ws;
	dnn_open(&d);
	assert_int_equal(algo_of(&d, 0, RT_CONV_FWD, &ws), 1); /* IMPLICIT_PRECOMP_GEMM */
	assert_true(ws > 0);
	assert_int_equal(algo_of(&d, 0, RT_CONV_BWD_DATA, &ws), RT_CUDNN_BWD_DATA_ALGO_1);
	assert_int_equal(algo_of(&d, 0, RT_CONV_BWD_WEIGHT, &ws), RT_CUDNN_BWD_FILTER_ALGO_1);
	s.refuse(0, 1);
	s.refuse(1, 1);
	s.refuse(2, 1);
	assert_int_equal(algo_of(&d, 1, RT_CONV_FWD, &ws), 0); /* IMPLICIT_GEMM */
	assert_int_equal(ws, 0);
	assert_int_equal(algo_of(&d, 1, RT_CONV_BWD_DATA, &ws), 3);   /* FFT_TILING, not ALGO_0 */
	assert_int_equal(algo_of(&d, 1, RT_CONV_BWD_WEIGHT, &ws), 6); /* not ALGO_0 or ALGO_3 */
	/* no deterministic algorithm left */
	s.refuse(1, 3);
	rt_conv_desc c = desc_of(shapes[2]);
	const rt_cuda_dnn_plan *p;
	rt_err err = {{0}};
	int live = s.live();
	assert_int_equal(rt_cuda_dnn_plan_get(&d, &c, RT_CONV_BWD_DATA, 0, &p, &ws, &err), -1);
	expect_in(err.msg, "conv2d x [2,4,10,10] w [8,4,3,3] stride 1x1 padding 2x2 dilation 2x2");
	expect_in(err.msg, "(backward data): cuDNN has no deterministic FMA algorithm");
	expect_in(err.msg, "cudnnGetConvolutionBackwardDataWorkspaceSize failed: "
	                   "CUDNN_STATUS_NOT_SUPPORTED_SHAPE (error 3002)");
	assert_int_equal(s.live(), live); /* its descriptors were freed */
	rt_cuda_dnn_close(&d);
	assert_int_equal(s.live(), 0);
	s.refuse(0, -1), s.refuse(1, -1), s.refuse(2, -1);
	dlclose(s.lib);
}

/* a workspace smaller than the plan's is refused before cuDNN runs */
static void test_workspace(void **state)
{
	(void)state;
	rt_cuda_dnn d;
	dnn_open(&d);
	rt_conv_desc c = desc_of(shapes[0]);
	const rt_cuda_dnn_plan *p;
	size_t ws;
	rt_err err = {{0}};
	assert_int_equal(rt_cuda_dnn_plan_get(&d, &c, RT_CONV_FWD, 0, &p, &ws, &err), 0);
	assert_true(ws > 0);
	float buf[256];
	char *space = malloc(ws);
	rt_cu_deviceptr a[] = {dp(buf), dp(buf), dp(buf)};
	assert_int_equal(rt_cuda_dnn_run(&d, p, a, dp(space), ws - 1, NULL, &err), -1);
	expect_in(err.msg, "(forward): a workspace of");
	expect_in(err.msg, "the plan needs");
	assert_int_equal(rt_cuda_dnn_run(&d, p, a, 0, ws, NULL, &err), -1);
	expect_in(err.msg, "a workspace of 0 bytes is given");
	free(space);
	rt_cuda_dnn_close(&d);
}

static void test_missing_library(void **state)
{
	(void)state;
	rt_cuda_dnn d;
	rt_err err = {{0}};
	assert_int_equal(rt_cuda_dnn_open(&d, "/nonexistent/libcudnn.so.9", &err), -1);
	expect_in(err.msg, "cannot load /nonexistent/libcudnn.so.9 (cuDNN 9, for convolutions on "
	                   "the GPU)");
	expect_in(err.msg, "install cuDNN 9 for CUDA 13");
	expect_in(err.msg, "SAMC_CUDA_DNN");
	assert_null(d.lib);
	assert_int_equal(rt_cuda_dnn_open(&d, "libm.so.6", &err), -1);
	expect_in(err.msg, "libm.so.6 has no cudnnGetVersion: it is not cuDNN 9");
	assert_null(d.lib);
}

static void expect_bad(rt_cuda_dnn *d, rt_conv_desc c, const char *words)
{
	const rt_cuda_dnn_plan *p;
	size_t ws;
	rt_err err = {{0}};
	assert_int_equal(rt_cuda_dnn_plan_get(d, &c, RT_CONV_FWD, 1, &p, &ws, &err), -1);
	expect_in(err.msg, "conv2d x [");
	expect_in(err.msg, words);
}

/* descriptors rt_conv refuses, and one too large for cuDNN's ints, make no
 * plan and leave no cuDNN descriptor behind; a cuDNN call's failure is
 * named with its status */
static void test_bad_descriptors(void **state)
{
	(void)state;
	standin s = standin_open();
	rt_cuda_dnn d;
	dnn_open(&d);
	int live = s.live();
	rt_conv_desc c = desc_of(shapes[3]);
	c.groups = 4;
	expect_bad(&d, c, "divisible by the groups");
	c = desc_of(shapes[0]);
	c.oh = 6;
	expect_bad(&d, c, "the output is 7x7, not 6x7");
	c = desc_of(shapes[0]);
	c.stride_w = 0;
	expect_bad(&d, c, "must be positive");
	c = desc_of(shapes[0]);
	c.n = (int64_t)1 << 32;
	expect_bad(&d, c, "more than cuDNN takes");
	assert_int_equal(d.nplans, 0);
	assert_int_equal(s.live(), live);
	rt_err err = {{0}};
	assert_int_equal(rt_cuda_dnn_status_error(&d, "cudnnConvolutionForward", 2000, &err), -1);
	assert_string_equal(err.msg, "cuda: cuDNN: cudnnConvolutionForward failed: "
	                             "CUDNN_STATUS_BAD_PARAM (error 2000)");
	rt_cuda_dnn_close(&d);
	dlclose(s.lib);
}

/* the toolkit's cuDNN 9 agrees with every descriptor's output size (no GPU
 * is needed for descriptors); without a GPU, cudnnCreate's failure is
 * named. Not under AddressSanitizer: LeakSanitizer cannot follow what
 * cuDNN keeps for the process. */
static void test_real_cudnn(void **state)
{
	(void)state;
#if defined(__SANITIZE_ADDRESS__)
	skip();
#endif
	if (!SAMC_CUDNN_REAL[0] || access(SAMC_CUDNN_REAL, R_OK) != 0) {
		print_message("no cuDNN in the CUDA toolkit: not checked\n");
		return;
	}
	rt_cuda_dnn d;
	rt_err err = {{0}};
	if (rt_cuda_dnn_load(&d, SAMC_CUDNN_REAL, &err) != 0)
		fail_msg("%s", err.msg);
	assert_true(d.version >= RT_CUDA_DNN_MIN_VERSION);
	for (int si = 0; si < NSHAPES; si++) { /* f32 and bf16 descriptors */
		rt_conv_desc c = desc_of(shapes[si]);
		if (rt_cuda_dnn_check_desc(&d, &c, &err) != 0)
			fail_msg("shape %d: %s", si, err.msg);
	}
	rt_cuda_dnn_close(&d);
	if (rt_cuda_dnn_open(&d, SAMC_CUDNN_REAL, &err) == 0) {
		print_message("cuDNN %zu has a GPU here\n", d.version);
		rt_cuda_dnn_close(&d);
		return;
	}
	expect_in(err.msg, "cuda: cuDNN: cudnnCreate failed: CUDNN_STATUS_");
	expect_in(err.msg, "cuDNN needs a GPU");
	assert_null(d.lib);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_cpu),     cmocka_unit_test(test_algorithms),
		cmocka_unit_test(test_workspace),       cmocka_unit_test(test_missing_library),
		cmocka_unit_test(test_bad_descriptors), cmocka_unit_test(test_real_cudnn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
