/*
 * test_plot.c - the plot library: tick values and labels; metrics files
 * read as curves, odd ones too (NaN and Infinity, nulls, one epoch, missing
 * keys, a final test record, a record still being written) and the errors
 * for malformed ones (file and line); pictures drawn as PNG (read back with
 * cairo: its size, several colours) and SVG (paths).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cairo.h>
#include <cmocka.h>

#include "plot.h"

static void test_ticks(void **state)
{
	double t[16];
	assert_int_equal(plot_ticks(0, 1, 6, 0, t, 16), 6);
	for (int i = 0; i < 6; i++)
		assert_true(fabs(t[i] - 0.2 * i) < 1e-12);
	/* epochs: integer steps, even over a short range */
	assert_int_equal(plot_ticks(0.5, 3.5, 6, 1, t, 16), 3);
	assert_true(t[0] == 1 && t[1] == 2 && t[2] == 3);
	assert_int_equal(plot_ticks(2, 2, 6, 0, t, 16), 1);
	assert_int_equal(plot_ticks(1, 0, 6, 0, t, 16), 0);
	assert_int_equal(plot_ticks(NAN, 1, 6, 0, t, 16), 0);
	int n = plot_ticks(-0.13, 0.07, 6, 0, t, 16);
	assert_true(n >= 3 && n <= 12);
	for (int i = 0; i < n; i++)
		assert_true(t[i] >= -0.13 && t[i] <= 0.07);
	char buf[32];
	plot_tick_label(0.6000000000000001, 0.2, buf, sizeof buf);
	assert_string_equal(buf, "0.6");
	plot_tick_label(0.05, 0.05, buf, sizeof buf);
	assert_string_equal(buf, "0.05");
	plot_tick_label(40, 20, buf, sizeof buf);
	assert_string_equal(buf, "40");
	plot_tick_label(0.0002, 0.0001, buf, sizeof buf);
	assert_string_equal(buf, "0.0002");
}

static int parse(plot_run *r, const char *text, rt_err *err)
{
	return plot_run_parse(r, "m.jsonl", text, strlen(text), "m", err);
}

static const plot_series *find(const plot_run *r, const char *split, const char *metric)
{
	for (int i = 0; i < r->ns; i++)
		if (!strcmp(r->s[i].split, split) && !strcmp(r->s[i].metric, metric))
			return &r->s[i];
	return NULL;
}

static const char *const odd =
	"{\"kind\":\"step\",\"epoch\":1,\"step\":5,\"lr\":0.1,\"loss\":2}\n"
	"\n"
	"{\"kind\":\"epoch\",\"epoch\":1,\"train_loss\":1.5,\"train_NaN\":NaN,"
	"\"test_loss\":null,\"val_acc\":0.5,\"note\":\"NaN, Infinity\"}\r\n"
	"{\"kind\":\"step\",\"step\":10,\"lr\":Infinity}\n"
	"{\"kind\":\"epoch\",\"epoch\":2,\"train_loss\":-Infinity,\"val_acc\":0.75}\n"
	"{\"kind\":\"test\",\"test_loss\":0.25,\"test_acc\":0.8}\n"
	"{\"kind\":\"epoch\",\"epoch\":3,\"train_lo";

static void test_read_odd(void **state)
{
	plot_run r;
	rt_err err;
	if (parse(&r, odd, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(r.lr.n, 2);
	assert_true(r.lr.pt[0].x == 5 && r.lr.pt[0].y == 0.1);
	assert_true(isnan(r.lr.pt[1].y)); /* Infinity: a gap */
	const plot_series *tl = find(&r, "train", "loss"), *nan = find(&r, "train", "NaN");
	assert_non_null(tl);
	assert_non_null(nan); /* "NaN" inside a key stays a key */
	assert_int_equal(tl->n, 2); /* the truncated epoch 3 is left out */
	assert_true(tl->pt[0].y == 1.5 && isnan(tl->pt[1].y) && tl->pt[1].x == 2);
	const plot_series *test = find(&r, "test", "loss");
	assert_int_equal(test->n, 2); /* null at epoch 1, the final record at epoch 2 */
	assert_true(isnan(test->pt[0].y) && test->pt[1].x == 2 && test->pt[1].y == 0.25);
	assert_int_equal(find(&r, "val", "acc")->n, 2);
	assert_int_equal(find(&r, "test", "acc")->n, 1);
	assert_null(find(&r, "train", "acc")); /* missing keys: no curve */
	plot_run_free(&r);
}

static void expect_error(const char *text, const char *msg)
{
	plot_run r;
	rt_err err = {{0}};
	assert_int_equal(parse(&r, text, &err), -1);
	if (!strstr(err.msg, msg))
		fail_msg("message '%s' lacks '%s'", err.msg, msg);
	assert_null(r.s);
}

static void test_read_errors(void **state)
{
	expect_error("{\"kind\":\"epoch\",\"epoch\":1,\"train_loss\":1}\n{\"kind\":\"ep\n"
	             "{\"kind\":\"epoch\",\"epoch\":2,\"train_loss\":1}\n",
	             "m.jsonl:2: not valid JSON");
	expect_error("{\"kind\":\"epoch\",\"epoch\":1,\"train_loss\":1}\n\n[1, 2]\n",
	             "m.jsonl:3: not a JSON object");
	expect_error("", "m.jsonl: no records to draw");
	expect_error("{\"kind\":\"epoch\",\"epoch\":1,\"seconds\":1}\n", "m.jsonl: no records");
	plot_run r;
	rt_err err;
	assert_int_equal(plot_run_read(&r, SAMC_BINARY_DIR "/no/such.jsonl", "x", &err), -1);
	assert_non_null(strstr(err.msg, "no/such.jsonl: cannot open the metrics file"));
}

static void test_format_of(void **state)
{
	assert_int_equal(plot_format_of("a/curves.png"), PLOT_PNG);
	assert_int_equal(plot_format_of("C.SVG"), PLOT_SVG);
	assert_int_equal(plot_format_of("curves.jpg"), PLOT_UNKNOWN);
	assert_int_equal(plot_format_of("dir.png/curves"), PLOT_UNKNOWN);
}

/* Distinct colours among a PNG's pixels (up to `max`). */
static int colours(cairo_surface_t *s, int max)
{
	uint32_t seen[64];
	int n = 0, w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
	int stride = cairo_image_surface_get_stride(s);
	const unsigned char *d = cairo_image_surface_get_data(s);
	for (int y = 0; y < h && n < max; y++)
		for (int x = 0; x < w && n < max; x++) {
			uint32_t c = *(const uint32_t *)(d + (size_t)y * stride + 4 * (size_t)x);
			int k = 0;
			while (k < n && seen[k] != c)
				k++;
			if (k == n)
				seen[n++] = c;
		}
	return n;
}

static void draw_and_check(const plot_run *runs, int n, const char *name)
{
	char png[4096], svg[4096];
	snprintf(png, sizeof png, "%s/test_plot.%ld.%s.png", SAMC_BINARY_DIR, (long)getpid(), name);
	snprintf(svg, sizeof svg, "%s/test_plot.%ld.%s.svg", SAMC_BINARY_DIR, (long)getpid(), name);
	rt_err err;
	if (plot_draw(runs, n, png, PLOT_PNG, &err) || plot_draw(runs, n, svg, PLOT_SVG, &err))
		fail_msg("%s", err.msg);
	cairo_surface_t *s = cairo_image_surface_create_from_png(png);
	assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
	assert_true(cairo_image_surface_get_width(s) >= 400);
	assert_true(cairo_image_surface_get_height(s) >= 300);
	assert_true(colours(s, 64) >= 8); /* background, text, grid, curves, anti-aliasing */
	cairo_surface_destroy(s);
	FILE *f = fopen(svg, "rb");
	assert_non_null(f);
	char buf[4096] = {0};
	size_t got = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	assert_true(got > 100);
	assert_non_null(strstr(buf, "<svg"));
	assert_non_null(strstr(buf, "<path"));
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", png);
	assert_int_not_equal(access(tmp, F_OK), 0); /* renamed into place */
	unlink(png);
	unlink(svg);
}

static void test_draw(void **state)
{
	plot_run r[2];
	rt_err err;
	if (parse(&r[0], odd, &err))
		fail_msg("%s", err.msg);
	/* one epoch only, every value of one curve NaN */
	const char *one = "{\"kind\":\"epoch\",\"epoch\":1,\"train_loss\":0.7,\"test_loss\":null,"
	                  "\"train_acc\":0.6}\n";
	if (parse(&r[1], one, &err))
		fail_msg("%s", err.msg);
	draw_and_check(&r[0], 1, "odd");
	draw_and_check(&r[1], 1, "one");
	draw_and_check(r, 2, "both");
	assert_int_equal(plot_draw(r, 1, "x.jpg", PLOT_UNKNOWN, &err), -1);
	assert_non_null(strstr(err.msg, "x.jpg: unknown picture format"));
	assert_int_equal(plot_draw(r, 1, SAMC_BINARY_DIR "/no/such/dir/c.png", PLOT_PNG, &err), -1);
	assert_non_null(strstr(err.msg, "no/such/dir/c.png: cannot write the picture"));
	plot_run_free(&r[0]);
	plot_run_free(&r[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ticks),
		cmocka_unit_test(test_read_odd),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_format_of),
		cmocka_unit_test(test_draw),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	plot_release();
	return rc;
}
