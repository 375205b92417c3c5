/*
 * test_dev_cuda_bf16.c - the CUDA device's GEMMs and convolutions of bf16
 * operands (rt_prog_kernel.bf16) through the host stand-ins for the
 * driver and cuBLAS (tests/cuda_standin) and cuDNN (tests/cudnn_standin),
 * the module's conversion kernels being the renderer's prelude, compiled
 * for the host by the stand-in:
 *   - a flagged GEMM, every transpose, one and three at a time, is one
 *     cublasGemmEx / cublasGemmStridedBatchedEx call (the f32 entry points
 *     not called) and equals the product exactly on bf16 values;
 *   - the conversion to bf16 storage rounds as round_bf16 (ties to even,
 *     overflow to infinity, NaN kept), seen through C = A x [1];
 *   - a step table's flagged forward with bias, input gradient and weight
 *     and bias gradients are cuDNN bf16 runs (one per kernel, each
 *     operation) within bf16 rounding of rt_conv on the same values, the
 *     input and weight gradients bf16 values, the bias gradient f32; the
 *     device memory they use was allocated when the runner planned them;
 *   - where cuDNN refuses bf16 tensors the table runs as f32 convolutions
 *     of the same values (rt_conv's results), or, with
 *     SAMC_CUDA_BF16_STRICT=1, is refused with cuDNN's status;
 *   - a module without the conversion kernels (an older samc's) is
 *     refused with a message that says to compile the model again.
 * Exit 77 when a stand-in was not built.
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

#include "../cuda_standin/standin.h"
#include "cuda/cg_cuda.h"
#include "ir.h"
#include "rt_conv.h"
#include "rt_dev_cuda.h"
#include "rt_prog.h"
#include "rt_runner.h"
#include "test_tmpdir.h"

#ifndef SAMC_CUDA_STANDIN
#define SAMC_CUDA_STANDIN ""
#endif
#ifndef SAMC_CUDNN_STANDIN
#define SAMC_CUDNN_STANDIN ""
#endif

static char cache[4096];
/* what the device loads; the stand-in finds the module's source by it */
static const char prelude_ptx[] = "// test_dev_cuda_bf16: the prelude module\n";
static const char old_ptx[] = "// test_dev_cuda_bf16: a module without conversions\n";

static void write_file(const char *name, const char *text)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/%s", cache, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static rt_device *dev_new(const char *dnn, const char *image)
{
	rt_err err = {{0}};
	rt_dev_cuda_opts o = {SAMC_CUDA_STANDIN, SAMC_CUDA_STANDIN, dnn, 0};
	rt_device *d = rt_dev_cuda_new(&o, &err);
	if (!d || rt_dev_cuda_load(d, image, &err))
		fail_msg("%s", err.msg);
	return d;
}

static standin_counts counted(void)
{
	void *lib = dlopen(SAMC_CUDA_STANDIN, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		fail_msg("%s", dlerror());
	void (*f)(standin_counts *);
	*(void **)&f = dlsym(lib, "samc_standin_counts");
	assert_non_null(f);
	standin_counts n;
	f(&n);
	dlclose(lib);
	return n;
}

static void dnn_runs(const char *sym, long out[3])
{
	void *lib = dlopen(SAMC_CUDNN_STANDIN, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		fail_msg("%s", dlerror());
	void (*f)(long *);
	*(void **)&f = dlsym(lib, sym);
	assert_non_null(f);
	f(out);
	dlclose(lib);
}

static float bf16(float x)
{
	return (float)ir_round_bf16(x);
}

/* C[m,n] = op(A) op(B), row-major, per batch, in double */
static void ref_gemm(int ta, int tb, int m, int n, int k, int batch, const float *A,
                     const float *Bm, double *C)
{
	for (int b = 0; b < batch; b++)
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++) {
				double s = 0;
				for (int p = 0; p < k; p++)
					s += (double)A[b * m * k + (ta ? p * m + i : i * k + p)] *
					     Bm[b * k * n + (tb ? j * k + p : p * n + j)];
				C[b * m * n + i * n + j] = s;
			}
}

static void *dev_copy(rt_device *d, const void *h, size_t bytes)
{
	rt_err err = {{0}};
	void *p;
	assert_int_equal(d->alloc(d, bytes, &p, &err), 0);
	assert_int_equal(d->upload(d, p, h, bytes, &err), 0);
	return p;
}

static void gemm_case(rt_device *d, int ta, int tb, int batch)
{
	enum { M = 5, N = 3, K = 4, MAXB = 3 };
	/* small integers and eighths: bf16 values, their products' sums exact */
	float A[MAXB * M * K], Bm[MAXB * K * N], C[MAXB * M * N];
	double want[MAXB * M * N];
	for (int i = 0; i < MAXB * M * K; i++)
		A[i] = (float)((i * 7) % 11) - 5.0f;
	for (int i = 0; i < MAXB * K * N; i++)
		Bm[i] = (float)((i * 5) % 13) * 0.125f - 1.0f;
	ref_gemm(ta, tb, M, N, K, batch, A, Bm, want);
	void *a[3] = {dev_copy(d, A, sizeof A), dev_copy(d, Bm, sizeof Bm), dev_copy(d, C, sizeof C)};
	rt_prog_kernel k = {.kind = RT_K_GEMM, .name = "gemm", .nargs = 3, .ta = ta, .tb = tb,
	                    .m = M, .n = N, .k = K, .batch = batch, .bf16 = 1};
	rt_err err = {{0}};
	standin_counts before = counted();
	if (d->gemm(d, &k, a, &err))
		fail_msg("%s", err.msg);
	standin_counts after = counted();
	assert_int_equal(after.gemm_bf16 - before.gemm_bf16, 1);
	assert_int_equal(after.gemm - before.gemm, 0);
	assert_int_equal(after.launch - before.launch, 1); /* A and B converted in one launch */
	assert_int_equal(d->download(d, C, a[2], sizeof C, &err), 0);
	for (int i = 0; i < batch * M * N; i++)
		if ((double)C[i] != want[i])
			fail_msg("bf16 gemm ta %d tb %d batch %d: C[%d] = %g, expected %g", ta, tb, batch, i,
			         (double)C[i], want[i]);
	for (int j = 0; j < 3; j++)
		d->free(d, a[j]);
}

static void test_gemm(void **state)
{
	(void)state;
	rt_device *d = dev_new(NULL, prelude_ptx);
	for (int ta = 0; ta < 2; ta++)
		for (int tb = 0; tb < 2; tb++) {
			gemm_case(d, ta, tb, 1);
			gemm_case(d, ta, tb, 3);
		}
	d->release(d);
}

/* C = A x [1]: C holds A converted to bf16 storage and back */
static void test_pack_rounds(void **state)
{
	(void)state;
	uint32_t bits[] = {
		0x3f800000u, /* 1: exact */
		0x3f808000u, /* 1 + 2^-8: a tie, to even (down) */
		0x3f818000u, /* a tie, to even (up) */
		0x3f80c000u, /* above the tie: up */
		0xbf804000u, /* below the tie, negative: down */
		0x7f7fffffu, /* the largest float: to infinity */
		0xff800000u, /* -infinity */
		0x00000001u, /* the smallest subnormal: to 0 */
		0x7fc00001u, /* a quiet NaN */
		0x7f800001u, /* a signalling NaN whose payload is in the low bits */
		0x3eaaaaabu, /* 1/3 */
	};
	enum { M = sizeof bits / sizeof bits[0] };
	float A[M], one = 1.0f, C[M];
	memcpy(A, bits, sizeof A);
	rt_device *d = dev_new(NULL, prelude_ptx);
	void *a[3] = {dev_copy(d, A, sizeof A), dev_copy(d, &one, sizeof one),
	              dev_copy(d, C, sizeof C)};
	rt_prog_kernel k = {.kind = RT_K_GEMM, .name = "gemm", .nargs = 3, .m = M, .n = 1, .k = 1,
	                    .bf16 = 1};
	rt_err err = {{0}};
	if (d->gemm(d, &k, a, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(d->download(d, C, a[2], sizeof C, &err), 0);
	for (int i = 0; i < M; i++) {
		float want = bf16(A[i]);
		if (want != want) {
			if (C[i] == C[i])
				fail_msg("A[%d] (NaN 0x%08x) became %g", i, bits[i], (double)C[i]);
			continue;
		}
		uint32_t got, exp;
		memcpy(&got, &C[i], 4);
		memcpy(&exp, &want, 4);
		if (got != exp)
			fail_msg("A[%d] = 0x%08x: bf16 storage gives 0x%08x, round_bf16 0x%08x", i, bits[i],
			         got, exp);
	}
	for (int j = 0; j < 3; j++)
		d->free(d, a[j]);
	d->release(d);
}

/* x [2,4,7,7], w [6,2,3,3] (groups 2), stride 2, padding 1: y [2,6,4,4] */
#define CONV_DESC {2, 4, 7, 7, 6, 3, 3, 4, 4, 2, 2, 1, 1, 1, 1, 2}
enum { NX = 2 * 4 * 7 * 7, NW = 6 * 2 * 3 * 3, NB = 6, NY = 2 * 6 * 4 * 4 };

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
	 .conv_op = RT_CONV_FWD, .conv_bias = 1, .bf16 = 1},
	{.kind = RT_K_CONV, .name = "conv_bwd_data", .nargs = 3, .args = args + 4, .conv = CONV_DESC,
	 .conv_op = RT_CONV_BWD_DATA, .bf16 = 1},
	{.kind = RT_K_CONV, .name = "conv_bwd_weight", .nargs = 4, .args = args + 7,
	 .conv = CONV_DESC, .conv_op = RT_CONV_BWD_WEIGHT, .conv_bias = 1, .bf16 = 1},
};
static const rt_prog_output outputs[] = {{"db0", 7, RT_F32}};

static void fill_bf16(float *p, int n, unsigned seed)
{
	for (int i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = bf16((float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f);
	}
}

/* got is want's sum rounded to bf16 (within one bf16 step either way:
 * cuDNN's f32 sum is in its own order) plus, for y, the f32 bias after it
 * (bias: per element, or NULL; the rounding is the sum's, not y's) */
static void expect_bf16_close(const float *got, const float *want, const float *bias, int n,
                              const char *what)
{
	for (int i = 0; i < n; i++)
		if (fabsf(got[i] - want[i]) > 0x1p-8f * fabsf(want[i] - (bias ? bias[i] : 0)) + 1e-6f)
			fail_msg("%s[%d]: %.8g, rt_conv %.8g: not within bf16 rounding", what, i,
			         (double)got[i], (double)want[i]);
}

static int is_bf16(float x)
{
	uint32_t u;
	memcpy(&u, &x, 4);
	return (u & 0xffffu) == 0;
}

static void test_conv_table(void **state)
{
	(void)state;
	rt_device *dev = dev_new(SAMC_CUDNN_STANDIN, prelude_ptx);
	rt_prog p = {slots, 8, outputs, 1, bufs, 8, kernels, 3, NULL, 0, 0};
	rt_err err = {{0}};
	rt_exec *x = rt_runner_new(&p, dev, &err);
	if (!x)
		fail_msg("%s", err.msg);
	static float in_x[NX], in_w[NW], in_b[NB], in_dy[NY];
	static float y[NY], dx[NX], dw[NW], db[NB];
	fill_bf16(in_x, NX, 1);
	fill_bf16(in_w, NW, 2);
	fill_bf16(in_b, NB, 3);
	fill_bf16(in_dy, NY, 4);
	void *data[8] = {in_x, in_w, in_b, in_dy, y, dx, dw, db};
	double out[1];
	long before[3], after[3];
	standin_counts planned = counted();
	dnn_runs("cudnn_standin_runs_bf16", before);
	if (x->run(x, data, out, &err) != 0)
		fail_msg("%s", err.msg);
	dnn_runs("cudnn_standin_runs_bf16", after);
	/* the bf16 scratch and the workspace were sized when the runner
	 * planned the schedule: its runs allocate nothing */
	assert_int_equal(counted().mem_alloc - planned.mem_alloc, 0);
	for (int op = 0; op < 3; op++)
		assert_int_equal(after[op] - before[op], 1); /* one bf16 cuDNN call per kernel */

	rt_conv_desc d = CONV_DESC;
	static float ry[NY], rdx[NX], rdw[NW], rdb[NB];
	rt_conv *c = rt_conv_new(1, &err);
	assert_non_null(c);
	assert_int_equal(rt_conv_forward(c, &d, in_x, in_w, in_b, ry, &err), 0);
	assert_int_equal(rt_conv_backward_data(c, &d, in_dy, in_w, rdx, &err), 0);
	assert_int_equal(rt_conv_backward_weights(c, &d, in_x, in_dy, rdw, rdb, &err), 0);
	rt_conv_free(c);
	static float by[NY];
	for (int i = 0; i < NY; i++)
		by[i] = in_b[i / 16 % 6]; /* y [2,6,4,4] */
	expect_bf16_close(y, ry, by, NY, "y");
	expect_bf16_close(dx, rdx, NULL, NX, "dx");
	expect_bf16_close(dw, rdw, NULL, NW, "dw");
	for (int i = 0; i < NX; i++)
		if (!is_bf16(dx[i]))
			fail_msg("dx[%d] = %.9g is not a bf16 value: not cuDNN's bf16 result", i,
			         (double)dx[i]);
	for (int i = 0; i < NW; i++)
		assert_true(is_bf16(dw[i]));
	for (int i = 0; i < NB; i++) /* the bias gradient: an f32 sum of the f32 dy */
		assert_true(fabsf(db[i] - rdb[i]) <= 1e-5f * (1 + fabsf(rdb[i])));
	/* a second run: the same bits */
	static float y2[NY];
	memcpy(y2, y, sizeof y);
	memset(y, 0, sizeof y);
	assert_int_equal(x->run(x, data, out, &err), 0);
	assert_memory_equal(y, y2, sizeof y);
	x->free(x);
}

/* the stand-in kept loaded (the setting is its memory's) */
static void refuse_bf16(int on)
{
	void *lib = dlopen(SAMC_CUDNN_STANDIN, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!lib)
		fail_msg("%s", dlerror());
	void (*f)(int);
	*(void **)&f = dlsym(lib, "cudnn_standin_refuse_bf16");
	assert_non_null(f);
	f(on);
	dlclose(lib);
}

static void test_conv_fallback(void **state)
{
	(void)state;
	refuse_bf16(1);
	rt_device *dev = dev_new(SAMC_CUDNN_STANDIN, prelude_ptx);
	rt_prog p = {slots, 8, outputs, 1, bufs, 8, kernels, 3, NULL, 0, 0};
	rt_err err = {{0}};
	rt_exec *x = rt_runner_new(&p, dev, &err);
	if (!x)
		fail_msg("%s", err.msg);
	static float in_x[NX], in_w[NW], in_b[NB], in_dy[NY];
	static float y[NY], dx[NX], dw[NW], db[NB], ry[NY];
	fill_bf16(in_x, NX, 5);
	fill_bf16(in_w, NW, 6);
	fill_bf16(in_b, NB, 7);
	fill_bf16(in_dy, NY, 8);
	void *data[8] = {in_x, in_w, in_b, in_dy, y, dx, dw, db};
	double out[1];
	long b16[3], a16[3], b32[3], a32[3];
	dnn_runs("cudnn_standin_runs_bf16", b16);
	dnn_runs("cudnn_standin_runs", b32);
	if (x->run(x, data, out, &err) != 0)
		fail_msg("%s", err.msg);
	dnn_runs("cudnn_standin_runs_bf16", a16);
	dnn_runs("cudnn_standin_runs", a32);
	for (int op = 0; op < 3; op++) {
		assert_int_equal(a16[op] - b16[op], 0);
		assert_int_equal(a32[op] - b32[op], 1); /* the f32 convolution instead */
	}
	rt_conv_desc d = CONV_DESC;
	rt_conv *c = rt_conv_new(1, &err);
	assert_non_null(c);
	assert_int_equal(rt_conv_forward(c, &d, in_x, in_w, in_b, ry, &err), 0);
	rt_conv_free(c);
	for (int i = 0; i < NY; i++) /* f32 sums of exact products: f32 rounding */
		assert_true(fabsf(y[i] - ry[i]) <= 1e-5f * (1 + fabsf(ry[i])));
	x->free(x);

	/* strict: the refusal is the plan's error */
	setenv("SAMC_CUDA_BF16_STRICT", "1", 1);
	dev = dev_new(SAMC_CUDNN_STANDIN, prelude_ptx);
	unsetenv("SAMC_CUDA_BF16_STRICT");
	x = rt_runner_new(&p, dev, &err);
	refuse_bf16(0);
	if (x)
		x->free(x);
	assert_null(x);
	if (!strstr(err.msg, "CUDNN_STATUS_NOT_SUPPORTED"))
		fail_msg("message '%s' does not give cuDNN's refusal", err.msg);
}

static void test_old_module(void **state)
{
	(void)state;
	rt_device *d = dev_new(NULL, old_ptx);
	rt_err err = {{0}};
	void *a[3];
	for (int j = 0; j < 3; j++)
		assert_int_equal(d->alloc(d, 64, &a[j], &err), 0);
	rt_prog_kernel k = {.kind = RT_K_GEMM, .nargs = 3, .m = 2, .n = 2, .k = 2, .bf16 = 1};
	assert_int_not_equal(d->gemm(d, &k, a, &err), 0);
	if (!strstr(err.msg, "samc_bf16_pack") || !strstr(err.msg, "compile the model again"))
		fail_msg("message '%s' does not say what is missing and what to do", err.msg);
	k.bf16 = 0; /* an f32 product needs no conversion kernels */
	if (d->gemm(d, &k, a, &err))
		fail_msg("%s", err.msg);
	for (int j = 0; j < 3; j++)
		d->free(d, a[j]);
	d->release(d);
}

int main(void)
{
	if (!SAMC_CUDA_STANDIN[0] || access(SAMC_CUDA_STANDIN, R_OK) != 0 ||
	    !SAMC_CUDNN_STANDIN[0] || access(SAMC_CUDNN_STANDIN, R_OK) != 0 ||
	    system("c++ --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_dev_cuda_bf16: no host stand-in or no c++: skipped\n");
		return 77;
	}
	if (tmpdir_make(cache, sizeof cache, "test_dev_cuda_bf16"))
		return 1;
	setenv("SAMC_CACHE_DIR", cache, 1); /* where the stand-in finds a module's source */
	write_file("0000000000000000000000000000bf16.cu", cg_cuda_prelude());
	write_file("0000000000000000000000000000bf16.ptx", prelude_ptx);
	write_file("00000000000000000000000000000old.cu",
	           "extern \"C\" const int samc_old_module = 1;\n");
	write_file("00000000000000000000000000000old.ptx", old_ptx);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gemm),
		cmocka_unit_test(test_pack_rounds),
		cmocka_unit_test(test_conv_table),
		cmocka_unit_test(test_conv_fallback),
		cmocka_unit_test(test_old_module),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	tmpdir_remove(cache);
	return rc;
}
