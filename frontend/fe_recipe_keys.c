/*
 * fe_recipe_keys.c - the model file's recipe table against the recipe
 * schema (runtime/rt_recipe_schema.h): misspelt keys ("unknown recipe key
 * 'optimiser' (did you mean 'optimizer'?)") and --set overrides, parsed by
 * the runtime's parser that standalone trainers use too. Defaults and
 * value ranges are read in fe_recipe.c; docs/dsl.md describes every key.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_recipe.h"
#include "fe_sandbox.h"
#include "rt_recipe_schema.h"

int fe_recipe_error(lua_State *L, const char *fmt, ...)
{
	fe_sandbox *sb = fe_sandbox_of(L);
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (sb->return_line > 0)
		lua_pushfstring(L, "%s:%d: recipe: %s", sb->path, sb->return_line, msg);
	else
		lua_pushfstring(L, "%s: recipe: %s", sb->path, msg);
	return lua_error(L);
}

static void fe_unknown_key(lua_State *L, const char *parent, const char *prefix,
                           const char *name)
{
	const char *hint = NULL;
	char list[512];
	rt_recipe_key_child(parent, name, &hint);
	rt_recipe_key_children(parent, list, sizeof list);
	if (hint)
		fe_recipe_error(L, "unknown recipe key '%s%s' (did you mean '%s%s'?)", prefix,
		                name, prefix, hint);
	fe_recipe_error(L, "unknown recipe key '%s%s' (known keys here: %s)", prefix, name, list);
}

/* parent: the schema path of the table ("", "optimizer", "optimizer.sam.groups[]");
 * prefix: how errors name it ("", "optimizer.", "optimizer.sam.groups[1]."). */
static void fe_check_table(lua_State *L, int idx, const char *parent, const char *prefix)
{
	idx = lua_absindex(L, idx);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -2) != LUA_TSTRING) {
			char got[128];
			fe_arg_typename(L, -2, got, sizeof got);
			fe_recipe_error(L, "unexpected entry [%s] in %s (entries here are "
			                "name = value)", got, prefix[0] ? prefix : "the recipe");
		}
		const char *name = lua_tostring(L, -2);
		const rt_key *k = rt_recipe_key_child(parent, name, NULL);
		if (!k)
			fe_unknown_key(L, parent, prefix, name);
		char sub[256], subparent[256];
		if (k->kind == RT_KEY_TABLE && lua_type(L, -1) == LUA_TTABLE) {
			snprintf(sub, sizeof sub, "%s%s.", prefix, name);
			fe_check_table(L, -1, k->path, sub);
		} else if (k->kind == RT_KEY_LIST && k->elem == RT_KEY_TABLE &&
		           lua_type(L, -1) == LUA_TTABLE) {
			snprintf(subparent, sizeof subparent, "%s[]", k->path);
			lua_Integer n = luaL_len(L, -1);
			for (lua_Integer i = 1; i <= n; i++) {
				if (lua_geti(L, -1, i) == LUA_TTABLE) {
					snprintf(sub, sizeof sub, "%s%s[%lld].", prefix, name, (long long)i);
					fe_check_table(L, -1, subparent, sub);
				}
				lua_pop(L, 1);
			}
		}
		lua_pop(L, 1);
	}
}

void fe_recipe_check_keys(lua_State *L, int idx)
{
	fe_check_table(L, idx, "", "");
}

static int fe_set_error(lua_State *L, const char *set, const char *fmt, ...)
{
	fe_sandbox *sb = fe_sandbox_of(L);
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	lua_pushfstring(L, "%s: --set %s: %s", sb->path, set, msg);
	return lua_error(L);
}

/* Pushes a parsed --set value as the model file would have written it. */
static void fe_push_set_value(lua_State *L, const rt_recipe_set_arg *s)
{
	if (s->nnum >= 2) { /* a pair, or one number per channel */
		lua_createtable(L, s->nnum, 0);
		for (int i = 0; i < s->nnum; i++) {
			lua_pushnumber(L, s->num[i]);
			lua_rawseti(L, -2, i + 1);
		}
	} else if (s->nnum == 1 && s->key->kind == RT_KEY_BOOL) {
		lua_pushboolean(L, s->num[0] != 0);
	} else if (s->nnum == 1) {
		double d = s->num[0];
		if (d == (double)(long long)d && d > -9e15 && d < 9e15)
			lua_pushinteger(L, (lua_Integer)d);
		else
			lua_pushnumber(L, d);
	} else if (s->key->kind == RT_KEY_LIST) { /* names: "bias,bn" -> {"bias", "bn"} */
		lua_newtable(L);
		const char *p = s->text;
		for (int i = 1; *s->text; i++) {
			const char *comma = strchr(p, ',');
			lua_pushlstring(L, p, comma ? (size_t)(comma - p) : strlen(p));
			lua_rawseti(L, -2, i);
			if (!comma)
				break;
			p = comma + 1;
		}
	} else {
		lua_pushstring(L, s->text);
	}
}

static void fe_apply_set(lua_State *L, int idx, const char *set)
{
	rt_recipe_set_arg s;
	char msg[512];
	if (rt_recipe_set_parse(set, &s, msg, sizeof msg))
		fe_set_error(L, set, "%s", msg);
	lua_pushvalue(L, idx);
	char sofar[sizeof s.path] = ""; /* the key's parts so far, dots included */
	for (int i = 0; i < s.nparts; i++) {
		const char *part = s.parts[i];
		snprintf(sofar + strlen(sofar), sizeof sofar - strlen(sofar), "%s%s",
		         sofar[0] ? "." : "", part);
		if (i == s.nparts - 1) {
			fe_push_set_value(L, &s);
			lua_setfield(L, -2, part);
			lua_pop(L, 1);
			return;
		}
		int t = lua_getfield(L, -1, part);
		if (s.index && i == s.list_part) {
			/* an element of a list the model file wrote: never created here */
			if (t != LUA_TTABLE || lua_geti(L, -1, s.index) != LUA_TTABLE)
				fe_set_error(L, set, "%s[%d] is not in the model file", sofar, s.index);
			lua_remove(L, -2);
			lua_remove(L, -2);
			snprintf(sofar + strlen(sofar), sizeof sofar - strlen(sofar), "[%d]", s.index);
			continue;
		}
		if (t == LUA_TNIL) {
			lua_pop(L, 1);
			lua_newtable(L);
			lua_pushvalue(L, -1);
			lua_setfield(L, -3, part);
		} else if (t != LUA_TTABLE) {
			fe_set_error(L, set, "'%s' is a %s in the model file, not a table", sofar,
			             luaL_typename(L, -1));
		}
		lua_remove(L, -2);
	}
}

void fe_recipe_apply_sets(lua_State *L, int idx, const char *const *sets, int nsets)
{
	idx = lua_absindex(L, idx);
	for (int i = 0; i < nsets; i++)
		fe_apply_set(L, idx, sets[i]);
}

int fe_recipe_batch_override(lua_State *L, const char *const *sets, int nsets)
{
	int bs = 0;
	for (int i = 0; i < nsets; i++) {
		if (strncmp(sets[i], "batch_size=", 11) != 0)
			continue;
		char *end;
		long v = strtol(sets[i] + 11, &end, 10);
		if (end == sets[i] + 11 || *end || v <= 0 || v > (1L << 30))
			fe_set_error(L, sets[i], "batch_size needs a positive integer");
		bs = (int)v;
	}
	return bs;
}
