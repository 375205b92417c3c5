/*
 * test_interp.h - what the reference interpreter's tests share: small
 * graphs built with checked builders (a node the builder refuses fails the
 * test with its message), leaves filled, one node evaluated, and values
 * compared at the dtype's tolerance (f64 to 1e-12 relative, f32 to 1e-6
 * and exactly representable as a float). BOTH(fn) makes a test of fn for
 * each float dtype, T2(fn) lists them.
 */
#ifndef SAMC_TEST_INTERP_H
#define SAMC_TEST_INTERP_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ir.h"
#include "ir_interp.h"

#define SH(...) mk_shape((const int64_t[]){__VA_ARGS__}, \
                         (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))

static inline ir_shape mk_shape(const int64_t *d, int rank)
{
	return ir_shape_make(rank, d);
}

static inline ir_graph *graph(ir_dtype t)
{
	ir_graph *g = ir_graph_new(t);
	assert_non_null(g);
	ir_set_loc(g, "model.lua", 7);
	return g;
}

/* Asserts the builder accepted a node (shows its message otherwise). */
static inline ir_node *ok(ir_graph *g, ir_node *n)
{
	if (!n)
		fail_msg("builder: %s", g->err);
	return n;
}

static inline ir_node *input(ir_graph *g, const char *name, ir_dtype t, ir_shape s)
{
	return ok(g, ir_input(g, name, t, s));
}

static inline void fill(ir_env *e, const ir_node *leaf, const double *v, int64_t n)
{
	double *d = ir_env_leaf(e, leaf);
	assert_non_null(d);
	assert_int_equal(n, ir_shape_numel(&leaf->shape));
	memcpy(d, v, (size_t)n * sizeof *d);
}

/* Evaluates one node (no commit) and returns its value (caller frees). */
static inline double *eval1(ir_env *e, ir_node *out)
{
	char err[512];
	double *v = NULL;
	if (ir_interp_eval(e, &out, 1, &v, err, sizeof err))
		fail_msg("interpreter: %s", err);
	return v;
}

static inline void expect_vals(const double *got, const double *want, int64_t n, ir_dtype t)
{
	double tol = t == IR_F32 ? 1e-6 : 1e-12;
	for (int64_t i = 0; i < n; i++) {
		double w = want[i], d = fabs(got[i] - w);
		if (isnan(w) ? !isnan(got[i]) : d > tol * fmax(1.0, fabs(w)))
			fail_msg("element %lld: got %.17g, want %.17g", (long long)i, got[i], w);
		if (t == IR_F32 && (double)(float)got[i] != got[i] && !isnan(got[i]))
			fail_msg("element %lld: %.17g is not a float32 value", (long long)i, got[i]);
	}
}

#define BOTH(fn) \
	static void fn##_f32(void **s) { (void)s; fn(IR_F32); } \
	static void fn##_f64(void **s) { (void)s; fn(IR_F64); }
#define T2(fn) cmocka_unit_test(fn##_f32), cmocka_unit_test(fn##_f64)

#endif
