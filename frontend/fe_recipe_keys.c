/*
 * fe_recipe_keys.c - the recipe's schema, in one place: which keys exist
 * and what each holds. It catches misspelt keys ("unknown recipe key
 * 'optimiser' (did you mean 'optimizer'?)") and drives --set overrides.
 * Defaults and value ranges are checked in fe_recipe.c; docs/dsl.md
 * describes every key.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_recipe.h"
#include "fe_sandbox.h"

static const fe_key sam_group_keys[] = {
	{"prefix", FE_KEY_STRING, NULL, 0},
	{"rho", FE_KEY_NUMBER, NULL, 0},
	{NULL, 0, NULL, 0},
};

static const fe_key sam_keys[] = {
	{"rho", FE_KEY_NUMBER, NULL, 0},
	{"adaptive", FE_KEY_BOOLEAN, NULL, 0},
	{"every", FE_KEY_INTEGER, NULL, 0},
	{"groups", FE_KEY_LIST, sam_group_keys, FE_KEY_TABLE},
	{NULL, 0, NULL, 0},
};

static const fe_key optimizer_keys[] = {
	{"name", FE_KEY_STRING, NULL, 0},
	{"lr", FE_KEY_NUMBER, NULL, 0},
	{"momentum", FE_KEY_NUMBER, NULL, 0},
	{"dampening", FE_KEY_NUMBER, NULL, 0},
	{"nesterov", FE_KEY_BOOLEAN, NULL, 0},
	{"weight_decay", FE_KEY_NUMBER, NULL, 0},
	{"betas", FE_KEY_LIST, NULL, FE_KEY_NUMBER},
	{"eps", FE_KEY_NUMBER, NULL, 0},
	{"sam", FE_KEY_TABLE, sam_keys, 0},
	{NULL, 0, NULL, 0},
};

static const fe_key schedule_keys[] = {
	{"name", FE_KEY_STRING, NULL, 0},
	{"step_size", FE_KEY_NUMBER, NULL, 0},
	{"gamma", FE_KEY_NUMBER, NULL, 0},
	{"t_max", FE_KEY_NUMBER, NULL, 0},
	{"eta_min", FE_KEY_NUMBER, NULL, 0},
	{"warmup", FE_KEY_NUMBER, NULL, 0},
	{NULL, 0, NULL, 0},
};

static const fe_key data_keys[] = {
	{"format", FE_KEY_STRING, NULL, 0},
	{"train", FE_KEY_MAP, NULL, FE_KEY_STRING},
	{"test", FE_KEY_MAP, NULL, FE_KEY_STRING},
	{"scale", FE_KEY_NUMBER, NULL, 0},
	{"mean", FE_KEY_NUMBER, NULL, 0},
	{"std", FE_KEY_NUMBER, NULL, 0},
	{"drop_last", FE_KEY_BOOLEAN, NULL, 0},
	{"limit_train", FE_KEY_INTEGER, NULL, 0},
	{"limit_test", FE_KEY_INTEGER, NULL, 0},
	{NULL, 0, NULL, 0},
};

static const fe_key recipe_keys[] = {
	{"loss", FE_KEY_TENSOR, NULL, 0},
	{"metrics", FE_KEY_MAP, NULL, FE_KEY_TENSOR},
	{"epochs", FE_KEY_INTEGER, NULL, 0},
	{"seed", FE_KEY_INTEGER, NULL, 0},
	{"batch_size", FE_KEY_INTEGER, NULL, 0},
	{"log_every", FE_KEY_INTEGER, NULL, 0},
	{"optimizer", FE_KEY_TABLE, optimizer_keys, 0},
	{"schedule", FE_KEY_TABLE, schedule_keys, 0},
	{"data", FE_KEY_TABLE, data_keys, 0},
	{NULL, 0, NULL, 0},
};

const fe_key *fe_recipe_schema(void)
{
	return recipe_keys;
}

const fe_key *fe_key_find(const fe_key *keys, const char *name)
{
	for (const fe_key *k = keys; k && k->name; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

static size_t fe_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return (size_t)-1;
	size_t row[64];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *fe_key_suggest(const fe_key *keys, const char *name)
{
	const char *best = NULL;
	size_t best_d = 3; /* at most two edits away */
	for (const fe_key *k = keys; k && k->name; k++) {
		size_t d = fe_edit_distance(name, k->name);
		if (d < best_d && d < strlen(k->name)) {
			best = k->name;
			best_d = d;
		}
	}
	return best;
}

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

static void fe_unknown_key(lua_State *L, const fe_key *keys, const char *prefix,
                           const char *name)
{
	const char *hint = fe_key_suggest(keys, name);
	char list[512] = "";
	for (const fe_key *k = keys; k->name; k++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
		         k == keys ? "" : ", ", k->name);
	if (hint)
		fe_recipe_error(L, "unknown recipe key '%s%s' (did you mean '%s%s'?)", prefix,
		                name, prefix, hint);
	fe_recipe_error(L, "unknown recipe key '%s%s' (known keys here: %s)", prefix, name, list);
}

/* prefix: "" or "optimizer." etc. */
static void fe_check_table(lua_State *L, int idx, const fe_key *keys, const char *prefix)
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
		const fe_key *k = fe_key_find(keys, name);
		if (!k)
			fe_unknown_key(L, keys, prefix, name);
		char sub[256];
		if (k->kind == FE_KEY_TABLE && lua_type(L, -1) == LUA_TTABLE) {
			snprintf(sub, sizeof sub, "%s%s.", prefix, name);
			fe_check_table(L, -1, k->sub, sub);
		} else if (k->kind == FE_KEY_LIST && k->sub && lua_type(L, -1) == LUA_TTABLE) {
			lua_Integer n = luaL_len(L, -1);
			for (lua_Integer i = 1; i <= n; i++) {
				if (lua_geti(L, -1, i) == LUA_TTABLE) {
					snprintf(sub, sizeof sub, "%s%s[%lld].", prefix, name, (long long)i);
					fe_check_table(L, -1, k->sub, sub);
				}
				lua_pop(L, 1);
			}
		}
		lua_pop(L, 1);
	}
}

void fe_recipe_check_keys(lua_State *L, int idx)
{
	fe_check_table(L, idx, recipe_keys, "");
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

/* Pushes the value text converted for a key of the given kind. */
static void fe_push_set_value(lua_State *L, const char *set, const char *key,
                              fe_key_kind kind, const char *v)
{
	char *end;
	switch (kind) {
	case FE_KEY_NUMBER:
	case FE_KEY_INTEGER: {
		double d = strtod(v, &end);
		if (end == v || *end)
			fe_set_error(L, set, "%s needs a number, got '%s'", key, v);
		if (kind == FE_KEY_INTEGER && (d != (double)(long long)d))
			fe_set_error(L, set, "%s needs an integer, got '%s'", key, v);
		if (d == (double)(long long)d && d > -9e15 && d < 9e15)
			lua_pushinteger(L, (lua_Integer)d);
		else
			lua_pushnumber(L, d);
		return;
	}
	case FE_KEY_BOOLEAN:
		if (strcmp(v, "true") && strcmp(v, "false"))
			fe_set_error(L, set, "%s needs true or false, got '%s'", key, v);
		lua_pushboolean(L, strcmp(v, "true") == 0);
		return;
	case FE_KEY_STRING:
		lua_pushstring(L, v);
		return;
	default:
		fe_set_error(L, set, "%s cannot be set from the command line", key);
	}
}

static void fe_apply_set(lua_State *L, int idx, const char *set)
{
	const char *eq = strchr(set, '=');
	if (!eq || eq == set)
		fe_set_error(L, set, "expected key=value, e.g. --set optimizer.lr=0.1");
	char key[256];
	size_t klen = (size_t)(eq - set);
	if (klen >= sizeof key)
		fe_set_error(L, set, "key too long");
	memcpy(key, set, klen);
	key[klen] = '\0';
	const char *value = eq + 1;

	const fe_key *keys = recipe_keys;
	fe_key_kind map_elem = 0;
	int in_map = 0;
	lua_pushvalue(L, idx);
	char *seg = key;
	char sofar[sizeof key + 1] = ""; /* the key's parts so far, dots included */
	for (;;) {
		char *dot = strchr(seg, '.');
		if (dot)
			*dot = '\0';
		if (!*seg)
			fe_set_error(L, set, "empty part in the key");
		snprintf(sofar + strlen(sofar), sizeof sofar - strlen(sofar), "%s%s",
		         sofar[0] ? "." : "", seg);
		fe_key_kind kind;
		const fe_key *k = NULL;
		if (in_map) {
			kind = map_elem;
		} else {
			k = fe_key_find(keys, seg);
			if (!k) {
				const char *hint = fe_key_suggest(keys, seg);
				if (hint)
					fe_set_error(L, set, "unknown recipe key '%s' (did you mean '%s'?)",
					             sofar, hint);
				fe_set_error(L, set, "unknown recipe key '%s'", sofar);
			}
			kind = k->kind;
		}
		if (!dot) {
			fe_push_set_value(L, set, sofar, kind, value);
			lua_setfield(L, -2, seg);
			lua_pop(L, 1);
			return;
		}
		if (kind != FE_KEY_TABLE && kind != FE_KEY_MAP)
			fe_set_error(L, set, "'%s' has no sub-keys", sofar);
		int t = lua_getfield(L, -1, seg);
		if (t == LUA_TNIL) {
			lua_pop(L, 1);
			lua_newtable(L);
			lua_pushvalue(L, -1);
			lua_setfield(L, -3, seg);
		} else if (t != LUA_TTABLE) {
			fe_set_error(L, set, "'%s' is a %s in the model file, not a table", sofar,
			             luaL_typename(L, -1));
		}
		lua_remove(L, -2);
		in_map = kind == FE_KEY_MAP;
		map_elem = k->elem;
		keys = k->sub;
		seg = dot + 1;
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
