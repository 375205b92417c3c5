/*
 * cli_emit.c - `samc emit --stage=STAGE model.lua`: compile a model up to a
 * named stage and print it. The stage table grows with the pipeline; each
 * stage gets the loaded model and prints to `out`.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ir.h"
#include "cg_cpu.h"
#include "pass_pipeline.h"

typedef struct {
	const char *name;
	const char *summary;
	/* 0 = ok; else writes "file:line: message" into err */
	int (*run)(ir_model *m, FILE *out, char *err, size_t errlen);
} cli_stage;

/* The graph the front end built: forward pass, loss and metrics. */
static int cli_stage_ir(ir_model *m, FILE *out, char *err, size_t errlen)
{
	if (ir_verify(m->g)) {
		snprintf(err, errlen, "%s", m->g->err);
		return 1;
	}
	ir_print(out, m->g);
	fprintf(out, "loss = %%%d\n", m->loss->id);
	for (int i = 0; i < m->nmetrics; i++)
		fprintf(out, "metric %s = %%%d\n", m->metrics[i].name, m->metrics[i].node->id);
	return 0;
}

/* A program after the pipeline, with its outputs and a census of what the
 * step does: forward/backward passes, assigns, and any other write. */
static int emit_program(ir_model *m, pass_prog_kind kind, FILE *out, char *err, size_t errlen)
{
	pass_program p;
	if (pass_build(m, kind, &p, err, errlen) != 0)
		return 1;
	ir_print(out, p.g);
	for (int i = 0; i < p.nout; i++)
		fprintf(out, "output %s = %%%d\n", p.names[i], p.outs[i]->id);
	int bwd = 0, pa = 0, sa = 0;
	for (int i = 0; i < p.g->nnodes; i++) {
		const ir_node *n = p.g->nodes[i];
		bwd += n->op == IR_OP_CROSS_ENTROPY_GRAD;
		if (n->op == IR_OP_ASSIGN) {
			pa += n->in[0]->op == IR_OP_PARAM;
			sa += n->in[0]->op == IR_OP_STATE;
		}
	}
	if (kind == PASS_PROG_BASE || kind == PASS_PROG_SAM)
		fprintf(out, "summary: %d gradient computations (forward+backward passes), %d of %d params "
		             "assigned once by the update (no restore), %d state assigns\n",
		        bwd, pa, m->nparams, sa);
	pass_program_free(&p);
	return 0;
}

static int cli_stage_autodiff(ir_model *m, FILE *out, char *err, size_t errlen)
{
	return emit_program(m, PASS_PROG_AUTODIFF, out, err, errlen);
}

static int cli_stage_optim(ir_model *m, FILE *out, char *err, size_t errlen)
{
	return emit_program(m, PASS_PROG_BASE, out, err, errlen);
}

static int cli_stage_sam(ir_model *m, FILE *out, char *err, size_t errlen)
{
	if (!m->recipe.opt.sam) {
		snprintf(err, errlen, "%s: the recipe has no SAM (optimizer.sam); try --stage=optim", m->file);
		return 1;
	}
	return emit_program(m, PASS_PROG_SAM, out, err, errlen);
}

static int cli_stage_eval(ir_model *m, FILE *out, char *err, size_t errlen)
{
	return emit_program(m, PASS_PROG_EVAL, out, err, errlen);
}

/* The CPU backend's view of the training step (SAM when the recipe has it). */
static int emit_cpu(ir_model *m, const char *stage, FILE *out, char *err, size_t errlen)
{
	pass_program p;
	if (pass_build(m, m->recipe.opt.sam ? PASS_PROG_SAM : PASS_PROG_BASE, &p, err, errlen) != 0)
		return 1;
	int rc = cg_cpu_emit(out, stage, p.g, p.outs, p.nout, err, errlen) != 0;
	pass_program_free(&p);
	return rc;
}

static int cli_stage_fused(ir_model *m, FILE *out, char *err, size_t errlen)
{
	return emit_cpu(m, "fused", out, err, errlen);
}

static int cli_stage_plan(ir_model *m, FILE *out, char *err, size_t errlen)
{
	return emit_cpu(m, "plan", out, err, errlen);
}

static int cli_stage_loops(ir_model *m, FILE *out, char *err, size_t errlen)
{
	return emit_cpu(m, "loops", out, err, errlen);
}

static int cli_stage_llvm(ir_model *m, FILE *out, char *err, size_t errlen)
{
	return emit_cpu(m, "llvm", out, err, errlen);
}

static const cli_stage stages[] = {
	{"ir", "the graph IR of the forward pass, loss and metrics", cli_stage_ir},
	{"autodiff", "+ reverse-mode gradients of the loss for every parameter", cli_stage_autodiff},
	{"optim", "a plain training step: + the base optimizer's update", cli_stage_optim},
	{"sam", "a SAM training step: perturb, recompute, update (no restore)", cli_stage_sam},
	{"eval", "the evaluation step: loss and metrics as masked sums", cli_stage_eval},
	{"fused", "the training step's kernels (CPU) and the nodes fused into each", cli_stage_fused},
	{"plan", "kernels, buffers and peak bytes of the training step (CPU)", cli_stage_plan},
	{"loops", "the loop IR of the training step's kernels", cli_stage_loops},
	{"llvm", "the optimized LLVM IR of the training step", cli_stage_llvm},
};
#define NSTAGES ((int)(sizeof stages / sizeof stages[0]))

static void cli_list_stages(FILE *f)
{
	fprintf(f, "stages:\n");
	for (int i = 0; i < NSTAGES; i++)
		fprintf(f, "  %-10s %s\n", stages[i].name, stages[i].summary);
}

int cli_emit(int argc, char **argv)
{
	cli_model_args a;
	cli_model_args_init(&a);
	const char *stage = NULL;
	for (int i = 1; i < argc;) {
		int bad = 0;
		const char *v = cli_option_value("--stage", &i, argc, argv, &bad);
		if (v) {
			stage = v;
			continue;
		}
		if (bad)
			return cli_usage_error("emit", "--stage needs a value");
		int r = cli_take_model_arg(&a, &i, argc, argv, "emit");
		if (r < 0)
			return CLI_ERR_USAGE;
		if (r == 0)
			return cli_usage_error("emit", "unknown option '%s'", argv[i]);
	}
	if (stage && strcmp(stage, "list") == 0) {
		cli_list_stages(stdout);
		return CLI_OK;
	}
	if (!stage)
		return cli_usage_error("emit", "--stage is required (try --stage=ir)");
	const cli_stage *st = NULL;
	for (int i = 0; i < NSTAGES; i++)
		if (strcmp(stages[i].name, stage) == 0)
			st = &stages[i];
	if (!st) {
		cli_usage_error("emit", "unknown stage '%s'", stage);
		cli_list_stages(stderr);
		return CLI_ERR_USAGE;
	}
	if (!a.model)
		return cli_usage_error("emit", "no model file given");
	ir_model *m;
	int rc = cli_load_model(&a, &m);
	if (rc)
		return rc;
	char err[2048];
	if (st->run(m, stdout, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		rc = CLI_ERR_MODEL;
	}
	fe_model_free(m);
	return rc;
}
