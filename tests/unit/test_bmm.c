/*
 * test_bmm.c - batched matmul: [B,m,k] x [B,k,n] with each matrix
 * transposed or not, through the reference interpreter (each product as
 * the unbatched one, bit for bit) and the CPU backend (a GEMM with a batch
 * count, products large enough to be split over threads); torch.matmul's
 * rules for a 2-D operand against a 3-D one and batches of 1; the shape
 * rule's errors.
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
#include "pass_autodiff.h"

static uint64_t seed = 7;

/* The interpreter's batched product equals the unbatched product of each
 * matrix, bit for bit. */
static void check_interp(ir_dtype t, int64_t B, int64_t m, int64_t k, int64_t n, int ta, int tb)
{
	ir_graph *g = ir_graph_new(t);
	ir_node *a = ir_input(g, "a", t, ir_shape_make(3, (int64_t[]){B, ta ? k : m, ta ? m : k}));
	ir_node *b = ir_input(g, "b", t, ir_shape_make(3, (int64_t[]){B, tb ? n : k, tb ? k : n}));
	ir_node *c = ir_matmul(g, a, b, ta, tb);
	assert_non_null(c);
	assert_int_equal(c->shape.rank, 3);
	assert_int_equal(c->shape.dim[0], B);
	assert_int_equal(c->shape.dim[1], m);
	assert_int_equal(c->shape.dim[2], n);
	ir_node *a2 = ir_input(g, "a2", t, ir_shape_make(2, a->shape.dim + 1));
	ir_node *b2 = ir_input(g, "b2", t, ir_shape_make(2, b->shape.dim + 1));
	ir_node *c2 = ir_matmul(g, a2, b2, ta, tb);
	ir_env *e = ir_env_new(g);
	double *av = ir_env_leaf(e, a), *bv = ir_env_leaf(e, b);
	for (int64_t i = 0; i < B * m * k; i++)
		av[i] = t == IR_F32 ? (float)(2 * cgh_rand(&seed) - 1) : 2 * cgh_rand(&seed) - 1;
	for (int64_t i = 0; i < B * k * n; i++)
		bv[i] = t == IR_F32 ? (float)(2 * cgh_rand(&seed) - 1) : 2 * cgh_rand(&seed) - 1;
	double *cv, *c2v;
	char err[256];
	assert_int_equal(ir_interp_eval(e, &c, 1, &cv, err, sizeof err), 0);
	for (int64_t q = 0; q < B; q++) {
		memcpy(ir_env_leaf(e, a2), av + q * m * k, (size_t)(m * k) * sizeof(double));
		memcpy(ir_env_leaf(e, b2), bv + q * k * n, (size_t)(k * n) * sizeof(double));
		assert_int_equal(ir_interp_eval(e, &c2, 1, &c2v, err, sizeof err), 0);
		assert_memory_equal(cv + q * m * n, c2v, (size_t)(m * n) * sizeof(double));
		free(c2v);
	}
	free(cv);
	ir_env_free(e);
	ir_graph_free(g);
}

static void test_interp(void **st)
{
	(void)st;
	for (int t = 0; t < 2; t++)
		for (int ta = 0; ta < 2; ta++)
			for (int tb = 0; tb < 2; tb++)
				check_interp(t ? IR_F64 : IR_F32, 3, 5, 7, 6, ta, tb);
}

/* C = A B batched, and its gradients (the transposed batched products),
 * on the backend against the interpreter; the large case splits each
 * product over threads. */
static void check_backend(ir_dtype t, int64_t B, int64_t m, int64_t k, int64_t n, int ta, int tb,
                          double tol)
{
	ir_graph *g = ir_graph_new(t);
	ir_init zero = {IR_INIT_ZEROS, 0, 0};
	ir_node *a = ir_param(g, "a", t, ir_shape_make(3, (int64_t[]){B, ta ? k : m, ta ? m : k}), zero);
	ir_node *b = ir_param(g, "b", t, ir_shape_make(3, (int64_t[]){B, tb ? n : k, tb ? k : n}), zero);
	ir_node *c = ir_matmul(g, a, b, ta, tb);
	ir_node *r = ir_input(g, "r", t, c->shape);
	ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, c, r), 0, 0);
	ir_node *wrt[2] = {a, b}, *gr[2];
	assert_int_equal(pass_grad(g, loss, wrt, 2, gr), 0);
	assert_non_null(cgh_observe(g, c, 0));
	assert_non_null(cgh_observe(g, gr[0], 1));
	assert_non_null(cgh_observe(g, gr[1], 2));
	char err[1024] = "";
	double worst;
	if (cgh_compare(g, NULL, NULL, 0, 1, tol, 3 + ta + 2 * tb, &worst, err, sizeof err))
		fail_msg("%s B%lld %lldx%lldx%lld ta%d tb%d: %s (worst %g)", ir_dtype_name(t),
		         (long long)B, (long long)m, (long long)k, (long long)n, ta, tb, err, worst);
	ir_graph_free(g);
}

static void test_backend(void **st)
{
	(void)st;
	for (int ta = 0; ta < 2; ta++)
		for (int tb = 0; tb < 2; tb++) {
			/* BLAS sums in its own order: agreement to rounding */
			check_backend(IR_F64, 3, 5, 7, 6, ta, tb, 1e-12);
			check_backend(IR_F32, 4, 9, 3, 11, ta, tb, 1e-5);
		}
	check_backend(IR_F32, 2, 128, 96, 80, 0, 1, 1e-4); /* m*n*k >= 2^19: split */
}

/* Many small products (run side by side over the pool) and a few large
 * ones (each split): the same bits on 1, 2 and 3 threads. */
static void test_threads(void **st)
{
	(void)st;
	static const int64_t shapes[2][4] = {{64, 16, 32, 16}, {2, 128, 64, 96}};
	for (int s = 0; s < 2; s++) {
		const int64_t *d = shapes[s];
		ir_graph *g = ir_graph_new(IR_F32);
		ir_node *a = ir_input(g, "a", IR_F32, ir_shape_make(3, (int64_t[]){d[0], d[1], d[2]}));
		ir_node *b = ir_input(g, "b", IR_F32, ir_shape_make(3, (int64_t[]){d[0], d[3], d[2]}));
		assert_non_null(cgh_observe(g, ir_matmul(g, a, b, 0, 1), 0));
		float *res[3] = {NULL};
		int64_t nc = d[0] * d[1] * d[3];
		for (int t = 0; t < 3; t++) {
			cg_options o;
			cg_options_default(&o);
			o.threads = t + 1;
			char err[1024];
			rt_exec *x = cg_cpu_exec_new(g, NULL, NULL, 0, &o, err, sizeof err);
			if (!x)
				fail_msg("%s", err);
			void **dd = calloc((size_t)x->nslots + 1, sizeof *dd);
			uint64_t sd = 99;
			for (int i = 0; i < x->nslots; i++) {
				dd[i] = calloc((size_t)cgh_numel(&x->slots[i]) + 1, 8);
				cgh_fill(&x->slots[i], dd[i], &sd);
			}
			rt_err e;
			double outv[1];
			if (x->run(x, dd, outv, &e))
				fail_msg("%s", e.msg);
			for (int i = 0; i < x->nslots; i++) {
				if (!strcmp(x->slots[i].name, "obs0"))
					res[t] = dd[i];
				else
					free(dd[i]);
			}
			free(dd);
			x->free(x);
			assert_non_null(res[t]);
			if (t)
				assert_memory_equal(res[0], res[t], (size_t)nc * sizeof(float));
		}
		for (int t = 0; t < 3; t++)
			free(res[t]);
		ir_graph_free(g);
	}
}

/* torch.matmul's shapes: [B,m,k] x [k,n] (one product over B*m rows),
 * [m,k] x [B,k,n] and [1,m,k] x [B,k,n] (broadcast), 2-D x 2-D; errors. */
static void test_torch_rules(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *a3 = ir_input(g, "a3", IR_F32, ir_shape_make(3, (int64_t[]){4, 2, 3}));
	ir_node *a1 = ir_input(g, "a1", IR_F32, ir_shape_make(3, (int64_t[]){1, 2, 3}));
	ir_node *a2 = ir_input(g, "a2", IR_F32, ir_shape_make(2, (int64_t[]){2, 3}));
	ir_node *b3 = ir_input(g, "b3", IR_F32, ir_shape_make(3, (int64_t[]){4, 3, 5}));
	ir_node *b2 = ir_input(g, "b2", IR_F32, ir_shape_make(2, (int64_t[]){3, 5}));
	ir_node *b5 = ir_input(g, "b5", IR_F32, ir_shape_make(3, (int64_t[]){5, 3, 5}));
	ir_node *v = ir_input(g, "v", IR_F32, ir_shape_make(1, (int64_t[]){3}));
	const struct { ir_node *a, *b; int rank; int64_t d0; } ok[] = {
		{a3, b3, 3, 4}, {a3, b2, 3, 4}, {a2, b3, 3, 4}, {a1, b3, 3, 4}, {a2, b2, 2, 2},
	};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		ir_node *c = ir_matmul_torch(g, ok[i].a, ok[i].b);
		if (!c)
			fail_msg("case %zu: %s", i, g->err);
		assert_int_equal(c->shape.rank, ok[i].rank);
		assert_int_equal(c->shape.dim[0], ok[i].d0);
		assert_int_equal(c->shape.dim[ok[i].rank - 1], 5);
	}
	assert_null(ir_matmul_torch(g, a3, b5));
	assert_non_null(strstr(g->err, "do not broadcast"));
	g->has_err = 0;
	assert_null(ir_matmul_torch(g, v, b2));
	assert_non_null(strstr(g->err, "must be 2-D or 3-D"));
	g->has_err = 0;
	assert_null(ir_matmul(g, a3, b2, 0, 0));
	assert_non_null(strstr(g->err, "both 2-D or both 3-D"));
	g->has_err = 0;
	assert_null(ir_matmul(g, a3, b5, 0, 0));
	assert_non_null(strstr(g->err, "batch sizes differ"));
	g->has_err = 0;
	assert_null(ir_matmul(g, a3, a3, 0, 0));
	assert_non_null(strstr(g->err, "inner dimensions differ"));
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interp),
		cmocka_unit_test(test_backend),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_torch_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
