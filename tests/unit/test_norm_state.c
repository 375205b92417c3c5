/*
 * test_norm_state.c - batch_norm's state through the pipeline: a SAM
 * step's running statistics are its first pass's (equal to the plain
 * step's from the same weights and batch), num_batches_tracked moves by one
 * per step, the eval program reads the running statistics and writes no
 * state, each program keeps only its own branch of the train/eval mode, and
 * pass_sam_check_state refuses an assign that reads the perturbed weights.
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
#include "pass_pipeline.h"
#include "pass_sam.h"
#include "rt_init.h"
#include "test_cg_harness.h"
#include "test_model.h"

#define MODEL "tests/oracle/models/bn_sam.lua"

static int count(const ir_graph *g, ir_op op)
{
	int n = 0;
	for (int i = 0; i < g->nnodes; i++)
		n += g->nodes[i]->op == op;
	return n;
}

static uint64_t name_seed(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h | 1;
}

/* A program's interpreter exec and its slot buffers, filled the same way
 * whatever the program: params and state by their rules, everything else
 * from a seed of the slot's name. */
typedef struct {
	pass_program p;
	rt_exec *x;
	void **data;
} prog;

static void prog_new(prog *P, const ir_model *m, pass_prog_kind kind)
{
	char err[1024];
	if (pass_build(m, kind, &P->p, err, sizeof err))
		fail_msg("%s", err);
	P->x = ir_interp_exec_new(P->p.g, P->p.outs, P->p.names, P->p.nout, err, sizeof err);
	if (!P->x)
		fail_msg("%s", err);
	P->data = calloc((size_t)P->x->nslots, sizeof *P->data);
	for (int i = 0; i < P->x->nslots; i++) {
		const rt_slot *sl = &P->x->slots[i];
		P->data[i] = calloc((size_t)cgh_numel(sl) + 1, 8);
		rt_err e;
		if (sl->role != RT_SLOT_INPUT) {
			assert_int_equal(rt_init_slot(sl, P->data[i], 7, &e), 0);
			continue;
		}
		uint64_t seed = name_seed(sl->name);
		cgh_fill(sl, P->data[i], &seed);
		if (!strcmp(sl->name, PASS_INPUT_MASK))
			for (int64_t j = 0; j < cgh_numel(sl); j++)
				((double *)P->data[i])[j] = 1.0;
	}
}

static void prog_run(prog *P)
{
	double out[16];
	rt_err e;
	if (P->x->run(P->x, P->data, out, &e))
		fail_msg("%s", e.msg);
}

static const double *slot(const prog *P, const char *name)
{
	int i = rt_exec_find_slot(P->x, name);
	if (i < 0)
		fail_msg("no slot %s", name);
	return P->data[i];
}

static void prog_free(prog *P)
{
	for (int i = 0; i < P->x->nslots; i++)
		free(P->data[i]);
	free(P->data);
	P->x->free(P->x);
	pass_program_free(&P->p);
}

static const char *const STATS[] = {"bn1.running_mean", "bn1.running_var", "bn2.running_mean",
                                    "bn2.running_var"};

/* One SAM step and one plain step from the same weights and batch move the
 * running statistics identically: the SAM step's are its first pass's. */
static void t_sam_first_pass_stats(void **st)
{
	(void)st;
	ir_model *m = test_load_model(MODEL, IR_F64, NULL, 0);
	prog sam, base;
	prog_new(&sam, m, PASS_PROG_SAM);
	prog_new(&base, m, PASS_PROG_BASE);
	prog_run(&sam);
	prog_run(&base);
	for (int k = 0; k < 4; k++) {
		int i = rt_exec_find_slot(sam.x, STATS[k]);
		assert_true(i >= 0);
		int64_t n = cgh_numel(&sam.x->slots[i]);
		const double *a = slot(&sam, STATS[k]), *b = slot(&base, STATS[k]);
		for (int64_t j = 0; j < n; j++)
			if (a[j] != b[j])
				fail_msg("%s[%lld]: SAM step %.17g, plain step %.17g", STATS[k], (long long)j,
				         a[j], b[j]);
		/* and they moved: running_var left ones, running_mean zeros */
		assert_true(a[0] != (k % 2 ? 1.0 : 0.0));
	}
	/* the weights did not move alike: the SAM step is another step */
	assert_true(slot(&sam, "fc1.weight")[0] != slot(&base, "fc1.weight")[0]);
	assert_true(slot(&sam, "bn1.num_batches_tracked")[0] == 1.0);
	assert_true(slot(&base, "bn2.num_batches_tracked")[0] == 1.0);
	prog_run(&sam);
	prog_run(&sam);
	assert_true(slot(&sam, "bn1.num_batches_tracked")[0] == 3.0);
	assert_true(slot(&sam, "bn2.num_batches_tracked")[0] == 3.0);
	prog_free(&sam);
	prog_free(&base);
	fe_model_free(m);
}

/* Each program keeps one branch of the mode: the training programs the
 * batch statistics (no where, no mode), the eval program the running
 * statistics, with no assign at all. */
static void t_programs_keep_their_branch(void **st)
{
	(void)st;
	ir_model *m = test_load_model(MODEL, IR_F64, NULL, 0);
	assert_int_equal(m->nupdates, 6);
	const pass_prog_kind kinds[] = {PASS_PROG_SAM, PASS_PROG_BASE, PASS_PROG_EVAL};
	for (int k = 0; k < 3; k++) {
		pass_program p;
		char err[1024];
		if (pass_build(m, kinds[k], &p, err, sizeof err))
			fail_msg("%s", err);
		assert_int_equal(count(p.g, IR_OP_WHERE), 0);
		assert_int_equal(count(p.g, IR_OP_MODE), 0);
		int state_assigns = 0, reads_stats = 0;
		for (int i = 0; i < p.g->nnodes; i++) {
			const ir_node *n = p.g->nodes[i];
			if (n->op == IR_OP_ASSIGN && n->in[0]->op == IR_OP_STATE &&
			    strncmp(n->in[0]->name, "opt.", 4) != 0)
				state_assigns++;
			/* a running statistic read by something other than its update */
			for (int j = n->op == IR_OP_ASSIGN; j < n->nin; j++)
				if (n->in[j]->op == IR_OP_STATE && strstr(n->in[j]->name, ".running_") &&
				    !(n->op == IR_OP_MUL &&
				      (n->in[0]->op == IR_OP_CONST || n->in[1]->op == IR_OP_CONST)))
					reads_stats++;
		}
		if (kinds[k] == PASS_PROG_EVAL) {
			assert_int_equal(count(p.g, IR_OP_ASSIGN), 0);
			assert_int_equal(reads_stats, 4); /* mean and var of both layers */
			assert_null(ir_find_leaf(p.g, IR_OP_STATE, "bn1.num_batches_tracked"));
		} else {
			assert_int_equal(state_assigns, 6);
			assert_int_equal(reads_stats, 0); /* only (1 - m) * running reads them */
		}
		pass_program_free(&p);
	}
	fe_model_free(m);
}

/* The rule as a check: an assign whose value reads the perturbed weights is
 * refused, naming its target; one that reads the weights is not. */
static void t_check_state_refuses_perturbed(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F64);
	int64_t d = 3;
	ir_init zero = {IR_INIT_ZEROS, 0, 0};
	ir_node *w = ir_param(g, "w", IR_F64, ir_shape_make(1, &d), zero);
	ir_node *x = ir_input(g, "x", IR_F64, ir_shape_make(1, &d));
	ir_node *s = ir_state(g, "bn.running_mean", IR_F64, ir_shape_make(1, &d));
	assert_non_null(ir_assign(g, s, ir_binary(g, IR_OP_MUL, x, w)));
	ir_node *wt = ir_binary(g, IR_OP_ADD, w, ir_scalar(g, 0.5));
	assert_int_equal(pass_sam_check_state(g, &wt, 1), 0);
	ir_node *s2 = ir_state(g, "bn.running_var", IR_F64, ir_shape_make(1, &d));
	assert_non_null(ir_assign(g, s2, ir_unary(g, IR_OP_EXP, ir_binary(g, IR_OP_MUL, x, wt))));
	assert_int_equal(pass_sam_check_state(g, &wt, 1), -1);
	assert_non_null(strstr(g->err, "'bn.running_var' reads the perturbed weights"));
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_sam_first_pass_stats),
		cmocka_unit_test(t_programs_keep_their_branch),
		cmocka_unit_test(t_check_state_refuses_perturbed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
