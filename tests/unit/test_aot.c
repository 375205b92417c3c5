/*
 * test_aot.c - the runtime's runner of compiled step tables (rt_prog.h),
 * with hand-written kernels and no LLVM, as a standalone trainer runs
 * them: buffer binding, a parallel kernel split over threads, GEMMs,
 * outputs, commits with a swap snapshot, kernel failures reported with
 * their model line, and malformed tables refused with a message. Also
 * GEMMs split over the pool (every transpose, split along rows or
 * columns) and the pool itself under many short jobs, spinning and
 * sleeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include <cblas.h>

#include "rt_dev_cpu.h"
#include "rt_pool.h"
#include "rt_prog.h"

/* b[0][i] = 2 * b[1][i] + 1 over rows [lo, hi) of 4 columns */
static void k_affine(void **b, int64_t lo, int64_t hi, int32_t *err)
{
	(void)err;
	float *out = b[0];
	const float *in = b[1];
	for (int64_t i = lo * 4; i < hi * 4; i++)
		out[i] = 2.0f * in[i] + 1.0f;
}

/* b[0][0] = sum(b[1][0..8)) */
static void k_sum(void **b, int64_t lo, int64_t hi, int32_t *err)
{
	(void)err;
	(void)lo;
	(void)hi;
	float s = 0;
	for (int i = 0; i < 8; i++)
		s += ((const float *)b[1])[i];
	*(float *)b[0] = s;
}

static void k_fail(void **b, int64_t lo, int64_t hi, int32_t *err)
{
	(void)b;
	(void)lo;
	(void)hi;
	*err = 3;
}

/* Fails (code 7) when a row of b[1] in [lo, hi) starts with a negative
 * value: on two threads, row 1 is the worker's part. */
static void k_check(void **b, int64_t lo, int64_t hi, int32_t *err)
{
	for (int64_t r = lo; r < hi; r++)
		if (((const float *)b[1])[r * 4] < 0)
			*err = 7;
	((float *)b[0])[0] = 1.0f;
}

/* slots: 0 "w" [2,4] param, 1 "v" [2,4] state, 2 "x" [4,2] input
 * buffers: 0..2 the slots, 3 = affine(w) [2,4], 4 = w @ x [2,2] (GEMM),
 *          5 = sum(affine) scalar, 6 = snapshot of w
 * assigns: w <- affine(w) (buffer 3), v <- w (old w: snapshot to 6) */
static const rt_slot slots[] = {
	{.name = "w", .role = RT_SLOT_PARAM, .dtype = RT_F32, .rank = 2, .dim = {2, 4}},
	{.name = "v", .role = RT_SLOT_STATE, .dtype = RT_F32, .rank = 2, .dim = {2, 4}},
	{.name = "x", .role = RT_SLOT_INPUT, .dtype = RT_F32, .rank = 2, .dim = {4, 2}},
};
static const rt_prog_buf bufs[] = {
	{0, 0, 32}, {1, 0, 32}, {2, 0, 32}, {-1, 0, 32}, {-1, 32, 16}, {-1, 48, 4}, {-1, 64, 32},
};
static const int args[] = {3, 0, 0, 2, 4, 5, 3};
static rt_prog_kernel kernels[] = {
	/* work above RT_PROG_PAR_MIN_WORK so the split really happens */
	{.kind = RT_K_ELEM, .name = "affine", .fn = k_affine, .nargs = 2, .args = args,
	 .par_extent = 2, .work = 1 << 20},
	{.kind = RT_K_GEMM, .name = "gemm", .nargs = 3, .args = args + 2, .m = 2, .n = 2, .k = 4},
	{.kind = RT_K_ELEM, .name = "sum", .fn = k_sum, .nargs = 2, .args = args + 5},
};
static const rt_prog_output outputs[] = {{"total", 5, RT_F32}};
static const rt_prog_commit commits[] = {{3, -1, 0}, {0, 6, 1}};

static rt_prog table(void)
{
	rt_prog p = {slots, 3, outputs, 1, bufs, 7, kernels, 3, commits, 2, 96};
	return p;
}

static void run_step(int threads)
{
	rt_prog p = table();
	rt_err err = {{0}};
	rt_exec *x = rt_prog_exec_new(&p, threads, &err);
	if (!x)
		print_error("%s\n", err.msg);
	assert_non_null(x);
	assert_string_equal(x->backend, "cpu");
	assert_int_equal(x->nslots, 3);
	assert_string_equal(x->slots[1].name, "v");
	assert_int_equal(x->noutputs, 1);
	assert_string_equal(x->outputs[0], "total");
	float w[8], v[8] = {0}, xin[8];
	for (int i = 0; i < 8; i++) {
		w[i] = (float)i;
		xin[i] = (float)(i % 3);
	}
	void *data[3] = {w, v, xin};
	double out[1];
	assert_int_equal(x->run(x, data, out, &err), 0);
	/* sum of 2*i+1 over 0..7 = 64 */
	assert_true(out[0] == 64.0);
	for (int i = 0; i < 8; i++) {
		assert_true(w[i] == 2.0f * (float)i + 1.0f); /* committed new value */
		assert_true(v[i] == (float)i);               /* the old w, via the snapshot */
	}
	x->free(x);
}

static void test_run_one_and_two_threads(void **st)
{
	(void)st;
	run_step(1);
	run_step(2);
}

static void test_gemm(void **st)
{
	(void)st;
	/* only the GEMM: C = A[2,4] @ B[4,2] */
	static const rt_prog_buf gb[] = {{0, 0, 32}, {2, 0, 32}, {-1, 0, 16}};
	static const int ga[] = {0, 1, 2};
	static const rt_prog_kernel gk[] = {
	    {.kind = RT_K_GEMM, .name = "g", .nargs = 3, .args = ga, .m = 2, .n = 2, .k = 4}};
	static const rt_prog_output go[] = {{"c01", 2, RT_F32}};
	rt_prog p = {slots, 3, go, 1, gb, 3, gk, 1, NULL, 0, 16};
	rt_err err = {{0}};
	rt_exec *x = rt_prog_exec_new(&p, 1, &err);
	assert_non_null(x);
	float a[8] = {1, 2, 3, 4, 5, 6, 7, 8}, v[8], b[8] = {1, 0, 0, 1, 1, 1, 2, -1};
	void *data[3] = {a, v, b};
	double out[1];
	assert_int_equal(x->run(x, data, out, &err), 0);
	/* C[0,0] = 1*1 + 2*0 + 3*1 + 4*2 = 12 (the output reads C[0][0]) */
	assert_true(out[0] == 12.0);
	x->free(x);
}

static void test_kernel_failure_names_the_line(void **st)
{
	(void)st;
	static const int fa[] = {5, 3};
	static const rt_prog_kernel fk[] = {
	    {.kind = RT_K_ELEM, .name = "ce", .fn = k_fail, .nargs = 2, .args = fa,
	     .fail_where = "model.lua:7: cross_entropy", .fail_msg = "label out of range",
	     .fail_input = "y"}};
	rt_prog p = table();
	p.kernels = fk;
	p.nkernels = 1;
	p.ncommits = 0;
	rt_err err = {{0}};
	rt_exec *x = rt_prog_exec_new(&p, 1, &err);
	assert_non_null(x);
	float w[8] = {0}, v[8] = {0}, xin[8] = {0};
	void *data[3] = {w, v, xin};
	double out[1];
	assert_int_not_equal(x->run(x, data, out, &err), 0);
	assert_string_equal(err.msg, "model.lua:7: cross_entropy: label out of range (code 3, input 'y')");
	x->free(x);
}

/* The error word of a split kernel, written by the part on the worker, is
 * read after the kernels, nothing is committed, and the next run starts
 * with clean words. */
static void test_kernel_error_word_split(void **st)
{
	(void)st;
	static const int ca[] = {5, 0, 3, 0};
	static const rt_prog_kernel ck[] = {
	    {.kind = RT_K_ELEM, .name = "check", .fn = k_check, .nargs = 2, .args = ca,
	     .par_extent = 2, .work = 1 << 20, .fail_where = "model.lua:9: cross_entropy",
	     .fail_msg = "label out of range", .fail_input = "y"},
	    {.kind = RT_K_ELEM, .name = "affine", .fn = k_affine, .nargs = 2, .args = ca + 2,
	     .par_extent = 2}};
	static const rt_prog_commit cc[] = {{3, -1, 0}};
	rt_prog p = table();
	p.kernels = ck;
	p.nkernels = 2;
	p.commits = cc;
	p.ncommits = 1;
	rt_err err = {{0}};
	rt_exec *x = rt_prog_exec_new(&p, 2, &err);
	assert_non_null(x);
	float w[8] = {1, 1, 1, 1, -1, 1, 1, 1}, v[8] = {0}, xin[8] = {0};
	void *data[3] = {w, v, xin};
	double out[1];
	assert_int_not_equal(x->run(x, data, out, &err), 0);
	assert_string_equal(err.msg, "model.lua:9: cross_entropy: label out of range (code 7, input 'y')");
	assert_true(w[0] == 1.0f && w[4] == -1.0f); /* not committed */
	w[4] = 2.0f;
	assert_int_equal(x->run(x, data, out, &err), 0);
	assert_true(w[0] == 3.0f && w[4] == 5.0f); /* committed: 2 w + 1 */
	x->free(x);
}

static void expect_refused(rt_prog p, const char *needle)
{
	rt_err err = {{0}};
	rt_exec *x = rt_prog_exec_new(&p, 1, &err);
	assert_null(x);
	if (!strstr(err.msg, needle))
		print_error("message '%s' lacks '%s'\n", err.msg, needle);
	assert_non_null(strstr(err.msg, needle));
}

static void test_malformed_tables_refused(void **st)
{
	(void)st;
	rt_prog p = table();
	p.arena_bytes = 40; /* buffer 5 at 48 no longer fits */
	expect_refused(p, "outside its slot or arena");
	static const int bad_args[] = {3, 99};
	rt_prog_kernel k0 = kernels[0];
	k0.args = bad_args;
	p = table();
	p.kernels = &k0;
	p.nkernels = 1;
	expect_refused(p, "reads buffer 99");
	k0 = kernels[0];
	k0.fn = NULL;
	expect_refused(p, "has no compiled function");
	static const rt_prog_commit bad_commit[] = {{3, -1, 4}}; /* target is not a slot */
	p = table();
	p.commits = bad_commit;
	p.ncommits = 1;
	expect_refused(p, "commit 0");
}

/* C = op(A) op(B) through rt_prog_kernel_run on `threads`, against a
 * double-precision reference; returns C (caller frees). */
static float *split_gemm(int ta, int tb, int m, int n, int k, int threads)
{
	float *a = malloc((size_t)m * k * sizeof *a), *b = malloc((size_t)k * n * sizeof *b);
	float *c = malloc((size_t)m * n * sizeof *c);
	assert_true(a && b && c);
	for (int i = 0; i < m * k; i++)
		a[i] = (float)(((int64_t)i * 7919) % 201 - 100) / 64.0f;
	for (int i = 0; i < k * n; i++)
		b[i] = (float)(((int64_t)i * 104729) % 199 - 99) / 32.0f;
	for (int i = 0; i < m * n; i++)
		c[i] = NAN; /* every element must be written */
	rt_prog_kernel kk = {.kind = RT_K_GEMM, .name = "g", .nargs = 3, .ta = ta, .tb = tb,
	                     .m = m, .n = n, .k = k};
	void *args[3] = {a, b, c};
	rt_pool *pool = rt_pool_new(threads);
	assert_non_null(pool);
	openblas_set_num_threads(1);
	rt_prog_kernel_run(&kk, args, NULL, pool);
	rt_pool_free(pool);
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			double r = 0, mag = 0;
			for (int q = 0; q < k; q++) {
				double x = ta ? a[q * m + i] : a[i * k + q];
				double y = tb ? b[j * k + q] : b[q * n + j];
				r += x * y;
				mag += fabs(x * y);
			}
			/* float32 accumulation over k terms */
			if (!(fabs(c[i * n + j] - r) <= 1e-5 * mag + 1e-6)) {
				print_error("ta %d tb %d [%d,%d] k %d threads %d: C[%d,%d] = %g, expected %g\n",
				            ta, tb, m, n, k, threads, i, j, (double)c[i * n + j], r);
				fail();
			}
		}
	free(a);
	free(b);
	return c;
}

static void test_gemm_split_over_threads(void **st)
{
	(void)st;
	/* m*n*k above RT_PROG_GEMM_PAR_MIN: split along rows (m >= n) or
	 * columns, with parts that are not multiples of the alignment */
	static const int shape[][3] = {{130, 70, 64}, {40, 201, 80}, {97, 97, 61}, {8, 512, 300}};
	for (int s = 0; s < 4; s++)
		for (int t = 0; t < 4; t++) {
			int m = shape[s][0], n = shape[s][1], k = shape[s][2];
			assert_true((int64_t)m * n * k >= RT_PROG_GEMM_PAR_MIN);
			float *c1 = split_gemm(t & 1, t >> 1, m, n, k, 1);
			for (int threads = 2; threads <= 3; threads++) {
				float *c2 = split_gemm(t & 1, t >> 1, m, n, k, threads);
				float *c3 = split_gemm(t & 1, t >> 1, m, n, k, threads);
				/* same threads, same bits */
				assert_memory_equal(c2, c3, (size_t)m * n * sizeof *c2);
				free(c2);
				free(c3);
			}
			free(c1);
		}
}

/* C = A A^T (A read as both operands) on `threads`, f32 or f64: the syrk
 * path, split in two where the work allows. Checked against a double
 * reference, every element written and C exactly symmetric. */
static void check_sym(int m, int k, int threads, int f64)
{
	size_t es = f64 ? 8 : 4;
	char *a = malloc((size_t)m * k * es), *c = malloc((size_t)m * m * es);
	assert_true(a && c);
	for (int i = 0; i < m * k; i++) {
		double v = (double)(((int64_t)i * 7919) % 201 - 100) / 64.0;
		if (f64)
			((double *)a)[i] = v;
		else
			((float *)a)[i] = (float)v;
	}
	for (int i = 0; i < m * m; i++)
		if (f64)
			((double *)c)[i] = NAN;
		else
			((float *)c)[i] = NAN;
	rt_prog_kernel kk = {.kind = RT_K_GEMM, .name = "g", .nargs = 3, .ta = 0, .tb = 1,
	                     .m = m, .n = m, .k = k, .f64 = f64};
	void *args[3] = {a, a, c};
	rt_pool *pool = threads > 1 ? rt_pool_new(threads) : NULL;
	openblas_set_num_threads(1);
	rt_prog_kernel_run(&kk, args, NULL, pool);
	rt_pool_free(pool);
#define AT(p, i) (f64 ? ((double *)(p))[i] : (double)((float *)(p))[i])
	for (int i = 0; i < m; i++)
		for (int j = 0; j < m; j++) {
			double r = 0, mag = 0;
			for (int q = 0; q < k; q++) {
				r += AT(a, i * k + q) * AT(a, j * k + q);
				mag += fabs(AT(a, i * k + q) * AT(a, j * k + q));
			}
			double got = AT(c, i * m + j);
			if (!(fabs(got - r) <= (f64 ? 1e-13 : 1e-5) * mag + 1e-6) ||
			    got != AT(c, j * m + i)) {
				print_error("sym [%d,%d] k %d threads %d f64 %d: C[%d,%d] = %g (C[%d,%d] = %g), "
				            "expected %g\n", m, m, k, threads, f64, i, j, got, j, i,
				            AT(c, j * m + i), r);
				fail();
			}
		}
#undef AT
	free(a);
	free(c);
}

static void test_symmetric_product(void **st)
{
	(void)st;
	/* [128,784]: split (above RT_PROG_SYRK_PAR_MIN); [100,256]: one thread;
	 * [150,400]: split with rows not a multiple of the alignment */
	assert_true(128 * 128 * 784 >= RT_PROG_SYRK_PAR_MIN && 100 * 100 * 256 < RT_PROG_SYRK_PAR_MIN &&
	            150 * 150 * 400 >= RT_PROG_SYRK_PAR_MIN);
	for (int f64 = 0; f64 <= 1; f64++)
		for (int threads = 1; threads <= 2; threads++) {
			check_sym(128, 784, threads, f64);
			check_sym(100, 256, threads, f64);
			check_sym(150, 400, threads, f64);
			check_sym(3, 5, threads, f64);
		}
}

/* A symmetric GEMM G = x x^T whose result is needed only after a loop
 * kernel that does not touch x or G: on two threads the GEMM runs on the
 * worker beside it, with the same result as on one thread. When the loop
 * kernel reads x, they stay in order. */
static void run_beside_table(int window_reads_x, int threads, float *out_total, float *w_out)
{
	static const rt_slot bslots[] = {
	    {.name = "x", .role = RT_SLOT_INPUT, .dtype = RT_F32, .rank = 2, .dim = {96, 512}},
	    {.name = "w", .role = RT_SLOT_PARAM, .dtype = RT_F32, .rank = 2, .dim = {2, 4}},
	};
	/* 0 x, 1 w, 2 G [96,96] (arena), 3 affine(w or x) [2,4], 4 sum(G[0..8)) */
	static const rt_prog_buf bbufs[] = {
	    {0, 0, 96 * 512 * 4}, {1, 0, 32}, {-1, 0, 96 * 96 * 4}, {-1, 36864, 32}, {-1, 36896, 4},
	};
	int bargs[] = {0, 0, 2, 3, window_reads_x ? 0 : 1, 4, 2};
	/* the loop kernel's work: enough to pay for the move, too little to split */
	rt_prog_kernel bk[] = {
	    {.kind = RT_K_GEMM, .name = "gram", .nargs = 3, .args = bargs, .ta = 0, .tb = 1,
	     .m = 96, .n = 96, .k = 512},
	    {.kind = RT_K_ELEM, .name = "affine", .fn = k_affine, .nargs = 2, .args = bargs + 3,
	     .par_extent = 2, .work = 100000},
	    {.kind = RT_K_ELEM, .name = "sum", .fn = k_sum, .nargs = 2, .args = bargs + 5},
	};
	static const rt_prog_output bout[] = {{"total", 4, RT_F32}};
	static const rt_prog_commit bcommit[] = {{3, -1, 1}};
	rt_prog p = {bslots, 2, bout, 1, bbufs, 5, bk, 3, bcommit, 1, 36900};
	rt_err err = {{0}};
	rt_exec *x = rt_prog_exec_new(&p, threads, &err);
	assert_non_null(x);
	assert_int_equal(rt_prog_exec_beside(x), threads == 2 && !window_reads_x ? 1 : 0);
	float *xin = malloc(96 * 512 * sizeof *xin), w[8];
	for (int i = 0; i < 96 * 512; i++)
		xin[i] = (float)((i * 37) % 17 - 8) / 8.0f;
	for (int i = 0; i < 8; i++)
		w[i] = (float)i;
	void *data[2] = {xin, w};
	double out[1];
	openblas_set_num_threads(1);
	for (int step = 0; step < 3; step++)
		assert_int_equal(x->run(x, data, out, &err), 0);
	*out_total = (float)out[0];
	memcpy(w_out, w, sizeof w);
	free(xin);
	x->free(x);
}

static void test_gemm_beside(void **st)
{
	(void)st;
	for (int reads_x = 0; reads_x <= 1; reads_x++) {
		float t1, t2, w1[8], w2[8];
		run_beside_table(reads_x, 1, &t1, w1);
		run_beside_table(reads_x, 2, &t2, w2);
		assert_true(t1 == t2);
		assert_memory_equal(w1, w2, sizeof w1);
		if (!reads_x) /* w went through affine three times: ((2w+1)*2+1)*2+1 */
			for (int i = 0; i < 8; i++)
				assert_true(w2[i] == 8.0f * (float)i + 7.0f);
		/* G[0][0..8) = row 0 of x against rows 0..7, summed */
		double ref = 0;
		for (int j = 0; j < 8; j++)
			for (int q = 0; q < 512; q++)
				ref += (double)((q * 37) % 17 - 8) / 8.0 * (double)(((j * 512 + q) * 37) % 17 - 8) / 8.0;
		assert_true(fabs(t2 - ref) <= 1e-3 * (fabs(ref) + 1));
	}
}

typedef struct {
	int *count; /* per part */
	int jobs;
} pool_job;

static void count_part(void *ctx, int part, int nparts)
{
	pool_job *j = ctx;
	(void)nparts;
	j->count[part]++;
}

static void test_pool_many_jobs(void **st)
{
	(void)st;
	for (int threads = 2; threads <= 4; threads++) {
		rt_pool *p = rt_pool_new(threads);
		assert_non_null(p);
		assert_int_equal(rt_pool_threads(p), threads);
		int count[4] = {0};
		pool_job j = {count, 0};
		int runs = 20000;
		for (int i = 0; i < runs; i++) {
			int parts = 2 + i % (threads - 1); /* 2..threads */
			rt_pool_run(p, parts, count_part, &j);
			for (int q = parts; q < threads; q++)
				count[q]++; /* parts not asked for: counted here */
			/* now and then a pause longer than the spin, so that the
			 * workers sleep and must be woken */
			if (i % 2000 == 1999)
				usleep(2000);
		}
		for (int q = 0; q < threads; q++)
			assert_int_equal(count[q], runs);
		rt_pool_free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_run_one_and_two_threads),
	    cmocka_unit_test(test_gemm),
	    cmocka_unit_test(test_kernel_failure_names_the_line),
	    cmocka_unit_test(test_kernel_error_word_split),
	    cmocka_unit_test(test_malformed_tables_refused),
	    cmocka_unit_test(test_gemm_split_over_threads),
	    cmocka_unit_test(test_symmetric_product),
	    cmocka_unit_test(test_gemm_beside),
	    cmocka_unit_test(test_pool_many_jobs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
