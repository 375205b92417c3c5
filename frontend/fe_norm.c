/*
 * fe_norm.c - the normalisation layers of the model language, named,
 * defaulted and initialised as torch.nn.BatchNorm*d and nn.LayerNorm:
 *
 *     batch_norm(x, {name = "bnK", momentum = 0.1, eps = 1e-5, affine = true})
 *     layer_norm(x, normalized_shape, {name = "lnK", eps = 1e-5,
 *                elementwise_affine = true})
 *
 * batch_norm declares the parameters <name>.weight (ones) and <name>.bias
 * (zeros) and the state <name>.running_mean (zeros), <name>.running_var
 * (ones) and <name>.num_batches_tracked (a scalar in the program's float
 * dtype, starting at 0), and records their updates for the training
 * programs (ir_update). The arithmetic is ir_norm.c's.
 */
#include <math.h>
#include <stdio.h>

#include <lauxlib.h>

#include "fe_dsl.h"
#include "fe_sandbox.h"
#include "ir_norm.h"

/* Option `key` of the table at `opts` as a number (def when absent). */
static double num_opt(lua_State *L, int opts, const char *fn, const char *key, double def)
{
	double v = def;
	if (opts && lua_getfield(L, opts, key) != LUA_TNIL) {
		if (lua_type(L, -1) != LUA_TNUMBER || !isfinite(lua_tonumber(L, -1))) {
			char got[128];
			fe_arg_typename(L, -1, got, sizeof got);
			fe_sandbox_error(L, "%s: option %s must be a finite number, got %s", fn, key, got);
		}
		v = lua_tonumber(L, -1);
	}
	if (opts)
		lua_pop(L, 1);
	return v;
}

static int bool_opt(lua_State *L, int opts, const char *fn, const char *key, int def)
{
	int v = def;
	if (opts && lua_getfield(L, opts, key) != LUA_TNIL) {
		if (!lua_isboolean(L, -1))
			fe_sandbox_error(L, "%s: option %s must be true or false, got %s", fn, key,
			                 luaL_typename(L, -1));
		v = lua_toboolean(L, -1);
	}
	if (opts)
		lua_pop(L, 1);
	return v;
}

/* The layer's name: option `name`, or prefix followed by the next count. */
static void layer_name(lua_State *L, int opts, const char *fn, const char *prefix, int *count,
                       char *name, size_t len)
{
	if (opts && lua_getfield(L, opts, "name") != LUA_TNIL) {
		snprintf(name, len, "%s", fe_arg_name(L, lua_gettop(L), fn, "name"));
		lua_pop(L, 1);
		return;
	}
	if (opts)
		lua_pop(L, 1);
	snprintf(name, len, "%s%d", prefix, ++*count);
}

static ir_node *decl(lua_State *L, int is_state, const char *fn, const char *layer,
                     const char *what, ir_shape s, ir_init_kind init)
{
	char name[256];
	snprintf(name, sizeof name, "%s.%s", layer, what);
	ir_init in = {init, 0, 0};
	return is_state ? fe_new_state(L, fn, name, s, in) : fe_new_param(L, fn, name, s, in);
}

/* batch_norm(x, {name=, momentum=0.1, eps=1e-5, affine=true}) */
static int fe_batch_norm(lua_State *L)
{
	static const char *const known[] = {"name", "momentum", "eps", "affine", NULL};
	const char *fn = "batch_norm";
	fe_dsl *d = fe_dsl_of(L);
	ir_node *x = fe_arg_tensor(L, 1, fn, "input");
	int opts = fe_arg_options(L, 2, fn, known) ? 2 : 0;
	char name[200], buf[96];
	layer_name(L, opts, fn, "bn", &d->nbn, name, sizeof name);
	double momentum = num_opt(L, opts, fn, "momentum", 0.1);
	double eps = num_opt(L, opts, fn, "eps", 1e-5);
	int affine = bool_opt(L, opts, fn, "affine", 1);
	if (momentum < 0 || momentum > 1)
		return fe_sandbox_error(L, "%s: option momentum must be in [0, 1], got %g", fn, momentum);
	if (eps < 0)
		return fe_sandbox_error(L, "%s: option eps must be >= 0, got %g", fn, eps);
	if (x->shape.rank < 2 || !ir_dtype_is_float(x->dtype))
		return fe_sandbox_error(L, "%s: input must be a float tensor [N, C] or [N, C, H, W], got %s",
		                        fn, fe_tensor_describe(x, buf, sizeof buf));
	ir_shape cs = ir_shape_make(1, &x->shape.dim[1]);
	ir_node *w = affine ? decl(L, 0, fn, name, "weight", cs, IR_INIT_ONES) : NULL;
	ir_node *b = affine ? decl(L, 0, fn, name, "bias", cs, IR_INIT_ZEROS) : NULL;
	ir_node *rm = decl(L, 1, fn, name, "running_mean", cs, IR_INIT_ZEROS);
	ir_node *rv = decl(L, 1, fn, name, "running_var", cs, IR_INIT_ONES);
	ir_node *nbt = decl(L, 1, fn, name, "num_batches_tracked", ir_shape_scalar(), IR_INIT_ZEROS);
	fe_dsl_here(L);
	ir_bn_stats st;
	/* sync_bn on several ranks: the statistics of the global (micro-)batch */
	ir_node *y = fe_dsl_built(L, ir_batch_norm_ranks(d->g, x, w, b, rm, rv, ir_mode(d->g), eps,
	                                                 d->sync_bn, &st));
	fe_new_update(L, rm, fe_dsl_built(L, ir_bn_running(d->g, rm, st.mean, momentum)));
	fe_new_update(L, rv, fe_dsl_built(L, ir_bn_running(d->g, rv, st.unbiased_var, momentum)));
	fe_new_update(L, nbt, fe_dsl_built(L, ir_binary(d->g, IR_OP_ADD, nbt, ir_scalar(d->g, 1.0))));
	fe_new_follow(L, y, x);
	fe_tensor_push(L, y);
	return 1;
}

/* normalized_shape at idx: an integer or a table of integers, which must be
 * x's trailing dims; returns how many. */
static int trailing_dims(lua_State *L, int idx, const char *fn, const ir_node *x)
{
	ir_shape s;
	if (lua_type(L, idx) == LUA_TNUMBER)
		s = ir_shape_make(1, (int64_t[]){fe_arg_posint(L, idx, fn, "normalized_shape")});
	else
		s = fe_arg_shape(L, idx, fn, "normalized_shape", 0);
	int ok = s.rank >= 1 && s.rank <= x->shape.rank;
	for (int i = 0; ok && i < s.rank; i++)
		ok = s.dim[i] == x->shape.dim[x->shape.rank - s.rank + i];
	if (!ok) {
		char a[96], b[96];
		fe_sandbox_error(L, "%s: normalized_shape %s must be the trailing dims of the input %s", fn,
		                 ir_shape_str(&s, a, sizeof a), fe_tensor_describe(x, b, sizeof b));
	}
	return s.rank;
}

/* layer_norm(x, normalized_shape, {name=, eps=1e-5, elementwise_affine=true}) */
static int fe_layer_norm(lua_State *L)
{
	static const char *const known[] = {"name", "eps", "elementwise_affine", NULL};
	const char *fn = "layer_norm";
	fe_dsl *d = fe_dsl_of(L);
	ir_node *x = fe_arg_tensor(L, 1, fn, "input");
	char name[200], buf[96];
	if (!ir_dtype_is_float(x->dtype))
		return fe_sandbox_error(L, "%s: input must be a float tensor, got %s", fn,
		                        fe_tensor_describe(x, buf, sizeof buf));
	int nd = trailing_dims(L, 2, fn, x);
	int opts = fe_arg_options(L, 3, fn, known) ? 3 : 0;
	layer_name(L, opts, fn, "ln", &d->nln, name, sizeof name);
	double eps = num_opt(L, opts, fn, "eps", 1e-5);
	int affine = bool_opt(L, opts, fn, "elementwise_affine", 1);
	if (eps < 0)
		return fe_sandbox_error(L, "%s: option eps must be >= 0, got %g", fn, eps);
	ir_shape ns = ir_shape_make(nd, &x->shape.dim[x->shape.rank - nd]);
	ir_node *w = affine ? decl(L, 0, fn, name, "weight", ns, IR_INIT_ONES) : NULL;
	ir_node *b = affine ? decl(L, 0, fn, name, "bias", ns, IR_INIT_ZEROS) : NULL;
	fe_dsl_here(L);
	ir_node *y = fe_dsl_built(L, ir_layer_norm(d->g, x, nd, w, b, eps));
	fe_new_follow(L, y, x);
	fe_tensor_push(L, y);
	return 1;
}

void fe_norm_open(lua_State *L)
{
	lua_pushcfunction(L, fe_batch_norm);
	lua_setglobal(L, "batch_norm");
	lua_pushcfunction(L, fe_layer_norm);
	lua_setglobal(L, "layer_norm");
}
