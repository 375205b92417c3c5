/*
 * test_dist_step.c - a step over several ranks (rt_step_seq.h): the runs
 * each rank makes (micro-batches, the all-reduces, upd / upd_sam), the
 * programs the passes build for N ranks (at batch_size / (N x n), upd
 * without a forward pass or data inputs), the recipe's errors
 * (optimizer.sam.sync, the batch against the ranks) and a run whose
 * communicator has another number of ranks than the model was compiled
 * for. The same steps on two real ranks are tests/dist/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fe_model.h"
#include "pass_pipeline.h"
#include "rt_step_seq.h"

static const char *mlp(const char *name, const char *opt)
{
	static char path[1024];
	snprintf(path, sizeof path, "%s/test_dist_step_%s.lua", SAMC_BINARY_DIR, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
	        "local B = batch_size(16)\n"
	        "local x = input('x', {B, 8})\n"
	        "local y = input('y', {B}, {dtype = 'i32', classes = 3})\n"
	        "local logits = linear(relu(linear(x, 6, {name = 'fc1'})), 3, {name = 'fc2'})\n"
	        "return { loss = cross_entropy(logits, y), epochs = 1, seed = 3,\n"
	        "  optimizer = %s }\n", opt);
	fclose(f);
	return path;
}

/* 0 and *m, or -1 with the front end's message in err. */
static int load(const char *path, int ranks, ir_model **m, char *err, size_t errlen)
{
	fe_options o;
	fe_options_init(&o);
	o.ranks = ranks;
	*m = NULL;
	return fe_load_model(path, &o, m, err, errlen);
}

static void expect_runs(const rt_recipe *r, int sam, const char *want)
{
	char got[512] = "";
	for (int i = 0; i < rt_step_nruns(r, sam); i++) {
		rt_step_run run = rt_step_run_at(r, sam, i);
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s(%d)%s%s%s", i ? " " : "",
		         rt_step_prog_name(run.prog), run.micro, run.report ? "" : "-",
		         run.reduce ? " " : "", run.reduce ? run.reduce : "");
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
	r.opt.ranks = 2;
	expect_runs(&r, 0, "acc(0) accum.grad upd(-1)-");
	r.opt.sam = 1;
	expect_runs(&r, 1, "sam_acc(0) accum.sam upd_sam(-1)-");
	r.opt.sam_m = 2;
	expect_runs(&r, 1, "sam_acc(0) sam_acc(1) accum.sam upd_sam(-1)-");
	r.opt.sam_m = 1;
	r.opt.sam_sync = 1;
	r.opt.accumulate = 2;
	expect_runs(&r, 1, "acc(0) acc(1) accum.grad sam_acc(0)- sam_acc(1)- accum.sam "
	                   "upd_sam(-1)-");
	assert_int_equal(rt_micro_local(&r.opt), 2);
	assert_int_equal(rt_micro_total(&r.opt), 4);
	r.opt.ranks = 1; /* sync means nothing in one process */
	expect_runs(&r, 1, "acc(0) acc(1) sam_acc(0)- sam(1)-");
}

static const ir_node *leaf(const ir_graph *g, ir_op op, const char *name)
{
	for (int i = 0; i < g->nnodes; i++)
		if (g->nodes[i]->op == op && g->nodes[i]->name && !strcmp(g->nodes[i]->name, name))
			return g->nodes[i];
	return NULL;
}

static void build(const char *path, int ranks, ir_model **m, pass_programs *p)
{
	char err[1024];
	if (load(path, ranks, m, err, sizeof err) || pass_build_all(*m, p, err, sizeof err))
		fail_msg("%s", err);
}

static void test_programs(void **state)
{
	(void)state;
	ir_model *m;
	pass_programs p;
	/* per-replica SAM on 4 ranks: sam_acc and upd_sam at 16 / 4 */
	build(mlp("replica", "{ name = 'sgd', lr = 0.1, sam = {} }"), 4, &m, &p);
	assert_int_equal(m->recipe.batch_size, 16);
	assert_int_equal(m->inputs[0]->shape.dim[0], 4);
	assert_null(p.sam.g);
	assert_null(p.base.g);
	assert_null(p.acc.g);
	assert_null(p.upd.g);
	assert_non_null(p.sam_acc.g);
	assert_non_null(p.upd_sam.g);
	assert_true(p.sam_acc.nout >= 1); /* each replica's first pass reports */
	assert_int_equal(p.upd_sam.nout, 0);
	/* the update alone: no data, no forward pass, the accumulator */
	assert_null(leaf(p.upd_sam.g, IR_OP_INPUT, "x"));
	assert_non_null(leaf(p.upd_sam.g, IR_OP_STATE, "accum.sam.fc1.weight"));
	assert_null(leaf(p.upd_sam.g, IR_OP_STATE, "accum.grad.fc1.weight"));
	pass_programs_free(&p);
	fe_model_free(m);
	/* sync, 2 ranks x accumulate 2: acc, sam_acc (silent), upd_sam at 16 / 4 */
	build(mlp("sync", "{ name = 'sgd', lr = 0.1, accumulate = 2, sam = { sync = true } }"), 2,
	      &m, &p);
	assert_int_equal(m->inputs[0]->shape.dim[0], 4);
	assert_non_null(p.acc.g);
	assert_non_null(p.sam_acc.g);
	assert_non_null(p.upd_sam.g);
	assert_int_equal(p.sam_acc.nout, 0);
	assert_non_null(leaf(p.sam_acc.g, IR_OP_STATE, "accum.grad.fc2.bias"));
	assert_non_null(leaf(p.upd_sam.g, IR_OP_STATE, "accum.grad.fc2.bias"));
	pass_programs_free(&p);
	fe_model_free(m);
	/* no SAM: acc and upd */
	build(mlp("sgd", "{ name = 'sgd', lr = 0.1, momentum = 0.9 }"), 2, &m, &p);
	assert_int_equal(m->inputs[0]->shape.dim[0], 8);
	assert_non_null(p.acc.g);
	assert_non_null(p.upd.g);
	assert_null(p.base.g);
	assert_null(p.sam_acc.g);
	assert_null(leaf(p.upd.g, IR_OP_INPUT, "y"));
	assert_non_null(leaf(p.upd.g, IR_OP_STATE, "opt.fc1.weight.momentum_buffer"));
	pass_programs_free(&p);
	fe_model_free(m);
}

static void expect_error(const char *path, int ranks, const char *want)
{
	ir_model *m;
	char err[1024];
	if (!load(path, ranks, &m, err, sizeof err)) {
		fe_model_free(m);
		fail_msg("loaded; expected an error with \"%s\"", want);
	}
	if (!strstr(err, want))
		fail_msg("error \"%s\", expected \"%s\" in it", err, want);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error(mlp("e1", "{ name = 'sgd', lr = 0.1 }"), 3,
	             "batch_size = 16 cannot be split over 3 ranks");
	expect_error(mlp("e2", "{ name = 'sgd', lr = 0.1, accumulate = 4 }"), 8,
	             "must be a multiple of 32");
	expect_error(mlp("e3", "{ name = 'sgd', lr = 0.1, accumulate = 2, sam = {} }"), 2,
	             "per-replica SAM (optimizer.sam.sync = false) on 2 ranks cannot be combined "
	             "with optimizer.accumulate = 2");
	expect_error(mlp("e4", "{ name = 'sgd', lr = 0.1, sam = { m = 2, sync = true } }"), 1,
	             "optimizer.sam.sync = true and optimizer.sam.m = 2 cannot be combined");
	expect_error(mlp("e5", "{ name = 'sgd', lr = 0.1, sam = { gsam = { alpha = 0.1 } } }"), 2,
	             "cannot be combined with optimizer.sam.gsam");
}

/* a model compiled for 2 ranks refuses a run of one */
static void test_rank_count(void **state)
{
	(void)state;
	rt_recipe r;
	memset(&r, 0, sizeof r);
	r.opt.accumulate = r.opt.sam_m = 1;
	r.opt.ranks = 2;
	r.batch_size = 4;
	rt_step_execs e = {{0}, {0}};
	rt_store st = {0};
	rt_step_io io = {0};
	rt_err err;
	assert_int_equal(rt_step_do(&e, &st, &r, 0, 1, 1, &io, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "compiled for 2 ranks, the run has 1"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequences),
		cmocka_unit_test(test_programs),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_rank_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
