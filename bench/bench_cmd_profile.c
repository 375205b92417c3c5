/*
 * bench_cmd_profile.c - `samc_bench profile MODEL`: where a step's time
 * goes, kernel by kernel.
 *
 * The CPU backend's exec runs its step table (runtime/rt_prog.h) as one
 * call, so this builds the same table (cg_step_new), JIT-compiles and
 * binds its kernels like cg_exec.c, and runs each kernel through
 * rt_prog_kernel_run (the exec's own code: GEMMs and loop kernels split
 * over a pool by the same rules; convolutions through rt_prog_conv_run on
 * oneDNN's threads), then the commits, with a clock read around every
 * kernel. Each kernel is put in one of four groups:
 *   gemm   a GEMM library call;
 *   conv   a convolution library call (oneDNN);
 *   optim  a loop kernel whose result is a scalar or has a parameter's
 *          shape, or that reads optimizer state: the SAM norm, the
 *          perturbation and the update (bias gradients reduced to [1,n]
 *          count as forward/backward);
 *   fwdbwd every other loop kernel (bias adds, activations, loss, ...).
 */
#include "bench.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_step.h"
#include "llvm/cg_jit.h"
#include "rt_dev_cpu.h"
#include "rt_pool.h"

enum { GRP_GEMM, GRP_CONV, GRP_OPTIM, GRP_FWDBWD, GRP_COUNT };
static const char *const grp_name[GRP_COUNT] = {"gemm", "conv", "optim", "fwdbwd"};

/* i: the fused kernel the program's kernel lowers */
static int group_of(const pass_fusion *f, int i, const rt_prog_kernel *k)
{
	if (k->kind == RT_K_GEMM)
		return GRP_GEMM;
	if (k->kind == RT_K_CONV)
		return GRP_CONV;
	if (i >= f->nk)
		return GRP_FWDBWD;
	const pass_kernel *pk = &f->k[i];
	if (pk->root->shape.rank == 0)
		return GRP_OPTIM;
	for (int r = 0; r < pk->nreads; r++)
		if (pk->reads[r].node->op == IR_OP_STATE)
			return GRP_OPTIM;
	for (int n = 0; n < f->g->nnodes; n++) {
		const ir_node *p = f->g->nodes[n];
		if (p->op == IR_OP_PARAM && ir_shape_eq(&p->shape, &pk->root->shape))
			return GRP_OPTIM;
	}
	return GRP_FWDBWD;
}

/* The step scalars of step 1 (lr, hyperparameters): 1 if s is one. */
static int step_scalar(const ir_model *m, const char *name, void *data)
{
	rt_step_scalar sc[RT_STEP_SCALARS_MAX];
	int nsc = rt_step_scalars(&m->recipe, 0, 1, sc);
	for (int k = 0; k < nsc; k++)
		if (strcmp(sc[k].name, name) == 0) {
			*(float *)data = (float)sc[k].value;
			return 1;
		}
	return 0;
}

/* Fills a slot's buffer: params and float inputs random, labels in range,
 * state zero, step scalars set. */
static void fill_slot(const rt_slot *s, void *data, int64_t numel, const ir_model *m, int i)
{
	if (s->role == RT_SLOT_STATE)
		memset(data, 0, (size_t)numel * 4);
	else if (s->dtype == RT_I32)
		for (int64_t j = 0; j < numel; j++)
			((int32_t *)data)[j] = (int32_t)(j % (s->nclasses > 0 ? s->nclasses : 1));
	else if (s->role == RT_SLOT_INPUT && s->rank == 0 && step_scalar(m, s->name, data))
		;
	else {
		bench_fill(data, numel, (uint64_t)i);
		if (s->role == RT_SLOT_PARAM)
			for (int64_t j = 0; j < numel; j++)
				((float *)data)[j] *= 0.05f;
	}
}

static void run_commits(const rt_prog *p, void **bufptr)
{
	for (int c = 0; c < p->ncommits; c++) {
		const rt_prog_commit *pc = &p->commits[c];
		if (pc->snapshot >= 0)
			memcpy(bufptr[pc->snapshot], bufptr[pc->src], (size_t)p->bufs[pc->snapshot].bytes);
	}
	for (int c = 0; c < p->ncommits; c++) {
		const rt_prog_commit *pc = &p->commits[c];
		int from = pc->snapshot >= 0 ? pc->snapshot : pc->src;
		if (bufptr[pc->target] != bufptr[from])
			memcpy(bufptr[pc->target], bufptr[from], (size_t)p->bufs[pc->target].bytes);
	}
}

int bench_cmd_profile(const bench_args *a)
{
	ir_model *m = bench_load_model(a);
	if (!m)
		return 1;
	char err[1024];
	pass_program prog = {0};
	cg_step *st = NULL;
	cg_jit *jit = NULL;
	cg_target target = {0}; /* --cpu: compile for another CPU than this one */
	rt_pool *pool = NULL;
	rt_conv *conv = NULL;
	rt_err cerr = {{0}};
	void **bufptr = NULL, ***kargs = NULL, **slot = NULL;
	double *us = NULL;
	char *arena = NULL;
	int rc = 1, threads = a->threads < 1 ? 1 : a->threads;
	/* acc, sam_acc: the programs of a step of micro-batches (pass_micro.h) */
	pass_prog_kind kind = !a->prog || !strcmp(a->prog, "sam") ? PASS_PROG_SAM
	                      : !strcmp(a->prog, "base")           ? PASS_PROG_BASE
	                      : !strcmp(a->prog, "acc")            ? PASS_PROG_ACC
	                                                           : PASS_PROG_SAM_ACC;
	cg_step_options so;
	cg_step_options_default(&so);
	so.llvm = 1; /* the JIT compiles the llvm pass's module */
	if (a->cpu && cg_target_init(&target, a->cpu, err, sizeof err))
		goto fail;
	so.target = a->cpu ? &target : NULL;
	if (pass_build(m, kind, &prog, err, sizeof err) != 0 ||
	    !(st = cg_step_new(prog.g, prog.outs, prog.names, prog.nout, &so, err, sizeof err)) ||
	    !(jit = cg_jit_new(&st->llvm, err, sizeof err)))
		goto fail;
	rt_prog *p = &st->desc;
	int nk = p->nkernels;
	bufptr = calloc((size_t)p->nbufs + 1, sizeof *bufptr);
	slot = calloc((size_t)p->nslots + 1, sizeof *slot);
	kargs = calloc((size_t)nk + 1, sizeof *kargs);
	us = calloc((size_t)nk + 2, sizeof *us);
	arena = aligned_alloc(64, (size_t)(p->arena_bytes + 64) / 64 * 64);
	pool = rt_pool_new(threads);
	if (!bufptr || !slot || !kargs || !us || !arena || !pool)
		goto oom;
	for (int i = 0; i < nk && !conv; i++)
		if (p->kernels[i].kind == RT_K_CONV && !(conv = rt_conv_new(threads, &cerr))) {
			snprintf(err, sizeof err, "%s", cerr.msg);
			goto fail;
		}
	for (int b = 0; b < p->nbufs; b++) {
		int sl = p->bufs[b].slot;
		if (sl < 0) {
			bufptr[b] = arena + p->bufs[b].offset;
			continue;
		}
		if (!slot[sl]) {
			if (!(slot[sl] = aligned_alloc(64, (size_t)(p->bufs[b].bytes + 64) / 64 * 64)))
				goto oom;
			fill_slot(&p->slots[sl], slot[sl], p->bufs[b].bytes / 4, m, sl);
		}
		bufptr[b] = slot[sl];
	}
	for (int i = 0; i < nk; i++) {
		rt_prog_kernel *k = &st->kernels[i];
		if (!(kargs[i] = calloc((size_t)k->nargs + 1, sizeof(void *))))
			goto oom;
		for (int j = 0; j < k->nargs; j++)
			kargs[i][j] = bufptr[k->args[j]];
		if (!rt_kkind_is_call(k->kind) && !(k->fn = cg_jit_find(jit, k->name, err, sizeof err)))
			goto fail;
	}
	openblas_set_num_threads(1); /* as the CPU device: GEMMs split over the pool */
	int iters = a->warmup + a->steps * a->blocks;
	for (int it = 0; it < iters; it++) {
		int timed = it >= a->warmup;
		for (int i = 0; i < nk; i++) {
			double t0 = bench_now();
			int32_t flag = 0;
			if (p->kernels[i].kind != RT_K_CONV) {
				rt_prog_kernel_run(&p->kernels[i], kargs[i], &flag, pool);
			} else if (rt_prog_conv_run(conv, &p->kernels[i], kargs[i], &cerr) != 0) {
				snprintf(err, sizeof err, "%s", cerr.msg);
				goto fail;
			}
			if (timed)
				us[i] += (bench_now() - t0) * 1e6;
		}
		double t0 = bench_now();
		run_commits(p, bufptr);
		if (timed)
			us[nk] += (bench_now() - t0) * 1e6;
	}
	int n = a->steps * a->blocks;
	double grp[GRP_COUNT] = {0}, total = us[nk] / n;
	for (int i = 0; i < nk; i++) {
		const rt_prog_kernel *k = &p->kernels[i];
		int src = st->prog->k[i].src, g = group_of(st->f, src, k);
		char sh[64] = "?";
		const char *op = "?";
		if (src < st->f->nk) {
			ir_shape_str(&st->f->k[src].root->shape, sh, sizeof sh);
			op = ir_op_name(st->f->k[src].root->op);
		}
		grp[g] += us[i] / n;
		total += us[i] / n;
		printf("{\"cmd\":\"kernel\",\"model\":\"%s\",\"prog\":\"%s\",\"i\":%d,\"name\":\"%s\","
		       "\"group\":\"%s\",\"op\":\"%s\",\"shape\":\"%s\",\"work\":%lld,\"us\":%.2f}\n",
		       a->model, a->prog ? a->prog : "sam", i, k->name, grp_name[g], op, sh,
		       (long long)k->work, us[i] / n);
	}
	printf("{\"cmd\":\"profile\",\"model\":\"%s\",\"prog\":\"%s\",\"kernels\":%d,\"total_us\":%.2f,"
	       "\"gemm_us\":%.2f,\"conv_us\":%.2f,\"optim_us\":%.2f,\"fwdbwd_us\":%.2f,"
	       "\"commit_us\":%.2f}\n",
	       a->model, a->prog ? a->prog : "sam", nk, total, grp[GRP_GEMM],
	       grp[GRP_CONV], grp[GRP_OPTIM], grp[GRP_FWDBWD], us[nk] / n);
	rc = 0;
	goto done;
oom:
	snprintf(err, sizeof err, "out of memory");
fail:
	fprintf(stderr, "samc_bench: profile: %s\n", err);
done:
	for (int i = 0; st && slot && i < st->desc.nslots; i++)
		free(slot[i]);
	for (int i = 0; st && kargs && i < st->desc.nkernels; i++)
		free(kargs[i]);
	free(slot);
	free(kargs);
	free(bufptr);
	free(us);
	free(arena);
	rt_pool_free(pool);
	rt_conv_free(conv);
	cg_jit_free(jit);
	cg_step_free(st);
	if (prog.g)
		pass_program_free(&prog);
	fe_model_free(m);
	cg_target_free(&target);
	return rc;
}
