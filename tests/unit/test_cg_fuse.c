/*
 * test_cg_fuse.c - fusion counted in kernels, the memory plan (reuse, direct
 * writes, commits and snapshots), and the emit stages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "pass_plan.h"
#include "test_cg_harness.h"

static ir_shape S(int rank, int64_t a, int64_t b)
{
	int64_t d[2] = {a, b};
	return ir_shape_make(rank, d);
}

static const ir_init Z = {IR_INIT_ZEROS, 0, 0};

static int nkernels(ir_graph *g, ir_node **outs, int nout)
{
	pass_fusion *f = pass_fuse(g, outs, nout, NULL, 0);
	assert_non_null(f);
	int n = f->nk;
	pass_fusion_free(f);
	return n;
}

static void test_elementwise_chain_is_one_kernel(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *x = ir_input(g, "x", IR_F32, S(2, 32, 16));
	ir_node *w = ir_param(g, "w", IR_F32, S(1, 16, 0), Z);
	ir_node *b = ir_param(g, "b", IR_F32, S(1, 16, 0), Z);
	ir_node *y = ir_unary(g, IR_OP_RELU, ir_binary(g, IR_OP_ADD, ir_binary(g, IR_OP_MUL, x, w), b));
	assert_int_equal(nkernels(g, &y, 1), 1);
	/* the squared norm of a product is one reduction kernel */
	ir_node *sq = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, y, y), 0, 0);
	assert_int_equal(nkernels(g, &sq, 1), 1);
	ir_node *both[2] = {sq, ir_reduce(g, IR_OP_MAX, y, 0, 0)}; /* y now has two readers */
	assert_int_equal(nkernels(g, both, 2), 3);
	/* an expanding broadcast of a computed value is materialized once */
	ir_node *r = ir_reduce(g, IR_OP_SUM, x, 2, 1);               /* [32,1] */
	ir_node *e = ir_binary(g, IR_OP_MUL, x, ir_unary(g, IR_OP_EXP, r)); /* exp not recomputed */
	assert_int_equal(nkernels(g, &e, 1), 3);
	ir_graph_free(g);
}

static void test_matmul_bias_relu(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *x = ir_input(g, "x", IR_F32, S(2, 8, 784));
	ir_node *w = ir_param(g, "w", IR_F32, S(2, 784, 256), Z);
	ir_node *b = ir_param(g, "b", IR_F32, S(1, 256, 0), Z);
	ir_node *h = ir_unary(g, IR_OP_RELU, ir_binary(g, IR_OP_ADD, ir_matmul(g, x, w, 0, 0), b));
	ir_node *loss = ir_reduce(g, IR_OP_SUM, h, 0, 0);
	const char *name = "loss";
	assert_int_equal(nkernels(g, &loss, 1), 2); /* gemm, sum(relu(. + b)) */
	char err[256];
	rt_exec *ex = cg_cpu_exec_new(g, &loss, &name, 1, NULL, err, sizeof err);
	assert_non_null(ex);
	assert_int_equal(cg_cpu_exec_nkernels(ex), 2);
	ex->free(ex);
	ir_graph_free(g);
}

static void test_plan_reuses_memory(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *v = ir_input(g, "x", IR_F32, S(2, 64, 64));
	for (int i = 0; i < 4; i++)
		v = ir_softmax(g, IR_OP_SOFTMAX, v, 1);
	ir_node *loss = ir_reduce(g, IR_OP_SUM, v, 0, 0);
	pass_fusion *f = pass_fuse(g, &loss, 1, NULL, 0);
	pass_plan *p = pass_plan_new(f, NULL, 0);
	assert_non_null(p);
	assert_int_equal(f->nk, 5);
	/* four 16 KiB softmax results, at most two alive at once */
	assert_true(p->naive_bytes >= 4 * 16384);
	assert_true(p->arena_bytes <= 2 * 16384 + 64);
	pass_plan_free(p);
	pass_fusion_free(f);
	ir_graph_free(g);
}

static void test_plan_assigns(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *w = ir_param(g, "w", IR_F32, S(1, 10, 0), Z);
	ir_node *a = ir_param(g, "a", IR_F32, S(1, 10, 0), Z);
	ir_node *b = ir_param(g, "b", IR_F32, S(1, 10, 0), Z);
	ir_node *gr = ir_input(g, "g", IR_F32, S(1, 10, 0));
	ir_node *t = ir_param(g, "t", IR_F32, S(1, 10, 0), Z);
	ir_node *upd = ir_binary(g, IR_OP_SUB, w, gr);
	ir_assign(g, w, upd); /* in place */
	ir_assign(g, a, b);                              /* swap: commits + snapshot */
	ir_assign(g, b, a);
	/* t is read reversed by its own update: no in-place write */
	ir_node *rev = ir_binary(g, IR_OP_MUL, ir_reshape(g, t, ir_shape_make(2, (int64_t[]){10, 1})),
	                         ir_reshape(g, t, ir_shape_make(2, (int64_t[]){1, 10})));
	ir_assign(g, t, ir_reshape(g, ir_reduce(g, IR_OP_SUM, rev, 1, 0), ir_shape_make(1, (int64_t[]){10})));
	assert_int_equal(ir_verify(g), 0);
	pass_fusion *f = pass_fuse(g, NULL, 0, NULL, 0);
	pass_plan *p = pass_plan_new(f, NULL, 0);
	assert_non_null(p);
	assert_int_equal(p->direct[f->kernel_of[upd->id]], 1);
	assert_int_equal(p->ncommit, 3);
	assert_true(p->commit[0].snapshot >= 0 && p->commit[1].snapshot >= 0);
	assert_true(p->commit[2].snapshot < 0);
	pass_plan_free(p);
	pass_fusion_free(f);
	double worst;
	char err[512];
	int rc = cgh_compare(g, NULL, NULL, 0, 3, 1e-5, 3, &worst, err, sizeof err);
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	ir_graph_free(g);
}

static int emit_contains(ir_graph *g, ir_node *out, const char *stage, const char *want)
{
	char err[256], *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = cg_cpu_emit(f, stage, g, &out, 1, err, sizeof err);
	fclose(f);
	int ok = rc == 0 && strstr(buf, want) != NULL;
	free(buf);
	return ok;
}

static void test_emit_stages(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *x = ir_input(g, "x", IR_F32, S(2, 4, 8));
	ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_unary(g, IR_OP_EXP, x), 0, 0);
	assert_true(emit_contains(g, loss, "fused", "reduce"));
	assert_true(emit_contains(g, loss, "plan", "peak"));
	assert_true(emit_contains(g, loss, "loops", "for i0"));
	assert_true(emit_contains(g, loss, "llvm", "define"));
	char err[256];
	assert_int_not_equal(cg_cpu_emit(stdout, "nope", g, &loss, 1, err, sizeof err), 0);
	assert_non_null(strstr(err, "nope"));
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_elementwise_chain_is_one_kernel),
	    cmocka_unit_test(test_matmul_bias_relu),
	    cmocka_unit_test(test_plan_reuses_memory),
	    cmocka_unit_test(test_plan_assigns),
	    cmocka_unit_test(test_emit_stages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
