/*
 * cg_step.c - the CPU backend's rows of the pass table and a step
 * compiled through them to its table (see cg_step.h).
 */
#include <stdlib.h>
#include <string.h>

#include "cg_multi.h"
#include "cg_split.h"
#include "cuda/cg_nvrtc.h"
#include "cg_step.h"
#include "ir_embed.h"
#include "cg_verify.h"
#include "ir_conv.h"
#include "ir_slot.h"
#include "llvm/cg_jit.h"
#include "pass_hoist.h"
#include "pass_lowrank.h"
#include "rt_dev_cpu.h"

static int oom(char *err, size_t errlen)
{
	snprintf(err, errlen, "cpu backend: out of memory");
	return -1;
}

/* Where a failing kernel points the user: the model line of its root. */
static char *kernel_where(const ir_node *n)
{
	char buf[1024];
	if (n->loc.file && n->loc.line > 0)
		snprintf(buf, sizeof buf, "%s:%d: %s", n->loc.file, n->loc.line, ir_op_name(n->op));
	else
		snprintf(buf, sizeof buf, "node %%%d (%s)", n->id, ir_op_name(n->op));
	return strdup(buf);
}

static int fill_kernels(cg_step *s, char *err, size_t errlen)
{
	const cg_program *prog = s->prog;
	int nargs = 0;
	for (int i = 0; i < prog->nk; i++)
		nargs += prog->k[i].nargs;
	s->kernels = calloc((size_t)prog->nk + 1, sizeof *s->kernels);
	s->args = calloc((size_t)nargs + 1, sizeof *s->args);
	s->where = calloc((size_t)prog->nk + 1, sizeof *s->where);
	if (!s->kernels || !s->args || !s->where)
		return oom(err, errlen);
	for (int i = 0, a = 0; i < prog->nk; i++) {
		const cg_kernel *k = &prog->k[i];
		rt_prog_kernel *rk = &s->kernels[i];
		const ir_node *root = s->f->k[k->src].root;
		rk->kind = k->kind;
		rk->name = k->name;
		rk->nargs = k->nargs;
		rk->args = s->args + a;
		for (int j = 0; j < k->nargs; j++)
			s->args[a++] = k->args[j].id;
		rk->par_extent = !rt_kkind_is_call(k->kind) ? cg_kernel_par_extent(k) : 0;
		rk->work = k->work;
		rk->ta = k->ta;
		rk->tb = k->tb;
		rk->f64 = (k->kind == RT_K_GEMM && k->args[2].type == CG_T_F64) ||
		          (k->kind == RT_K_COMM && k->args[1].type == CG_T_F64);
		rk->comm_n = k->comm_n;
		rk->m = k->m;
		rk->n = k->n;
		rk->k = k->k;
		rk->batch = k->batch;
		rk->conv = k->conv;
		rk->conv_op = k->conv_op;
		rk->conv_bias = k->conv_bias;
		rk->bf16 = k->bf16;
		if (!(s->where[i] = kernel_where(root)))
			return oom(err, errlen);
		rk->fail_where = s->where[i];
		rk->fail_msg = k->fail_msg;
		/* the labels: one_hot's only input, the losses' second; embedding's indices */
		const ir_node *lab = root->op == IR_OP_ONE_HOT ? root->in[0] : root->nin > 1 ? root->in[1] : NULL;
		rk->fail_input = lab && lab->name ? lab->name : ir_embed_is(root->op) ? "indices" : "labels";
	}
	/* the CUDA rows: a loop kernel is its rendered function and launch */
	for (int i = 0; s->cuda && i < s->cuda->nk; i++) {
		const cg_cuda_kernel *ck = &s->cuda->k[i];
		rt_prog_kernel *rk = &s->kernels[ck->kernel];
		rk->name = ck->name;
		rk->cu_grid = ck->grid;
		rk->cu_block = ck->block;
	}
	s->desc.kernels = s->kernels;
	s->desc.nkernels = prog->nk;
	return 0;
}

static int fill_table(cg_step *s, ir_node *const *outs, const char *const *out_names, int nout,
                      char *err, size_t errlen)
{
	const pass_plan *p = s->p;
	const cg_program *prog = s->prog;
	ir_graph *g = s->g;
	int nbuf = p->nbuf + prog->nscratch;
	s->slots = calloc((size_t)g->nnodes + 1, sizeof *s->slots);
	s->bufs = calloc((size_t)nbuf + 1, sizeof *s->bufs);
	s->outputs = calloc((size_t)nout + 1, sizeof *s->outputs);
	s->commits = calloc((size_t)p->ncommit + 1, sizeof *s->commits);
	if (!s->slots || !s->bufs || !s->outputs || !s->commits)
		return oom(err, errlen);
	for (int b = 0; b < p->nbuf; b++) {
		s->bufs[b].slot = -1;
		s->bufs[b].offset = p->buf[b].kind == PASS_BUF_ARENA ? p->buf[b].offset : 0;
		s->bufs[b].bytes = p->buf[b].bytes;
	}
	/* the lowering's scratch buffers (cg_split.h) beyond the plan's peak:
	 * a few values per split reduction */
	int64_t arena = p->arena_bytes;
	for (int j = 0; j < prog->nscratch; j++) {
		rt_prog_buf *b = &s->bufs[p->nbuf + j];
		arena = (arena + 63) / 64 * 64;
		b->slot = -1;
		b->offset = arena;
		b->bytes = prog->scratch[j].numel * (prog->scratch[j].type == CG_T_F64 ? 8 : 4);
		arena += b->bytes;
	}
	int nslots = 0;
	for (int i = 0; i < g->nnodes; i++) {
		if (s->f->val[i] != PASS_VAL_LEAF)
			continue;
		ir_slot_from_leaf(&s->slots[nslots], g->nodes[i]);
		s->bufs[p->buf_of[i]].slot = nslots++;
	}
	for (int i = 0; i < nout; i++) {
		s->outputs[i].name = out_names ? out_names[i] : "";
		s->outputs[i].buf = p->buf_of[outs[i]->id];
		s->outputs[i].dtype = ir_slot_dtype(outs[i]->dtype);
	}
	for (int i = 0; i < p->ncommit; i++) {
		s->commits[i].src = p->commit[i].src;
		s->commits[i].snapshot = p->commit[i].snapshot;
		s->commits[i].target = p->buf_of[p->commit[i].target->id];
	}
	rt_prog *d = &s->desc;
	d->slots = s->slots;
	d->nslots = nslots;
	d->outputs = s->outputs;
	d->noutputs = nout;
	d->bufs = s->bufs;
	d->nbufs = nbuf;
	d->commits = s->commits;
	d->ncommits = p->ncommit;
	d->arena_bytes = arena;
	return fill_kernels(s, err, errlen);
}

void cg_step_options_default(cg_step_options *o)
{
	memset(o, 0, sizeof *o);
	pass_options_default(&o->pass);
	o->opt_level = 3;
}

static void step_free(void *s)
{
	cg_step_free(s);
}

/* lowrank: the backend's own copy of the graph, with the rewrites only
 * compiled code gets (the interpreter runs the graph as given, which is
 * what the differential tests compare against). */
static int run_lowrank(pass_ctx *c, char *err, size_t errlen)
{
	cg_step *s = calloc(1, sizeof *s);
	if (!s)
		return oom(err, errlen);
	c->state = s;
	ir_node **map = NULL;
	int nout = c->prog.nout;
	s->outs = calloc((size_t)nout + 1, sizeof *s->outs);
	if (!s->outs || !(s->g = ir_graph_clone(c->prog.g, &map))) {
		free(map);
		return oom(err, errlen);
	}
	for (int i = 0; i < nout; i++)
		s->outs[i] = c->prog.outs[i] ? map[c->prog.outs[i]->id] : NULL;
	free(map);
	if (pass_sam_lowrank(s->g, s->outs, nout, &s->nlowrank)) {
		snprintf(err, errlen, "cpu backend: %s", s->g->err);
		return -1;
	}
	return 0;
}

static int verify_lowrank(pass_ctx *c, char *err, size_t errlen)
{
	cg_step *s = c->state;
	if (ir_verify(s->g) == 0)
		return 0;
	snprintf(err, errlen, "%s", s->g->err);
	return -1;
}

static void lowrank_note(FILE *out, const cg_step *s)
{
	if (s->nlowrank > 0)
		fprintf(out, "# lowrank: SAM perturbs %d weight%s through B x B Gram products (the "
		        "first [out,in] gradient is never formed)\n", s->nlowrank,
		        s->nlowrank == 1 ? "" : "s");
}

static int print_lowrank(FILE *out, pass_ctx *c, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	cg_step *s = c->state;
	lowrank_note(out, s);
	ir_print(out, s->g);
	for (int i = 0; i < c->prog.nout; i++)
		if (s->outs[i])
			fprintf(out, "output %s = %%%d\n", c->prog.names ? c->prog.names[i] : "",
			        s->outs[i]->id);
	return 0;
}

/* On this backend an f32 convolution is a oneDNN call (RT_K_CONV), the
 * library PyTorch calls for it; an f64 one keeps its generated loops
 * (oneDNN has no f64 convolution). */
static void conv_calls(pass_fusion *f)
{
	for (int i = 0; i < f->nk; i++) {
		pass_kernel *K = &f->k[i];
		if (K->kind == RT_K_ROW && K->nroots == 1 && ir_conv_is(K->root->op) &&
		    K->root->dtype == IR_F32)
			K->kind = RT_K_CONV;
	}
}

static int run_fuse(pass_ctx *c, char *err, size_t errlen)
{
	cg_step *s = c->state;
	const cg_step_options *o = c->backend_opts;
	if (!(s->f = pass_fuse(s->g, s->outs, c->prog.nout, err, errlen)))
		return -1;
	if (!o || !o->conv_loops)
		conv_calls(s->f);
	return 0;
}

/* The accumulators' kernels up to their gradients, so that on several
 * ranks the device hands each to the overlapped all-reduce during the
 * run (pass_hoist.h): the CPU's thread, a GPU's side stream. The backend
 * compiles a bare graph, so one process's micro-batch programs get the
 * same order. On a GPU the moved kernels share fewer multi-tensor
 * launches (cg_multi.h), in programs that have accumulators at all
 * (several ranks or micro-batches): resnet.lua's sam_acc has 410 kernels
 * where it had 367. */
static int run_fuse_hoist(pass_ctx *c, char *err, size_t errlen)
{
	if (run_fuse(c, err, errlen))
		return -1;
	if (pass_hoist_accum(((cg_step *)c->state)->f) < 0) {
		snprintf(err, errlen, "fuse: out of memory moving the accumulators' kernels");
		return -1;
	}
	return 0;
}

static int verify_fuse(pass_ctx *c, char *err, size_t errlen)
{
	return pass_fuse_check(((cg_step *)c->state)->f, err, errlen);
}

static int print_fuse(FILE *out, pass_ctx *c, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	cg_step *s = c->state;
	lowrank_note(out, s);
	pass_fuse_print(out, s->f);
	return 0;
}

static int run_plan(pass_ctx *c, char *err, size_t errlen)
{
	cg_step *s = c->state;
	return (s->p = pass_plan_new(s->f, err, errlen)) ? 0 : -1;
}

/* the GPU's plan leaves room for multi-tensor kernels (cg_multi.h) */
static int run_plan_cuda(pass_ctx *c, char *err, size_t errlen)
{
	cg_step *s = c->state;
	const cg_step_options *o = c->backend_opts;
	if (o && o->cuda_separate)
		return run_plan(c, err, errlen);
	int *run = cg_multi_runs(s->f);
	if (!run) {
		snprintf(err, errlen, "memory plan: out of memory");
		return -1;
	}
	s->p = pass_plan_new_runs(s->f, run, err, errlen);
	free(run);
	return s->p ? 0 : -1;
}

static int verify_plan(pass_ctx *c, char *err, size_t errlen)
{
	return pass_plan_check(((cg_step *)c->state)->p, err, errlen);
}

static int print_plan(FILE *out, pass_ctx *c, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	pass_plan_print(out, ((cg_step *)c->state)->p);
	return 0;
}

static int run_lower(pass_ctx *c, char *err, size_t errlen)
{
	cg_step *s = c->state;
	return (s->prog = cg_lower(s->p, err, errlen)) ? 0 : -1;
}

static int verify_lower(pass_ctx *c, char *err, size_t errlen)
{
	return cg_program_verify(((cg_step *)c->state)->prog, err, errlen);
}

static int print_lower(FILE *out, pass_ctx *c, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	cg_program_print(out, ((cg_step *)c->state)->prog);
	return 0;
}

/* split where the CPU device would split the chunks' kernel */
static int run_split(pass_ctx *c, char *err, size_t errlen)
{
	return cg_split_reductions(((cg_step *)c->state)->prog, RT_PROG_PAR_MIN_WORK, err, errlen);
}

static int run_llvm(pass_ctx *c, char *err, size_t errlen)
{
	cg_step *s = c->state;
	const cg_step_options *o = c->backend_opts;
	return (s->llvm = cg_llvm_mod_new(s->prog, o ? o->opt_level : 3, o ? o->target : NULL, err,
	                                  errlen)) ? 0 : -1;
}

static int print_llvm(FILE *out, pass_ctx *c, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	cg_llvm_mod_print(out, ((cg_step *)c->state)->llvm);
	return 0;
}

static const pass_row cpu_rows[] = {
	{"lowrank", NULL, "SAM's perturbed input layer as a low-rank update (CPU)", PASS_FOR_ALL,
	 run_lowrank, verify_lowrank, print_lowrank},
	{"fuse", "fused", "the training step's kernels (CPU) and the nodes fused into each",
	 PASS_FOR_ALL, run_fuse_hoist, verify_fuse, print_fuse},
	{"plan", NULL, "kernels, buffers and peak bytes of the training step (CPU)", PASS_FOR_ALL,
	 run_plan, verify_plan, print_plan},
	{"lower", NULL, "each kernel as loop IR, backend-neutral (reduce loops whole)", PASS_FOR_ALL,
	 run_lower, verify_lower, print_lower},
	{"split", "loops", "the loop IR the CPU runs: large reductions in parallel chunks and a fold",
	 PASS_FOR_ALL, run_split, verify_lower, print_lower},
	{"llvm", NULL, "the optimized LLVM IR of the training step", PASS_FOR_ALL, run_llvm, NULL,
	 print_llvm},
};

static const pass_backend cpu_backend = {
	"cpu", cpu_rows, (int)(sizeof cpu_rows / sizeof cpu_rows[0]), step_free,
};

const pass_backend *cg_cpu_backend(void)
{
	return &cpu_backend;
}

/* a GPU splits every reduction of two chunks or more: its second stage
 * is what keeps a block-level tree's order fixed over a whole tensor */
static int run_gpusplit(pass_ctx *c, char *err, size_t errlen)
{
	return cg_split_reductions(((cg_step *)c->state)->prog, 0, err, errlen);
}

/* one launch for a run of independent elementwise kernels (cg_multi.h) */
static int run_multi(pass_ctx *c, char *err, size_t errlen)
{
	const cg_step_options *o = c->backend_opts;
	if (o && o->cuda_separate)
		return 0;
	return cg_multi_merge(((cg_step *)c->state)->prog, err, errlen);
}

static int run_cuda(pass_ctx *c, char *err, size_t errlen)
{
	cg_step *s = c->state;
	const cg_step_options *o = c->backend_opts;
	return (s->cuda = cg_cuda_render(s->prog, o ? o->cuda_prefix : NULL, err, errlen)) ? 0 : -1;
}

static int print_cuda(FILE *out, pass_ctx *c, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	fputs(((cg_step *)c->state)->cuda->src, out);
	return 0;
}

typedef struct {
	const cg_step *s;
	char buf[1024];
} where_ctx;

static const char *ptx_where(void *ctx, const cg_cuda_kernel *k)
{
	where_ctx *w = ctx;
	char *t = kernel_where(w->s->f->k[w->s->prog->k[k->kernel].src].root);
	snprintf(w->buf, sizeof w->buf, "%s", t ? t : "?");
	free(t);
	return w->buf;
}

static int run_ptx(pass_ctx *c, char *err, size_t errlen)
{
	cg_step *s = c->state;
	const cg_step_options *o = c->backend_opts;
	char archs[CG_NVRTC_MAX_ARCHS][24];
	int n = cg_nvrtc_arch_list(o ? o->cuda_arch : NULL, archs, CG_NVRTC_MAX_ARCHS, err, errlen);
	if (n < 0)
		return -1;
	where_ctx w = {s, {0}};
	for (; s->nptx < n; s->nptx++) {
		memcpy(s->ptx[s->nptx].arch, archs[s->nptx], sizeof archs[0]);
		if (cg_nvrtc_compile(s->cuda, archs[s->nptx], ptx_where, &w, &s->ptx[s->nptx].text,
		                     &s->ptx[s->nptx].len, err, errlen))
			return -1;
	}
	return 0;
}

static int print_ptx(FILE *out, pass_ctx *c, char *err, size_t errlen)
{
	(void)err, (void)errlen;
	const cg_step *s = c->state;
	for (int i = 0; i < s->nptx; i++) {
		if (s->nptx > 1)
			fprintf(out, "%s// samc: the PTX for %s\n", i ? "\n" : "", s->ptx[i].arch);
		fwrite(s->ptx[i].text, 1, s->ptx[i].len, out);
	}
	return 0;
}

static const pass_row cuda_rows[] = {
	{"lowrank", NULL, "SAM's perturbed input layer as a low-rank update", PASS_FOR_ALL,
	 run_lowrank, verify_lowrank, print_lowrank},
	{"fuse", "fused", "the training step's kernels and the nodes fused into each", PASS_FOR_ALL,
	 run_fuse_hoist, verify_fuse, print_fuse},
	{"plan", NULL, "kernels, buffers and peak bytes of the training step", PASS_FOR_ALL,
	 run_plan_cuda, verify_plan, print_plan},
	{"lower", NULL, "each kernel as loop IR, backend-neutral (reduce loops whole)", PASS_FOR_ALL,
	 run_lower, verify_lower, print_lower},
	{"gpusplit", "gpuloops", "the loop IR a GPU runs: every reduction of two chunks or more "
	 "in chunks and a fold", PASS_FOR_ALL, run_gpusplit, verify_lower, print_lower},
	{"multi", NULL, "independent elementwise kernels side by side, one launch (the optimizer's "
	 "multi-tensor update, SAM's perturbation)", PASS_FOR_ALL, run_multi, verify_lower,
	 print_lower},
	{"cuda", NULL, "the loop kernels as CUDA C, one __global__ function each", PASS_FOR_ALL,
	 run_cuda, NULL, print_cuda},
	{"ptx", NULL, "the CUDA C compiled by NVRTC to PTX", PASS_FOR_ALL, run_ptx, NULL, print_ptx},
};

static const pass_backend cuda_backend = {
	"cuda", cuda_rows, (int)(sizeof cuda_rows / sizeof cuda_rows[0]), step_free,
};

const pass_backend *cg_cuda_backend(void)
{
	return &cuda_backend;
}

cg_step *cg_step_new(const ir_graph *g, ir_node *const *outs, const char *const *out_names,
                     int nout, const cg_step_options *opt, char *err, size_t errlen)
{
	for (int i = 0; i < nout; i++)
		if (outs[i] && ir_shape_numel(&outs[i]->shape) != 1) {
			char sh[64];
			snprintf(err, errlen, "cpu backend: output '%s' has shape %s; outputs are scalars",
			         out_names ? out_names[i] : "?", ir_shape_str(&outs[i]->shape, sh, sizeof sh));
			return NULL;
		}
	cg_step_options o;
	if (opt)
		o = *opt;
	else
		cg_step_options_default(&o);
	o.pass.stop = o.cuda ? (o.cuda > 1 ? NULL : "cuda") : o.llvm ? NULL : "split";
	const pass_backend *be = o.cuda ? &cuda_backend : &cpu_backend;
	/* the rows read the program; it stays the caller's */
	pass_ctx c = {0};
	c.kind = PASS_PROG_BASE;
	c.prog.g = (ir_graph *)g;
	c.prog.outs = (ir_node **)outs;
	c.prog.names = (const char **)out_names;
	c.prog.nout = nout;
	c.backend_opts = &o;
	c.opt = &o.pass;
	c.label = be->name;
	if (pass_run_rows(&c, be->rows, be->nrows, &o.pass, NULL, err, errlen) ||
	    fill_table(c.state, ((cg_step *)c.state)->outs, out_names, nout, err, errlen)) {
		cg_step_free(c.state);
		return NULL;
	}
	return c.state;
}

void cg_step_free(cg_step *s)
{
	if (!s)
		return;
	for (int i = 0; s->where && s->prog && i < s->prog->nk; i++)
		free(s->where[i]);
	free(s->where);
	free(s->kernels);
	free(s->args);
	free(s->commits);
	free(s->outputs);
	free(s->bufs);
	free(s->slots);
	cg_llvm_mod_free(s->llvm);
	cg_cuda_mod_free(s->cuda);
	for (int i = 0; i < s->nptx; i++)
		free(s->ptx[i].text);
	cg_program_free(s->prog);
	pass_plan_free(s->p);
	pass_fusion_free(s->f);
	ir_graph_free(s->g);
	free(s->outs);
	free(s);
}
