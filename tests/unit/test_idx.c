/*
 * test_idx.c - the IDX reader on generated raw and gzip files and on the
 * real Fashion-MNIST test set (skipped where the Debian package is absent),
 * with one test per malformed file; and the label range check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "rt_data.h"

/* Where Debian's dataset-fashion-mnist installs the files. */
#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

#define TMPDIR_PREFIX "test_idx"
#include "test_tmpdir.h"

/* Builds an IDX image in memory: magic 00 00 <type> <rank>, dims, data
 * bytes 0, 1, 2, ... (mod 256), then `extra` garbage bytes, minus `cut`
 * bytes at the end. */
static size_t make_idx(unsigned char *out, int type, int rank, const uint32_t *dim,
                       int extra, int cut)
{
	size_t n = 0, numel = 1;
	out[n++] = 0;
	out[n++] = 0;
	out[n++] = (unsigned char)type;
	out[n++] = (unsigned char)rank;
	for (int i = 0; i < rank; i++) {
		for (int s = 24; s >= 0; s -= 8)
			out[n++] = (unsigned char)(dim[i] >> s);
		numel *= dim[i];
	}
	for (size_t i = 0; i < numel; i++)
		out[n++] = (unsigned char)i;
	for (int i = 0; i < extra; i++)
		out[n++] = 0xee;
	return n - (size_t)cut;
}

static void write_file(const char *path, const void *b, size_t n, int gz)
{
	if (gz) {
		gzFile g = gzopen(path, "wb");
		assert_non_null(g);
		assert_int_equal(gzwrite(g, b, (unsigned)n), (int)n);
		assert_int_equal(gzclose(g), Z_OK);
	} else {
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(b, 1, n, f), n);
		assert_int_equal(fclose(f), 0);
	}
}

static unsigned char buf[1 << 16];

/* Writes an IDX file into the test dir, returns its path in `path`. */
static void put(void **state, char *path, const char *name, int type, int rank,
                const uint32_t *dim, int extra, int cut, int gz)
{
	snprintf(path, 4200, "%s/%s", (char *)*state, name);
	write_file(path, buf, make_idx(buf, type, rank, dim, extra, cut), gz);
}

static void expect_error(const char *path, const char *want)
{
	rt_tensor t;
	rt_err err = {{0}};
	assert_int_not_equal(rt_idx_read(path, RT_F32, &t, &err), 0);
	if (!strstr(err.msg, want) || !strstr(err.msg, path))
		fail_msg("message '%s' lacks '%s' or the path", err.msg, want);
	assert_null(t.data);
}

static void check_generated(void **state, int gz)
{
	char path[4200];
	const uint32_t dim[] = {3, 4, 5};
	put(state, path, gz ? "img.gz" : "img.idx", 0x08, 3, dim, 0, 0, gz);
	rt_tensor t;
	rt_err err = {{0}};
	const rt_dtype wants[] = {RT_U8, RT_F32, RT_I32, RT_F64, RT_I64};
	for (size_t w = 0; w < sizeof wants / sizeof wants[0]; w++) {
		if (rt_idx_read(path, wants[w], &t, &err) != 0)
			fail_msg("%s", err.msg);
		assert_int_equal(t.dtype, wants[w]);
		assert_int_equal(t.rank, 3);
		assert_int_equal(t.dim[0], 3);
		assert_int_equal(t.dim[1], 4);
		assert_int_equal(t.dim[2], 5);
		for (int64_t i = 0; i < 60; i++)
			assert_true(rt_tensor_get(&t, i) == (double)i);
		rt_tensor_free(&t);
	}
}

static void test_generated_raw(void **state)
{
	check_generated(state, 0);
}

static void test_generated_gz(void **state)
{
	check_generated(state, 1);
}

static void test_labels_rank1(void **state)
{
	char path[4200];
	const uint32_t dim[] = {7};
	put(state, path, "lab.gz", 0x08, 1, dim, 0, 0, 1);
	rt_tensor t;
	rt_err err = {{0}};
	assert_int_equal(rt_idx_read(path, RT_I32, &t, &err), 0);
	assert_int_equal(t.rank, 1);
	assert_int_equal(t.dim[0], 7);
	assert_int_equal(((int32_t *)t.data)[6], 6);
	assert_int_equal(rt_labels_check(path, &t, 7, &err), 0);
	assert_int_not_equal(rt_labels_check(path, &t, 6, &err), 0);
	assert_non_null(strstr(err.msg, "label 6 at index 6 is out of range: expected 0 to 5"));
	rt_tensor_free(&t);
}

static void test_wrong_magic(void **state)
{
	char path[4200];
	const uint32_t dim[] = {4};
	put(state, path, "bad.idx", 0x08, 1, dim, 0, 0, 0);
	buf[0] = 0x50; /* e.g. a PNG or text file */
	write_file(path, buf, 12, 0);
	expect_error(path, "not an IDX file: magic bytes 50 00 08 01");
	put(state, path, "float.idx", 0x0d, 1, dim, 0, 0, 1);
	expect_error(path, "IDX data type 0x0d (float) is not supported");
	put(state, path, "rank0.idx", 0x08, 0, dim, 0, 0, 0);
	expect_error(path, "IDX rank 0 is not supported");
}

static void test_truncated(void **state)
{
	char path[4200];
	const uint32_t dim[] = {10, 10};
	put(state, path, "t.idx", 0x08, 2, dim, 0, 7, 0);
	expect_error(path, "truncated: expected 100 bytes of data, got 93");
	put(state, path, "t.gz", 0x08, 2, dim, 0, 7, 1);
	expect_error(path, "truncated: expected 100 bytes of data, got 93");
	put(state, path, "h.idx", 0x08, 2, dim, 0, 100 + 3, 0);
	expect_error(path, "truncated: header declares 2 dimensions but ends after 5 bytes");
	write_file(path, "\0\0", 2, 0);
	expect_error(path, "truncated: the file has 2 bytes");
}

/* The compressed stream itself cut short (a partial download). */
static void test_truncated_gzip_stream(void **state)
{
	char path[4200];
	const uint32_t dim[] = {50, 50};
	put(state, path, "cut.gz", 0x08, 2, dim, 0, 0, 1);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size / 2), 0);
	expect_error(path, "truncated: expected 2500 bytes of data, got");
}

/* A gzip file cut inside its first block: the count is of decompressed
 * bytes and the message says the stream is cut off. */
static void test_gzip_header_only(void **state)
{
	char path[4200];
	const uint32_t dim[] = {50, 50};
	put(state, path, "ten.gz", 0x08, 2, dim, 0, 0, 1);
	assert_int_equal(truncate(path, 10), 0);
	expect_error(path, "truncated: decompressed, it has 0 bytes, an IDX header needs at least 4 "
	                   "(the gzip stream is cut off: file truncated?)");
	/* all the data, but not the stream's CRC and length trailer */
	put(state, path, "trailer.gz", 0x08, 2, dim, 0, 0, 1);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - 4), 0);
	expect_error(path, "the gzip stream is cut off after the data");
}

/* zlib stops quietly at bytes after the gzip stream; they are an error,
 * as junk inside the stream is. Two gzip members are one valid file. */
static void test_junk_after_gzip(void **state)
{
	char path[4200];
	const uint32_t dim[] = {2, 3};
	put(state, path, "junk.gz", 0x08, 2, dim, 0, 0, 1);
	FILE *f = fopen(path, "ab");
	assert_non_null(f);
	fputs("JUNKJUNK", f);
	assert_int_equal(fclose(f), 0);
	expect_error(path, "trailing garbage: 8 bytes after the end of the gzip stream");

	size_t n = make_idx(buf, 0x08, 2, dim, 0, 0);
	snprintf(path, sizeof path, "%s/two.gz", (char *)*state);
	gzFile g = gzopen(path, "wb");
	assert_non_null(g);
	assert_int_equal(gzwrite(g, buf, 7), 7);
	assert_int_equal(gzclose(g), Z_OK);
	g = gzopen(path, "ab");
	assert_non_null(g);
	assert_int_equal(gzwrite(g, buf + 7, (unsigned)(n - 7)), (int)(n - 7));
	assert_int_equal(gzclose(g), Z_OK);
	rt_tensor t;
	rt_err err = {{0}};
	if (rt_idx_read(path, RT_F32, &t, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(t.dim[1], 3);
	rt_tensor_free(&t);
}

/* zlib's own message starts with the path; it is not said twice. */
static void test_gzip_message_path_once(void **state)
{
	char path[4200];
	const uint32_t dim[] = {50, 50};
	put(state, path, "twice.gz", 0x08, 2, dim, 0, 0, 1);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, -6, SEEK_END), 0);
	fputc(0x5a, f);
	assert_int_equal(fclose(f), 0);
	rt_tensor t;
	rt_err err = {{0}};
	assert_int_not_equal(rt_idx_read(path, RT_F32, &t, &err), 0);
	const char *first = strstr(err.msg, path);
	assert_non_null(first);
	if (strstr(first + strlen(path), path))
		fail_msg("the path is repeated: '%s'", err.msg);
}

static void test_corrupt_gzip(void **state)
{
	char path[4200];
	const uint32_t dim[] = {50, 50};
	put(state, path, "bad.gz", 0x08, 2, dim, 0, 0, 1);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, -6, SEEK_END), 0); /* inside the CRC-32 trailer */
	fputc(0x5a, f);
	assert_int_equal(fclose(f), 0);
	expect_error(path, "corrupt gzip data");
}

static void test_trailing_garbage(void **state)
{
	char path[4200];
	const uint32_t dim[] = {2, 3};
	put(state, path, "tail.idx", 0x08, 2, dim, 5, 0, 0);
	expect_error(path, "trailing garbage after the 6 bytes of data the header declares");
	put(state, path, "tail.gz", 0x08, 2, dim, 1, 0, 1);
	expect_error(path, "trailing garbage");
}

/* Dims whose product is far beyond the data: reported as truncation, without
 * allocating what the header claims. */
static void test_absurd_dims(void **state)
{
	char path[4200];
	const uint32_t dim[] = {0xffffffffu, 0xffffffffu, 2};
	unsigned char hdr[16] = {0, 0, 8, 3};
	for (int i = 0; i < 3; i++)
		for (int s = 0; s < 4; s++)
			hdr[4 + 4 * i + s] = (unsigned char)(dim[i] >> (24 - 8 * s));
	snprintf(path, sizeof path, "%s/huge.idx", (char *)*state);
	write_file(path, hdr, sizeof hdr, 0);
	expect_error(path, "absurdly large");
	const uint32_t big[] = {1u << 20, 1u << 10};
	unsigned char h2[12] = {0, 0, 8, 2};
	for (int i = 0; i < 2; i++)
		for (int s = 0; s < 4; s++)
			h2[4 + 4 * i + s] = (unsigned char)(big[i] >> (24 - 8 * s));
	write_file(path, h2, sizeof h2, 0);
	expect_error(path, "truncated: expected 1073741824 bytes of data, got 0");
}

static void test_missing_file(void **state)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/absent-idx3-ubyte.gz", (char *)*state);
	expect_error(path, "absent-idx3-ubyte.gz: cannot open: No such file or directory");
}

static void test_fashion_mnist(void **state)
{
	const char *img = FMNIST_DIR "/t10k-images-idx3-ubyte.gz";
	const char *lab = FMNIST_DIR "/t10k-labels-idx1-ubyte.gz";
	if (access(img, R_OK) != 0 || access(lab, R_OK) != 0)
		skip();
	rt_tensor x, y;
	rt_err err = {{0}};
	if (rt_idx_read(img, RT_F32, &x, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(x.rank, 3);
	assert_int_equal(x.dim[0], 10000);
	assert_int_equal(x.dim[1], 28);
	assert_int_equal(x.dim[2], 28);
	/* Reference values from Python's gzip module on the same file. */
	double sum = 0, max = 0;
	for (int i = 0; i < 784; i++)
		sum += ((float *)x.data)[i];
	for (int64_t i = 0; i < rt_tensor_numel(&x); i++)
		max = ((float *)x.data)[i] > max ? ((float *)x.data)[i] : max;
	assert_true(sum == 33456.0);
	assert_true(max == 255.0);

	if (rt_idx_read(lab, RT_I32, &y, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(y.rank, 1);
	assert_int_equal(y.dim[0], 10000);
	const int32_t first[] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
	assert_memory_equal(y.data, first, sizeof first);
	int count[10] = {0};
	for (int i = 0; i < 10000; i++)
		count[((int32_t *)y.data)[i]]++;
	for (int c = 0; c < 10; c++)
		assert_int_equal(count[c], 1000);
	assert_int_equal(rt_labels_check(lab, &y, 10, &err), 0);
	assert_int_not_equal(rt_labels_check(lab, &y, 9, &err), 0);
	assert_non_null(strstr(err.msg, "t10k-labels-idx1-ubyte.gz: label 9 at index 0 is out of range"));
	rt_tensor_free(&x);
	rt_tensor_free(&y);
}

static void test_labels_non_integer(void **state)
{
	rt_tensor t;
	const int64_t d[] = {3};
	rt_err err = {{0}};
	assert_int_equal(rt_tensor_init(&t, "y", RT_F32, 1, d), 0);
	rt_tensor_set(&t, 0, 1);
	rt_tensor_set(&t, 1, 2.5);
	assert_int_not_equal(rt_labels_check("y.csv", &t, 5, &err), 0);
	assert_non_null(strstr(err.msg, "y.csv: label at index 1 is 2.5, not an integer"));
	rt_tensor_set(&t, 1, -1);
	assert_int_not_equal(rt_labels_check("y.csv", &t, 5, &err), 0);
	assert_non_null(strstr(err.msg, "label -1 at index 1 is out of range"));
	assert_int_not_equal(rt_labels_check("y.csv", &t, 0, &err), 0);
	rt_tensor_free(&t);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_generated_raw),    T(test_generated_gz),         T(test_labels_rank1),
		T(test_wrong_magic),      T(test_truncated),            T(test_truncated_gzip_stream),
		T(test_corrupt_gzip),     T(test_trailing_garbage),     T(test_absurd_dims),
		T(test_missing_file),     T(test_fashion_mnist),        T(test_labels_non_integer),
		T(test_gzip_header_only), T(test_junk_after_gzip),      T(test_gzip_message_path_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
