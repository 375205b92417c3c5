/*
 * fe_losses.c - the loss functions of the model language beyond
 * cross_entropy and mse_loss, named as in PyTorch: nll_loss (an op of its
 * own) and binary_cross_entropy_with_logits (built from elementwise ops,
 * so its derivatives, both inputs', come from theirs); and one_hot, which
 * turns labels into the float targets such losses take.
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_dsl.h"
#include "fe_sandbox.h"

static int push_built(lua_State *L, ir_node *n)
{
	fe_tensor_push(L, fe_dsl_built(L, n));
	return 1;
}

/* Option `reduction` of the table at idx (already checked by
 * fe_arg_options): "mean" (the default), "sum" or "none". */
static int reduction_opt(lua_State *L, int idx, const char *fn)
{
	int red = IR_REDUCE_MEAN;
	if (lua_getfield(L, idx, "reduction") != LUA_TNIL) {
		const char *r = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
		if (!strcmp(r, "none"))
			red = IR_REDUCE_NONE;
		else if (!strcmp(r, "sum"))
			red = IR_REDUCE_SUM;
		else if (strcmp(r, "mean") != 0) {
			char got[128];
			fe_arg_typename(L, -1, got, sizeof got);
			if (lua_type(L, -1) == LUA_TSTRING)
				snprintf(got, sizeof got, "\"%s\"", r);
			return fe_sandbox_error(L, "%s: option reduction must be \"mean\", \"sum\" or "
			                        "\"none\", got %s", fn, got);
		}
	}
	lua_pop(L, 1);
	return red;
}

/* nll_loss(log_probs, labels, {reduction = "mean"}) */
static int fe_nll_loss(lua_State *L)
{
	static const char *const known[] = {"reduction", NULL};
	fe_dsl *d = fe_dsl_of(L);
	ir_node *lp = fe_arg_tensor(L, 1, "nll_loss", "log-probabilities");
	ir_node *labels = fe_arg_tensor(L, 2, "nll_loss", "labels");
	int red = fe_arg_options(L, 3, "nll_loss", known) ? reduction_opt(L, 3, "nll_loss")
	                                                   : IR_REDUCE_MEAN;
	if (labels->dtype != IR_I32) {
		char buf[96];
		return fe_sandbox_error(L, "nll_loss: labels must be class indices "
		                        "(an input with dtype = \"i32\"), got %s",
		                        fe_tensor_describe(labels, buf, sizeof buf));
	}
	if (ir_attr_i(labels, IR_ATTR_NCLASSES) > 0 && lp->shape.rank == 2 &&
	    lp->shape.dim[1] != ir_attr_i(labels, IR_ATTR_NCLASSES))
		return fe_sandbox_error(L, "nll_loss: labels '%s' have %d classes but the "
		                        "log-probabilities have %lld columns",
		                        labels->name ? labels->name : "?",
		                        ir_attr_i(labels, IR_ATTR_NCLASSES), (long long)lp->shape.dim[1]);
	fe_dsl_here(L);
	return push_built(L, ir_nll_loss(d->g, lp, labels, red));
}

/* binary_cross_entropy_with_logits(x, t, {reduction = "mean", pos_weight}) */
static int fe_bce_with_logits(lua_State *L)
{
	static const char *const fn = "binary_cross_entropy_with_logits";
	static const char *const known[] = {"reduction", "pos_weight", NULL};
	fe_dsl *d = fe_dsl_of(L);
	ir_graph *g = d->g;
	ir_node *x = fe_arg_tensor(L, 1, fn, "logits");
	ir_node *t = fe_arg_tensor(L, 2, fn, "target");
	int red = IR_REDUCE_MEAN;
	ir_node *pw = NULL;
	if (fe_arg_options(L, 3, fn, known)) {
		red = reduction_opt(L, 3, fn);
		lua_getfield(L, 3, "pos_weight");
		if (lua_type(L, -1) == LUA_TNUMBER) {
			fe_dsl_here(L);
			pw = fe_dsl_built(L, ir_scalar(g, lua_tonumber(L, -1)));
		} else if (!lua_isnil(L, -1) && !(pw = fe_tensor_test(L, -1))) {
			char got[128];
			return fe_sandbox_error(L, "%s: option pos_weight must be a number or a tensor, "
			                        "got %s", fn, fe_arg_typename(L, -1, got, sizeof got));
		}
		lua_pop(L, 1);
	}
	fe_dsl_here(L);
	return push_built(L, ir_bce_with_logits(g, x, t, pw, red));
}

/* one_hot(labels, num_classes): num_classes may be left out where the
 * labels input declares its classes */
static int fe_one_hot(lua_State *L)
{
	fe_dsl *d = fe_dsl_of(L);
	ir_node *labels = fe_arg_tensor(L, 1, "one_hot", "labels");
	int64_t c = lua_isnoneornil(L, 2) ? ir_attr_i(labels, IR_ATTR_NCLASSES)
	                                  : fe_arg_posint(L, 2, "one_hot", "num_classes");
	if (labels->dtype != IR_I32) {
		char buf[96];
		return fe_sandbox_error(L, "one_hot: labels must be class indices "
		                        "(an input with dtype = \"i32\"), got %s",
		                        fe_tensor_describe(labels, buf, sizeof buf));
	}
	if (c < 1)
		return fe_sandbox_error(L, "one_hot: num_classes is missing (labels '%s' declare no "
		                        "classes)", labels->name ? labels->name : "?");
	if (c > 1 << 24)
		return fe_sandbox_error(L, "one_hot: num_classes %lld is too large", (long long)c);
	fe_dsl_here(L);
	return push_built(L, ir_one_hot(d->g, labels, (int)c));
}

void fe_losses_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"nll_loss", fe_nll_loss},
		{"binary_cross_entropy_with_logits", fe_bce_with_logits},
		{"one_hot", fe_one_hot},
		{NULL, NULL},
	};
	lua_pushglobaltable(L);
	luaL_setfuncs(L, fns, 0);
	lua_pop(L, 1);
}
