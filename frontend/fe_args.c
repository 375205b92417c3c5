/*
 * fe_args.c - argument checks for the DSL functions. Each failure names the
 * function, the argument's position and meaning, what was expected and
 * what came: "linear: argument 2 (out_features) must be a positive
 * integer, got string".
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_dsl.h"
#include "fe_sandbox.h"

const char *fe_arg_typename(lua_State *L, int idx, char *buf, size_t len)
{
	ir_node *n = fe_tensor_test(L, idx);
	if (n)
		return fe_tensor_describe(n, buf, len);
	if (lua_type(L, idx) == LUA_TNUMBER) {
		snprintf(buf, len, "%.17g", lua_tonumber(L, idx));
		return buf;
	}
	snprintf(buf, len, "%s", luaL_typename(L, idx));
	return buf;
}

static void fe_arg_fail(lua_State *L, int idx, const char *fn, const char *what,
                        const char *expected)
{
	char got[128];
	fe_arg_typename(L, idx, got, sizeof got);
	fe_sandbox_error(L, "%s: argument %d (%s) must be %s, got %s", fn, idx, what,
	                 expected, got);
}

ir_node *fe_arg_tensor(lua_State *L, int idx, const char *fn, const char *what)
{
	ir_node *n = fe_tensor_test(L, idx);
	if (!n)
		fe_arg_fail(L, idx, fn, what, "a tensor");
	return n;
}

static int fe_is_integer(lua_State *L, int idx, int64_t *v)
{
	if (lua_type(L, idx) != LUA_TNUMBER)
		return 0;
	lua_Number d = lua_tonumber(L, idx);
	if (!isfinite(d) || d != floor(d) || fabs(d) > 9.0e15)
		return 0;
	*v = (int64_t)d;
	return 1;
}

int64_t fe_arg_posint(lua_State *L, int idx, const char *fn, const char *what)
{
	int64_t v = 0;
	if (!fe_is_integer(L, idx, &v) || v <= 0)
		fe_arg_fail(L, idx, fn, what, "a positive integer");
	return v;
}

int64_t fe_arg_int(lua_State *L, int idx, const char *fn, const char *what)
{
	int64_t v = 0;
	if (!fe_is_integer(L, idx, &v))
		fe_arg_fail(L, idx, fn, what, "an integer");
	return v;
}

const char *fe_arg_name(lua_State *L, int idx, const char *fn, const char *what)
{
	if (lua_type(L, idx) != LUA_TSTRING)
		fe_arg_fail(L, idx, fn, what, "a string");
	const char *s = lua_tostring(L, idx);
	/* names become checkpoint keys and symbol parts */
	int ok = s[0] != '\0' && strlen(s) < 200;
	for (const char *p = s; *p && ok; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		     (*p >= '0' && *p <= '9') || *p == '_' || *p == '.';
	if (!ok)
		fe_sandbox_error(L, "%s: argument %d (%s) \"%s\" is not a valid name: use "
		                 "letters, digits, '_' and '.'", fn, idx, what, s);
	return s;
}

ir_shape fe_arg_shape(lua_State *L, int idx, const char *fn, const char *what,
                      int allow_minus1)
{
	const char *expected = allow_minus1
		? "a table of positive integers (one may be -1)"
		: "a table of positive integers";
	ir_shape s = {0};
	if (lua_type(L, idx) != LUA_TTABLE)
		fe_arg_fail(L, idx, fn, what, expected);
	lua_Integer n = luaL_len(L, idx);
	if (n > IR_MAX_DIMS)
		fe_sandbox_error(L, "%s: argument %d (%s) has %lld dimensions; at most %d "
		                 "are supported", fn, idx, what, (long long)n, IR_MAX_DIMS);
	int minus1 = 0;
	for (lua_Integer i = 1; i <= n; i++) {
		lua_geti(L, idx, i);
		int64_t v = 0;
		int ok = fe_is_integer(L, -1, &v) && (v > 0 || (v == -1 && allow_minus1 && !minus1));
		if (!ok) {
			char got[128];
			fe_arg_typename(L, -1, got, sizeof got);
			fe_sandbox_error(L, "%s: argument %d (%s) must be %s, got %s at "
			                 "position %lld", fn, idx, what, expected, got, (long long)i);
		}
		minus1 |= v == -1;
		s.dim[i - 1] = v;
		lua_pop(L, 1);
	}
	s.rank = (int)n;
	return s;
}

int fe_arg_options(lua_State *L, int idx, const char *fn, const char *const *known)
{
	if (lua_isnoneornil(L, idx))
		return 0;
	if (lua_type(L, idx) != LUA_TTABLE)
		fe_arg_fail(L, idx, fn, "options", "a table");
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		int found = 0;
		if (lua_type(L, -1) == LUA_TSTRING)
			for (const char *const *k = known; *k && !found; k++)
				found = strcmp(*k, lua_tostring(L, -1)) == 0;
		if (!found) {
			char list[256] = "", got[128];
			for (const char *const *k = known; *k; k++)
				snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
				         k == known ? "" : ", ", *k);
			if (lua_type(L, -1) == LUA_TSTRING)
				snprintf(got, sizeof got, "'%s'", lua_tostring(L, -1));
			else
				fe_arg_typename(L, -1, got, sizeof got);
			fe_sandbox_error(L, "%s: unknown option %s (known: %s)", fn, got, list);
		}
	}
	return 1;
}

int fe_arg_dim(lua_State *L, int64_t dim, const ir_node *x, const char *fn)
{
	int64_t r = x->shape.rank;
	if (dim < -r || dim >= r || (r == 0)) {
		char buf[96];
		fe_sandbox_error(L, "%s: dim %lld out of range for %s (dims are 0-based; "
		                 "negative counts from the end)", fn, (long long)dim,
		                 fe_tensor_describe(x, buf, sizeof buf));
	}
	return (int)(dim < 0 ? dim + r : dim);
}
