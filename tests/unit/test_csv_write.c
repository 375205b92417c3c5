/*
 * test_csv_write.c - the RFC 4180 writer of the CSV log: quoting, CRLF
 * records, numbers that read back exactly, empty fields for NaN, and the
 * reader a resumed run takes the header back with; the CSV log's path.
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

#include "rt_csv_write.h"
#include "rt_progress.h"

static char *written(void (*fill)(rt_csvw *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	rt_csvw w = {f, 0};
	fill(&w);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void fill_quoting(rt_csvw *w)
{
	rt_csvw_field(w, "plain");
	rt_csvw_field(w, "a,b");
	rt_csvw_field(w, "say \"hi\"");
	rt_csvw_field(w, "two\nlines");
	rt_csvw_field(w, "caf\xc3\xa9");
	rt_csvw_end(w);
	rt_csvw_number(w, 0.1);
	rt_csvw_number(w, NAN);
	rt_csvw_number(w, INFINITY);
	rt_csvw_number(w, 20);
	rt_csvw_number(w, 1e-7);
	rt_csvw_end(w);
}

static void test_quoting(void **state)
{
	char *s = written(fill_quoting);
	assert_string_equal(s, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",caf\xc3\xa9\r\n"
	                       "0.1,,,20,1e-07\r\n");
	free(s);
}

static void test_numbers_round_trip(void **state)
{
	const double v[] = {0.1, 1.0 / 3, 2.0 / 3 * 1e-5, 123456.789, -0.5494839251041412,
	                    1e300, 5e-324, 12345678901234567.0};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char buf[40];
		rt_csv_format_double(buf, sizeof buf, v[i]);
		if (strtod(buf, NULL) != v[i])
			fail_msg("%.17g written as %s", v[i], buf);
	}
	char buf[40];
	rt_csv_format_double(buf, sizeof buf, 0.1);
	assert_string_equal(buf, "0.1"); /* the shortest form, not 0.10000000000000001 */
}

static void test_read_back(void **state)
{
	char *s = written(fill_quoting);
	FILE *f = fmemopen(s, strlen(s), "rb");
	char **fields;
	int n;
	rt_err err;
	assert_int_equal(rt_csv_read_record(f, "mem.csv", &fields, &n, &err), 1);
	assert_int_equal(n, 5);
	assert_string_equal(fields[1], "a,b");
	assert_string_equal(fields[2], "say \"hi\"");
	assert_string_equal(fields[3], "two\nlines");
	rt_csv_fields_free(fields, n);
	assert_int_equal(rt_csv_read_record(f, "mem.csv", &fields, &n, &err), 1);
	assert_int_equal(n, 5);
	assert_string_equal(fields[0], "0.1");
	assert_string_equal(fields[1], "");
	rt_csv_fields_free(fields, n);
	assert_int_equal(rt_csv_read_record(f, "mem.csv", &fields, &n, &err), 0);
	fclose(f);
	free(s);

	const char *open = "a,\"b\r\nc";
	f = fmemopen((void *)open, strlen(open), "rb");
	assert_int_equal(rt_csv_read_record(f, "bad.csv", &fields, &n, &err), -1);
	assert_non_null(strstr(err.msg, "bad.csv: a quoted field is not closed"));
	fclose(f);
}

static void test_csv_path(void **state)
{
	char out[256];
	assert_int_equal(rt_progress_csv_path("runs/a/metrics.jsonl", out, sizeof out), 0);
	assert_string_equal(out, "runs/a/metrics.csv");
	assert_int_equal(rt_progress_csv_path("run.d/metrics", out, sizeof out), 0);
	assert_string_equal(out, "run.d/metrics.csv");
	assert_int_equal(rt_progress_csv_path(".log", out, sizeof out), 0);
	assert_string_equal(out, ".log.csv");
	/* a metrics file named .csv would be overwritten: refused */
	assert_int_equal(rt_progress_csv_path("m.csv", out, sizeof out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_numbers_round_trip),
		cmocka_unit_test(test_read_back),
		cmocka_unit_test(test_csv_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
