/*
 * fe_recipe.c - reads the table a model file returns into ir_model and
 * ir_recipe, applying the defaults and ranges of the recipe schema
 * (runtime/rt_recipe_schema.h; PyTorch's defaults where there is one) and
 * rejecting values that cannot train: a loss that is not a scalar, lr <= 0,
 * betas outside [0,1), a batch size that disagrees with batch_size(). The
 * data table is read in fe_recipe_data.c, other parts in fe_recipe_*.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_recipe.h"
#include "fe_recipe_read.h"
#include "fe_sandbox.h"
#include "rt_recipe_schema.h"

int fe_get(lua_State *L, int t, const char *key)
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
const char *fe_str(lua_State *L, int t, const char *pre, const char *key, const char *dflt)
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

int fe_subtable(lua_State *L, int t, const char *pre, const char *key)
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

/* The schema's key at path: every path named here is in the schema. */
static const rt_key *fe_key(const char *path)
{
	const rt_key *k = rt_recipe_key(path);
	return k && k->offset >= 0 ? k : NULL;
}

/* Reads t[last part of path] into its field of r, checked against the
 * schema's range; the field keeps its value (the default) when absent.
 * Returns 1 when the key was given. */
/* A number, or a list of one number per channel ({0.49, 0.48, 0.45}), each
 * in k's range. */
static void fe_read_channels(lua_State *L, int t, const rt_key *k, const char *pre,
                             const char *name, data_channels *d)
{
	char msg[256];
	int ty = fe_get(L, t, name);
	memset(d, 0, sizeof *d);
	if (ty == LUA_TNUMBER) {
		d->v[0] = fe_num(L, t, pre, name, 0, NULL);
		d->n = 1;
	} else if (ty == LUA_TTABLE) {
		lua_Integer n = luaL_len(L, -1);
		if (n < 1 || n > RT_DATA_MAX_CHANNELS)
			fe_recipe_error(L, "%s%s must have 1 to %d numbers (one per channel), got %lld",
			                pre, name, RT_DATA_MAX_CHANNELS, (long long)n);
		for (lua_Integer i = 1; i <= n; i++) {
			lua_rawgeti(L, -1, i);
			if (lua_type(L, -1) != LUA_TNUMBER || !isfinite(lua_tonumber(L, -1)))
				fe_type_error(L, pre, name, "a list of finite numbers");
			d->v[i - 1] = lua_tonumber(L, -1);
			lua_pop(L, 1);
		}
		d->n = (int)n;
	} else {
		fe_type_error(L, pre, name, "a number or a list of numbers (one per channel)");
	}
	lua_pop(L, 1);
	for (int i = 0; i < d->n; i++)
		if (rt_recipe_key_check(k, d->v[i], msg, sizeof msg))
			fe_recipe_error(L, "%s", msg);
}

int fe_read_key(lua_State *L, int t, rt_recipe *r, const char *path)
{
	const rt_key *k = fe_key(path);
	if (!k)
		fe_recipe_error(L, "internal: recipe key '%s' is not in the schema", path);
	const char *name = strrchr(path, '.') ? strrchr(path, '.') + 1 : path;
	char *at = (char *)r + k->offset, msg[256], pre[128];
	snprintf(pre, sizeof pre, "%.*s", (int)(name - path), path);
	int given = fe_get(L, t, name) != LUA_TNIL;
	lua_pop(L, 1);
	switch (k->kind) {
	case RT_KEY_NUMBER: {
		double v = fe_num(L, t, pre, name, *(double *)at, NULL);
		if (given && rt_recipe_key_check(k, v, msg, sizeof msg))
			fe_recipe_error(L, "%s", msg);
		*(double *)at = v;
		break;
	}
	case RT_KEY_INT:
		*(int *)at = (int)fe_int(L, t, pre, name, *(int *)at, (int64_t)k->lo, (int64_t)k->hi);
		break;
	case RT_KEY_U64:
		*(uint64_t *)at = (uint64_t)fe_int(L, t, pre, name, (int64_t)*(uint64_t *)at,
		                                   (int64_t)k->lo, (int64_t)k->hi);
		break;
	case RT_KEY_BOOL:
		*(int *)at = fe_bool(L, t, pre, name, *(int *)at);
		break;
	case RT_KEY_CHANNELS:
		if (given)
			fe_read_channels(L, t, k, pre, name, (data_channels *)at);
		break;
	default: /* enums, strings and pairs are read by their own code */
		fe_recipe_error(L, "internal: recipe key '%s' is not a number", path);
	}
	return given;
}

/* An enum or string key with choices: its index, or the recipe error
 * "unknown <what> 'x' (known: a, b, c)". */
int fe_choice(lua_State *L, const char *path, const char *what, const char *v)
{
	const rt_key *k = fe_key(path);
	int c = k ? rt_recipe_key_choice(k, v) : -1;
	if (c < 0) {
		char list[128] = "";
		if (k)
			rt_recipe_key_choices(k, list, sizeof list);
		fe_recipe_error(L, "unknown %s '%s' (known: %s)", what, v, list);
	}
	return c;
}

static void fe_read_sam(lua_State *L, int t, rt_recipe *r, fe_dsl *d)
{
	opt_config *o = &r->opt;
	const char *pre = "optimizer.sam.";
	o->sam = 1;
	fe_read_key(L, t, r, "optimizer.sam.rho");
	fe_read_key(L, t, r, "optimizer.sam.adaptive");
	int every = fe_read_key(L, t, r, "optimizer.sam.every");
	if (fe_subtable(L, t, pre, "looksam"))
		fe_read_looksam(L, lua_gettop(L), r, every);
	lua_pop(L, 1);
	fe_read_key(L, t, r, "optimizer.sam.m");
	fe_read_key(L, t, r, "optimizer.sam.sync");
	if (!fe_subtable(L, t, pre, "groups")) {
		lua_pop(L, 1);
		return;
	}
	int gt = lua_gettop(L);
	lua_Integer n = luaL_len(L, gt);
	if (n > RT_SAM_GROUPS_MAX)
		fe_recipe_error(L, "optimizer.sam.groups has %lld groups; at most %d are supported",
		                (long long)n, RT_SAM_GROUPS_MAX);
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
		char msg[256];
		g->rho = fe_num(L, e, gpre, "rho", o->rho, &has_rho);
		g->rho_given = has_rho;
		/* the group key's range, named with the group's index */
		if (rt_recipe_key_check(rt_recipe_key("optimizer.sam.groups[].rho"), g->rho, msg, sizeof msg))
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

/* optimizer.betas = {b1, b2}, each in the schema's range. */
static void fe_read_betas(lua_State *L, int t, opt_config *o)
{
	const rt_key *k = rt_recipe_key("optimizer.betas");
	if (fe_subtable(L, t, "optimizer.", "betas")) {
		int bt = lua_gettop(L);
		if (luaL_len(L, bt) != 2)
			fe_recipe_error(L, "optimizer.betas must be a table of two numbers {b1, b2}");
		for (int i = 1; i <= 2; i++) {
			char msg[256];
			lua_rawgeti(L, bt, i);
			double b = lua_tonumber(L, -1);
			if (lua_type(L, -1) != LUA_TNUMBER || rt_recipe_key_check(k, b, msg, sizeof msg))
				fe_recipe_error(L, "optimizer.betas[%d] must be in [%g, %g), got %s", i, k->lo,
				                k->hi, luaL_tolstring(L, -1, NULL));
			*(i == 1 ? &o->beta1 : &o->beta2) = b;
			lua_pop(L, 1);
		}
	}
	lua_pop(L, 1);
}

static void fe_read_optimizer(lua_State *L, int t, rt_recipe *r, fe_dsl *d)
{
	opt_config *o = &r->opt;
	const char *pre = "optimizer.";
	const char *name = fe_str(L, t, pre, "name", NULL);
	if (!name)
		fe_recipe_error(L, "optimizer.name is missing (\"sgd\", \"adam\", \"adamw\" or "
		                "\"rmsprop\")");
	o->kind = (opt_kind)fe_choice(L, "optimizer.name", "optimizer", name);
	/* RMSprop's own default, as torch.optim.RMSprop's */
	if (!fe_read_key(L, t, r, "optimizer.lr") && o->kind == OPT_RMSPROP)
		o->lr = 1e-2;
	/* AdamW's own default, as torch.optim.AdamW's */
	if (!fe_read_key(L, t, r, "optimizer.weight_decay") && o->kind == OPT_ADAMW)
		o->weight_decay = 0.01;
	fe_not_for_optimizer(L, t, o->kind);
	fe_read_key(L, t, r, "optimizer.accumulate");
	if (o->kind == OPT_SGD) {
		fe_read_key(L, t, r, "optimizer.momentum");
		fe_read_key(L, t, r, "optimizer.dampening");
		fe_read_key(L, t, r, "optimizer.nesterov");
		if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
			fe_recipe_error(L, "optimizer.nesterov needs momentum > 0 and dampening = 0");
	} else if (o->kind != OPT_RMSPROP) {
		fe_read_betas(L, t, o);
		fe_read_key(L, t, r, "optimizer.eps");
	}
	fe_read_optim_extras(L, t, r, d); /* RMSprop's keys, clipping, groups */
	if (fe_subtable(L, t, pre, "sam")) {
		fe_read_sam(L, lua_gettop(L), r, d);
		fe_read_sam_variants(L, lua_gettop(L), r, d);
		fe_check_looksam(L, r);
	}
	lua_pop(L, 1);
}

static void fe_read_schedule(lua_State *L, int t, rt_recipe *r)
{
	sched_config *s = &r->sched;
	const char *pre = "schedule.";
	const char *name = fe_str(L, t, pre, "name", "constant");
	s->kind = (sched_kind)fe_choice(L, "schedule.name", "schedule", name);
	fe_read_key(L, t, r, "schedule.warmup");
	if (s->kind == SCHED_STEP) {
		if (fe_get(L, t, "step_size") == LUA_TNIL)
			fe_recipe_error(L, "schedule.step_size must be given and >= 1 for name = \"step\"");
		lua_pop(L, 1);
	}
	/* each schedule's own keys; another schedule's are an error */
	int n;
	const rt_key *keys = rt_recipe_keys(&n);
	for (int i = 0; i < n; i++) {
		const rt_key *k = &keys[i];
		int only = k->flags & (RT_KEY_STEP | RT_KEY_COSINE);
		if (!only)
			continue;
		if ((only == RT_KEY_STEP && s->kind == SCHED_STEP) ||
		    (only == RT_KEY_COSINE && s->kind == SCHED_COSINE))
			fe_read_key(L, t, r, k->path);
		else
			fe_not_for(L, t, pre, k->path + strlen(pre), only == RT_KEY_STEP
			           ? "this schedule (name = \"step\" only)"
			           : "this schedule (name = \"cosine\" only)");
	}
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
		fe_recipe_check_metric_name(L, nm);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	/* table order is not defined in Lua; make it stable */
	qsort(m->metrics, (size_t)m->nmetrics, sizeof *m->metrics, fe_named_cmp);
}

/* checkpoint = {every_steps, monitor, mode, keep}: the monitored value is
 * an epoch mean the run reports, "train.<name>" or "test.<name>", where
 * name is "loss" or one of the model's metrics. */
static void fe_read_checkpoint(lua_State *L, int t, rt_recipe *r, const ir_model *m)
{
	fe_read_key(L, t, r, "checkpoint.every_steps");
	r->ckpt_monitor = fe_str(L, t, "checkpoint.", "monitor", NULL);
	const char *mode = fe_str(L, t, "checkpoint.", "mode", NULL);
	int keep = fe_read_key(L, t, r, "checkpoint.keep");
	if (mode)
		r->ckpt_mode = fe_choice(L, "checkpoint.mode", "checkpoint.mode", mode);
	if (!r->ckpt_monitor) {
		if (mode || keep)
			fe_recipe_error(L, "checkpoint.%s needs checkpoint.monitor, the metric that ranks "
			                "the checkpoints (e.g. monitor = \"val.accuracy\")",
			                mode ? "mode" : "keep");
		return;
	}
	fe_check_monitor(L, "checkpoint.monitor", r->ckpt_monitor, m);
}

void fe_recipe_read(lua_State *L, int idx, fe_dsl *d, ir_model *m)
{
	int t = lua_absindex(L, idx);
	ir_recipe *r = &m->recipe;
	rt_recipe_defaults(r);
	fe_recipe_check_keys(L, t);

	if (fe_get(L, t, "loss") == LUA_TNIL)
		fe_recipe_error(L, "loss is missing: return {loss = cross_entropy(logits, y), ...}");
	m->loss = fe_scalar_tensor(L, "loss");
	lua_pop(L, 1);
	fe_read_metrics(L, t, m, d);

	fe_read_key(L, t, r, "epochs");
	fe_read_key(L, t, r, "seed");
	fe_read_key(L, t, r, "log_every");
	fe_read_key(L, t, r, "batch_size");
	int64_t bs = r->batch_size;
	/* built at the micro-batch (fe_model.c): batch_size stays the step's */
	int64_t dbs = (int64_t)d->batch_size * (d->micro > 1 ? d->micro : 1);
	if (dbs && bs && bs != dbs)
		fe_recipe_error(L, "batch_size = %lld disagrees with batch_size(%lld) at line %d",
		                (long long)bs, (long long)dbs, d->batch_line);
	if (!dbs && !bs)
		fe_recipe_error(L, "the batch size is not set: call batch_size(N) before input()");
	r->batch_size = dbs ? (int)dbs : (int)bs;

	if (!fe_subtable(L, t, "", "optimizer"))
		fe_recipe_error(L, "optimizer is missing, e.g. optimizer = {name = \"sgd\", lr = 0.1}");
	fe_read_optimizer(L, lua_gettop(L), r, d);
	lua_pop(L, 1);
	r->opt.ranks = d->ranks;
	fe_check_micro(L, r);

	if (fe_subtable(L, t, "", "schedule"))
		fe_read_schedule(L, lua_gettop(L), r);
	lua_pop(L, 1);

	if (fe_subtable(L, t, "", "data"))
		fe_read_data(L, lua_gettop(L), r, d, m);
	lua_pop(L, 1);

	if (fe_subtable(L, t, "", "checkpoint"))
		fe_read_checkpoint(L, lua_gettop(L), r, m);
	lua_pop(L, 1);
	if (fe_subtable(L, t, "", "early_stopping"))
		fe_read_early_stopping(L, lua_gettop(L), r, m);
	lua_pop(L, 1);
	if (fe_subtable(L, t, "", "log"))
		fe_read_key(L, lua_gettop(L), r, "log.csv");
	lua_pop(L, 1);
	if (fe_subtable(L, t, "", "ema"))
		fe_read_ema(L, lua_gettop(L), r);
	lua_pop(L, 1);
	/* precision = "bf16": pass_precision.c */
	const char *prec = fe_str(L, t, "", "precision", NULL);
	if (prec)
		r->precision = fe_choice(L, "precision", "precision", prec);
	fe_read_key(L, t, r, "sync_bn"); /* batch_norm over the ranks: fe_model.c */
	/* several ranks: rt_overlap.h */
	fe_read_key(L, t, r, "allreduce_overlap");
	fe_read_key(L, t, r, "allreduce_bucket_mb");
}
