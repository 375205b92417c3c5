/*
 * bench_cmd_opt.c - `samc_bench opt MODEL`: the optimizer part of a SAM
 * step alone, compiled by the same CPU backend.
 *
 * A SAM step cannot be split at run time (its kernels are one schedule), so
 * this builds a program that holds only the optimizer's nodes, for the
 * model's parameters: the two gradients arrive as inputs "g1.<p>" and
 * "g2.<p>" instead of from GEMMs, and
 *   n   = sqrt(sum_p sum(g1^2)) + 1e-12            (the nodes pass_sam emits)
 *   w~  = w + g1 * (rho / n)    -> scratch state "sam.wt.<p>" (written once)
 *   w, momentum = SGD update with g2               (pass_optim_lower itself)
 * The bytes it must move are counted per parameter element (f32):
 *   norm reads g1 (4), perturb reads w, g1 and writes w~ (12),
 *   update reads w, g2, momentum and writes w, momentum (20): 36 bytes.
 * (STREAM's convention: write-allocate traffic is not counted, as in the
 * triad it is compared with.)
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pass_optim.h"
#include "rt_init.h"

/* bytes the optimizer part moves per f32 parameter element, see above */
#define OPT_BYTES_PER_ELEM 36

static ir_node *bin(ir_graph *g, ir_op op, ir_node *a, ir_node *b)
{
	return a && b ? ir_binary(g, op, a, b) : NULL;
}

/* The optimizer-only graph for m's parameters; *norm_out is the norm. */
static ir_graph *build_opt_graph(const ir_model *m, ir_node **norm_out)
{
	int n = m->nparams;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node **p = calloc((size_t)n, sizeof *p), **g1 = calloc((size_t)n, sizeof *g1);
	ir_node **g2 = calloc((size_t)n, sizeof *g2);
	if (!g || !p || !g1 || !g2)
		goto fail;
	char name[512];
	ir_node *n2 = NULL;
	for (int i = 0; i < n; i++) {
		const ir_node *mp = m->params[i];
		ir_init init = {IR_INIT_UNIFORM, -0.05, 0.05};
		p[i] = ir_param(g, mp->name, IR_F32, mp->shape, init);
		snprintf(name, sizeof name, "g1.%s", mp->name);
		g1[i] = ir_input(g, name, IR_F32, mp->shape);
		snprintf(name, sizeof name, "g2.%s", mp->name);
		g2[i] = ir_input(g, name, IR_F32, mp->shape);
		ir_node *sq = g1[i] ? ir_reduce(g, IR_OP_SUM, bin(g, IR_OP_MUL, g1[i], g1[i]), 0, 0) : NULL;
		n2 = n2 ? bin(g, IR_OP_ADD, n2, sq) : sq;
	}
	ir_node *lr = ir_input(g, PASS_INPUT_LR, IR_F32, ir_shape_scalar());
	ir_node *step = ir_input(g, PASS_INPUT_STEP, IR_F32, ir_shape_scalar());
	/* rho is a step input, as pass_sam makes it */
	ir_node *rho = ir_input(g, RT_SCALAR_SAM_RHO, IR_F32, ir_shape_scalar());
	ir_node *denom = bin(g, IR_OP_ADD, n2 ? ir_unary(g, IR_OP_SQRT, n2) : NULL,
	                     ir_const(g, IR_F32, ir_shape_scalar(), 1e-12));
	for (int i = 0; i < n; i++) {
		ir_node *scale = bin(g, IR_OP_DIV, rho, denom);
		ir_node *wt = bin(g, IR_OP_ADD, p[i], bin(g, IR_OP_MUL, g1[i], scale));
		snprintf(name, sizeof name, "sam.wt.%s", m->params[i]->name);
		ir_node *scratch = ir_state(g, name, IR_F32, m->params[i]->shape);
		if (!wt || !scratch || !ir_assign(g, scratch, wt))
			goto fail;
	}
	if (!lr || !step || !denom || pass_optim_lower(g, &m->recipe.opt, p, g2, n, lr, step) != 0 ||
	    ir_verify(g) != 0)
		goto fail;
	*norm_out = denom;
	free(p);
	free(g1);
	free(g2);
	return g;
fail:
	fprintf(stderr, "samc_bench: optimizer program: %s\n", g && g->has_err ? g->err : "out of memory");
	free(p);
	free(g1);
	free(g2);
	ir_graph_free(g);
	return NULL;
}

int bench_cmd_opt(const bench_args *a)
{
	ir_model *m = bench_load_model(a);
	if (!m)
		return 1;
	int rc = 1;
	ir_node *norm = NULL;
	rt_exec *x = NULL;
	rt_store st = {0};
	void **bind = NULL;
	double *ms = calloc((size_t)a->steps, sizeof *ms), out = 0;
	char err[1024];
	rt_err e = {{0}};
	ir_graph *g = build_opt_graph(m, &norm);
	if (!g || !ms)
		goto done;
	cg_options o;
	cg_options_default(&o);
	o.threads = a->threads;
	const char *names[1] = {"norm"};
	if (!(x = cg_cpu_exec_new(g, &norm, names, 1, &o, err, sizeof err))) {
		fprintf(stderr, "samc_bench: optimizer program: %s\n", err);
		goto done;
	}
	if (rt_store_add_exec(&st, x, &e) || !(bind = rt_store_bind(&st, x, &e)) ||
	    rt_init_exec(x, bind, 1, &e)) {
		fprintf(stderr, "samc_bench: %s\n", e.msg);
		goto done;
	}
	int64_t nparam = 0;
	for (int i = 0; i < st.n; i++) {
		rt_store_buf *b = &st.buf[i];
		if (b->slot.role == RT_SLOT_PARAM)
			nparam += (int64_t)(b->bytes / 4);
		if (b->slot.role == RT_SLOT_INPUT && b->bytes > 4)
			bench_fill(b->addr, (int64_t)(b->bytes / 4), (uint64_t)i);
	}
	/* the step scalars of step 1 (lr, hyperparameters); a scalar the program
	 * does not read has no slot; CPU memory is host memory */
	rt_step_scalar sc[RT_STEP_SCALARS_MAX];
	int nsc = rt_step_scalars(&m->recipe, 0, 1, sc);
	for (int i = 0; i < nsc; i++) {
		float *v = rt_store_addr(&st, sc[i].name);
		if (v)
			*v = (float)sc[i].value;
	}
	for (int i = 0; i < a->warmup; i++)
		if (x->run(x, bind, &out, &e) != 0)
			goto run_fail;
	for (int b = 0; b < a->blocks; b++) {
		for (int i = 0; i < a->steps; i++) {
			double t0 = bench_now();
			if (x->run(x, bind, &out, &e) != 0)
				goto run_fail;
			ms[i] = (bench_now() - t0) * 1e3;
		}
		printf("{\"cmd\":\"opt\",\"model\":\"%s\",\"block\":%d,\"median_ms\":%.5f,\"params\":%lld,"
		       "\"bytes\":%lld,\"kernels\":%d}\n",
		       a->model, b, bench_median(ms, a->steps), (long long)nparam,
		       (long long)(nparam * OPT_BYTES_PER_ELEM), cg_cpu_exec_nkernels(x));
		fflush(stdout);
	}
	rc = 0;
	goto done;
run_fail:
	fprintf(stderr, "samc_bench: optimizer program: %s\n", e.msg);
done:
	free(bind);
	rt_store_free(&st);
	if (x)
		x->free(x);
	ir_graph_free(g);
	free(ms);
	fe_model_free(m);
	return rc;
}
