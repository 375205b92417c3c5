/*
 * fe_recipe_micro.c - the recipe's micro-batches: optimizer.accumulate
 * (gradient accumulation) and optimizer.sam.m (m-sharpness). batch_size
 * stays the batch of one optimizer step; the model is built a second time
 * at the micro-batch, batch_size / n (fe_model.c), and the runtime runs
 * the step as a sequence of programs over the micro-batches
 * (runtime/rt_step_seq.h).
 */
#include "fe_recipe.h"
#include "fe_recipe_read.h"

/* Several ranks (optimizer.ranks, set by the run): the micro-batches of
 * a step spread over them (runtime/rt_step_seq.h). */
static void check_ranks(lua_State *L, const rt_recipe *r, int n)
{
	const opt_config *o = &r->opt;
	int N = o->ranks;
	if (o->sam && o->looksam)
		fe_recipe_error(L, "optimizer.sam.looksam cannot run on %d ranks (LookSAM's steps "
		                "between reuse one batch's g_v): run it in one process", N);
	if (o->sam && !o->sam_sync && o->accumulate > 1)
		fe_recipe_error(L, "per-replica SAM (optimizer.sam.sync = false) on %d ranks cannot "
		                "be combined with optimizer.accumulate = %d: set optimizer.sam.sync = "
		                "true (the perturbation from the all-reduced gradient), or use "
		                "optimizer.sam.m", N, o->accumulate);
	if (o->sam && !o->sam_sync && o->gsam)
		fe_recipe_error(L, "per-replica SAM (optimizer.sam.sync = false) on %d ranks cannot be "
		                "combined with optimizer.sam.gsam: set optimizer.sam.sync = true", N);
	if (r->batch_size % (N * n) != 0)
		fe_recipe_error(L, "batch_size = %d cannot be split over %d ranks%s: each rank takes "
		                "batch_size / ranks examples of every batch%s, so batch_size must be a "
		                "multiple of %d", r->batch_size, N, n > 1 ? " and their micro-batches"
		                : "", n > 1 ? ", in micro-batches of batch_size / (ranks x micro-batches)"
		                : "", N * n);
}

void fe_check_micro(lua_State *L, const rt_recipe *r)
{
	const opt_config *o = &r->opt;
	int acc = o->accumulate, m = o->sam ? o->sam_m : 1;
	if (acc > 1 && m > 1)
		fe_recipe_error(L, "optimizer.accumulate = %d and optimizer.sam.m = %d cannot be "
		                "combined: give one of them", acc, m);
	if (o->sam && o->sam_sync && m > 1)
		fe_recipe_error(L, "optimizer.sam.sync = true and optimizer.sam.m = %d cannot be "
		                "combined (sync perturbs with the step's whole gradient, m with each "
		                "micro-batch's own): give one of them", m);
	int n = acc > 1 ? acc : m;
	const char *key = acc > 1 ? "optimizer.accumulate" : "optimizer.sam.m";
	if (o->ranks > 1)
		check_ranks(L, r, n);
	if (n <= 1)
		return;
	if (o->sam && o->sam_every > 1)
		fe_recipe_error(L, "%s = %d cannot be combined with optimizer.sam.every = %d (a step "
		                "of micro-batches is always a SAM step or always a base step)", key, n,
		                o->sam_every);
	if (o->sam && o->looksam)
		fe_recipe_error(L, "%s = %d cannot be combined with optimizer.sam.looksam (LookSAM's "
		                "steps between reuse one batch's g_v; give one of them)", key, n);
	/* GSAM's decomposition per micro-batch has no reference to hold it to;
	 * under accumulation it takes the accumulated gradients */
	if (o->sam && o->gsam && m > 1)
		fe_recipe_error(L, "optimizer.sam.m = %d cannot be combined with optimizer.sam.gsam "
		                "(GSAM with gradient accumulation, optimizer.accumulate, can)", m);
	if (r->batch_size % n != 0)
		fe_recipe_error(L, "batch_size = %d is not a multiple of %s = %d (the %d micro-batches "
		                "of a step have batch_size / %d examples each)", r->batch_size, key, n,
		                n, n);
}
