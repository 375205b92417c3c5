/*
 * test_norm_torch.c - batch_norm (training and evaluation, [N,C] and
 * [N,C,H,W], with and without affine) and layer_norm (one and two trailing
 * dims) against PyTorch's values at fixed inputs: the output, the
 * gradients of sum(y * r) with respect to x, weight and bias, and the
 * running statistics after a training call. Through the reference
 * interpreter and the CPU backend, in f64 and f32. The table is
 * tests/oracle/norm_ref.py's output; CTest's oracle_norm_ref checks that
 * it still is PyTorch's.
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
#include "ir_norm.h"
#include "pass_autodiff.h"

#include "test_norm_torch_ref.h"

#define NROWS (sizeof norm_ref_rows / sizeof *norm_ref_rows)

enum { R_Y, R_GX, R_GW, R_GB, R_RM, R_RV, R_N };
static const char *const res_names[R_N] = {"y", "dx", "dweight", "dbias", "running_mean",
                                           "running_var"};

typedef struct {
	ir_node *x, *r, *w, *b, *rm, *rv;
	ir_node *res[R_N]; /* NULL where the row has no such value */
} built;

static int is_bn(const norm_ref_row *row) { return strcmp(row->op, "batch_norm") == 0; }

static int64_t numel(const ir_node *n) { return ir_shape_numel(&n->shape); }

static const double *want_of(const norm_ref_row *row, int k)
{
	const double *w[R_N] = {row->y, row->gx, row->gw, row->gb, row->rm_out, row->rv_out};
	return w[k];
}

/* Leaf names carry the row's index (x3, rm3, ...), so the rows of one
 * dtype share a graph and one compilation. */
static ir_node *leaf(ir_graph *g, ir_op op, const char *base, int idx, ir_dtype t, ir_shape s)
{
	char name[32];
	snprintf(name, sizeof name, "%s%d", base, idx);
	ir_init zero = {IR_INIT_ZEROS, 0, 0};
	return op == IR_OP_PARAM ? ir_param(g, name, t, s, zero) : ir_input(g, name, t, s);
}

static void build(ir_graph *g, ir_dtype t, const norm_ref_row *row, int idx, built *B)
{
	memset(B, 0, sizeof *B);
	ir_shape xs = ir_shape_make(row->rank, row->shape);
	ir_shape ps = is_bn(row) ? ir_shape_make(1, &row->shape[1])
	                         : ir_shape_make(row->nd, &row->shape[row->rank - row->nd]);
	B->x = leaf(g, IR_OP_PARAM, "x", idx, t, xs);
	B->r = leaf(g, IR_OP_INPUT, "r", idx, t, xs);
	if (row->affine) {
		B->w = leaf(g, IR_OP_PARAM, "w", idx, t, ps);
		B->b = leaf(g, IR_OP_PARAM, "b", idx, t, ps);
	}
	ir_node *y;
	if (is_bn(row)) {
		B->rm = leaf(g, IR_OP_INPUT, "rm", idx, t, ps);
		B->rv = leaf(g, IR_OP_INPUT, "rv", idx, t, ps);
		ir_bn_stats st;
		y = ir_batch_norm(g, B->x, B->w, B->b, B->rm, B->rv, ir_mode(g), row->eps, &st);
		if (y && row->training) {
			B->res[R_RM] = ir_bn_running(g, B->rm, st.mean, row->momentum);
			B->res[R_RV] = ir_bn_running(g, B->rv, st.unbiased_var, row->momentum);
		}
		/* only this row's mode is still unresolved */
		ir_resolve_mode(g, row->training ? IR_MODE_TRAIN : IR_MODE_EVAL);
	} else {
		y = ir_layer_norm(g, B->x, row->nd, B->w, B->b, row->eps);
	}
	if (!y)
		fail_msg("%s: %s", row->op, g->err);
	B->res[R_Y] = y;
	ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, y, B->r), 0, 0);
	ir_node *wrt[3] = {B->x, B->w, B->b}, *gr[3];
	if (!loss || pass_grad(g, loss, wrt, row->affine ? 3 : 1, gr) != 0)
		fail_msg("%s: %s", row->op, g->err);
	B->res[R_GX] = gr[0];
	if (row->affine) {
		B->res[R_GW] = gr[1];
		B->res[R_GB] = gr[2];
	}
}

static void expect(const norm_ref_row *row, const char *where, int k, int64_t i, double got,
                   double tol)
{
	double want = want_of(row, k)[i];
	if (fabs(got - want) <= tol * fmax(1.0, fabs(want)))
		return;
	fail_msg("%s training=%d affine=%d rank %d (%s): %s[%lld] %.17g, PyTorch %.17g", row->op,
	         row->training, row->affine, row->rank, where, res_names[k], (long long)i, got, want);
}

/* The row a leaf name belongs to and the values it gives that leaf (x, r,
 * w, b, rm, rv), or NULL. */
static const double *leaf_values(const char *name, const norm_ref_row **row)
{
	static const char *const names[] = {"x", "r", "w", "b", "rm", "rv"};
	size_t n = strcspn(name, "0123456789");
	int idx = atoi(name + n);
	if (name[n] == '\0' || idx < 0 || (size_t)idx >= NROWS)
		return NULL;
	const norm_ref_row *rw = &norm_ref_rows[idx];
	const double *v[] = {rw->x, rw->r, rw->w, rw->b, rw->rm, rw->rv};
	for (int i = 0; i < 6; i++)
		if (strlen(names[i]) == n && !strncmp(name, names[i], n)) {
			if (row)
				*row = rw;
			return v[i];
		}
	return NULL;
}

static void interp_row(int idx, ir_dtype t, double tol)
{
	const norm_ref_row *row = &norm_ref_rows[idx];
	ir_graph *g = ir_graph_new(t);
	built B;
	build(g, t, row, idx, &B);
	ir_env *e = ir_env_new(g);
	ir_node *leaves[] = {B.x, B.r, B.w, B.b, B.rm, B.rv};
	for (int i = 0; i < 6; i++)
		if (leaves[i])
			memcpy(ir_env_leaf(e, leaves[i]), leaf_values(leaves[i]->name, NULL),
			       (size_t)numel(leaves[i]) * sizeof(double));
	ir_node *outs[R_N];
	int kind[R_N], n = 0;
	for (int k = 0; k < R_N; k++)
		if (B.res[k]) {
			kind[n] = k;
			outs[n++] = B.res[k];
		}
	double *v[R_N];
	char err[512];
	if (ir_interp_eval(e, outs, n, v, err, sizeof err) != 0)
		fail_msg("%s: %s", row->op, err);
	for (int j = 0; j < n; j++) {
		for (int64_t i = 0; i < numel(outs[j]); i++)
			expect(row, t == IR_F64 ? "interpreter f64" : "interpreter f32", kind[j], i, v[j][i],
			       tol);
		free(v[j]);
	}
	ir_env_free(e);
	ir_graph_free(g);
}

/* The CPU backend on the same values, every row in one graph; results
 * observed in states obs<row>_<k>. */
static void backend_rows(ir_dtype t, double tol)
{
	ir_graph *g = ir_graph_new(t);
	for (int r = 0; r < (int)NROWS; r++) {
		built B;
		build(g, t, &norm_ref_rows[r], r, &B);
		for (int k = 0; k < R_N; k++)
			if (B.res[k]) {
				char name[32];
				snprintf(name, sizeof name, "obs%d_%d", r, k);
				ir_node *s = ir_state(g, name, t, B.res[k]->shape);
				assert_non_null(ir_assign(g, s, B.res[k]));
			}
	}
	assert_int_equal(ir_verify(g), 0);
	cg_options o;
	cg_options_default(&o);
	char err[1024];
	rt_exec *cpu = cg_cpu_exec_new(g, NULL, NULL, 0, &o, err, sizeof err);
	if (!cpu)
		fail_msg("%s", err);
	void **d = calloc((size_t)cpu->nslots + 1, sizeof *d);
	for (int i = 0; i < cpu->nslots; i++) {
		const rt_slot *sl = &cpu->slots[i];
		int64_t n = 1;
		for (int j = 0; j < sl->rank; j++)
			n *= sl->dim[j];
		d[i] = calloc((size_t)n + 1, 8);
		const double *v = leaf_values(sl->name, NULL);
		for (int64_t j = 0; v && j < n; j++) {
			if (sl->dtype == RT_F32)
				((float *)d[i])[j] = (float)v[j];
			else
				((double *)d[i])[j] = v[j];
		}
	}
	rt_err e;
	double outv[1];
	if (cpu->run(cpu, d, outv, &e))
		fail_msg("%s", e.msg);
	int seen = 0;
	for (int i = 0; i < cpu->nslots; i++) {
		const rt_slot *sl = &cpu->slots[i];
		int r = -1, k = -1;
		if (sscanf(sl->name, "obs%d_%d", &r, &k) == 2) {
			int64_t n = 1;
			for (int j = 0; j < sl->rank; j++)
				n *= sl->dim[j];
			for (int64_t j = 0; j < n; j++)
				expect(&norm_ref_rows[r], t == IR_F64 ? "backend f64" : "backend f32", k, j,
				       sl->dtype == RT_F32 ? ((float *)d[i])[j] : ((double *)d[i])[j], tol);
			seen++;
		}
		free(d[i]);
	}
	assert_true(seen >= 3 * (int)NROWS); /* y and dx of every row, and more */
	free(d);
	cpu->free(cpu);
	ir_graph_free(g);
}

/* f64: the same formulas in double, summed in another order (1e-12);
 * f32: each op rounded to float, against PyTorch's f64 values (1e-5). */
static void test_interp(void **st)
{
	(void)st;
	for (int i = 0; i < (int)NROWS; i++) {
		interp_row(i, IR_F64, 1e-12);
		interp_row(i, IR_F32, 1e-5);
	}
}

static void test_backend(void **st)
{
	(void)st;
	backend_rows(IR_F64, 1e-12);
	backend_rows(IR_F32, 1e-5);
}

/* Larger NCHW tensors (reductions over N, H and W cut into parallel
 * chunks): the backend against the interpreter, forward, gradients and
 * running statistics, batch_norm in both modes and layer_norm over the
 * image planes. */
static void test_backend_random(void **st)
{
	(void)st;
	for (int t = 0; t < 2; t++)
		for (int c = 0; c < 3; c++) {
			ir_dtype dt = t ? IR_F64 : IR_F32;
			ir_graph *g = ir_graph_new(dt);
			int64_t d[4] = {16, 8, 13, 11};
			ir_init zero = {IR_INIT_ZEROS, 0, 0};
			ir_shape ps = c < 2 ? ir_shape_make(1, &d[1]) : ir_shape_make(2, &d[2]);
			ir_node *x = ir_param(g, "x", dt, ir_shape_make(4, d), zero);
			ir_node *w = ir_param(g, "w", dt, ps, zero), *b = ir_param(g, "b", dt, ps, zero);
			/* names starting with p get positive values: a variance */
			ir_node *rm = ir_input(g, "rm", dt, ps), *rv = ir_input(g, "prv", dt, ps);
			ir_bn_stats bs;
			ir_node *y = c < 2 ? ir_batch_norm(g, x, w, b, rm, rv, ir_mode(g), 1e-5, &bs)
			                   : ir_layer_norm(g, x, 2, w, b, 1e-5);
			assert_non_null(y);
			ir_resolve_mode(g, c == 0 ? IR_MODE_TRAIN : IR_MODE_EVAL);
			ir_node *r = ir_input(g, "r", dt, y->shape), *wrt[3] = {x, w, b}, *gr[3];
			ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, y, r), 0, 0);
			assert_int_equal(pass_grad(g, loss, wrt, 3, gr), 0);
			assert_non_null(cgh_observe(g, y, 0));
			for (int k = 0; k < 3; k++)
				assert_non_null(cgh_observe(g, gr[k], 1 + k));
			if (c == 0) {
				assert_non_null(cgh_observe(g, ir_bn_running(g, rm, bs.mean, 0.1), 4));
				assert_non_null(cgh_observe(g, ir_bn_running(g, rv, bs.unbiased_var, 0.1), 5));
			}
			char err[1024] = "";
			double worst;
			/* f32: sums of 2288 values per channel in another order */
			int rc = cgh_compare(g, NULL, NULL, 0, 1, t ? 1e-12 : 2e-5, 9 + (uint64_t)c, &worst,
			                     err, sizeof err);
			if (rc)
				fail_msg("case %d %s: %s", c, ir_dtype_name(dt), err);
			ir_graph_free(g);
		}
}

/* What PyTorch refuses, refused with a message. */
static void test_errors(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	int64_t d[4] = {1, 3, 1, 1};
	ir_node *x = ir_input(g, "x", IR_F32, ir_shape_make(2, d));
	ir_node *c = ir_input(g, "c", IR_F32, ir_shape_make(1, d + 1));
	assert_null(ir_batch_norm(g, x, NULL, NULL, c, c, ir_mode(g), 1e-5, NULL));
	assert_non_null(strstr(g->err, "more than 1 value per channel"));
	ir_node *v = ir_input(g, "v", IR_F32, ir_shape_make(1, d + 1));
	assert_null(ir_batch_norm(g, v, NULL, NULL, c, c, ir_mode(g), 1e-5, NULL));
	assert_non_null(strstr(g->err, "[N, C, ...]"));
	assert_null(ir_layer_norm(g, x, 3, NULL, NULL, 1e-5));
	assert_non_null(strstr(g->err, "last 3 dims"));
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
