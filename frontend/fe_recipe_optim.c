/*
 * fe_recipe_optim.c - the optimizer keys that say which parameters get
 * what: optimizer.no_decay (name patterns without weight decay),
 * optimizer.groups (a learning-rate scale and a weight decay per name
 * prefix), optimizer.clip_grad_norm, RMSprop's keys, and the refusal of
 * one optimizer's keys given to another. Each pattern and prefix must match
 * a parameter of the model, so a misspelt one is an error, not a no-op.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_dsl.h"
#include "fe_recipe.h"
#include "fe_recipe_read.h"
#include "rt_recipe_schema.h"

/* The parameter names of the model, ", "-separated, for error messages. */
static void fe_param_names(const fe_dsl *d, char *out, size_t len)
{
	out[0] = '\0';
	for (int p = 0; p < d->nparams && strlen(out) + 1 < len; p++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", p ? ", " : "",
		         d->params[p].node->name);
}

/* optimizer.no_decay = {"bias", "bn"}: a parameter whose name contains one
 * of the strings gets no weight decay (Hugging Face's `any(nd in n for nd
 * in no_decay)`). */
static void fe_read_no_decay(lua_State *L, int t, opt_config *o, fe_dsl *d)
{
	int ty = lua_getfield(L, t, "no_decay");
	if (ty == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	if (ty != LUA_TTABLE)
		fe_recipe_error(L, "optimizer.no_decay must be a list of name patterns, e.g. "
		                "{\"bias\", \"bn\"}, got %s", luaL_typename(L, -1));
	int nt = lua_gettop(L);
	lua_Integer n = luaL_len(L, nt);
	const char **pats = ir_arena_alloc(&d->g->arena, (size_t)(n > 0 ? n : 1) * sizeof *pats);
	for (lua_Integer i = 1; i <= n; i++) {
		if (lua_rawgeti(L, nt, i) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
			fe_recipe_error(L, "optimizer.no_decay[%lld] must be a non-empty string (a part "
			                "of parameter names, e.g. \"bias\")", (long long)i);
		pats[i - 1] = ir_arena_strdup(&d->g->arena, lua_tostring(L, -1));
		lua_pop(L, 1);
		int hits = 0;
		for (int p = 0; p < d->nparams; p++)
			hits += strstr(d->params[p].node->name, pats[i - 1]) != NULL;
		if (!hits) {
			char names[512];
			fe_param_names(d, names, sizeof names);
			fe_recipe_error(L, "optimizer.no_decay[%lld] '%s' is in no parameter's name "
			                "(parameters: %s)", (long long)i, pats[i - 1], names);
		}
	}
	o->no_decay = pats;
	o->nno_decay = (int)n;
	lua_pop(L, 1);
}

static double fe_group_num(lua_State *L, int e, const char *gpre, const char *path,
                           double dflt, int *given)
{
	const char *name = strrchr(path, '.') + 1;
	int ty = lua_getfield(L, e, name);
	double v = dflt;
	*given = ty != LUA_TNIL;
	if (ty == LUA_TNUMBER && isfinite(lua_tonumber(L, -1)))
		v = lua_tonumber(L, -1);
	else if (ty != LUA_TNIL)
		fe_recipe_error(L, "%s%s must be a finite number, got %s", gpre, name,
		                luaL_typename(L, -1));
	lua_pop(L, 1);
	rt_key k = *rt_recipe_key(path); /* its range, named with the group's index */
	char full[128], msg[256];
	snprintf(full, sizeof full, "%s%s", gpre, name);
	k.path = full;
	if (*given && rt_recipe_key_check(&k, v, msg, sizeof msg))
		fe_recipe_error(L, "%s", msg);
	return v;
}

/* optimizer.groups = {{prefix = "fc1.", lr_scale = 0.1, weight_decay = 0}}:
 * the first group whose prefix starts a parameter's name is its group. */
static void fe_read_groups(lua_State *L, int t, opt_config *o, fe_dsl *d)
{
	int ty = lua_getfield(L, t, "groups");
	if (ty == LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	if (ty != LUA_TTABLE)
		fe_recipe_error(L, "optimizer.groups must be a list of tables {prefix = \"...\", "
		                "lr_scale = ..., weight_decay = ...}, got %s", luaL_typename(L, -1));
	int gt = lua_gettop(L);
	lua_Integer n = luaL_len(L, gt);
	if (n > RT_OPT_GROUPS_MAX)
		fe_recipe_error(L, "optimizer.groups has %lld groups; at most %d are supported",
		                (long long)n, RT_OPT_GROUPS_MAX);
	o->param_groups = ir_arena_alloc(&d->g->arena, (size_t)(n > 0 ? n : 1) * sizeof *o->param_groups);
	for (lua_Integer i = 1; i <= n; i++) {
		char gpre[64];
		snprintf(gpre, sizeof gpre, "optimizer.groups[%lld].", (long long)i);
		if (lua_rawgeti(L, gt, i) != LUA_TTABLE)
			fe_recipe_error(L, "optimizer.groups[%lld] must be a table {prefix = \"...\", "
			                "lr_scale = ..., weight_decay = ...}", (long long)i);
		int e = lua_gettop(L), given;
		opt_group *g = &o->param_groups[o->nparam_groups++];
		g->prefix = fe_str(L, e, gpre, "prefix", NULL);
		if (!g->prefix)
			fe_recipe_error(L, "%sprefix is missing", gpre);
		g->lr_scale = fe_group_num(L, e, gpre, "optimizer.groups[].lr_scale", 1.0, &given);
		g->weight_decay = fe_group_num(L, e, gpre, "optimizer.groups[].weight_decay",
		                               o->weight_decay, &g->wd_given);
		int hits = 0, taken = 0;
		for (int p = 0; p < d->nparams; p++) {
			const char *name = d->params[p].node->name;
			int match = strncmp(name, g->prefix, strlen(g->prefix)) == 0;
			hits += match;
			taken += match && rt_opt_group_of(o, name) == o->nparam_groups - 1;
		}
		if (!hits) {
			char names[512];
			fe_param_names(d, names, sizeof names);
			fe_recipe_error(L, "%sprefix '%s' matches no parameter (parameters: %s)", gpre,
			                g->prefix, names);
		}
		if (!taken)
			fe_recipe_error(L, "%sprefix '%s': every parameter it matches is in an earlier "
			                "group (the first group that matches a name wins)", gpre, g->prefix);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

void fe_not_for_optimizer(lua_State *L, int t, opt_kind kind)
{
	int n;
	const rt_key *keys = rt_recipe_keys(&n);
	for (int i = 0; i < n; i++) {
		const rt_key *k = &keys[i];
		const char *name = k->path + strlen("optimizer.");
		char only[64];
		if (strncmp(k->path, "optimizer.", 10) || strchr(name, '.') ||
		    rt_recipe_key_for_optimizer(k, kind, only, sizeof only))
			continue;
		if (lua_getfield(L, t, name) != LUA_TNIL)
			fe_recipe_error(L, "optimizer.%s does not apply to %s (%s only%s)", name,
			                rt_opt_name(kind), only,
			                strcmp(name, "momentum") == 0 ? "; see betas" : "");
		lua_pop(L, 1);
	}
}

void fe_read_optim_extras(lua_State *L, int t, rt_recipe *r, fe_dsl *d)
{
	opt_config *o = &r->opt;
	if (o->kind == OPT_RMSPROP) {
		fe_read_key(L, t, r, "optimizer.momentum");
		fe_read_key(L, t, r, "optimizer.eps");
		fe_read_key(L, t, r, "optimizer.alpha");
		fe_read_key(L, t, r, "optimizer.centered");
	}
	fe_read_key(L, t, r, "optimizer.clip_grad_norm");
	fe_read_no_decay(L, t, o, d);
	fe_read_groups(L, t, o, d);
}
