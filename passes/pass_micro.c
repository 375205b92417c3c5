/*
 * pass_micro.c - the accumulators of a step of micro-batches (see
 * pass_micro.h for the programs and their order).
 */
#include "pass_micro.h"
#include "pass_sam.h"

#include <stdio.h>
#include <stdlib.h>

#define ACC_GRAD "accum.grad"
#define ACC_SAM "accum.sam"

int pass_micro_count(const opt_config *o) { return rt_micro_total(o); }

/* The accumulator `what` of param p: a STATE leaf of zeros. */
static ir_node *acc_of(ir_graph *g, const ir_node *p, const char *what)
{
	char name[512];
	snprintf(name, sizeof name, "%s.%s", what, p->name);
	ir_node *s = ir_find_leaf(g, IR_OP_STATE, name);
	return s ? s : ir_state(g, name, p->dtype, p->shape);
}

static ir_node *num(ir_graph *g, double v) { return ir_const(g, g->fdtype, ir_shape_scalar(), v); }

ir_node **pass_micro_mean_grad(pass_ctx *c)
{
	ir_graph *g = c->prog.g;
	int np = c->m->nparams;
	ir_node **mean = calloc((size_t)np + 1, sizeof *mean);
	if (!mean) {
		ir_error(g, c->loss->loc, "micro: out of memory");
		return NULL;
	}
	for (int i = 0; i < np; i++) {
		g->cur = c->params[i]->loc;
		ir_node *a = acc_of(g, c->params[i], ACC_GRAD);
		if (!a || !(mean[i] = ir_binary(g, IR_OP_DIV, a, num(g, pass_micro_count(&c->m->recipe.opt))))) {
			free(mean);
			return NULL;
		}
	}
	return mean;
}

/* acc := acc + grads[i] for every param. */
static int add_into(pass_ctx *c, const char *what, ir_node *const *grads)
{
	ir_graph *g = c->prog.g;
	for (int i = 0; i < c->m->nparams; i++) {
		g->cur = c->params[i]->loc;
		ir_node *a = acc_of(g, c->params[i], what);
		if (!a || !ir_assign(g, a, ir_binary(g, IR_OP_ADD, a, grads[i])))
			return -1;
	}
	return 0;
}

/* The update's gradient (acc + update_grads[i]) / n, and acc := 0. Without
 * `own` (upd, upd_sam: the step's micro-batches ran on every rank and the
 * all-reduce summed them into acc) it is acc / n. */
static int mean_and_clear(pass_ctx *c, const char *what, int n, int own)
{
	ir_graph *g = c->prog.g;
	int np = c->m->nparams;
	ir_node **mean = calloc((size_t)np + 1, sizeof *mean);
	if (!mean)
		return -1;
	for (int i = 0; i < np; i++) {
		ir_node *p = c->params[i];
		g->cur = p->loc;
		ir_node *a = acc_of(g, p, what);
		ir_node *sum = a && own ? ir_binary(g, IR_OP_ADD, a, c->update_grads[i]) : a;
		mean[i] = sum ? ir_binary(g, IR_OP_DIV, sum, num(g, n)) : NULL;
		if (!mean[i] || !ir_assign(g, a, ir_const(g, p->dtype, p->shape, 0))) {
			free(mean);
			return -1;
		}
	}
	if (c->update_grads != c->grads)
		free(c->update_grads);
	c->update_grads = mean; /* freed with the context */
	return 0;
}

/* acc := 0 for every param. */
static int clear(pass_ctx *c, const char *what)
{
	ir_graph *g = c->prog.g;
	for (int i = 0; i < c->m->nparams; i++) {
		ir_node *p = c->params[i];
		g->cur = p->loc;
		ir_node *a = acc_of(g, p, what);
		if (!a || !ir_assign(g, a, ir_const(g, p->dtype, p->shape, 0)))
			return -1;
	}
	return 0;
}

/* GSAM under accumulation: the mean second gradient decomposed against
 * the mean first one, as one step on the whole batch would. */
static int gsam_of_means(pass_ctx *c)
{
	ir_node **g1 = pass_micro_mean_grad(c);
	int rc = !g1 || pass_gsam_decompose(c->prog.g, c->loss, g1, c->update_grads, c->m->nparams);
	free(g1);
	return rc;
}

int pass_micro_run(pass_ctx *c, char *err, size_t errlen)
{
	const opt_config *o = &c->m->recipe.opt;
	int n = pass_micro_count(o), accum = rt_micro_accum(o);
	ir_graph *g = c->prog.g;
	if (n <= 1)
		return 0;
	int rc = 0;
	switch (c->kind) {
	case PASS_PROG_ACC:
		rc = pass_state_updates(g, c->updates, c->m->nupdates) ||
		     add_into(c, ACC_GRAD, c->grads);
		break;
	case PASS_PROG_SAM_ACC:
		rc = add_into(c, ACC_SAM, c->update_grads);
		break;
	case PASS_PROG_BASE:
		rc = mean_and_clear(c, ACC_GRAD, n, 1);
		break;
	case PASS_PROG_SAM:
		rc = mean_and_clear(c, ACC_SAM, n, 1) || (accum && clear(c, ACC_GRAD)) ||
		     (accum && o->gsam && gsam_of_means(c));
		break;
	case PASS_PROG_UPD:
		rc = mean_and_clear(c, ACC_GRAD, n, 0);
		break;
	case PASS_PROG_UPD_SAM:
		rc = mean_and_clear(c, ACC_SAM, n, 0) || (accum && clear(c, ACC_GRAD)) ||
		     (accum && o->gsam && gsam_of_means(c));
		break;
	default:
		break;
	}
	/* the updating programs of several ranks run no forward pass */
	if (c->kind == PASS_PROG_UPD || c->kind == PASS_PROG_UPD_SAM)
		c->prog.nout = 0;
	/* under accumulate the programs at w~ report nothing: their loss at w
	 * would keep a forward pass alive that nothing needs */
	if (accum && (c->kind == PASS_PROG_SAM || c->kind == PASS_PROG_SAM_ACC))
		c->prog.nout = 0;
	if (rc) {
		snprintf(err, errlen, "%s", g->has_err ? g->err : "micro: out of memory");
		return -1;
	}
	return 0;
}
