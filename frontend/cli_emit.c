/*
 * cli_emit.c - `samc emit --stage=STAGE model.lua`: compile a model up to a
 * named stage and print it. The stage table grows with the pipeline; each
 * stage gets the loaded model and prints to `out`.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ir.h"

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

static const cli_stage stages[] = {
	{"ir", "the graph IR of the forward pass, loss and metrics", cli_stage_ir},
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
