/*
 * test_rt_conv.c - rt_conv (oneDNN) against a plain double-precision
 * convolution: forward with and without bias, backward data, backward
 * weights with and without the bias gradient, on shapes with stride 2,
 * padding, dilation, groups > 1, 1x1 kernels and odd sizes, on 1 and 2
 * threads; that primitives are cached; that bad descriptors are refused;
 * that oneDNN's OpenMP threads are set to sleep when idle.
 * (Bit equality with PyTorch: test_rt_conv_torch.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rt_conv.h"

/* (n, c, h, w, o, kh, kw, stride, pad, dil, groups), square */
static const int64_t shapes[][11] = {
	{2, 3, 7, 7, 4, 3, 3, 1, 1, 1, 1},
	{3, 4, 9, 8, 6, 3, 3, 2, 1, 1, 1},   /* stride 2, odd sizes */
	{2, 4, 10, 10, 8, 3, 3, 1, 2, 2, 1}, /* dilation 2 */
	{2, 6, 8, 8, 9, 3, 3, 1, 1, 1, 3},   /* groups 3 */
	{2, 8, 6, 6, 8, 3, 3, 1, 1, 1, 8},   /* depthwise */
	{4, 16, 5, 5, 8, 1, 1, 1, 0, 1, 1},  /* 1x1 */
	{2, 5, 11, 9, 7, 5, 3, 2, 0, 1, 1},  /* rectangular kernel, no padding */
	{8, 16, 12, 12, 32, 3, 3, 1, 1, 1, 1},
};

static rt_conv_desc desc_of(const int64_t *s)
{
	rt_conv_desc d = {s[0], s[1], s[2], s[3], s[4], s[5], s[6], 0, 0,
	                  s[7], s[7], s[8], s[8], s[9], s[9], s[10]};
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

/* Visits every (n, o, oy, ox, ci, ky, kx) term x[n, g*cg+ci, iy, ix] *
 * w[o, ci, ky, kx] of the convolution with iy, ix inside the input. */
#define FOR_TERMS(d)                                                                            \
	for (int64_t n = 0; n < (d)->n; n++)                                                     \
		for (int64_t o = 0; o < (d)->o; o++)                                             \
			for (int64_t oy = 0; oy < (d)->oh; oy++)                                 \
				for (int64_t ox = 0; ox < (d)->ow; ox++)                         \
					for (int64_t ci = 0; ci < (d)->c / (d)->groups; ci++)    \
						for (int64_t ky = 0; ky < (d)->kh; ky++)         \
							for (int64_t kx = 0; kx < (d)->kw; kx++) \
								if (term(d, n, o, oy, ox, ci, ky, kx, &xi, &wi, &yi))

static int term(const rt_conv_desc *d, int64_t n, int64_t o, int64_t oy, int64_t ox, int64_t ci,
                int64_t ky, int64_t kx, int64_t *xi, int64_t *wi, int64_t *yi)
{
	int64_t iy = oy * d->stride_h - d->pad_h + ky * d->dil_h;
	int64_t ix = ox * d->stride_w - d->pad_w + kx * d->dil_w;
	if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w)
		return 0;
	int64_t cg = d->c / d->groups, c = o / (d->o / d->groups) * cg + ci;
	*xi = ((n * d->c + c) * d->h + iy) * d->w + ix;
	*wi = ((o * cg + ci) * d->kh + ky) * d->kw + kx;
	*yi = ((n * d->o + o) * d->oh + oy) * d->ow + ox;
	return 1;
}

/* got within float rounding of the exact sum: |got - ref| <= 1e-5 times
 * the sum of the terms' magnitudes (f32 sums of a few thousand terms stay
 * far inside it; a wrong index does not) */
static void expect_close(const char *what, int si, const float *got, const double *ref,
                         const double *mag, int64_t len)
{
	for (int64_t i = 0; i < len; i++)
		if (!(fabs((double)got[i] - ref[i]) <= 1e-5 * mag[i] + 1e-30))
			fail_msg("shape %d: %s[%lld] = %.9g, reference %.9g", si, what, (long long)i,
			         (double)got[i], ref[i]);
}

static void check_shape(rt_conv *c, int si)
{
	rt_conv_desc d = desc_of(shapes[si]);
	int64_t nx = d.n * d.c * d.h * d.w, nw = d.o * (d.c / d.groups) * d.kh * d.kw;
	int64_t ny = d.n * d.o * d.oh * d.ow;
	float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(d.o * 4), *dy = malloc(ny * 4);
	float *y = malloc(ny * 4), *dx = malloc(nx * 4), *dw = malloc(nw * 4), *db = malloc(d.o * 4);
	double *ry = calloc(ny, 8), *my = calloc(ny, 8), *rdx = calloc(nx, 8), *mdx = calloc(nx, 8);
	double *rdw = calloc(nw, 8), *mdw = calloc(nw, 8), *rdb = calloc(d.o, 8), *mdb = calloc(d.o, 8);
	assert_non_null(rdb);
	fill(x, nx, 1 + si);
	fill(w, nw, 2 + si);
	fill(b, d.o, 3 + si);
	fill(dy, ny, 4 + si);
	int64_t xi, wi, yi;
	FOR_TERMS(&d)
	{
		ry[yi] += (double)x[xi] * w[wi];
		my[yi] += fabs((double)x[xi] * w[wi]);
		rdx[xi] += (double)dy[yi] * w[wi];
		mdx[xi] += fabs((double)dy[yi] * w[wi]);
		rdw[wi] += (double)dy[yi] * x[xi];
		mdw[wi] += fabs((double)dy[yi] * x[xi]);
	}
	for (int64_t i = 0; i < ny; i++) {
		int64_t o = i / (d.oh * d.ow) % d.o;
		rdb[o] += dy[i];
		mdb[o] += fabs(dy[i]);
	}
	rt_err err = {{0}};
	/* without bias, then with: y + b on the second */
	if (rt_conv_forward(c, &d, x, w, NULL, y, &err) != 0)
		fail_msg("%s", err.msg);
	expect_close("y", si, y, ry, my, ny);
	if (rt_conv_forward(c, &d, x, w, b, y, &err) != 0)
		fail_msg("%s", err.msg);
	for (int64_t i = 0; i < ny; i++) {
		ry[i] += b[i / (d.oh * d.ow) % d.o];
		my[i] += fabs(b[i / (d.oh * d.ow) % d.o]);
	}
	expect_close("y+b", si, y, ry, my, ny);
	if (rt_conv_backward_data(c, &d, dy, w, dx, &err) != 0)
		fail_msg("%s", err.msg);
	expect_close("dx", si, dx, rdx, mdx, nx);
	memset(dw, 0xff, nw * 4); /* NaNs: every element must be written */
	if (rt_conv_backward_weights(c, &d, x, dy, dw, NULL, &err) != 0)
		fail_msg("%s", err.msg);
	expect_close("dw", si, dw, rdw, mdw, nw);
	memset(dw, 0xff, nw * 4);
	if (rt_conv_backward_weights(c, &d, x, dy, dw, db, &err) != 0)
		fail_msg("%s", err.msg);
	expect_close("dw (with db)", si, dw, rdw, mdw, nw);
	expect_close("db", si, db, rdb, mdb, d.o);
	free(x), free(w), free(b), free(dy), free(y), free(dx), free(dw), free(db);
	free(ry), free(my), free(rdx), free(mdx), free(rdw), free(mdw), free(rdb), free(mdb);
}

static void run_all(int threads)
{
	rt_err err = {{0}};
	rt_conv *c = rt_conv_new(threads, &err);
	if (!c)
		fail_msg("%s", err.msg);
	int nshape = (int)(sizeof shapes / sizeof shapes[0]);
	for (int si = 0; si < nshape; si++)
		check_shape(c, si);
	/* five primitives per shape: forward with and without bias, backward
	 * data, backward weights with and without the bias gradient */
	assert_int_equal(rt_conv_cached(c), 5 * nshape);
	for (int si = 0; si < nshape; si++)
		check_shape(c, si);
	assert_int_equal(rt_conv_cached(c), 5 * nshape);
	rt_conv_free(c);
}

static void test_one_thread(void **state)
{
	(void)state;
	run_all(1);
}

static void test_two_threads(void **state)
{
	(void)state;
	run_all(2);
}

/* the instruction set is pinned to AVX2 (or below, on an older CPU) */
static void test_isa_pinned(void **state)
{
	(void)state;
	const char *isa = rt_conv_isa();
	assert_non_null(isa);
	if (!strstr(isa, "avx2") && !strstr(isa, "sse41") && strcmp(isa, "cpu_isa_avx") != 0)
		fail_msg("oneDNN dispatches to %s, not AVX2", isa);
	assert_null(strstr(isa, "avx512"));
}

static void expect_refused(rt_conv *c, rt_conv_desc d, const char *words)
{
	rt_err err = {{0}};
	float buf[4096] = {0};
	assert_int_not_equal(rt_conv_forward(c, &d, buf, buf, NULL, buf, &err), 0);
	if (!strstr(err.msg, words) || !strstr(err.msg, "conv2d x ["))
		fail_msg("expected \"%s\" in: %s", words, err.msg);
}

static void test_bad_descriptors(void **state)
{
	(void)state;
	rt_err err = {{0}};
	rt_conv *c = rt_conv_new(1, &err);
	assert_non_null(c);
	rt_conv_desc d = desc_of(shapes[3]);
	d.groups = 4;
	expect_refused(c, d, "divisible by the groups");
	d = desc_of(shapes[0]);
	d.oh = 6;
	expect_refused(c, d, "the output is 7x7, not 6x7");
	d = desc_of(shapes[0]);
	d.kh = 11;
	d.oh = 1;
	expect_refused(c, d, "smaller than the dilated kernel");
	d = desc_of(shapes[0]);
	d.stride_w = 0;
	expect_refused(c, d, "must be positive");
	assert_int_equal(rt_conv_cached(c), 0);
	rt_conv_free(c);
	assert_null(rt_conv_new(0, &err));
	assert_non_null(strstr(err.msg, "at least one thread"));
}

/* OpenMP's idle threads sleep at once unless the user said otherwise: set
 * before oneDNN (and libgomp) is loaded, which main() has not done yet */
static int user_spin;

static void test_openmp_sleeps(void **state)
{
	(void)state;
	rt_err err = {{0}};
	rt_conv *c = rt_conv_new(1, &err);
	assert_non_null(c);
	rt_conv_free(c);
	if (user_spin)
		skip();
	const char *v = getenv("GOMP_SPINCOUNT");
	assert_non_null(v);
	assert_string_equal(v, "0");
}

/* PyTorch's documented output size */
static void test_out_size(void **state)
{
	(void)state;
	assert_int_equal(rt_conv_out_size(28, 3, 1, 1, 1), 28);
	assert_int_equal(rt_conv_out_size(9, 3, 2, 1, 1), 5);
	assert_int_equal(rt_conv_out_size(10, 3, 1, 2, 2), 10);
	assert_int_equal(rt_conv_out_size(4, 5, 1, 0, 1), 0);
	assert_int_equal(rt_conv_out_size(32, 3, 2, 1, 1), 16);
}

int main(void)
{
	user_spin = getenv("GOMP_SPINCOUNT") || getenv("OMP_WAIT_POLICY");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openmp_sleeps),
		cmocka_unit_test(test_isa_pinned),
		cmocka_unit_test(test_out_size),
		cmocka_unit_test(test_one_thread),
		cmocka_unit_test(test_two_threads),
		cmocka_unit_test(test_bad_descriptors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
