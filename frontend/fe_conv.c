/*
 * fe_conv.c - the model language's conv2d layer, with torch.nn.Conv2d's
 * parameters, names and defaults:
 *
 *     conv2d(x, out_channels, kernel_size, {stride = 1, padding = 0,
 *            dilation = 1, groups = 1, bias = true, name = "convN"})
 *
 * x is [N, C, H, W]. The layer declares <name>.weight [out, C/groups, kh,
 * kw] and <name>.bias [out], both uniform in +-1/sqrt(fan_in) with fan_in =
 * C/groups*kh*kw: PyTorch's kaiming_uniform_(a = sqrt(5)) and its bias
 * rule. Unnamed layers are conv1, conv2, ... in the order they are made.
 * Sizes are an integer or a pair {h, w}. padding may also be "valid" (0)
 * or "same" (stride 1; the output as large as the input): PyTorch pads
 * an odd total padding one more at the bottom and right, which a
 * convolution here cannot, so that case asks for explicit padding.
 *
 * The bias is a broadcast add after the convolution (ir_conv.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_dsl.h"
#include "fe_sandbox.h"
#include "ir_conv.h"

static int int_at(lua_State *L, int idx, int64_t *v)
{
	if (lua_type(L, idx) != LUA_TNUMBER)
		return 0;
	double d = lua_tonumber(L, idx);
	if (d != floor(d) || fabs(d) > 1e9)
		return 0;
	*v = (int64_t)d;
	return 1;
}

/* An integer >= min or a pair {h, w} of them at idx into hw. */
static void size_pair(lua_State *L, int idx, const char *what, int64_t min, int64_t hw[2])
{
	int ok = 0;
	if (int_at(L, idx, &hw[0])) {
		hw[1] = hw[0];
		ok = 1;
	} else if (lua_type(L, idx) == LUA_TTABLE && lua_rawlen(L, idx) == 2) {
		ok = 1;
		for (int i = 0; i < 2; i++) {
			lua_rawgeti(L, idx, i + 1);
			ok = int_at(L, -1, &hw[i]) && ok;
			lua_pop(L, 1);
		}
	}
	if (ok && hw[0] >= min && hw[1] >= min)
		return;
	char got[128];
	fe_arg_typename(L, idx, got, sizeof got);
	if (lua_type(L, idx) == LUA_TTABLE && ok)
		snprintf(got, sizeof got, "{%lld, %lld}", (long long)hw[0], (long long)hw[1]);
	else if (lua_type(L, idx) == LUA_TTABLE)
		snprintf(got, sizeof got, "a table of %d values", (int)lua_rawlen(L, idx));
	fe_sandbox_error(L, "conv2d: %s must be a %s integer or a pair {h, w} of them, got %s", what,
	                 min ? "positive" : "non-negative", got);
}

typedef struct {
	char name[200];
	int named, bias, same;
	int64_t s[2], p[2], dil[2], groups;
} conv_opts;

/* The options table at idx 4 into o (defaults where absent). */
static void read_opts(lua_State *L, conv_opts *o)
{
	static const char *const known[] = {"stride", "padding", "dilation", "groups",
	                                    "bias",   "name",    NULL};
	o->s[0] = o->s[1] = o->dil[0] = o->dil[1] = o->groups = o->bias = 1;
	o->p[0] = o->p[1] = 0;
	o->named = o->same = 0;
	if (!fe_arg_options(L, 4, "conv2d", known))
		return;
	int top = lua_gettop(L) + 1; /* where lua_getfield leaves the value */
	if (lua_getfield(L, 4, "name") != LUA_TNIL) {
		snprintf(o->name, sizeof o->name, "%s", fe_arg_name(L, top, "conv2d", "name"));
		o->named = 1;
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 4, "stride") != LUA_TNIL)
		size_pair(L, top, "option stride", 1, o->s);
	lua_pop(L, 1);
	if (lua_getfield(L, 4, "dilation") != LUA_TNIL)
		size_pair(L, top, "option dilation", 1, o->dil);
	lua_pop(L, 1);
	if (lua_getfield(L, 4, "padding") == LUA_TSTRING) {
		const char *v = lua_tostring(L, top);
		if (!strcmp(v, "same"))
			o->same = 1;
		else if (strcmp(v, "valid") != 0)
			fe_sandbox_error(L, "conv2d: option padding must be an integer, a pair {h, w}, "
			                 "\"same\" or \"valid\", got \"%s\"", v);
	} else if (!lua_isnil(L, top)) {
		size_pair(L, top, "option padding", 0, o->p);
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 4, "groups") != LUA_TNIL &&
	    (!int_at(L, top, &o->groups) || o->groups < 1)) {
		char got[128];
		fe_sandbox_error(L, "conv2d: option groups must be a positive integer, got %s",
		                 fe_arg_typename(L, top, got, sizeof got));
	}
	lua_pop(L, 1);
	if (lua_getfield(L, 4, "bias") != LUA_TNIL) {
		if (!lua_isboolean(L, top))
			fe_sandbox_error(L, "conv2d: option bias must be true or false, got %s",
			                 luaL_typename(L, top));
		o->bias = lua_toboolean(L, top);
	}
	lua_pop(L, 1);
}

static int fe_conv2d(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_node *x = fe_arg_tensor(L, 1, "conv2d", "input");
	int64_t out = fe_arg_posint(L, 2, "conv2d", "out_channels"), k[2];
	size_pair(L, 3, "argument 3 (kernel_size)", 1, k);
	conv_opts o;
	read_opts(L, &o);
	if (!o.named)
		snprintf(o.name, sizeof o.name, "conv%d", ++d->nconv);
	char buf[96];
	if (x->shape.rank != 4)
		return fe_sandbox_error(L, "conv2d: input must be 4-D [batch, channels, height, "
		                        "width], got %s", fe_tensor_describe(x, buf, sizeof buf));
	if (!ir_dtype_is_float(x->dtype))
		return fe_sandbox_error(L, "conv2d: input must be a float tensor, got %s",
		                        ir_dtype_name(x->dtype));
	int64_t in = x->shape.dim[1];
	if (in % o.groups || out % o.groups)
		return fe_sandbox_error(L, "conv2d: in_channels %lld and out_channels %lld must both "
		                        "be divisible by groups %lld", (long long)in, (long long)out,
		                        (long long)o.groups);
	if (o.same) {
		if (o.s[0] != 1 || o.s[1] != 1)
			return fe_sandbox_error(L, "conv2d: padding = \"same\" needs stride 1 (as in "
			                        "PyTorch), got stride {%lld, %lld}", (long long)o.s[0],
			                        (long long)o.s[1]);
		for (int i = 0; i < 2; i++) {
			int64_t total = o.dil[i] * (k[i] - 1);
			if (total % 2)
				return fe_sandbox_error(L, "conv2d: padding = \"same\" with kernel size "
				                        "%lld and dilation %lld pads unevenly, which samc does "
				                        "not support; give the padding explicitly",
				                        (long long)k[i], (long long)o.dil[i]);
			o.p[i] = total / 2;
		}
	}
	int64_t fan_in = in / o.groups * k[0] * k[1];
	double bound = 1.0 / sqrt((double)fan_in);
	ir_init init = {IR_INIT_UNIFORM, -bound, bound};
	char pname[256];
	snprintf(pname, sizeof pname, "%s.weight", o.name);
	ir_node *w = fe_new_param(L, "conv2d", pname,
	                          ir_shape_make(4, (int64_t[]){out, in / o.groups, k[0], k[1]}), init);
	ir_node *b = NULL;
	if (o.bias) {
		snprintf(pname, sizeof pname, "%s.bias", o.name);
		b = fe_new_param(L, "conv2d", pname, ir_shape_make(1, (int64_t[]){out}), init);
	}
	ir_conv_params p = {o.s[0], o.s[1], o.p[0], o.p[1], o.dil[0], o.dil[1], o.groups};
	fe_dsl_here(L);
	ir_node *y = fe_dsl_built(L, ir_conv2d(d->g, x, w, &p));
	if (b) {
		ir_node *b3 = fe_dsl_built(L, ir_reshape(d->g, b, ir_shape_make(3, (int64_t[]){out, 1, 1})));
		y = fe_dsl_built(L, ir_binary(d->g, IR_OP_ADD, y, b3));
	}
	fe_tensor_push(L, y);
	return 1;
}

void fe_conv_open(lua_State *L)
{
	lua_pushcfunction(L, fe_conv2d);
	lua_setglobal(L, "conv2d");
}
