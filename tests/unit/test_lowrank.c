/*
 * test_lowrank.c - SAM's first-layer low-rank rewrite (pass_lowrank.h):
 * where it applies, where it must not, and that the rewritten step computes
 * what the step as pass_sam built it computes (both through the reference
 * interpreter, f64, three steps).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>

#include "ir_interp.h"
#include "pass_lowrank.h"
#include "pass_pipeline.h"
#include "test_cg_harness.h"
#include "test_model.h"

static int count_matmuls(const ir_graph *g, int64_t rows, int64_t cols)
{
	int n = 0;
	for (int i = 0; i < g->nnodes; i++) {
		const ir_node *x = g->nodes[i];
		n += x->op == IR_OP_MATMUL && x->shape.dim[0] == rows && x->shape.dim[1] == cols;
	}
	return n;
}

/* Runs p and its rewritten copy through the interpreter; the largest
 * scaled difference over outputs and slots after `steps` steps. */
static double run_both(const pass_program *p, const ir_graph *g2, ir_node *const *outs2,
                       int steps)
{
	char err[1024];
	rt_exec *a = ir_interp_exec_new(p->g, p->outs, p->names, p->nout, err, sizeof err);
	rt_exec *b = ir_interp_exec_new((ir_graph *)g2, outs2, p->names, p->nout, err, sizeof err);
	if (!a || !b)
		fail_msg("%s", err);
	assert_int_equal(a->nslots, b->nslots);
	void **da = calloc((size_t)a->nslots, sizeof *da), **db = calloc((size_t)a->nslots, sizeof *db);
	uint64_t seed = 5;
	for (int i = 0; i < a->nslots; i++) {
		assert_string_equal(a->slots[i].name, b->slots[i].name);
		size_t bytes = (size_t)cgh_numel(&a->slots[i]) * (a->slots[i].dtype == RT_F64 ? 8 : 4);
		da[i] = malloc(bytes);
		db[i] = malloc(bytes);
		cgh_fill(&a->slots[i], da[i], &seed);
		memcpy(db[i], da[i], bytes);
	}
	double worst = 0, oa[16], ob[16];
	for (int s = 0; s < steps; s++) {
		rt_err e;
		assert_int_equal(a->run(a, da, oa, &e), 0);
		assert_int_equal(b->run(b, db, ob, &e), 0);
		for (int i = 0; i < p->nout; i++)
			worst = fmax(worst, fabs(oa[i] - ob[i]) / (fabs(oa[i]) + 1));
		for (int i = 0; i < a->nslots; i++)
			for (int64_t j = 0; j < cgh_numel(&a->slots[i]); j++) {
				double x = cgh_get(&a->slots[i], da[i], j), y = cgh_get(&a->slots[i], db[i], j);
				worst = fmax(worst, fabs(x - y) / (fabs(x) + 1));
			}
	}
	for (int i = 0; i < a->nslots; i++)
		free(da[i]), free(db[i]);
	free(da), free(db);
	a->free(a), b->free(b);
	return worst;
}

/* Builds the SAM program, rewrites a copy; returns the rewrite count and
 * (if worst) the interpreter's difference between the two. */
static int rewrite(const char *model, ir_dtype t, const char *const *sets, int nsets,
                   double *worst, int *big_before, int *big_after)
{
	ir_model *m = test_load_model(model, t, sets, nsets);
	pass_program p;
	char err[1024];
	if (pass_build(m, PASS_PROG_SAM, &p, err, sizeof err))
		fail_msg("%s", err);
	ir_node **map = NULL;
	ir_graph *g2 = ir_graph_clone(p.g, &map);
	ir_node **outs2 = calloc((size_t)p.nout, sizeof *outs2);
	for (int i = 0; i < p.nout; i++)
		outs2[i] = map[p.outs[i]->id];
	int count = -1;
	if (pass_sam_lowrank(g2, outs2, p.nout, &count))
		fail_msg("%s", g2->err);
	assert_int_equal(ir_verify(g2), 0);
	if (big_before)
		*big_before = count_matmuls(p.g, 256, 784);
	if (big_after)
		*big_after = count_matmuls(g2, 256, 784);
	if (worst)
		*worst = run_both(&p, g2, outs2, 3);
	free(map);
	free(outs2);
	ir_graph_free(g2);
	pass_program_free(&p);
	fe_model_free(m);
	return count;
}

static void test_rewrites_the_input_layer(void **st)
{
	(void)st;
	const char *sets[] = {"batch_size=16"};
	double worst;
	int before, after;
	assert_int_equal(rewrite("examples/fashion_mlp.lua", IR_F64, sets, 1, &worst, &before, &after), 1);
	/* fc1's [256,784] gradient is formed only by the second pass now */
	assert_int_equal(before, 2);
	assert_int_equal(after, 1);
	if (!(worst < 1e-11))
		fail_msg("rewritten step differs by %g", worst);
	/* per-group rho: still a scalar times G */
	assert_int_equal(rewrite("tests/oracle/models/sam_groups.lua", IR_F64, NULL, 0, &worst, NULL,
	                         NULL), 1);
	if (!(worst < 1e-11))
		fail_msg("rewritten step (groups) differs by %g", worst);
}

static void test_leaves_other_steps_alone(void **st)
{
	(void)st;
	/* ASAM scales G elementwise by |w|: not low-rank */
	const char *asam[] = {"batch_size=16", "optimizer.sam.adaptive=true"};
	assert_int_equal(rewrite("examples/fashion_mlp.lua", IR_F64, asam, 2, NULL, NULL, NULL), 0);
	/* a batch this large makes the Gram matrices dearer than the GEMMs */
	const char *big[] = {"batch_size=2048"};
	assert_int_equal(rewrite("examples/fashion_mlp.lua", IR_F32, big, 1, NULL, NULL, NULL), 0);
}

/*
 * A SAM-like step built by hand, its perturbation written in forms
 * pass_sam never emits: the rewrite must still find W + s*G and compute
 * the same outputs. X [4,64] is data, W [32,64] a param; D = tanh(X W^T)
 * stands in for the output gradient, G = D^T X.
 */
static int hand_step(int variant, double *out)
{
	ir_graph *g = ir_graph_new(IR_F64);
	int64_t xd[2] = {4, 64}, wd[2] = {32, 64};
	ir_node *x = ir_input(g, "x", IR_F64, ir_shape_make(2, xd));
	ir_node *w = ir_param(g, "w", IR_F64, ir_shape_make(2, wd), (ir_init){IR_INIT_ZEROS, 0, 0});
	ir_node *y = ir_matmul(g, x, w, 0, 1);
	ir_node *gr = ir_matmul(g, ir_unary(g, IR_OP_TANH, y), x, 1, 0);
	ir_node *n2 = variant == 3 ? ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_POW, gr, ir_scalar(g, 2.0)), 0, 0)
	                           : ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, gr, gr), 0, 0);
	ir_node *s = ir_binary(g, IR_OP_DIV, ir_scalar(g, 0.05),
	                       ir_binary(g, IR_OP_ADD, ir_unary(g, IR_OP_SQRT, n2), ir_scalar(g, 1e-12)));
	ir_node *wt = NULL;
	switch (variant) {
	case 0: /* as pass_sam: W + G*s */
		wt = ir_binary(g, IR_OP_ADD, w, ir_binary(g, IR_OP_MUL, gr, s));
		break;
	case 1: /* W - (-s)*G */
		wt = ir_binary(g, IR_OP_SUB, w, ir_binary(g, IR_OP_MUL, ir_unary(g, IR_OP_NEG, s), gr));
		break;
	case 2: /* G / (1/s) + W */
		wt = ir_binary(g, IR_OP_ADD, ir_binary(g, IR_OP_DIV, gr, ir_binary(g, IR_OP_DIV, ir_scalar(g, 1.0), s)), w);
		break;
	case 3: /* W + -((G * 2) * (-s/2)), norm as sum(G^2) */
		wt = ir_binary(g, IR_OP_ADD, w,
		               ir_unary(g, IR_OP_NEG, ir_binary(g, IR_OP_MUL, ir_binary(g, IR_OP_MUL, gr, ir_scalar(g, 2.0)),
		                                                ir_binary(g, IR_OP_DIV, s, ir_scalar(g, -2.0)))));
		break;
	case 4: /* W + s' * G with s' = s as a [1,1] tensor */
		wt = ir_binary(g, IR_OP_ADD, w, ir_binary(g, IR_OP_MUL, ir_reshape(g, s, ir_shape_make(2, (int64_t[]){1, 1})), gr));
		break;
	}
	ir_node *y2 = ir_matmul(g, x, wt, 0, 1);
	ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, y2, y2), 0, 0);
	ir_node *outs[2] = {loss, n2};
	assert_non_null(loss);
	double before[2], after[2];
	int count = -1;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			assert_int_equal(pass_sam_lowrank(g, outs, 2, &count), 0);
			assert_int_equal(ir_verify(g), 0);
		}
		ir_env *e = ir_env_new(g);
		for (int i = 0; i < g->nnodes; i++) {
			ir_node *n = g->nodes[i];
			if (n->op != IR_OP_PARAM && n->op != IR_OP_INPUT)
				continue;
			double *v = ir_env_leaf(e, n);
			for (int64_t k = 0; k < ir_shape_numel(&n->shape); k++)
				v[k] = sin(0.37 * (double)k + (n->op == IR_OP_PARAM)) * 0.1;
		}
		double *vals[2];
		char err[512];
		if (ir_interp_eval(e, outs, 2, vals, err, sizeof err))
			fail_msg("%s", err);
		for (int k = 0; k < 2; k++) {
			(pass ? after : before)[k] = vals[k][0];
			free(vals[k]);
		}
		ir_env_free(e);
	}
	for (int k = 0; k < 2; k++)
		if (!(fabs(before[k] - after[k]) <= 1e-11 * (fabs(before[k]) + 1)))
			fail_msg("variant %d, output %d: %.17g before the rewrite, %.17g after", variant, k,
			         before[k], after[k]);
	*out = before[0];
	ir_graph_free(g);
	return count;
}

static void test_perturbation_by_meaning(void **st)
{
	(void)st;
	double ref, v;
	assert_int_equal(hand_step(0, &ref), 1);
	for (int variant = 1; variant <= 4; variant++) {
		assert_int_equal(hand_step(variant, &v), 1);
		/* the same step, however spelled */
		assert_true(fabs(v - ref) <= 1e-11 * fabs(ref));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rewrites_the_input_layer),
	    cmocka_unit_test(test_leaves_other_steps_alone),
	    cmocka_unit_test(test_perturbation_by_meaning),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
