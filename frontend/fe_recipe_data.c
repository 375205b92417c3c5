/*
 * fe_recipe_data.c - the recipe's data table: its format, the files of the
 * train, test and val splits bound to the model's inputs (every input the
 * loss, metrics or state updates read needs a train file), the base
 * directory relative paths are resolved against, scaling, limits, the
 * held-out validation fraction and the augmentations.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_recipe.h"
#include "fe_recipe_read.h"
#include "rt_recipe_schema.h"

/* Data paths stay as written; relative ones are resolved by the runtime
 * against --data DIR if given, else against the model file's directory,
 * made absolute here so that a trainer built from the model finds them
 * from any working directory. */
static const char *fe_model_dir(fe_dsl *d)
{
	const char *slash = strrchr(d->path, '/');
	char dir[4096], abs[PATH_MAX];
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - d->path) + (slash == d->path), d->path);
	return ir_arena_strdup(&d->g->arena, realpath(dir, abs) ? abs : dir);
}

/* data.train / data.test / data.val: input name -> file, kept in input declaration
 * order so the runtime sees a stable order. */
static int fe_read_split(lua_State *L, int t, const char *split, data_file *files, fe_dsl *d)
{
	if (!fe_subtable(L, t, "data.", split)) {
		lua_pop(L, 1);
		return 0;
	}
	int st = lua_gettop(L), n = 0;
	lua_pushnil(L);
	while (lua_next(L, st)) {
		const char *in = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
		int found = 0;
		for (int i = 0; in && i < d->ninputs && !found; i++)
			found = strcmp(d->inputs[i].node->name, in) == 0;
		if (!found)
			fe_recipe_error(L, "data.%s: '%s' is not an input of the model (its keys "
			                "name inputs declared with input())", split,
			                in ? in : luaL_typename(L, -2));
		if (lua_type(L, -1) != LUA_TSTRING)
			fe_recipe_error(L, "data.%s.%s must be a file path (a string), got %s", split,
			                in, luaL_typename(L, -1));
		lua_pop(L, 1);
	}
	for (int i = 0; i < d->ninputs; i++) {
		const char *in = d->inputs[i].node->name;
		if (fe_get(L, st, in) == LUA_TSTRING) {
			if (n == 4)
				fe_recipe_error(L, "data.%s binds more than 4 inputs", split);
			files[n].input = ir_arena_strdup(&d->g->arena, in);
			files[n].path = ir_arena_strdup(&d->g->arena, lua_tostring(L, -1));
			n++;
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return n;
}

/* Marks in used[] (one per node) what the loss, the metrics and the state
 * updates read: an input nothing reads needs no data. Nodes are built in
 * order, so every node's inputs come before it. */
static char *fe_used_nodes(fe_dsl *d, const ir_model *m)
{
	int n = d->g->nnodes;
	char *used = ir_arena_alloc(&d->g->arena, (size_t)n + 1);
	memset(used, 0, (size_t)n + 1);
	used[m->loss->id] = 1;
	for (int i = 0; i < m->nmetrics; i++)
		used[m->metrics[i].node->id] = 1;
	for (int i = 0; i < d->nupdates; i++)
		used[d->updates[i].value->id] = 1;
	for (int i = n - 1; i >= 0; i--)
		if (used[i])
			for (int k = 0; k < d->g->nodes[i]->nin; k++)
				used[d->g->nodes[i]->in[k]->id] = 1;
	return used;
}

void fe_read_data(lua_State *L, int t, rt_recipe *r, fe_dsl *d, const ir_model *m)
{
	data_config *dc = &r->data;
	const char *pre = "data.";
	dc->format = fe_str(L, t, pre, "format", NULL);
	if (!dc->format)
		fe_recipe_error(L, "data.format is missing (\"idx\", \"csv\", \"safetensors\", "
		                   "\"cifar10\", \"cifar100\" or \"npy\")");
	fe_choice(L, "data.format", "data.format", dc->format);
	dc->base_dir = fe_model_dir(d);
	dc->ntrain = fe_read_split(L, t, "train", dc->train, d);
	dc->ntest = fe_read_split(L, t, "test", dc->test, d);
	dc->nval = fe_read_split(L, t, "val", dc->val, d);
	const char *used = fe_used_nodes(d, m);
	for (int i = 0; i < d->ninputs; i++) {
		int found = !used[d->inputs[i].node->id]; /* declared, never read: optional */
		for (int j = 0; j < dc->ntrain; j++)
			found |= strcmp(dc->train[j].input, d->inputs[i].node->name) == 0;
		if (!found)
			fe_recipe_error(L, "data.train has no file for input '%s' (declared at line %d)",
			                d->inputs[i].node->name, d->inputs[i].line);
	}
	const char *const keys[] = {"data.scale", "data.mean", "data.std", "data.drop_last",
	                            "data.limit_train", "data.limit_test"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		fe_read_key(L, t, r, keys[i]);
	if (fe_read_key(L, t, r, "data.val_split") && dc->val_split > 0 && dc->nval > 0)
		fe_recipe_error(L, "data.val and data.val_split are both given: the validation set is "
		                "either files of its own (data.val) or a fraction of the training "
		                "rows (data.val_split), not both");
	if (fe_subtable(L, t, pre, "augment")) {
		int a = lua_gettop(L);
		if (fe_subtable(L, a, "data.augment.", "crop")) {
			fe_read_key(L, lua_gettop(L), r, "data.augment.crop.size");
			fe_read_key(L, lua_gettop(L), r, "data.augment.crop.padding");
		}
		lua_pop(L, 1);
		fe_read_key(L, a, r, "data.augment.flip");
		fe_read_key(L, a, r, "data.augment.cutout");
	}
	lua_pop(L, 1);
}
