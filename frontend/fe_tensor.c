/*
 * fe_tensor.c - tensors as Lua values: a full userdata holding an ir_node*,
 * with the arithmetic operators (+ - * / ^ and unary minus, numbers
 * becoming scalar constants, numpy broadcasting by the builder), .shape,
 * .dtype and tostring ("tensor f32[128,784]"); and the binary functions
 * minimum, maximum, the comparisons gt, ge, lt, le, eq, ne and where, which
 * take numbers the same way.
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_dsl.h"
#include "fe_sandbox.h"

typedef struct {
	ir_node *node;
} fe_tensor;

fe_dsl *fe_dsl_of(lua_State *L)
{
	return fe_sandbox_of(L)->user;
}

void fe_tensor_push(lua_State *L, ir_node *n)
{
	fe_tensor *t = lua_newuserdatauv(L, sizeof *t, 0);
	t->node = n;
	luaL_setmetatable(L, FE_TENSOR_MT);
}

ir_node *fe_tensor_test(lua_State *L, int idx)
{
	fe_tensor *t = luaL_testudata(L, idx, FE_TENSOR_MT);
	return t ? t->node : NULL;
}

char *fe_tensor_describe(const ir_node *n, char *buf, size_t len)
{
	char shape[96];
	snprintf(buf, len, "tensor %s%s", ir_dtype_name(n->dtype),
	         ir_shape_str(&n->shape, shape, sizeof shape));
	return buf;
}

void fe_dsl_here(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	if (d->sealed)
		fe_sandbox_error(L, "tensors cannot be built after the model file has returned");
	ir_set_loc(d->g, d->path, fe_sandbox_caller_line(L));
}

ir_node *fe_dsl_built(lua_State *L, ir_node *n)
{
	if (n)
		return n;
	fe_dsl *d = fe_dsl_of(L);
	/* the builder's message already reads "<path>:<line>: ..." */
	lua_pushstring(L, d->g->has_err ? d->g->err : "graph builder failed without a message");
	lua_error(L);
	return NULL;
}

/* A tensor operand, or a number turned into a scalar of the other
 * operand's dtype (PyTorch's rule for Python scalars). */
static ir_node *fe_operand(lua_State *L, int idx, const ir_node *other, const char *op)
{
	ir_node *n = fe_tensor_test(L, idx);
	if (n)
		return n;
	if (lua_type(L, idx) == LUA_TNUMBER && other) {
		fe_dsl *d = fe_dsl_of(L);
		fe_dsl_here(L);
		return fe_dsl_built(L, ir_const(d->g, other->dtype, ir_shape_scalar(),
		                                lua_tonumber(L, idx)));
	}
	char got[128];
	fe_arg_typename(L, idx, got, sizeof got);
	fe_sandbox_error(L, "%s: operands must be tensors or numbers, got %s", op, got);
	return NULL;
}

static int fe_binop(lua_State *L, ir_op op, const char *sym)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_node *ta = fe_tensor_test(L, 1), *tb = fe_tensor_test(L, 2);
	ir_node *a = fe_operand(L, 1, tb, sym);
	ir_node *b = fe_operand(L, 2, ta, sym);
	fe_dsl_here(L);
	fe_tensor_push(L, fe_dsl_built(L, ir_binary(d->g, op, a, b)));
	return 1;
}

static int fe_add(lua_State *L) { return fe_binop(L, IR_OP_ADD, "+"); }
static int fe_sub(lua_State *L) { return fe_binop(L, IR_OP_SUB, "-"); }
static int fe_mul(lua_State *L) { return fe_binop(L, IR_OP_MUL, "*"); }
static int fe_div(lua_State *L) { return fe_binop(L, IR_OP_DIV, "/"); }
static int fe_pow(lua_State *L) { return fe_binop(L, IR_OP_POW, "^"); }

/* minimum(a, b), gt(a, b), ...: the op is the closure's upvalue */
static int fe_binfn(lua_State *L)
{
	ir_op op = (ir_op)lua_tointeger(L, lua_upvalueindex(1));
	return fe_binop(L, op, ir_op_name(op));
}

/* where(cond, a, b): cond a tensor (nonzero = true), a or b may be a number */
static int fe_where(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_node *c = fe_arg_tensor(L, 1, "where", "condition");
	ir_node *ta = fe_tensor_test(L, 2), *tb = fe_tensor_test(L, 3);
	if (!ta && !tb && lua_type(L, 2) == LUA_TNUMBER && lua_type(L, 3) == LUA_TNUMBER)
		return fe_sandbox_error(L, "where: argument 2 (input) or 3 (other) must be a tensor");
	ir_node *a = fe_operand(L, 2, tb, "where");
	ir_node *b = fe_operand(L, 3, ta, "where");
	fe_dsl_here(L);
	fe_tensor_push(L, fe_dsl_built(L, ir_where(d->g, c, a, b)));
	return 1;
}

static int fe_unm(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_node *x = fe_arg_tensor(L, 1, "unary -", "operand");
	fe_dsl_here(L);
	fe_tensor_push(L, fe_dsl_built(L, ir_unary(d->g, IR_OP_NEG, x)));
	return 1;
}

static int fe_tostring(lua_State *L)
{
	char buf[128];
	lua_pushstring(L, fe_tensor_describe(fe_tensor_test(L, 1), buf, sizeof buf));
	return 1;
}

static int fe_index(lua_State *L)
{
	ir_node *n = fe_tensor_test(L, 1);
	const char *k = lua_tostring(L, 2);
	if (lua_type(L, 2) == LUA_TSTRING && strcmp(k, "shape") == 0) {
		lua_createtable(L, n->shape.rank, 0);
		for (int i = 0; i < n->shape.rank; i++) {
			lua_pushinteger(L, (lua_Integer)n->shape.dim[i]);
			lua_rawseti(L, -2, i + 1);
		}
		return 1;
	}
	if (lua_type(L, 2) == LUA_TSTRING && strcmp(k, "dtype") == 0) {
		lua_pushstring(L, ir_dtype_name(n->dtype));
		return 1;
	}
	if (lua_type(L, 2) == LUA_TSTRING && strcmp(k, "name") == 0) {
		if (n->name)
			lua_pushstring(L, n->name);
		else
			lua_pushnil(L);
		return 1;
	}
	char got[128];
	fe_arg_typename(L, 2, got, sizeof got);
	if (lua_type(L, 2) == LUA_TSTRING)
		snprintf(got, sizeof got, "'%s'", k);
	return fe_sandbox_error(L, "tensor has no field %s (fields: shape, dtype, name)", got);
}

static int fe_newindex(lua_State *L)
{
	return fe_sandbox_error(L, "tensors are read-only: cannot set a field of a tensor");
}

void fe_tensor_open(lua_State *L)
{
	static const luaL_Reg meta[] = {
		{"__add", fe_add}, {"__sub", fe_sub}, {"__mul", fe_mul},
		{"__div", fe_div}, {"__pow", fe_pow}, {"__unm", fe_unm},
		{"__index", fe_index}, {"__newindex", fe_newindex},
		{"__tostring", fe_tostring}, {NULL, NULL},
	};
	luaL_newmetatable(L, FE_TENSOR_MT);
	luaL_setfuncs(L, meta, 0);
	/* getmetatable(x) gives this string; setmetatable cannot replace it */
	lua_pushliteral(L, "tensor");
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);
	static const ir_op binfns[] = {IR_OP_MINIMUM, IR_OP_MAXIMUM, IR_OP_GT, IR_OP_GE,
	                               IR_OP_LT, IR_OP_LE, IR_OP_EQ, IR_OP_NE};
	for (size_t i = 0; i < sizeof binfns / sizeof *binfns; i++) {
		lua_pushinteger(L, binfns[i]);
		lua_pushcclosure(L, fe_binfn, 1);
		lua_setglobal(L, ir_op_name(binfns[i]));
	}
	lua_pushcfunction(L, fe_where);
	lua_setglobal(L, "where");
}
