/*
 * fe_embed.c - the model language's dropout and embedding, named and
 * defaulted as PyTorch's F.dropout / nn.Embedding. Each declares something
 * by name: dropout its random input ("rng.<name>", filled by the runtime
 * every step), embedding its weight ("<name>.weight").
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_dsl.h"
#include "fe_sandbox.h"

/* The layer's name: options.name, else prefix..(count + 1). */
static void layer_name(lua_State *L, int opts, const char *fn, const char *prefix, int *count,
                       char *name, size_t n)
{
	if (opts && lua_getfield(L, opts, "name") != LUA_TNIL) {
		snprintf(name, n, "%s", fe_arg_name(L, lua_gettop(L), fn, "name"));
	} else {
		(*count)++;
		snprintf(name, n, "%s%d", prefix, *count);
	}
	if (opts)
		lua_pop(L, 1);
}

/* dropout(x, p = 0.5, {name=}) */
static int fe_dropout(lua_State *L)
{
	static const char *const known[] = {"name", NULL};
	fe_dsl *d = fe_dsl_of(L);
	ir_node *x = fe_arg_tensor(L, 1, "dropout", "input");
	double p = 0.5;
	if (!lua_isnoneornil(L, 2)) {
		if (lua_type(L, 2) != LUA_TNUMBER) {
			char got[128];
			fe_arg_typename(L, 2, got, sizeof got);
			return fe_sandbox_error(L, "dropout: argument 2 (p) must be a number, got %s", got);
		}
		p = lua_tonumber(L, 2);
		if (!(p >= 0 && p <= 1))
			return fe_sandbox_error(L, "dropout: p must be in [0, 1], got %g", p);
	}
	int has_opts = fe_arg_options(L, 3, "dropout", known);
	char name[200];
	layer_name(L, has_opts ? 3 : 0, "dropout", "dropout", &d->ndropout, name, sizeof name);
	fe_dsl_here(L);
	ir_node *y = fe_dsl_built(L, ir_dropout(d->g, x, p, name));
	fe_new_follow(L, y, x); /* a bf16 tensor's dropout is bf16 */
	fe_tensor_push(L, y);
	return 1;
}

/* embedding(indices, num_embeddings, embedding_dim, {name=}): nn.Embedding,
 * weight <name>.weight [num, dim] drawn from N(0, 1) as PyTorch's */
static int fe_embedding(lua_State *L)
{
	static const char *const known[] = {"name", NULL};
	const char *fn = "embedding";
	fe_dsl *d = fe_dsl_of(L);
	ir_node *idx = fe_arg_tensor(L, 1, fn, "indices");
	int64_t num = fe_arg_posint(L, 2, fn, "num_embeddings");
	int64_t dim = fe_arg_posint(L, 3, fn, "embedding_dim");
	int has_opts = fe_arg_options(L, 4, fn, known);
	char name[200], pname[256], buf[96];
	layer_name(L, has_opts ? 4 : 0, fn, "embedding", &d->nembedding, name, sizeof name);
	if (idx->dtype != IR_I32)
		return fe_sandbox_error(L, "embedding: indices must be an i32 tensor (declare the input "
		                        "with dtype = \"i32\"), got %s",
		                        fe_tensor_describe(idx, buf, sizeof buf));
	snprintf(pname, sizeof pname, "%s.weight", name);
	ir_init init = {IR_INIT_NORMAL, 0.0, 1.0};
	ir_node *w = fe_new_param(L, fn, pname, ir_shape_make(2, (int64_t[]){num, dim}), init);
	fe_dsl_here(L);
	fe_tensor_push(L, fe_dsl_built(L, ir_embedding(d->g, w, idx)));
	return 1;
}

void fe_embed_open(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"dropout", fe_dropout},
		{"embedding", fe_embedding},
		{NULL, NULL},
	};
	lua_pushglobaltable(L);
	luaL_setfuncs(L, fns, 0);
	lua_pop(L, 1);
}
