/*
 * test_looksam_ema.c - LookSAM and the EMA of the weights outside the
 * oracle: the recipe keys through samc's --set and a trainer's (what a
 * trainer built without them refuses), the step scalars (alpha; the EMA's
 * weight 1 on the run's first step, 1 - decay after), the period of the
 * SAM steps, and which program assigns and reads g_v and the EMA.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "fe_model.h"
#include "pass_pipeline.h"
#include "rt_args.h"
#include "rt_recipe_schema.h"
#include "test_model.h"

static ir_model *load(const char *const *sets, int nsets)
{
	return test_load_model("examples/fashion_mlp.lua", IR_F64, sets, nsets);
}

/* assigns to STATE leaves whose name starts with pre and ends with suf */
static int assigns(const ir_graph *g, const char *pre, const char *suf)
{
	int n = 0;
	for (int i = 0; i < g->nnodes; i++) {
		const ir_node *x = g->nodes[i];
		if (x->op != IR_OP_ASSIGN || x->in[0]->op != IR_OP_STATE)
			continue;
		const char *s = x->in[0]->name;
		size_t ls = strlen(s), lf = strlen(suf);
		n += strncmp(s, pre, strlen(pre)) == 0 && ls >= lf && strcmp(s + ls - lf, suf) == 0;
	}
	return n;
}

static int reads_state(const ir_graph *g, const char *suf)
{
	int n = 0;
	for (int i = 0; i < g->nnodes; i++) {
		const ir_node *x = g->nodes[i];
		size_t ls = x->name ? strlen(x->name) : 0, lf = strlen(suf);
		n += x->op == IR_OP_STATE && ls >= lf && strcmp(x->name + ls - lf, suf) == 0;
	}
	return n;
}

/* samc's --set turns them on and sets their values; the programs follow. */
static void t_programs(void **st)
{
	(void)st;
	char err[1024];
	const char *sets[] = {"optimizer.sam.looksam.k=4", "optimizer.sam.looksam.alpha=0.3",
	                      "ema.decay=0.99"};
	ir_model *m = load(sets, 3);
	const rt_recipe *r = &m->recipe;
	assert_true(r->opt.sam && r->opt.looksam && r->opt.looksam_k == 4);
	assert_true(r->opt.looksam_alpha == 0.3 && r->ema && r->ema_decay == 0.99);
	assert_int_equal(rt_sam_period(&r->opt), 4);
	pass_programs ps;
	assert_int_equal(pass_build_all(m, &ps, err, sizeof err), 0);
	assert_non_null(ps.base.g);
	int np = m->nparams;
	/* the SAM step assigns g_v, the base step reads it and assigns none */
	assert_int_equal(assigns(ps.sam.g, "opt.", ".looksam_gv"), np);
	assert_int_equal(assigns(ps.base.g, "opt.", ".looksam_gv"), 0);
	assert_int_equal(reads_state(ps.base.g, ".looksam_gv"), np);
	assert_non_null(ir_find_leaf(ps.base.g, IR_OP_INPUT, RT_SCALAR_LOOKSAM_ALPHA));
	assert_null(ir_find_leaf(ps.sam.g, IR_OP_INPUT, RT_SCALAR_LOOKSAM_ALPHA));
	/* both training steps move the EMA; evaluation writes nothing */
	assert_int_equal(assigns(ps.sam.g, RT_EMA_PREFIX, ""), np);
	assert_int_equal(assigns(ps.base.g, RT_EMA_PREFIX, ""), np);
	assert_int_equal(reads_state(ps.eval.g, ""), 0);
	pass_programs_free(&ps);
	fe_model_free(m);

	/* without them: no g_v, no EMA, and the period is sam.every's */
	const char *plain[] = {"optimizer.sam.every=3"};
	m = load(plain, 1);
	assert_int_equal(rt_sam_period(&m->recipe.opt), 3);
	assert_int_equal(pass_build_all(m, &ps, err, sizeof err), 0);
	assert_int_equal(assigns(ps.sam.g, "opt.", ".looksam_gv"), 0);
	assert_int_equal(assigns(ps.sam.g, RT_EMA_PREFIX, ""), 0);
	assert_null(ir_find_leaf(ps.base.g, IR_OP_INPUT, RT_SCALAR_EMA_WEIGHT));
	pass_programs_free(&ps);
	fe_model_free(m);
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

static rt_recipe trainer_recipe(int looksam, int ema)
{
	rt_recipe r;
	rt_recipe_defaults(&r);
	r.opt.kind = OPT_SGD;
	r.opt.lr = 0.1;
	r.opt.sam = 1;
	r.opt.looksam = looksam;
	r.ema = ema;
	r.batch_size = 64;
	return r;
}

static int apply(rt_recipe *r, const char *arg, char *msg, size_t len)
{
	const char *sets[] = {arg};
	msg[0] = '\0';
	return rt_args_recipe_sets(r, sets, 1, msg, len);
}

/* The schema's defaults (looksam k = 5, alpha = 0.7; ema decay 0.999) and
 * what the step reads of them. */
static void t_scalars(void **st)
{
	(void)st;
	rt_step_scalar sc[RT_STEP_SCALARS_MAX];
	rt_recipe r = trainer_recipe(1, 1);
	assert_int_equal(r.opt.looksam_k, 5);
	assert_true(r.opt.looksam_alpha == 0.7 && r.ema_decay == 0.999);
	assert_int_equal(rt_sam_period(&r.opt), 5);
	int n = rt_step_scalars(&r, 0, 10, sc);
	assert_true(n <= RT_STEP_SCALARS_MAX);
	assert_true(scalar(sc, n, RT_SCALAR_LOOKSAM_ALPHA) == 0.7);
	assert_true(scalar(sc, n, RT_SCALAR_EMA_WEIGHT) == 1.0); /* the first: a copy */
	n = rt_step_scalars(&r, 3, 10, sc);
	assert_true(scalar(sc, n, RT_SCALAR_EMA_WEIGHT) == 1.0 - 0.999);
	rt_recipe off = trainer_recipe(0, 0);
	n = rt_step_scalars(&off, 3, 10, sc);
	assert_false(has_scalar(sc, n, RT_SCALAR_LOOKSAM_ALPHA));
	assert_false(has_scalar(sc, n, RT_SCALAR_EMA_WEIGHT));
	/* the fullest recipe fits the array */
	r.opt.ngroups = RT_SAM_GROUPS_MAX;
	sam_group g[RT_SAM_GROUPS_MAX] = {{0}};
	r.opt.groups = g;
	r.opt.kind = OPT_ADAM;
	assert_true(rt_step_scalars(&r, 3, 10, sc) <= RT_STEP_SCALARS_MAX);
}

/* A trainer's --set: alpha and decay are step inputs; k and turning either
 * on are compiled in. */
static void t_trainer_set(void **st)
{
	(void)st;
	char msg[512];
	rt_recipe r = trainer_recipe(1, 1);
	assert_int_equal(apply(&r, "optimizer.sam.looksam.alpha=0.4", msg, sizeof msg), 0);
	assert_int_equal(apply(&r, "ema.decay=0.9", msg, sizeof msg), 0);
	assert_true(r.opt.looksam_alpha == 0.4 && r.ema_decay == 0.9);
	static const struct { int looksam, ema; const char *arg, *want; } bad[] = {
		{1, 1, "optimizer.sam.looksam.k=3", "optimizer.sam.looksam.k is compiled into this "
		                                    "trainer's steps"},
		{1, 1, "ema.decay=1.5", "ema.decay must be in [0, 1], got 1.5"},
		{1, 1, "optimizer.sam.looksam.alpha=-1", "optimizer.sam.looksam.alpha must be >= 0"},
		{0, 1, "optimizer.sam.looksam.alpha=0.4", "this trainer was built without LookSAM: "
		                                          "rebuild it with `samc build MODEL --set "
		                                          "optimizer.sam.looksam.alpha=0.4`"},
		{1, 0, "ema.decay=0.9", "this trainer was built without an EMA of the weights"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rt_recipe c = trainer_recipe(bad[i].looksam, bad[i].ema);
		if (apply(&c, bad[i].arg, msg, sizeof msg) == 0)
			fail_msg("--set %s was accepted by the trainer", bad[i].arg);
		if (!strstr(msg, bad[i].want))
			fail_msg("--set %s: \"%s\" lacks \"%s\"", bad[i].arg, msg, bad[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_programs),
		cmocka_unit_test(t_scalars),
		cmocka_unit_test(t_trainer_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
