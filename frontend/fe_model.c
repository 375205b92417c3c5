/*
 * fe_model.c - fe_load_model: runs a model file in the sandbox with the DSL
 * loaded, applies --set overrides to the table it returns, validates that
 * table as the training recipe and packs everything into an ir_model.
 * All Lua work happens inside one protected call, so no Lua error (memory
 * included) can escape as a crash.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "fe_dsl.h"
#include "fe_model.h"
#include "fe_recipe.h"
#include "fe_sandbox.h"

void fe_options_init(fe_options *o)
{
	memset(o, 0, sizeof *o);
	o->fdtype = IR_F32;
}

typedef struct {
	fe_dsl *d;
	const fe_options *opt;
	ir_model *m;
	int micro, micro_batch; /* micro > 1: build at micro_batch (fe_load_model) */
	int sync_bn;            /* > 1: batch_norm over that many ranks (the recipe's sync_bn) */
} fe_job;

/* The `return` hook reports the line where the return finished (the
 * closing brace of a table spanning lines); users look for the line that
 * says `return`, so walk back to it. */
static int fe_return_keyword_line(const char *path, int end_line)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return end_line;
	char buf[4096];
	int line = 0, found = 0;
	while (line < end_line && fgets(buf, sizeof buf, f)) {
		size_t n = strlen(buf);
		int whole = n > 0 && buf[n - 1] == '\n';
		line++;
		const char *p = buf;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "return", 6) == 0 && !isalnum((unsigned char)p[6]) && p[6] != '_')
			found = line;
		/* a line longer than the buffer continues without counting */
		while (!whole && fgets(buf, sizeof buf, f)) {
			n = strlen(buf);
			whole = n > 0 && buf[n - 1] == '\n';
		}
	}
	fclose(f);
	return found ? found : end_line;
}

static void fe_copy_decls(fe_dsl *d, const fe_decl *src, int n, ir_node ***dst, int *ndst)
{
	*dst = ir_arena_alloc(&d->g->arena, (size_t)(n ? n : 1) * sizeof **dst);
	for (int i = 0; i < n; i++)
		(*dst)[i] = src[i].node;
	*ndst = n;
}

/* Protected: everything that touches Lua. */
static int fe_run(lua_State *L)
{
	fe_job *job = lua_touserdata(L, 1);
	fe_sandbox *sb = fe_sandbox_of(L);
	fe_dsl *d = job->d;
	const fe_options *opt = job->opt;

	fe_sandbox_open_libs(L);
	fe_dsl_open(L, d);
	d->ranks = opt->ranks;
	d->batch_override = fe_recipe_batch_override(L, opt->sets, opt->nsets);
	if (job->micro > 1) {
		d->micro = job->micro;
		d->batch_override = job->micro_batch;
	}
	d->sync_bn = job->sync_bn;
	fe_sandbox_load(L);
	lua_call(L, 0, 1);
	/* the model is complete: nothing may add to the graph from here on */
	d->sealed = 1;
	int unused = fe_margs_unused(d);
	if (unused >= 0)
		return fe_recipe_error(L, "--arg %s: the model never reads '%.*s' with arg()",
		                       d->margs[unused], (int)strcspn(d->margs[unused], "="),
		                       d->margs[unused]);
	sb->return_line = fe_return_keyword_line(sb->path, sb->return_line);
	if (!lua_istable(L, -1)) {
		char got[128];
		fe_arg_typename(L, -1, got, sizeof got);
		return fe_recipe_error(L, "the model file must return a table {loss = ..., "
		                       "optimizer = ..., ...}, got %s", got);
	}
	fe_recipe_apply_sets(L, -1, opt->sets, opt->nsets);
	fe_recipe_read(L, -1, d, job->m);
	return 0;
}

static int load_once(const char *path, const fe_options *opt, int micro, int micro_batch,
                     int sync_bn, ir_model **out, char *err, size_t errlen)
{
	fe_options defaults;
	if (!opt) {
		fe_options_init(&defaults);
		opt = &defaults;
	}
	*out = NULL;
	if (opt->fdtype != IR_F32 && opt->fdtype != IR_F64) {
		snprintf(err, errlen, "%s: the program float dtype must be f32 or f64", path);
		return 1;
	}
	ir_model *m = calloc(1, sizeof *m);
	ir_graph *g = m ? ir_graph_new(opt->fdtype) : NULL;
	fe_sandbox sb;
	lua_State *L = g ? fe_sandbox_new(&sb, path, opt->max_memory, opt->max_instructions) : NULL;
	if (!L) {
		snprintf(err, errlen, "%s: out of memory starting the model interpreter", path);
		if (g)
			ir_graph_free(g);
		free(m);
		return 1;
	}
	m->g = g;
	m->file = ir_arena_strdup(&g->arena, path);
	fe_dsl d = {.g = g, .path = path, .margs = opt->args, .nmargs = opt->nargs};
	if (opt->nargs > FE_MAX_ARGS || (opt->nargs > 0 && !opt->args)) {
		snprintf(err, errlen, "%s: at most %d model arguments", path, FE_MAX_ARGS);
		fe_sandbox_close(L);
		ir_graph_free(g);
		free(m);
		return 1;
	}
	for (int i = 0; i < opt->nargs; i++)
		if (!strchr(opt->args[i], '=') || opt->args[i][0] == '=') {
			snprintf(err, errlen, "%s: model argument '%s' is not name=value", path, opt->args[i]);
			fe_sandbox_close(L);
			ir_graph_free(g);
			free(m);
			return 1;
		}
	sb.user = &d;
	g->max_nodes = opt->max_ops > 0 ? opt->max_ops : FE_DEFAULT_MAX_OPS;
	fe_job job = {&d, opt, m, micro, micro_batch, sync_bn};
	lua_pushcfunction(L, fe_run);
	lua_pushlightuserdata(L, &job);
	int st = fe_sandbox_pcall(L, 1, 0, err, errlen);
	fe_sandbox_close(L);
	g->max_nodes = 0; /* the passes build what the model implies */
	if (st != LUA_OK) {
		fe_model_free(m);
		return 1;
	}
	fe_copy_decls(&d, d.params, d.nparams, &m->params, &m->nparams);
	fe_copy_decls(&d, d.inputs, d.ninputs, &m->inputs, &m->ninputs);
	m->updates = d.updates;
	m->nupdates = d.nupdates;
	m->follows = d.follows;
	m->nfollows = d.nfollows;
	*out = m;
	return 0;
}

int fe_load_model(const char *path, const fe_options *opt, ir_model **out,
                  char *err, size_t errlen)
{
	int rc = load_once(path, opt, 0, 0, 0, out, err, errlen);
	if (rc)
		return rc;
	/* A step of micro-batches runs the model at batch_size / n: the file
	 * runs again with that batch, as under --set batch_size (fe_check_micro
	 * has checked that n divides it). On several ranks n counts the
	 * micro-batches of all of them. */
	int n = rt_micro_total(&(*out)->recipe.opt);
	if (n <= 1)
		return 0;
	int b = (*out)->recipe.batch_size;
	/* sync_bn on several ranks: batch_norm sums its statistics over them
	 * (one rank: nothing to synchronise, no collective) */
	int ranks = (*out)->recipe.opt.ranks;
	int sync_bn = (*out)->recipe.sync_bn && ranks > 1 ? ranks : 0;
	fe_model_free(*out);
	*out = NULL;
	return load_once(path, opt, n, b / n, sync_bn, out, err, errlen);
}

void fe_model_free(ir_model *m)
{
	if (!m)
		return;
	if (m->g)
		ir_graph_free(m->g);
	free(m);
}
