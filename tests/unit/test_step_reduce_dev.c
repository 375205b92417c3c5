/*
 * test_step_reduce_dev.c - the accumulators' device all-reduce in buckets
 * (rt_step_reduce_dev, runtime/rt_step_seq_dev.c) on the host device with a
 * communicator whose allreduce_dev maps every element v to 2v + 1 and
 * records its calls: every accumulator element is summed exactly once,
 * nothing else is touched, and the calls are the buckets the cap makes
 * (packed into the stage's buffer, or a lone tensor in place); several
 * dtypes are left to the caller.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rt_step_seq.h"

enum { MAXCALLS = 16 };

typedef struct {
	int ncalls;
	size_t count[MAXCALLS];
	void *buf[MAXCALLS];
} calls;

static int fake_allreduce_dev(rt_comm *c, rt_device *d, void *buf, size_t n, rt_comm_dtype dt,
                              rt_err *err)
{
	(void)d, (void)err;
	calls *k = c->self;
	if (k->ncalls < MAXCALLS) {
		k->count[k->ncalls] = n;
		k->buf[k->ncalls] = buf;
	}
	k->ncalls++;
	for (size_t i = 0; i < n; i++)
		if (dt == RT_COMM_F64)
			((double *)buf)[i] = 2 * ((double *)buf)[i] + 1;
		else
			((float *)buf)[i] = 2 * ((float *)buf)[i] + 1;
	return 0;
}

/* A store of five buffers on the host device: accum.grad.a [10],
 * accum.grad.b [1000], w [10] (no accumulator), accum.grad.c [5] and
 * accum.sam.x [3], f32 unless dtype_c says otherwise for c. */
typedef struct {
	rt_store st;
	rt_store_buf b[5];
	float mem[10 + 1000 + 10 + 5 + 3];
	double c64[5];
} store;

static void make(store *s, rt_dtype dtype_c)
{
	memset(s, 0, sizeof *s);
	static const char *names[5] = {"accum.grad.a", "accum.grad.b", "w", "accum.grad.c",
	                               "accum.sam.x"};
	static const size_t n[5] = {10, 1000, 10, 5, 3};
	float *at = s->mem;
	for (int i = 0; i < 5; i++) {
		s->b[i].slot.name = names[i];
		s->b[i].slot.dtype = RT_F32;
		s->b[i].addr = at;
		s->b[i].bytes = n[i] * sizeof(float);
		for (size_t j = 0; j < n[i]; j++)
			at[j] = (float)(i * 1000 + (int)j);
		at += n[i];
	}
	if (dtype_c == RT_F64) {
		s->b[3].slot.dtype = RT_F64;
		s->b[3].addr = s->c64;
		s->b[3].bytes = sizeof s->c64;
	}
	s->st = (rt_store){.buf = s->b, .n = 5, .cap = 5, .dev = rt_dev_host()};
}

/* every element of accum.grad.* is 2v + 1, everything else v */
static void check_values(const store *s)
{
	for (int i = 0; i < 5; i++) {
		const float *p = s->b[i].addr;
		int reduced = strncmp(s->b[i].slot.name, "accum.grad.", 11) == 0;
		for (size_t j = 0; j < s->b[i].bytes / sizeof(float); j++) {
			float v = (float)(i * 1000 + (int)j);
			assert_true(p[j] == (reduced ? 2 * v + 1 : v));
		}
	}
}

static void run(store *s, size_t cap, calls *k, rt_step_stage *sg)
{
	memset(k, 0, sizeof *k);
	rt_comm c = {.name = "fake", .rank = 0, .size = 2, .self = k,
	             .allreduce_dev = fake_allreduce_dev};
	rt_err err = {{0}};
	assert_int_equal(rt_step_reduce_dev(&c, &s->st, "accum.grad", sg, cap, &err), 0);
}

static void test_one_bucket(void **state)
{
	(void)state;
	store *s = malloc(sizeof *s);
	make(s, RT_F32);
	calls k;
	rt_step_stage sg = {0};
	run(s, RT_STEP_DEV_BUCKET, &k, &sg);
	assert_int_equal(k.ncalls, 1);
	assert_int_equal(k.count[0], 1015);
	assert_ptr_equal(k.buf[0], sg.dbuf); /* packed */
	assert_true(sg.dcap >= 1015 * sizeof(float));
	check_values(s);
	rt_step_stage_free(&sg);
	assert_null(sg.dbuf);
	free(s);
}

static void test_cap(void **state)
{
	(void)state;
	store *s = malloc(sizeof *s);
	calls k;
	rt_step_stage sg = {0};
	/* 100 bytes: a, b and c each alone, in place, no stage */
	make(s, RT_F32);
	run(s, 100, &k, &sg);
	assert_int_equal(k.ncalls, 3);
	assert_int_equal(k.count[0], 10);
	assert_int_equal(k.count[1], 1000);
	assert_int_equal(k.count[2], 5);
	assert_ptr_equal(k.buf[0], s->b[0].addr);
	assert_ptr_equal(k.buf[1], s->b[1].addr);
	assert_ptr_equal(k.buf[2], s->b[3].addr);
	assert_null(sg.dbuf);
	check_values(s);
	/* a and b fill a bucket of 4040 bytes exactly; c alone */
	make(s, RT_F32);
	run(s, 4040, &k, &sg);
	assert_int_equal(k.ncalls, 2);
	assert_int_equal(k.count[0], 1010);
	assert_ptr_equal(k.buf[0], sg.dbuf);
	assert_int_equal(k.count[1], 5);
	assert_ptr_equal(k.buf[1], s->b[3].addr);
	check_values(s);
	rt_step_stage_free(&sg);
	free(s);
}

static void test_dtypes(void **state)
{
	(void)state;
	store *s = malloc(sizeof *s);
	make(s, RT_F64);
	calls k;
	rt_step_stage sg = {0};
	memset(&k, 0, sizeof k);
	rt_comm c = {.name = "fake", .rank = 0, .size = 2, .self = &k,
	             .allreduce_dev = fake_allreduce_dev};
	rt_err err = {{0}};
	/* f32 and f64 accumulators: no bucket, the caller sums them one by one */
	assert_int_equal(rt_step_reduce_dev(&c, &s->st, "accum.grad", &sg, RT_STEP_DEV_BUCKET, &err),
	                 1);
	assert_int_equal(k.ncalls, 0);
	/* a kind with no accumulators: nothing */
	assert_int_equal(rt_step_reduce_dev(&c, &s->st, "accum.none", &sg, RT_STEP_DEV_BUCKET, &err),
	                 0);
	assert_int_equal(k.ncalls, 0);
	rt_step_stage_free(&sg);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_bucket),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_dtypes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
