/*
 * cg_cuda_exec.c - the CUDA backend's rt_exec (see cg_cuda_exec.h): the
 * step's table from the CUDA rows, its module from NVRTC or the PTX cache,
 * the runtime's step runner on a CUDA device.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cg_cuda_exec.h"
#include "cg_step.h"
#include "rt_dev_cuda.h"
#include "rt_runner.h"

typedef struct {
	cg_step *step;
	rt_exec *inner; /* the runner on the CUDA device */
	char what[512];
} cuda_exec;

void cg_cuda_options_default(cg_cuda_options *o)
{
	memset(o, 0, sizeof *o);
	pass_options_default(&o->pass);
}

static void exec_free(rt_exec *x)
{
	if (!x)
		return;
	cuda_exec *s = x->self;
	if (s) {
		if (s->inner)
			s->inner->free(s->inner);
		cg_step_free(s->step);
		free(s);
	}
	free(x);
}

static int exec_run(rt_exec *x, void **slot_data, double *outputs, rt_err *err)
{
	cuda_exec *s = x->self;
	s->inner->comm = x->comm; /* the run's ranks, for its collectives */
	return s->inner->run(s->inner, slot_data, outputs, err);
}

static int exec_launch(rt_exec *x, void **slot_data, rt_err *err)
{
	cuda_exec *s = x->self;
	s->inner->comm = x->comm;
	return s->inner->launch(s->inner, slot_data, err);
}

static int exec_finish(rt_exec *x, double *outputs, rt_err *err)
{
	cuda_exec *s = x->self;
	return s->inner->finish(s->inner, outputs, err);
}

/* NVRTC names a failing kernel by the model line that produced it */
static const char *where(void *ctx, const cg_cuda_kernel *k)
{
	const cg_step *s = ctx;
	return s->where[k->kernel] ? s->where[k->kernel] : "?";
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int build(cuda_exec *s, ir_graph *g, ir_node *const *outs, const char *const *out_names,
                 int nout, const cg_cuda_options *o, char *err, size_t errlen)
{
	rt_err e = {{0}};
	rt_dev_cuda_opts dopt = {o->driver, o->blas, o->dnn, o->ordinal};
	rt_device *dev = rt_dev_cuda_new(&dopt, &e);
	if (!dev) {
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	int major = 0, minor = 0;
	char desc[320], arch[24];
	if (rt_dev_cuda_info(dev, &major, &minor, desc, sizeof desc, &e)) {
		snprintf(err, errlen, "%s", e.msg);
		dev->release(dev);
		return -1;
	}
	cg_step_options so;
	cg_step_options_default(&so);
	so.pass = o->pass;
	so.cuda = 1;
	char *ptx = NULL;
	size_t plen = 0;
	int cached = 0;
	double t0 = now();
	if (cg_nvrtc_arch_for(major, minor, arch, sizeof arch, err, errlen) ||
	    !(s->step = cg_step_new(g, outs, out_names, nout, &so, err, errlen)) ||
	    cg_cuda_ptx(s->step->cuda, arch, o->cache_dir, where, s->step, &ptx, &plen, &cached, err,
	                errlen)) {
		dev->release(dev);
		return -1;
	}
	double t1 = now();
	int rc = rt_dev_cuda_load(dev, ptx, &e);
	free(ptx);
	if (rc) {
		snprintf(err, errlen, "%s", e.msg);
		dev->release(dev);
		return -1;
	}
	snprintf(s->what, sizeof s->what, "%s, %s, %d kernels, PTX %s", desc, arch,
	         s->step->cuda->nk, cached ? "from the cache" : "compiled by NVRTC");
	if (!cached)
		snprintf(s->what + strlen(s->what), sizeof s->what - strlen(s->what), " in %.2f s",
		         t1 - t0);
	/* the runner owns dev from here */
	if (!(s->inner = rt_runner_new(&s->step->desc, dev, &e))) {
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	return 0;
}

rt_exec *cg_cuda_exec_new(ir_graph *g, ir_node *const *outs, const char *const *out_names,
                          int nout, const cg_cuda_options *opt, char *err, size_t errlen)
{
	cg_cuda_options o;
	cg_cuda_options_default(&o);
	if (opt)
		o = *opt;
	rt_exec *x = calloc(1, sizeof *x);
	cuda_exec *s = calloc(1, sizeof *s);
	if (!x || !s) {
		free(x);
		free(s);
		snprintf(err, errlen, "cuda backend: out of memory");
		return NULL;
	}
	x->self = s;
	x->backend = "cuda";
	x->run = exec_run;
	x->launch = exec_launch; /* the runner has both */
	x->finish = exec_finish;
	x->free = exec_free;
	if (build(s, g, outs, out_names, nout, &o, err, errlen)) {
		exec_free(x);
		return NULL;
	}
	rt_exec_share(x, s->inner); /* the runner's: no pool on a GPU */
	return x;
}

const char *cg_cuda_exec_describe(const rt_exec *x)
{
	if (!x || x->run != exec_run)
		return NULL;
	return ((const cuda_exec *)x->self)->what;
}

const rt_prog *cg_cuda_exec_prog(const rt_exec *x)
{
	if (!x || x->run != exec_run)
		return NULL;
	return &((const cuda_exec *)x->self)->step->desc;
}

int cg_cuda_step_ptx(cg_step *s, const char *archs, const char *cache_dir, char *err,
                     size_t errlen)
{
	char list[CG_NVRTC_MAX_ARCHS][24];
	int n = cg_nvrtc_arch_list(archs, list, CG_NVRTC_MAX_ARCHS, err, errlen);
	if (n < 0)
		return -1;
	if (!s->cuda) {
		snprintf(err, errlen, "cuda: the step was not rendered as CUDA C");
		return -1;
	}
	for (; s->nptx < n; s->nptx++) {
		int cached;
		memcpy(s->ptx[s->nptx].arch, list[s->nptx], sizeof list[0]);
		if (cg_cuda_ptx(s->cuda, list[s->nptx], cache_dir, where, s, &s->ptx[s->nptx].text,
		                &s->ptx[s->nptx].len, &cached, err, errlen))
			return -1;
	}
	return 0;
}
