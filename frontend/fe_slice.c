/*
 * fe_slice.c - slicing and joining in the model language, as in PyTorch:
 * flatten(x, start_dim = 1, end_dim = -1) (a reshape; the default keeps
 * the batch dim, as nn.Flatten), cat({a, b, ...}, dim = 0) and
 * narrow(x, dim, start, length). Dims and start may be negative (counted
 * from the end).
 */
#include <lauxlib.h>

#include "fe_dsl.h"
#include "fe_sandbox.h"

static int fe_push_built(lua_State *L, ir_node *n)
{
	fe_tensor_push(L, fe_dsl_built(L, n));
	return 1;
}

static int fe_flatten(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_node *x = fe_arg_tensor(L, 1, "flatten", "input");
	int64_t s = lua_isnoneornil(L, 2) ? 1 : fe_arg_int(L, 2, "flatten", "start_dim");
	int64_t e = lua_isnoneornil(L, 3) ? -1 : fe_arg_int(L, 3, "flatten", "end_dim");
	fe_dsl_here(L);
	if (x->shape.rank == 0)
		return fe_push_built(L, ir_flatten(d->g, x, 0, 0));
	int sd = fe_arg_dim(L, s, x, "flatten"), ed = fe_arg_dim(L, e, x, "flatten");
	if (sd > ed)
		return fe_sandbox_error(L, "flatten: start_dim %lld comes after end_dim %lld",
		                        (long long)s, (long long)e);
	return fe_push_built(L, ir_flatten(d->g, x, sd, ed));
}

static int fe_narrow(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_node *x = fe_arg_tensor(L, 1, "narrow", "input");
	int dim = fe_arg_dim(L, fe_arg_int(L, 2, "narrow", "dim"), x, "narrow");
	int64_t start = fe_arg_int(L, 3, "narrow", "start");
	int64_t length = fe_arg_int(L, 4, "narrow", "length");
	int64_t size = x->shape.dim[dim];
	if (start < -size || start > size)
		return fe_sandbox_error(L, "narrow: start %lld out of range for dim %d of size %lld",
		                        (long long)start, dim, (long long)size);
	if (start < 0)
		start += size;
	if (length < 1 || start + length > size)
		return fe_sandbox_error(L, "narrow: start (%lld) + length (%lld) exceeds the size of "
		                        "dim %d (%lld), or length is below 1", (long long)start,
		                        (long long)length, dim, (long long)size);
	fe_dsl_here(L);
	return fe_push_built(L, ir_narrow(d->g, x, dim, start, length));
}

static int fe_cat(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	if (lua_type(L, 1) != LUA_TTABLE)
		return fe_sandbox_error(L, "cat: argument 1 (tensors) must be a table of tensors, "
		                        "got %s", luaL_typename(L, 1));
	lua_Integer n = luaL_len(L, 1);
	if (n < 1)
		return fe_sandbox_error(L, "cat: argument 1 (tensors) is an empty table");
	if (n > 4096)
		return fe_sandbox_error(L, "cat: at most 4096 tensors, got %lld", (long long)n);
	int64_t dv = lua_isnoneornil(L, 2) ? 0 : fe_arg_int(L, 2, "cat", "dim");
	lua_settop(L, 2);
	/* the list lives in a userdata, so a Lua error frees it */
	ir_node **xs = lua_newuserdatauv(L, (size_t)n * sizeof *xs, 0);
	int top = lua_gettop(L);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_geti(L, 1, i);
		xs[i - 1] = fe_tensor_test(L, -1);
		if (!xs[i - 1])
			return fe_sandbox_error(L, "cat: tensors[%lld] must be a tensor, got %s",
			                        (long long)i, luaL_typename(L, -1));
		lua_pop(L, 1);
	}
	int dim = fe_arg_dim(L, dv, xs[0], "cat");
	fe_dsl_here(L);
	ir_node *r = ir_cat(d->g, xs, (int)n, dim);
	lua_settop(L, top);
	return fe_push_built(L, r);
}

void fe_slice_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"flatten", fe_flatten},
		{"narrow", fe_narrow},
		{"cat", fe_cat},
		{NULL, NULL},
	};
	lua_pushglobaltable(L);
	luaL_setfuncs(L, fns, 0);
	lua_pop(L, 1);
}
