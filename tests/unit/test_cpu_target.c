/*
 * test_cpu_target.c - `samc build --cpu` (codegen/llvm/cg_target.h) and a
 * trainer's start-up CPU check (runtime/rt_cpu.h): the specs and what each
 * makes a trainer check; unknown specs refused with the choices; cpuid read
 * as the compiler's own __builtin_cpu_supports reads it and as LLVM's host
 * detection does (native needs nothing this CPU lacks); SAMC_CPU_MASK's
 * list and the message's list of missing features.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "llvm/cg_target.h"
#include "rt_cpu.h"

/* `name` is an item of the comma-separated list */
static int in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		size_t l = strcspn(p, ",");
		if (l == n && !strncmp(p, name, n))
			return 1;
		p += l + (p[l] == ',');
	}
	return 0;
}

static void test_specs(void **state)
{
	(void)state;
#if defined(__x86_64__)
	char err[1024];
	cg_target t;
	assert_int_equal(cg_target_init(&t, "generic", err, sizeof err), 0);
	assert_string_equal(t.cpu, "x86-64-v3");
	assert_true(in_list(t.need, "avx2") && in_list(t.need, "fma") && in_list(t.need, "sse4.2"));
	assert_false(in_list(t.need, "avx512f"));
	cg_target_free(&t);
	assert_int_equal(cg_target_init(&t, "x86-64-v4", err, sizeof err), 0);
	assert_true(in_list(t.need, "avx512f") && in_list(t.need, "avx512vl") &&
	            in_list(t.need, "avx2"));
	assert_string_equal(t.tune, "");
	cg_target_free(&t);
	assert_int_equal(cg_target_init(&t, "x86-64", err, sizeof err), 0);
	assert_string_equal(t.need, "");
	cg_target_free(&t);
	/* a CPU name: its level's instructions, tuned for it */
	assert_int_equal(cg_target_init(&t, "znver3", err, sizeof err), 0);
	assert_string_equal(t.cpu, "x86-64-v3");
	assert_string_equal(t.tune, "znver3");
	cg_target_free(&t);
	assert_int_equal(cg_target_init(&t, "skylake-avx512", err, sizeof err), 0);
	assert_string_equal(t.cpu, "x86-64-v4");
	cg_target_free(&t);
	/* every feature a level needs is one the trainer can check */
	const char *levels[] = {"x86-64-v2", "x86-64-v3", "x86-64-v4"};
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cg_target_init(&t, levels[i], err, sizeof err), 0);
		for (const char *p = t.need; *p;) {
			char name[32];
			size_t l = strcspn(p, ",");
			snprintf(name, sizeof name, "%.*s", (int)l, p);
			assert_true(rt_cpu_known(name));
			p += l + (p[l] == ',');
		}
		cg_target_free(&t);
	}
#else
	skip();
#endif
}

static void test_bad_spec(void **state)
{
	(void)state;
	char err[1024];
	cg_target t;
	assert_int_equal(cg_target_init(&t, "bogus", err, sizeof err), -1);
	assert_non_null(strstr(err, "--cpu 'bogus': unknown CPU; choose one of native, generic"));
	assert_null(t.need);
	assert_int_equal(cg_target_init(&t, "x86-64-v3-and-a-very-long-name-indeed", err, sizeof err),
	                 -1);
	assert_non_null(strstr(err, "unknown CPU"));
}

/* native: LLVM's host features, as far as rt_cpu knows them, are all
 * present by rt_cpu's own reading of cpuid */
static void test_native_agrees(void **state)
{
	(void)state;
	char err[1024], missing[512];
	cg_target t;
	assert_int_equal(cg_target_init(&t, "native", err, sizeof err), 0);
	assert_int_equal(rt_cpu_missing(t.need, NULL, missing, sizeof missing), 0);
#if defined(__x86_64__)
	assert_true(in_list(t.need, "sse4.2")); /* every x86-64 CPU samc runs on */
#endif
	cg_target_free(&t);
}

/* rt_cpu reads cpuid as the compiler's runtime does */
static void test_builtin_agrees(void **state)
{
	(void)state;
#if defined(__x86_64__) && defined(__GNUC__)
	__builtin_cpu_init();
	assert_int_equal(rt_cpu_has("sse4.2"), !!__builtin_cpu_supports("sse4.2"));
	assert_int_equal(rt_cpu_has("popcnt"), !!__builtin_cpu_supports("popcnt"));
	assert_int_equal(rt_cpu_has("avx"), !!__builtin_cpu_supports("avx"));
	assert_int_equal(rt_cpu_has("avx2"), !!__builtin_cpu_supports("avx2"));
	assert_int_equal(rt_cpu_has("fma"), !!__builtin_cpu_supports("fma"));
	assert_int_equal(rt_cpu_has("bmi2"), !!__builtin_cpu_supports("bmi2"));
	assert_int_equal(rt_cpu_has("avx512f"), !!__builtin_cpu_supports("avx512f"));
	assert_int_equal(rt_cpu_has("avx512bw"), !!__builtin_cpu_supports("avx512bw"));
	assert_int_equal(rt_cpu_has("avx512vl"), !!__builtin_cpu_supports("avx512vl"));
#else
	skip();
#endif
}

static void test_missing_list(void **state)
{
	(void)state;
#if defined(__x86_64__)
	char m[64];
	assert_true(rt_cpu_has("sse2"));
	assert_false(rt_cpu_known("no-such-feature"));
	/* unknown names are not checked; masked ones are missing, in order */
	assert_int_equal(rt_cpu_missing("sse2,no-such-feature", NULL, m, sizeof m), 0);
	assert_string_equal(m, "");
	assert_int_equal(rt_cpu_missing("sse2,sse3,no-such-feature", "sse3,sse2", m, sizeof m), 2);
	assert_string_equal(m, "sse2, sse3");
	/* a mask entry must match a whole name */
	assert_int_equal(rt_cpu_missing("sse2", "sse", m, sizeof m), 0);
	/* a short buffer keeps the count and a terminated, shorter list */
	char s[8];
	assert_int_equal(rt_cpu_missing("sse2,sse3,ssse3", "sse2,sse3,ssse3", s, sizeof s), 3);
	assert_string_equal(s, "sse2");
	assert_int_equal(rt_cpu_missing("", "sse2", m, sizeof m), 0);
#else
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_specs),         cmocka_unit_test(test_bad_spec),
		cmocka_unit_test(test_native_agrees), cmocka_unit_test(test_builtin_agrees),
		cmocka_unit_test(test_missing_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
