/*
 * fe_margs.c - model arguments: `samc model.lua --arg dataset=cifar10` and,
 * in the model file, `arg("dataset", "fashion")`. They let one model file
 * describe variants whose shapes differ (a data set's image size), which
 * --set cannot: --set overrides the returned recipe, after the graph is
 * built. A value takes the type of the default (string, number, boolean);
 * an argument the model never reads is an error, so a misspelt name does
 * not go unnoticed.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_dsl.h"
#include "fe_sandbox.h"

/* Argument i's name length ("name=value"). */
static size_t name_len(const char *a)
{
	const char *eq = strchr(a, '=');
	return eq ? (size_t)(eq - a) : strlen(a);
}

static int fe_arg_fn(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	if (lua_type(L, 1) != LUA_TSTRING)
		return fe_sandbox_error(L, "arg: argument 1 (name) must be a string");
	const char *name = lua_tostring(L, 1);
	int ty = lua_type(L, 2);
	if (ty != LUA_TSTRING && ty != LUA_TNUMBER && ty != LUA_TBOOLEAN)
		return fe_sandbox_error(L, "arg: argument 2 (default) must be a string, a number or "
		                        "a boolean: it gives the argument's type");
	lua_settop(L, 2);
	for (int i = 0; i < d->nmargs; i++) {
		const char *a = d->margs[i];
		if (name_len(a) != strlen(name) || strncmp(a, name, strlen(name)) != 0)
			continue;
		d->margs_used |= 1ull << i;
		const char *v = a + name_len(a) + 1;
		if (ty == LUA_TSTRING) {
			lua_pushstring(L, v);
		} else if (ty == LUA_TBOOLEAN) {
			if (strcmp(v, "true") && strcmp(v, "false"))
				return fe_sandbox_error(L, "arg: --arg %s: '%s' takes true or false", a, name);
			lua_pushboolean(L, strcmp(v, "true") == 0);
		} else {
			char *end;
			double x = strtod(v, &end);
			if (end == v || *end)
				return fe_sandbox_error(L, "arg: --arg %s: '%s' takes a number", a, name);
			if (lua_isinteger(L, 2) && x == (double)(lua_Integer)x)
				lua_pushinteger(L, (lua_Integer)x);
			else
				lua_pushnumber(L, x);
		}
		return 1;
	}
	return 1; /* the default, still at index 2 */
}

void fe_margs_open(lua_State *L)
{
	lua_register(L, "arg", fe_arg_fn);
}

int fe_margs_unused(const fe_dsl *d)
{
	for (int i = 0; i < d->nmargs; i++)
		if (!(d->margs_used & (1ull << i)))
			return i;
	return -1;
}
