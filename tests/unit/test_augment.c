/*
 * test_augment.c - training-split augmentation of image inputs: a flip is
 * the mirror image, a crop is a window of the zero-padded image, cutout
 * zeroes a clipped square, draws depend on (seed, epoch, example) only
 * (not on the thread count), and a crop that does not fit is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rt_dataset.h"

enum { N = 40, C = 2, H = 5, W = 6, ROW = C * H * W };

/* Two image columns of the same examples: bytes behind a table (as IDX or
 * CIFAR) and floats (as npy). Values are nonzero and distinct per pixel. */
typedef struct {
	unsigned char bytes[N * ROW];
	float lut[256];
	float floats[N * ROW];
	rt_dataset_col col[2];
	rt_dataset ds;
} fixture;

static void make(fixture *f)
{
	memset(f, 0, sizeof *f);
	for (int i = 0; i < 256; i++)
		f->lut[i] = (float)i * 0.5f + 1.0f;
	for (int i = 0; i < N * ROW; i++) {
		f->bytes[i] = (unsigned char)(i * 7 % 251);
		f->floats[i] = (float)i + 0.25f;
	}
	f->col[0] = (rt_dataset_col){.input = "x", .path = "x.idx", .dtype = RT_F32, .row = ROW,
	                             .data = f->bytes, .lut = f->lut, .chan = C, .height = H,
	                             .width = W, .zero = {1.0}};
	f->col[1] = (rt_dataset_col){.input = "z", .path = "z.npy", .dtype = RT_F32, .row = ROW,
	                             .data = f->floats, .chan = C, .height = H, .width = W,
	                             .zero = {-3.0}};
	f->ds = (rt_dataset){f->col, 2, N};
}

/* Normalised pixel (c, y, x) of example e in column k, as stored. */
static float pix(const fixture *f, int k, int64_t e, int c, int y, int x)
{
	int64_t i = e * ROW + (c * H + y) * W + x;
	return k == 0 ? f->lut[f->bytes[i]] : f->floats[i];
}

static void augment_all(const fixture *f, const rt_augment *a, int k, float *out)
{
	for (int64_t e = 0; e < N; e++)
		rt_augment_row(a, &f->col[k], e, out + e * ROW);
}

static void test_flip_is_mirror(void **state)
{
	(void)state;
	static fixture f;
	make(&f);
	data_augment cfg = {.flip = 1};
	rt_augment a = {&cfg, 11, 0};
	static float out[N * ROW];
	int flipped = 0;
	for (int k = 0; k < 2; k++) {
		augment_all(&f, &a, k, out);
		for (int64_t e = 0; e < N; e++) {
			int64_t top, left, cy, cx;
			int fl;
			rt_augment_draw(&a, e, H, W, &top, &left, &fl, &cy, &cx);
			flipped += fl;
			for (int c = 0; c < C; c++)
				for (int y = 0; y < H; y++)
					for (int x = 0; x < W; x++)
						assert_true(out[e * ROW + (c * H + y) * W + x] ==
						            pix(&f, k, e, c, y, fl ? W - 1 - x : x));
		}
	}
	/* p = 0.5 over 40 examples (twice): both cases occur. */
	assert_true(flipped > 10 && flipped < 70);
}

static void test_crop_is_window_of_padded(void **state)
{
	(void)state;
	static fixture f;
	make(&f);
	enum { P = 2, HP = H + 2 * P, WP = W + 2 * P };
	data_augment cfg = {.crop_size = 0, .crop_padding = P};
	rt_augment a = {&cfg, 5, 3};
	static float out[N * ROW];
	int seen_top[2 * P + 1] = {0}, seen_left[2 * P + 1] = {0};
	for (int k = 0; k < 2; k++) {
		augment_all(&f, &a, k, out);
		for (int64_t e = 0; e < N; e++) {
			/* The padded image, built here independently. */
			float padded[C][HP][WP];
			for (int c = 0; c < C; c++)
				for (int y = 0; y < HP; y++)
					for (int x = 0; x < WP; x++) {
						int in = y >= P && y < H + P && x >= P && x < W + P;
						padded[c][y][x] = in ? pix(&f, k, e, c, y - P, x - P)
						                     : (float)f.col[k].zero[0];
					}
			int64_t top, left, cy, cx;
			int fl;
			rt_augment_draw(&a, e, H, W, &top, &left, &fl, &cy, &cx);
			assert_true(top >= 0 && top <= 2 * P && left >= 0 && left <= 2 * P);
			assert_int_equal(fl, 0);
			seen_top[top] = seen_left[left] = 1;
			for (int c = 0; c < C; c++)
				for (int y = 0; y < H; y++)
					for (int x = 0; x < W; x++)
						assert_true(out[e * ROW + (c * H + y) * W + x] ==
						            padded[c][y + top][x + left]);
		}
	}
	for (int i = 0; i <= 2 * P; i++)
		assert_true(seen_top[i] && seen_left[i]);
}

static void test_cutout_zeroes_square(void **state)
{
	(void)state;
	static fixture f;
	make(&f);
	enum { S = 3 };
	data_augment cfg = {.cutout = S};
	rt_augment a = {&cfg, 9, 1};
	static float out[N * ROW];
	augment_all(&f, &a, 1, out);
	for (int64_t e = 0; e < N; e++) {
		int64_t top, left, cy, cx;
		int fl;
		rt_augment_draw(&a, e, H, W, &top, &left, &fl, &cy, &cx);
		assert_true(cy >= 0 && cy < H && cx >= 0 && cx < W);
		for (int c = 0; c < C; c++)
			for (int y = 0; y < H; y++)
				for (int x = 0; x < W; x++) {
					int in = y >= cy - S / 2 && y < cy - S / 2 + S && x >= cx - S / 2 &&
					         x < cx - S / 2 + S;
					float v = out[e * ROW + (c * H + y) * W + x];
					assert_true(v == (in ? 0.0f : pix(&f, 1, e, c, y, x)));
				}
	}
}

static void fill(fixture *f, const int64_t *order, const rt_augment *a, rt_pool *pool,
                 float *x, float *z)
{
	void *dst[2] = {x, z};
	assert_int_equal(rt_dataset_fill_aug(&f->ds, order, 0, N, RT_PAD_WRAP, dst, NULL, RT_F32,
	                                     pool, a),
	                 N);
}

/* A batch is the same whatever the thread count, is a function of (seed,
 * epoch, example), and the same examples are augmented otherwise in
 * another epoch or under another seed. */
static void test_deterministic(void **state)
{
	(void)state;
	static fixture f;
	make(&f);
	data_augment cfg = {.crop_padding = 2, .flip = 1, .cutout = 2};
	int64_t order[N];
	rt_dataset_order(N, 4, 0, order);
	static float x1[N * ROW], z1[N * ROW], x2[N * ROW], z2[N * ROW];
	rt_pool *pool = rt_pool_new(3);
	assert_non_null(pool);
	rt_augment a = {&cfg, 4, 2};
	fill(&f, order, &a, NULL, x1, z1);
	fill(&f, order, &a, pool, x2, z2);
	assert_memory_equal(x1, x2, sizeof x1);
	assert_memory_equal(z1, z2, sizeof z1);
	/* Row r holds example order[r], augmented as that example alone. */
	static float one[ROW];
	for (int r = 0; r < N; r++) {
		rt_augment_row(&a, &f.col[1], order[r], one);
		assert_memory_equal(one, z1 + r * ROW, sizeof one);
	}
	rt_augment b = {&cfg, 4, 3};
	fill(&f, order, &b, pool, x2, z2);
	assert_memory_not_equal(x1, x2, sizeof x1);
	rt_augment c = {&cfg, 5, 2};
	fill(&f, order, &c, pool, x2, z2);
	assert_memory_not_equal(x1, x2, sizeof x1);
	/* No augmentation asked: the plain batch. */
	data_augment none = {0};
	rt_augment d = {&none, 4, 2};
	static float x3[N * ROW], z3[N * ROW];
	void *dst[2] = {x3, z3};
	fill(&f, order, &d, pool, x2, z2);
	assert_int_equal(rt_dataset_fill(&f.ds, order, 0, N, RT_PAD_WRAP, dst, NULL, RT_F32, NULL),
	                 N);
	assert_memory_equal(x2, x3, sizeof x2);
	assert_memory_equal(z2, z3, sizeof z2);
	rt_pool_free(pool);
}

static void test_check(void **state)
{
	(void)state;
	static fixture f;
	make(&f);
	rt_err err = {{0}};
	data_augment fits = {.crop_size = 0, .crop_padding = 4, .flip = 1};
	assert_int_equal(rt_dataset_augment_check(&f.ds, &fits, &err), 0);
	data_augment square = {.crop_size = H, .crop_padding = 4};
	assert_int_equal(rt_dataset_augment_check(&f.ds, &square, &err), -1);
	assert_non_null(strstr(err.msg, "data.augment.crop.size = 5 does not fit input 'x'"));
	assert_non_null(strstr(err.msg, "5x6"));
	f.col[0].height = f.col[1].height = 0; /* no image inputs */
	assert_int_equal(rt_dataset_augment_check(&f.ds, &fits, &err), -1);
	assert_non_null(strstr(err.msg, "needs an image input of shape [B,C,H,W]"));
	data_augment none = {0};
	assert_int_equal(rt_dataset_augment_check(&f.ds, &none, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flip_is_mirror),
	    cmocka_unit_test(test_crop_is_window_of_padded),
	    cmocka_unit_test(test_cutout_zeroes_square),
	    cmocka_unit_test(test_deterministic),
	    cmocka_unit_test(test_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
