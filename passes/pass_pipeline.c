/*
 * pass_pipeline.c - the ordered passes that turn a model into programs
 * (see pass_pipeline.h for the list).
 */
#include "pass_pipeline.h"
#include "pass_autodiff.h"
#include "pass_optim.h"
#include "pass_sam.h"
#include "pass_simplify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pass_program_free(pass_program *p)
{
	ir_graph_free(p->g);
	free(p->outs);
	free(p->names);
	memset(p, 0, sizeof *p);
}

static int fail(pass_program *p, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s", p->g && p->g->has_err ? p->g->err : "out of memory");
	pass_program_free(p);
	return -1;
}

/* Runs the verifier after a pass; a failure names the pass. */
static int verified(ir_graph *g, const char *pass)
{
	if (ir_verify(g) == 0)
		return 0;
	char msg[sizeof g->err];
	snprintf(msg, sizeof msg, "after pass %s: %.990s", pass, g->err);
	snprintf(g->err, sizeof g->err, "%s", msg);
	return -1;
}

int pass_build(const ir_model *m, pass_prog_kind kind, pass_program *out, char *err, size_t errlen)
{
	pass_program p = {0};
	ir_node **map = NULL;
	if (!(p.g = ir_graph_clone(m->g, &map)))
		return fail(&p, err, errlen);
	ir_graph *g = p.g;
	int np = m->nparams;
	ir_node *loss = map[m->loss->id];
	ir_node **params = calloc((size_t)np + 1, sizeof *params);
	ir_node **grads = calloc((size_t)np + 1, sizeof *grads);
	ir_named *metrics = calloc((size_t)m->nmetrics + 1, sizeof *metrics);
	int cap = 2 + np + m->nmetrics;
	p.outs = calloc((size_t)cap, sizeof *p.outs);
	p.names = calloc((size_t)cap, sizeof *p.names);
	if (!params || !grads || !metrics || !p.outs || !p.names)
		goto fail;
	for (int i = 0; i < np; i++)
		params[i] = map[m->params[i]->id];
	for (int i = 0; i < m->nmetrics; i++) {
		metrics[i].name = m->metrics[i].name;
		metrics[i].node = map[m->metrics[i].node->id];
	}

	if (kind == PASS_PROG_EVAL) {
		if (pass_eval_rewrite(g, loss, metrics, m->nmetrics, p.outs) != 0)
			goto fail;
		p.names[0] = "loss";
		for (int i = 0; i < m->nmetrics; i++)
			p.names[1 + i] = ir_arena_strdup(&g->arena, metrics[i].name);
		p.nout = 1 + m->nmetrics;
		if (verified(g, "eval"))
			goto fail;
		goto done;
	}

	if (pass_grad(g, loss, params, np, grads) != 0 || verified(g, "autodiff"))
		goto fail;
	p.outs[0] = loss;
	p.names[0] = "loss";
	p.nout = 1;
	if (kind == PASS_PROG_AUTODIFF) {
		for (int i = 0; i < np; i++) {
			char name[512];
			snprintf(name, sizeof name, "grad.%s", params[i]->name);
			p.outs[p.nout] = grads[i];
			p.names[p.nout++] = ir_arena_strdup(&g->arena, name);
		}
		goto done;
	}
	for (int i = 0; i < m->nmetrics; i++) {
		p.outs[p.nout] = metrics[i].node;
		p.names[p.nout++] = ir_arena_strdup(&g->arena, metrics[i].name);
	}

	const opt_config *o = &m->recipe.opt;
	g->cur = loss->loc;
	ir_node *lr = ir_input(g, PASS_INPUT_LR, g->fdtype, ir_shape_scalar());
	ir_node *step = ir_input(g, PASS_INPUT_STEP, g->fdtype, ir_shape_scalar());
	if (!lr || !step)
		goto fail;
	ir_node **update_grads = grads;
	ir_node **g2 = NULL;
	if (kind == PASS_PROG_SAM) {
		if (!(g2 = calloc((size_t)np + 1, sizeof *g2)))
			goto fail;
		if (pass_sam(g, o, loss, params, grads, np, m->g->nnodes, g2) != 0) {
			free(g2);
			goto fail;
		}
		update_grads = g2;
		if (verified(g, "sam")) {
			free(g2);
			goto fail;
		}
	}
	int rc = pass_optim_lower(g, o, params, update_grads, np, lr, step);
	free(g2);
	if (rc != 0 || verified(g, "optim"))
		goto fail;
done:
	if (pass_dce(g, p.outs, p.nout) != 0 || verified(g, "dce"))
		goto fail;
	free(map);
	free(params);
	free(grads);
	free(metrics);
	*out = p;
	return 0;
fail:
	fail(&p, err, errlen);
	free(map);
	free(params);
	free(grads);
	free(metrics);
	return -1;
}

int pass_build_all(const ir_model *m, pass_programs *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	const opt_config *o = &m->recipe.opt;
	if (o->sam && pass_build(m, PASS_PROG_SAM, &out->sam, err, errlen) != 0)
		goto fail;
	if ((!o->sam || o->sam_every > 1) && pass_build(m, PASS_PROG_BASE, &out->base, err, errlen) != 0)
		goto fail;
	if (pass_build(m, PASS_PROG_EVAL, &out->eval, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	pass_programs_free(out);
	return -1;
}

void pass_programs_free(pass_programs *p)
{
	pass_program_free(&p->sam);
	pass_program_free(&p->base);
	pass_program_free(&p->eval);
}
