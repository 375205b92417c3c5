/*
 * test_rng.c - Philox4x32-10 against Random123's published known-answer
 * vectors, the statistics of the derived draws, and parameter
 * initialisation from slot rules (rt_init).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rt_init.h"
#include "rt_rng.h"

static void test_philox_kat(void **state)
{
	(void)state;
	static const struct {
		uint32_t ctr[4], key[2], out[4];
	} kat[] = {
		{{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
		{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
		 {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
		{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
		 {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
	};
	for (size_t k = 0; k < sizeof kat / sizeof kat[0]; k++) {
		uint32_t out[4];
		rt_philox4x32_10(kat[k].ctr, kat[k].key, out);
		for (int i = 0; i < 4; i++)
			assert_int_equal(out[i], kat[k].out[i]);
	}
}

/* samc's layout: key = seed, counter = {index, stream}. */
static void test_block_layout(void **state)
{
	(void)state;
	uint64_t seed = 0x299f31d0a4093822ull, stream = 0x0370734413198a2eull;
	uint64_t index = 0x85a308d3243f6a88ull;
	uint32_t out[4];
	rt_rng_block(seed, stream, index, out);
	assert_int_equal(out[0], 0xd16cfe09);
	assert_int_equal(out[3], 0x24126ea1);
}

static void test_uniform_and_normal_stats(void **state)
{
	(void)state;
	const int n = 200000;
	double s = 0, s2 = 0, ns = 0, ns2 = 0, n4 = 0;
	int below_half = 0;
	for (int i = 0; i < n; i++) {
		float u = rt_rng_uniform_f32(42, 7, (uint64_t)i);
		double d = rt_rng_uniform_f64(42, 7, (uint64_t)i);
		assert_true(u >= 0.0f && u < 1.0f);
		assert_true(d >= 0.0 && d < 1.0);
		s += d;
		s2 += d * d;
		below_half += u < 0.5f;
		double z = rt_rng_normal(42, 8, (uint64_t)i);
		assert_true(isfinite(z));
		ns += z;
		ns2 += z * z;
		n4 += z * z * z * z;
	}
	/* Standard errors at n = 2e5: mean 0.00065, var ~0.0003; 6 sigma margins. */
	assert_true(fabs(s / n - 0.5) < 0.004);
	assert_true(fabs(s2 / n - s / n * (s / n) - 1.0 / 12) < 0.002);
	assert_true(abs(below_half - n / 2) < 1400);
	assert_true(fabs(ns / n) < 0.014);
	assert_true(fabs(ns2 / n - 1.0) < 0.02);
	assert_true(fabs(n4 / n - 3.0) < 0.15); /* kurtosis of a normal */
	/* Pure functions: drawing again, in any order, gives the same value. */
	assert_true(rt_rng_normal(42, 8, 12345) == rt_rng_normal(42, 8, 12345));
	assert_true(rt_rng_uniform_f64(42, 7, 1) != rt_rng_uniform_f64(43, 7, 1));
	assert_true(rt_rng_uniform_f64(42, 7, 1) != rt_rng_uniform_f64(42, 6, 1));
}

static void test_sequential_below(void **state)
{
	(void)state;
	rt_rng a, b;
	rt_rng_init(&a, 5, 9);
	rt_rng_init(&b, 5, 9);
	int count[6] = {0};
	for (int i = 0; i < 60000; i++) {
		uint64_t x = rt_rng_below(&a, 6);
		assert_true(x < 6);
		assert_int_equal(x, rt_rng_below(&b, 6));
		count[x]++;
	}
	for (int k = 0; k < 6; k++)
		assert_true(abs(count[k] - 10000) < 600); /* sd ~91 */
	/* The sequential words are the blocks of the stream in order. */
	rt_rng c;
	rt_rng_init(&c, 5, 9);
	uint32_t blk[4];
	rt_rng_block(5, 9, 1, blk);
	for (int i = 0; i < 4; i++)
		rt_rng_u32(&c);
	for (int i = 0; i < 4; i++)
		assert_int_equal(rt_rng_u32(&c), blk[i]);
	assert_int_equal(rt_rng_below(&c, 1), 0);
	uint64_t big = rt_rng_below(&c, 10000000000ull);
	assert_true(big < 10000000000ull);
}

static void test_init_rules(void **state)
{
	(void)state;
	rt_slot w = {.name = "fc1.weight", .role = RT_SLOT_PARAM, .dtype = RT_F32, .rank = 2,
	             .dim = {100, 50}, .init = RT_INIT_UNIFORM, .init_a = -0.1, .init_b = 0.1};
	float *a = malloc(5000 * sizeof *a), *b = malloc(5000 * sizeof *b);
	rt_err err = {{0}};
	assert_int_equal(rt_init_slot(&w, a, 1, &err), 0);
	assert_int_equal(rt_init_slot(&w, b, 1, &err), 0);
	assert_memory_equal(a, b, 5000 * sizeof *a);
	double s = 0;
	for (int i = 0; i < 5000; i++) {
		assert_true(a[i] >= -0.1f && a[i] < 0.1f);
		s += a[i];
	}
	assert_true(fabs(s / 5000) < 0.006); /* sd of the mean: 0.2/sqrt(12*5000) = 0.0008 */
	/* Element i is the draw of index i: the same as rt_rng_uniform_f64. */
	double u = rt_rng_uniform_f64(1, rt_rng_stream_of("fc1.weight"), 17);
	assert_true(a[17] == (float)(-0.1 + 0.2 * u));
	assert_int_equal(rt_init_slot(&w, b, 2, &err), 0);
	assert_memory_not_equal(a, b, 5000 * sizeof *a);

	rt_slot nrm = {.name = "emb", .role = RT_SLOT_PARAM, .dtype = RT_F64, .rank = 1,
	               .dim = {20000}, .init = RT_INIT_NORMAL, .init_a = 3.0, .init_b = 0.5};
	double *d = malloc(20000 * sizeof *d);
	assert_int_equal(rt_init_slot(&nrm, d, 7, &err), 0);
	double m = 0, v = 0;
	for (int i = 0; i < 20000; i++)
		m += d[i];
	m /= 20000;
	for (int i = 0; i < 20000; i++)
		v += (d[i] - m) * (d[i] - m);
	v /= 20000;
	assert_true(fabs(m - 3.0) < 0.02);
	assert_true(fabs(sqrt(v) - 0.5) < 0.02);

	rt_slot ones = {.name = "bn.weight", .role = RT_SLOT_PARAM, .dtype = RT_F32, .rank = 1,
	                .dim = {4}, .init = RT_INIT_ONES};
	rt_slot st = {.name = "opt.bn.weight.exp_avg", .role = RT_SLOT_STATE, .dtype = RT_F32,
	              .rank = 1, .dim = {4}, .init = RT_INIT_ONES};
	float f[4] = {9, 9, 9, 9};
	assert_int_equal(rt_init_slot(&ones, f, 1, &err), 0);
	for (int i = 0; i < 4; i++)
		assert_true(f[i] == 1.0f);
	assert_int_equal(rt_init_slot(&st, f, 1, &err), 0); /* state by its rule too */
	for (int i = 0; i < 4; i++)
		assert_true(f[i] == 1.0f);
	st.init = RT_INIT_ZEROS;
	assert_int_equal(rt_init_slot(&st, f, 1, &err), 0);
	for (int i = 0; i < 4; i++)
		assert_true(f[i] == 0.0f);
	st.init = RT_INIT_CONST;
	st.init_a = 0.25;
	assert_int_equal(rt_init_slot(&st, f, 1, &err), 0);
	for (int i = 0; i < 4; i++)
		assert_true(f[i] == 0.25f);
	st.init = RT_INIT_UNIFORM; /* state starts at a fixed value, never a draw */
	assert_int_equal(rt_init_slot(&st, f, 1, &err), -1);
	assert_non_null(strstr(err.msg, "exp_avg"));

	rt_slot bad = w;
	bad.init_a = 1;
	bad.init_b = 0;
	assert_int_equal(rt_init_slot(&bad, a, 1, &err), -1);
	assert_non_null(strstr(err.msg, "fc1.weight"));
	assert_non_null(strstr(err.msg, "a <= b"));
	free(a);
	free(b);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_philox_kat),
		cmocka_unit_test(test_block_layout),
		cmocka_unit_test(test_uniform_and_normal_stats),
		cmocka_unit_test(test_sequential_below),
		cmocka_unit_test(test_init_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
