/*
 * cg_exec.c - the CPU backend's rt_exec (see cg_cpu.h): compiles a step once,
 * then each run binds slot buffers and the arena to kernel arguments, runs
 * the schedule (kernels split over the pool, GEMMs through OpenBLAS), reads
 * the outputs and commits the assigns that were not written in place.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "cg_cpu.h"
#include "cg_lower.h"
#include "cg_pool.h"
#include "llvm/cg_jit.h"
#include "pass_plan.h"

/* below this many elements a kernel runs on one thread */
#define CG_PAR_MIN_WORK 16384

typedef struct {
	ir_graph *g;
	pass_fusion *f;
	pass_plan *p;
	cg_program *prog;
	cg_jit *jit;
	cg_kernel_fn *fn;     /* per kernel (NULL for GEMMs) */
	void **bufptr;        /* per plan buffer, bound at each run */
	void ***kargs;        /* per kernel: its buffers' pointers */
	int *buf_slot;        /* per plan buffer: slot index, or -1 */
	ir_node **outs;
	char *arena;
	cg_pool *pool;
	int threads;
} cpu_exec;

void cg_options_default(cg_options *o)
{
	o->threads = 0;
	o->opt_level = 3;
}

static void cpu_free_state(cpu_exec *s)
{
	if (!s)
		return;
	if (s->prog)
		for (int i = 0; i < s->prog->nk; i++)
			free(s->kargs ? s->kargs[i] : NULL);
	free(s->kargs);
	free(s->fn);
	free(s->bufptr);
	free(s->buf_slot);
	free(s->outs);
	free(s->arena);
	cg_pool_free(s->pool);
	cg_jit_free(s->jit);
	cg_program_free(s->prog);
	pass_plan_free(s->p);
	pass_fusion_free(s->f);
	free(s);
}

static void exec_free(rt_exec *x)
{
	if (!x)
		return;
	cpu_free_state(x->self);
	for (int i = 0; x->outputs && i < x->noutputs; i++)
		free((char *)x->outputs[i]);
	free(x->outputs);
	free(x->slots);
	free(x);
}

typedef struct {
	cg_kernel_fn fn;
	void **args;
	int64_t ext;
	int rc[64];
} par_job;

static void par_part(void *ctx, int part, int nparts)
{
	par_job *j = ctx;
	int64_t lo = j->ext * part / nparts, hi = j->ext * (part + 1) / nparts;
	j->rc[part] = lo < hi ? j->fn(j->args, lo, hi) : 0;
}

static int run_gemm(const cg_kernel *k, void **a)
{
	enum CBLAS_TRANSPOSE ta = k->ta ? CblasTrans : CblasNoTrans;
	enum CBLAS_TRANSPOSE tb = k->tb ? CblasTrans : CblasNoTrans;
	int m = (int)k->m, n = (int)k->n, kk = (int)k->k;
	int lda = k->ta ? m : kk, ldb = k->tb ? kk : n;
	if (k->args[2].type == CG_T_F64)
		cblas_dgemm(CblasRowMajor, ta, tb, m, n, kk, 1.0, a[0], lda, a[1], ldb, 0.0, a[2], n);
	else
		cblas_sgemm(CblasRowMajor, ta, tb, m, n, kk, 1.0f, a[0], lda, a[1], ldb, 0.0f, a[2], n);
	return 0;
}

static int kernel_error(const cpu_exec *s, int i, int code, rt_err *err)
{
	const ir_node *n = s->f->k[i].root;
	const cg_kernel *k = &s->prog->k[i];
	const char *what = k->fail_msg ? k->fail_msg : "kernel failed";
	const char *input = n->nin > 1 && n->in[1]->name ? n->in[1]->name : "labels";
	if (n->loc.file && n->loc.line > 0)
		return rt_errf(err, "%s:%d: %s: %s (code %d, input '%s')", n->loc.file, n->loc.line,
		               ir_op_name(n->op), what, code, input);
	return rt_errf(err, "node %%%d (%s): %s (code %d, input '%s')", n->id, ir_op_name(n->op), what,
	               code, input);
}

static double read_scalar(const void *p, ir_dtype t)
{
	return t == IR_F32 ? (double)*(const float *)p
	     : t == IR_F64 ? *(const double *)p : (double)*(const int32_t *)p;
}

static int exec_run(rt_exec *x, void **slot_data, double *outputs, rt_err *err)
{
	cpu_exec *s = x->self;
	const pass_plan *p = s->p;
	for (int b = 0; b < p->nbuf; b++) {
		if (s->buf_slot[b] >= 0) {
			s->bufptr[b] = slot_data[s->buf_slot[b]];
			if (!s->bufptr[b])
				return rt_errf(err, "cpu: slot '%s' has no buffer", x->slots[s->buf_slot[b]].name);
		} else {
			s->bufptr[b] = s->arena + p->buf[b].offset;
		}
	}
	for (int i = 0; i < s->prog->nk; i++) {
		const cg_kernel *k = &s->prog->k[i];
		void **a = s->kargs[i];
		for (int j = 0; j < k->nargs; j++)
			a[j] = s->bufptr[k->args[j].id];
		if (k->kind == CG_K_GEMM) {
			run_gemm(k, a);
			continue;
		}
		int64_t ext = cg_kernel_par_extent(k);
		int rc = 0;
		if (ext > 1 && s->threads > 1 && k->work >= CG_PAR_MIN_WORK) {
			par_job j;
			int parts = s->threads < ext ? s->threads : (int)ext;
			if (parts > 64)
				parts = 64;
			j.fn = s->fn[i];
			j.args = a;
			j.ext = ext;
			cg_pool_run(s->pool, parts, par_part, &j);
			for (int q = 0; q < parts && !rc; q++)
				rc = j.rc[q];
		} else {
			rc = s->fn[i](a, 0, ext);
		}
		if (rc)
			return kernel_error(s, i, rc, err);
	}
	for (int i = 0; i < x->noutputs; i++)
		outputs[i] = read_scalar(s->bufptr[p->buf_of[s->outs[i]->id]], s->outs[i]->dtype);
	/* commits: first save values that sit in slots a commit overwrites */
	for (int i = 0; i < p->ncommit; i++) {
		const pass_commit *c = &p->commit[i];
		if (c->snapshot >= 0)
			memcpy(s->bufptr[c->snapshot], s->bufptr[c->src], (size_t)p->buf[c->snapshot].bytes);
	}
	for (int i = 0; i < p->ncommit; i++) {
		const pass_commit *c = &p->commit[i];
		int from = c->snapshot >= 0 ? c->snapshot : c->src;
		int to = p->buf_of[c->target->id];
		if (s->bufptr[to] != s->bufptr[from])
			memcpy(s->bufptr[to], s->bufptr[from], (size_t)p->buf[to].bytes);
	}
	return 0;
}

static void fill_slot(rt_slot *sl, const ir_node *n)
{
	sl->name = n->name;
	sl->role = n->op == IR_OP_PARAM ? RT_SLOT_PARAM
	         : n->op == IR_OP_STATE ? RT_SLOT_STATE : RT_SLOT_INPUT;
	sl->dtype = n->dtype == IR_F32 ? RT_F32 : n->dtype == IR_F64 ? RT_F64 : RT_I32;
	sl->rank = n->shape.rank;
	for (int d = 0; d < n->shape.rank && d < RT_MAX_DIMS; d++)
		sl->dim[d] = n->shape.dim[d];
	sl->init = RT_INIT_ZEROS;
	if (n->op == IR_OP_PARAM) {
		sl->init = n->init.kind == IR_INIT_ONES      ? RT_INIT_ONES
		         : n->init.kind == IR_INIT_UNIFORM ? RT_INIT_UNIFORM
		         : n->init.kind == IR_INIT_NORMAL  ? RT_INIT_NORMAL : RT_INIT_ZEROS;
		sl->init_a = n->init.a;
		sl->init_b = n->init.b;
	}
	sl->nclasses = n->op == IR_OP_INPUT ? n->nclasses : 0;
}

/* Fusion, plan and loop IR of a step (shared by the exec and the emitters). */
static int compile_front(cpu_exec *s, ir_graph *g, ir_node *const *outs, int nout, char *err,
                         size_t errlen)
{
	s->g = g;
	if (!(s->f = pass_fuse(g, outs, nout, err, errlen)))
		return -1;
	if (!(s->p = pass_plan_new(s->f, err, errlen)))
		return -1;
	if (!(s->prog = cg_lower(s->p, err, errlen)))
		return -1;
	return 0;
}

static int oom(char *err, size_t errlen)
{
	snprintf(err, errlen, "cpu backend: out of memory");
	return -1;
}

static int build(rt_exec *x, cpu_exec *s, const char *const *out_names, int nout,
                 const cg_options *o, char *err, size_t errlen)
{
	const pass_plan *p = s->p;
	ir_graph *g = s->g;
	if (!(s->jit = cg_jit_new(s->prog, o->opt_level, err, errlen)))
		return -1;
	int nk = s->prog->nk;
	s->fn = calloc((size_t)nk + 1, sizeof *s->fn);
	s->kargs = calloc((size_t)nk + 1, sizeof *s->kargs);
	s->bufptr = calloc((size_t)p->nbuf + 1, sizeof *s->bufptr);
	s->buf_slot = malloc(((size_t)p->nbuf + 1) * sizeof *s->buf_slot);
	s->arena = aligned_alloc(64, (size_t)((p->arena_bytes + 64) / 64 * 64));
	x->slots = calloc((size_t)g->nnodes + 1, sizeof *x->slots);
	x->outputs = calloc((size_t)(nout > 0 ? nout : 1), sizeof *x->outputs);
	if (!s->fn || !s->kargs || !s->bufptr || !s->buf_slot || !s->arena || !x->slots || !x->outputs)
		return oom(err, errlen);
	for (int i = 0; i < nk; i++) {
		const cg_kernel *k = &s->prog->k[i];
		if (!(s->kargs[i] = calloc((size_t)k->nargs + 1, sizeof(void *))))
			return oom(err, errlen);
		if (k->kind == CG_K_LOOPS && !(s->fn[i] = cg_jit_find(s->jit, k->name, err, errlen)))
			return -1;
	}
	for (int b = 0; b < p->nbuf; b++)
		s->buf_slot[b] = -1;
	for (int i = 0; i < g->nnodes; i++) {
		if (s->f->val[i] != PASS_VAL_LEAF)
			continue;
		fill_slot(&x->slots[x->nslots], g->nodes[i]);
		s->buf_slot[p->buf_of[i]] = x->nslots++;
	}
	for (int i = 0; i < nout; i++) {
		if (!(x->outputs[i] = strdup(out_names[i])))
			return oom(err, errlen);
		x->noutputs = i + 1;
	}
	int threads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	s->threads = threads < 1 ? 1 : threads;
	if (!(s->pool = cg_pool_new(s->threads)))
		return oom(err, errlen);
	/* kernels and GEMMs never run at once: BLAS may use the same threads */
	openblas_set_num_threads(s->threads);
	return 0;
}

rt_exec *cg_cpu_exec_new(ir_graph *g, ir_node *const *outs, const char *const *out_names,
                         int nout, const cg_options *opt, char *err, size_t errlen)
{
	cg_options o;
	cg_options_default(&o);
	if (opt)
		o = *opt;
	for (int i = 0; i < nout; i++)
		if (outs[i] && ir_shape_numel(&outs[i]->shape) != 1) {
			char sh[64];
			snprintf(err, errlen, "cpu backend: output '%s' has shape %s; outputs are scalars",
			         out_names[i], ir_shape_str(&outs[i]->shape, sh, sizeof sh));
			return NULL;
		}
	rt_exec *x = calloc(1, sizeof *x);
	cpu_exec *s = calloc(1, sizeof *s);
	if (!x || !s) {
		free(x);
		free(s);
		oom(err, errlen);
		return NULL;
	}
	x->self = s;
	x->backend = "cpu";
	x->run = exec_run;
	x->free = exec_free;
	s->outs = malloc((size_t)(nout > 0 ? nout : 1) * sizeof *s->outs);
	if (!s->outs) {
		oom(err, errlen);
		exec_free(x);
		return NULL;
	}
	for (int i = 0; i < nout; i++)
		s->outs[i] = outs[i];
	if (compile_front(s, g, outs, nout, err, errlen) ||
	    build(x, s, out_names, nout, &o, err, errlen)) {
		exec_free(x);
		return NULL;
	}
	return x;
}

int cg_cpu_exec_nkernels(const rt_exec *x)
{
	if (!x || !x->backend || strcmp(x->backend, "cpu") != 0)
		return -1;
	return ((const cpu_exec *)x->self)->prog->nk;
}

int64_t cg_cpu_exec_arena_bytes(const rt_exec *x)
{
	if (!x || !x->backend || strcmp(x->backend, "cpu") != 0)
		return -1;
	return ((const cpu_exec *)x->self)->p->arena_bytes;
}

int cg_cpu_emit(FILE *out, const char *stage, ir_graph *g, ir_node *const *outs, int nout,
                char *err, size_t errlen)
{
	cpu_exec *s = calloc(1, sizeof *s);
	if (!s)
		return oom(err, errlen);
	int rc = compile_front(s, g, outs, nout, err, errlen);
	if (rc == 0) {
		if (strcmp(stage, "fused") == 0)
			pass_fuse_print(out, s->f);
		else if (strcmp(stage, "plan") == 0)
			pass_plan_print(out, s->p);
		else if (strcmp(stage, "loops") == 0)
			cg_program_print(out, s->prog);
		else if (strcmp(stage, "llvm") == 0)
			rc = cg_llvm_print(out, s->prog, err, errlen);
		else {
			snprintf(err, errlen, "emit: unknown CPU stage '%s' (fused, plan, loops, llvm)", stage);
			rc = -1;
		}
	}
	cpu_free_state(s);
	return rc;
}
