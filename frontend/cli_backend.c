/* cli_backend.c - backend selection (see cli_backend.h). */
#include "cli_backend.h"
#include "cg_cpu.h"
#include "ir_interp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cli_backend_names(void) { return "cpu, interp"; }

int cli_backend_check(const char *name)
{
	return strcmp(name, "interp") == 0 || strcmp(name, "cpu") == 0 ? 0 : -1;
}

void cli_pass_options(pass_options *o)
{
	pass_options_from_debug(o, getenv("SAMC_DEBUG"));
}

rt_exec *cli_exec_new(const char *backend, pass_program *p, int threads, const pass_options *po,
                      char *err, size_t errlen)
{
	if (strcmp(backend, "interp") == 0)
		return ir_interp_exec_new(p->g, p->outs, p->names, p->nout, err, errlen);
	if (strcmp(backend, "cpu") == 0) {
		cg_options o;
		cg_options_default(&o);
		o.threads = threads;
		if (po)
			o.pass = *po;
		o.pass.label = pass_prog_kind_name(p->kind);
		return cg_cpu_exec_new(p->g, p->outs, p->names, p->nout, &o, err, errlen);
	}
	snprintf(err, errlen, "unknown backend '%s' (this build has: %s)", backend, cli_backend_names());
	return NULL;
}

void cli_exec_free(rt_exec *x)
{
	if (x)
		x->free(x);
}
