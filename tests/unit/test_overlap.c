/*
 * test_overlap.c - the overlapped all-reduce's pieces without MPI: where
 * the runner says a value is final (rt_runner_final_at: in place, in an
 * arena buffer before its commit, not at all after a snapshot), the CPU
 * device's progress reports, and the communication thread (rt_overlap.h)
 * summing buckets during a run on the CPU device; a step of two ranks
 * (rt_step_do) with and without overlap, and with a communicator that
 * cannot be called from another thread (a note, then the all-reduce after
 * the run); and pass_hoist, which moves the accumulators' kernels up to
 * their gradients.
 *
 * The communicator is a stand-in for two ranks holding the same values:
 * its sum doubles the buffer, and it records which kernels had run when
 * each call began, so a bucket sent before its members' final values (or
 * never) shows in the results and in the record.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ir.h"
#include "pass_hoist.h"
#include "rt_dev_cpu.h"
#include "rt_overlap.h"
#include "rt_runner.h"
#include "rt_step_seq.h"

#define N 4096 /* elements of each tensor */

/* ---- a step of four kernels over slots a, b (accumulators), x ---- */

static volatile int ran; /* kernels complete so far */

static void k_add_a(void **b, int64_t lo, int64_t hi, int32_t *e) /* a += x */
{
	(void)e;
	float *a = b[0];
	const float *x = b[1];
	for (int64_t i = lo; i < hi; i++)
		a[i] += x[i];
	ran = 1;
}

static void k_busy(void **b, int64_t lo, int64_t hi, int32_t *e) /* t = x * x, slowly */
{
	(void)e;
	float *t = b[0];
	const float *x = b[1];
	for (int r = 0; r < 200; r++)
		for (int64_t i = lo; i < hi; i++)
			t[i] = x[i] * x[i] + (float)r * 0.0f;
	ran++;
}

static void k_new_b(void **b, int64_t lo, int64_t hi, int32_t *e) /* nb = b + 2x */
{
	(void)e;
	float *nb = b[0];
	const float *old = b[1], *x = b[2];
	for (int64_t i = lo; i < hi; i++)
		nb[i] = old[i] + 2.0f * x[i];
	ran++;
}

static const rt_slot slots[] = {
    {"accum.grad.a", RT_SLOT_STATE, RT_F32, 1, {N}, RT_INIT_ZEROS, 0, 0, 0},
    {"accum.grad.b", RT_SLOT_STATE, RT_F32, 1, {N}, RT_INIT_ZEROS, 0, 0, 0},
    {"x", RT_SLOT_INPUT, RT_F32, 1, {N}, RT_INIT_ZEROS, 0, 0, 0},
};
/* buffers: the three slots; arena: t [0, 4N), new b [4N, 8N) */
static const rt_prog_buf bufs[] = {
    {0, 0, 4 * N}, {1, 0, 4 * N}, {2, 0, 4 * N}, {-1, 0, 4 * N}, {-1, 4 * N, 4 * N}};
static const int a_add[] = {0, 2}, a_busy[] = {3, 2}, a_newb[] = {4, 1, 2};
static const rt_prog_kernel kernels[] = {
    {.kind = RT_K_ELEM, .name = "add_a", .fn = k_add_a, .nargs = 2, .args = a_add,
     .par_extent = N, .work = 1},
    {.kind = RT_K_ELEM, .name = "busy", .fn = k_busy, .nargs = 2, .args = a_busy,
     .par_extent = N, .work = 1},
    {.kind = RT_K_ELEM, .name = "new_b", .fn = k_new_b, .nargs = 3, .args = a_newb,
     .par_extent = N, .work = 1},
    {.kind = RT_K_ELEM, .name = "busy2", .fn = k_busy, .nargs = 2, .args = a_busy,
     .par_extent = N, .work = 1},
};
static const rt_prog_commit commits[] = {{4, -1, 1}};
static const rt_prog prog = {slots, 3, NULL, 0, bufs, 5, kernels, 4, commits, 1, 8 * N};

/* ---- the stand-in communicator ---- */

static int seen[8], ncalls;

static int twice(rt_comm *c, void *buf, size_t n, rt_comm_dtype dt, rt_err *err)
{
	(void)c, (void)err;
	assert_int_equal(dt, RT_COMM_F32);
	if (ncalls < 8)
		seen[ncalls] = ran;
	ncalls++;
	for (size_t i = 0; i < n; i++)
		((float *)buf)[i] *= 2.0f;
	return 0;
}

static rt_comm two = {.name = "two", .rank = 0, .size = 2, .allreduce = twice, .serialized = 1};

static void test_final_at(void **state)
{
	(void)state;
	rt_err err;
	rt_exec *x = rt_runner_new(&prog, rt_dev_cpu_new(1, &err), &err);
	assert_non_null(x);
	assert_ptr_equal(x->runner, x);
	void *holder = (void *)1;
	/* a: written in place by kernel 0 and touched by none after it */
	assert_int_equal(rt_runner_final_at(x, 0, &holder), 1);
	assert_null(holder);
	/* b: its new value in the arena until the commit, final after kernel 2 */
	assert_int_equal(rt_runner_final_at(x, 1, &holder), 3);
	assert_non_null(holder);
	assert_int_equal(rt_runner_nkernels(x), 4);
	/* a snapshot: not one buffer's alone until the commits */
	rt_prog_commit snap[] = {{4, 3, 1}};
	rt_prog p2 = prog;
	p2.commits = snap;
	rt_exec *y = rt_runner_new(&p2, rt_dev_cpu_new(1, &err), &err);
	assert_non_null(y);
	assert_int_equal(rt_runner_final_at(y, 1, &holder), -1);
	y->free(y);
	x->free(x);
}

/* Runs the step with a and b in buckets of bucket_bytes; checks the sums
 * and when each call began. */
static void run_step(size_t bucket_bytes, int want_calls)
{
	rt_err err;
	rt_exec *x = rt_runner_new(&prog, rt_dev_cpu_new(2, &err), &err);
	assert_non_null(x);
	static float a[N], b[N], xs[N];
	for (int i = 0; i < N; i++)
		a[i] = (float)i, b[i] = 1.0f, xs[i] = 0.5f;
	void *bind[] = {a, b, xs};
	rt_overlap *ov = rt_overlap_new(&two, &err);
	assert_non_null(ov);
	void *hold_b;
	int ua = rt_runner_final_at(x, 0, &(void *){0}), ub = rt_runner_final_at(x, 1, &hold_b);
	rt_overlap_begin(ov, bucket_bytes, rt_runner_nkernels(x));
	assert_int_equal(rt_overlap_add(ov, a, N, RT_F32, ua, &err), 0);
	assert_int_equal(rt_overlap_add(ov, hold_b, N, RT_F32, ub, &err), 0);
	rt_runner_watch w = {rt_overlap_done, rt_overlap_settle, ov};
	ran = 0;
	ncalls = 0;
	assert_int_equal(rt_runner_run_watched(x, bind, NULL, &w, &err), 0);
	for (int i = 0; i < N; i++) {
		assert_true(a[i] == 2.0f * ((float)i + 0.5f));
		assert_true(b[i] == 2.0f * (1.0f + 1.0f)); /* the commit moved the sum */
	}
	assert_int_equal(ncalls, want_calls);
	rt_overlap_stat o;
	rt_overlap_stats(ov, &o);
	assert_int_equal(o.buckets, want_calls);
	assert_true(o.comm_s >= 0 && o.after_s >= 0);
	if (want_calls == 2) { /* a alone, handed over after kernel 0; b after kernel 2 */
		assert_int_equal(o.early, 2);
		assert_true(seen[0] >= 1);
		assert_true(seen[1] >= 3);
	} else { /* one bucket: after b's kernel */
		assert_int_equal(o.early, 1);
		assert_true(seen[0] >= 3);
	}
	rt_overlap_free(ov);
	x->free(x);
}

static void test_bucket_each(void **state)
{
	(void)state;
	run_step(4 * N, 2);
}

static void test_one_bucket(void **state)
{
	(void)state;
	run_step(8 * N, 1);
}

/* A failed sum: settle returns its message, and the thread stops cleanly. */
static int broken(rt_comm *c, void *buf, size_t n, rt_comm_dtype dt, rt_err *err)
{
	(void)c, (void)buf, (void)n, (void)dt;
	return rt_errf(err, "comm: rank 0: allreduce: rank 1 stopped answering");
}

static void test_failure(void **state)
{
	(void)state;
	rt_comm bad = two;
	bad.allreduce = broken;
	rt_err err;
	rt_overlap *ov = rt_overlap_new(&bad, &err);
	assert_non_null(ov);
	static float v[16];
	rt_overlap_begin(ov, 64, 2);
	assert_int_equal(rt_overlap_add(ov, v, 16, RT_F32, 1, &err), 0);
	assert_int_equal(rt_overlap_add(ov, v, 16, RT_F32, 2, &err), 0);
	rt_overlap_done(ov, 1);
	assert_int_equal(rt_overlap_settle(ov, &err), -1);
	assert_non_null(strstr(err.msg, "rank 1 stopped answering"));
	rt_overlap_stat o;
	rt_overlap_stats(ov, &o);
	assert_int_equal(o.buckets, 1); /* the second was skipped */
	rt_overlap_free(ov);
}

/* ---- a whole step on "two ranks": acc(0) [accum.grad] upd ---- */

static int64_t fill(void *ctx, int64_t t, int micro, int64_t micro_batch, rt_err *err)
{
	(void)ctx, (void)t, (void)micro, (void)err;
	return micro_batch;
}

static int report(void *ctx, const rt_exec *x, const double *outs, int64_t real, rt_err *err)
{
	(void)ctx, (void)x, (void)outs, (void)real, (void)err;
	return 0;
}

static void run_rt_step(int serialized, double bucket_mb, int want_calls, int want_thread)
{
	static const rt_prog upd = {slots, 2, NULL, 0, bufs, 2, NULL, 0, NULL, 0, 0};
	rt_err err;
	rt_exec *acc = rt_runner_new(&prog, rt_dev_cpu_new(2, &err), &err);
	rt_exec *up = rt_runner_new(&upd, rt_dev_cpu_new(1, &err), &err);
	assert_non_null(acc);
	assert_non_null(up);
	rt_store st = {0};
	assert_int_equal(rt_store_add_exec(&st, acc, &err), 0);
	assert_int_equal(rt_store_add_exec(&st, up, &err), 0);
	rt_step_execs e = {{0}, {0}};
	e.x[RT_STEP_ACC] = acc;
	e.x[RT_STEP_UPD] = up;
	assert_non_null(e.bind[RT_STEP_ACC] = rt_store_bind(&st, acc, &err));
	assert_non_null(e.bind[RT_STEP_UPD] = rt_store_bind(&st, up, &err));
	float *a = rt_store_addr(&st, "accum.grad.a"), *b = rt_store_addr(&st, "accum.grad.b");
	float *xs = rt_store_addr(&st, "x");
	for (int i = 0; i < N; i++)
		xs[i] = 0.5f;
	rt_recipe r;
	memset(&r, 0, sizeof r);
	r.opt.accumulate = r.opt.sam_m = 1;
	r.opt.ranks = 2;
	r.batch_size = 4;
	r.allreduce_overlap = 1;
	r.allreduce_bucket_mb = bucket_mb;
	rt_comm c = two;
	c.serialized = serialized;
	rt_step_stage sg = {0};
	rt_step_io io = {fill, report, NULL, NULL, &c, &sg};
	ncalls = 0;
	assert_int_equal(rt_step_do(&e, &st, &r, 0, 1, 1, &io, NULL, &err), 0);
	for (int i = 0; i < N; i++) /* the sums of zeros + x and zeros + 2x */
		assert_true(a[i] == 1.0f && b[i] == 2.0f);
	assert_int_equal(ncalls, want_calls);
	assert_int_equal(sg.ov != NULL, want_thread);
	assert_int_equal(sg.noted, !serialized);
	rt_step_stage_free(&sg);
	free(e.bind[RT_STEP_ACC]);
	free(e.bind[RT_STEP_UPD]);
	rt_store_free(&st);
	up->free(up);
	acc->free(acc);
}

static void test_step(void **state)
{
	(void)state;
	run_rt_step(1, 0.001, 2, 1); /* overlapped, a bucket each */
	run_rt_step(1, 25, 1, 1);    /* overlapped, one bucket */
	run_rt_step(0, 0.001, 1, 0); /* no thread: one packed bucket after the run */
}

/* A backward pass in miniature: g2 (the last layer's gradient) before dh
 * and g1, the accumulators' adds after all of them, as pass_micro adds
 * them. The hoist puts acc2 + g2 right after g2; acc1 + g1 is there
 * already; the fusion stays valid (pass_fuse_check). */
static void test_hoist(void **state)
{
	(void)state;
	static const ir_init zero = {IR_INIT_ZEROS, 0, 0};
	int64_t dx[2] = {8, 4}, d1[2] = {4, 5}, d2[2] = {5, 3};
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *x = ir_input(g, "x", IR_F32, ir_shape_make(2, dx));
	ir_node *w1 = ir_param(g, "w1", IR_F32, ir_shape_make(2, d1), zero);
	ir_node *w2 = ir_param(g, "w2", IR_F32, ir_shape_make(2, d2), zero);
	ir_node *a1 = ir_state(g, "accum.grad.w1", IR_F32, ir_shape_make(2, d1));
	ir_node *a2 = ir_state(g, "accum.grad.w2", IR_F32, ir_shape_make(2, d2));
	ir_node *h = ir_matmul(g, x, w1, 0, 0);
	ir_node *y = ir_matmul(g, h, w2, 0, 0);
	ir_node *g2 = ir_matmul(g, h, y, 1, 0);
	ir_node *dh = ir_matmul(g, y, w2, 0, 1);
	ir_node *g1 = ir_matmul(g, x, dh, 1, 0);
	ir_node *n1 = ir_binary(g, IR_OP_ADD, a1, g1), *n2 = ir_binary(g, IR_OP_ADD, a2, g2);
	ir_assign(g, a1, n1);
	ir_assign(g, a2, n2);
	ir_node *loss = ir_reduce(g, IR_OP_SUM, y, 0, 0);
	char err[256];
	pass_fusion *f = pass_fuse(g, &loss, 1, err, sizeof err);
	assert_non_null(f);
	int k2 = f->kernel_of[g2->id], kn2 = f->kernel_of[n2->id];
	assert_true(kn2 > k2 + 1); /* after dh and g1 */
	assert_int_equal(pass_hoist_accum(f), 1);
	assert_int_equal(f->kernel_of[n2->id], f->kernel_of[g2->id] + 1);
	assert_int_equal(f->kernel_of[n1->id], f->kernel_of[g1->id] + 1);
	assert_true(f->kernel_of[n2->id] < f->kernel_of[dh->id]);
	assert_int_equal(pass_fuse_check(f, err, sizeof err), 0);
	assert_int_equal(pass_hoist_accum(f), 0); /* nothing left to move */
	pass_fusion_free(f);
	ir_graph_free(g);
}

/* The device form needs a communicator that sums beside the kernels
 * (NCCL's allreduce_dev_side) and a device with a side queue: refused,
 * with a message, on the CPU with the one-rank communicator. */
static void test_dev_refused(void **state)
{
	(void)state;
	rt_err err = {{0}};
	rt_device *d = rt_dev_cpu_new(1, &err);
	assert_non_null(d);
	assert_null(rt_overlap_new_dev(rt_comm_self(), d, &err));
	assert_non_null(strstr(err.msg, "cannot sum cpu memory beside the kernels"));
	d->release(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_final_at),
	    cmocka_unit_test(test_bucket_each),
	    cmocka_unit_test(test_one_bucket),
	    cmocka_unit_test(test_failure),
	    cmocka_unit_test(test_step),
	    cmocka_unit_test(test_hoist),
	    cmocka_unit_test(test_dev_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
