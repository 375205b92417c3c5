/*
 * test_safetensors.c - the safetensors reader and writer: round trips over
 * dtypes and shapes, the exact bytes of a small file, one test per kind of
 * malformed file with the message it must produce, atomic writes.
 */
#include <math.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include "rt_safetensors.h"

#define TMPDIR_PREFIX "test_safetensors"
#include "test_tmpdir.h"

static void join(char *out, size_t n, const char *dir, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static int count_entries(const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

/* An in-memory file: length, header (as given, unpadded), data. */
static size_t make_st(unsigned char *out, uint64_t hlen_field, const char *hdr,
                      const void *data, size_t dlen)
{
	for (int i = 0; i < 8; i++)
		out[i] = (unsigned char)(hlen_field >> (8 * i));
	memcpy(out + 8, hdr, strlen(hdr));
	if (dlen)
		memcpy(out + 8 + strlen(hdr), data, dlen);
	return 8 + strlen(hdr) + dlen;
}

/* Parses a header + data that must fail with `want` in the message. */
static void expect_bad(const char *hdr, size_t dlen, const char *want)
{
	static unsigned char buf[8192];
	unsigned char data[1024] = {0};
	assert_true(dlen <= sizeof data);
	size_t n = make_st(buf, strlen(hdr), hdr, data, dlen);
	rt_tensors ts;
	rt_meta meta = {0};
	rt_err err = {{0}};
	assert_int_not_equal(rt_st_parse(buf, n, "ckpt.safetensors", &ts, &meta, &err), 0);
	if (!strstr(err.msg, want))
		fail_msg("message '%s' lacks '%s'", err.msg, want);
	assert_non_null(strstr(err.msg, "ckpt.safetensors"));
	/* Nothing left allocated, nothing half-filled. */
	assert_int_equal(ts.n, 0);
	assert_null(ts.t);
	assert_int_equal(meta.n, 0);
}

static void fill(rt_tensor *t)
{
	for (int64_t i = 0; i < rt_tensor_numel(t); i++)
		rt_tensor_set(t, i, (double)(i % 7) - 3 + (t->dtype == RT_U8 || t->dtype == RT_U32 ? 3 : 0));
}

static void test_round_trip(void **state)
{
	char path[4200];
	join(path, sizeof path, *state, "ckpt.safetensors");
	rt_tensors ts = {0};
	const int64_t d23[] = {2, 3}, d4[] = {4}, d222[] = {2, 2, 2}, d03[] = {0, 3};
	const int64_t d6[] = {1, 1, 1, 1, 1, 3};
	assert_non_null(rt_tensors_add(&ts, "fc1.weight", RT_F32, 2, d23));
	assert_non_null(rt_tensors_add(&ts, "fc1.bias", RT_F64, 1, d4));
	assert_non_null(rt_tensors_add(&ts, "idx", RT_I32, 3, d222));
	assert_non_null(rt_tensors_add(&ts, "step", RT_I64, 0, NULL));
	assert_non_null(rt_tensors_add(&ts, "bytes", RT_U8, 1, d4));
	assert_non_null(rt_tensors_add(&ts, "half", RT_F16, 2, d23));
	assert_non_null(rt_tensors_add(&ts, "brain", RT_BF16, 1, d4));
	assert_non_null(rt_tensors_add(&ts, "empty", RT_F32, 2, d03));
	assert_non_null(rt_tensors_add(&ts, "deep\"name\\x", RT_U32, 6, d6));
	for (int i = 0; i < ts.n; i++)
		fill(&ts.t[i]);
	rt_meta meta = {0};
	rt_meta_set(&meta, "format", "pt");
	rt_meta_set(&meta, "epoch", "3");
	rt_meta_set(&meta, "epoch", "4"); /* replaces */
	rt_err err = {{0}};
	assert_int_equal(rt_st_write(path, &ts, &meta, &err), 0);

	rt_tensors back;
	rt_meta mback = {0};
	if (rt_st_read(path, &back, &mback, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(back.n, ts.n);
	for (int i = 0; i < ts.n; i++) {
		const rt_tensor *a = &ts.t[i], *b = &back.t[i];
		assert_string_equal(a->name, b->name); /* header order kept */
		assert_int_equal(a->dtype, b->dtype);
		assert_int_equal(a->rank, b->rank);
		for (int d = 0; d < a->rank; d++)
			assert_int_equal(a->dim[d], b->dim[d]);
		assert_int_equal(rt_tensor_bytes(a), rt_tensor_bytes(b));
		assert_memory_equal(a->data, b->data, rt_tensor_bytes(a));
	}
	/* Values, not only bytes: -3 stored in F32, 2 in the last U32. */
	assert_true(rt_tensor_get(rt_tensors_find(&back, "fc1.weight"), 0) == -3.0);
	assert_true(rt_tensor_get(rt_tensors_find(&back, "half"), 5) == 2.0);
	assert_true(rt_tensor_get(rt_tensors_find(&back, "deep\"name\\x"), 2) == 2.0);
	assert_null(rt_tensors_find(&back, "nope"));
	assert_int_equal(mback.n, 2);
	assert_string_equal(rt_meta_get(&mback, "format"), "pt");
	assert_string_equal(rt_meta_get(&mback, "epoch"), "4");
	assert_null(rt_meta_get(&mback, "lr"));
	rt_tensors_free(&back);
	rt_meta_free(&mback);
	rt_tensors_free(&ts);
	rt_meta_free(&meta);
}

/* The exact bytes of a small file, laid out by the spec by hand. */
static void test_exact_bytes(void **state)
{
	char path[4200];
	join(path, sizeof path, *state, "a.safetensors");
	rt_tensors ts = {0};
	const int64_t d2[] = {2};
	rt_tensor *a = rt_tensors_add(&ts, "a", RT_F32, 1, d2);
	((float *)a->data)[0] = 1.0f;
	((float *)a->data)[1] = 2.0f;
	rt_tensor *b = rt_tensors_add(&ts, "b", RT_U8, 1, d2);
	((uint8_t *)b->data)[0] = 7;
	((uint8_t *)b->data)[1] = 9;
	rt_err err = {{0}};
	assert_int_equal(rt_st_write(path, &ts, NULL, &err), 0);
	rt_tensors_free(&ts);

	const char *json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	                   "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[8,10]}}";
	size_t hl = strlen(json), padded = (hl + 7) / 8 * 8;
	unsigned char want[256] = {0};
	for (int i = 0; i < 8; i++)
		want[i] = (unsigned char)(padded >> (8 * i));
	memcpy(want + 8, json, hl);
	memset(want + 8 + hl, ' ', padded - hl);
	const unsigned char data[10] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 7, 9};
	memcpy(want + 8 + padded, data, 10);

	unsigned char got[256];
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t n = fread(got, 1, sizeof got, f);
	fclose(f);
	assert_int_equal(n, 8 + padded + 10);
	assert_memory_equal(got, want, n);
}

static void test_atomic_write(void **state)
{
	char path[4200], bad[4300];
	join(path, sizeof path, *state, "w.safetensors");
	rt_tensors ts = {0};
	const int64_t d3[] = {3};
	rt_tensor *t = rt_tensors_add(&ts, "x", RT_F32, 1, d3);
	((float *)t->data)[2] = 5.0f;
	rt_err err = {{0}};
	assert_int_equal(rt_st_write(path, &ts, NULL, &err), 0);
	/* Overwrite in place: still one file, no temporary left behind. */
	((float *)t->data)[2] = 6.0f;
	assert_int_equal(rt_st_write(path, &ts, NULL, &err), 0);
	assert_int_equal(count_entries(*state), 1);
	rt_tensors back;
	assert_int_equal(rt_st_read(path, &back, NULL, &err), 0);
	assert_true(((float *)back.t[0].data)[2] == 6.0f);
	rt_tensors_free(&back);

	/* A rejected write (duplicate name) leaves the old file as it was. */
	assert_non_null(rt_tensors_add(&ts, "x", RT_F32, 1, d3));
	assert_int_not_equal(rt_st_write(path, &ts, NULL, &err), 0);
	assert_non_null(strstr(err.msg, "duplicate tensor name 'x'"));
	assert_int_equal(count_entries(*state), 1);
	assert_int_equal(rt_st_read(path, &back, NULL, &err), 0);
	assert_int_equal(back.n, 1);
	rt_tensors_free(&back);

	/* A directory that does not exist: an error naming the path. */
	snprintf(bad, sizeof bad, "%s/no/such/dir.safetensors", (char *)*state);
	ts.n = 1;
	assert_int_not_equal(rt_st_write(bad, &ts, NULL, &err), 0);
	assert_non_null(strstr(err.msg, bad));
	assert_non_null(strstr(err.msg, "No such file or directory"));
	ts.n = 2;
	assert_int_equal(count_entries(*state), 1);
	rt_tensors_free(&ts);
}

static void touch(const char *dir, const char *name)
{
	char p[4300];
	join(p, sizeof p, dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("half a checkpoint", f);
	fclose(f);
}

static int exists(const char *dir, const char *name)
{
	char p[4300];
	join(p, sizeof p, dir, name);
	return access(p, F_OK) == 0;
}

/* A process killed while writing leaves "<path>.tmp.<pid>"; the next
 * successful write of the same path removes it, but not the temporary of
 * a process that is still alive, nor another file's. */
static void test_stale_temps(void **state)
{
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	assert_int_equal(waitpid(child, NULL, 0), child);
	char dead[64], live[64], other[64];
	snprintf(dead, sizeof dead, "w.safetensors.tmp.%ld", (long)child);
	snprintf(live, sizeof live, "w.safetensors.tmp.%ld", (long)getppid());
	snprintf(other, sizeof other, "v.safetensors.tmp.%ld", (long)child);
	touch(*state, dead);
	touch(*state, live);
	touch(*state, other);
	touch(*state, "w.safetensors.tmp.x1");
	char path[4200];
	join(path, sizeof path, *state, "w.safetensors");
	rt_tensors ts = {0};
	const int64_t d1[] = {1};
	assert_non_null(rt_tensors_add(&ts, "x", RT_F32, 1, d1));
	rt_err err = {{0}};
	assert_int_equal(rt_st_write(path, &ts, NULL, &err), 0);
	rt_tensors_free(&ts);
	assert_false(exists(*state, dead));
	assert_true(exists(*state, live));
	assert_true(exists(*state, other));
	assert_true(exists(*state, "w.safetensors.tmp.x1"));
	assert_true(exists(*state, "w.safetensors"));
	assert_int_equal(count_entries(*state), 4);
}

static void test_missing_file(void **state)
{
	char path[4200];
	join(path, sizeof path, *state, "absent.safetensors");
	rt_tensors ts;
	rt_err err = {{0}};
	assert_int_not_equal(rt_st_read(path, &ts, NULL, &err), 0);
	assert_non_null(strstr(err.msg, "absent.safetensors: cannot open: No such file"));
	assert_int_equal(ts.n, 0);
}

static void test_too_short(void **state)
{
	rt_tensors ts;
	rt_err err = {{0}};
	assert_int_not_equal(rt_st_parse("abcd", 4, "x.st", &ts, NULL, &err), 0);
	assert_non_null(strstr(err.msg, "x.st: file too short (4 bytes)"));
}

static void test_absurd_header_length(void **state)
{
	unsigned char buf[64];
	size_t n = make_st(buf, UINT64_C(1) << 40, "{}", NULL, 0);
	rt_tensors ts;
	rt_err err = {{0}};
	assert_int_not_equal(rt_st_parse(buf, n, "x.st", &ts, NULL, &err), 0);
	assert_non_null(strstr(err.msg, "header length 1099511627776 is absurd"));
}

static void test_header_beyond_file(void **state)
{
	unsigned char buf[64];
	size_t n = make_st(buf, 100, "{\"a\":1}", NULL, 0);
	rt_tensors ts;
	rt_err err = {{0}};
	assert_int_not_equal(rt_st_parse(buf, n, "x.st", &ts, NULL, &err), 0);
	assert_non_null(strstr(err.msg, "header length 100 exceeds the file: only 7 bytes follow"));
}

static void test_invalid_json(void **state)
{
	expect_bad("{\"a\": {\"dtype\": \"F32\",", 0, "header is not valid JSON");
	expect_bad("[1, 2]  ", 0, "header is not a JSON object");
	expect_bad("{}x", 0, "unexpected bytes after the JSON header at byte 2");
}

static void test_bad_entries(void **state)
{
	expect_bad("{\"w\":3}", 0, "tensor 'w': entry is not an object");
	expect_bad("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'w': missing \"dtype\"");
	expect_bad("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "missing \"shape\"");
	expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "missing \"data_offsets\"");
	expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
	           "tensor 'w': shape[0] is not a non-negative integer");
	expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2, 1.5],\"data_offsets\":[0,4]}}", 4,
	           "shape[1] is not a non-negative integer");
	expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
	           "rank 7 exceeds");
	expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
	           "data_offsets must be two non-negative integers");
	expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}", 4,
	           "data_offsets must be two non-negative integers");
	expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4,
	           "data_offsets [4,0) has begin after end");
	expect_bad("{\"__metadata__\":{\"k\":1}}", 0, "\"__metadata__\" entry 'k' is not a string");
}

static void test_unknown_dtype(void **state)
{
	expect_bad("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
	           "tensor 'w': unknown dtype 'F8_E4M3'");
}

static void test_offsets_out_of_range(void **state)
{
	expect_bad("{\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[10,10],\"data_offsets\":[0,400]}}",
	           396, "ckpt.safetensors: tensor 'fc1.weight': data_offsets [0,400) out of range: "
	           "data section has 396 bytes");
}

static void test_overlapping_offsets(void **state)
{
	expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
	           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
	           16, "tensors 'a' [0,16) and 'b' [8,16) overlap");
	/* Overlap with an earlier, longer tensor that is not the neighbour. */
	expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[10],\"data_offsets\":[0,10]},"
	           "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},"
	           "\"c\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]}}",
	           10, "overlap");
}

static void test_size_mismatch(void **state)
{
	expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
	           "tensor 'w': data_offsets [0,8) hold 8 bytes but dtype F32 shape [3] needs 12");
}

/* numel * 8 wrapped to 0 here once, so [0,0) passed the size check */
static void test_size_overflow(void **state)
{
	expect_bad("{\"w\":{\"dtype\":\"F64\",\"shape\":[2147483648,1073741824],"
	           "\"data_offsets\":[0,0]}}",
	           0, "tensor 'w': shape [2147483648,1073741824] of dtype F64 needs more than 2^62 bytes");
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,4],"
	           "\"data_offsets\":[0,0]}}",
	           0, "shape [4294967296,4294967296]... of dtype U8 needs more than 2^62 bytes");
}

static void test_duplicate_names(void **state)
{
	expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
	           "\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
	           2, "duplicate tensor name 'w'");
}

static void test_truncated_data(void **state)
{
	char path[4200];
	join(path, sizeof path, *state, "t.safetensors");
	rt_tensors ts = {0};
	const int64_t d[] = {10, 10};
	assert_non_null(rt_tensors_add(&ts, "fc1.weight", RT_F32, 2, d));
	rt_err err = {{0}};
	assert_int_equal(rt_st_write(path, &ts, NULL, &err), 0);
	rt_tensors_free(&ts);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - 4), 0);
	assert_int_not_equal(rt_st_read(path, &ts, NULL, &err), 0);
	assert_non_null(strstr(err.msg, "t.safetensors: tensor 'fc1.weight': data_offsets [0,400) "
	                       "out of range: data section has 396 bytes (file truncated?)"));
}

/* Gaps between tensors and zero-size tensors are legal. */
static void test_holes_tolerated(void **state)
{
	unsigned char buf[256];
	const unsigned char data[12] = {1, 2, 3, 4, 0, 0, 0, 0, 5, 6, 7, 8};
	const char *hdr = "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
	                  "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[2,2]},"
	                  "\"b\":{\"dtype\":\"U8\",\"shape\":[2,2],\"data_offsets\":[8,12]}}";
	size_t n = make_st(buf, strlen(hdr), hdr, data, sizeof data);
	rt_tensors ts;
	rt_err err = {{0}};
	if (rt_st_parse(buf, n, "h.st", &ts, NULL, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(ts.n, 3);
	assert_int_equal(((uint8_t *)rt_tensors_find(&ts, "b")->data)[3], 8);
	assert_int_equal(rt_tensor_numel(rt_tensors_find(&ts, "e")), 0);
	rt_tensors_free(&ts);
}

/* Element access: f16/bf16 rounding and integer saturation. */
static void test_element_conversions(void **state)
{
	rt_tensor t;
	const int64_t d1[] = {1};
	const struct { rt_dtype dt; double in, out; } c[] = {
		{RT_F16, 1.5, 1.5},        {RT_F16, 65504, 65504},   {RT_F16, 1e6, INFINITY},
		{RT_F16, 1.0 + 1.0 / 4096, 1.0}, /* ties to even */ {RT_F16, 5.96e-8, 5.9604644775390625e-8},
		{RT_BF16, 3.0, 3.0},       {RT_BF16, 1.0 + 1.0 / 256, 1.0},
		{RT_BF16, 257, 256},       {RT_U8, 300, 255},         {RT_U8, -5, 0},
		{RT_I8, -200, -128},       {RT_I32, 1e12, 2147483647}, {RT_I64, -7, -7},
		{RT_U16, 65535, 65535},    {RT_F64, 0.1, 0.1},
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		assert_int_equal(rt_tensor_init(&t, "v", c[i].dt, 1, d1), 0);
		rt_tensor_set(&t, 0, c[i].in);
		if (rt_tensor_get(&t, 0) != c[i].out)
			fail_msg("case %zu: %s(%g) read back %g, want %g", i, rt_dtype_name(c[i].dt),
			         c[i].in, rt_tensor_get(&t, 0), c[i].out);
		rt_tensor_free(&t);
	}
	const int64_t neg[] = {-1};
	assert_int_not_equal(rt_tensor_init(&t, "v", RT_F32, 1, neg), 0);
	assert_null(t.data);
	rt_dtype dt;
	assert_int_equal(rt_dtype_parse("BF16", &dt), 0);
	assert_int_equal(dt, RT_BF16);
	assert_int_not_equal(rt_dtype_parse("BOOL", &dt), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_round_trip),          T(test_exact_bytes),
		T(test_atomic_write),        T(test_stale_temps),
		T(test_missing_file),
		T(test_too_short),           T(test_absurd_header_length),
		T(test_header_beyond_file),  T(test_invalid_json),
		T(test_bad_entries),         T(test_unknown_dtype),
		T(test_offsets_out_of_range), T(test_overlapping_offsets),
		T(test_size_mismatch),       T(test_size_overflow),
		T(test_duplicate_names),
		T(test_truncated_data),      T(test_holes_tolerated),
		T(test_element_conversions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
