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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rewrites_the_input_layer),
	    cmocka_unit_test(test_leaves_other_steps_alone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
