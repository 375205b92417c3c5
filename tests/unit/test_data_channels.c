/*
 * test_data_channels.c - per-channel data.mean and data.std (torchvision's
 * Normalize(mean, std)): byte images through per-channel lookup tables,
 * float images converted per channel plane, a crop's padding pixels at each
 * channel's normalised raw 0, and the errors for lists that do not fit the
 * input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rt_dataset.h"

#define TMPDIR_PREFIX "test_data_channels"
#include "test_tmpdir.h"

enum { NEX = 3, REC = 3073, B = 2 };

static const data_channels MEAN3 = {{0.4914, 0.4822, 0.4465}, 3};
static const data_channels STD3 = {{0.2470, 0.2435, 0.2616}, 3};

/* Raw byte of pixel i (of 3072) of example e: every value 0..255 occurs. */
static unsigned char pixel(int e, int i)
{
	return (unsigned char)((e * 131 + i * 7) % 256);
}

/* A CIFAR-10 file of NEX records with labels 0, 1, 2. */
static void put_cifar(const char *dir, const char *name)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	for (int e = 0; e < NEX; e++) {
		unsigned char rec[REC];
		rec[0] = (unsigned char)e;
		for (int i = 0; i < 3072; i++)
			rec[1 + i] = pixel(e, i);
		assert_int_equal(fwrite(rec, 1, REC, f), REC);
	}
	assert_int_equal(fclose(f), 0);
}

typedef struct {
	rt_slot s[2];
	rt_exec x;
} step;

static void make_step(step *st, int xrank, const int64_t *xdim, rt_dtype xt)
{
	memset(st, 0, sizeof *st);
	st->s[0] = (rt_slot){.name = "x", .role = RT_SLOT_INPUT, .dtype = xt, .rank = xrank};
	memcpy(st->s[0].dim, xdim, sizeof(int64_t) * (size_t)xrank);
	st->s[1] = (rt_slot){.name = "y", .role = RT_SLOT_INPUT, .dtype = RT_I32, .rank = 1,
	                     .dim = {B}, .nclasses = 10};
	st->x = (rt_exec){.backend = "test", .slots = st->s, .nslots = 2};
}

static data_config cifar_config(void)
{
	data_config dc = {.format = "cifar10", .ntrain = 2, .scale = 1 / 255.0, .mean = MEAN3,
	                  .std = STD3};
	dc.train[0] = (data_file){"x", "data_batch_1.bin"};
	dc.train[1] = (data_file){"y", "data_batch_1.bin"};
	return dc;
}

/* (raw * scale - mean[c]) / std[c], in the dtype the batch holds. */
static double want(int e, int i)
{
	int c = i / 1024;
	return (pixel(e, i) * (1 / 255.0) - MEAN3.v[c]) / STD3.v[c];
}

static void t_bytes_per_channel(void **state)
{
	const char *dir = *state;
	put_cifar(dir, "data_batch_1.bin");
	data_config dc = cifar_config();
	const int64_t d4[4] = {B, 3, 32, 32};
	for (int f64 = 0; f64 < 2; f64++) {
		step st;
		make_step(&st, 4, d4, f64 ? RT_F64 : RT_F32);
		rt_dataset ds;
		rt_err err = {{0}};
		if (rt_dataset_load(&ds, &dc, 0, dir, &st.x, &err))
			fail_msg("%s", err.msg);
		int64_t order[NEX] = {2, 0, 1};
		static double x64[B * 3072];
		static float x32[B * 3072];
		int32_t y[B];
		void *dst[2] = {f64 ? (void *)x64 : (void *)x32, y};
		assert_int_equal(rt_dataset_fill(&ds, order, 0, B, RT_PAD_ZERO, dst, NULL, RT_F32, NULL),
		                 B);
		for (int r = 0; r < B; r++)
			for (int i = 0; i < 3072; i++) {
				double w = want((int)order[r], i);
				if (f64 ? x64[r * 3072 + i] != w : x32[r * 3072 + i] != (float)w)
					fail_msg("row %d pixel %d: %g, want %g", r, i,
					         f64 ? x64[r * 3072 + i] : x32[r * 3072 + i], w);
			}
		/* a crop's padding pixel holds channel c's normalised raw 0 */
		for (int c = 0; c < 3; c++)
			assert_true(ds.col[0].zero[c] == (0.0 - MEAN3.v[c]) / STD3.v[c]);
		data_augment cfg = {.crop_padding = 4};
		rt_augment a = {&cfg, 1, 0};
		static double aug[3072];
		static float aug32[3072];
		int corner_pad = 0;
		for (int64_t e = 0; e < NEX && !corner_pad; e++) {
			int64_t top, left, cy, cx;
			int fl;
			rt_augment_draw(&a, e, 32, 32, &top, &left, &fl, &cy, &cx);
			if (top == 0 || left == 0)
				continue; /* the window's top-left pixel is an image pixel */
			rt_augment_row(&a, &ds.col[0], e, f64 ? (void *)aug : (void *)aug32);
			for (int c = 0; c < 3; c++)
				for (int yy = 0; yy < 32; yy++)
					for (int xx = 0; xx < 32; xx++) {
						int64_t sy = yy + top - 4, sx = (fl ? 31 - xx : xx) + left - 4;
						int o = (c * 32 + yy) * 32 + xx;
						double got = f64 ? aug[o] : aug32[o];
						double w = sy < 0 || sy >= 32 || sx < 0 || sx >= 32
						               ? (0.0 - MEAN3.v[c]) / STD3.v[c]
						               : want((int)e, (int)((c * 32 + sy) * 32 + sx));
						if (f64 ? got != w : got != (float)w)
							fail_msg("e %d (%d,%d,%d): %g, want %g", (int)e, c, yy, xx, got, w);
					}
			corner_pad = 1;
		}
		assert_true(corner_pad);
		rt_dataset_free(&ds);
	}
}

/* Float images (a .npy of <f4) are converted plane by plane. */
static void t_floats_per_channel(void **state)
{
	const char *dir = *state;
	char path[4200];
	snprintf(path, sizeof path, "%s/x.npy", dir);
	const char *hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 2, 2), }";
	char head[64];
	size_t hl = strlen(hdr), total = 10 + hl + 1;
	size_t pad = (64 - total % 64) % 64;
	memcpy(head, "\x93NUMPY\x01\x00", 8);
	uint16_t len = (uint16_t)(hl + pad + 1);
	memcpy(head + 8, &len, 2);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(head, 1, 10, f);
	fwrite(hdr, 1, hl, f);
	for (size_t i = 0; i < pad; i++)
		fputc(' ', f);
	fputc('\n', f);
	float xs[24];
	for (int i = 0; i < 24; i++)
		xs[i] = (float)i;
	fwrite(xs, sizeof xs, 1, f);
	assert_int_equal(fclose(f), 0);
	snprintf(path, sizeof path, "%s/y.npy", dir);
	hdr = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }";
	hl = strlen(hdr);
	total = 10 + hl + 1;
	pad = (64 - total % 64) % 64;
	len = (uint16_t)(hl + pad + 1);
	memcpy(head + 8, &len, 2);
	assert_non_null(f = fopen(path, "wb"));
	fwrite(head, 1, 10, f);
	fwrite(hdr, 1, hl, f);
	for (size_t i = 0; i < pad; i++)
		fputc(' ', f);
	fputc('\n', f);
	int32_t ys[2] = {1, 2};
	fwrite(ys, sizeof ys, 1, f);
	assert_int_equal(fclose(f), 0);

	data_config dc = {.format = "npy", .ntrain = 2, .scale = 0.5, .mean = MEAN3,
	                  .std = {{2.0}, 1}};
	dc.train[0] = (data_file){"x", "x.npy"};
	dc.train[1] = (data_file){"y", "y.npy"};
	const int64_t d4[4] = {B, 3, 2, 2};
	step st;
	make_step(&st, 4, d4, RT_F64);
	rt_dataset ds;
	rt_err err = {{0}};
	if (rt_dataset_load(&ds, &dc, 0, dir, &st.x, &err))
		fail_msg("%s", err.msg);
	int64_t order[2] = {0, 1};
	double x[B * 12];
	int32_t y[B];
	void *dst[2] = {x, y};
	assert_int_equal(rt_dataset_fill(&ds, order, 0, B, RT_PAD_ZERO, dst, NULL, RT_F64, NULL), B);
	for (int i = 0; i < 24; i++)
		assert_true(x[i] == (i * 0.5 - MEAN3.v[(i % 12) / 4]) / 2.0);
	rt_dataset_free(&ds);
}

/* A list must match an image input's channels. */
static void t_channel_errors(void **state)
{
	const char *dir = *state;
	put_cifar(dir, "data_batch_1.bin");
	data_config dc = cifar_config();
	const int64_t flat[2] = {B, 3072}, one[4] = {B, 1, 32, 96};
	struct {
		int rank;
		const int64_t *dim;
		const char *msg;
	} cases[] = {
		{2, flat, "data.mean has 3 values, one per channel, but input 'x' of shape [2,3072] is "
		          "not an image [B,C,H,W]"},
		{4, one, "data.mean has 3 values, one per channel, but input 'x' of shape [2,1,32,96] "
		         "has 1 channels"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		step st;
		make_step(&st, cases[k].rank, cases[k].dim, RT_F32);
		rt_dataset ds;
		rt_err err = {{0}};
		assert_int_equal(rt_dataset_load(&ds, &dc, 0, dir, &st.x, &err), -1);
		if (!strstr(err.msg, cases[k].msg))
			fail_msg("got '%s'", err.msg);
	}
	/* a single std with a per-channel mean, and std's list checked too */
	dc.mean = (data_channels){{0.5}, 1};
	dc.std = (data_channels){{0.2, 0.3}, 2};
	const int64_t d4[4] = {B, 3, 32, 32};
	step st;
	make_step(&st, 4, d4, RT_F32);
	rt_dataset ds;
	rt_err err = {{0}};
	assert_int_equal(rt_dataset_load(&ds, &dc, 0, dir, &st.x, &err), -1);
	assert_non_null(strstr(err.msg, "data.std has 2 values"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_bytes_per_channel, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(t_floats_per_channel, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(t_channel_errors, setup_dir, teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
