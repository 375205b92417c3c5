/*
 * rt_step_seq.c - the runs of one optimizer step (see rt_step_seq.h).
 */
#include "rt_step_seq.h"

#include <inttypes.h>

#include "rt_noise.h"

const char *rt_step_prog_name(rt_step_prog p)
{
	static const char *const names[RT_STEP_NPROGS] = {"sam", "base", "acc", "sam_acc"};
	return p >= 0 && p < RT_STEP_NPROGS ? names[p] : "?";
}

int rt_step_micro(const rt_recipe *r)
{
	const opt_config *o = &r->opt;
	if (o->accumulate > 1)
		return o->accumulate;
	return o->sam && o->sam_m > 1 ? o->sam_m : 1;
}

int rt_step_is_sam(const rt_recipe *r, const rt_step_execs *e, int64_t t)
{
	/* optimizer.sam.every, or LookSAM's k */
	int every = rt_sam_period(&r->opt);
	return e->x[RT_STEP_SAM] && (!e->x[RT_STEP_BASE] || t % every == 0);
}

int rt_step_nruns(const rt_recipe *r, int sam)
{
	int n = rt_step_micro(r);
	return sam && r->opt.accumulate > 1 ? 2 * n : n;
}

rt_step_run rt_step_run_at(const rt_recipe *r, int sam, int i)
{
	int n = rt_step_micro(r);
	rt_step_prog last = sam ? RT_STEP_SAM : RT_STEP_BASE;
	if (n == 1)
		return (rt_step_run){last, 0, 1};
	if (r->opt.accumulate > 1 && sam) /* first gradients, then second ones */
		return i < n ? (rt_step_run){RT_STEP_ACC, i, 1}
		             : (rt_step_run){i == 2 * n - 1 ? RT_STEP_SAM : RT_STEP_SAM_ACC, i - n, 0};
	rt_step_prog mid = sam ? RT_STEP_SAM_ACC : RT_STEP_ACC;
	return (rt_step_run){i == n - 1 ? last : mid, i, 1};
}

int rt_step_check(const rt_recipe *r, const rt_step_execs *e, rt_err *err)
{
	int need[RT_STEP_NPROGS] = {0};
	for (int sam = 0; sam < 2; sam++) {
		if (sam ? !e->x[RT_STEP_SAM] : !e->x[RT_STEP_BASE])
			continue;
		for (int i = 0; i < rt_step_nruns(r, sam); i++)
			need[rt_step_run_at(r, sam, i).prog] = 1;
	}
	if (!e->x[RT_STEP_SAM] && !e->x[RT_STEP_BASE])
		return rt_errf(err, "no train step (sam or base)");
	for (int p = 0; p < RT_STEP_NPROGS; p++)
		if (need[p] && !e->x[p])
			return rt_errf(err, "the recipe's steps of %d micro-batches need the '%s' program, "
			               "which the model was not compiled with", rt_step_micro(r),
			               rt_step_prog_name((rt_step_prog)p));
	return 0;
}

/* One run; the step's last one in two halves around io->during, where the
 * driver and the exec allow it. */
static int run_one(rt_exec *x, void **bind, double *outs, const rt_step_io *io, int64_t t,
                   int last, rt_err *err)
{
	if (!last || !io->during || !x->launch || !x->finish)
		return x->run(x, bind, outs, err);
	if (x->launch(x, bind, err))
		return -1;
	if (io->during(io->ctx, t, err)) {
		rt_err ignored; /* the device must be idle before the error returns */
		x->finish(x, outs, &ignored);
		return -1;
	}
	return x->finish(x, outs, err);
}

int rt_step_do(const rt_step_execs *e, rt_store *st, const rt_recipe *r, int64_t t,
               int64_t total, uint64_t seed, const rt_step_io *io, double *outs, rt_err *err)
{
	int sam = rt_step_is_sam(r, e, t), n = rt_step_micro(r), nruns = rt_step_nruns(r, sam);
	rt_step_scalar sc[RT_STEP_SCALARS_MAX];
	int nsc = rt_step_scalars(r, t, total, sc);
	for (int i = 0; i < nsc; i++)
		if (rt_store_set_scalar(st, sc[i].name, sc[i].value, err))
			return -1;
	int64_t micro_batch = r->batch_size / n;
	int filled = -1; /* the micro-batch in the data inputs now */
	for (int i = 0; i < nruns; i++) {
		rt_step_run run = rt_step_run_at(r, sam, i);
		rt_exec *x = e->x[run.prog];
		rt_err xe;
		int64_t real = 0;
		if (!x)
			return rt_errf(err, "no '%s' program", rt_step_prog_name(run.prog));
		if (run.micro != filled || n > 1) {
			if ((real = io->fill(io->ctx, t, run.micro, micro_batch, &xe)) < 0)
				goto fail;
			filled = run.micro;
		}
		if (rt_noise_fill(st, seed, n > 1 ? t * n + run.micro : t, x->pool, &xe) ||
		    run_one(x, e->bind[run.prog], outs, io, t, i == nruns - 1, &xe) ||
		    (run.report && io->report(io->ctx, x, outs, real, &xe)))
			goto fail;
		continue;
	fail:
		if (n == 1)
			return rt_errf(err, "%s", xe.msg);
		return rt_errf(err, "%s (micro-batch %d of %d, program %s)", xe.msg, run.micro + 1, n,
		               rt_step_prog_name(run.prog));
	}
	return 0;
}
