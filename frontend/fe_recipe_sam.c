/*
 * fe_recipe_sam.c - the SAM variants of optimizer.sam: ASAM's eta and only,
 * rho_schedule = {name, ...} and gsam = {alpha}. The keys, defaults and
 * ranges are the schema's (runtime/rt_recipe_schema.h); what is read here
 * is which combinations make sense, each refused with the model file's
 * line.
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_recipe.h"
#include "fe_recipe_read.h"
#include "rt_recipe_schema.h"

/* Pushes sam[key]: 1 for a table, 0 for nil; anything else is an error. */
static int sub_table(lua_State *L, int t, const char *key, const char *example)
{
	int ty = lua_getfield(L, t, key);
	if (ty != LUA_TNIL && ty != LUA_TTABLE)
		fe_recipe_error(L, "optimizer.sam.%s must be a table, e.g. %s, got %s", key, example,
		                luaL_typename(L, -1));
	return ty == LUA_TTABLE;
}

static void read_asam(lua_State *L, int t, rt_recipe *r, const fe_dsl *d)
{
	opt_config *o = &r->opt;
	int eta = fe_read_key(L, t, r, "optimizer.sam.eta");
	const char *only = fe_str(L, t, "optimizer.sam.", "only", NULL);
	if (only)
		o->sam_only = fe_choice(L, "optimizer.sam.only", "optimizer.sam.only", only);
	if ((eta || only) && !o->adaptive)
		fe_recipe_error(L, "optimizer.sam.%s shapes ASAM's operator T_w: it needs "
		                "optimizer.sam.adaptive = true", eta ? "eta" : "only");
	if (o->sam_only != SAM_ONLY_WEIGHTS)
		return;
	for (int i = 0; i < d->nparams; i++)
		if (rt_sam_is_weight(d->params[i].node->name))
			return;
	fe_recipe_error(L, "optimizer.sam.only = \"weights\": no parameter is named *.weight, so "
	                "no parameter would be scaled (only = \"all\" scales every one)");
}

static void read_rho_schedule(lua_State *L, int t, rt_recipe *r)
{
	rho_sched_config *s = &r->opt.rho_sched;
	const char *pre = "optimizer.sam.rho_schedule.";
	if (!sub_table(L, t, "rho_schedule", "{name = \"cosine\", rho_min = 0.01}")) {
		lua_pop(L, 1);
		return;
	}
	int st = lua_gettop(L);
	const char *name = fe_str(L, st, pre, "name", "constant");
	s->kind = fe_choice(L, "optimizer.sam.rho_schedule.name", "optimizer.sam.rho_schedule", name);
	/* each schedule's own keys; another schedule's are an error */
	int n;
	const rt_key *keys = rt_recipe_keys(&n);
	for (int i = 0; i < n; i++) {
		const char *key = keys[i].path + strlen(pre);
		if (strncmp(keys[i].path, pre, strlen(pre)) || !strcmp(key, "name"))
			continue;
		if (rt_sam_rho_key_applies(s->kind, key)) {
			fe_read_key(L, st, r, keys[i].path);
		} else {
			if (lua_getfield(L, st, key) != LUA_TNIL)
				fe_recipe_error(L, "%s%s does not apply to this rho schedule (name = \"%s\")",
				                pre, key, name);
			lua_pop(L, 1);
		}
	}
	if (s->kind == RHO_SCHED_STEP) {
		if (lua_getfield(L, st, "step_size") == LUA_TNIL)
			fe_recipe_error(L, "%sstep_size must be given and >= 1 for name = \"step\"", pre);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

static void read_gsam(lua_State *L, int t, rt_recipe *r)
{
	if (sub_table(L, t, "gsam", "{alpha = 0.1}")) {
		r->opt.gsam = 1;
		if (!fe_read_key(L, lua_gettop(L), r, "optimizer.sam.gsam.alpha"))
			fe_recipe_error(L, "optimizer.sam.gsam.alpha is missing: GSAM's weight of the "
			                "ascent direction, e.g. gsam = {alpha = 0.1}");
	}
	lua_pop(L, 1);
}

void fe_read_sam_variants(lua_State *L, int t, rt_recipe *r, const fe_dsl *d)
{
	char msg[256];
	read_asam(L, t, r, d);
	read_rho_schedule(L, t, r);
	read_gsam(L, t, r);
	/* the schedule against rho, the groups' rho and optimizer.lr */
	if (rt_sam_rho_check(r, msg, sizeof msg))
		fe_recipe_error(L, "%s", msg);
}
