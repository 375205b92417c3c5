/*
 * bench_cmd_profile.c - `samc_bench profile MODEL`: where a step's time
 * goes, kernel by kernel.
 *
 * The CPU backend's exec runs its schedule as one call, so this lowers and
 * JIT-compiles the step the same way (pass_fuse, pass_plan, cg_lower,
 * cg_jit) and runs the schedule with the same rules as cg_exec.c's run
 * (GEMMs through cblas_sgemm, loop kernels split over the pool above the
 * same work threshold, then the commits), with a clock read around every
 * kernel. Each kernel is put in one of three groups:
 *   gemm   a GEMM library call;
 *   optim  a loop kernel whose result is a scalar or has a parameter's
 *          shape, or that reads optimizer state: the SAM norm, the
 *          perturbation and the update (bias gradients reduced to [1,n]
 *          count as forward/backward);
 *   fwdbwd every other loop kernel (bias adds, activations, loss, ...).
 * If cg_exec.c's run loop changes, this copy must follow it.
 */
#include "bench.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_lower.h"
#include "cg_pool.h"
#include "llvm/cg_jit.h"

/* cg_exec.c: below this many elements a kernel runs on one thread */
#define PROF_PAR_MIN_WORK 16384

enum { GRP_GEMM, GRP_OPTIM, GRP_FWDBWD, GRP_COUNT };
static const char *const grp_name[GRP_COUNT] = {"gemm", "optim", "fwdbwd"};

typedef struct {
	cg_kernel_fn fn;
	void **args;
	int64_t ext;
} prof_job;

static void prof_part(void *ctx, int part, int nparts)
{
	prof_job *j = ctx;
	int64_t lo = j->ext * part / nparts, hi = j->ext * (part + 1) / nparts;
	if (lo < hi)
		j->fn(j->args, lo, hi);
}

static void prof_gemm(const cg_kernel *k, void **a)
{
	int m = (int)k->m, n = (int)k->n, kk = (int)k->k;
	cblas_sgemm(CblasRowMajor, k->ta ? CblasTrans : CblasNoTrans, k->tb ? CblasTrans : CblasNoTrans, m,
	            n, kk, 1.0f, a[0], k->ta ? m : kk, a[1], k->tb ? kk : n, 0.0f, a[2], n);
}

static int group_of(const pass_fusion *f, int i, const cg_kernel *k)
{
	if (k->kind == CG_K_GEMM)
		return GRP_GEMM;
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

/* Fills leaf buffers: params and float inputs random, labels in range,
 * state zero, lr and step set. */
static void fill_leaf(const ir_node *n, void *data, int64_t numel, const ir_model *m)
{
	if (n->op == IR_OP_STATE)
		memset(data, 0, (size_t)numel * 4);
	else if (n->dtype == IR_I32)
		for (int64_t j = 0; j < numel; j++)
			((int32_t *)data)[j] = (int32_t)(j % (n->nclasses > 0 ? n->nclasses : 1));
	else if (n->name && strcmp(n->name, PASS_INPUT_LR) == 0)
		*(float *)data = (float)m->recipe.opt.lr;
	else if (n->name && strcmp(n->name, PASS_INPUT_STEP) == 0)
		*(float *)data = 1.0f;
	else {
		bench_fill(data, numel, (uint64_t)n->id);
		if (n->op == IR_OP_PARAM)
			for (int64_t j = 0; j < numel; j++)
				((float *)data)[j] *= 0.05f;
	}
}

int bench_cmd_profile(const bench_args *a)
{
	ir_model *m = bench_load_model(a->model);
	if (!m)
		return 1;
	char err[1024];
	pass_program prog = {0};
	pass_fusion *f = NULL;
	pass_plan *p = NULL;
	cg_program *cp = NULL;
	cg_jit *jit = NULL;
	cg_pool *pool = NULL;
	void **bufptr = NULL, ***kargs = NULL;
	cg_kernel_fn *fn = NULL;
	double *us = NULL;
	char *arena = NULL;
	int rc = 1, threads = a->threads < 1 ? 1 : a->threads;
	pass_prog_kind kind = a->prog && strcmp(a->prog, "base") == 0 ? PASS_PROG_BASE : PASS_PROG_SAM;
	if (pass_build(m, kind, &prog, err, sizeof err) != 0 ||
	    !(f = pass_fuse(prog.g, prog.outs, prog.nout, err, sizeof err)) ||
	    !(p = pass_plan_new(f, err, sizeof err)) || !(cp = cg_lower(p, err, sizeof err)) ||
	    !(jit = cg_jit_new(cp, 3, err, sizeof err)))
		goto fail;
	int nk = cp->nk;
	bufptr = calloc((size_t)p->nbuf + 1, sizeof *bufptr);
	kargs = calloc((size_t)nk + 1, sizeof *kargs);
	fn = calloc((size_t)nk + 1, sizeof *fn);
	us = calloc((size_t)nk + 2, sizeof *us);
	arena = aligned_alloc(64, (size_t)(p->arena_bytes + 64) / 64 * 64);
	pool = cg_pool_new(threads);
	if (!bufptr || !kargs || !fn || !us || !arena || !pool)
		goto oom;
	for (int b = 0; b < p->nbuf; b++) {
		if (p->buf[b].kind == PASS_BUF_ARENA) {
			bufptr[b] = arena + p->buf[b].offset;
			continue;
		}
		if (!(bufptr[b] = aligned_alloc(64, (size_t)(p->buf[b].bytes + 64) / 64 * 64)))
			goto oom;
		fill_leaf(p->buf[b].node, bufptr[b], p->buf[b].numel, m);
	}
	for (int i = 0; i < nk; i++) {
		const cg_kernel *k = &cp->k[i];
		if (!(kargs[i] = calloc((size_t)k->nargs + 1, sizeof(void *))))
			goto oom;
		for (int j = 0; j < k->nargs; j++)
			kargs[i][j] = bufptr[k->args[j].id];
		if (k->kind == CG_K_LOOPS && !(fn[i] = cg_jit_find(jit, k->name, err, sizeof err)))
			goto fail;
	}
	openblas_set_num_threads(threads);
	int iters = a->warmup + a->steps * a->blocks;
	for (int it = 0; it < iters; it++) {
		int timed = it >= a->warmup;
		for (int i = 0; i < nk; i++) {
			const cg_kernel *k = &cp->k[i];
			double t0 = bench_now();
			if (k->kind == CG_K_GEMM) {
				prof_gemm(k, kargs[i]);
			} else {
				prof_job j = {fn[i], kargs[i], cg_kernel_par_extent(k)};
				if (j.ext > 1 && threads > 1 && k->work >= PROF_PAR_MIN_WORK)
					cg_pool_run(pool, (int)(threads < j.ext ? threads : j.ext), prof_part, &j);
				else
					fn[i](kargs[i], 0, j.ext);
			}
			if (timed)
				us[i] += (bench_now() - t0) * 1e6;
		}
		double t0 = bench_now();
		for (int c = 0; c < p->ncommit; c++) {
			const pass_commit *pc = &p->commit[c];
			if (pc->snapshot >= 0)
				memcpy(bufptr[pc->snapshot], bufptr[pc->src], (size_t)p->buf[pc->snapshot].bytes);
		}
		for (int c = 0; c < p->ncommit; c++) {
			const pass_commit *pc = &p->commit[c];
			int from = pc->snapshot >= 0 ? pc->snapshot : pc->src, to = p->buf_of[pc->target->id];
			if (bufptr[to] != bufptr[from])
				memcpy(bufptr[to], bufptr[from], (size_t)p->buf[to].bytes);
		}
		if (timed)
			us[nk] += (bench_now() - t0) * 1e6;
	}
	int n = a->steps * a->blocks;
	double grp[GRP_COUNT] = {0}, total = us[nk] / n;
	for (int i = 0; i < nk; i++) {
		const cg_kernel *k = &cp->k[i];
		int g = group_of(f, i, k);
		char sh[64];
		grp[g] += us[i] / n;
		total += us[i] / n;
		printf("{\"cmd\":\"kernel\",\"i\":%d,\"name\":\"%s\",\"group\":\"%s\",\"op\":\"%s\","
		       "\"shape\":\"%s\",\"work\":%lld,\"us\":%.2f}\n",
		       i, k->name, grp_name[g], ir_op_name(f->k[i].root->op),
		       ir_shape_str(&f->k[i].root->shape, sh, sizeof sh), (long long)k->work, us[i] / n);
	}
	printf("{\"cmd\":\"profile\",\"model\":\"%s\",\"prog\":\"%s\",\"kernels\":%d,\"total_us\":%.2f,"
	       "\"gemm_us\":%.2f,\"optim_us\":%.2f,\"fwdbwd_us\":%.2f,\"commit_us\":%.2f}\n",
	       a->model, kind == PASS_PROG_SAM ? "sam" : "base", nk, total, grp[GRP_GEMM], grp[GRP_OPTIM],
	       grp[GRP_FWDBWD], us[nk] / n);
	rc = 0;
	goto done;
oom:
	snprintf(err, sizeof err, "out of memory");
fail:
	fprintf(stderr, "samc_bench: profile: %s\n", err);
done:
	for (int b = 0; p && bufptr && b < p->nbuf; b++)
		if (p->buf[b].kind != PASS_BUF_ARENA)
			free(bufptr[b]);
	for (int i = 0; cp && kargs && i < cp->nk; i++)
		free(kargs[i]);
	free(kargs);
	free(bufptr);
	free(fn);
	free(us);
	free(arena);
	cg_pool_free(pool);
	cg_jit_free(jit);
	cg_program_free(cp);
	pass_plan_free(p);
	pass_fusion_free(f);
	if (prog.g)
		pass_program_free(&prog);
	fe_model_free(m);
	return rc;
}
