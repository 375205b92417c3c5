/*
 * test_csv.c - the CSV reader: column selection, dtypes, quoting, line
 * endings, and the error for each kind of bad file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <unistd.h>

#include "rt_data.h"

/* Each test writes its CSV to a file of its own under the build tree. */
static void write_csv(char *path, const char *name, const char *text)
{
	snprintf(path, 4096, "%s/test_csv.%ld.%s", SAMC_BINARY_DIR, (long)getpid(), name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

static void expect_error(const char *name, const char *text, const char **cols, int ncols,
                         rt_dtype want, const char *msg)
{
	char path[4096];
	write_csv(path, name, text);
	rt_tensor t;
	rt_err err = {{0}};
	int rc = rt_csv_read(path, cols, ncols, want, &t, &err);
	unlink(path);
	assert_int_not_equal(rc, 0);
	if (!strstr(err.msg, msg) || !strstr(err.msg, name))
		fail_msg("message '%s' lacks '%s' or the file name", err.msg, msg);
	assert_null(t.data);
}

static void test_all_columns(void **state)
{
	char path[4096];
	write_csv(path, "all.csv", "a,b,c\n1,2.5,-3\n4,5e-1,6\n\n7, 8 ,9\n");
	rt_tensor t;
	rt_err err = {{0}};
	if (rt_csv_read(path, NULL, 0, RT_F64, &t, &err) != 0)
		fail_msg("%s", err.msg);
	unlink(path);
	assert_int_equal(t.rank, 2);
	assert_int_equal(t.dim[0], 3);
	assert_int_equal(t.dim[1], 3);
	const double want[] = {1, 2.5, -3, 4, 0.5, 6, 7, 8, 9};
	assert_memory_equal(t.data, want, sizeof want);
	rt_tensor_free(&t);
}

static void test_select_columns(void **state)
{
	char path[4096];
	/* CRLF endings, a byte order mark, quoted names and values, no final newline. */
	write_csv(path, "sel.csv", "\xef\xbb\xbf" "x1,\"label\",x2\r\n0.5,3,1.5\r\n0.25,\"1\",2\r\n-1,0,3");
	const char *cols[] = {"label", "x1"};
	rt_tensor t;
	rt_err err = {{0}};
	if (rt_csv_read(path, cols, 2, RT_F32, &t, &err) != 0)
		fail_msg("%s", err.msg);
	assert_int_equal(t.dim[0], 3);
	assert_int_equal(t.dim[1], 2);
	const float want[] = {3, 0.5f, 1, 0.25f, 0, -1};
	assert_memory_equal(t.data, want, sizeof want);
	rt_tensor_free(&t);

	const char *lab[] = {"label"};
	assert_int_equal(rt_csv_read(path, lab, 1, RT_I32, &t, &err), 0);
	unlink(path);
	assert_int_equal(t.dtype, RT_I32);
	assert_int_equal(t.dim[1], 1);
	assert_int_equal(((int32_t *)t.data)[0], 3);
	assert_int_equal(((int32_t *)t.data)[2], 0);
	assert_int_equal(rt_labels_check(path, &t, 4, &err), 0);
	assert_int_not_equal(rt_labels_check(path, &t, 3, &err), 0);
	rt_tensor_free(&t);
}

static void test_missing_column(void **state)
{
	const char *cols[] = {"x", "label"};
	expect_error("nocol.csv", "x,y\n1,2\n", cols, 2, RT_F32, "no column 'label' in the header");
}

static void test_ragged_row(void **state)
{
	expect_error("ragged.csv", "a,b,c\n1,2,3\n4,5\n", NULL, 0, RT_F32,
	             "ragged.csv:3: row has 2 fields, the header has 3");
	expect_error("ragged2.csv", "a,b\n1,2\n\n3,4,\n", NULL, 0, RT_F32,
	             "ragged2.csv:4: row has 3 fields, the header has 2");
}

static void test_non_numeric(void **state)
{
	expect_error("nonnum.csv", "a,b\n1,2\n3,abc\n", NULL, 0, RT_F32,
	             "nonnum.csv:3: column 'b': 'abc' is not a number");
	expect_error("partial.csv", "a,b\n1,2x\n", NULL, 0, RT_F32,
	             "partial.csv:2: column 'b': '2x' is not a number");
	expect_error("empty_field.csv", "a,b\n1,\n", NULL, 0, RT_F32,
	             "empty_field.csv:2: column 'b': empty value");
	expect_error("nan.csv", "a\nnan\n", NULL, 0, RT_F32, "'nan' is not a finite number");
}

static void test_integer_dtypes(void **state)
{
	const char *cols[] = {"y"};
	expect_error("frac.csv", "y\n1\n2.5\n", cols, 1, RT_I32,
	             "frac.csv:3: column 'y': '2.5' is not an integer that fits I32");
	expect_error("range.csv", "y\n300\n", cols, 1, RT_U8, "'300' is not an integer that fits U8");
}

static void test_empty_files(void **state)
{
	expect_error("empty.csv", "", NULL, 0, RT_F32, "empty.csv: empty file: expected a header row");
	expect_error("header_only.csv", "a,b\n\n", NULL, 0, RT_F32, "no data rows after the header");
	expect_error("quote.csv", "a,\"b\n1,2\n", NULL, 0, RT_F32, "quote.csv:1: unclosed quote");
	const char *dup[] = {"a"};
	expect_error("dup.csv", "a,a\n1,2\n", dup, 1, RT_F32, "column 'a' appears twice");
}

static void test_missing_file(void **state)
{
	rt_tensor t;
	rt_err err = {{0}};
	assert_int_not_equal(rt_csv_read("no-such-dir/data.csv", NULL, 0, RT_F32, &t, &err), 0);
	assert_string_equal(err.msg, "no-such-dir/data.csv: cannot open: No such file or directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_columns),    cmocka_unit_test(test_select_columns),
		cmocka_unit_test(test_missing_column), cmocka_unit_test(test_ragged_row),
		cmocka_unit_test(test_non_numeric),    cmocka_unit_test(test_integer_dtypes),
		cmocka_unit_test(test_empty_files),    cmocka_unit_test(test_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
