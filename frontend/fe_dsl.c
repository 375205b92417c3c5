/*
 * fe_dsl.c - the declarations of a model file: batch_size(), input(),
 * param() and the layers that own parameters (linear). Each records the
 * model line that made it so duplicates can point at both lines. The
 * stateless tensor functions (relu, matmul, sum, ...) are in fe_ops.c.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_dsl.h"
#include "fe_sandbox.h"
#include "rt_noise.h"

static fe_decl *fe_decl_push(lua_State *L, fe_decl **arr, int *n, int *cap)
{
	if (*n == *cap) {
		fe_dsl *d = fe_dsl_of(L);
		int ncap = *cap ? *cap * 2 : 16;
		fe_decl *na = ir_arena_alloc(&d->g->arena, (size_t)ncap * sizeof *na);
		if (*n)
			memcpy(na, *arr, (size_t)*n * sizeof *na);
		*arr = na;
		*cap = ncap;
	}
	return &(*arr)[(*n)++];
}

static const fe_decl *fe_decl_find(const fe_decl *arr, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(arr[i].node->name, name) == 0)
			return &arr[i];
	return NULL;
}

/* batch_size(n): the batch every input() starts with; a --set batch_size
 * override wins. Returns the effective size. */
static int fe_batch_size(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	int64_t n = fe_arg_posint(L, 1, "batch_size", "n");
	if (d->batch_size)
		return fe_sandbox_error(L, "batch_size: already set at line %d", d->batch_line);
	if (d->ninputs)
		return fe_sandbox_error(L, "batch_size: must come before input() (input '%s' "
		                        "was declared at line %d)", d->inputs[0].node->name,
		                        d->inputs[0].line);
	if (n > (1 << 30))
		return fe_sandbox_error(L, "batch_size: %lld is too large", (long long)n);
	d->batch_size = d->batch_override ? d->batch_override : (int)n;
	d->batch_line = fe_sandbox_caller_line(L);
	lua_pushinteger(L, d->batch_size);
	return 1;
}

static ir_dtype fe_dtype_opt(lua_State *L, int opts, const char *fn, ir_dtype dflt)
{
	fe_dsl *d = fe_dsl_of(L);
	if (lua_getfield(L, opts, "dtype") == LUA_TNIL) {
		lua_pop(L, 1);
		return dflt;
	}
	const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
	ir_dtype t = dflt;
	/* "f32"/"f64"/"float" all mean the program's float dtype, so one model
	 * file compiles in f32 and (for checking) in f64 */
	if (!strcmp(s, "f32") || !strcmp(s, "f64") || !strcmp(s, "float"))
		t = d->g->fdtype;
	else if (!strcmp(s, "i32"))
		t = IR_I32;
	else {
		char got[128];
		fe_arg_typename(L, -1, got, sizeof got);
		fe_sandbox_error(L, "%s: option dtype must be \"f32\", \"f64\", \"float\" or "
		                 "\"i32\", got %s%s%s", fn, lua_type(L, -1) == LUA_TSTRING ? "\"" : "",
		                 lua_type(L, -1) == LUA_TSTRING ? s : got,
		                 lua_type(L, -1) == LUA_TSTRING ? "\"" : "");
	}
	lua_pop(L, 1);
	return t;
}

/* input(name, shape, {dtype=, classes=}) */
static int fe_input(lua_State *L)
{
	static const char *const known[] = {"dtype", "classes", NULL};
	fe_dsl *d = fe_dsl_of(L);
	const char *name = fe_arg_name(L, 1, "input", "name");
	ir_shape s = fe_arg_shape(L, 2, "input", "shape", 0);
	int has_opts = fe_arg_options(L, 3, "input", known);
	if (!d->batch_size)
		return fe_sandbox_error(L, "input: call batch_size(N) before input()");
	/* the graph's name index first: the list is scanned only for the message */
	const fe_decl *prev = ir_find_leaf(d->g, IR_OP_INPUT, name)
		? fe_decl_find(d->inputs, d->ninputs, name) : NULL;
	if (prev)
		return fe_sandbox_error(L, "input: input '%s' already declared at line %d",
		                        name, prev->line);
	if (strncmp(name, RT_NOISE_PREFIX, sizeof RT_NOISE_PREFIX - 1) == 0)
		return fe_sandbox_error(L, "input: the prefix '%s' of '%s' is reserved for the "
		                        "random inputs dropout declares", RT_NOISE_PREFIX, name);
	if (s.rank == 0 || s.dim[0] != d->batch_size) {
		char buf[96];
		return fe_sandbox_error(L, "input '%s': the first dimension must be the batch "
		                        "size %d (write {B, ...} with B = batch_size(%d)), got %s",
		                        name, d->batch_size, d->batch_size,
		                        ir_shape_str(&s, buf, sizeof buf));
	}
	ir_dtype t = d->g->fdtype;
	int classes = 0;
	if (has_opts) {
		t = fe_dtype_opt(L, 3, "input", t);
		if (lua_getfield(L, 3, "classes") != LUA_TNIL) {
			classes = (int)fe_arg_posint(L, lua_gettop(L), "input", "classes");
			if (t != IR_I32)
				return fe_sandbox_error(L, "input '%s': classes is only meaningful for "
				                        "dtype = \"i32\" labels", name);
		}
		lua_pop(L, 1);
	}
	fe_dsl_here(L);
	ir_node *n = fe_dsl_built(L, ir_input(d->g, name, t, s));
	ir_attr_set_i(n, IR_ATTR_NCLASSES, classes);
	fe_decl *dc = fe_decl_push(L, &d->inputs, &d->ninputs, &d->cap_inputs);
	dc->node = n;
	dc->line = fe_sandbox_caller_line(L);
	fe_tensor_push(L, n);
	return 1;
}

/* A parameter or state of that name, as an error. */
static void fe_check_new_name(lua_State *L, const char *fn, const char *name)
{
	fe_dsl *d = fe_dsl_of(L);
	/* the graph's name index first: the lists are scanned only for the message */
	if (!ir_find_leaf(d->g, IR_OP_PARAM, name) && !ir_find_leaf(d->g, IR_OP_STATE, name))
		return;
	const fe_decl *prev = fe_decl_find(d->params, d->nparams, name);
	if (prev)
		fe_sandbox_error(L, "%s: parameter '%s' already declared at line %d (every "
		                 "parameter needs its own name)", fn, name, prev->line);
	prev = fe_decl_find(d->states, d->nstates, name);
	if (prev)
		fe_sandbox_error(L, "%s: '%s' already declared as a state at line %d (every "
		                 "parameter and state needs its own name)", fn, name, prev->line);
}

ir_node *fe_new_state(lua_State *L, const char *fn, const char *name, ir_shape s, ir_init init)
{
	fe_dsl *d = fe_dsl_of(L);
	fe_check_new_name(L, fn, name);
	fe_dsl_here(L);
	ir_node *n = fe_dsl_built(L, ir_state_init(d->g, name, d->g->fdtype, s, init));
	fe_decl *dc = fe_decl_push(L, &d->states, &d->nstates, &d->cap_states);
	dc->node = n;
	dc->line = fe_sandbox_caller_line(L);
	return n;
}

void fe_new_update(lua_State *L, ir_node *target, ir_node *value)
{
	fe_dsl *d = fe_dsl_of(L);
	if (d->nupdates == d->cap_updates) {
		int ncap = d->cap_updates ? d->cap_updates * 2 : 16;
		ir_update *na = ir_arena_alloc(&d->g->arena, (size_t)ncap * sizeof *na);
		if (d->nupdates)
			memcpy(na, d->updates, (size_t)d->nupdates * sizeof *na);
		d->updates = na;
		d->cap_updates = ncap;
	}
	d->updates[d->nupdates++] = (ir_update){target, value};
}

/* Notes that `out`, a layer built from several ops over `in`, has in's
 * dtype under precision = "bf16" (ir_follow). */
void fe_new_follow(lua_State *L, ir_node *out, ir_node *in)
{
	fe_dsl *d = fe_dsl_of(L);
	if (d->nfollows == d->cap_follows) {
		int ncap = d->cap_follows ? d->cap_follows * 2 : 16;
		ir_follow *na = ir_arena_alloc(&d->g->arena, (size_t)ncap * sizeof *na);
		if (d->nfollows)
			memcpy(na, d->follows, (size_t)d->nfollows * sizeof *na);
		d->follows = na;
		d->cap_follows = ncap;
	}
	d->follows[d->nfollows++] = (ir_follow){out, in};
}

/* Declares one parameter; `fn` names the DSL function for messages. */
ir_node *fe_new_param(lua_State *L, const char *fn, const char *name, ir_shape s, ir_init init)
{
	fe_dsl *d = fe_dsl_of(L);
	fe_check_new_name(L, fn, name);
	fe_dsl_here(L);
	ir_node *n = fe_dsl_built(L, ir_param(d->g, name, d->g->fdtype, s, init));
	fe_decl *dc = fe_decl_push(L, &d->params, &d->nparams, &d->cap_params);
	dc->node = n;
	dc->line = fe_sandbox_caller_line(L);
	return n;
}

static double fe_num_opt(lua_State *L, int opts, const char *key, const char *fn,
                         double dflt)
{
	double v = dflt;
	if (lua_getfield(L, opts, key) != LUA_TNIL) {
		if (lua_type(L, -1) != LUA_TNUMBER) {
			char got[128];
			fe_arg_typename(L, -1, got, sizeof got);
			fe_sandbox_error(L, "%s: option %s must be a number, got %s", fn, key, got);
		}
		v = lua_tonumber(L, -1);
	}
	lua_pop(L, 1);
	return v;
}

/* param(name, shape, {init = "uniform"|"normal"|"zeros"|"ones", a=, b=, mean=, std=}) */
static int fe_param(lua_State *L)
{
	static const char *const known[] = {"init", "a", "b", "mean", "std", NULL};
	const char *name = fe_arg_name(L, 1, "param", "name");
	ir_shape s = fe_arg_shape(L, 2, "param", "shape", 0);
	int has_opts = fe_arg_options(L, 3, "param", known);
	/* default: PyTorch's Linear rule, uniform +-1/sqrt(fan_in) */
	int64_t fan_in = s.rank == 0 ? 1 : s.rank == 1 ? s.dim[0] : ir_shape_numel(&s) / s.dim[0];
	double k = 1.0 / sqrt((double)fan_in);
	ir_init init = {IR_INIT_UNIFORM, -k, k};
	if (has_opts && lua_getfield(L, 3, "init") != LUA_TNIL) {
		const char *kind = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
		if (!strcmp(kind, "uniform")) {
			init.kind = IR_INIT_UNIFORM;
			init.a = fe_num_opt(L, 3, "a", "param", 0.0);
			init.b = fe_num_opt(L, 3, "b", "param", 1.0);
			if (!(init.a < init.b))
				fe_sandbox_error(L, "param '%s': uniform init needs a < b, got a=%g b=%g",
				                 name, init.a, init.b);
		} else if (!strcmp(kind, "normal")) {
			init.kind = IR_INIT_NORMAL;
			init.a = fe_num_opt(L, 3, "mean", "param", 0.0);
			init.b = fe_num_opt(L, 3, "std", "param", 1.0);
			if (!(init.b >= 0))
				fe_sandbox_error(L, "param '%s': normal init needs std >= 0, got %g",
				                 name, init.b);
		} else if (!strcmp(kind, "zeros")) {
			init = (ir_init){IR_INIT_ZEROS, 0, 0};
		} else if (!strcmp(kind, "ones")) {
			init = (ir_init){IR_INIT_ONES, 0, 0};
		} else {
			char got[128];
			fe_arg_typename(L, -1, got, sizeof got);
			if (lua_type(L, -1) == LUA_TSTRING)
				snprintf(got, sizeof got, "\"%s\"", kind);
			fe_sandbox_error(L, "param: option init must be \"uniform\", \"normal\", "
			                 "\"zeros\" or \"ones\", got %s", got);
		}
		lua_pop(L, 1);
	}
	fe_tensor_push(L, fe_new_param(L, "param", name, s, init));
	return 1;
}

/* linear(x, out_features, {name=, bias=true}): x [N,in] -> [N,out] with
 * weight [out,in] and bias [out], PyTorch's nn.Linear and its init. */
static int fe_linear(lua_State *L)
{
	static const char *const known[] = {"name", "bias", NULL};
	fe_dsl *d = fe_dsl_of(L);
	ir_node *x = fe_arg_tensor(L, 1, "linear", "input");
	int64_t out = fe_arg_posint(L, 2, "linear", "out_features");
	int has_opts = fe_arg_options(L, 3, "linear", known);
	char name[200];
	int bias = 1;
	snprintf(name, sizeof name, "linear%d", d->nlinear + 1);
	if (has_opts) {
		if (lua_getfield(L, 3, "name") != LUA_TNIL)
			snprintf(name, sizeof name, "%s",
			         fe_arg_name(L, lua_gettop(L), "linear", "name"));
		else
			d->nlinear++;
		lua_pop(L, 1);
		if (lua_getfield(L, 3, "bias") != LUA_TNIL) {
			if (!lua_isboolean(L, -1))
				fe_sandbox_error(L, "linear: option bias must be true or false, got %s",
				                 luaL_typename(L, -1));
			bias = lua_toboolean(L, -1);
		}
		lua_pop(L, 1);
	} else {
		d->nlinear++;
	}
	if (x->shape.rank != 2) {
		char buf[96];
		return fe_sandbox_error(L, "linear: input must be 2-D [batch, in_features], got "
		                        "%s (flatten it first with reshape(x, {B, -1}))",
		                        fe_tensor_describe(x, buf, sizeof buf));
	}
	if (!ir_dtype_is_float(x->dtype))
		return fe_sandbox_error(L, "linear: input must be a float tensor, got %s",
		                        ir_dtype_name(x->dtype));
	int64_t in = x->shape.dim[1];
	double k = 1.0 / sqrt((double)in);
	ir_init init = {IR_INIT_UNIFORM, -k, k};
	char pname[256];
	snprintf(pname, sizeof pname, "%s.weight", name);
	ir_node *w = fe_new_param(L, "linear", pname, ir_shape_make(2, (int64_t[]){out, in}), init);
	ir_node *b = NULL;
	if (bias) {
		snprintf(pname, sizeof pname, "%s.bias", name);
		b = fe_new_param(L, "linear", pname, ir_shape_make(1, (int64_t[]){out}), init);
	}
	fe_dsl_here(L);
	ir_node *y = fe_dsl_built(L, ir_matmul(d->g, x, w, 0, 1));
	if (b)
		y = fe_dsl_built(L, ir_binary(d->g, IR_OP_ADD, y, b));
	fe_tensor_push(L, y);
	return 1;
}

void fe_dsl_open(lua_State *L, fe_dsl *d)
{
	static const luaL_Reg fns[] = {
		{"batch_size", fe_batch_size},
		{"input", fe_input},
		{"param", fe_param},
		{"linear", fe_linear},
		{NULL, NULL},
	};
	(void)d;
	fe_tensor_open(L);
	lua_pushglobaltable(L);
	luaL_setfuncs(L, fns, 0);
	lua_pop(L, 1);
	fe_ops_open(L);
	fe_slice_open(L);
	fe_pool_open(L);
	fe_conv_open(L);
	fe_losses_open(L);
	fe_margs_open(L);
	fe_norm_open(L);
	fe_embed_open(L);
}
