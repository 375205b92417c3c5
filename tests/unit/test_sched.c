/*
 * test_sched.c - the learning-rate schedules of runtime/rt_sched.c with a
 * warmup, as timm and Hugging Face define it: a linear ramp to lr over the
 * first W steps, then the schedule over the remaining steps from its own
 * step 0. The expected values are written out from that definition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "rt_recipe_schema.h"

static rt_recipe recipe(sched_kind kind, double lr, double warmup)
{
	rt_recipe r;
	rt_recipe_defaults(&r);
	r.opt.lr = lr;
	r.sched.kind = kind;
	r.sched.warmup = warmup;
	return r;
}

/* cmocka's float assertion rounds to float: compare doubles here. */
static void near(double got, double want, double tol)
{
	if (!(fabs(got - want) <= tol))
		fail_msg("lr %.17g, expected %.17g", got, want);
}

/* The run that showed the old rule's fault: warmup 5 of 10 steps, lr 1e-3. The ramp reaches 1e-3 on
 * step 4; the cosine spans steps 5..9 (5 steps). */
static void t_warmup_cosine(void **st)
{
	(void)st;
	rt_recipe r = recipe(SCHED_COSINE, 1e-3, 5);
	for (int t = 0; t < 5; t++)
		near(rt_sched_lr(&r, t, 10), 1e-3 * (t + 1) / 5, 1e-18);
	for (int t = 5; t < 10; t++)
		near(rt_sched_lr(&r, t, 10), 1e-3 * (1 + cos(M_PI * (t - 5) / 5)) / 2,
		                    1e-18);
	assert_true(rt_sched_lr(&r, 5, 10) == 1e-3);
}

/* t_max counts the cosine's own steps, after the warmup; eta_min holds after. */
static void t_warmup_cosine_tmax(void **st)
{
	(void)st;
	rt_recipe r = recipe(SCHED_COSINE, 0.1, 3);
	r.sched.t_max = 4;
	r.sched.eta_min = 0.001;
	near(rt_sched_lr(&r, 2, 20), 0.1, 1e-18);
	near(rt_sched_lr(&r, 5, 20), 0.001 + 0.099 * (1 + cos(M_PI * 2 / 4)) / 2,
	                    1e-17);
	assert_true(rt_sched_lr(&r, 7, 20) == 0.001);
	assert_true(rt_sched_lr(&r, 19, 20) == 0.001);
}

/* A step schedule counts its steps after the warmup too. */
static void t_warmup_step(void **st)
{
	(void)st;
	rt_recipe r = recipe(SCHED_STEP, 0.1, 2);
	r.sched.step_size = 3;
	r.sched.gamma = 0.5;
	const double want[] = {0.05, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025};
	for (int t = 0; t < 9; t++)
		near(rt_sched_lr(&r, t, 9), want[t], 1e-18);
}

/* No warmup: the schedules as before (CosineAnnealingLR over the run). */
static void t_no_warmup(void **st)
{
	(void)st;
	rt_recipe r = recipe(SCHED_COSINE, 0.1, 0);
	assert_true(rt_sched_lr(&r, 0, 10) == 0.1);
	near(rt_sched_lr(&r, 5, 10), 0.05, 1e-17);
	r = recipe(SCHED_CONSTANT, 0.1, 0);
	assert_true(rt_sched_lr(&r, 7, 10) == 0.1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_warmup_cosine),
		cmocka_unit_test(t_warmup_cosine_tmax),
		cmocka_unit_test(t_warmup_step),
		cmocka_unit_test(t_no_warmup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
