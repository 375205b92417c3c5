/*
 * test_cg_loop_const.c - a float constant of the loop IR carries an integer
 * twin: saturated for values past int64_t and for infinities (a max's
 * start is -inf), 0 for NaN, never an undefined conversion.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cg_loop.h"

static void t_const_f_saturates(void **state)
{
	(void)state;
	ir_arena a = {0};
	assert_true(cg_const_f(&a, CG_T_F32, INFINITY)->ival == INT64_MAX);
	assert_true(cg_const_f(&a, CG_T_F32, -INFINITY)->ival == INT64_MIN);
	assert_true(cg_const_f(&a, CG_T_F64, 1e300)->ival == INT64_MAX);
	assert_true(cg_const_f(&a, CG_T_F64, -1e300)->ival == INT64_MIN);
	assert_true(cg_const_f(&a, CG_T_F64, NAN)->ival == 0);
	assert_true(isinf(cg_const_f(&a, CG_T_F32, -INFINITY)->fval));
	assert_true(cg_const_f(&a, CG_T_F64, -2.75)->ival == -2);
	assert_true(cg_const_f(&a, CG_T_F64, -0x1p63)->ival == INT64_MIN);
	ir_arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(t_const_f_saturates)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
