/*
 * test_cg_fuse.c - fusion counted in kernels, the memory plan (reuse, direct
 * writes, commits and snapshots), and the emit stages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fe_model.h"
#include "pass_pipeline.h"
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

/* The kernel of f writing node n (as one of its roots), or NULL. */
static const pass_kernel *writer(const pass_fusion *f, const ir_node *n)
{
	int k = f->kernel_of[n->id];
	if (k < 0)
		return NULL;
	for (int j = 0; j < f->k[k].nroots; j++)
		if (f->k[k].roots[j] == n)
			return &f->k[k];
	return NULL;
}

/* The SAM fusions of the design, counted on the example MLP's SAM step:
 * one update kernel per parameter (momentum and weight together, written in
 * place), the perturbed weights written once per parameter by one kernel,
 * the norm's scalar chain (sum of the partial norms, sqrt, + eps, rho / n)
 * in one kernel and never a kernel of its own per parameter, and the bias
 * add kept with the relu that reads it. */
static void test_sam_step_fusion(void **st)
{
	(void)st;
	char path[1024], err[1024];
	snprintf(path, sizeof path, "%s/examples/fashion_mlp.lua", SAMC_SOURCE_DIR);
	ir_model *m;
	if (fe_load_model(path, NULL, &m, err, sizeof err)) {
		print_error("%s\n", err);
		fail();
	}
	pass_program sam;
	assert_int_equal(pass_build(m, PASS_PROG_SAM, &sam, err, sizeof err), 0);
	pass_fusion *f = pass_fuse(sam.g, sam.outs, sam.nout, err, sizeof err);
	assert_non_null(f);
	pass_plan *p = pass_plan_new(f, err, sizeof err);
	assert_non_null(p);
	int nparam = 0, ngemm = 0, nscalar = 0, nupdate = 0;
	for (int i = 0; i < sam.g->nnodes; i++)
		nparam += sam.g->nodes[i]->op == IR_OP_PARAM;
	for (int k = 0; k < f->nk; k++) {
		ngemm += f->k[k].kind == RT_K_GEMM;
		int out = 0;
		for (int o = 0; o < sam.nout; o++)
			out |= sam.outs[o] == f->k[k].root;
		/* scalar kernels that are not metrics: the norm's chain only */
		if (f->k[k].kind == RT_K_ELEM && ir_shape_numel(&f->k[k].root->shape) == 1 &&
		    f->k[k].root->op != IR_OP_CONST && !out)
			nscalar++;
	}
	assert_int_equal(nparam, 4);
	/* 2 x (3 forward/backward-data GEMMs + 2 weight-gradient GEMMs) */
	assert_int_equal(ngemm, 10);
	assert_int_equal(nscalar, 1);
	for (int i = 0; i < sam.g->nnodes; i++) {
		ir_node *a = sam.g->nodes[i];
		if (a->op != IR_OP_ASSIGN || a->in[0]->op != IR_OP_PARAM)
			continue;
		/* the weight's update also writes its momentum buffer, both in place */
		const pass_kernel *K = writer(f, a->in[1]);
		assert_non_null(K);
		assert_int_equal(K->nroots, 2);
		assert_int_equal(p->direct[K - f->k], 1);
		assert_int_equal(p->buf_of[a->in[1]->id], p->buf_of[a->in[0]->id]);
		nupdate++;
	}
	assert_int_equal(nupdate, nparam);
	/* each parameter is read by one perturbation kernel (w + e) and its
	 * update, biases also by the first pass's bias add (weights: GEMMs) */
	for (int i = 0; i < sam.g->nnodes; i++) {
		ir_node *w = sam.g->nodes[i];
		if (w->op != IR_OP_PARAM)
			continue;
		int readers = 0;
		for (int k = 0; k < f->nk; k++)
			for (int j = 0; j < f->k[k].nreads; j++)
				readers += f->k[k].kind != RT_K_GEMM && f->k[k].reads[j].node == w;
		assert_int_equal(readers, w->shape.rank == 1 ? 3 : 2);
	}
	/* 10 GEMMs, bias+relu x2, output bias x2, loss, its gradient x2 (+ the
	 * seed constant, one for both passes once simplify merged them),
	 * bias-gradient sums x4, relu gradient x2, 4 norm partial sums, the
	 * norm, 4 perturbations, 4 updates, and the accuracy metric (correct,
	 * sum, scale) */
	assert_int_equal(f->nk, 40);
	pass_plan_free(p);
	pass_fusion_free(f);
	pass_program_free(&sam);
	fe_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_elementwise_chain_is_one_kernel),
	    cmocka_unit_test(test_matmul_bias_relu),
	    cmocka_unit_test(test_plan_reuses_memory),
	    cmocka_unit_test(test_plan_assigns),
	    cmocka_unit_test(test_emit_stages),
	    cmocka_unit_test(test_sam_step_fusion),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
