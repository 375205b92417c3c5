/*
 * test_rt_conv_torch.c - rt_conv against PyTorch bit for bit: the forward
 * with bias, the input gradient, the weight gradient and the bias gradient
 * of the cases tests/oracle/rt_conv_ref.py wrote (PyTorch's f32 conv2d on 1
 * and 2 threads, oneDNN pinned to AVX2 on both sides), on the same inputs
 * and thread counts. Prints the differing bits and elements per case and
 * fails unless every bit agrees.
 *
 * The cases are in $SAMC_RT_CONV_REF_DIR, else in the build tree's rt_conv_ref/
 * (CTest runs oracle_rt_conv_ref first); skipped when there are none (no
 * PyTorch).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rt_conv.h"

/* rt_conv_ref.py's values(seed, count): float32 on a 2^-23 grid in [-1, 1)
 * from splitmix64(seed * 2^32 + i) */
static void values(float *p, int64_t count, uint64_t seed)
{
	for (int64_t i = 0; i < count; i++) {
		uint64_t z = (seed << 32) + (uint64_t)i + 0x9E3779B97F4A7C15ull;
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
		z ^= z >> 31;
		p[i] = (float)((double)(z >> 40) / (double)(1 << 23) - 1.0);
	}
}

typedef struct {
	int64_t bits, elems;
	double max_abs;
} diff;

static diff compare(const float *got, const float *want, int64_t n)
{
	diff d = {0, 0, 0};
	for (int64_t i = 0; i < n; i++) {
		uint32_t a, b;
		memcpy(&a, &got[i], 4);
		memcpy(&b, &want[i], 4);
		if (a == b)
			continue;
		d.bits += __builtin_popcount(a ^ b);
		d.elems++;
		double e = fabs((double)got[i] - (double)want[i]);
		d.max_abs = e > d.max_abs ? e : d.max_abs;
	}
	return d;
}

static const char *ref_dir(char *buf, size_t len)
{
	const char *env = getenv("SAMC_RT_CONV_REF_DIR");
	snprintf(buf, len, "%s", env && *env ? env : SAMC_BINARY_DIR "/rt_conv_ref");
	return buf;
}

/* Runs one case; returns the differing bits over its four results. */
static int64_t run_case(rt_conv *ctx[3], const char *dir, const char *name, long long *v)
{
	rt_conv_desc d = {v[1], v[2], v[3], v[4], v[5], v[6], v[7], 0, 0,
	                  v[8], v[9], v[10], v[11], v[12], v[13], v[14]};
	int threads = (int)v[15];
	uint64_t seed = (uint64_t)v[0];
	assert_true(threads == 1 || threads == 2);
	d.oh = rt_conv_out_size(d.h, d.kh, d.stride_h, d.pad_h, d.dil_h);
	d.ow = rt_conv_out_size(d.w, d.kw, d.stride_w, d.pad_w, d.dil_w);
	int64_t nx = d.n * d.c * d.h * d.w, nw = d.o * (d.c / d.groups) * d.kh * d.kw;
	int64_t ny = d.n * d.o * d.oh * d.ow, nb = d.o;
	int64_t len[4] = {ny, nx, nw, nb}, total = ny + nx + nw + nb;
	float *in = malloc((size_t)(nx + nw + nb + ny) * 4);
	float *want = malloc((size_t)total * 4), *got = malloc((size_t)total * 4);
	assert_non_null(in);
	assert_non_null(want);
	assert_non_null(got);
	float *x = in, *w = x + nx, *b = w + nw, *dy = b + nb;
	values(x, nx, 4 * seed);
	values(w, nw, 4 * seed + 1);
	values(b, nb, 4 * seed + 2);
	values(dy, ny, 4 * seed + 3);

	char path[1400];
	snprintf(path, sizeof path, "%s/%s.f32", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("%s: cannot open (rerun tests/oracle/rt_conv_ref.py)", path);
	size_t got_n = fread(want, 4, (size_t)total, f);
	int extra = fgetc(f) != EOF;
	fclose(f);
	if (got_n != (size_t)total || extra)
		fail_msg("%s: %zu floats, expected %lld for this case", path, got_n, (long long)total);

	rt_err err = {{0}};
	float *y = got, *dx = y + ny, *dw = dx + nx, *db = dw + nw;
	if (rt_conv_forward(ctx[threads], &d, x, w, b, y, &err) != 0 ||
	    rt_conv_backward_data(ctx[threads], &d, dy, w, dx, &err) != 0 ||
	    rt_conv_backward_weights(ctx[threads], &d, x, dy, dw, db, &err) != 0)
		fail_msg("%s: %s", name, err.msg);

	static const char *what[4] = {"y", "dx", "dw", "db"};
	int64_t bits = 0, off = 0;
	printf("%-24s", name);
	for (int i = 0; i < 4; i++) {
		diff df = compare(got + off, want + off, len[i]);
		printf("  %s %lld bits in %lld/%lld", what[i], (long long)df.bits, (long long)df.elems,
		       (long long)len[i]);
		if (df.elems)
			printf(" (max %.3g)", df.max_abs);
		bits += df.bits;
		off += len[i];
	}
	printf("\n");
	free(in);
	free(want);
	free(got);
	return bits;
}

static void test_bit_exact(void **state)
{
	(void)state;
	char dir[1024], path[1100];
	ref_dir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/cases.txt", dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		printf("no %s (PyTorch's cases: tests/oracle/rt_conv_ref.py)\n", path);
		skip();
	}
	rt_err err = {{0}};
	rt_conv *ctx[3] = {NULL, rt_conv_new(1, &err), rt_conv_new(2, &err)};
	if (!ctx[1] || !ctx[2])
		fail_msg("%s", err.msg);
	printf("oneDNN: %s\n", rt_conv_isa());
	char name[256];
	long long v[16];
	int ncase = 0;
	int64_t bits = 0;
	while (fscanf(f, "%255s", name) == 1) {
		for (int i = 0; i < 16; i++)
			if (fscanf(f, "%lld", &v[i]) != 1)
				fail_msg("%s: case %s: expected 16 numbers", path, name);
		bits += run_case(ctx, dir, name, v);
		ncase++;
	}
	fclose(f);
	rt_conv_free(ctx[1]);
	rt_conv_free(ctx[2]);
	printf("%d cases, %lld differing bits\n", ncase, (long long)bits);
	assert_true(ncase > 0);
	assert_int_equal(bits, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bit_exact),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
