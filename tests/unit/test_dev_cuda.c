/*
 * test_dev_cuda.c - the CUDA device (rt_dev_cuda.h) and cuBLAS's GEMMs
 * (rt_cuda_blas.h) through the host stand-in for the driver
 * (tests/cuda_standin): memory zeroed, the transfers, a module's kernel
 * launched with its grid, block and parameters (it reports the geometry it
 * ran with), its error word, the row-major GEMMs with every transpose, in
 * f32 and f64, one and several at a time, against a plain loop; the
 * side queue's copies and its order with the kernels' stream; and the
 * messages for a missing driver or cuBLAS. Exit 77 (skipped) when the
 * stand-in was not built.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt_dev_cuda.h"
#include "test_tmpdir.h"
#include "../cuda_standin/standin.h"

#ifndef SAMC_CUDA_STANDIN
#define SAMC_CUDA_STANDIN ""
#endif

static char cache[4096];

static rt_device *dev_new(const char *blas)
{
	rt_err err = {{0}};
	rt_dev_cuda_opts o = {SAMC_CUDA_STANDIN, blas ? blas : SAMC_CUDA_STANDIN, NULL, 0};
	rt_device *d = rt_dev_cuda_new(&o, &err);
	if (!d)
		fail_msg("%s", err.msg);
	return d;
}

static void test_memory(void **state)
{
	(void)state;
	rt_device *d = dev_new(NULL);
	rt_err err = {{0}};
	assert_string_equal(d->name, "cuda");
	assert_string_equal(d->memory, "cuda:0");
	assert_null(d->host_view);
	int major = 0, minor = 0;
	char desc[256];
	assert_int_equal(rt_dev_cuda_info(d, &major, &minor, desc, sizeof desc, &err), 0);
	assert_int_equal(major * 10 + minor, 90);
	assert_string_equal(desc, "samc host stand-in (sm_90, driver 13.0)");
	/* two devices on one GPU share its memory: a run's execs */
	rt_device *d2 = dev_new(NULL);
	assert_true(rt_device_shares(d, d2));
	d2->release(d2);

	float *a, *b, h[37], back[37];
	assert_int_equal(d->alloc(d, sizeof h, (void **)&a, &err), 0);
	assert_int_equal(d->alloc(d, sizeof h, (void **)&b, &err), 0);
	assert_int_equal(d->download(d, back, a, sizeof back, &err), 0);
	for (int i = 0; i < 37; i++)
		assert_true(back[i] == 0.0f); /* alloc zeroes (the stand-in's memory is not) */
	for (int i = 0; i < 37; i++)
		h[i] = (float)i * 0.5f;
	assert_int_equal(d->upload(d, a, h, sizeof h, &err), 0);
	assert_int_equal(d->copy(d, b + 1, a, 36 * sizeof(float), &err), 0);
	assert_int_equal(d->download(d, back, b, sizeof back, &err), 0);
	assert_true(back[0] == 0.0f);
	for (int i = 1; i < 37; i++)
		assert_true(back[i] == h[i - 1]);
	assert_int_equal(d->sync(d, &err), 0);
	d->free(d, a);
	d->free(d, b);
	d->release(d);
}

/* A module by hand, in the renderer's form: the kernel writes 2 x[i] and
 * the grid and block it ran with; a negative x[0] sets its error word. */
static const char module_cu[] =
    "extern \"C\" __global__ void twice(const float *x, float *y, int *err)\n"
    "{\n"
    "\tfor (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < 100;\n"
    "\t     i += (long long)gridDim.x * blockDim.x)\n"
    "\t\ty[i] = 2.0f * x[i];\n"
    "\tif (blockIdx.x == 0 && threadIdx.x == 0) {\n"
    "\t\ty[100] = (float)gridDim.x;\n"
    "\t\ty[101] = (float)blockDim.x;\n"
    "\t\tif (x[0] < 0.0f)\n"
    "\t\t\t*err = 7;\n"
    "\t}\n"
    "}\n"
    "#ifdef SAMC_CUDA_HOST\n"
    "static void twice_hthread(void **bufs, int *err)\n"
    "{\n\ttwice((const float *)bufs[0], (float *)bufs[1], err);\n}\n"
    "extern \"C\" void twice_hostlaunch(unsigned grid, unsigned block, void **params)\n"
    "{\n\tvoid *bufs[2] = {*(void **)params[0], *(void **)params[1]};\n"
    "\tsamc_host_launch(grid, (int)block, 0, twice_hthread, bufs, *(int **)params[2]);\n}\n"
    "#endif\n";
/* what the device loads (PTX on a GPU; the stand-in finds module_cu by it) */
static const char module_ptx[] = "// test_dev_cuda: the twice module\n";

static void write_file(const char *name, const char *text)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/%s", cache, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void test_launch(void **state)
{
	(void)state;
	write_file("0123456789abcdef0123456789abcdef.cu", module_cu);
	write_file("0123456789abcdef0123456789abcdef.ptx", module_ptx);
	rt_device *d = dev_new(NULL);
	rt_err err = {{0}};
	assert_int_equal(rt_dev_cuda_load(d, module_ptx, &err), 0);
	float *x, *y, *e, h[102], out[102];
	assert_int_equal(d->alloc(d, sizeof h, (void **)&x, &err), 0);
	assert_int_equal(d->alloc(d, sizeof h, (void **)&y, &err), 0);
	assert_int_equal(d->alloc(d, 4, (void **)&e, &err), 0);
	for (int i = 0; i < 100; i++)
		h[i] = (float)i;
	assert_int_equal(d->upload(d, x, h, sizeof h, &err), 0);
	int args_ids[2] = {0, 1};
	rt_prog_kernel k = {.kind = RT_K_ELEM, .name = "twice", .nargs = 2, .args = args_ids,
	                    .cu_grid = 3, .cu_block = 32};
	void *args[2] = {x, y};
	assert_int_equal(d->launch(d, &k, args, e, &err), 0);
	assert_int_equal(d->sync(d, &err), 0);
	assert_int_equal(d->download(d, out, y, sizeof out, &err), 0);
	for (int i = 0; i < 100; i++)
		assert_true(out[i] == 2.0f * (float)i);
	assert_true(out[100] == 3.0f && out[101] == 32.0f);
	int32_t ew = -1;
	assert_int_equal(d->download(d, &ew, e, 4, &err), 0);
	assert_int_equal(ew, 0);
	/* bad data: the error word, as the runner reads it */
	h[0] = -1.0f;
	assert_int_equal(d->upload(d, x, h, 4, &err), 0);
	assert_int_equal(d->launch(d, &k, args, e, &err), 0);
	assert_int_equal(d->download(d, &ew, e, 4, &err), 0);
	assert_int_equal(ew, 7);
	/* a table without a CUDA launch, a kernel not in the module */
	k.cu_block = 0;
	assert_int_not_equal(d->launch(d, &k, args, e, &err), 0);
	assert_non_null(strstr(err.msg, "kernel twice has no CUDA launch"));
	k.cu_block = 32;
	k.name = "thrice";
	assert_int_not_equal(d->launch(d, &k, args, e, &err), 0);
	assert_non_null(strstr(err.msg, "finding kernel thrice in the module"));
	d->free(d, x);
	d->free(d, y);
	d->free(d, e);
	d->release(d);
}

/* C[m,n] = op(A) op(B), row-major, per batch */
static void ref_gemm(int ta, int tb, int m, int n, int k, int batch, const double *A,
                     const double *Bm, double *C)
{
	for (int b = 0; b < batch; b++)
		for (int i = 0; i < m; i++)
			for (int j = 0; j < n; j++) {
				double s = 0;
				for (int p = 0; p < k; p++)
					s += A[b * m * k + (ta ? p * m + i : i * k + p)] *
					     Bm[b * k * n + (tb ? j * k + p : p * n + j)];
				C[b * m * n + i * n + j] = s;
			}
}

static void gemm_case(rt_device *d, int ta, int tb, int f64, int batch)
{
	enum { M = 5, N = 3, K = 4, MAXB = 3 };
	double A[MAXB * M * K], Bm[MAXB * K * N], want[MAXB * M * N];
	for (int i = 0; i < MAXB * M * K; i++)
		A[i] = (double)((i * 7) % 11) - 5.0;
	for (int i = 0; i < MAXB * K * N; i++)
		Bm[i] = (double)((i * 5) % 13) * 0.25 - 1.0;
	ref_gemm(ta, tb, M, N, K, batch, A, Bm, want);
	size_t es = f64 ? 8 : 4;
	char ha[sizeof A], hb[sizeof Bm], hc[sizeof want];
	for (int i = 0; i < MAXB * M * K; i++)
		f64 ? memcpy(ha + 8 * i, &A[i], 8) : (void)(((float *)ha)[i] = (float)A[i]);
	for (int i = 0; i < MAXB * K * N; i++)
		f64 ? memcpy(hb + 8 * i, &Bm[i], 8) : (void)(((float *)hb)[i] = (float)Bm[i]);
	void *a[3];
	rt_err err = {{0}};
	assert_int_equal(d->alloc(d, sizeof A, &a[0], &err), 0);
	assert_int_equal(d->alloc(d, sizeof Bm, &a[1], &err), 0);
	assert_int_equal(d->alloc(d, sizeof want, &a[2], &err), 0);
	assert_int_equal(d->upload(d, a[0], ha, MAXB * M * K * es, &err), 0);
	assert_int_equal(d->upload(d, a[1], hb, MAXB * K * N * es, &err), 0);
	rt_prog_kernel k = {.kind = RT_K_GEMM, .name = "gemm", .nargs = 3, .ta = ta, .tb = tb,
	                    .f64 = f64, .m = M, .n = N, .k = K, .batch = batch};
	if (d->gemm(d, &k, a, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(d->download(d, hc, a[2], MAXB * M * N * es, &err), 0);
	for (int i = 0; i < batch * M * N; i++) {
		double got = f64 ? ((double *)hc)[i] : (double)((float *)hc)[i];
		if (got != want[i]) /* small integers and quarters: exact in both */
			fail_msg("gemm ta %d tb %d f64 %d batch %d: C[%d] = %g, expected %g", ta, tb, f64,
			         batch, i, got, want[i]);
	}
	for (int j = 0; j < 3; j++)
		d->free(d, a[j]);
}

static void test_gemm(void **state)
{
	(void)state;
	rt_device *d = dev_new(NULL);
	for (int f64 = 0; f64 < 2; f64++)
		for (int ta = 0; ta < 2; ta++)
			for (int tb = 0; tb < 2; tb++) {
				gemm_case(d, ta, tb, f64, 1);
				gemm_case(d, ta, tb, f64, 3);
			}
	d->release(d);
}

static void test_missing_libraries(void **state)
{
	(void)state;
	rt_err err = {{0}};
	rt_dev_cuda_opts o = {"/nonexistent/libcuda.so.1", NULL, NULL, 0};
	assert_null(rt_dev_cuda_new(&o, &err));
	assert_non_null(strstr(err.msg, "/nonexistent/libcuda.so.1 not found: no NVIDIA driver"));
	o.driver = SAMC_CUDA_STANDIN;
	o.ordinal = 1;
	assert_null(rt_dev_cuda_new(&o, &err));
	assert_non_null(strstr(err.msg, "cuda: no GPU 1: the driver sees 1"));
	/* cuBLAS is opened for the first GEMM; without it the GEMM says why */
	rt_device *d = dev_new("/nonexistent/libcublas.so.13");
	void *a[3] = {0};
	for (int j = 0; j < 3; j++)
		assert_int_equal(d->alloc(d, 64, &a[j], &err), 0);
	rt_prog_kernel k = {.kind = RT_K_GEMM, .nargs = 3, .m = 2, .n = 2, .k = 2};
	assert_int_not_equal(d->gemm(d, &k, a, &err), 0);
	assert_non_null(strstr(err.msg, "/nonexistent/libcublas.so.13 not found"));
	assert_non_null(strstr(err.msg, "SAMC_CUDA_BLAS"));
	for (int j = 0; j < 3; j++)
		d->free(d, a[j]);
	d->release(d);
}

/* the stand-in's own: pending work on a stream */
typedef void (*pending_fn)(void *stream, int delta);
typedef struct {
	pending_fn pending;
	void *stream;
	atomic_int ended; /* set just before the work ends */
} later_arg;

/* Work "another library" enqueued on a stream ends 50 ms later: what
 * waited for it sees `ended` set, what did not (almost surely) does not. */
static void *end_later(void *p)
{
	later_arg *a = p;
	nanosleep(&(struct timespec){0, 50000000}, NULL);
	atomic_store(&a->ended, 1);
	a->pending(a->stream, -1);
	return NULL;
}

/* The side queue (rt_device.h's side_*): a copy there, and the order of
 * the two queues through events: the side follows the default stream's
 * work at side_fork, the default stream follows the side's at side_join,
 * with work of the stand-in's NCCL kind (pending, ended by another
 * thread) standing for a sum in flight. */
static void test_side(void **state)
{
	(void)state;
	rt_device *d = dev_new(NULL);
	rt_err err = {{0}};
	void *lib = dlopen(SAMC_CUDA_STANDIN, RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(lib);
	pending_fn pending;
	*(void **)&pending = dlsym(lib, "samc_standin_pending_on");
	void (*get_counts)(standin_counts *);
	void (*reset_counts)(void);
	*(void **)&get_counts = dlsym(lib, "samc_standin_counts");
	*(void **)&reset_counts = dlsym(lib, "samc_standin_reset");
	assert_non_null(pending);
	assert_non_null(get_counts);
	assert_non_null(reset_counts);
	reset_counts();
	assert_non_null(d->side_fork);
	assert_int_equal(d->side_join(d, &err), 0); /* nothing there yet */
	assert_int_equal(rt_dev_cuda_query_side(d, &err), 1);

	float h[64], back[64], *a, *b;
	for (int i = 0; i < 64; i++)
		h[i] = (float)i + 0.25f;
	assert_int_equal(d->alloc(d, sizeof h, (void **)&a, &err), 0);
	assert_int_equal(d->alloc(d, sizeof h, (void **)&b, &err), 0);
	assert_int_equal(d->upload(d, a, h, sizeof h, &err), 0);

	/* the default stream busy for 50 ms: the side's copy waits for it */
	later_arg busy = {pending, NULL, 0};
	pthread_t t;
	pending(NULL, +1);
	assert_int_equal(pthread_create(&t, NULL, end_later, &busy), 0);
	assert_int_equal(d->side_fork(d, &err), 0);
	assert_int_equal(d->side_copy(d, b, a, sizeof h, &err), 0);
	assert_int_equal(atomic_load(&busy.ended), 1);
	pthread_join(t, NULL);

	/* a sum in flight on the side: the default stream's download after
	 * side_join waits for it, and the side says it is busy meanwhile */
	void *side = d->side_stream(d, &err);
	assert_non_null(side);
	later_arg sum = {pending, side, 0};
	pending(side, +1);
	assert_int_equal(rt_dev_cuda_query_side(d, &err), 0);
	assert_int_equal(pthread_create(&t, NULL, end_later, &sum), 0);
	assert_int_equal(d->side_join(d, &err), 0);
	assert_int_equal(d->download(d, back, b, sizeof back, &err), 0);
	assert_int_equal(atomic_load(&sum.ended), 1);
	pthread_join(t, NULL);
	assert_int_equal(rt_dev_cuda_query_side(d, &err), 1);
	assert_memory_equal(back, h, sizeof h);
	standin_counts n;
	get_counts(&n);
	assert_int_equal(n.copy_async, 1);
	assert_int_equal(n.side_waits, 1); /* side_join's; side_fork's is the side's wait */
	d->free(d, a);
	d->free(d, b);
	d->release(d);
}

int main(void)
{
	if (!SAMC_CUDA_STANDIN[0] || access(SAMC_CUDA_STANDIN, R_OK) != 0 ||
	    system("c++ --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test_dev_cuda: no host stand-in for the driver or no c++: skipped\n");
		return 77;
	}
	if (tmpdir_make(cache, sizeof cache, "test_dev_cuda"))
		return 1;
	setenv("SAMC_CACHE_DIR", cache, 1); /* where the stand-in finds a module's source */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_launch),
		cmocka_unit_test(test_gemm),
		cmocka_unit_test(test_missing_libraries),
		cmocka_unit_test(test_side),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	tmpdir_remove(cache);
	return rc;
}
