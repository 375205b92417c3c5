/*
 * test_recipe_schema.c - the recipe schema (runtime/rt_recipe_schema.h):
 * its table is consistent, the front end takes its defaults from it, the
 * --set parser accepts and refuses what it should with the messages users
 * see, a trainer's --set refuses what would change its compiled steps, and
 * the step scalars carry every hyperparameter (rho per SAM group).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "fe_model.h"
#include "rt_args.h"
#include "rt_recipe_schema.h"

/* Every key is found by its path and under its parent, and its parent is
 * a table (or a list of tables); defaults are within their ranges. */
static void t_schema_consistent(void **st)
{
	(void)st;
	int n;
	const rt_key *keys = rt_recipe_keys(&n);
	assert_true(n > 30);
	for (int i = 0; i < n; i++) {
		const rt_key *k = &keys[i];
		assert_ptr_equal(rt_recipe_key(k->path), k);
		char parent[256];
		const char *dot = strrchr(k->path, '.');
		snprintf(parent, sizeof parent, "%.*s", dot ? (int)(dot - k->path) : 0, k->path);
		assert_ptr_equal(rt_recipe_key_child(parent, dot ? dot + 1 : k->path, NULL), k);
		if (dot) {
			size_t pn = strlen(parent);
			int list = pn > 2 && strcmp(parent + pn - 2, "[]") == 0;
			if (list)
				parent[pn - 2] = '\0';
			const rt_key *p = rt_recipe_key(parent);
			assert_non_null(p);
			assert_int_equal(p->kind, list ? RT_KEY_LIST : RT_KEY_TABLE);
		}
		char msg[256];
		/* the step schedules' step_size has no default: it must be given */
		if (k->kind == RT_KEY_NUMBER && strcmp(k->path, "schedule.step_size") != 0 &&
		    strcmp(k->path, "optimizer.sam.rho_schedule.step_size") != 0 &&
		    rt_recipe_key_check(k, k->dflt, msg, sizeof msg))
			fail_msg("default of %s: %s", k->path, msg);
		if (k->flags & RT_KEY_NONZERO)
			assert_true(k->flags & RT_KEY_RUN);
	}
}

/* A model that gives only what it must gets every schema default. */
static void t_frontend_defaults(void **st)
{
	(void)st;
	char path[1024];
	snprintf(path, sizeof path, "%s/test_recipe_schema_min.lua", SAMC_BINARY_DIR);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("local B = batch_size(4)\nlocal x = input(\"x\", {B, 3})\n"
	      "return {loss = mean(linear(x, 2)), optimizer = {name = \"sgd\"}}\n", f);
	fclose(f);
	fe_options o = {0};
	ir_model *m = NULL;
	char err[1024];
	if (fe_load_model(path, &o, &m, err, sizeof err))
		fail_msg("%s", err);
	rt_recipe want;
	rt_recipe_defaults(&want);
	want.batch_size = 4;
	int n;
	const rt_key *keys = rt_recipe_keys(&n);
	for (int i = 0; i < n; i++) {
		const rt_key *k = &keys[i];
		if (k->offset < 0 || k->kind == RT_KEY_STRING)
			continue;
		size_t sz = k->kind == RT_KEY_NUMBER ? sizeof(double) : k->kind == RT_KEY_PAIR
		            ? 2 * sizeof(double) : k->kind == RT_KEY_CHANNELS ? sizeof(data_channels)
		            : k->kind == RT_KEY_U64 ? sizeof(uint64_t) : sizeof(int);
		if (memcmp((char *)&m->recipe + k->offset, (char *)&want + k->offset, sz) != 0)
			fail_msg("%s: the front end's default is not the schema's", k->path);
	}
	assert_false(m->recipe.opt.sam);
	fe_model_free(m);
	remove(path);
}

/* samc's --set of a SAM group's rho reaches the recipe as a trainer's does. */
static void t_frontend_group_set(void **st)
{
	(void)st;
	const char *sets[] = {"optimizer.sam.groups[1].rho=0.3", "optimizer.sam.rho=0.1"};
	fe_options o = {0};
	o.sets = sets;
	o.nsets = 2;
	ir_model *m = NULL;
	char err[1024];
	if (fe_load_model(SAMC_SOURCE_DIR "/tests/aot/mlp_groups.lua", &o, &m, err, sizeof err))
		fail_msg("%s", err);
	assert_int_equal(m->recipe.opt.ngroups, 1);
	assert_true(m->recipe.opt.groups[0].rho == 0.3 && m->recipe.opt.groups[0].rho_given);
	assert_true(m->recipe.opt.rho == 0.1);
	fe_model_free(m);
	const char *bad[] = {"optimizer.sam.groups[2].rho=0.3"};
	o.sets = bad;
	o.nsets = 1;
	assert_int_not_equal(fe_load_model(SAMC_SOURCE_DIR "/tests/aot/mlp_groups.lua", &o, &m, err,
	                                   sizeof err), 0);
	assert_non_null(strstr(err, "--set optimizer.sam.groups[2].rho=0.3: optimizer.sam.groups[2] "
	                            "is not in the model file"));
}

static void parse_ok(const char *arg, rt_recipe_set_arg *s)
{
	char msg[512];
	if (rt_recipe_set_parse(arg, s, msg, sizeof msg))
		fail_msg("--set %s: %s", arg, msg);
}

static void t_parse(void **st)
{
	(void)st;
	rt_recipe_set_arg s;
	parse_ok("optimizer.sam.rho=0.1", &s);
	assert_string_equal(s.key->path, "optimizer.sam.rho");
	assert_true(s.nnum == 1 && s.num[0] == 0.1);
	parse_ok("optimizer.betas=0.8,0.99", &s);
	assert_true(s.nnum == 2 && s.num[0] == 0.8 && s.num[1] == 0.99);
	parse_ok("data.mean=0.49,0.48,0.45", &s);
	assert_true(s.nnum == 3 && s.num[0] == 0.49 && s.num[2] == 0.45);
	parse_ok("data.std=0.25", &s);
	assert_true(s.nnum == 1 && s.num[0] == 0.25);
	parse_ok("data.train.x=/d/x.gz", &s);
	assert_string_equal(s.key->path, "data.train");
	assert_string_equal(s.map_key, "x");
	assert_string_equal(s.text, "/d/x.gz");
	parse_ok("optimizer.nesterov=true", &s);
	assert_true(s.num[0] == 1);
	parse_ok("schedule.name=cosine", &s);
	assert_string_equal(s.text, "cosine");
	parse_ok("optimizer.sam.groups[2].rho=0.5", &s);
	assert_string_equal(s.key->path, "optimizer.sam.groups[].rho");
	assert_int_equal(s.index, 2);
	assert_string_equal(s.parts[s.list_part], "groups");
}

static void t_parse_errors(void **st)
{
	(void)st;
	static const struct { const char *arg, *want; } cases[] = {
		{"optimiser.lr=0.1", "unknown recipe key 'optimiser' (did you mean 'optimizer'?)"},
		{"optimizer.sam.roh=1", "unknown recipe key 'optimizer.sam.roh' (did you mean 'rho'?)"},
		{"optimizer.zzzzzz=1", "unknown recipe key 'optimizer.zzzzzz'"},
		{"epochs=three", "epochs needs a number, got 'three'"},
		{"epochs=1.5", "epochs needs an integer, got '1.5'"},
		{"optimizer.lr=0.1x", "optimizer.lr needs a number, got '0.1x'"},
		{"optimizer.nesterov=yes", "optimizer.nesterov needs true or false, got 'yes'"},
		{"optimizer.betas=0.9", "optimizer.betas needs two numbers a,b, got '0.9'"},
		{"data.mean=0.5,,0.4", "data.mean needs numbers a or a,b,c, got '0.5,,0.4'"},
		{"data.mean=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", "data.mean takes at most 16 numbers"},
		{"=3", "expected key=value"},
		{"epochs", "expected key=value"},
		{"epochs.x=1", "'epochs' has no sub-keys"},
		{"optimizer..lr=1", "empty part in the key"},
		{"loss=1", "loss cannot be set from the command line"},
		{"metrics.acc=1", "metrics.acc cannot be set from the command line"},
		{"optimizer.sam.groups.rho=1", "'optimizer.sam.groups' is a list: set a key of one "
		                               "element, e.g. optimizer.sam.groups[1].rho=0.1"},
		{"optimizer.sam.groups[0].rho=1", "an index is written [N], N >= 1"},
		{"optimizer.sam.groups[x].rho=1", "an index is written [N], N >= 1"},
		{"optimizer[1].lr=1", "'optimizer' is not a list"},
		{"optimizer.sam.groups[1].roh=1", "unknown recipe key 'optimizer.sam.groups[1].roh' "
		                                  "(did you mean 'rho'?)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		rt_recipe_set_arg s;
		char msg[512] = "";
		if (rt_recipe_set_parse(cases[i].arg, &s, msg, sizeof msg) == 0)
			fail_msg("--set %s was accepted", cases[i].arg);
		if (!strstr(msg, cases[i].want))
			fail_msg("--set %s: \"%s\" lacks \"%s\"", cases[i].arg, msg, cases[i].want);
	}
}

/* SGD with momentum 0.9 and SAM (one group with its own rho, one without),
 * as a trainer holds it. */
static sam_group groups[2] = {{"fc1.", 0.5, 1}, {"fc2.", 0.05, 0}};

static rt_recipe trainer_recipe(opt_kind kind)
{
	rt_recipe r;
	rt_recipe_defaults(&r);
	r.opt.kind = kind;
	r.opt.lr = 0.05;
	r.opt.momentum = kind == OPT_SGD ? 0.9 : 0;
	r.opt.sam = 1;
	r.opt.groups = groups;
	r.opt.ngroups = 2;
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
	rt_recipe r = trainer_recipe(OPT_SGD);
	static const char *const ok[] = {"optimizer.sam.rho=0.1", "optimizer.momentum=0.5",
	                                 "optimizer.lr=0.2", "schedule.t_max=50",
	                                 "schedule.name=cosine", "epochs=3",
	                                 "data.limit_train=100", "seed=7"};
	/* in one go: schedule keys are checked against the final schedule */
	if (rt_args_recipe_sets(&r, ok, (int)(sizeof ok / sizeof ok[0]), msg, sizeof msg))
		fail_msg("%s", msg);
	assert_true(r.sched.t_max == 50);
	assert_true(r.opt.rho == 0.1 && r.opt.momentum == 0.5 && r.opt.lr == 0.2);
	assert_true(r.sched.kind == SCHED_COSINE && r.epochs == 3 && r.data.limit_train == 100);
	assert_true(r.seed == 7);
	assert_true(r.batch_size == 128);

	rt_recipe a = trainer_recipe(OPT_ADAM);
	assert_int_equal(apply(&a, "optimizer.betas=0.8,0.99", msg, sizeof msg), 0);
	assert_true(a.opt.beta1 == 0.8 && a.opt.beta2 == 0.99);
	assert_int_equal(apply(&a, "optimizer.eps=1e-6", msg, sizeof msg), 0);
	assert_true(a.opt.eps == 1e-6);
	assert_int_equal(apply(&a, "data.std=0.2,0.3,0.4", msg, sizeof msg), 0);
	assert_true(a.data.std.n == 3 && a.data.std.v[0] == 0.2 && a.data.std.v[2] == 0.4);
	assert_int_equal(apply(&a, "data.std=0.5", msg, sizeof msg), 0);
	assert_true(a.data.std.n == 1 && a.data.std.v[0] == 0.5 && a.data.std.v[1] == 0);
	assert_int_equal(apply(&a, "data.std=0.5,0", msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "data.std must be > 0, got 0"));

	static const struct { const char *arg, *want; } bad[] = {
		{"optimizer.nesterov=true", "optimizer.nesterov is compiled into this trainer's steps: "
		                            "rebuild it with `samc build MODEL --set optimizer.nesterov=true`"},
		{"optimizer.momentum=0", "whether it is 0 is compiled into its steps"},
		{"optimizer.weight_decay=0.1", "optimizer.weight_decay: this trainer was built with 0,"},
		{"optimizer.name=adam", "optimizer.name is compiled into this trainer's steps"},
		{"optimizer.sam.every=2", "optimizer.sam.every is compiled"},
		{"optimizer.sam.adaptive=true", "optimizer.sam.adaptive is compiled"},
		{"batch_size=64", "batch_size is compiled"},
		{"optimizer.eps=1e-6", "optimizer.eps does not apply to this trainer's optimizer (sgd)"},
		{"optimizer.lr=-1", "--set optimizer.lr=-1: optimizer.lr must be > 0, got -1"},
		{"optimizer.sam.rho=-1", "optimizer.sam.rho must be >= 0, got -1"},
		{"epochs=0", "epochs must be an integer >= 1, got 0"},
		{"schedule.name=linear", "unknown schedule 'linear' (known: constant, step, cosine)"},
		{"schedule.name=step", "schedule.step_size must be given and >= 1"},
		{"schedule.gamma=0.5", "schedule.gamma does not apply to this schedule (name = \"step\" only)"},
		{"schedule.t_max=5", "schedule.t_max does not apply to this schedule (name = \"cosine\" only)"},
		{"data.train.z=/z", "'z' is not an input this trainer reads from data.train"},
		{"optimizer.sam.groups[3].rho=0.1", "this trainer has 2 SAM group(s), not 3"},
		{"optimizer.sam.groups[1].rho=-1", "optimizer.sam.groups[1].rho must be >= 0, got -1"},
		{"optimizer.sam.groups[1].prefix=fc", "optimizer.sam.groups[1].prefix is compiled"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rt_recipe c = trainer_recipe(OPT_SGD);
		msg[0] = '\0';
		if (apply(&c, bad[i].arg, msg, sizeof msg) == 0)
			fail_msg("--set %s was accepted by the trainer", bad[i].arg);
		if (!strstr(msg, bad[i].want))
			fail_msg("--set %s: \"%s\" lacks \"%s\"", bad[i].arg, msg, bad[i].want);
	}
	rt_recipe a2 = trainer_recipe(OPT_ADAM);
	assert_int_not_equal(apply(&a2, "optimizer.momentum=0.9", msg, sizeof msg), 0);
	assert_non_null(strstr(msg, "does not apply to this trainer's optimizer (adam)"));
	rt_recipe nosam = trainer_recipe(OPT_SGD);
	nosam.opt.sam = 0;
	assert_int_not_equal(apply(&nosam, "optimizer.sam.rho=0.1", msg, sizeof msg), 0);
	assert_non_null(strstr(msg, "this trainer was built without SAM"));
	/* a validation set is data.val files or data.val_split, not both */
	rt_recipe v = trainer_recipe(OPT_SGD);
	assert_int_equal(apply(&v, "data.val_split=0.1", msg, sizeof msg), 0);
	assert_true(v.data.val_split == 0.1);
	assert_int_not_equal(apply(&v, "data.val_split=0.6", msg, sizeof msg), 0);
	assert_non_null(strstr(msg, "data.val_split must be in [0, 0.5], got 0.6"));
	v.data.val[0] = (data_file){"x", "val.idx"};
	v.data.nval = 1;
	v.data.val_split = 0;
	assert_int_not_equal(apply(&v, "data.val_split=0.1", msg, sizeof msg), 0);
	assert_non_null(strstr(msg, "this trainer was built with data.val files"));
	v.data.val_split = 0; /* a refused --set ends the trainer; here it goes on */
	assert_int_equal(apply(&v, "data.val.x=other.idx", msg, sizeof msg), 0);
	assert_string_equal(v.data.val[0].path, "other.idx");
}

static double scalar(const rt_step_scalar *sc, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(sc[i].name, name) == 0)
			return sc[i].value;
	fail_msg("no step scalar %s", name);
	return 0;
}

/* Hyperparameters reach the step as scalars; a group without its own rho
 * follows optimizer.sam.rho, also after a --set. */
static void t_step_scalars(void **st)
{
	(void)st;
	char msg[512];
	rt_step_scalar sc[RT_STEP_SCALARS_MAX];
	rt_recipe r = trainer_recipe(OPT_SGD);
	r.opt.dampening = 0.25;
	int n = rt_step_scalars(&r, 0, 10, sc);
	assert_string_equal(sc[0].name, RT_SCALAR_LR);
	assert_true(scalar(sc, n, RT_SCALAR_MOMENTUM) == 0.9);
	assert_true(scalar(sc, n, RT_SCALAR_UNDAMPED) == 0.75);
	assert_true(scalar(sc, n, RT_SCALAR_SAM_RHO) == 0.05);
	assert_true(scalar(sc, n, "opt.sam.rho.1") == 0.5);
	assert_true(scalar(sc, n, "opt.sam.rho.2") == 0.05);
	assert_int_equal(apply(&r, "optimizer.sam.rho=0.2", msg, sizeof msg), 0);
	n = rt_step_scalars(&r, 0, 10, sc);
	assert_true(scalar(sc, n, "opt.sam.rho.1") == 0.5);
	assert_true(scalar(sc, n, "opt.sam.rho.2") == 0.2);
	sam_group own[2];
	memcpy(own, groups, sizeof own);
	r.opt.groups = own;
	assert_int_equal(apply(&r, "optimizer.sam.groups[2].rho=0.7", msg, sizeof msg), 0);
	n = rt_step_scalars(&r, 0, 10, sc);
	assert_true(scalar(sc, n, "opt.sam.rho.1") == 0.5);
	assert_true(scalar(sc, n, "opt.sam.rho.2") == 0.7);

	rt_recipe a = trainer_recipe(OPT_ADAM);
	n = rt_step_scalars(&a, 1, 10, sc);
	assert_true(scalar(sc, n, RT_SCALAR_ADAM_ONE_MINUS_BETA1) == 1.0 - 0.9);
	assert_true(scalar(sc, n, RT_SCALAR_ADAM_ONE_MINUS_BETA2) == 1.0 - 0.999);
	assert_true(scalar(sc, n, RT_SCALAR_ADAM_EPS) == 1e-8);
	assert_true(n <= RT_STEP_SCALARS_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_schema_consistent),
		cmocka_unit_test(t_frontend_defaults),
		cmocka_unit_test(t_frontend_group_set),
		cmocka_unit_test(t_parse),
		cmocka_unit_test(t_parse_errors),
		cmocka_unit_test(t_trainer_set),
		cmocka_unit_test(t_step_scalars),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
