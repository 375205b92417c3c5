/*
 * test_conv_torch.c - conv2d against PyTorch's F.conv2d and its autograd
 * gradients at fixed inputs (stride 2, padding, dilation 2, groups 2 and
 * depthwise, 1x1, a 2x3 kernel with uneven stride, padding and dilation, a
 * stride larger than the kernel): y, and dx and dw of sum(y * r), through
 * the reference interpreter and the CPU backend, in f64 and f32. The
 * table is tests/oracle/conv_ref.py's output (CTest's oracle_conv_ref
 * keeps it PyTorch's); its inputs make every sum exact, so f32 must agree
 * as closely as f64 does, and the tolerances only allow for nothing.
 * Then the backend against the interpreter on larger random tensors: f32
 * bit for bit (both sum the exact double products of floats in the same
 * order), f64 up to the backend's contraction of a*b+c into FMA; and the
 * shape rule's errors.
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
#include "ir_conv.h"
#include "ir_interp.h"
#include "pass_autodiff.h"

#include "test_conv_torch_ref.h"

static int64_t numel4(const int64_t *d) { return d[0] * d[1] * d[2] * d[3]; }

static void expect(const conv_ref_row *row, const char *what, int64_t i, double got, double want,
                   double tol)
{
	if (fabs(got - want) <= tol * fmax(1.0, fabs(want)))
		return;
	fail_msg("conv2d x [%lld,%lld,%lld,%lld] w [%lld,%lld,%lld,%lld] stride %lldx%lld padding "
	         "%lldx%lld dilation %lldx%lld groups %lld: %s[%lld] %.17g, PyTorch %.17g",
	         (long long)row->xs[0], (long long)row->xs[1], (long long)row->xs[2],
	         (long long)row->xs[3], (long long)row->ws[0], (long long)row->ws[1],
	         (long long)row->ws[2], (long long)row->ws[3], (long long)row->stride[0],
	         (long long)row->stride[1], (long long)row->padding[0], (long long)row->padding[1],
	         (long long)row->dilation[0], (long long)row->dilation[1], (long long)row->groups, what,
	         (long long)i, got, want);
}

static ir_conv_params params_of(const conv_ref_row *row)
{
	ir_conv_params p = {row->stride[0],   row->stride[1],   row->padding[0], row->padding[1],
	                    row->dilation[0], row->dilation[1], row->groups};
	return p;
}

/* y = conv2d(x, w); g[0], g[1] = d sum(y * r) / dx, dw. x and w params, r an input. */
static ir_node *build(ir_graph *g, ir_dtype t, const conv_ref_row *row, ir_node **xw, ir_node **r,
                      ir_node **grads)
{
	ir_init zero = {IR_INIT_ZEROS, 0, 0};
	xw[0] = ir_param(g, "x", t, ir_shape_make(4, row->xs), zero);
	xw[1] = ir_param(g, "w", t, ir_shape_make(4, row->ws), zero);
	ir_conv_params p = params_of(row);
	ir_node *y = ir_conv2d(g, xw[0], xw[1], &p);
	if (!y)
		fail_msg("conv2d: %s", g->err);
	for (int i = 0; i < 4; i++)
		assert_int_equal(y->shape.dim[i], row->ys[i]);
	*r = ir_input(g, "r", t, y->shape);
	ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, y, *r), 0, 0);
	if (!loss || pass_grad(g, loss, xw, 2, grads) != 0)
		fail_msg("conv2d: %s", g->err);
	return y;
}

static void interp_row(const conv_ref_row *row, ir_dtype t, double tol)
{
	ir_graph *g = ir_graph_new(t);
	ir_node *xw[2], *r, *grads[2];
	ir_node *y = build(g, t, row, xw, &r, grads);
	ir_env *e = ir_env_new(g);
	int64_t nx = numel4(row->xs), nw = numel4(row->ws), ny = numel4(row->ys);
	memcpy(ir_env_leaf(e, xw[0]), row->x, (size_t)nx * sizeof(double));
	memcpy(ir_env_leaf(e, xw[1]), row->w, (size_t)nw * sizeof(double));
	memcpy(ir_env_leaf(e, r), row->r, (size_t)ny * sizeof(double));
	ir_node *outs[3] = {y, grads[0], grads[1]};
	double *v[3];
	char err[512];
	if (ir_interp_eval(e, outs, 3, v, err, sizeof err) != 0)
		fail_msg("conv2d: %s", err);
	for (int64_t i = 0; i < ny; i++)
		expect(row, "interpreter y", i, v[0][i], row->y[i], tol);
	for (int64_t i = 0; i < nx; i++)
		expect(row, "interpreter dx", i, v[1][i], row->gx[i], tol);
	for (int64_t i = 0; i < nw; i++)
		expect(row, "interpreter dw", i, v[2][i], row->gw[i], tol);
	for (int i = 0; i < 3; i++)
		free(v[i]);
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

/* The CPU backend on the same inputs, its loop IR verified; y, dx and dw
 * observed in states. */
static void backend_row(const conv_ref_row *row, ir_dtype t, double tol)
{
	ir_graph *g = ir_graph_new(t);
	ir_node *xw[2], *r, *grads[2];
	ir_node *y = build(g, t, row, xw, &r, grads);
	assert_non_null(cgh_observe(g, y, 0));
	assert_non_null(cgh_observe(g, grads[0], 1));
	assert_non_null(cgh_observe(g, grads[1], 2));
	assert_int_equal(ir_verify(g), 0);
	cg_options o;
	cg_options_default(&o);
	o.pass.verify = 1;
	char err[1024];
	rt_exec *cpu = cg_cpu_exec_new(g, NULL, NULL, 0, &o, err, sizeof err);
	if (!cpu)
		fail_msg("conv2d: %s", err);
	void **d = calloc((size_t)cpu->nslots + 1, sizeof *d);
	const double *src[3] = {row->x, row->w, row->r};
	const char *names[3] = {"x", "w", "r"};
	const double *want[3] = {row->y, row->gx, row->gw};
	const char *what[3] = {"backend y", "backend dx", "backend dw"};
	for (int i = 0; i < cpu->nslots; i++) {
		const rt_slot *sl = &cpu->slots[i];
		d[i] = calloc((size_t)cgh_numel(sl), 8);
		for (int j = 0; j < 3; j++)
			if (!strcmp(sl->name, names[j]))
				put(sl, d[i], src[j], cgh_numel(sl));
	}
	rt_err e;
	double outv[1];
	if (cpu->run(cpu, d, outv, &e))
		fail_msg("conv2d: %s", e.msg);
	for (int i = 0; i < cpu->nslots; i++) {
		const rt_slot *sl = &cpu->slots[i];
		for (int j = 0; j < 3; j++) {
			char obs[16];
			snprintf(obs, sizeof obs, "obs%d", j);
			if (!strcmp(sl->name, obs))
				for (int64_t k = 0; k < cgh_numel(sl); k++)
					expect(row, what[j], k, cgh_get(sl, d[i], k), want[j][k], tol);
		}
		free(d[i]);
	}
	free(d);
	cpu->free(cpu);
	ir_graph_free(g);
}

#define NROWS (sizeof conv_ref_rows / sizeof *conv_ref_rows)

static void test_interp(void **st)
{
	(void)st;
	for (size_t i = 0; i < NROWS; i++) {
		interp_row(&conv_ref_rows[i], IR_F64, 1e-12);
		interp_row(&conv_ref_rows[i], IR_F32, 1e-5);
	}
}

static void test_backend(void **st)
{
	(void)st;
	for (size_t i = 0; i < NROWS; i++) {
		backend_row(&conv_ref_rows[i], IR_F64, 1e-12);
		backend_row(&conv_ref_rows[i], IR_F32, 1e-5);
	}
}

/* Larger random tensors, the planes split over threads: the backend
 * against the interpreter, forward and both gradients (f32 bit for bit
 * through the generated loops; through oneDNN, the backend's default for
 * f32, within f32 rounding). */
static void test_backend_random(void **st)
{
	(void)st;
	static const struct {
		int64_t x[4], w[4];
		ir_conv_params p;
	} cases[] = {
		{{8, 6, 13, 11}, {8, 3, 3, 3}, {2, 2, 1, 1, 1, 1, 2}},
		{{4, 4, 12, 12}, {8, 1, 3, 3}, {1, 1, 2, 2, 2, 2, 4}},
		{{3, 5, 9, 10}, {7, 5, 2, 4}, {1, 3, 0, 2, 2, 1, 1}},
	};
	for (int t = 0; t < 2; t++)
		for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
			ir_dtype dt = t ? IR_F64 : IR_F32;
			ir_graph *g = ir_graph_new(dt);
			ir_init zero = {IR_INIT_ZEROS, 0, 0};
			ir_node *xw[2] = {ir_param(g, "x", dt, ir_shape_make(4, cases[i].x), zero),
			                  ir_param(g, "w", dt, ir_shape_make(4, cases[i].w), zero)};
			ir_node *y = ir_conv2d(g, xw[0], xw[1], &cases[i].p), *gr[2];
			assert_non_null(y);
			ir_node *r = ir_input(g, "r", dt, y->shape);
			ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, y, r), 0, 0);
			assert_int_equal(pass_grad(g, loss, xw, 2, gr), 0);
			assert_non_null(cgh_observe(g, y, 0));
			assert_non_null(cgh_observe(g, gr[0], 1));
			assert_non_null(cgh_observe(g, gr[1], 2));
			char err[1024] = "";
			double worst;
			cg_options o;
			cg_options_default(&o);
			o.conv_loops = 1;
			int rc = cgh_compare_with(g, NULL, NULL, 0, &o, 1, t ? 1e-14 : 0.0, 11 + i, &worst,
			                          err, sizeof err);
			if (rc)
				fail_msg("case %zu %s: %s", i, ir_dtype_name(dt), err);
			rc = cgh_compare(g, NULL, NULL, 0, 1, t ? 1e-14 : 1e-5, 11 + i, &worst, err,
			                 sizeof err);
			if (rc)
				fail_msg("case %zu %s (oneDNN for f32): %s", i, ir_dtype_name(dt), err);
			ir_graph_free(g);
		}
}

/* The shape rule refuses what PyTorch refuses, with a message. */
static void test_errors(void **st)
{
	(void)st;
	static const struct {
		int64_t x[4], w[4];
		ir_conv_params p;
		const char *msg;
	} bad[] = {
		{{1, 4, 5, 5}, {4, 2, 3, 3}, {1, 1, 0, 0, 1, 1, 3}, "not divisible by groups 3"},
		{{1, 4, 5, 5}, {6, 1, 3, 3}, {1, 1, 0, 0, 1, 1, 4}, "output channels 6 are not divisible"},
		{{1, 4, 5, 5}, {4, 3, 3, 3}, {1, 1, 0, 0, 1, 1, 1}, "3 input channels per group, expected 4"},
		{{1, 2, 5, 5}, {4, 2, 3, 3}, {0, 1, 0, 0, 1, 1, 1}, "stride 0x1 must be positive"},
		{{1, 2, 5, 5}, {4, 2, 3, 3}, {1, 1, 0, 0, 1, 0, 1}, "dilation 1x0 must be positive"},
		{{1, 2, 5, 5}, {4, 2, 3, 3}, {1, 1, -1, 0, 1, 1, 1}, "padding -1x0 must be non-negative"},
		{{1, 2, 5, 5}, {4, 2, 3, 3}, {1, 1, 0, 0, 1, 1, 0}, "groups 0 must be positive"},
		{{1, 2, 4, 5}, {4, 2, 3, 3}, {1, 1, 0, 0, 2, 1, 1}, "(5x3 dilated) is larger than the padded input 4x5"},
		{{1, 2, 2, 2}, {4, 2, 3, 3}, {1, 1, 0, 0, 1, 1, 1}, "larger than the padded input 2x2"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ir_graph *g = ir_graph_new(IR_F32);
		ir_set_loc(g, "model.lua", 7);
		ir_node *x = ir_input(g, "x", IR_F32, ir_shape_make(4, bad[i].x));
		ir_node *w = ir_input(g, "w", IR_F32, ir_shape_make(4, bad[i].w));
		assert_null(ir_conv2d(g, x, w, &bad[i].p));
		if (!strstr(g->err, bad[i].msg) || !strstr(g->err, "model.lua:7: conv2d: "))
			fail_msg("expected 'model.lua:7: conv2d: ...%s' in: %s", bad[i].msg, g->err);
		ir_graph_free(g);
	}
	/* ranks and dtypes */
	ir_graph *g = ir_graph_new(IR_F32);
	ir_conv_params p = ir_conv_params_default();
	int64_t d[4] = {1, 2, 5, 5}, wd[4] = {4, 2, 3, 3};
	ir_node *x3 = ir_input(g, "x3", IR_F32, ir_shape_make(3, d + 1));
	ir_node *w = ir_input(g, "w", IR_F32, ir_shape_make(4, wd));
	assert_null(ir_conv2d(g, x3, w, &p));
	assert_non_null(strstr(g->err, "input [N,C,H,W] must have rank 4, got rank 3"));
	ir_graph_free(g);
	g = ir_graph_new(IR_F32);
	ir_node *x = ir_input(g, "x", IR_F32, ir_shape_make(4, d));
	ir_node *w64 = ir_input(g, "w", IR_F64, ir_shape_make(4, wd));
	assert_null(ir_conv2d(g, x, w64, &p));
	assert_non_null(strstr(g->err, "is f32 but the weight"));
	ir_graph_free(g);
	g = ir_graph_new(IR_F32);
	ir_node *xi = ir_input(g, "x", IR_I32, ir_shape_make(4, d));
	w = ir_input(g, "w", IR_F32, ir_shape_make(4, wd));
	assert_null(ir_conv2d(g, xi, w, &p));
	assert_non_null(strstr(g->err, "must be a float tensor, got i32"));
	ir_graph_free(g);
	/* the backward ops check dy against the sizes they were given */
	g = ir_graph_new(IR_F32);
	int64_t dyd[4] = {1, 4, 3, 3};
	ir_node *dy = ir_input(g, "dy", IR_F32, ir_shape_make(4, dyd));
	w = ir_input(g, "w", IR_F32, ir_shape_make(4, wd));
	assert_non_null(ir_conv2d_bwd_data(g, dy, w, 5, 5, &p));
	assert_null(ir_conv2d_bwd_data(g, dy, w, 6, 5, &p));
	assert_non_null(strstr(g->err, "dy has shape [1,4,3,3], expected [1,4,4,3]"));
	ir_graph_free(g);
	g = ir_graph_new(IR_F32);
	x = ir_input(g, "x", IR_F32, ir_shape_make(4, d));
	dy = ir_input(g, "dy", IR_F32, ir_shape_make(4, dyd));
	ir_node *dw = ir_conv2d_bwd_weight(g, x, dy, 3, 3, &p);
	assert_non_null(dw);
	assert_int_equal(dw->shape.dim[1], 2);
	assert_null(ir_conv2d_bwd_weight(g, x, dy, 2, 3, &p));
	assert_non_null(strstr(g->err, "expected [1,4,4,3]"));
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
