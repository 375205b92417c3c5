/*
 * test_bf16_cpu.c - GEMM and convolution entries flagged bf16 (rt_prog.h)
 * on the CPU device: on bf16-exact inputs they equal the same entries
 * unflagged (f32 calls) within the bound of a different summation order,
 * for plain, transposed, batched and A A^T GEMMs and a grouped, strided
 * convolution's three operations with bias; on a CPU with bf16
 * instructions every one of them runs on bf16 operands (the device says
 * how many); with SAMC_CPU_MASK naming those instructions none does and
 * the results are the f32 calls' bit for bit.
 *
 * The library's instruction-set rule is per process (rt_conv.h), so the
 * flagged table runs first, as a bf16 program would.
 */
#include <math.h>
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

enum { M = 24, N = 32, K = 40, B3 = 3 };
/* x [2,4,7,7], w [6,2,3,3] (groups 2), stride 2, padding 1: y [2,6,4,4] */
#define CONV_DESC {2, 4, 7, 7, 6, 3, 3, 4, 4, 2, 2, 1, 1, 1, 1, 2}
enum { NX = 2 * 4 * 7 * 7, NW = 6 * 2 * 3 * 3, NB = 6, NY = 2 * 6 * 4 * 4 };

/* slot (= buffer) i holds n[i] floats; 0-6 inputs, the rest results */
enum { S_A, S_B, S_AB, S_X, S_W, S_BIAS, S_DY,
       S_C0, S_C1, S_C2, S_C3, S_Y, S_DX, S_DW, S_DB, NSLOT };
static const int64_t nel[NSLOT] = {
	[S_A] = B3 * M * K, [S_B] = B3 * K * N, [S_AB] = M * K, [S_X] = NX, [S_W] = NW,
	[S_BIAS] = NB, [S_DY] = NY, [S_C0] = M * N, [S_C1] = M * N, [S_C2] = B3 * M * N,
	[S_C3] = M * M, [S_Y] = NY, [S_DX] = NX, [S_DW] = NW, [S_DB] = NB};

static const int args[] = {
	S_A, S_B, S_C0,             /* C0 = A B */
	S_AB, S_B, S_C1,            /* C1 = A'^T B'^T: A' [K,M], B' [N,K] */
	S_A, S_B, S_C2,             /* C2[b] = A[b] B[b]^T, three of them */
	S_A, S_A, S_C3,             /* C3 = A A^T (syrk on the f32 path) */
	S_X, S_W, S_BIAS, S_Y,      /* forward with bias */
	S_DY, S_W, S_DX,            /* backward data */
	S_X, S_DY, S_DW, S_DB,      /* backward weights and bias */
};

#define NK 7

static void kernels_of(rt_prog_kernel *k, int bf16)
{
	k[0] = (rt_prog_kernel){.kind = RT_K_GEMM, .name = "ab", .nargs = 3, .args = args,
	                        .m = M, .n = N, .k = K, .batch = 1};
	k[1] = (rt_prog_kernel){.kind = RT_K_GEMM, .name = "atbt", .nargs = 3, .args = args + 3,
	                        .ta = 1, .tb = 1, .m = M, .n = N, .k = K, .batch = 1};
	/* B[b] read as [N,K] then transposed: B holds B3*K*N elements either way */
	k[2] = (rt_prog_kernel){.kind = RT_K_GEMM, .name = "bmm", .nargs = 3, .args = args + 6,
	                        .tb = 1, .m = M, .n = N, .k = K, .batch = B3};
	k[3] = (rt_prog_kernel){.kind = RT_K_GEMM, .name = "aat", .nargs = 3, .args = args + 9,
	                        .tb = 1, .m = M, .n = M, .k = K, .batch = 1};
	k[4] = (rt_prog_kernel){.kind = RT_K_CONV, .name = "fwd", .nargs = 4, .args = args + 12,
	                        .conv = CONV_DESC, .conv_op = RT_CONV_FWD, .conv_bias = 1};
	k[5] = (rt_prog_kernel){.kind = RT_K_CONV, .name = "bwd_data", .nargs = 3, .args = args + 16,
	                        .conv = CONV_DESC, .conv_op = RT_CONV_BWD_DATA};
	k[6] = (rt_prog_kernel){.kind = RT_K_CONV, .name = "bwd_weight", .nargs = 4,
	                        .args = args + 19, .conv = CONV_DESC,
	                        .conv_op = RT_CONV_BWD_WEIGHT, .conv_bias = 1};
	for (int i = 0; i < NK; i++)
		k[i].bf16 = bf16;
}

/* every slot's buffers, filled: inputs bf16-exact in [-2, 2) */
static float *data[NSLOT];

static void fill_inputs(void)
{
	uint32_t s = 12345;
	for (int i = 0; i < NSLOT; i++) {
		data[i] = calloc((size_t)nel[i], sizeof(float));
		assert_non_null(data[i]);
		for (int64_t j = 0; i <= S_DY && j < nel[i]; j++) {
			s = s * 1103515245u + 12345u;
			float f = (float)((s >> 8) & 0xffff) / 16384.0f - 2.0f;
			uint32_t u;
			memcpy(&u, &f, sizeof u);
			u &= 0xffff0000u; /* a bf16 value */
			memcpy(&data[i][j], &u, sizeof u);
		}
	}
}

/* Runs the table (flagged or not) into res[slot], its results; returns
 * how many entries ran on bf16 operands. */
static int run(int bf16, float *res[NSLOT])
{
	static rt_slot slots[NSLOT];
	static rt_prog_buf bufs[NSLOT];
	for (int i = 0; i < NSLOT; i++) {
		slots[i] = (rt_slot){.name = "s", .role = i <= S_DY ? RT_SLOT_INPUT : RT_SLOT_STATE,
		                     .dtype = RT_F32, .rank = 1, .dim = {nel[i]}};
		bufs[i] = (rt_prog_buf){i, 0, nel[i] * 4};
	}
	static const char *names[NSLOT] = {"a", "b", "ab", "x", "w", "bias", "dy",
	                                   "c0", "c1", "c2", "c3", "y", "dx", "dw", "db"};
	for (int i = 0; i < NSLOT; i++)
		slots[i].name = names[i];
	rt_prog_kernel k[NK];
	kernels_of(k, bf16);
	static const rt_prog_output outputs[] = {{"db0", S_DB, RT_F32}};
	rt_prog p = {slots, NSLOT, outputs, 1, bufs, NSLOT, k, NK, NULL, 0, 0};
	rt_err err = {{0}};
	rt_exec *x = rt_prog_exec_new(&p, 2, &err);
	if (!x)
		fail_msg("%s", err.msg);
	void *d[NSLOT];
	for (int i = 0; i < NSLOT; i++) {
		res[i] = i <= S_DY ? data[i] : calloc((size_t)nel[i], sizeof(float));
		d[i] = res[i];
	}
	double out[1];
	if (x->run(x, d, out, &err) != 0)
		fail_msg("%s", err.msg);
	int n = rt_prog_exec_bf16(x);
	x->free(x);
	return n;
}

static float amax(const float *v, int64_t n)
{
	float m = 0;
	for (int64_t i = 0; i < n; i++)
		m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
	return m;
}

/* Two f32 sums of the same `terms` exact products, each no larger than
 * `pmax`, in different orders: each is within (terms - 1) u sum|p| of the
 * exact sum (u = 2^-24), so they differ by at most 2 terms^2 u pmax. */
static void expect_close(const char *what, const float *a, const float *b, int64_t n,
                         int64_t terms, double pmax)
{
	double bound = 2.0 * (double)terms * (double)terms * ldexp(1.0, -24) * pmax;
	for (int64_t i = 0; i < n; i++)
		if (!(fabs((double)a[i] - (double)b[i]) <= bound))
			fail_msg("%s[%lld]: bf16 %.9g, f32 %.9g (bound %.3g)", what, (long long)i, a[i],
			         b[i], bound);
}

static void test_bf16_against_f32(void **st)
{
	(void)st;
	fill_inputs();
	float *r16[NSLOT], *r32[NSLOT], *rm[NSLOT];
	int want = rt_dev_cpu_has_bf16(getenv("SAMC_CPU_MASK")) ? NK : 0;
	int n16 = run(1, r16); /* first: the process's oneDNN is a bf16 program's */
	print_message("bf16 entries: %d of %d (bf16 instructions: %s)\n", n16, NK,
	              want ? "yes" : "no");
	assert_int_equal(n16, want);
	assert_int_equal(run(0, r32), 0);

	double ab = (double)amax(data[S_A], nel[S_A]) * amax(data[S_B], nel[S_B]);
	expect_close("A B", r16[S_C0], r32[S_C0], M * N, K, ab);
	expect_close("A^T B^T", r16[S_C1], r32[S_C1], M * N, K,
	             (double)amax(data[S_AB], nel[S_AB]) * amax(data[S_B], nel[S_B]));
	expect_close("A[b] B[b]^T", r16[S_C2], r32[S_C2], B3 * M * N, K, ab);
	expect_close("A A^T", r16[S_C3], r32[S_C3], M * M, K,
	             (double)amax(data[S_A], nel[S_A]) * amax(data[S_A], nel[S_A]));
	for (int i = 0; i < M; i++) /* symmetric, as syrk's */
		for (int j = 0; j < M; j++)
			assert_true(r16[S_C3][i * M + j] == r16[S_C3][j * M + i]);
	double xw = (double)amax(data[S_X], NX) * amax(data[S_W], NW);
	double dyw = (double)amax(data[S_DY], NY) * amax(data[S_W], NW);
	double xdy = (double)amax(data[S_X], NX) * amax(data[S_DY], NY);
	/* terms per result: C/groups*kh*kw (+ the bias), O/groups*kh*kw, N*OH*OW */
	expect_close("conv y", r16[S_Y], r32[S_Y], NY, 2 * 9 + 1,
	             fmax(xw, amax(data[S_BIAS], NB)));
	expect_close("conv dx", r16[S_DX], r32[S_DX], NX, 3 * 9, dyw);
	expect_close("conv dw", r16[S_DW], r32[S_DW], NW, 2 * 16, xdy);
	expect_close("conv db", r16[S_DB], r32[S_DB], NB, 2 * 16, amax(data[S_DY], NY));

	/* a CPU without the instructions: the f32 calls, bit for bit */
	setenv("SAMC_CPU_MASK", "avx512bf16,amx-bf16", 1);
	assert_int_equal(run(1, rm), 0);
	unsetenv("SAMC_CPU_MASK");
	for (int i = S_C0; i < NSLOT; i++)
		if (memcmp(rm[i], r32[i], (size_t)nel[i] * sizeof(float)) != 0)
			fail_msg("masked bf16 table: slot %d differs from the f32 calls", i);
	for (int i = S_C0; i < NSLOT; i++) {
		free(r16[i]);
		free(r32[i]);
		free(rm[i]);
	}
	for (int i = 0; i < NSLOT; i++)
		free(data[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bf16_against_f32),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
