/*
 * fe_recipe.c - reads the table a model file returns into ir_model and
 * ir_recipe, applying the defaults of docs/dsl.md (PyTorch's where there is
 * one) and rejecting values that cannot train: a loss that is not a
 * scalar, lr <= 0, betas outside [0,1), a batch size that disagrees with
 * batch_size(), data bound to inputs that do not exist.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_recipe.h"
#include "fe_sandbox.h"

/* Pushes t[key] (raw) and returns its type. */
static int fe_get(lua_State *L, int t, const char *key)
{
	lua_pushstring(L, key);
	return lua_rawget(L, t);
}

static void fe_type_error(lua_State *L, const char *pre, const char *key,
                          const char *expected)
{
	char got[128];
	fe_arg_typename(L, -1, got, sizeof got);
	fe_recipe_error(L, "%s%s must be %s, got %s", pre, key, expected, got);
}

static double fe_num(lua_State *L, int t, const char *pre, const char *key,
                     double dflt, int *given)
{
	double v = dflt;
	int ty = fe_get(L, t, key);
	if (given)
		*given = ty != LUA_TNIL;
	if (ty == LUA_TNUMBER && isfinite(lua_tonumber(L, -1)))
		v = lua_tonumber(L, -1);
	else if (ty != LUA_TNIL)
		fe_type_error(L, pre, key, "a finite number");
	lua_pop(L, 1);
	return v;
}

/* An integer in [min, max]; max keeps the callers' int casts exact (a
 * seed may go to 2^53, where doubles stop being exact). */
static int64_t fe_int(lua_State *L, int t, const char *pre, const char *key,
                      int64_t dflt, int64_t min, int64_t max)
{
	int64_t v = dflt;
	int ty = fe_get(L, t, key);
	if (ty != LUA_TNIL) {
		double d = lua_tonumber(L, -1);
		if (ty != LUA_TNUMBER || d != floor(d) || d < (double)min) {
			char want[64];
			snprintf(want, sizeof want, "an integer >= %lld", (long long)min);
			fe_type_error(L, pre, key, want);
		}
		if (d > (double)max) {
			char want[80];
			snprintf(want, sizeof want, "an integer from %lld to %lld", (long long)min,
			         (long long)max);
			fe_type_error(L, pre, key, want);
		}
		v = (int64_t)d;
	}
	lua_pop(L, 1);
	return v;
}

static int fe_bool(lua_State *L, int t, const char *pre, const char *key, int dflt)
{
	int v = dflt;
	int ty = fe_get(L, t, key);
	if (ty == LUA_TBOOLEAN)
		v = lua_toboolean(L, -1);
	else if (ty != LUA_TNIL)
		fe_type_error(L, pre, key, "true or false");
	lua_pop(L, 1);
	return v;
}

/* The string t[key] copied into the graph's arena, or dflt. */
static const char *fe_str(lua_State *L, int t, const char *pre, const char *key,
                          const char *dflt)
{
	const char *v = dflt;
	int ty = fe_get(L, t, key);
	if (ty == LUA_TSTRING)
		v = ir_arena_strdup(&fe_dsl_of(L)->g->arena, lua_tostring(L, -1));
	else if (ty != LUA_TNIL)
		fe_type_error(L, pre, key, "a string");
	lua_pop(L, 1);
	return v;
}

/* Pushes t[key]; it must be nil or a table. Returns 1 for a table. */
static int fe_subtable(lua_State *L, int t, const char *pre, const char *key)
{
	int ty = fe_get(L, t, key);
	if (ty != LUA_TNIL && ty != LUA_TTABLE)
		fe_type_error(L, pre, key, "a table");
	return ty == LUA_TTABLE;
}

static void fe_not_for(lua_State *L, int t, const char *pre, const char *key,
                       const char *what)
{
	if (fe_get(L, t, key) != LUA_TNIL)
		fe_recipe_error(L, "%s%s does not apply to %s", pre, key, what);
	lua_pop(L, 1);
}

static void fe_read_sam(lua_State *L, int t, opt_config *o, fe_dsl *d)
{
	const char *pre = "optimizer.sam.";
	o->sam = 1;
	o->rho = fe_num(L, t, pre, "rho", 0.05, NULL);
	if (o->rho < 0)
		fe_recipe_error(L, "optimizer.sam.rho must be >= 0, got %g", o->rho);
	o->adaptive = fe_bool(L, t, pre, "adaptive", 0);
	o->sam_every = (int)fe_int(L, t, pre, "every", 1, 1, INT_MAX);
	if (!fe_subtable(L, t, pre, "groups")) {
		lua_pop(L, 1);
		return;
	}
	int gt = lua_gettop(L);
	lua_Integer n = luaL_len(L, gt);
	o->groups = ir_arena_alloc(&d->g->arena, (size_t)(n > 0 ? n : 1) * sizeof *o->groups);
	for (lua_Integer i = 1; i <= n; i++) {
		char gpre[64];
		snprintf(gpre, sizeof gpre, "optimizer.sam.groups[%lld].", (long long)i);
		if (lua_rawgeti(L, gt, i) != LUA_TTABLE)
			fe_recipe_error(L, "optimizer.sam.groups[%lld] must be a table {prefix = "
			                "\"...\", rho = ...}", (long long)i);
		int e = lua_gettop(L);
		sam_group *g = &o->groups[o->ngroups++];
		g->prefix = fe_str(L, e, gpre, "prefix", NULL);
		if (!g->prefix)
			fe_recipe_error(L, "%sprefix is missing", gpre);
		int has_rho;
		g->rho = fe_num(L, e, gpre, "rho", o->rho, &has_rho);
		g->rho_given = has_rho;
		if (g->rho < 0)
			fe_recipe_error(L, "%srho must be >= 0, got %g", gpre, g->rho);
		int hits = 0;
		for (int p = 0; p < d->nparams; p++)
			hits += strncmp(d->params[p].node->name, g->prefix, strlen(g->prefix)) == 0;
		if (!hits)
			fe_recipe_error(L, "%sprefix '%s' matches no parameter", gpre, g->prefix);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

static void fe_read_optimizer(lua_State *L, int t, opt_config *o, fe_dsl *d)
{
	const char *pre = "optimizer.";
	const char *name = fe_str(L, t, pre, "name", NULL);
	if (!name)
		fe_recipe_error(L, "optimizer.name is missing (\"sgd\", \"adam\" or \"adamw\")");
	if (!strcmp(name, "sgd"))
		o->kind = OPT_SGD;
	else if (!strcmp(name, "adam"))
		o->kind = OPT_ADAM;
	else if (!strcmp(name, "adamw"))
		o->kind = OPT_ADAMW;
	else
		fe_recipe_error(L, "unknown optimizer '%s' (known: sgd, adam, adamw)", name);
	o->lr = fe_num(L, t, pre, "lr", 1e-3, NULL);
	if (!(o->lr > 0))
		fe_recipe_error(L, "optimizer.lr must be > 0, got %g", o->lr);
	o->weight_decay = fe_num(L, t, pre, "weight_decay", o->kind == OPT_ADAMW ? 0.01 : 0.0, NULL);
	if (o->weight_decay < 0)
		fe_recipe_error(L, "optimizer.weight_decay must be >= 0, got %g", o->weight_decay);
	if (o->kind == OPT_SGD) {
		o->momentum = fe_num(L, t, pre, "momentum", 0.0, NULL);
		o->dampening = fe_num(L, t, pre, "dampening", 0.0, NULL);
		o->nesterov = fe_bool(L, t, pre, "nesterov", 0);
		if (o->momentum < 0)
			fe_recipe_error(L, "optimizer.momentum must be >= 0, got %g", o->momentum);
		if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
			fe_recipe_error(L, "optimizer.nesterov needs momentum > 0 and dampening = 0");
		fe_not_for(L, t, pre, "betas", "sgd (Adam only)");
		fe_not_for(L, t, pre, "eps", "sgd (Adam only)");
	} else {
		o->beta1 = 0.9;
		o->beta2 = 0.999;
		if (fe_subtable(L, t, pre, "betas")) {
			int bt = lua_gettop(L);
			if (luaL_len(L, bt) != 2)
				fe_recipe_error(L, "optimizer.betas must be a table of two numbers {b1, b2}");
			for (int i = 1; i <= 2; i++) {
				lua_rawgeti(L, bt, i);
				double b = lua_tonumber(L, -1);
				if (lua_type(L, -1) != LUA_TNUMBER || !(b >= 0 && b < 1))
					fe_recipe_error(L, "optimizer.betas[%d] must be in [0, 1), got %s", i,
					                luaL_tolstring(L, -1, NULL));
				*(i == 1 ? &o->beta1 : &o->beta2) = b;
				lua_pop(L, 1);
			}
		}
		lua_pop(L, 1);
		o->eps = fe_num(L, t, pre, "eps", 1e-8, NULL);
		if (!(o->eps > 0))
			fe_recipe_error(L, "optimizer.eps must be > 0, got %g", o->eps);
		fe_not_for(L, t, pre, "momentum", "adam/adamw (SGD only; see betas)");
		fe_not_for(L, t, pre, "dampening", "adam/adamw (SGD only)");
		fe_not_for(L, t, pre, "nesterov", "adam/adamw (SGD only)");
	}
	o->sam_every = 1;
	if (fe_subtable(L, t, pre, "sam"))
		fe_read_sam(L, lua_gettop(L), o, d);
	else
		lua_pop(L, 1);
}

static void fe_read_schedule(lua_State *L, int t, sched_config *s)
{
	const char *pre = "schedule.";
	const char *name = fe_str(L, t, pre, "name", "constant");
	int given;
	s->warmup = fe_num(L, t, pre, "warmup", 0, NULL);
	if (s->warmup < 0)
		fe_recipe_error(L, "schedule.warmup must be >= 0, got %g", s->warmup);
	if (!strcmp(name, "constant")) {
		s->kind = SCHED_CONSTANT;
	} else if (!strcmp(name, "step")) {
		s->kind = SCHED_STEP;
		s->step_size = fe_num(L, t, pre, "step_size", 0, &given);
		if (!given || !(s->step_size >= 1))
			fe_recipe_error(L, "schedule.step_size must be given and >= 1 for "
			                "name = \"step\"");
		s->gamma = fe_num(L, t, pre, "gamma", 0.1, NULL);
		if (!(s->gamma > 0))
			fe_recipe_error(L, "schedule.gamma must be > 0, got %g", s->gamma);
	} else if (!strcmp(name, "cosine")) {
		s->kind = SCHED_COSINE;
		s->t_max = fe_num(L, t, pre, "t_max", 0, NULL);
		s->eta_min = fe_num(L, t, pre, "eta_min", 0, NULL);
		if (s->t_max < 0 || s->eta_min < 0)
			fe_recipe_error(L, "schedule.t_max and schedule.eta_min must be >= 0");
	} else {
		fe_recipe_error(L, "unknown schedule '%s' (known: constant, step, cosine)", name);
	}
	if (s->kind != SCHED_STEP) {
		fe_not_for(L, t, pre, "step_size", "this schedule (name = \"step\" only)");
		fe_not_for(L, t, pre, "gamma", "this schedule (name = \"step\" only)");
	}
	if (s->kind != SCHED_COSINE) {
		fe_not_for(L, t, pre, "t_max", "this schedule (name = \"cosine\" only)");
		fe_not_for(L, t, pre, "eta_min", "this schedule (name = \"cosine\" only)");
	}
}

/* Data paths stay as written; relative ones are resolved by the runtime
 * against --data DIR if given, else against the model file's directory,
 * made absolute here so that a trainer built from the model finds them
 * from any working directory. */
static const char *fe_model_dir(fe_dsl *d)
{
	const char *slash = strrchr(d->path, '/');
	char dir[4096], abs[PATH_MAX];
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - d->path) + (slash == d->path), d->path);
	return ir_arena_strdup(&d->g->arena, realpath(dir, abs) ? abs : dir);
}

/* data.train / data.test: input name -> file, kept in input declaration
 * order so the runtime sees a stable order. */
static int fe_read_split(lua_State *L, int t, const char *split, data_file *files, fe_dsl *d)
{
	if (!fe_subtable(L, t, "data.", split)) {
		lua_pop(L, 1);
		return 0;
	}
	int st = lua_gettop(L), n = 0;
	lua_pushnil(L);
	while (lua_next(L, st)) {
		const char *in = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		int found = 0;
		for (int i = 0; in && i < d->ninputs && !found; i++)
			found = strcmp(d->inputs[i].node->name, in) == 0;
		if (!found)
			fe_recipe_error(L, "data.%s: '%s' is not an input of the model (its keys "
			                "name inputs declared with input())", split,
			                in ? in : luaL_typename(L, -2));
		if (lua_type(L, -1) != LUA_TSTRING)
			fe_recipe_error(L, "data.%s.%s must be a file path (a string), got %s", split,
			                in, luaL_typename(L, -1));
		lua_pop(L, 1);
	}
	for (int i = 0; i < d->ninputs; i++) {
		const char *in = d->inputs[i].node->name;
		if (fe_get(L, st, in) == LUA_TSTRING) {
			if (n == 4)
				fe_recipe_error(L, "data.%s binds more than 4 inputs", split);
			files[n].input = ir_arena_strdup(&d->g->arena, in);
			files[n].path = ir_arena_strdup(&d->g->arena, lua_tostring(L, -1));
			n++;
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return n;
}

static void fe_read_data(lua_State *L, int t, data_config *dc, fe_dsl *d)
{
	const char *pre = "data.";
	dc->format = fe_str(L, t, pre, "format", NULL);
	if (!dc->format)
		fe_recipe_error(L, "data.format is missing (\"idx\", \"csv\" or \"safetensors\")");
	if (strcmp(dc->format, "idx") && strcmp(dc->format, "csv") &&
	    strcmp(dc->format, "safetensors"))
		fe_recipe_error(L, "unknown data.format '%s' (known: idx, csv, safetensors)",
		                dc->format);
	dc->base_dir = fe_model_dir(d);
	dc->ntrain = fe_read_split(L, t, "train", dc->train, d);
	dc->ntest = fe_read_split(L, t, "test", dc->test, d);
	for (int i = 0; i < d->ninputs; i++) {
		int found = 0;
		for (int j = 0; j < dc->ntrain; j++)
			found |= strcmp(dc->train[j].input, d->inputs[i].node->name) == 0;
		if (!found)
			fe_recipe_error(L, "data.train has no file for input '%s' (declared at line %d)",
			                d->inputs[i].node->name, d->inputs[i].line);
	}
	dc->scale = fe_num(L, t, pre, "scale", 1.0, NULL);
	dc->mean = fe_num(L, t, pre, "mean", 0.0, NULL);
	dc->std = fe_num(L, t, pre, "std", 1.0, NULL);
	if (!(dc->std > 0))
		fe_recipe_error(L, "data.std must be > 0, got %g", dc->std);
	dc->drop_last = fe_bool(L, t, pre, "drop_last", 1);
	dc->limit_train = (int)fe_int(L, t, pre, "limit_train", 0, 0, INT_MAX);
	dc->limit_test = (int)fe_int(L, t, pre, "limit_test", 0, 0, INT_MAX);
}

/* A scalar float tensor for the loss or a metric; errors at its line. */
static ir_node *fe_scalar_tensor(lua_State *L, const char *what)
{
	fe_sandbox *sb = fe_sandbox_of(L);
	ir_node *n = fe_tensor_test(L, -1);
	if (!n)
		fe_type_error(L, "", what, "a tensor");
	if (n->shape.rank != 0 || !ir_dtype_is_float(n->dtype)) {
		char buf[96];
		lua_pushfstring(L, "%s:%d: recipe: %s must be a float scalar, got %s (reduce it "
		                "with mean(...) or sum(...))", sb->path,
		                n->loc.line > 0 ? n->loc.line : sb->return_line, what,
		                fe_tensor_describe(n, buf, sizeof buf));
		lua_error(L);
	}
	return n;
}

static int fe_named_cmp(const void *a, const void *b)
{
	return strcmp(((const ir_named *)a)->name, ((const ir_named *)b)->name);
}

static void fe_read_metrics(lua_State *L, int t, ir_model *m, fe_dsl *d)
{
	if (!fe_subtable(L, t, "", "metrics")) {
		lua_pop(L, 1);
		return;
	}
	int mt = lua_gettop(L), n = 0;
	lua_pushnil(L);
	while (lua_next(L, mt)) {
		n++;
		lua_pop(L, 1);
	}
	m->metrics = ir_arena_alloc(&d->g->arena, (size_t)(n ? n : 1) * sizeof *m->metrics);
	lua_pushnil(L);
	while (lua_next(L, mt)) {
		if (lua_type(L, -2) != LUA_TSTRING)
			fe_recipe_error(L, "metrics: keys must be names, got %s", luaL_typename(L, -2));
		char what[128];
		snprintf(what, sizeof what, "metrics.%s", lua_tostring(L, -2));
		ir_named *nm = &m->metrics[m->nmetrics++];
		nm->node = fe_scalar_tensor(L, what);
		nm->name = ir_arena_strdup(&d->g->arena, lua_tostring(L, -2));
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	/* table order is not defined in Lua; make it stable */
	qsort(m->metrics, (size_t)m->nmetrics, sizeof *m->metrics, fe_named_cmp);
}

void fe_recipe_read(lua_State *L, int idx, fe_dsl *d, ir_model *m)
{
	int t = lua_absindex(L, idx);
	ir_recipe *r = &m->recipe;
	fe_recipe_check_keys(L, t);

	if (fe_get(L, t, "loss") == LUA_TNIL)
		fe_recipe_error(L, "loss is missing: return {loss = cross_entropy(logits, y), ...}");
	m->loss = fe_scalar_tensor(L, "loss");
	lua_pop(L, 1);
	fe_read_metrics(L, t, m, d);

	r->epochs = (int)fe_int(L, t, "", "epochs", 1, 1, INT_MAX);
	r->seed = (uint64_t)fe_int(L, t, "", "seed", 0, 0, (int64_t)1 << 53);
	r->log_every = (int)fe_int(L, t, "", "log_every", 100, 1, INT_MAX);
	int64_t bs = fe_int(L, t, "", "batch_size", 0, 1, INT_MAX);
	if (d->batch_size && bs && bs != d->batch_size)
		fe_recipe_error(L, "batch_size = %lld disagrees with batch_size(%d) at line %d",
		                (long long)bs, d->batch_size, d->batch_line);
	if (!d->batch_size && !bs)
		fe_recipe_error(L, "the batch size is not set: call batch_size(N) before input()");
	r->batch_size = d->batch_size ? d->batch_size : (int)bs;

	if (!fe_subtable(L, t, "", "optimizer"))
		fe_recipe_error(L, "optimizer is missing, e.g. optimizer = {name = \"sgd\", lr = 0.1}");
	fe_read_optimizer(L, lua_gettop(L), &r->opt, d);
	lua_pop(L, 1);

	r->sched.kind = SCHED_CONSTANT;
	if (fe_subtable(L, t, "", "schedule"))
		fe_read_schedule(L, lua_gettop(L), &r->sched);
	lua_pop(L, 1);

	if (fe_subtable(L, t, "", "data"))
		fe_read_data(L, lua_gettop(L), &r->data, d);
	lua_pop(L, 1);
}
