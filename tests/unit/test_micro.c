/*
 * test_micro.c - a step of micro-batches (optimizer.accumulate,
 * optimizer.sam.m): the runs rt_step_seq gives each recipe; the model
 * built at the micro-batch while batch_size stays the step's; the
 * programs and accumulators the passes build; and the training loop
 * (rt_train on the interpreter, Fashion-MNIST's first rows, f64): with
 * accumulate = 4 a run equals the same run without, to 1e-12, for SGD and
 * SAM, with a short last batch wrapped (drop_last = false), and m-sharpness
 * does not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fe_model.h"
#include "ir_interp.h"
#include "pass_pipeline.h"
#include "rt_step_seq.h"
#include "rt_train.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"

static const char *write_model(const char *name, const char *text)
{
	static char path[1024];
	snprintf(path, sizeof path, "%s/test_micro_%s.lua", SAMC_BINARY_DIR, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* An MLP on Fashion-MNIST at batch 16; `opt` is the optimizer table. */
static const char *mlp(const char *name, const char *opt)
{
	char text[4096];
	snprintf(text, sizeof text,
	         "local B = batch_size(16)\n"
	         "local x = input('x', {B, 784})\n"
	         "local y = input('y', {B}, {dtype = 'i32', classes = 10})\n"
	         "local logits = linear(relu(linear(x, 12, {name = 'fc1'})), 10, {name = 'fc2'})\n"
	         "return { loss = cross_entropy(logits, y),\n"
	         "  metrics = { accuracy = accuracy(logits, y) }, epochs = 1, seed = 3,\n"
	         "  optimizer = %s,\n"
	         "  data = { format = 'idx', limit_train = 72, drop_last = false,\n"
	         "    train = { x = '" FMNIST "train-images-idx3-ubyte.gz', y = '" FMNIST
	         "train-labels-idx1-ubyte.gz' }, scale = 1/255 } }\n", opt);
	return write_model(name, text);
}

static ir_model *load(const char *path, ir_dtype t, const char *set)
{
	fe_options o;
	fe_options_init(&o);
	o.fdtype = t;
	const char *sets[1] = {set};
	o.sets = sets;
	o.nsets = set ? 1 : 0;
	ir_model *m = NULL;
	char err[1024];
	if (fe_load_model(path, &o, &m, err, sizeof err))
		fail_msg("%s", err);
	return m;
}

static void expect_runs(const rt_recipe *r, int sam, const char *want)
{
	char got[512] = "";
	for (int i = 0; i < rt_step_nruns(r, sam); i++) {
		rt_step_run run = rt_step_run_at(r, sam, i);
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s(%d)%s", i ? " " : "",
		         rt_step_prog_name(run.prog), run.micro, run.report ? "" : "-");
	}
	if (strcmp(got, want))
		fail_msg("runs \"%s\", expected \"%s\"", got, want);
}

static void test_sequences(void **state)
{
	(void)state;
	rt_recipe r;
	memset(&r, 0, sizeof r);
	r.opt.accumulate = r.opt.sam_m = 1;
	expect_runs(&r, 0, "base(0)");
	expect_runs(&r, 1, "sam(0)");
	r.opt.accumulate = 3;
	expect_runs(&r, 0, "acc(0) acc(1) base(2)");
	r.opt.sam = 1;
	expect_runs(&r, 1, "acc(0) acc(1) acc(2) sam_acc(0)- sam_acc(1)- sam(2)-");
	r.opt.accumulate = 1;
	r.opt.sam_m = 4;
	expect_runs(&r, 1, "sam_acc(0) sam_acc(1) sam_acc(2) sam(3)");
	assert_int_equal(rt_step_micro(&r), 4);
	r.opt.sam = 0; /* m means nothing without SAM */
	assert_int_equal(rt_step_micro(&r), 1);
}

static const ir_node *leaf(const ir_graph *g, ir_op op, const char *name)
{
	for (int i = 0; i < g->nnodes; i++)
		if (g->nodes[i]->op == op && g->nodes[i]->name && !strcmp(g->nodes[i]->name, name))
			return g->nodes[i];
	return NULL;
}

/* batch_size stays the step's; inputs and programs take the micro-batch */
static void test_micro_build(void **state)
{
	(void)state;
	const char *path = mlp("build", "{ name = 'sgd', lr = 0.1, accumulate = 4, sam = {} }");
	ir_model *m = load(path, IR_F32, NULL);
	assert_int_equal(m->recipe.batch_size, 16);
	assert_int_equal(m->inputs[0]->shape.dim[0], 4);
	pass_programs p;
	char err[1024];
	if (pass_build_all(m, &p, err, sizeof err))
		fail_msg("%s", err);
	assert_non_null(p.sam.g);
	assert_non_null(p.acc.g);
	assert_non_null(p.sam_acc.g);
	assert_null(p.base.g);
	assert_int_equal(p.sam.nout, 0); /* at perturbed weights: nothing to report */
	assert_int_equal(p.sam_acc.nout, 0);
	assert_true(p.acc.nout >= 1 && !strcmp(p.acc.names[0], "loss"));
	assert_non_null(leaf(p.acc.g, IR_OP_STATE, "accum.grad.fc1.weight"));
	assert_non_null(leaf(p.sam_acc.g, IR_OP_STATE, "accum.sam.fc1.weight"));
	assert_non_null(leaf(p.sam.g, IR_OP_STATE, "accum.grad.fc2.bias"));
	pass_programs_free(&p);
	fe_model_free(m);
	/* --set batch_size: the micro-batch follows */
	m = load(path, IR_F32, "batch_size=32");
	assert_int_equal(m->recipe.batch_size, 32);
	assert_int_equal(m->inputs[0]->shape.dim[0], 8);
	fe_model_free(m);
	/* m-sharpness: sam_acc reports (each micro-batch's first pass) */
	m = load(mlp("msharp", "{ name = 'sgd', lr = 0.1, sam = { m = 2 } }"), IR_F32, NULL);
	assert_int_equal(m->inputs[0]->shape.dim[0], 8);
	if (pass_build_all(m, &p, err, sizeof err))
		fail_msg("%s", err);
	assert_null(p.acc.g);
	assert_true(p.sam.nout >= 1 && p.sam_acc.nout >= 1);
	pass_programs_free(&p);
	fe_model_free(m);
}

/* Trains one epoch (5 steps, the last one wrapped) on the interpreter;
 * returns the final parameters and the train loss. */
static void train(const char *path, const char *set, rt_tensors *params, double *loss)
{
	ir_model *m = load(path, IR_F64, set);
	pass_programs p;
	char err[1024];
	if (pass_build_all(m, &p, err, sizeof err))
		fail_msg("%s", err);
	pass_program *ps[5] = {&p.sam, &p.base, &p.eval, &p.acc, &p.sam_acc};
	rt_exec *x[5] = {0};
	for (int k = 0; k < 5; k++)
		if (ps[k]->g && !(x[k] = ir_interp_exec_new(ps[k]->g, ps[k]->outs, ps[k]->names,
		                                            ps[k]->nout, err, sizeof err)))
			fail_msg("%s", err);
	rt_train_result res;
	memset(&res, 0, sizeof res);
	rt_train_opts o = {.recipe = &m->recipe, .quiet = 1, .result = &res,
	                   .train_acc = x[3], .train_sam_acc = x[4]};
	rt_err e;
	if (rt_train(&o, x[0], x[1], x[2], &e))
		fail_msg("%s", e.msg);
	assert_int_equal(res.steps, 5);
	*params = res.params;
	memset(&res.params, 0, sizeof res.params);
	*loss = res.train_loss;
	rt_train_result_free(&res);
	for (int k = 0; k < 5; k++)
		if (x[k])
			x[k]->free(x[k]);
	pass_programs_free(&p);
	fe_model_free(m);
}

/* max over the params of |a - b| / |b| (2-norms) */
static double max_rel(const rt_tensors *a, const rt_tensors *b)
{
	double worst = 0;
	for (int i = 0; i < b->n; i++) {
		const rt_tensor *t = rt_tensors_find(a, b->t[i].name);
		assert_non_null(t);
		double d = 0, n = 0;
		for (int64_t j = 0; j < rt_tensor_numel(t); j++) {
			double u = rt_tensor_get(t, j), v = rt_tensor_get(&b->t[i], j);
			d += (u - v) * (u - v);
			n += v * v;
		}
		double r = n > 0 ? sqrt(d / n) : sqrt(d);
		worst = r > worst ? r : worst;
	}
	return worst;
}

static void test_loop_equals_big_batch(void **state)
{
	(void)state;
	const char *opts[2] = {"{ name = 'sgd', lr = 0.1, momentum = 0.9 }",
	                       "{ name = 'sgd', lr = 0.1, momentum = 0.9, sam = { rho = 0.1 } }"};
	for (int k = 0; k < 2; k++) {
		const char *path = mlp(k ? "loop_sam" : "loop_sgd", opts[k]);
		rt_tensors big, acc, ms;
		double lb, la, lm;
		train(path, NULL, &big, &lb);
		train(path, "optimizer.accumulate=4", &acc, &la);
		/* the accumulators end at zero; every parameter and state agrees */
		for (int i = 0; i < acc.n; i++)
			if (!strncmp(acc.t[i].name, "accum.", 6))
				for (int64_t j = 0; j < rt_tensor_numel(&acc.t[i]); j++)
					assert_true(rt_tensor_get(&acc.t[i], j) == 0.0);
		double r = max_rel(&acc, &big);
		if (!(r <= 1e-12))
			fail_msg("%s: accumulate = 4 differs from the big batch by %.3g", opts[k], r);
		assert_true(isfinite(la) && isfinite(lb));
		if (k == 1) { /* m-sharpness is another step: it must differ */
			train(path, "optimizer.sam.m=4", &ms, &lm);
			assert_true(max_rel(&ms, &big) > 1e-6);
			rt_tensors_free(&ms);
		}
		rt_tensors_free(&big);
		rt_tensors_free(&acc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequences),
		cmocka_unit_test(test_micro_build),
		cmocka_unit_test(test_loop_equals_big_batch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
