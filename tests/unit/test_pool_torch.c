/*
 * test_pool_torch.c - max_pool2d, avg_pool2d and adaptive_avg_pool2d
 * against PyTorch's values at fixed inputs (ties, padding, stride !=
 * kernel, a NaN, overlapping adaptive windows): the forward values and the
 * gradient of sum(y * r), through the reference interpreter (f64) and the
 * CPU backend (f64 and f32). The table is tests/oracle/pool_ref.py's
 * output; CTest's oracle_pool_ref checks that it still is PyTorch's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_cg_harness.h"

#include "cg_cpu.h"
#include "ir.h"
#include "ir_interp.h"
#include "ir_pool.h"
#include "pass_autodiff.h"

#include "test_pool_torch_ref.h"

static ir_op op_named(const char *name)
{
	for (int op = 0; op < IR_OP_COUNT; op++)
		if (strcmp(ir_op_name((ir_op)op), name) == 0)
			return (ir_op)op;
	fail_msg("no op named %s", name);
	return IR_OP_COUNT;
}

static int64_t numel4(const int64_t *d) { return d[0] * d[1] * d[2] * d[3]; }

static void expect(const pool_ref_row *row, const char *what, int64_t i, double got, double want,
                   double tol)
{
	if (isnan(want) ? isnan(got) : fabs(got - want) <= tol * fmax(1.0, fabs(want)))
		return;
	fail_msg("%s k %lldx%lld s %lldx%lld p %lldx%lld out %lldx%lld: %s[%lld] %.17g, PyTorch %.17g",
	         row->op, (long long)row->k[0], (long long)row->k[1], (long long)row->s[0],
	         (long long)row->s[1], (long long)row->p[0], (long long)row->p[1],
	         (long long)row->osz[0], (long long)row->osz[1], what, (long long)i, got, want);
}

/* y = pool(x), gx = d sum(y * r) / dx; x a param, r an input */
static ir_node *build(ir_graph *g, ir_dtype t, const pool_ref_row *row, ir_node **x, ir_node **r,
                      ir_node **gx)
{
	ir_init zero = {IR_INIT_ZEROS, 0, 0};
	*x = ir_param(g, "x", t, ir_shape_make(4, row->shape), zero);
	ir_pool_params pp = {row->k[0], row->k[1], row->s[0], row->s[1], row->p[0], row->p[1],
	                     row->count_pad, row->osz[0], row->osz[1]};
	ir_node *y = ir_pool2d(g, op_named(row->op), *x, NULL, &pp);
	if (!y)
		fail_msg("%s: %s", row->op, g->err);
	for (int i = 0; i < 4; i++)
		assert_int_equal(y->shape.dim[i], row->yshape[i]);
	*r = ir_input(g, "r", t, y->shape);
	ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, y, *r), 0, 0);
	if (!loss || pass_grad(g, loss, x, 1, gx) != 0)
		fail_msg("%s: %s", row->op, g->err);
	return y;
}

static void interp_row(const pool_ref_row *row)
{
	ir_graph *g = ir_graph_new(IR_F64);
	ir_node *x, *r, *gx;
	ir_node *y = build(g, IR_F64, row, &x, &r, &gx);
	ir_env *e = ir_env_new(g);
	int64_t nx = numel4(row->shape), ny = numel4(row->yshape);
	memcpy(ir_env_leaf(e, x), row->x, (size_t)nx * sizeof(double));
	memcpy(ir_env_leaf(e, r), row->r, (size_t)ny * sizeof(double));
	ir_node *outs[2] = {y, gx};
	double *v[2];
	char err[512];
	if (ir_interp_eval(e, outs, 2, v, err, sizeof err) != 0)
		fail_msg("%s: %s", row->op, err);
	for (int64_t i = 0; i < ny; i++)
		expect(row, "interpreter y", i, v[0][i], row->y[i], 1e-15);
	for (int64_t i = 0; i < nx; i++)
		expect(row, "interpreter dx", i, v[1][i], row->gx[i], 1e-15);
	free(v[0]);
	free(v[1]);
	ir_env_free(e);
	ir_graph_free(g);
}

static void put(const rt_slot *sl, void *d, const double *v, int64_t n)
{
	for (int64_t i = 0; i < n; i++) {
		if (sl->dtype == RT_F32)
			((float *)d)[i] = (float)v[i];
		else
			((double *)d)[i] = v[i];
	}
}

static double get(const rt_slot *sl, const void *d, int64_t i)
{
	return sl->dtype == RT_F32 ? ((const float *)d)[i] : ((const double *)d)[i];
}

/* The CPU backend on the same inputs, its loop IR verified (padding puts
 * window positions outside the plane: every load must still be proven in
 * range); y and dx observed in states. */
static void backend_row(const pool_ref_row *row, ir_dtype t, double tol)
{
	ir_graph *g = ir_graph_new(t);
	ir_node *x, *r, *gx;
	ir_node *y = build(g, t, row, &x, &r, &gx);
	ir_node *sy = ir_state(g, "obs_y", t, y->shape), *sg = ir_state(g, "obs_dx", t, x->shape);
	assert_non_null(ir_assign(g, sy, y));
	assert_non_null(ir_assign(g, sg, gx));
	assert_int_equal(ir_verify(g), 0);
	cg_options o;
	cg_options_default(&o);
	o.pass.verify = 1;
	char err[1024];
	rt_exec *cpu = cg_cpu_exec_new(g, NULL, NULL, 0, &o, err, sizeof err);
	if (!cpu)
		fail_msg("%s: %s", row->op, err);
	void **d = calloc((size_t)cpu->nslots + 1, sizeof *d);
	int64_t nx = numel4(row->shape), ny = numel4(row->yshape);
	for (int i = 0; i < cpu->nslots; i++) {
		const rt_slot *sl = &cpu->slots[i];
		int64_t n = 1;
		for (int j = 0; j < sl->rank; j++)
			n *= sl->dim[j];
		d[i] = calloc((size_t)n, 8);
		if (!strcmp(sl->name, "x"))
			put(sl, d[i], row->x, nx);
		else if (!strcmp(sl->name, "r"))
			put(sl, d[i], row->r, ny);
	}
	rt_err e;
	double outv[1];
	if (cpu->run(cpu, d, outv, &e))
		fail_msg("%s: %s", row->op, e.msg);
	for (int i = 0; i < cpu->nslots; i++) {
		const rt_slot *sl = &cpu->slots[i];
		if (!strcmp(sl->name, "obs_y"))
			for (int64_t j = 0; j < ny; j++)
				expect(row, "backend y", j, get(sl, d[i], j), row->y[j], tol);
		if (!strcmp(sl->name, "obs_dx"))
			for (int64_t j = 0; j < nx; j++)
				expect(row, "backend dx", j, get(sl, d[i], j), row->gx[j], tol);
		free(d[i]);
	}
	free(d);
	cpu->free(cpu);
	ir_graph_free(g);
}

static void test_interp(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof pool_ref_rows / sizeof *pool_ref_rows; i++)
		interp_row(&pool_ref_rows[i]);
}

static void test_backend(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof pool_ref_rows / sizeof *pool_ref_rows; i++) {
		backend_row(&pool_ref_rows[i], IR_F64, 1e-12);
		backend_row(&pool_ref_rows[i], IR_F32, 1e-6);
	}
}

/* Larger random planes (the parallel loop split across threads): the
 * backend against the interpreter, forward and gradient. */
static void test_backend_random(void **st)
{
	(void)st;
	static const ir_pool_params cases[] = {
		{3, 3, 2, 2, 1, 1, 1, 0, 0}, {2, 4, 3, 1, 0, 2, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 1, 5, 3},
	};
	static const ir_op ops[] = {IR_OP_MAX_POOL2D, IR_OP_AVG_POOL2D, IR_OP_ADAPTIVE_AVG_POOL2D};
	for (int t = 0; t < 2; t++)
		for (int i = 0; i < 3; i++)
			for (int j = 0; j < 2; j++) {
				ir_dtype dt = t ? IR_F64 : IR_F32;
				const ir_pool_params *pp = &cases[i == 2 ? 2 : j];
				ir_op op = ops[i];
				ir_graph *g = ir_graph_new(dt);
				int64_t d[4] = {16, 8, 13, 11};
				ir_init zero = {IR_INIT_ZEROS, 0, 0};
				ir_node *x = ir_param(g, "x", dt, ir_shape_make(4, d), zero);
				ir_node *y = ir_pool2d(g, op, x, NULL, pp);
				assert_non_null(y);
				ir_node *r = ir_input(g, "r", dt, y->shape), *gx;
				ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, y, r), 0, 0);
				assert_int_equal(pass_grad(g, loss, &x, 1, &gx), 0);
				assert_non_null(cgh_observe(g, y, 0));
				assert_non_null(cgh_observe(g, gx, 1));
				char err[1024] = "";
				double worst;
				int rc = cgh_compare(g, NULL, NULL, 0, 1, t ? 1e-12 : 2e-5, 5 + i, &worst, err,
				                     sizeof err);
				if (rc)
					fail_msg("%s %s: %s", ir_op_name(op), ir_dtype_name(dt), err);
				ir_graph_free(g);
			}
}

/* The shape rule refuses what PyTorch refuses, with a message. */
static void test_errors(void **st)
{
	(void)st;
	static const struct {
		ir_pool_params p;
		const char *msg;
	} bad[] = {
		{{0, 2, 1, 1, 0, 0, 1, 0, 0}, "kernel size"},
		{{2, 2, 0, 1, 0, 0, 1, 0, 0}, "stride"},
		{{2, 2, 1, 1, 2, 0, 1, 0, 0}, "at most half"},
		{{9, 2, 1, 1, 0, 0, 1, 0, 0}, "smaller than the kernel"},
	};
	int64_t d[4] = {1, 1, 4, 4};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ir_graph *g = ir_graph_new(IR_F32);
		ir_node *x = ir_input(g, "x", IR_F32, ir_shape_make(4, d));
		assert_null(ir_pool2d(g, IR_OP_MAX_POOL2D, x, NULL, &bad[i].p));
		if (!strstr(g->err, bad[i].msg))
			fail_msg("expected '%s' in: %s", bad[i].msg, g->err);
		ir_graph_free(g);
	}
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *x = ir_input(g, "x", IR_F32, ir_shape_make(2, d + 2));
	ir_pool_params a = {0, 0, 0, 0, 0, 0, 1, 1, 1};
	assert_null(ir_pool2d(g, IR_OP_ADAPTIVE_AVG_POOL2D, x, NULL, &a));
	assert_non_null(strstr(g->err, "[N,C,H,W]"));
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interp),
		cmocka_unit_test(test_backend),
		cmocka_unit_test(test_backend_random),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
