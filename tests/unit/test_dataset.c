/*
 * test_dataset.c - data splits against a step's input slots: IDX, CSV and
 * safetensors binding, normalisation, limits, seeded shuffles, batching with
 * wrap-around and masked padding, the rows data.val_split holds out, and the
 * errors for data that does not fit.
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
#include <unistd.h>

#include "rt_dataset.h"
#include "rt_safetensors.h"
#include "test_tmpdir.h"

enum { B = 4 };

typedef struct {
	char dir[4096];
	rt_slot slots[4];
	rt_exec x;
} fixture;

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* u8 IDX with values base, base+1, ... */
static void write_idx(fixture *fx, const char *name, int rank, const uint32_t *dim, int base)
{
	unsigned char buf[4096];
	size_t k = 0, n = 1;
	buf[k++] = 0, buf[k++] = 0, buf[k++] = 8, buf[k++] = (unsigned char)rank;
	for (int i = 0; i < rank; i++) {
		buf[k++] = (unsigned char)(dim[i] >> 24), buf[k++] = (unsigned char)(dim[i] >> 16);
		buf[k++] = (unsigned char)(dim[i] >> 8), buf[k++] = (unsigned char)dim[i];
		n *= dim[i];
	}
	for (size_t i = 0; i < n; i++)
		buf[k++] = (unsigned char)((size_t)base + i);
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", fx->dir, name);
	write_file(path, buf, k);
}

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	if (tmpdir_make(f->dir, sizeof f->dir, "test_dataset"))
		return -1;
	f->slots[0] = (rt_slot){.name = "x", .role = RT_SLOT_INPUT, .dtype = RT_F32, .rank = 2,
	                        .dim = {B, 6}};
	f->slots[1] = (rt_slot){.name = "y", .role = RT_SLOT_INPUT, .dtype = RT_I32, .rank = 1,
	                        .dim = {B}, .nclasses = 3};
	f->slots[2] = (rt_slot){.name = "eval.mask", .role = RT_SLOT_INPUT, .dtype = RT_F32,
	                        .rank = 1, .dim = {B}};
	f->slots[3] = (rt_slot){.name = "w", .role = RT_SLOT_PARAM, .dtype = RT_F32, .rank = 1,
	                        .dim = {6}};
	f->x = (rt_exec){.backend = "test", .slots = f->slots, .nslots = 4};
	/* 10 examples of 2x3 pixels with values 10*i.., labels 0,1,2,0,1,2,... */
	uint32_t idim[3] = {10, 2, 3};
	write_idx(f, "img.idx", 3, idim, 0);
	unsigned char lab[8 + 10] = {0, 0, 8, 1, 0, 0, 0, 10};
	for (int i = 0; i < 10; i++)
		lab[8 + i] = (unsigned char)(i % 3);
	char path[4200];
	snprintf(path, sizeof path, "%s/lab.idx", f->dir);
	write_file(path, lab, sizeof lab);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static data_config idx_config(const char *img, const char *lab)
{
	data_config dc = {.format = "idx", .ntrain = 2, .ntest = 2, .scale = 0.5, .mean = {{1.0}, 1},
	                  .std = {{2.0}, 1}};
	dc.train[0] = dc.test[0] = (data_file){"x", img};
	dc.train[1] = dc.test[1] = (data_file){"y", lab};
	return dc;
}

/* Example e of ds as a batch of one: its x row and its label. */
static int32_t example(const rt_dataset *ds, int64_t e, float *x)
{
	int64_t order[1] = {e};
	int32_t y[B];
	void *dst[2] = {x, y};
	assert_int_equal(rt_dataset_fill(ds, order, 0, 1, RT_PAD_ZERO, dst, NULL, RT_F32, NULL), 1);
	return y[0];
}

static void test_idx_load_normalise(void **state)
{
	fixture *f = *state;
	data_config dc = idx_config("img.idx", "lab.idx");
	rt_dataset ds;
	rt_err err = {{0}};
	assert_int_equal(rt_dataset_load(&ds, &dc, 0, f->dir, &f->x, &err), 0);
	assert_int_equal(ds.n, 10);
	assert_int_equal(ds.ncol, 2);
	assert_string_equal(ds.col[0].input, "x");
	assert_int_equal(ds.col[0].row, 6);
	assert_non_null(ds.col[0].lut); /* IDX bytes stay bytes */
	float x[6];
	/* Pixel 13 (example 2, pixel 1) has raw value 13: (13 * 0.5 - 1) / 2 = 2.75. */
	assert_int_equal(example(&ds, 2, x), 2);
	assert_true(x[1] == 2.75f);
	assert_int_equal(example(&ds, 7, x), 1);
	rt_dataset_free(&ds);

	dc.limit_train = 3;
	assert_int_equal(rt_dataset_load(&ds, &dc, 0, f->dir, &f->x, &err), 0);
	assert_int_equal(ds.n, 3);
	rt_dataset_free(&ds);
}

/* Bytes behind a lookup table give the batch that converting every value
 * up front gives, bit for bit, for all 256 byte values. */
static void test_bytes_match_converted(void **state)
{
	fixture *f = *state;
	unsigned char buf[12 + 256 * 6] = {0, 0, 8, 2, 0, 0, 1, 0, 0, 0, 0, 6};
	rt_tensors ts = {0};
	int64_t xd[2] = {256, 6}, yd[1] = {256};
	rt_tensor *tx = rt_tensors_add(&ts, "x", RT_F64, 2, xd);
	rt_tensor *ty = rt_tensors_add(&ts, "y", RT_F64, 1, yd);
	for (int i = 0; i < 256 * 6; i++) {
		int v = (i * 7 + i / 6) % 256; /* every byte value, in no simple order */
		buf[12 + i] = (unsigned char)v;
		((double *)tx->data)[i] = v;
	}
	for (int i = 0; i < 256; i++)
		((double *)ty->data)[i] = i % 3;
	char path[4200];
	snprintf(path, sizeof path, "%s/all.idx", f->dir);
	write_file(path, buf, sizeof buf);
	snprintf(path, sizeof path, "%s/all.safetensors", f->dir);
	rt_err err = {{0}};
	assert_int_equal(rt_st_write(path, &ts, NULL, &err), 0);
	rt_tensors_free(&ts);

	data_config di = {.format = "idx", .ntrain = 2, .scale = 1 / 255.0, .mean = {{0.2860}, 1},
	                  .std = {{0.3530}, 1}};
	di.train[0] = (data_file){"x", "all.idx"};
	di.train[1] = (data_file){"y", "lab256.idx"};
	unsigned char lab[8 + 256] = {0, 0, 8, 1, 0, 0, 1, 0};
	for (int i = 0; i < 256; i++)
		lab[8 + i] = (unsigned char)(i % 3);
	snprintf(path, sizeof path, "%s/lab256.idx", f->dir);
	write_file(path, lab, sizeof lab);
	data_config dt = di;
	dt.format = "safetensors";
	dt.train[0] = (data_file){"x", "all.safetensors"};
	dt.train[1] = (data_file){"y", "all.safetensors"};
	rt_dataset a, b;
	assert_int_equal(rt_dataset_load(&a, &di, 0, f->dir, &f->x, &err), 0);
	assert_int_equal(rt_dataset_load(&b, &dt, 0, f->dir, &f->x, &err), 0);
	assert_non_null(a.col[0].lut);
	assert_null(b.col[0].lut);
	for (int e = 0; e < 256; e++) {
		float xa[6], xb[6];
		assert_int_equal(example(&a, e, xa), example(&b, e, xb));
		assert_memory_equal(xa, xb, sizeof xa);
		for (int j = 0; j < 6; j++) {
			int v = ((e * 6 + j) * 7 + e) % 256;
			assert_true(xa[j] == (float)((v * (1 / 255.0) - 0.2860) / 0.3530));
		}
	}
	rt_dataset_free(&a);
	rt_dataset_free(&b);
}

static void test_shuffle_deterministic(void **state)
{
	(void)state;
	int64_t a[1000], b[1000], c[1000];
	rt_dataset_order(1000, 7, 3, a);
	rt_dataset_order(1000, 7, 3, b);
	rt_dataset_order(1000, 7, 4, c);
	assert_memory_equal(a, b, sizeof a);
	assert_memory_not_equal(a, c, sizeof a);
	char seen[1000] = {0};
	int moved = 0;
	for (int i = 0; i < 1000; i++) {
		assert_true(a[i] >= 0 && a[i] < 1000);
		assert_false(seen[a[i]]);
		seen[a[i]] = 1;
		moved += a[i] != i;
	}
	assert_true(moved > 900); /* a shuffle, not the identity */
	rt_dataset_order(1000, 8, 3, b);
	assert_memory_not_equal(a, b, sizeof a);
}

static void test_batches_pad_and_mask(void **state)
{
	fixture *f = *state;
	data_config dc = idx_config("img.idx", "lab.idx");
	rt_dataset ds;
	rt_err err = {{0}};
	assert_int_equal(rt_dataset_load(&ds, &dc, 1, f->dir, &f->x, &err), 0);
	assert_int_equal(rt_dataset_nbatches(10, B, 0), 3);
	assert_int_equal(rt_dataset_nbatches(10, B, 1), 2);
	assert_int_equal(rt_dataset_nbatches(3, B, 1), 0);
	int64_t order[10];
	for (int i = 0; i < 10; i++)
		order[i] = 9 - i;
	float xb[B * 6], mask[B];
	int32_t yb[B];
	void *dst[2] = {xb, yb};
	/* Last batch of the eval split: examples 1, 0 then two zero rows. */
	assert_int_equal(rt_dataset_fill(&ds, order, 8, B, RT_PAD_ZERO, dst, mask, RT_F32, NULL), 2);
	assert_true(mask[0] == 1 && mask[1] == 1 && mask[2] == 0 && mask[3] == 0);
	assert_int_equal(yb[0], 1);
	assert_int_equal(yb[1], 0);
	assert_true(xb[0] == (float)((6 * 0.5 - 1) / 2)); /* example 1 starts at raw 6 */
	for (int i = 12; i < 24; i++)
		assert_true(xb[i] == 0.0f);
	assert_int_equal(yb[3], 0);
	/* Training wraps around to the start of the order instead. */
	double maskd[B];
	assert_int_equal(rt_dataset_fill(&ds, order, 8, B, RT_PAD_WRAP, dst, maskd, RT_F64, NULL), 2);
	assert_int_equal(yb[2], 9 % 3); /* order[0] = 9 */
	assert_int_equal(yb[3], 8 % 3);
	assert_true(maskd[1] == 1.0 && maskd[2] == 0.0);
	rt_dataset_free(&ds);
}

/* Split over a pool's threads, a batch is the one a single thread fills. */
static void test_fill_over_pool(void **state)
{
	fixture *f = *state;
	data_config dc = idx_config("img.idx", "lab.idx");
	rt_dataset ds;
	rt_err err = {{0}};
	assert_int_equal(rt_dataset_load(&ds, &dc, 1, f->dir, &f->x, &err), 0);
	enum { N = 37 }; /* rows past the 10 examples: padded */
	int64_t order[10];
	rt_dataset_order(10, 3, 0, order);
	float x1[N * 6], x2[N * 6], m1[N], m2[N];
	int32_t y1[N], y2[N];
	void *d1[2] = {x1, y1}, *d2[2] = {x2, y2};
	rt_pool *pool = rt_pool_new(3);
	assert_non_null(pool);
	for (int pad = 0; pad < 2; pad++) {
		rt_pad_mode pm = pad ? RT_PAD_ZERO : RT_PAD_WRAP;
		memset(x2, 0xff, sizeof x2);
		assert_int_equal(rt_dataset_fill(&ds, order, 0, N, pm, d1, m1, RT_F32, NULL), 10);
		assert_int_equal(rt_dataset_fill(&ds, order, 0, N, pm, d2, m2, RT_F32, pool), 10);
		assert_memory_equal(x1, x2, sizeof x1);
		assert_memory_equal(y1, y2, sizeof y1);
		assert_memory_equal(m1, m2, sizeof m1);
	}
	rt_pool_free(pool);
	rt_dataset_free(&ds);
}

static void assert_load_fails(fixture *f, const data_config *dc, const char *want)
{
	rt_dataset ds;
	rt_err err = {{0}};
	assert_int_equal(rt_dataset_load(&ds, dc, 0, f->dir, &f->x, &err), -1);
	if (!strstr(err.msg, want))
		fail_msg("expected '%s' in: %s", want, err.msg);
	assert_null(ds.col);
}

static void test_errors(void **state)
{
	fixture *f = *state;
	/* 9 labels for 10 images. */
	unsigned char lab[8 + 9] = {0, 0, 8, 1, 0, 0, 0, 9};
	char path[4200];
	snprintf(path, sizeof path, "%s/lab9.idx", f->dir);
	write_file(path, lab, sizeof lab);
	data_config dc = idx_config("img.idx", "lab9.idx");
	assert_load_fails(f, &dc, "'x' has 10 examples");
	assert_load_fails(f, &dc, "but 'y' has 9");
	/* A label outside [0, 3). */
	unsigned char bad[8 + 10] = {0, 0, 8, 1, 0, 0, 0, 10, 0, 1, 2, 0, 1, 5};
	snprintf(path, sizeof path, "%s/labbad.idx", f->dir);
	write_file(path, bad, sizeof bad);
	dc = idx_config("img.idx", "labbad.idx");
	assert_load_fails(f, &dc, "labbad.idx: label 5 at index 5 is out of range");
	/* 2x4 images do not fit a [B,6] input. */
	uint32_t dim[3] = {10, 2, 4};
	write_idx(f, "img8.idx", 3, dim, 0);
	dc = idx_config("img8.idx", "lab.idx");
	assert_load_fails(f, &dc, "img8.idx: examples of shape [10,2,4] (8 values each) do not fit "
	                  "input 'x' of shape [4,6] (6 values per example)");
	/* Missing binding and a binding to something that is not an input. */
	dc = idx_config("img.idx", "lab.idx");
	dc.ntrain = 1;
	assert_load_fails(f, &dc, "input 'y' has no train file");
	dc.ntrain = 2;
	dc.train[1].input = "w";
	assert_load_fails(f, &dc, "bound to 'w', which is not an input");
	dc = idx_config("img.idx", "nothere.idx");
	assert_load_fails(f, &dc, "nothere.idx");
	dc = idx_config("img.idx", "lab.idx");
	dc.format = "parquet";
	assert_load_fails(f, &dc, "data format 'parquet' is not supported");
}

/* One CSV holds both: the "y" column feeds y, the other columns feed x. */
static void test_csv_and_safetensors(void **state)
{
	fixture *f = *state;
	char path[4200];
	snprintf(path, sizeof path, "%s/d.csv", f->dir);
	FILE *fp = fopen(path, "w");
	fprintf(fp, "a,b,y,c,d,e,g\n");
	for (int i = 0; i < 5; i++)
		fprintf(fp, "%d,%d,%d,%d,%d,%d,%d\n", i, i + 1, i % 3, i + 2, i + 3, i + 4, i + 5);
	fclose(fp);
	data_config dc = {.format = "csv", .ntrain = 2};
	dc.train[0] = (data_file){"x", "d.csv"};
	dc.train[1] = (data_file){"y", "d.csv"};
	rt_dataset ds;
	rt_err err = {{0}};
	assert_int_equal(rt_dataset_load(&ds, &dc, 0, f->dir, &f->x, &err), 0);
	assert_int_equal(ds.n, 5);
	const float *x = ds.col[0].data;
	const int32_t *y = ds.col[1].data;
	float want[6] = {3, 4, 5, 6, 7, 8}; /* row 3 without its y column */
	assert_memory_equal(&x[18], want, sizeof want);
	assert_int_equal(y[4], 1);
	rt_dataset_free(&ds);

	/* safetensors: tensors named after the inputs. */
	rt_tensors ts = {0};
	int64_t xd[2] = {3, 6}, yd[1] = {3};
	rt_tensor *tx = rt_tensors_add(&ts, "x", RT_F64, 2, xd);
	for (int i = 0; i < 18; i++)
		((double *)tx->data)[i] = i * 0.25;
	rt_tensor *ty = rt_tensors_add(&ts, "y", RT_I64, 1, yd);
	((int64_t *)ty->data)[2] = 2;
	snprintf(path, sizeof path, "%s/d.safetensors", f->dir);
	assert_int_equal(rt_st_write(path, &ts, NULL, &err), 0);
	rt_tensors_free(&ts);
	dc = (data_config){.format = "safetensors", .ntest = 2};
	dc.test[0] = (data_file){"x", "d.safetensors"};
	dc.test[1] = (data_file){"y", "d.safetensors"};
	assert_int_equal(rt_dataset_load(&ds, &dc, 1, f->dir, &f->x, &err), 0);
	assert_int_equal(ds.n, 3);
	assert_true(((float *)ds.col[0].data)[17] == 4.25f);
	assert_int_equal(((int32_t *)ds.col[1].data)[2], 2);
	rt_dataset_free(&ds);
}

/* data.val_split: the held-out rows are a function of (n, fraction, seed)
 * alone, disjoint from the rows left to train on, and both keep their file
 * order and their bytes (IDX bytes behind a lookup table here). */
static void test_hold_out(void **state)
{
	fixture *f = *state;
	data_config dc = idx_config("img.idx", "lab.idx");
	rt_err err = {{0}};
	int64_t rows[10], again[10];
	assert_int_equal(rt_dataset_val_rows(10, 0.25, 5, rows), 3); /* 2.5 rounds up */
	assert_int_equal(rt_dataset_val_rows(10, 0.25, 5, again), 3);
	assert_memory_equal(rows, again, 3 * sizeof *rows);
	int differs = 0;
	for (uint64_t seed = 6; seed < 10; seed++) {
		assert_int_equal(rt_dataset_val_rows(10, 0.25, seed, again), 3);
		differs |= memcmp(rows, again, 3 * sizeof *rows) != 0;
	}
	assert_true(differs); /* the seed chooses the rows */
	assert_true(rows[0] < rows[1] && rows[1] < rows[2] && rows[0] >= 0 && rows[2] < 10);
	assert_int_equal(rt_dataset_val_rows(10, 0.04, 5, again), -1); /* no row */
	assert_int_equal(rt_dataset_val_rows(1, 0.5, 5, again), -1);   /* no row left */

	rt_dataset ds, val;
	assert_int_equal(rt_dataset_load(&ds, &dc, RT_SPLIT_TRAIN, f->dir, &f->x, &err), 0);
	assert_int_equal(rt_dataset_hold_out(&ds, 0.25, 5, &val, &err), 0);
	assert_int_equal(val.n, 3);
	assert_int_equal(ds.n, 7);
	assert_non_null(val.col[0].lut);
	int64_t t = 0, v = 0;
	for (int64_t e = 0; e < 10; e++) {
		int held = v < 3 && rows[v] == e;
		float x[6];
		int32_t y = example(held ? &val : &ds, held ? v++ : t++, x);
		assert_int_equal(y, e % 3);
		assert_true(x[0] == (float)((6.0 * (double)e * 0.5 - 1) / 2)); /* pixel 6e */
	}
	rt_dataset_free(&ds);
	rt_dataset_free(&val);

	assert_int_equal(rt_dataset_load(&ds, &dc, RT_SPLIT_TRAIN, f->dir, &f->x, &err), 0);
	assert_int_equal(rt_dataset_hold_out(&ds, 0.01, 5, &val, &err), -1);
	assert_non_null(strstr(err.msg, "data.val_split = 0.01 of the 10 training examples"));
	assert_non_null(strstr(err.msg, "holds out no example"));
	rt_dataset_free(&ds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_idx_load_normalise),
		cmocka_unit_test(test_bytes_match_converted),
		cmocka_unit_test(test_shuffle_deterministic),
		cmocka_unit_test(test_batches_pad_and_mask),
		cmocka_unit_test(test_fill_over_pool),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_csv_and_safetensors),
		cmocka_unit_test(test_hold_out),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
