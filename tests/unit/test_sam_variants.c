/*
 * test_sam_variants.c - ASAM's eta and only, the rho schedules and GSAM:
 * the front end reads them (and refuses what cannot run, naming the model
 * file's line), --set changes them in samc and in a trainer's recipe (and
 * refuses what is compiled in), the step scalars follow the schedules'
 * closed forms, and the SAM program reads eta and alpha as step inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fe_model.h"
#include "pass_pipeline.h"
#include "rt_args.h"
#include "rt_recipe_schema.h"

static const char *const HEAD =
	"local B = batch_size(8)\n"
	"local x = input(\"x\", {B, 6})\n"
	"local y = input(\"y\", {B}, {dtype = \"i32\", classes = 3})\n"
	"local logits = linear(relu(linear(x, 5, {name = \"fc1\"})), 3, {name = \"fc2\"})\n";

static const char *write_model(const char *name, const char *text)
{
	static char path[1024];
	snprintf(path, sizeof path, "%s/test_sam_variants_%s.lua", SAMC_BINARY_DIR, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* HEAD, then a recipe whose optimizer.sam is `sam` and whose other keys
 * (after the optimizer) are `extra`. */
static const char *model(const char *name, const char *sam, const char *extra)
{
	char text[4096];
	snprintf(text, sizeof text, "%sreturn {loss = cross_entropy(logits, y),\n"
	         "  optimizer = {name = \"sgd\", lr = 0.1, sam = %s}%s}\n", HEAD, sam, extra);
	return write_model(name, text);
}

static ir_model *load(const char *path, const char *const *sets, int nsets, char *err, size_t len)
{
	fe_options o;
	fe_options_init(&o);
	o.sets = sets;
	o.nsets = nsets;
	ir_model *m = NULL;
	if (fe_load_model(path, &o, &m, err, len))
		return NULL;
	return m;
}

static ir_model *load_ok(const char *path, const char *const *sets, int nsets)
{
	char err[1024];
	ir_model *m = load(path, sets, nsets, err, sizeof err);
	if (!m)
		fail_msg("%s", err);
	return m;
}

static void t_read(void **st)
{
	(void)st;
	ir_model *m = load_ok(model("read", "{rho = 0.2, adaptive = true, eta = 0.01, only = "
	                            "\"weights\",\n rho_schedule = {name = \"lr\", rho_min = 0.02, "
	                            "lr_min = 0.001}, gsam = {alpha = 0.3}}", ""), NULL, 0);
	const opt_config *o = &m->recipe.opt;
	assert_true(o->sam && o->adaptive && o->sam_eta == 0.01 && o->sam_only == SAM_ONLY_WEIGHTS);
	assert_int_equal(o->rho_sched.kind, RHO_SCHED_LR);
	assert_true(o->rho_sched.rho_min == 0.02 && o->rho_sched.lr_min == 0.001);
	assert_true(o->gsam && o->gsam_alpha == 0.3);
	fe_model_free(m);
	/* the defaults: today's ASAM (T_w = |w| on every param), rho constant, no GSAM */
	m = load_ok(model("dflt", "{adaptive = true}", ""), NULL, 0);
	o = &m->recipe.opt;
	assert_true(o->sam_eta == 0 && o->sam_only == SAM_ONLY_ALL && !o->gsam);
	assert_int_equal(o->rho_sched.kind, RHO_SCHED_CONSTANT);
	assert_true(o->rho_sched.gamma == 0.1);
	fe_model_free(m);
}

static void t_errors(void **st)
{
	(void)st;
	struct {
		const char *sam, *extra, *want;
	} cases[] = {
		{"{eta = 0.01}", "", ":5: recipe: optimizer.sam.eta shapes ASAM's operator T_w: it needs "
		 "optimizer.sam.adaptive = true"},
		{"{only = \"weights\"}", "", "optimizer.sam.only shapes ASAM's operator T_w"},
		{"{adaptive = true, eta = -1}", "", "recipe: optimizer.sam.eta must be >= 0, got -1"},
		{"{adaptive = true, only = \"bias\"}", "",
		 "unknown optimizer.sam.only 'bias' (known: all, weights)"},
		{"{rho_schedule = 3}", "", "optimizer.sam.rho_schedule must be a table, e.g. {name = "
		 "\"cosine\", rho_min = 0.01}, got number"},
		{"{rho_schedule = {name = \"linear\"}}", "",
		 "unknown optimizer.sam.rho_schedule 'linear' (known: constant, step, cosine, lr)"},
		{"{rho_schedule = {name = \"step\"}}", "",
		 "optimizer.sam.rho_schedule.step_size must be given and >= 1 for name = \"step\""},
		{"{rho_schedule = {name = \"step\", step_size = 0.5}}", "",
		 "optimizer.sam.rho_schedule.step_size must be >= 1, got 0.5"},
		{"{rho_schedule = {name = \"cosine\", gamma = 0.5}}", "",
		 "optimizer.sam.rho_schedule.gamma does not apply to this rho schedule (name = \"cosine\")"},
		{"{rho_schedule = {name = \"step\", step_size = 2, rho_min = 0.01}}", "",
		 "optimizer.sam.rho_schedule.rho_min does not apply to this rho schedule (name = \"step\")"},
		{"{rho_schedule = {name = \"lr\", lr_min = 0.2}}", "",
		 "optimizer.sam.rho_schedule.lr_min must be below optimizer.lr (0.1) for name = \"lr\", "
		 "got 0.2"},
		{"{rho = 0.05, rho_schedule = {name = \"cosine\", rho_min = 0.1}}", "",
		 "optimizer.sam.rho_schedule.rho_min (0.1) is above optimizer.sam.rho (0.05)"},
		{"{rho = 0.5, groups = {{prefix = \"fc1.\", rho = 0.01}},\n"
		 " rho_schedule = {name = \"lr\", rho_min = 0.1}}", "",
		 "rho_min (0.1) is above optimizer.sam.groups[1].rho (0.01)"},
		{"{rho_schedule = {name = \"cosine\", warmup = 3}}", "",
		 "unknown recipe key 'optimizer.sam.rho_schedule.warmup'"},
		{"{gsam = {}}", "", "optimizer.sam.gsam.alpha is missing"},
		{"{gsam = true}", "", "optimizer.sam.gsam must be a table, e.g. {alpha = 0.1}, got boolean"},
		{"{gsam = {alpha = -0.1}}", "", "optimizer.sam.gsam.alpha must be >= 0, got -0.1"},
		{"{gsam = {alpha = 0.1, beta = 1}}", "",
		 "unknown recipe key 'optimizer.sam.gsam.beta' (known keys here: alpha)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[32], err[1024] = "";
		snprintf(name, sizeof name, "err%zu", i);
		ir_model *m = load(model(name, cases[i].sam, cases[i].extra), NULL, 0, err, sizeof err);
		if (m) {
			fe_model_free(m);
			fail_msg("case %zu loaded; expected \"%s\"", i, cases[i].want);
		}
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].want);
	}
}

/* A model with no param named *.weight has nothing for only = "weights". */
static void t_only_weights_needs_a_weight(void **st)
{
	(void)st;
	char text[1024], err[1024] = "";
	snprintf(text, sizeof text, "local x = input(\"x\", {batch_size(4), 3})\n"
	         "local w = param(\"scale\", {3})\n"
	         "return {loss = mean(x * w),\n"
	         "  optimizer = {name = \"sgd\", sam = {adaptive = true, only = \"weights\"}}}\n");
	ir_model *m = load(write_model("noweight", text), NULL, 0, err, sizeof err);
	assert_null(m);
	if (!strstr(err, "no parameter is named *.weight"))
		fail_msg("%s", err);
	assert_true(rt_sam_is_weight("fc.weight") && rt_sam_is_weight("weight"));
	assert_false(rt_sam_is_weight("fc.bias") || rt_sam_is_weight("weights") ||
	             rt_sam_is_weight("fc.weight_g"));
}

/* samc's --set writes into the model file's table: GSAM and a schedule
 * can be turned on from the command line. */
static void t_samc_set(void **st)
{
	(void)st;
	const char *path = model("set", "{adaptive = true}", "");
	const char *sets[] = {"optimizer.sam.eta=0.05", "optimizer.sam.only=weights",
	                      "optimizer.sam.rho_schedule.name=cosine",
	                      "optimizer.sam.rho_schedule.rho_min=0.01",
	                      "optimizer.sam.gsam.alpha=0.2"};
	ir_model *m = load_ok(path, sets, 5);
	const opt_config *o = &m->recipe.opt;
	assert_true(o->sam_eta == 0.05 && o->sam_only == SAM_ONLY_WEIGHTS);
	assert_int_equal(o->rho_sched.kind, RHO_SCHED_COSINE);
	assert_true(o->rho_sched.rho_min == 0.01 && o->gsam && o->gsam_alpha == 0.2);
	fe_model_free(m);
	char err[1024];
	const char *bad[] = {"optimizer.sam.rho_schedule.name=exp"};
	assert_null(load(path, bad, 1, err, sizeof err));
	assert_non_null(strstr(err, "unknown optimizer.sam.rho_schedule 'exp'"));
	const char *bad2[] = {"optimizer.sam.gsam.alfa=0.1"};
	assert_null(load(path, bad2, 1, err, sizeof err));
	assert_non_null(strstr(err, "did you mean 'alpha'?"));
}

static sam_group groups[1] = {{"fc1.", 0.2, 1}};

static rt_recipe trainer_recipe(void)
{
	rt_recipe r;
	rt_recipe_defaults(&r);
	r.opt.lr = 0.1;
	r.opt.sam = 1;
	r.opt.rho = 0.05;
	r.opt.adaptive = 1;
	r.opt.sam_eta = 0.01;
	r.opt.groups = groups;
	r.opt.ngroups = 1;
	r.batch_size = 8;
	return r;
}

static int sets(rt_recipe *r, const char *const *s, int n, char *msg, size_t len)
{
	return rt_args_recipe_sets(r, s, n, msg, len);
}

/* A trainer's --set: the schedule, eta and alpha are step inputs; only,
 * eta turned on or off, and GSAM itself are compiled in. */
static void t_trainer_set(void **st)
{
	(void)st;
	char msg[512];
	rt_recipe r = trainer_recipe();
	const char *ok[] = {"optimizer.sam.eta=0.05", "optimizer.sam.rho_schedule.name=lr",
	                    "optimizer.sam.rho_schedule.rho_min=0.01",
	                    "optimizer.sam.rho_schedule.lr_min=0.001"};
	if (sets(&r, ok, 4, msg, sizeof msg))
		fail_msg("%s", msg);
	assert_true(r.opt.sam_eta == 0.05 && r.opt.rho_sched.kind == RHO_SCHED_LR);
	assert_true(r.opt.rho_sched.rho_min == 0.01 && r.opt.rho_sched.lr_min == 0.001);

	struct {
		const char *set[2];
		const char *want;
	} bad[] = {
		{{"optimizer.sam.eta=0"}, "whether it is 0 is compiled into its steps"},
		{{"optimizer.sam.only=weights"}, "optimizer.sam.only is compiled into this trainer's "
		 "steps: rebuild it with `samc build MODEL --set optimizer.sam.only=weights`"},
		{{"optimizer.sam.gsam.alpha=0.1"}, "this trainer was built without GSAM"},
		{{"optimizer.sam.rho_schedule.gamma=0.5"},
		 "optimizer.sam.rho_schedule.gamma does not apply to this trainer's rho schedule "
		 "(name = \"constant\")"},
		{{"optimizer.sam.rho_schedule.name=step"},
		 "optimizer.sam.rho_schedule.step_size must be given and >= 1 for name = \"step\""},
		{{"optimizer.sam.rho_schedule.name=lr", "optimizer.sam.rho_schedule.lr_min=0.2"},
		 "optimizer.sam.rho_schedule.lr_min must be below optimizer.lr"},
		{{"optimizer.sam.rho_schedule.name=cosine", "optimizer.sam.rho_schedule.rho_min=0.3"},
		 "rho_min (0.3) is above optimizer.sam.rho (0.05)"},
		{{"optimizer.sam.rho_schedule.name=adaptive"},
		 "unknown optimizer.sam.rho_schedule 'adaptive' (known: constant, step, cosine, lr)"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rt_recipe b = trainer_recipe();
		int n = bad[i].set[1] ? 2 : 1;
		if (sets(&b, bad[i].set, n, msg, sizeof msg) == 0)
			fail_msg("case %zu: accepted; expected \"%s\"", i, bad[i].want);
		if (!strstr(msg, bad[i].want))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, msg, bad[i].want);
	}
	rt_recipe g = trainer_recipe();
	g.opt.gsam = 1;
	g.opt.gsam_alpha = 0.1;
	const char *a[] = {"optimizer.sam.gsam.alpha=0.4"};
	assert_int_equal(sets(&g, a, 1, msg, sizeof msg), 0);
	assert_true(g.opt.gsam_alpha == 0.4);
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

static void near(double got, double want)
{
	if (!(fabs(got - want) <= 1e-15 * fmax(1.0, fabs(want))))
		fail_msg("got %.17g, want %.17g", got, want);
}

/* rho and each group's rho at step t, as the closed forms say. */
static void t_rho_schedules(void **st)
{
	(void)st;
	rt_step_scalar sc[RT_STEP_SCALARS_MAX];
	rt_recipe r = trainer_recipe();
	int n = rt_step_scalars(&r, 3, 10, sc);
	near(scalar(sc, n, RT_SCALAR_SAM_RHO), 0.05);
	near(scalar(sc, n, "opt.sam.rho.1"), 0.2);
	near(scalar(sc, n, RT_SCALAR_SAM_ETA), 0.01);
	assert_false(has_scalar(sc, n, RT_SCALAR_GSAM_ALPHA));

	r.opt.rho_sched.kind = RHO_SCHED_STEP;
	r.opt.rho_sched.step_size = 3;
	r.opt.rho_sched.gamma = 0.5;
	n = rt_step_scalars(&r, 2, 10, sc);
	near(scalar(sc, n, RT_SCALAR_SAM_RHO), 0.05);
	n = rt_step_scalars(&r, 7, 10, sc);
	near(scalar(sc, n, RT_SCALAR_SAM_RHO), 0.05 * 0.25);
	near(scalar(sc, n, "opt.sam.rho.1"), 0.2 * 0.25);

	r.opt.rho_sched.kind = RHO_SCHED_COSINE;
	r.opt.rho_sched.rho_min = 0.01;
	n = rt_step_scalars(&r, 0, 10, sc);
	near(scalar(sc, n, RT_SCALAR_SAM_RHO), 0.05);
	n = rt_step_scalars(&r, 5, 10, sc);
	near(scalar(sc, n, RT_SCALAR_SAM_RHO), 0.03);
	near(scalar(sc, n, "opt.sam.rho.1"), 0.01 + 0.19 / 2);
	r.opt.rho_sched.t_max = 4; /* held at rho_min after t_max */
	n = rt_step_scalars(&r, 9, 10, sc);
	near(scalar(sc, n, RT_SCALAR_SAM_RHO), 0.01);

	/* GSAM's: rho with the lr; here a cosine lr from 0.1 to eta_min 0.02 */
	r.opt.rho_sched.kind = RHO_SCHED_LR;
	r.opt.rho_sched.lr_min = 0.02;
	r.sched.kind = SCHED_COSINE;
	r.sched.eta_min = 0.02;
	for (int t = 0; t < 10; t++) {
		double lr = rt_sched_lr(&r, t, 10);
		n = rt_step_scalars(&r, t, 10, sc);
		near(scalar(sc, n, RT_SCALAR_SAM_RHO), 0.01 + 0.04 * (lr - 0.02) / 0.08);
		near(scalar(sc, n, "opt.sam.rho.1"), 0.01 + 0.19 * (lr - 0.02) / 0.08);
	}
	n = rt_step_scalars(&r, 10, 10, sc); /* the end of the cosine: rho_min */
	near(scalar(sc, n, RT_SCALAR_SAM_RHO), 0.01);

	r.opt.gsam = 1;
	r.opt.gsam_alpha = 0.3;
	n = rt_step_scalars(&r, 0, 10, sc);
	near(scalar(sc, n, RT_SCALAR_GSAM_ALPHA), 0.3);
	assert_true(n <= RT_STEP_SCALARS_MAX);
}

static int count_op(const ir_graph *g, ir_op op)
{
	int c = 0;
	for (int i = 0; i < g->nnodes; i++)
		c += g->nodes[i]->op == op;
	return c;
}

/* eta and alpha are step inputs of the SAM program; eta = 0 and plain SAM
 * read neither; only = "weights" takes |w| of the two weights only. */
static void t_programs(void **st)
{
	(void)st;
	char err[1024];
	pass_program p;
	ir_model *m = load_ok(model("prog", "{adaptive = true, eta = 0.01, only = \"weights\", "
	                            "gsam = {alpha = 0.1}}", ""), NULL, 0);
	assert_int_equal(pass_build(m, PASS_PROG_SAM, &p, err, sizeof err), 0);
	assert_non_null(ir_find_leaf(p.g, IR_OP_INPUT, RT_SCALAR_SAM_ETA));
	assert_non_null(ir_find_leaf(p.g, IR_OP_INPUT, RT_SCALAR_GSAM_ALPHA));
	int abs_only = count_op(p.g, IR_OP_ABS);
	pass_program_free(&p);
	fe_model_free(m);

	m = load_ok(model("prog_all", "{adaptive = true, eta = 0.01}", ""), NULL, 0);
	assert_int_equal(pass_build(m, PASS_PROG_SAM, &p, err, sizeof err), 0);
	assert_null(ir_find_leaf(p.g, IR_OP_INPUT, RT_SCALAR_GSAM_ALPHA));
	/* two more |w|: the biases' */
	assert_int_equal(count_op(p.g, IR_OP_ABS), abs_only + 2);
	pass_program_free(&p);
	fe_model_free(m);

	m = load_ok(model("prog_eta0", "{adaptive = true}", ""), NULL, 0);
	assert_int_equal(pass_build(m, PASS_PROG_SAM, &p, err, sizeof err), 0);
	assert_null(ir_find_leaf(p.g, IR_OP_INPUT, RT_SCALAR_SAM_ETA));
	pass_program_free(&p);
	fe_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_read),
		cmocka_unit_test(t_errors),
		cmocka_unit_test(t_only_weights_needs_a_weight),
		cmocka_unit_test(t_samc_set),
		cmocka_unit_test(t_trainer_set),
		cmocka_unit_test(t_rho_schedules),
		cmocka_unit_test(t_programs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
