/* cli_backend.c - backend selection (see cli_backend.h). */
#include "cli_backend.h"
#include "ir_interp.h"

#include <stdio.h>
#include <string.h>

const char *cli_backend_names(void) { return "interp"; }

int cli_backend_check(const char *name)
{
	return strcmp(name, "interp") == 0 ? 0 : -1;
}

rt_exec *cli_exec_new(const char *backend, pass_program *p, int threads, char *err, size_t errlen)
{
	(void)threads;
	if (strcmp(backend, "interp") == 0)
		return ir_interp_exec_new(p->g, p->outs, p->names, p->nout, err, errlen);
	snprintf(err, errlen, "unknown backend '%s' (this build has: %s)", backend, cli_backend_names());
	return NULL;
}

void cli_exec_free(rt_exec *x)
{
	if (x)
		x->free(x);
}
