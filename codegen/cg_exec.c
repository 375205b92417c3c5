/*
 * cg_exec.c - the CPU backend's rt_exec (see cg_cpu.h): compiles a step to
 * its table (cg_step.h), JIT-compiles its kernels, binds their functions
 * and runs the table through the runtime (rt_prog_exec_new), the same
 * runner a standalone trainer from `samc build` uses.
 */
#include <stdlib.h>
#include <string.h>

#include "cg_cpu.h"
#include "cg_step.h"
#include "rt_dev_cpu.h"
#include "llvm/cg_jit.h"

typedef struct {
	cg_step *step;
	cg_jit *jit;
	rt_exec *inner; /* the runtime's exec of the step's table */
} cpu_exec;

void cg_options_default(cg_options *o)
{
	memset(o, 0, sizeof *o);
	o->threads = 0;
	o->opt_level = 3;
	pass_options_default(&o->pass);
}

static void exec_free(rt_exec *x)
{
	if (!x)
		return;
	cpu_exec *s = x->self;
	if (s) {
		if (s->inner)
			s->inner->free(s->inner);
		cg_jit_free(s->jit);
		cg_step_free(s->step);
		free(s);
	}
	free(x);
}

static int exec_run(rt_exec *x, void **slot_data, double *outputs, rt_err *err)
{
	cpu_exec *s = x->self;
	s->inner->comm = x->comm; /* the run's ranks, for its collectives */
	return s->inner->run(s->inner, slot_data, outputs, err);
}

static int bind(cpu_exec *s, const cg_options *o, char *err, size_t errlen)
{
	(void)o;
	if (!(s->jit = cg_jit_new(&s->step->llvm, err, errlen)))
		return -1;
	for (int i = 0; i < s->step->desc.nkernels; i++) {
		rt_prog_kernel *k = &s->step->kernels[i];
		if (!rt_kkind_is_call(k->kind) && !(k->fn = cg_jit_find(s->jit, k->name, err, errlen)))
			return -1;
	}
	rt_err e = {{0}};
	if (!(s->inner = rt_prog_exec_new(&s->step->desc, o->threads, &e))) {
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	return 0;
}

rt_exec *cg_cpu_exec_new(ir_graph *g, ir_node *const *outs, const char *const *out_names,
                         int nout, const cg_options *opt, char *err, size_t errlen)
{
	cg_options o;
	cg_options_default(&o);
	if (opt)
		o = *opt;
	rt_exec *x = calloc(1, sizeof *x);
	cpu_exec *s = calloc(1, sizeof *s);
	if (!x || !s) {
		free(x);
		free(s);
		snprintf(err, errlen, "cpu backend: out of memory");
		return NULL;
	}
	x->self = s;
	x->backend = "cpu";
	x->run = exec_run;
	x->free = exec_free;
	cg_step_options so;
	cg_step_options_default(&so);
	so.pass = o.pass;
	so.llvm = 1;
	so.opt_level = o.opt_level;
	so.target = o.target;
	so.conv_loops = o.conv_loops;
	if (!(s->step = cg_step_new(g, outs, out_names, nout, &so, err, errlen)) ||
	    bind(s, &o, err, errlen)) {
		exec_free(x);
		return NULL;
	}
	/* the runtime's exec owns the slot and output tables; share them */
	rt_exec_share(x, s->inner);
	return x;
}

int cg_cpu_exec_nkernels(const rt_exec *x)
{
	if (!x || !x->backend || strcmp(x->backend, "cpu") != 0 || x->run != exec_run)
		return -1;
	return ((const cpu_exec *)x->self)->step->prog->nk;
}

int64_t cg_cpu_exec_arena_bytes(const rt_exec *x)
{
	if (!x || !x->backend || strcmp(x->backend, "cpu") != 0 || x->run != exec_run)
		return -1;
	return ((const cpu_exec *)x->self)->step->desc.arena_bytes;
}

int cg_cpu_emit(FILE *out, const char *stage, ir_graph *g, ir_node *const *outs, int nout,
                char *err, size_t errlen)
{
	const pass_backend *be = cg_cpu_backend();
	const pass_row *r = NULL;
	for (int i = 0; i < be->nrows; i++)
		if (strcmp(be->rows[i].name, stage) == 0 ||
		    (be->rows[i].stage && strcmp(be->rows[i].stage, stage) == 0))
			r = &be->rows[i];
	if (!r) {
		snprintf(err, errlen, "emit: unknown CPU stage '%s'", stage);
		return -1;
	}
	cg_step_options o;
	cg_step_options_default(&o);
	pass_ctx c = {0};
	c.kind = PASS_PROG_BASE;
	c.prog.g = g;
	c.prog.outs = (ir_node **)outs;
	c.prog.nout = nout;
	c.backend_opts = &o;
	o.pass.stop = r->name;
	int rc = pass_run_rows(&c, be->rows, be->nrows, &o.pass, NULL, err, errlen);
	if (rc == 0)
		rc = r->print(out, &c, err, errlen);
	cg_step_free(c.state);
	return rc;
}
