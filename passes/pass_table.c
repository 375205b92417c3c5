/*
 * pass_table.c - the runner of the pass table (see pass_table.h): runs
 * rows in order, verifies and times each, and prints one for `samc emit`.
 */
#include "pass_table.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void pass_options_default(pass_options *o)
{
	memset(o, 0, sizeof *o);
#ifndef NDEBUG
	o->verify = 1;
#endif
}

void pass_options_from_debug(pass_options *o, const char *samc_debug)
{
	pass_options_default(o);
	int level = samc_debug && *samc_debug ? atoi(samc_debug) : 0;
	o->debug = level < 0 ? 0 : level > 2 ? 2 : level;
	if (o->debug >= 1)
		o->verify = 1;
}

const char *pass_prog_kind_name(pass_prog_kind k)
{
	switch (k) {
	case PASS_PROG_AUTODIFF: return "autodiff";
	case PASS_PROG_BASE: return "base step";
	case PASS_PROG_SAM: return "sam step";
	case PASS_PROG_EVAL: return "eval step";
	case PASS_PROG_ACC: return "accumulate step";
	case PASS_PROG_SAM_ACC: return "sam accumulate step";
	case PASS_PROG_UPD: return "update step";
	case PASS_PROG_UPD_SAM: return "sam update step";
	}
	return "?";
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int pass_run_rows(pass_ctx *c, const pass_row *rows, int n, const pass_options *o, int *stopped,
                  char *err, size_t errlen)
{
	pass_options def;
	if (!o) {
		pass_options_default(&def);
		o = &def;
	}
	FILE *log = o->log ? o->log : stderr;
	for (int i = 0; i < n; i++) {
		const pass_row *r = &rows[i];
		if (!(r->runs_for & PASS_FOR(c->kind)))
			continue;
		double t0 = o->debug ? now_ms() : 0;
		if (r->run(c, err, errlen) != 0)
			return -1;
		if (o->debug) {
			fprintf(log, "samc: pass %-9s %-9s %10.3f ms\n", r->name,
			        o->label ? o->label : c->label ? c->label : pass_prog_kind_name(c->kind),
			        now_ms() - t0);
			if (o->debug >= 2 && r->print) {
				char perr[1024];
				if (r->print(log, c, perr, sizeof perr))
					fprintf(log, "samc: pass %s: cannot print: %s\n", r->name, perr);
			}
		}
		if (o->verify && r->verify) {
			char verr[1024];
			if (r->verify(c, verr, sizeof verr) != 0) {
				snprintf(err, errlen, "after pass %s: %s", r->name, verr);
				return -1;
			}
		}
		if (o->stop && strcmp(o->stop, r->name) == 0) {
			if (stopped)
				*stopped = 1;
			return 0;
		}
	}
	return 0;
}

int pass_verify_graph(pass_ctx *c, char *err, size_t errlen)
{
	ir_graph *g = c->prog.g;
	if (ir_verify(g) == 0)
		return 0;
	snprintf(err, errlen, "%s", g->err);
	return -1;
}

static int named(const pass_row *r, const char *name)
{
	return strcmp(r->name, name) == 0 || (r->stage && strcmp(r->stage, name) == 0);
}

const pass_row *pass_table_find(const pass_backend *be, const char *name, int *is_backend)
{
	int n;
	const pass_row *rows = pass_graph_rows(&n);
	*is_backend = 0;
	for (int i = 0; i < n; i++)
		if (named(&rows[i], name))
			return &rows[i];
	*is_backend = 1;
	for (int i = 0; be && i < be->nrows; i++)
		if (named(&be->rows[i], name))
			return &be->rows[i];
	return NULL;
}

static void list_row(FILE *out, const pass_row *r)
{
	char name[32];
	if (r->stage)
		snprintf(name, sizeof name, "%s|%s", r->name, r->stage);
	else
		snprintf(name, sizeof name, "%s", r->name);
	fprintf(out, "  %-14s %s\n", name, r->summary);
}

void pass_table_list(FILE *out, const pass_backend *be)
{
	int n;
	const pass_row *rows = pass_graph_rows(&n);
	fprintf(out, "stages (the passes in order; NAME|ALIAS answers to either name):\n");
	for (int i = 0; i < n; i++)
		list_row(out, &rows[i]);
	if (be)
		for (int i = 0; i < be->nrows; i++)
			list_row(out, &be->rows[i]);
}

void pass_table_list_extra(FILE *out, const pass_backend *be, const pass_backend *base)
{
	int first = 1, dummy;
	for (int i = 0; i < be->nrows; i++) {
		if (pass_table_find(base, be->rows[i].name, &dummy))
			continue;
		if (first)
			fprintf(out, "the %s backend's own stages (after %s's rows up to lower):\n", be->name,
			        base->name);
		first = 0;
		list_row(out, &be->rows[i]);
	}
}

int pass_emit(FILE *out, const ir_model *m, pass_prog_kind kind, const pass_backend *be,
              void *backend_opts, const char *stage, const pass_options *o, char *err,
              size_t errlen)
{
	int is_be;
	const pass_row *r = pass_table_find(be, stage, &is_be);
	if (!r) {
		snprintf(err, errlen, "emit: unknown stage '%s'", stage);
		return -1;
	}
	if (!(r->runs_for & PASS_FOR(kind))) {
		snprintf(err, errlen, "emit: pass %s does not run for the %s program", r->name,
		         pass_prog_kind_name(kind));
		return -1;
	}
	pass_options run;
	if (o)
		run = *o;
	else
		pass_options_default(&run);
	run.stop = is_be ? NULL : r->name;
	pass_ctx c;
	if (pass_ctx_build(&c, m, kind, &run, NULL, err, errlen) != 0)
		return -1;
	int rc = 0;
	if (is_be) {
		c.backend_opts = backend_opts;
		run.stop = r->name;
		rc = pass_run_rows(&c, be->rows, be->nrows, &run, NULL, err, errlen);
	}
	if (rc == 0 && r->print)
		rc = r->print(out, &c, err, errlen);
	if (c.state)
		be->free_state(c.state);
	pass_ctx_free(&c);
	return rc;
}
