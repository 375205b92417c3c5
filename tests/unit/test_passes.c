/*
 * test_passes.c - the pipeline's programs, by what they contain: the SAM
 * step has two gradient computations, one assign per param and optimizer
 * buffer and no restore; sam_every > 1 adds a base program; the eval
 * program reads a mask; the SAM step's numbers match the formula written
 * out by hand on a model small enough to follow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fe_model.h"
#include "ir_interp.h"
#include "pass_fuse.h"
#include "pass_pipeline.h"
#include "test_cg_harness.h"
#include "test_model.h"

static ir_model *load(const char *const *sets, int nsets)
{
	return test_load_model("examples/fashion_mlp.lua", IR_F64, sets, nsets);
}

static int count(const ir_graph *g, ir_op op)
{
	int n = 0;
	for (int i = 0; i < g->nnodes; i++)
		n += g->nodes[i]->op == op;
	return n;
}

static void t_sam_program_shape(void **st)
{
	(void)st;
	ir_model *m = load(NULL, 0);
	pass_program p;
	char err[1024];
	assert_int_equal(pass_build(m, PASS_PROG_SAM, &p, err, sizeof err), 0);
	assert_int_equal(count(p.g, IR_OP_CROSS_ENTROPY_GRAD), 2);
	/* forward matmuls: 2 per pass; backward: 3 (no input gradient at x) per pass */
	assert_int_equal(count(p.g, IR_OP_MATMUL), 2 * 2 + 2 * 3);
	/* 4 params + 4 momentum buffers, each written exactly once */
	assert_int_equal(count(p.g, IR_OP_ASSIGN), 8);
	for (int i = 0; i < p.g->nnodes; i++) {
		const ir_node *n = p.g->nodes[i];
		if (n->op == IR_OP_ASSIGN && n->in[0]->op == IR_OP_PARAM) {
			/* the update is w - lr*buf: it reads the original w, never w~ */
			assert_int_equal(n->in[1]->op, IR_OP_SUB);
			assert_ptr_equal(n->in[1]->in[0], n->in[0]);
		}
	}
	assert_string_equal(p.names[0], "loss");
	assert_string_equal(p.names[1], "accuracy");
	pass_program_free(&p);
	fe_model_free(m);
}

/* The first output (the loss) of program `kind` of m, through the
 * interpreter on slots filled from `seed`. */
static double program_loss(const ir_model *m, pass_prog_kind kind, uint64_t seed)
{
	pass_program p;
	char err[1024];
	if (pass_build(m, kind, &p, err, sizeof err))
		fail_msg("%s", err);
	assert_int_equal(count(p.g, IR_OP_MODE), 0);
	rt_exec *x = ir_interp_exec_new(p.g, p.outs, p.names, 1, err, sizeof err);
	if (!x)
		fail_msg("%s", err);
	void **data = calloc((size_t)x->nslots, sizeof *data);
	for (int i = 0; i < x->nslots; i++) {
		data[i] = malloc((size_t)cgh_numel(&x->slots[i]) * 8);
		cgh_fill(&x->slots[i], data[i], &seed);
		if (strcmp(x->slots[i].name, PASS_INPUT_MASK) == 0) /* every row real */
			for (int64_t j = 0; j < cgh_numel(&x->slots[i]); j++)
				((double *)data[i])[j] = 1.0;
	}
	double out[16];
	rt_err e;
	assert_int_equal(x->run(x, data, out, &e), 0);
	for (int i = 0; i < x->nslots; i++)
		free(data[i]);
	free(data);
	x->free(x);
	pass_program_free(&p);
	return out[0];
}

/* The train/eval mode: the training programs see 1, the eval program 0,
 * and none of them keeps a MODE node. A loss of loss + 100 * mode is the
 * plain loss plus 100 in training and the plain loss in evaluation. */
static void t_mode_resolved(void **st)
{
	(void)st;
	ir_model *plain = load(NULL, 0), *m = load(NULL, 0);
	ir_graph *g = m->g;
	g->cur = m->loss->loc;
	ir_node *md = ir_mode(g);
	assert_non_null(md);
	m->loss = ir_binary(g, IR_OP_ADD, m->loss, ir_binary(g, IR_OP_MUL, md, ir_scalar(g, 100.0)));
	assert_non_null(m->loss);
	const pass_prog_kind kinds[] = {PASS_PROG_SAM, PASS_PROG_AUTODIFF, PASS_PROG_EVAL};
	for (int k = 0; k < 3; k++) {
		double a = program_loss(plain, kinds[k], 11), b = program_loss(m, kinds[k], 11);
		double want = kinds[k] == PASS_PROG_EVAL ? 0.0 : 100.0;
		if (!(fabs(b - a - want) <= 1e-9 * (fabs(a) + 100)))
			fail_msg("program %d: loss %.17g with the mode term, %.17g without", k, b, a);
	}
	fe_model_free(m);
	fe_model_free(plain);
}

/* The interpreter refuses a mode nobody resolved, and computes with the
 * resolved one. */
static void t_mode_interp(void **st)
{
	(void)st;
	for (int mode = -1; mode <= 1; mode++) {
		ir_graph *g = ir_graph_new(IR_F64);
		int64_t d = 2;
		ir_node *x = ir_input(g, "x", IR_F64, ir_shape_make(1, &d));
		ir_node *md = ir_mode(g);
		/* train: sum(x); eval: sum(x) * 0 + 3 */
		ir_node *y = ir_binary(g, IR_OP_ADD, ir_binary(g, IR_OP_MUL, ir_reduce(g, IR_OP_SUM, x, 0, 0), md),
		                       ir_binary(g, IR_OP_MUL, ir_binary(g, IR_OP_SUB, ir_scalar(g, 1.0), md),
		                                 ir_scalar(g, 3.0)));
		assert_non_null(y);
		if (mode >= 0)
			assert_int_equal(ir_resolve_mode(g, (ir_mode_kind)mode), 1);
		const char *names[] = {"y"};
		char err[512];
		rt_exec *ex = ir_interp_exec_new(g, &y, names, 1, err, sizeof err);
		assert_non_null(ex);
		double xb[2] = {1.5, 2.0}, out = 0;
		void *data[] = {xb};
		rt_err e;
		int rc = ex->run(ex, data, &out, &e);
		if (mode < 0) {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(e.msg, "mode is not resolved"));
			/* the compiled backends refuse it too, before fusion */
			assert_null(pass_fuse(g, &y, 1, err, sizeof err));
			assert_non_null(strstr(err, "mode is not resolved"));
		} else {
			assert_int_equal(rc, 0);
			assert_true(out == (mode == IR_MODE_TRAIN ? 3.5 : 3.0));
		}
		ex->free(ex);
		ir_graph_free(g);
	}
}

/* The eval pass finds a batch mean however it is written, so a padded
 * batch counts only its real rows: x = [1, 2, 3, 100] with the last row
 * padding gives 1 + 2 + 3 = 6 (a mean times the row count would give 79.5). */
static void t_eval_batch_mean(void **st)
{
	(void)st;
	for (int variant = 0; variant < 5; variant++) {
		ir_graph *g = ir_graph_new(IR_F64);
		int64_t n = 4, zd[2] = {4, 2};
		ir_node *x = ir_input(g, "x", IR_F64, ir_shape_make(1, &n));
		ir_node *z = ir_input(g, "z", IR_F64, ir_shape_make(2, zd));
		ir_node *sx = ir_reduce(g, IR_OP_SUM, x, 0, 0), *v = NULL;
		switch (variant) {
		case 0: v = ir_mean(g, x, 0, 0); break;
		case 1: v = ir_binary(g, IR_OP_DIV, sx, ir_scalar(g, 4.0)); break;
		case 2: v = ir_binary(g, IR_OP_MUL, ir_scalar(g, 0.25), sx); break;
		case 3: v = ir_reduce(g, IR_OP_SUM, x, 1, 0); /* the batch axis by number */
			v = ir_binary(g, IR_OP_MUL, v, ir_scalar(g, 0.25));
			break;
		case 4: /* a mean over [4,2]: each example's mean, summed */
			v = ir_binary(g, IR_OP_DIV, ir_reduce(g, IR_OP_SUM, z, 0, 0), ir_scalar(g, 8.0));
			break;
		}
		assert_non_null(v);
		ir_node *outs[1];
		assert_int_equal(pass_eval_rewrite(g, v, NULL, 0, outs), 0);
		ir_node *mask = ir_find_leaf(g, IR_OP_INPUT, PASS_INPUT_MASK);
		assert_non_null(mask);
		ir_env *e = ir_env_new(g);
		const double xv[4] = {1, 2, 3, 100}, mv[4] = {1, 1, 1, 0};
		memcpy(ir_env_leaf(e, x), xv, sizeof xv);
		memcpy(ir_env_leaf(e, mask), mv, sizeof mv);
		double *zv = ir_env_leaf(e, z);
		for (int i = 0; i < 8; i++)
			zv[i] = xv[i / 2];
		double *out;
		char err[512];
		if (ir_interp_eval(e, outs, 1, &out, err, sizeof err))
			fail_msg("%s", err);
		if (out[0] != 6.0)
			fail_msg("variant %d: masked sum %g, expected 6", variant, out[0]);
		free(out);
		ir_env_free(e);
		ir_graph_free(g);
	}
}

static void t_programs_per_recipe(void **st)
{
	(void)st;
	char err[1024];
	pass_programs ps;
	ir_model *m = load(NULL, 0);
	assert_int_equal(pass_build_all(m, &ps, err, sizeof err), 0);
	assert_non_null(ps.sam.g);
	assert_null(ps.base.g);
	assert_non_null(ps.eval.g);
	assert_non_null(ir_find_leaf(ps.eval.g, IR_OP_INPUT, PASS_INPUT_MASK));
	assert_int_equal(count(ps.eval.g, IR_OP_ASSIGN), 0);
	pass_programs_free(&ps);
	fe_model_free(m);

	const char *every[] = {"optimizer.sam.every=3"};
	m = load(every, 1);
	assert_int_equal(pass_build_all(m, &ps, err, sizeof err), 0);
	assert_non_null(ps.sam.g);
	assert_non_null(ps.base.g);
	assert_int_equal(count(ps.base.g, IR_OP_CROSS_ENTROPY_GRAD), 1);
	pass_programs_free(&ps);
	fe_model_free(m);
}

/* One SAM step of plain SGD (no momentum) on the example, checked against
 * the formula evaluated separately through the autodiff program:
 * w1 = w - lr * g(w + rho * g(w)/||g(w)||). */
static void t_sam_step_value(void **st)
{
	(void)st;
	const char *sets[] = {"optimizer.momentum=0", "batch_size=4"};
	ir_model *m = load(sets, 2);
	char err[1024];
	pass_program sam, ad;
	assert_int_equal(pass_build(m, PASS_PROG_SAM, &sam, err, sizeof err), 0);
	assert_int_equal(pass_build(m, PASS_PROG_AUTODIFF, &ad, err, sizeof err), 0);
	ir_env *es = ir_env_new(sam.g), *ea = ir_env_new(ad.g);
	unsigned seed = 3;
	int np = m->nparams;
	assert_true(np > 0);
	rt_step_scalar sc[RT_STEP_SCALARS_MAX];
	int nsc = rt_step_scalars(&m->recipe, 0, 1, sc);
	/* same random params and batch in both programs */
	for (int i = 0; i < sam.g->nnodes; i++) {
		ir_node *n = sam.g->nodes[i];
		if (n->op != IR_OP_PARAM && n->op != IR_OP_INPUT)
			continue;
		double *v = ir_env_leaf(es, n);
		ir_node *twin = ir_find_leaf(ad.g, n->op, n->name);
		double *w = twin ? ir_env_leaf(ea, twin) : NULL;
		for (int64_t k = 0; k < ir_shape_numel(&n->shape); k++) {
			seed = seed * 1103515245u + 12345u;
			double r = ((seed >> 8) & 0xffff) / 65536.0 - 0.5;
			v[k] = n->dtype == IR_I32 ? (double)(k % 10) : r;
			for (int j = 0; j < nsc; j++) /* rho and the other step scalars */
				if (!strcmp(n->name, sc[j].name))
					v[k] = sc[j].value;
			if (!strcmp(n->name, PASS_INPUT_LR))
				v[k] = 0.1;
			if (w)
				w[k] = v[k];
		}
	}
	/* reference: g1 at w, w~ = w + rho g1/||g1||, g2 at w~, w - lr g2 */
	double **g1 = calloc((size_t)ad.nout, sizeof *g1), **g2 = calloc((size_t)ad.nout, sizeof *g2);
	assert_int_equal(ir_interp_eval(ea, ad.outs, ad.nout, g1, err, sizeof err), 0);
	double n2 = 0;
	for (int i = 0; i < np; i++)
		for (int64_t k = 0; k < ir_shape_numel(&ad.outs[1 + i]->shape); k++)
			n2 += g1[1 + i][k] * g1[1 + i][k];
	double scale = 0.05 / (sqrt(n2) + 1e-12);
	double **w0 = calloc((size_t)(np > 0 ? np : 1), sizeof *w0);
	for (int i = 0; i < np; i++) {
		ir_node *p = ir_find_leaf(ad.g, IR_OP_PARAM, m->params[i]->name);
		int64_t n = ir_shape_numel(&p->shape);
		double *w = ir_env_leaf(ea, p);
		w0[i] = malloc((size_t)n * sizeof(double));
		memcpy(w0[i], w, (size_t)n * sizeof(double));
		for (int64_t k = 0; k < n; k++)
			w[k] += scale * g1[1 + i][k];
	}
	assert_int_equal(ir_interp_eval(ea, ad.outs, ad.nout, g2, err, sizeof err), 0);

	double *loss;
	assert_int_equal(ir_interp_run(es, sam.outs, 1, &loss, err, sizeof err), 0);
	assert_true(fabs(*loss - g1[0][0]) < 1e-15); /* the first pass's loss */
	for (int i = 0; i < np; i++) {
		ir_node *p = ir_find_leaf(sam.g, IR_OP_PARAM, m->params[i]->name);
		double *w = ir_env_leaf(es, p);
		for (int64_t k = 0; k < ir_shape_numel(&p->shape); k++)
			assert_true(fabs(w[k] - (w0[i][k] - 0.1 * g2[1 + i][k])) < 1e-14);
		free(w0[i]);
	}
	free(w0);
	free(loss);
	for (int i = 0; i < ad.nout; i++) {
		free(g1[i]);
		free(g2[i]);
	}
	free(g1);
	free(g2);
	ir_env_free(es);
	ir_env_free(ea);
	pass_program_free(&sam);
	pass_program_free(&ad);
	fe_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_sam_program_shape),
		cmocka_unit_test(t_mode_resolved),
		cmocka_unit_test(t_mode_interp),
		cmocka_unit_test(t_eval_batch_mean),
		cmocka_unit_test(t_programs_per_recipe),
		cmocka_unit_test(t_sam_step_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
