/* cli_backend.c - backend selection (see cli_backend.h). */
#include "cli_backend.h"
#include "cg_cpu.h"
#include "cuda/cg_cuda_exec.h"
#include "ir_interp.h"
#include "rt_cuda_drv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cli_backend_names(void) { return "cpu, cuda, interp"; }

int cli_backend_check(const char *name)
{
	return strcmp(name, "interp") == 0 || strcmp(name, "cpu") == 0 || strcmp(name, "cuda") == 0
	           ? 0
	           : -1;
}

int cli_backend_is_cuda(const char *name)
{
	return strcmp(name, "cuda") == 0;
}

int cli_backend_cuda_probe(char *err, size_t errlen)
{
	/* the driver is asked before any compile work, so a machine without
	 * a GPU hears why at once */
	rt_cuda_drv d;
	rt_err e = {{0}};
	if (rt_cuda_drv_open(&d, getenv("SAMC_CUDA_DRIVER"), &e) != 0) {
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	int rc = rt_cuda_drv_describe(&d, 0, err, errlen, &e);
	if (rc != 0)
		snprintf(err, errlen, "%s", e.msg);
	rt_cuda_drv_close(&d);
	return rc;
}

void cli_pass_options(pass_options *o)
{
	pass_options_from_debug(o, getenv("SAMC_DEBUG"));
}

rt_exec *cli_exec_new(const char *backend, pass_program *p, int threads, const pass_options *po,
                      char *err, size_t errlen)
{
	return cli_exec_new_gpu(backend, p, threads, po, 0, err, errlen);
}

int cli_gpu_open(const char *backend, rt_comm *c, rt_comm_gpu *g, char *err, size_t errlen)
{
	memset(g, 0, sizeof *g);
	if (!cli_backend_is_cuda(backend))
		return 0;
	rt_err e = {{0}};
	if (rt_comm_gpu_open(c, getenv("SAMC_CUDA_DRIVER"), getenv("SAMC_NCCL"), g, &e)) {
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	if (c->rank == 0 && g->note[0])
		fprintf(stderr, "samc: note: %s\n", g->note);
	return 0;
}

rt_exec *cli_exec_new_gpu(const char *backend, pass_program *p, int threads,
                          const pass_options *po, int ordinal, char *err, size_t errlen)
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
	if (strcmp(backend, "cuda") == 0) {
		/* the libraries and the cache are the environment's to name */
		char cache[4096];
		cg_cuda_cache_dir(cache, sizeof cache);
		cg_cuda_options o;
		cg_cuda_options_default(&o);
		if (po)
			o.pass = *po;
		o.pass.label = pass_prog_kind_name(p->kind);
		o.driver = getenv("SAMC_CUDA_DRIVER");
		o.blas = getenv("SAMC_CUDA_BLAS");
		o.dnn = getenv("SAMC_CUDA_DNN");
		o.cache_dir = cache;
		o.ordinal = ordinal;
		return cg_cuda_exec_new(p->g, p->outs, p->names, p->nout, &o, err, errlen);
	}
	snprintf(err, errlen, "unknown backend '%s' (this build has: %s)", backend, cli_backend_names());
	return NULL;
}

void cli_exec_free(rt_exec *x)
{
	if (x)
		x->free(x);
}
