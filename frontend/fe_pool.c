/*
 * fe_pool.c - the model language's pooling functions, named and
 * defaulted as in torch.nn.functional (NCHW inputs; a size is an integer
 * or a pair {h, w}):
 *
 *     max_pool2d(x, kernel_size, stride = kernel_size, padding = 0)
 *     avg_pool2d(x, kernel_size, stride = kernel_size, padding = 0,
 *                count_include_pad = true)
 *     adaptive_avg_pool2d(x, output_size)
 *
 * The shape rule (ir_pool.c) checks sizes against the input.
 */
#include <lauxlib.h>

#include "fe_dsl.h"
#include "fe_sandbox.h"
#include "ir_pool.h"

/* An integer or a pair {h, w} at idx into hw; def when nil and def >= 0. */
static void size_pair(lua_State *L, int idx, const char *fn, const char *what, int64_t def,
                      int64_t hw[2])
{
	if (lua_isnoneornil(L, idx) && def >= 0) {
		hw[0] = hw[1] = def;
		return;
	}
	if (lua_isinteger(L, idx)) {
		hw[0] = hw[1] = lua_tointeger(L, idx);
		return;
	}
	if (lua_istable(L, idx) && lua_rawlen(L, idx) == 2) {
		int ok = 1;
		for (int i = 0; i < 2; i++) {
			lua_rawgeti(L, idx, i + 1);
			ok = ok && lua_isinteger(L, -1);
			hw[i] = lua_tointeger(L, -1);
			lua_pop(L, 1);
		}
		if (ok)
			return;
	}
	fe_sandbox_error(L, "%s: argument %d (%s) must be an integer or a pair {h, w} of integers",
	                 fn, idx, what);
}

static int fe_pool_push(lua_State *L, ir_op op, ir_node *x, const ir_pool_params *p)
{
	fe_dsl *d = fe_dsl_of(L);
	fe_dsl_here(L);
	fe_tensor_push(L, fe_dsl_built(L, ir_pool2d(d->g, op, x, NULL, p)));
	return 1;
}

/* max_pool2d and avg_pool2d: the op is the closure's upvalue */
static int fe_pool(lua_State *L)
{
	ir_op op = (ir_op)lua_tointeger(L, lua_upvalueindex(1));
	const char *fn = ir_op_name(op);
	ir_node *x = fe_arg_tensor(L, 1, fn, "input");
	int64_t k[2], s[2], p[2];
	size_pair(L, 2, fn, "kernel_size", -1, k);
	if (lua_isnoneornil(L, 3)) {
		s[0] = k[0];
		s[1] = k[1];
	} else {
		size_pair(L, 3, fn, "stride", -1, s);
	}
	size_pair(L, 4, fn, "padding", 0, p);
	int count_pad = 1;
	if (op == IR_OP_AVG_POOL2D && !lua_isnoneornil(L, 5)) {
		if (!lua_isboolean(L, 5))
			return fe_sandbox_error(L, "%s: argument 5 (count_include_pad) must be a boolean",
			                        fn);
		count_pad = lua_toboolean(L, 5);
	} else if (op == IR_OP_MAX_POOL2D && !lua_isnone(L, 5)) {
		return fe_sandbox_error(L, "%s: takes at most 4 arguments (input, kernel_size, "
		                           "stride, padding)", fn);
	}
	ir_pool_params pp = {k[0], k[1], s[0], s[1], p[0], p[1], count_pad, 0, 0};
	return fe_pool_push(L, op, x, &pp);
}

static int fe_adaptive_avg_pool2d(lua_State *L)
{
	const char *fn = "adaptive_avg_pool2d";
	ir_node *x = fe_arg_tensor(L, 1, fn, "input");
	int64_t o[2];
	size_pair(L, 2, fn, "output_size", -1, o);
	ir_pool_params pp = {0, 0, 0, 0, 0, 0, 1, o[0], o[1]};
	return fe_pool_push(L, IR_OP_ADAPTIVE_AVG_POOL2D, x, &pp);
}

void fe_pool_open(lua_State *L)
{
	static const ir_op ops[] = {IR_OP_MAX_POOL2D, IR_OP_AVG_POOL2D};
	for (int i = 0; i < 2; i++) {
		lua_pushinteger(L, ops[i]);
		lua_pushcclosure(L, fe_pool, 1);
		lua_setglobal(L, ir_op_name(ops[i]));
	}
	lua_pushcfunction(L, fe_adaptive_avg_pool2d);
	lua_setglobal(L, "adaptive_avg_pool2d");
}
