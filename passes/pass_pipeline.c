/*
 * pass_pipeline.c - the graph rows of the pass table (see pass_table.h for
 * the whole table) and pass_build, which runs them over a model.
 */
#include "pass_pipeline.h"
#include "pass_autodiff.h"
#include "pass_ema.h"
#include "pass_looksam.h"
#include "pass_micro.h"
#include "pass_optim.h"
#include "pass_precision.h"
#include "pass_sam.h"
#include "pass_simplify.h"
#include "pass_table.h"

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

static int graph_err(pass_ctx *c, char *err, size_t errlen)
{
	ir_graph *g = c->prog.g;
	snprintf(err, errlen, "%s", g && g->has_err ? g->err : "out of memory");
	return -1;
}

static void set_metrics_out(pass_ctx *c)
{
	pass_program *p = &c->prog;
	p->outs[0] = c->loss;
	p->names[0] = "loss";
	p->nout = 1;
	for (int i = 0; i < c->m->nmetrics; i++) {
		p->outs[p->nout] = c->metrics[i].node;
		p->names[p->nout++] = c->metrics[i].name;
	}
}

/* ir: the program's own copy of the model's graph. */
static int run_ir(pass_ctx *c, char *err, size_t errlen)
{
	const ir_model *m = c->m;
	ir_node **map = NULL;
	pass_program *p = &c->prog;
	if (!(p->g = ir_graph_clone(m->g, &map)))
		return graph_err(c, err, errlen);
	int np = m->nparams, cap = 2 + np + m->nmetrics;
	c->params = calloc((size_t)np + 1, sizeof *c->params);
	c->grads = calloc((size_t)np + 1, sizeof *c->grads);
	c->metrics = calloc((size_t)m->nmetrics + 1, sizeof *c->metrics);
	c->updates = calloc((size_t)m->nupdates + 1, sizeof *c->updates);
	p->outs = calloc((size_t)cap, sizeof *p->outs);
	p->names = calloc((size_t)cap, sizeof *p->names);
	if (!c->params || !c->grads || !c->metrics || !c->updates || !p->outs || !p->names) {
		free(map);
		return graph_err(c, err, errlen);
	}
	for (int i = 0; i < np; i++)
		c->params[i] = map[m->params[i]->id];
	for (int i = 0; i < m->nmetrics; i++) {
		c->metrics[i].name = ir_arena_strdup(&p->g->arena, m->metrics[i].name);
		c->metrics[i].node = map[m->metrics[i].node->id];
	}
	for (int i = 0; i < m->nupdates; i++) {
		c->updates[i].target = map[m->updates[i].target->id];
		c->updates[i].value = map[m->updates[i].value->id];
	}
	c->loss = map[m->loss->id];
	free(map);
	set_metrics_out(c);
	c->forward_end = p->g->nnodes;
	return 0;
}

/* precision: with precision = "bf16", bf16 compute over f32 master weights
 * (pass_precision.c); f32 leaves the graph as it is. */
static int run_precision(pass_ctx *c, char *err, size_t errlen)
{
	if (c->m->recipe.precision != RT_PRECISION_BF16)
		return 0;
	int nr = 1 + c->m->nmetrics + c->m->nupdates;
	ir_node ***roots = calloc((size_t)nr, sizeof *roots);
	if (!roots)
		return graph_err(c, err, errlen);
	int k = 0;
	roots[k++] = &c->loss;
	for (int i = 0; i < c->m->nmetrics; i++)
		roots[k++] = &c->metrics[i].node;
	for (int i = 0; i < c->m->nupdates; i++)
		roots[k++] = &c->updates[i].value;
	/* the program is the model's clone, node for node (run_ir) */
	ir_graph *g = c->prog.g;
	ir_follow *fw = calloc((size_t)c->m->nfollows + 1, sizeof *fw);
	int rc = -1;
	if (fw && g->nnodes == c->m->g->nnodes) {
		for (int i = 0; i < c->m->nfollows; i++)
			fw[i] = (ir_follow){g->nodes[c->m->follows[i].out->id],
			                    g->nodes[c->m->follows[i].in->id]};
		rc = pass_precision(g, c->loss->loc, roots, k, fw, c->m->nfollows);
	}
	free(fw);
	free(roots);
	if (rc != 0)
		return graph_err(c, err, errlen);
	set_metrics_out(c);
	c->forward_end = c->prog.g->nnodes;
	return 0;
}

static int run_autodiff(pass_ctx *c, char *err, size_t errlen)
{
	ir_graph *g = c->prog.g;
	int np = c->m->nparams;
	ir_resolve_mode(g, IR_MODE_TRAIN); /* the training programs' mode */
	if (pass_grad(g, c->loss, c->params, np, c->grads) != 0)
		return graph_err(c, err, errlen);
	c->update_grads = c->grads;
	if (c->kind != PASS_PROG_AUTODIFF)
		return 0;
	pass_program *p = &c->prog;
	p->nout = 1;
	for (int i = 0; i < np; i++) {
		char name[512];
		snprintf(name, sizeof name, "grad.%s", c->params[i]->name);
		p->outs[p->nout] = c->grads[i];
		p->names[p->nout++] = ir_arena_strdup(&g->arena, name);
	}
	return 0;
}

/* The step's scalar inputs, made once before the first node that reads them. */
static int step_inputs(pass_ctx *c, ir_node **lr, ir_node **step)
{
	ir_graph *g = c->prog.g;
	g->cur = c->loss->loc;
	*lr = ir_find_leaf(g, IR_OP_INPUT, PASS_INPUT_LR);
	*step = ir_find_leaf(g, IR_OP_INPUT, PASS_INPUT_STEP);
	if (!*lr)
		*lr = ir_input(g, PASS_INPUT_LR, g->fdtype, ir_shape_scalar());
	if (!*step)
		*step = ir_input(g, PASS_INPUT_STEP, g->fdtype, ir_shape_scalar());
	return *lr && *step ? 0 : -1;
}

static int run_sam(pass_ctx *c, char *err, size_t errlen)
{
	ir_node *lr, *step;
	int np = c->m->nparams;
	ir_node **g2 = calloc((size_t)np + 1, sizeof *g2);
	/* with optimizer.accumulate the perturbation comes from the mean of
	 * the step's first gradients, and the state moved with them */
	ir_node **g1 = c->grads;
	int accum = rt_micro_accum(&c->m->recipe.opt);
	if (g2 && accum && !(g1 = pass_micro_mean_grad(c)))
		return graph_err(c, err, errlen);
	/* GSAM's decomposition is of the means (pass_micro.c), not per micro-batch */
	opt_config o = c->m->recipe.opt;
	if (accum)
		o.gsam = 0;
	int rc = !g2 || step_inputs(c, &lr, &step) ||
	         pass_sam(c->prog.g, &o, c->loss, c->params, g1, np,
	                  c->forward_end, c->updates, accum ? 0 : c->m->nupdates, g2) != 0;
	if (g1 != c->grads)
		free(g1);
	if (rc) {
		free(g2);
		return graph_err(c, err, errlen);
	}
	c->update_grads = g2; /* freed with the context */
	if (c->m->recipe.opt.looksam &&
	    pass_looksam_store(c->prog.g, c->params, c->grads, g2, np) != 0)
		return graph_err(c, err, errlen);
	return 0;
}

/* LookSAM's steps between SAM steps: the base optimizer gets g mixed with
 * the stored g_v (pass_looksam.h). */
static int looksam_mix(pass_ctx *c)
{
	int np = c->m->nparams;
	ir_node **mixed = calloc((size_t)np + 1, sizeof *mixed);
	if (!mixed || pass_looksam_mix(c->prog.g, c->params, c->grads, np, mixed) != 0) {
		free(mixed);
		return -1;
	}
	c->update_grads = mixed; /* freed with the context */
	return 0;
}

static int run_optim(pass_ctx *c, char *err, size_t errlen)
{
	ir_node *lr, *step;
	/* a SAM step's state updates are pass_sam's (from its first pass);
	 * upd's were its micro-batches' */
	if (c->kind != PASS_PROG_SAM && c->kind != PASS_PROG_UPD && c->kind != PASS_PROG_UPD_SAM &&
	    pass_state_updates(c->prog.g, c->updates, c->m->nupdates) != 0)
		return graph_err(c, err, errlen);
	const opt_config *o = &c->m->recipe.opt;
	if (c->kind == PASS_PROG_BASE && o->sam && o->looksam && looksam_mix(c) != 0)
		return graph_err(c, err, errlen);
	if (step_inputs(c, &lr, &step) ||
	    pass_optim_lower(c->prog.g, o, c->params, c->update_grads, c->m->nparams, lr, step) != 0)
		return graph_err(c, err, errlen);
	/* the EMA follows the weights the update just assigned */
	if (c->m->recipe.ema && pass_ema(c->prog.g, c->params, c->m->nparams) != 0)
		return graph_err(c, err, errlen);
	return 0;
}

static int run_eval(pass_ctx *c, char *err, size_t errlen)
{
	if (pass_eval_rewrite(c->prog.g, c->loss, c->metrics, c->m->nmetrics, c->prog.outs) != 0)
		return graph_err(c, err, errlen);
	if (c->opt && c->opt->eval_logits && pass_eval_keep_logits(c->prog.g, c->loss) != 0)
		return graph_err(c, err, errlen);
	return 0;
}

static int run_simplify(pass_ctx *c, char *err, size_t errlen)
{
	if (pass_simplify(c->prog.g, c->prog.outs, c->prog.nout) != 0)
		return graph_err(c, err, errlen);
	return 0;
}

static int run_dce(pass_ctx *c, char *err, size_t errlen)
{
	if (pass_dce(c->prog.g, c->prog.outs, c->prog.nout) != 0)
		return graph_err(c, err, errlen);
	/* ranks evaluate different batches, and different numbers of them: a
	 * collective in evaluation would wait for ranks that never come. The
	 * eval mode selects batch_norm's running statistics, so sync_bn's sums
	 * over the ranks are dead here. */
	for (int i = 0; c->kind == PASS_PROG_EVAL && i < c->prog.g->nnodes; i++)
		if (c->prog.g->nodes[i]->op == IR_OP_RANK_SUM)
			return ir_failf(err, errlen, "internal: the evaluation program holds a sum over the "
			                "ranks (node %%%d, rank_sum); evaluation must not communicate", i);
	return 0;
}

/* The model graph as the front end built it, with its loss and metrics. */
static int print_ir(FILE *out, pass_ctx *c, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	ir_print(out, c->prog.g);
	fprintf(out, "loss = %%%d\n", c->loss->id);
	for (int i = 0; i < c->m->nmetrics; i++)
		fprintf(out, "metric %s = %%%d\n", c->metrics[i].name, c->metrics[i].node->id);
	for (int i = 0; i < c->m->nupdates; i++)
		fprintf(out, "update %s := %%%d (training steps)\n", c->updates[i].target->name,
		        c->updates[i].value->id);
	return 0;
}

/* A program with its outputs and, for a training step, a census of what
 * it does: forward/backward passes, assigns. */
static int print_program(FILE *out, pass_ctx *c, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	const pass_program *p = &c->prog;
	ir_print(out, p->g);
	for (int i = 0; i < p->nout; i++)
		fprintf(out, "output %s = %%%d\n", p->names[i], p->outs[i]->id);
	int bwd = 0, pa = 0, sa = 0;
	for (int i = 0; i < p->g->nnodes; i++) {
		const ir_node *n = p->g->nodes[i];
		bwd += n->op == IR_OP_CROSS_ENTROPY_GRAD || n->op == IR_OP_NLL_LOSS_GRAD;
		if (n->op == IR_OP_ASSIGN) {
			pa += n->in[0]->op == IR_OP_PARAM;
			sa += n->in[0]->op == IR_OP_STATE;
		}
	}
	if ((c->kind == PASS_PROG_BASE || c->kind == PASS_PROG_SAM) && pa + sa == 0)
		fprintf(out, "summary: %d gradient computations (forward+backward passes), no update yet "
		             "(that is the optim pass)\n", bwd);
	else if (c->kind == PASS_PROG_BASE || c->kind == PASS_PROG_SAM)
		fprintf(out, "summary: %d gradient computations (forward+backward passes), %d of %d params "
		             "assigned once by the update (no restore), %d state assigns\n",
		        bwd, pa, c->m->nparams, sa);
	return 0;
}

static const pass_row graph_rows[] = {
	{"ir", NULL, "the graph IR of the forward pass, loss and metrics", PASS_FOR_ALL, run_ir,
	 pass_verify_graph, print_ir},
	{"precision", NULL,
	 "precision = \"bf16\": bf16 compute over f32 master weights (autocast's rules)",
	 PASS_FOR_ALL, run_precision, pass_verify_graph, print_ir},
	{"autodiff", NULL, "+ reverse-mode gradients of the loss for every parameter",
	 PASS_FOR(PASS_PROG_AUTODIFF) | PASS_FOR_TRAIN | PASS_FOR_MICRO, run_autodiff,
	 pass_verify_graph, print_program},
	{"sam", NULL, "a SAM training step: perturb, recompute (no restore)",
	 PASS_FOR(PASS_PROG_SAM) | PASS_FOR(PASS_PROG_SAM_ACC), run_sam, pass_verify_graph,
	 print_program},
	{"micro", NULL, "a step of micro-batches: gradients summed into accumulators",
	 PASS_FOR_TRAIN | PASS_FOR_MICRO | PASS_FOR_UPD, pass_micro_run, pass_verify_graph,
	 print_program},
	{"optim", NULL, "a training step: + the base optimizer's update",
	 PASS_FOR_TRAIN | PASS_FOR_UPD, run_optim, pass_verify_graph, print_program},
	{"eval", NULL, "the evaluation step: loss and metrics as masked sums",
	 PASS_FOR(PASS_PROG_EVAL), run_eval, pass_verify_graph, print_program},
	{"simplify", NULL, "common subexpressions merged, ops over constants folded", PASS_FOR_ALL,
	 run_simplify, pass_verify_graph, print_program},
	{"dce", NULL, "nodes that no output or assign needs dropped", PASS_FOR_ALL, run_dce,
	 pass_verify_graph, print_program},
};

const pass_row *pass_graph_rows(int *n)
{
	*n = (int)(sizeof graph_rows / sizeof graph_rows[0]);
	return graph_rows;
}

void pass_ctx_free(pass_ctx *c)
{
	if (c->update_grads != c->grads)
		free(c->update_grads);
	free(c->params);
	free(c->grads);
	free(c->metrics);
	free(c->updates);
	c->updates = NULL;
	pass_program_free(&c->prog);
	c->params = c->grads = c->update_grads = NULL;
	c->metrics = NULL;
}

int pass_ctx_build(pass_ctx *c, const ir_model *m, pass_prog_kind kind, const pass_options *o,
                   int *stopped, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	c->m = m;
	c->kind = kind;
	c->prog.kind = kind;
	c->opt = o;
	int n;
	const pass_row *rows = pass_graph_rows(&n);
	if (pass_run_rows(c, rows, n, o, stopped, err, errlen) != 0) {
		pass_ctx_free(c);
		return -1;
	}
	return 0;
}

int pass_build_opt(const ir_model *m, pass_prog_kind kind, const pass_options *o,
                   pass_program *out, char *err, size_t errlen)
{
	pass_ctx c;
	pass_options run;
	if (o)
		run = *o;
	else
		pass_options_default(&run);
	run.stop = NULL;
	if (pass_ctx_build(&c, m, kind, &run, NULL, err, errlen) != 0)
		return -1;
	*out = c.prog;
	memset(&c.prog, 0, sizeof c.prog);
	pass_ctx_free(&c);
	return 0;
}

int pass_build(const ir_model *m, pass_prog_kind kind, pass_program *out, char *err, size_t errlen)
{
	return pass_build_opt(m, kind, NULL, out, err, errlen);
}

/* A step over several ranks: the micro-batch programs and upd / upd_sam. */
static int build_dist(const ir_model *m, const pass_options *po, pass_programs *out, char *err,
                      size_t errlen)
{
	const opt_config *o = &m->recipe.opt;
	int base_steps = !o->sam || rt_sam_period(o) > 1;
	if (((base_steps || (o->sam && o->sam_sync)) &&
	     pass_build_opt(m, PASS_PROG_ACC, po, &out->acc, err, errlen)) ||
	    (base_steps && pass_build_opt(m, PASS_PROG_UPD, po, &out->upd, err, errlen)) ||
	    (o->sam && pass_build_opt(m, PASS_PROG_SAM_ACC, po, &out->sam_acc, err, errlen)) ||
	    (o->sam && pass_build_opt(m, PASS_PROG_UPD_SAM, po, &out->upd_sam, err, errlen)) ||
	    pass_build_opt(m, PASS_PROG_EVAL, po, &out->eval, err, errlen)) {
		pass_programs_free(out);
		return -1;
	}
	return 0;
}

int pass_build_all_opt(const ir_model *m, const pass_options *po, pass_programs *out, char *err,
                       size_t errlen)
{
	memset(out, 0, sizeof *out);
	const opt_config *o = &m->recipe.opt;
	if (rt_micro_dist(o))
		return build_dist(m, po, out, err, errlen);
	if (o->sam && pass_build_opt(m, PASS_PROG_SAM, po, &out->sam, err, errlen) != 0)
		goto fail;
	if ((!o->sam || rt_sam_period(o) > 1) &&
	    pass_build_opt(m, PASS_PROG_BASE, po, &out->base, err, errlen) != 0)
		goto fail;
	if (o->accumulate > 1 &&
	    pass_build_opt(m, PASS_PROG_ACC, po, &out->acc, err, errlen) != 0)
		goto fail;
	if (o->sam && (o->accumulate > 1 || o->sam_m > 1) &&
	    pass_build_opt(m, PASS_PROG_SAM_ACC, po, &out->sam_acc, err, errlen) != 0)
		goto fail;
	if (pass_build_opt(m, PASS_PROG_EVAL, po, &out->eval, err, errlen) != 0)
		goto fail;
	return 0;
fail:
	pass_programs_free(out);
	return -1;
}

int pass_build_all(const ir_model *m, pass_programs *out, char *err, size_t errlen)
{
	return pass_build_all_opt(m, NULL, out, err, errlen);
}

void pass_programs_free(pass_programs *p)
{
	pass_program_free(&p->sam);
	pass_program_free(&p->base);
	pass_program_free(&p->eval);
	pass_program_free(&p->acc);
	pass_program_free(&p->sam_acc);
	pass_program_free(&p->upd);
	pass_program_free(&p->upd_sam);
}
