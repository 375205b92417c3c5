/*
 * test_cifar_npy.c - the binary CIFAR-10/CIFAR-100 reader and the NumPy .npy
 * reader on files written here in the exact formats, malformed ones
 * included (each with the error it must give), and both formats bound to a
 * step's inputs through rt_dataset_load; and IDX images into a 4-D input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rt_data.h"
#include "rt_dataset.h"

#define TMPDIR_PREFIX "test_cifar_npy"
#include "test_tmpdir.h"

enum { REC10 = 3073, REC100 = 3074, B = 2 };

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Pixel p (0..3071, plane-major) of record r: a pattern unique enough to
 * catch a plane or record out of place. */
static unsigned char pixel(int r, int p)
{
	return (unsigned char)(r * 31 + p * 7 + p / 1024);
}

/* Writes n CIFAR records (labels label0 + r, CIFAR-100's coarse label r % 20
 * unless `coarse` >= 0) numbered from r0, minus `cut` bytes at the end;
 * path receives dir/name. */
static void put_cifar(void **state, char *path, const char *name, int cifar100, int r0, int n,
                      int label0, int coarse, int cut)
{
	int rec = cifar100 ? REC100 : REC10;
	unsigned char *buf = malloc((size_t)rec * (size_t)n + 1);
	assert_non_null(buf);
	for (int r = 0; r < n; r++) {
		unsigned char *p = buf + (size_t)r * (size_t)rec;
		if (cifar100)
			*p++ = (unsigned char)(coarse >= 0 ? coarse : (r0 + r) % 20);
		*p++ = (unsigned char)(label0 + r0 + r);
		for (int i = 0; i < 3072; i++)
			p[i] = pixel(r0 + r, i);
	}
	snprintf(path, 4200, "%s/%s", (char *)*state, name);
	write_file(path, buf, (size_t)rec * (size_t)n - (size_t)cut);
	free(buf);
}

static void check_cifar(const char *const *paths, int npaths, int cifar100, int n, int label0)
{
	rt_tensor t;
	rt_err err = {{0}};
	if (rt_cifar_read(paths, npaths, cifar100, 0, &t, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(t.dtype, RT_U8);
	assert_int_equal(t.rank, 4);
	assert_true(t.dim[0] == n && t.dim[1] == 3 && t.dim[2] == 32 && t.dim[3] == 32);
	const unsigned char *d = t.data;
	for (int r = 0; r < n; r++)
		for (int i = 0; i < 3072; i++)
			if (d[(size_t)r * 3072 + (size_t)i] != pixel(r, i))
				fail_msg("record %d pixel %d: %d, expected %d", r, i, d[r * 3072 + i],
				         pixel(r, i));
	rt_tensor_free(&t);
	if (rt_cifar_read(paths, npaths, cifar100, 1, &t, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(t.rank, 1);
	assert_int_equal(t.dim[0], n);
	for (int r = 0; r < n; r++)
		assert_int_equal(((unsigned char *)t.data)[r], label0 + r);
	rt_tensor_free(&t);
}

static void test_cifar10_files_in_order(void **state)
{
	char p1[4200], p2[4200];
	put_cifar(state, p1, "data_batch_1.bin", 0, 0, 3, 0, -1, 0);
	put_cifar(state, p2, "data_batch_2.bin", 0, 3, 2, 0, -1, 0);
	const char *both[] = {p1, p2};
	check_cifar(both, 2, 0, 5, 0);
	check_cifar(both, 1, 0, 3, 0);
}

/* Labels 90..92: only the fine (second) byte can hold them. */
static void test_cifar100_fine_label(void **state)
{
	char p[4200];
	put_cifar(state, p, "train.bin", 1, 0, 3, 90, -1, 0);
	const char *one[] = {p};
	check_cifar(one, 1, 1, 3, 90);
}

static void expect_cifar_error(const char *path, int cifar100, int labels, const char *want)
{
	rt_tensor t;
	rt_err err = {{0}};
	const char *one[] = {path};
	assert_int_not_equal(rt_cifar_read(one, 1, cifar100, labels, &t, &err), 0);
	if (!strstr(err.msg, want) || !strstr(err.msg, path))
		fail_msg("message '%s' lacks '%s' or the path", err.msg, want);
	assert_null(t.data);
}

static void test_cifar_malformed(void **state)
{
	char p[4200];
	put_cifar(state, p, "short.bin", 0, 0, 2, 0, -1, 5);
	expect_cifar_error(p, 0, 0, "6141 bytes is not a whole number of CIFAR-10 records");
	expect_cifar_error(p, 0, 1, "short by 5 bytes");
	/* A CIFAR-10 file read as CIFAR-100: 2 * 3073 is no multiple of 3074. */
	put_cifar(state, p, "ten.bin", 0, 0, 2, 0, -1, 0);
	expect_cifar_error(p, 1, 0, "not a whole number of CIFAR-100 records (3074 bytes each");
	put_cifar(state, p, "empty.bin", 0, 0, 0, 0, -1, 0);
	expect_cifar_error(p, 0, 0, "empty file");
	/* Labels 8, 9, 10: the third record's is out of range. */
	put_cifar(state, p, "label.bin", 0, 0, 3, 8, -1, 0);
	expect_cifar_error(p, 0, 1, "record 2 has label 10: CIFAR-10 labels are 0 to 9");
	expect_cifar_error(p, 0, 0, "record 2 has label 10");
	put_cifar(state, p, "fine.bin", 1, 0, 2, 99, -1, 0);
	expect_cifar_error(p, 1, 1, "record 1 has label 100: CIFAR-100 labels are 0 to 99");
	put_cifar(state, p, "coarse.bin", 1, 0, 2, 0, 20, 0);
	expect_cifar_error(p, 1, 1, "record 0 has coarse label 20");
	snprintf(p, sizeof p, "%s/missing.bin", (char *)*state);
	expect_cifar_error(p, 0, 0, "cannot open");
}

/* A .npy file: version `major`, header dict `dict` padded as numpy pads it
 * (to a multiple of 64 bytes, ending in a newline), then n data bytes. */
static void put_npy(void **state, char *path, const char *name, int major, const char *dict,
                    const void *data, size_t n)
{
	unsigned char buf[8192];
	int pre = major == 1 ? 10 : 12;
	size_t dl = strlen(dict), hl = dl + 1;
	while ((pre + hl) % 64)
		hl++;
	memcpy(buf, "\x93NUMPY", 6);
	buf[6] = (unsigned char)major, buf[7] = 0;
	for (int i = 0; i < pre - 8; i++)
		buf[8 + i] = (unsigned char)(hl >> (8 * i));
	memcpy(buf + pre, dict, dl);
	memset(buf + pre + dl, ' ', hl - dl - 1);
	buf[pre + hl - 1] = '\n';
	assert_true(pre + hl + n <= sizeof buf);
	memcpy(buf + pre + hl, data, n);
	snprintf(path, 4200, "%s/%s", (char *)*state, name);
	write_file(path, buf, pre + hl + n);
}

static void test_npy_dtypes_and_versions(void **state)
{
	char p[4200];
	float f[6] = {0.5f, -1, 2, 3.25f, 4, 5};
	double d[3] = {1e-300, -2, 3};
	int32_t i4[2] = {-7, 2147483647};
	int64_t i8[3] = {0, 9, -(INT64_C(1) << 40)};
	unsigned char u1[4] = {0, 1, 254, 255};
	const struct {
		int major;
		const char *dict;
		const void *data;
		size_t n;
		rt_dtype dtype;
		int rank;
		int64_t d0, d1;
	} cases[] = {
		{1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", f, sizeof f, RT_F32,
		 2, 2, 3},
		{2, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", d, sizeof d, RT_F64, 1,
		 3, 0},
		{1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", i4, sizeof i4, RT_I32,
		 1, 2, 0},
		{3, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", i8, sizeof i8, RT_I64,
		 1, 3, 0},
		{1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", u1, sizeof u1, RT_U8,
		 2, 2, 2},
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		put_npy(state, p, "a.npy", cases[c].major, cases[c].dict, cases[c].data, cases[c].n);
		rt_tensor t;
		rt_err err = {{0}};
		if (rt_npy_read(p, &t, &err))
			fail_msg("case %zu: %s", c, err.msg);
		assert_int_equal(t.dtype, cases[c].dtype);
		assert_int_equal(t.rank, cases[c].rank);
		assert_int_equal(t.dim[0], cases[c].d0);
		if (t.rank > 1)
			assert_int_equal(t.dim[1], cases[c].d1);
		assert_int_equal(rt_tensor_bytes(&t), cases[c].n);
		assert_memory_equal(t.data, cases[c].data, cases[c].n);
		rt_tensor_free(&t);
	}
}

static void expect_npy_error(void **state, int major, const char *dict, size_t n,
                             const char *want)
{
	static const unsigned char zeros[64];
	char p[4200];
	put_npy(state, p, "bad.npy", major, dict, zeros, n);
	rt_tensor t;
	rt_err err = {{0}};
	assert_int_not_equal(rt_npy_read(p, &t, &err), 0);
	if (!strstr(err.msg, want) || !strstr(err.msg, p))
		fail_msg("message '%s' lacks '%s' or the path", err.msg, want);
	assert_null(t.data);
}

static void test_npy_malformed(void **state)
{
	const char *f23 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
	expect_npy_error(state, 1, f23, 20, "truncated .npy data: the header's shape needs 24 bytes");
	expect_npy_error(state, 1, f23, 28, "trailing bytes after the 24 bytes");
	expect_npy_error(state, 4, f23, 24, ".npy version 4.0 is not supported");
	expect_npy_error(state, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24,
	                 "Fortran order");
	expect_npy_error(state, 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }",
	                 12, ".npy dtype '<f2' is not supported");
	expect_npy_error(state, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }",
	                 24, "big-endian");
	expect_npy_error(state, 1, "{'descr': '<f4', 'fortran_order': False}", 24,
	                 "bad .npy header");
	expect_npy_error(state, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", 24,
	                 "unreadable 'shape'");
	expect_npy_error(state, 1,
	                 "{'descr': '<f4', 'fortran_order': False, "
	                 "'shape': (65536, 65536, 65536, 65536), }",
	                 24, "absurdly large");
	char p[4200];
	snprintf(p, sizeof p, "%s/magic.npy", (char *)*state);
	write_file(p, "\x93NUMPZ\x01\x00\x10\x00{}", 12);
	rt_tensor t;
	rt_err err = {{0}};
	assert_int_not_equal(rt_npy_read(p, &t, &err), 0);
	assert_non_null(strstr(err.msg, "not a .npy file: the magic string"));
	write_file(p, "\x93NUM", 4);
	assert_int_not_equal(rt_npy_read(p, &t, &err), 0);
	assert_non_null(strstr(err.msg, "shorter than the 10-byte preamble"));
}

/* A step with an image input x of shape xshape and labels y (10 classes). */
typedef struct {
	rt_slot s[2];
	rt_exec x;
} step;

static void make_step(step *st, int xrank, const int64_t *xdim)
{
	memset(st, 0, sizeof *st);
	st->s[0] = (rt_slot){.name = "x", .role = RT_SLOT_INPUT, .dtype = RT_F32, .rank = xrank};
	memcpy(st->s[0].dim, xdim, sizeof(int64_t) * (size_t)xrank);
	st->s[1] = (rt_slot){.name = "y", .role = RT_SLOT_INPUT, .dtype = RT_I32, .rank = 1,
	                     .dim = {B}, .nclasses = 10};
	st->x = (rt_exec){.backend = "test", .slots = st->s, .nslots = 2};
}

static void test_cifar_dataset(void **state)
{
	char p[4200];
	put_cifar(state, p, "data_batch_1.bin", 0, 0, 3, 0, -1, 0);
	put_cifar(state, p, "data_batch_2.bin", 0, 3, 2, 0, -1, 0);
	data_config dc = {.format = "cifar10", .ntrain = 2, .scale = 1 / 255.0, .mean = {{0.5}, 1},
	                  .std = {{0.25}, 1}};
	dc.train[0] = (data_file){"x", " data_batch_1.bin, data_batch_2.bin"};
	dc.train[1] = (data_file){"y", "data_batch_1.bin,data_batch_2.bin"};
	const int64_t d4[4] = {B, 3, 32, 32}, d2[2] = {B, 3072};
	for (int flat = 0; flat < 2; flat++) {
		step st;
		make_step(&st, flat ? 2 : 4, flat ? d2 : d4);
		rt_dataset ds;
		rt_err err = {{0}};
		if (rt_dataset_load(&ds, &dc, 0, (char *)*state, &st.x, &err))
			fail_msg("%s", err.msg);
		assert_int_equal(ds.n, 5);
		int64_t order[2] = {4, 1};
		float x[B * 3072];
		int32_t y[B];
		void *dst[2] = {x, y};
		assert_int_equal(rt_dataset_fill(&ds, order, 0, B, RT_PAD_ZERO, dst, NULL, RT_F32, NULL),
		                 B);
		assert_int_equal(y[0], 4);
		assert_int_equal(y[1], 1);
		/* The G plane's first pixel of example 1 (second row of the batch). */
		float want = (float)((pixel(1, 1024) * (1 / 255.0) - 0.5) / 0.25);
		assert_true(x[3072 + 1024] == want);
		rt_dataset_free(&ds);
	}
	/* A bad file in the list is named. */
	put_cifar(state, p, "cut.bin", 0, 0, 2, 0, -1, 1);
	dc.train[1].path = dc.train[0].path = "data_batch_1.bin,cut.bin";
	step st;
	make_step(&st, 4, d4);
	rt_dataset ds;
	rt_err err = {{0}};
	assert_int_equal(rt_dataset_load(&ds, &dc, 0, (char *)*state, &st.x, &err), -1);
	assert_non_null(strstr(err.msg, "cut.bin: 6145 bytes is not a whole number"));
}

static void test_npy_dataset(void **state)
{
	char p[4200];
	float xs[4 * 6];
	for (int i = 0; i < 24; i++)
		xs[i] = (float)i / 4;
	int64_t ys[4] = {3, 1, 4, 1};
	put_npy(state, p, "x.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 2, 3), }",
	        xs, sizeof xs);
	put_npy(state, p, "y.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }", ys,
	        sizeof ys);
	put_npy(state, p, "x32.npy", 1,
	        "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3, 2), }", xs, sizeof xs);
	int64_t bad[4] = {3, 1, 10, 1};
	put_npy(state, p, "ybad.npy", 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }",
	        bad, sizeof bad);
	data_config dc = {.format = "npy", .ntrain = 2};
	dc.train[0] = (data_file){"x", "x.npy"};
	dc.train[1] = (data_file){"y", "y.npy"};
	const int64_t d3[3] = {B, 2, 3};
	step st;
	make_step(&st, 3, d3);
	rt_dataset ds;
	rt_err err = {{0}};
	if (rt_dataset_load(&ds, &dc, 0, (char *)*state, &st.x, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(ds.n, 4);
	int64_t order[2] = {2, 0};
	float x[B * 6];
	int32_t y[B];
	void *dst[2] = {x, y};
	assert_int_equal(rt_dataset_fill(&ds, order, 0, B, RT_PAD_ZERO, dst, NULL, RT_F32, NULL), B);
	assert_int_equal(y[0], 4);
	assert_int_equal(y[1], 3);
	assert_memory_equal(x, xs + 12, 6 * sizeof(float));
	assert_memory_equal(x + 6, xs, 6 * sizeof(float));
	rt_dataset_free(&ds);
	/* Same element count, other shape: refused, unlike IDX. */
	dc.train[0].path = "x32.npy";
	assert_int_equal(rt_dataset_load(&ds, &dc, 0, (char *)*state, &st.x, &err), -1);
	if (!strstr(err.msg, "x32.npy: array of shape [4,3,2] does not fit input 'x' of shape [2,2,3]"))
		fail_msg("%s", err.msg);
	dc.train[0].path = "x.npy";
	dc.train[1].path = "ybad.npy";
	assert_int_equal(rt_dataset_load(&ds, &dc, 0, (char *)*state, &st.x, &err), -1);
	if (!strstr(err.msg, "ybad.npy") || !strstr(err.msg, "out of range"))
		fail_msg("%s", err.msg);
}

/* IDX images [N,2,3] feed a 4-D input [B,1,2,3] as they feed [B,6]. */
static void test_idx_images_4d(void **state)
{
	char p[4200];
	unsigned char img[4 + 12 + 4 * 6] = {0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 3};
	unsigned char lab[8 + 4] = {0, 0, 8, 1, 0, 0, 0, 4, 7, 8, 9, 0};
	for (int i = 0; i < 24; i++)
		img[16 + i] = (unsigned char)(i * 10);
	snprintf(p, sizeof p, "%s/img.idx", (char *)*state);
	write_file(p, img, sizeof img);
	snprintf(p, sizeof p, "%s/lab.idx", (char *)*state);
	write_file(p, lab, sizeof lab);
	data_config dc = {.format = "idx", .ntrain = 2, .scale = 0.5};
	dc.train[0] = (data_file){"x", "img.idx"};
	dc.train[1] = (data_file){"y", "lab.idx"};
	const int64_t d4[4] = {B, 1, 2, 3};
	step st;
	make_step(&st, 4, d4);
	rt_dataset ds;
	rt_err err = {{0}};
	if (rt_dataset_load(&ds, &dc, 0, (char *)*state, &st.x, &err))
		fail_msg("%s", err.msg);
	int64_t order[2] = {3, 1};
	float x[B * 6];
	int32_t y[B];
	void *dst[2] = {x, y};
	assert_int_equal(rt_dataset_fill(&ds, order, 0, B, RT_PAD_ZERO, dst, NULL, RT_F32, NULL), B);
	assert_int_equal(y[0], 0);
	assert_int_equal(y[1], 8);
	for (int i = 0; i < 6; i++) {
		assert_true(x[i] == (float)((18 + i) * 10 * 0.5));
		assert_true(x[6 + i] == (float)((6 + i) * 10 * 0.5));
	}
	rt_dataset_free(&ds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cifar10_files_in_order, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_cifar100_fine_label, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_cifar_malformed, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_npy_dtypes_and_versions, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_npy_malformed, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_cifar_dataset, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_npy_dataset, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_idx_images_4d, setup_dir, teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
