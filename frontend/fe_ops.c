/*
 * fe_ops.c - the stateless tensor functions of the model language, named
 * as in PyTorch: relu, gelu, tanh, sigmoid, exp, log, sqrt, abs,
 * leaky_relu, softplus, clamp, softmax,
 * log_softmax, cross_entropy, mse_loss, accuracy, matmul, reshape,
 * transpose, sum, mean, max. Shape rules live in the IR builder; this file
 * only checks Lua arguments and converts them.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_dsl.h"
#include "fe_sandbox.h"

static int fe_push_built(lua_State *L, ir_node *n)
{
	fe_tensor_push(L, fe_dsl_built(L, n));
	return 1;
}

/* relu(x), exp(x), ...: the op is the closure's upvalue */
static int fe_unary(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_op op = (ir_op)lua_tointeger(L, lua_upvalueindex(1));
	const char *fn = ir_op_name(op);
	if (lua_type(L, 1) == LUA_TNUMBER)
		return fe_sandbox_error(L, "%s: argument 1 (input) must be a tensor, got a "
		                        "number (use math.%s for numbers)", fn, fn);
	ir_node *x = fe_arg_tensor(L, 1, fn, "input");
	fe_dsl_here(L);
	return fe_push_built(L, ir_unary(d->g, op, x));
}

/* Argument idx as a number, `def` when absent (nil). */
static double fe_opt_number(lua_State *L, int idx, const char *fn, const char *what, double def)
{
	if (lua_isnoneornil(L, idx))
		return def;
	if (lua_type(L, idx) != LUA_TNUMBER) {
		char got[128];
		fe_arg_typename(L, idx, got, sizeof got);
		fe_sandbox_error(L, "%s: argument %d (%s) must be a number, got %s", fn, idx, what, got);
	}
	double v = lua_tonumber(L, idx);
	if (isnan(v))
		fe_sandbox_error(L, "%s: argument %d (%s) is NaN", fn, idx, what);
	return v;
}

/* leaky_relu(x, negative_slope = 0.01) */
static int fe_leaky_relu(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_node *x = fe_arg_tensor(L, 1, "leaky_relu", "input");
	double slope = fe_opt_number(L, 2, "leaky_relu", "negative_slope", 0.01);
	fe_dsl_here(L);
	return fe_push_built(L, ir_leaky_relu(d->g, x, slope));
}

/* softplus(x, beta = 1, threshold = 20) */
static int fe_softplus(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_node *x = fe_arg_tensor(L, 1, "softplus", "input");
	double beta = fe_opt_number(L, 2, "softplus", "beta", 1.0);
	double threshold = fe_opt_number(L, 3, "softplus", "threshold", 20.0);
	if (beta == 0)
		return fe_sandbox_error(L, "softplus: argument 2 (beta) must not be 0");
	fe_dsl_here(L);
	return fe_push_built(L, ir_softplus(d->g, x, beta, threshold));
}

/* clamp(x, min = nil, max = nil): at least one bound, as PyTorch */
static int fe_clamp(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_node *x = fe_arg_tensor(L, 1, "clamp", "input");
	if (lua_isnoneornil(L, 2) && lua_isnoneornil(L, 3))
		return fe_sandbox_error(L, "clamp: at least one of min and max must be given");
	double lo = fe_opt_number(L, 2, "clamp", "min", -INFINITY);
	double hi = fe_opt_number(L, 3, "clamp", "max", INFINITY);
	fe_dsl_here(L);
	return fe_push_built(L, ir_clamp(d->g, x, lo, hi));
}

/* softmax(x, dim = -1), log_softmax(x, dim = -1) */
static int fe_softmax_like(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_op op = (ir_op)lua_tointeger(L, lua_upvalueindex(1));
	const char *fn = ir_op_name(op);
	ir_node *x = fe_arg_tensor(L, 1, fn, "input");
	int64_t dim = lua_isnoneornil(L, 2) ? -1 : fe_arg_int(L, 2, fn, "dim");
	int axis = fe_arg_dim(L, dim, x, fn);
	fe_dsl_here(L);
	return fe_push_built(L, ir_softmax(d->g, op, x, axis));
}

/* cross_entropy(logits, labels, {label_smoothing = 0, reduction = "mean"}) */
static int fe_cross_entropy(lua_State *L)
{
	static const char *const known[] = {"label_smoothing", "reduction", NULL};
	fe_dsl *d = fe_dsl_of(L);
	ir_node *logits = fe_arg_tensor(L, 1, "cross_entropy", "logits");
	ir_node *labels = fe_arg_tensor(L, 2, "cross_entropy", "labels");
	double smoothing = 0.0;
	int reduction = IR_REDUCE_MEAN;
	if (fe_arg_options(L, 3, "cross_entropy", known)) {
		if (lua_getfield(L, 3, "label_smoothing") != LUA_TNIL) {
			if (lua_type(L, -1) != LUA_TNUMBER || lua_tonumber(L, -1) < 0 ||
			    lua_tonumber(L, -1) > 1) {
				char got[128];
				fe_arg_typename(L, -1, got, sizeof got);
				return fe_sandbox_error(L, "cross_entropy: option label_smoothing must be "
				                        "a number in [0, 1], got %s", got);
			}
			smoothing = lua_tonumber(L, -1);
		}
		lua_pop(L, 1);
		if (lua_getfield(L, 3, "reduction") != LUA_TNIL) {
			const char *r = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
			if (!strcmp(r, "none"))
				reduction = IR_REDUCE_NONE;
			else if (strcmp(r, "mean") != 0) {
				char got[128];
				fe_arg_typename(L, -1, got, sizeof got);
				if (lua_type(L, -1) == LUA_TSTRING)
					snprintf(got, sizeof got, "\"%s\"", r);
				return fe_sandbox_error(L, "cross_entropy: option reduction must be "
				                        "\"mean\" or \"none\", got %s", got);
			}
		}
		lua_pop(L, 1);
	}
	if (labels->dtype != IR_I32) {
		char buf[96];
		return fe_sandbox_error(L, "cross_entropy: labels must be class indices "
		                        "(an input with dtype = \"i32\"), got %s",
		                        fe_tensor_describe(labels, buf, sizeof buf));
	}
	if (ir_attr_i(labels, IR_ATTR_NCLASSES) > 0 && logits->shape.rank == 2 &&
	    logits->shape.dim[1] != ir_attr_i(labels, IR_ATTR_NCLASSES))
		return fe_sandbox_error(L, "cross_entropy: labels '%s' have %d classes but the "
		                        "logits have %lld columns", labels->name ? labels->name : "?",
		                        ir_attr_i(labels, IR_ATTR_NCLASSES), (long long)logits->shape.dim[1]);
	fe_dsl_here(L);
	return fe_push_built(L, ir_cross_entropy(d->g, logits, labels, reduction, smoothing));
}

/* mse_loss(a, b) = mean((a - b)^2) over every element */
static int fe_mse_loss(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_node *a = fe_arg_tensor(L, 1, "mse_loss", "input");
	ir_node *b = fe_arg_tensor(L, 2, "mse_loss", "target");
	if (!ir_shape_eq(&a->shape, &b->shape)) {
		char sa[96], sb[96];
		return fe_sandbox_error(L, "mse_loss: input %s and target %s must have the same "
		                        "shape", ir_shape_str(&a->shape, sa, sizeof sa),
		                        ir_shape_str(&b->shape, sb, sizeof sb));
	}
	fe_dsl_here(L);
	ir_node *diff = fe_dsl_built(L, ir_binary(d->g, IR_OP_SUB, a, b));
	ir_node *sq = fe_dsl_built(L, ir_binary(d->g, IR_OP_MUL, diff, diff));
	return fe_push_built(L, ir_mean(d->g, sq, 0, 0));
}

/* accuracy(logits, labels): fraction of rows whose argmax is the label */
static int fe_accuracy(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_node *logits = fe_arg_tensor(L, 1, "accuracy", "logits");
	ir_node *labels = fe_arg_tensor(L, 2, "accuracy", "labels");
	fe_dsl_here(L);
	ir_node *c = fe_dsl_built(L, ir_correct(d->g, logits, labels));
	return fe_push_built(L, ir_mean(d->g, c, 0, 0));
}

static int fe_matmul(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_node *a = fe_arg_tensor(L, 1, "matmul", "input");
	ir_node *b = fe_arg_tensor(L, 2, "matmul", "other");
	fe_dsl_here(L);
	return fe_push_built(L, ir_matmul_torch(d->g, a, b));
}

static int fe_reshape(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_node *x = fe_arg_tensor(L, 1, "reshape", "input");
	ir_shape s = fe_arg_shape(L, 2, "reshape", "shape", 1);
	fe_dsl_here(L);
	return fe_push_built(L, ir_reshape(d->g, x, s));
}

static int fe_transpose(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_node *x = fe_arg_tensor(L, 1, "transpose", "input");
	int d0 = fe_arg_dim(L, fe_arg_int(L, 2, "transpose", "dim0"), x, "transpose");
	int d1 = fe_arg_dim(L, fe_arg_int(L, 3, "transpose", "dim1"), x, "transpose");
	fe_dsl_here(L);
	return fe_push_built(L, ir_transpose2(d->g, x, d0, d1));
}

/* sum/mean/max(x, dim = nil, keepdim = false): dim nil = every dim; dim may
 * be a number or a table of numbers */
static int fe_reduce(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_op op = (ir_op)lua_tointeger(L, lua_upvalueindex(1));
	const char *fn = lua_tostring(L, lua_upvalueindex(2));
	ir_node *x = fe_arg_tensor(L, 1, fn, "input");
	uint32_t axes = 0;
	if (lua_type(L, 2) == LUA_TTABLE) {
		lua_Integer n = luaL_len(L, 2);
		for (lua_Integer i = 1; i <= n; i++) {
			lua_geti(L, 2, i);
			int64_t v = fe_arg_int(L, lua_gettop(L), fn, "dim");
			axes |= 1u << fe_arg_dim(L, v, x, fn);
			lua_pop(L, 1);
		}
		if (n == 0)
			return fe_sandbox_error(L, "%s: argument 2 (dim) is an empty table", fn);
	} else if (!lua_isnoneornil(L, 2)) {
		axes = 1u << fe_arg_dim(L, fe_arg_int(L, 2, fn, "dim"), x, fn);
	}
	int keepdim = 0;
	if (!lua_isnoneornil(L, 3)) {
		if (!lua_isboolean(L, 3))
			return fe_sandbox_error(L, "%s: argument 3 (keepdim) must be true or false, "
			                        "got %s", fn, luaL_typename(L, 3));
		keepdim = lua_toboolean(L, 3);
	}
	/* the builder's "0 = all axes" covers dim = nil */
	fe_dsl_here(L);
	if (op == IR_OP_COUNT)
		return fe_push_built(L, ir_mean(d->g, x, axes, keepdim));
	return fe_push_built(L, ir_reduce(d->g, op, x, axes, keepdim));
}

static void fe_reg_op(lua_State *L, const char *name, lua_CFunction f, ir_op op)
{
	lua_pushinteger(L, op);
	lua_pushstring(L, name);
	lua_pushcclosure(L, f, 2);
	lua_setglobal(L, name);
}

void fe_ops_open(lua_State *L)
{
	static const ir_op unary[] = {
		IR_OP_RELU, IR_OP_GELU, IR_OP_TANH, IR_OP_SIGMOID,
		IR_OP_EXP, IR_OP_LOG, IR_OP_SQRT, IR_OP_ABS,
	};
	for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++)
		fe_reg_op(L, ir_op_name(unary[i]), fe_unary, unary[i]);
	fe_reg_op(L, "softmax", fe_softmax_like, IR_OP_SOFTMAX);
	fe_reg_op(L, "log_softmax", fe_softmax_like, IR_OP_LOG_SOFTMAX);
	fe_reg_op(L, "sum", fe_reduce, IR_OP_SUM);
	fe_reg_op(L, "max", fe_reduce, IR_OP_MAX);
	fe_reg_op(L, "mean", fe_reduce, IR_OP_COUNT); /* COUNT marks the mean */
	static const luaL_Reg fns[] = {
		{"leaky_relu", fe_leaky_relu},
		{"softplus", fe_softplus},
		{"clamp", fe_clamp},
		{"cross_entropy", fe_cross_entropy},
		{"mse_loss", fe_mse_loss},
		{"accuracy", fe_accuracy},
		{"matmul", fe_matmul},
		{"reshape", fe_reshape},
		{"transpose", fe_transpose},
		{NULL, NULL},
	};
	lua_pushglobaltable(L);
	luaL_setfuncs(L, fns, 0);
	lua_pop(L, 1);
}
