/*
 * cli_emit.c - `samc emit --stage=STAGE model.lua`: compile a model up to a
 * named row of the pass table (passes/pass_table.h) and print that row's
 * output. The stages are the table's rows: the graph rows, then the CPU
 * backend's, then the CUDA backend's own (CUDA C, PTX); `--stage=list`
 * prints them in order.
 */
#include <stdio.h>
#include <string.h>

#include "cg_step.h"
#include "cli.h"
#include "cli_backend.h"
#include "pass_table.h"

/* The program a stage shows: the training step (SAM when the recipe has
 * it), except for the stages named after another program. */
static int stage_program(const ir_model *m, const char *stage, pass_prog_kind *kind, char *err,
                         size_t errlen)
{
	if (strcmp(stage, "autodiff") == 0)
		*kind = PASS_PROG_AUTODIFF;
	else if (strcmp(stage, "optim") == 0)
		*kind = PASS_PROG_BASE;
	else if (strcmp(stage, "eval") == 0)
		*kind = PASS_PROG_EVAL;
	else if (strcmp(stage, "sam") == 0 && !m->recipe.opt.sam) {
		snprintf(err, errlen, "%s: the recipe has no SAM (optimizer.sam); try --stage=optim",
		         m->file);
		return -1;
	} else
		*kind = m->recipe.opt.sam ? PASS_PROG_SAM : PASS_PROG_BASE;
	return 0;
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
			return cli_unknown_option("emit", argv[i], (const char *const[]){"--stage", NULL}, 0);
	}
	const pass_backend *be = cg_cpu_backend();
	if (stage && strcmp(stage, "list") == 0) {
		pass_table_list(stdout, be);
		pass_table_list_extra(stdout, cg_cuda_backend(), be);
		return CLI_OK;
	}
	int is_be;
	/* a stage only the CUDA backend has compiles through its rows */
	if (stage && !pass_table_find(be, stage, &is_be) &&
	    pass_table_find(cg_cuda_backend(), stage, &is_be))
		be = cg_cuda_backend();
	if (!stage)
		return cli_usage_error("emit", "--stage is required (try --stage=ir)");
	if (!pass_table_find(be, stage, &is_be)) {
		cli_usage_error("emit", "unknown stage '%s'", stage);
		pass_table_list(stderr, be);
		pass_table_list_extra(stderr, cg_cuda_backend(), be);
		return CLI_ERR_USAGE;
	}
	if (!a.model)
		return cli_usage_error("emit", "no model file given");
	ir_model *m;
	int rc = cli_load_model(&a, &m);
	if (rc)
		return rc;
	char err[2048];
	pass_prog_kind kind;
	cg_step_options so;
	cg_step_options_default(&so);
	cli_pass_options(&so.pass);
	if (stage_program(m, stage, &kind, err, sizeof err) ||
	    pass_emit(stdout, m, kind, be, &so, stage, &so.pass, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		rc = CLI_ERR_MODEL;
	}
	fe_model_free(m);
	return rc;
}
