/*
 * test_optim_extras.c - RMSprop, clip_grad_norm, no_decay and optimizer
 * groups outside the numbers (which tests/oracle checks against PyTorch):
 * the front end's defaults and `--set`s, a trainer's --set (what it takes
 * and what is compiled into its steps), the step scalars of each group,
 * and which hyperparameter inputs each parameter's update reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "fe_model.h"
#include "pass_pipeline.h"
#include "rt_args.h"
#include "rt_recipe_schema.h"

#define MODELS SAMC_SOURCE_DIR "/tests/oracle/models/"

static ir_model *load(const char *path, const char *const *sets, int nsets)
{
	fe_options o = {0};
	o.sets = sets;
	o.nsets = nsets;
	ir_model *m = NULL;
	char err[1024];
	if (fe_load_model(path, &o, &m, err, sizeof err))
		fail_msg("%s", err);
	return m;
}

static int load_err(const char *path, const char *const *sets, int nsets, char *err, size_t len)
{
	fe_options o = {0};
	o.sets = sets;
	o.nsets = nsets;
	ir_model *m = NULL;
	int rc = fe_load_model(path, &o, &m, err, len);
	if (rc == 0)
		fe_model_free(m);
	return rc;
}

/* RMSprop takes torch.optim.RMSprop's defaults (lr 1e-2, alpha 0.99, eps
 * 1e-8); samc's --set reaches the new keys, no_decay as "a,b". */
static void t_frontend(void **st)
{
	(void)st;
	const char *rms[] = {"optimizer.name=rmsprop", "optimizer.momentum=0",
	                     "optimizer.weight_decay=0", "optimizer.no_decay=bias,fc1.",
	                     "optimizer.groups[1].lr_scale=0.25", "optimizer.clip_grad_norm=2"};
	ir_model *m = load(MODELS "groups_sam.lua", rms, 6);
	const opt_config *o = &m->recipe.opt;
	assert_int_equal(o->kind, OPT_RMSPROP);
	assert_true(o->lr == 0.05); /* given in the file */
	assert_true(o->alpha == 0.99 && o->eps == 1e-8 && !o->centered);
	assert_true(o->clip_grad_norm == 2);
	assert_int_equal(o->nno_decay, 2);
	assert_string_equal(o->no_decay[0], "bias");
	assert_string_equal(o->no_decay[1], "fc1.");
	assert_true(rt_opt_no_decay(o, "fc1.weight") && rt_opt_no_decay(o, "fc3.bias"));
	assert_false(rt_opt_no_decay(o, "fc3.weight"));
	assert_int_equal(o->nparam_groups, 1);
	assert_true(o->param_groups[0].lr_scale == 0.25);
	assert_true(o->param_groups[0].wd_given && o->param_groups[0].weight_decay == 0);
	assert_int_equal(rt_opt_group_of(o, "fc2.bias"), 0);
	assert_int_equal(rt_opt_group_of(o, "fc3.bias"), -1);
	fe_model_free(m);

	m = load(MODELS "rmsprop_sam.lua", NULL, 0);
	assert_true(m->recipe.opt.lr == 0.003 && m->recipe.opt.alpha == 0.99);
	fe_model_free(m);
	const char *nolr[] = {"optimizer.lr=0.01"};
	m = load(MODELS "rmsprop_sam.lua", nolr, 1);
	assert_true(m->recipe.opt.lr == 0.01);
	fe_model_free(m);

	char err[1024];
	const char *bad[] = {"optimizer.alpha=0.9"};
	assert_int_not_equal(load_err(MODELS "groups.lua", bad, 1, err, sizeof err), 0);
	assert_non_null(strstr(err, "optimizer.alpha does not apply to adamw (rmsprop only)"));
	const char *bad2[] = {"optimizer.groups[3].lr_scale=1"};
	assert_int_not_equal(load_err(MODELS "groups.lua", bad2, 1, err, sizeof err), 0);
	assert_non_null(strstr(err, "optimizer.groups[3] is not in the model file"));
	const char *bad3[] = {"optimizer.no_decay=bias,"};
	assert_int_not_equal(load_err(MODELS "groups.lua", bad3, 1, err, sizeof err), 0);
	assert_non_null(strstr(err, "optimizer.no_decay[2] must be a non-empty string"));
}

static opt_group tgroups[2] = {{"fc1.", 0.1, 0, 0}, {"fc2.", 2.0, 0.3, 1}};

/* RMSprop with weight decay 0.01 and clipping, as a trainer holds it. */
static rt_recipe trainer_recipe(opt_kind kind)
{
	rt_recipe r;
	rt_recipe_defaults(&r);
	r.opt.kind = kind;
	r.opt.lr = 0.05;
	r.opt.weight_decay = 0.01;
	r.opt.clip_grad_norm = 1.0;
	r.opt.param_groups = tgroups;
	r.opt.nparam_groups = 2;
	r.batch_size = 128;
	return r;
}

static int apply(rt_recipe *r, const char *arg, char *msg, size_t len)
{
	const char *sets[] = {arg};
	return rt_args_recipe_sets(r, sets, 1, msg, len);
}

static void t_trainer_set(void **st)
{
	(void)st;
	char msg[512];
	opt_group own[2];
	memcpy(own, tgroups, sizeof own);
	rt_recipe r = trainer_recipe(OPT_RMSPROP);
	r.opt.param_groups = own;
	static const char *const ok[] = {"optimizer.alpha=0.9", "optimizer.eps=1e-6",
	                                 "optimizer.clip_grad_norm=5", "optimizer.groups[1].lr_scale=0.5",
	                                 "optimizer.groups[2].weight_decay=0.1",
	                                 "optimizer.weight_decay=0.02"};
	if (rt_args_recipe_sets(&r, ok, (int)(sizeof ok / sizeof ok[0]), msg, sizeof msg))
		fail_msg("%s", msg);
	assert_true(r.opt.alpha == 0.9 && r.opt.eps == 1e-6 && r.opt.clip_grad_norm == 5);
	assert_true(own[0].lr_scale == 0.5 && own[1].weight_decay == 0.1 && own[1].wd_given);

	static const struct { const char *arg, *want; } bad[] = {
		{"optimizer.centered=true", "optimizer.centered is compiled into this trainer's steps"},
		{"optimizer.clip_grad_norm=0", "optimizer.clip_grad_norm: this trainer was built with 1, "
		                               "and whether it is 0 is compiled into its steps"},
		{"optimizer.groups[1].weight_decay=0", "optimizer.groups[1].weight_decay: this trainer was "
		                                       "built with 0.01, and whether it is 0 is compiled"},
		{"optimizer.groups[3].lr_scale=1", "this trainer has 2 optimizer group(s), not 3"},
		{"optimizer.groups[1].lr_scale=-1", "optimizer.groups[1].lr_scale must be >= 0, got -1"},
		{"optimizer.groups[1].prefix=fc", "optimizer.groups[1].prefix is compiled"},
		{"optimizer.no_decay=bias", "optimizer.no_decay is compiled into this trainer's steps"},
		{"optimizer.nesterov=true", "optimizer.nesterov does not apply to this trainer's optimizer "
		                            "(rmsprop)"},
		{"optimizer.betas=0.8,0.9", "does not apply to this trainer's optimizer (rmsprop)"},
		{"optimizer.alpha=2", "optimizer.alpha must be in [0, 1], got 2"},
		{"optimizer.groups=x", "'optimizer.groups' is a list: set a key of one element, e.g. "
		                       "optimizer.groups[1].lr_scale=0.1"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		opt_group g2[2];
		memcpy(g2, tgroups, sizeof g2);
		rt_recipe c = trainer_recipe(OPT_RMSPROP);
		c.opt.param_groups = g2;
		msg[0] = '\0';
		if (apply(&c, bad[i].arg, msg, sizeof msg) == 0)
			fail_msg("--set %s was accepted by the trainer", bad[i].arg);
		if (!strstr(msg, bad[i].want))
			fail_msg("--set %s: \"%s\" lacks \"%s\"", bad[i].arg, msg, bad[i].want);
	}
	rt_recipe s = trainer_recipe(OPT_SGD);
	assert_int_equal(apply(&s, "optimizer.momentum=0", msg, sizeof msg), 0);
	assert_int_not_equal(apply(&s, "optimizer.alpha=0.9", msg, sizeof msg), 0);
	assert_non_null(strstr(msg, "optimizer.alpha does not apply to this trainer's optimizer (sgd)"));
}

static double scalar(const rt_step_scalar *sc, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(sc[i].name, name) == 0)
			return sc[i].value;
	fail_msg("no step scalar %s", name);
	return 0;
}

static int has_scalar(const rt_step_scalar *sc, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(sc[i].name, name) == 0)
			return 1;
	return 0;
}

/* Each group's lr follows the schedule times its scale; its weight decay
 * is its own or the optimizer's; Adam's step size is the group's. */
static void t_step_scalars(void **st)
{
	(void)st;
	rt_step_scalar sc[RT_STEP_SCALARS_MAX];
	rt_recipe r = trainer_recipe(OPT_RMSPROP);
	r.sched.kind = SCHED_COSINE;
	int n = rt_step_scalars(&r, 3, 10, sc);
	double lr = rt_sched_lr(&r, 3, 10);
	assert_true(lr < 0.05);
	assert_true(scalar(sc, n, RT_SCALAR_LR) == lr);
	assert_true(scalar(sc, n, "opt.lr.1") == lr * 0.1);
	assert_true(scalar(sc, n, "opt.lr.2") == lr * 2.0);
	assert_true(scalar(sc, n, "opt.weight_decay.1") == 0.01);
	assert_true(scalar(sc, n, "opt.weight_decay.2") == 0.3);
	assert_true(scalar(sc, n, RT_SCALAR_RMSPROP_ALPHA) == 0.99);
	assert_true(scalar(sc, n, RT_SCALAR_RMSPROP_ONE_MINUS_ALPHA) == 1.0 - 0.99);
	assert_true(scalar(sc, n, RT_SCALAR_RMSPROP_EPS) == 1e-8);
	assert_true(scalar(sc, n, RT_SCALAR_CLIP_GRAD_NORM) == 1.0);
	assert_false(has_scalar(sc, n, "opt.adam.step_size.1"));

	rt_recipe a = trainer_recipe(OPT_ADAMW);
	n = rt_step_scalars(&a, 1, 10, sc);
	assert_true(scalar(sc, n, "opt.adam.step_size.1") == 0.05 * 0.1 / (1.0 - 0.9 * 0.9));
	a.opt.clip_grad_norm = 0;
	n = rt_step_scalars(&a, 1, 10, sc);
	assert_false(has_scalar(sc, n, RT_SCALAR_CLIP_GRAD_NORM));

	/* the most groups of both kinds fit */
	static opt_group many[RT_OPT_GROUPS_MAX];
	static sam_group sams[RT_SAM_GROUPS_MAX];
	a.opt.param_groups = many;
	a.opt.nparam_groups = RT_OPT_GROUPS_MAX;
	a.opt.groups = sams;
	a.opt.ngroups = RT_SAM_GROUPS_MAX;
	a.opt.sam = 1;
	a.opt.clip_grad_norm = 1;
	assert_true(rt_step_scalars(&a, 1, 10, sc) <= RT_STEP_SCALARS_MAX);
}

static int reads(const pass_program *p, const char *name)
{
	return ir_find_leaf(p->g, IR_OP_INPUT, name) != NULL;
}

/* The base step of groups.lua (AdamW, no_decay = {"bias"}, fc1 at lr *
 * 0.1, fc3 with its own weight decay) reads each group's inputs, and no
 * state or input that no parameter needs. */
static void t_step_inputs(void **st)
{
	(void)st;
	ir_model *m = load(MODELS "groups.lua", NULL, 0);
	pass_program p;
	char err[512];
	if (pass_build(m, PASS_PROG_BASE, &p, err, sizeof err))
		fail_msg("%s", err);
	assert_true(reads(&p, "opt.lr") && reads(&p, "opt.lr.1") && reads(&p, "opt.lr.2"));
	assert_true(reads(&p, "opt.adam.step_size.1") && reads(&p, "opt.adam.step_size.2"));
	assert_true(reads(&p, "opt.weight_decay.1") && reads(&p, "opt.weight_decay.2"));
	assert_true(reads(&p, "opt.weight_decay")); /* fc2.weight */
	assert_false(reads(&p, RT_SCALAR_CLIP_GRAD_NORM));
	pass_program_free(&p);
	fe_model_free(m);

	const char *nowd[] = {"optimizer.no_decay=fc2.,bias", "optimizer.groups[2].weight_decay=0",
	                      "optimizer.clip_grad_norm=1"};
	m = load(MODELS "groups.lua", nowd, 3);
	if (pass_build(m, PASS_PROG_BASE, &p, err, sizeof err))
		fail_msg("%s", err);
	assert_true(reads(&p, "opt.weight_decay.1"));
	assert_false(reads(&p, "opt.weight_decay"));
	assert_false(reads(&p, "opt.weight_decay.2"));
	assert_true(reads(&p, RT_SCALAR_CLIP_GRAD_NORM));
	pass_program_free(&p);
	fe_model_free(m);

	m = load(MODELS "rmsprop.lua", NULL, 0);
	if (pass_build(m, PASS_PROG_BASE, &p, err, sizeof err))
		fail_msg("%s", err);
	static const char *const bufs[] = {"square_avg", "grad_avg", "momentum_buffer"};
	for (int i = 0; i < 3; i++) {
		char name[128];
		snprintf(name, sizeof name, "opt.fc2.bias.%s", bufs[i]);
		if (!ir_find_leaf(p.g, IR_OP_STATE, name))
			fail_msg("no state %s", name);
	}
	pass_program_free(&p);
	fe_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_frontend),
		cmocka_unit_test(t_trainer_set),
		cmocka_unit_test(t_step_scalars),
		cmocka_unit_test(t_step_inputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
