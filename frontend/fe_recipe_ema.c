/*
 * fe_recipe_ema.c - optimizer.sam.looksam = {k, alpha} and the top-level
 * ema = {decay}: two recipe tables whose presence turns their feature on
 * (pass_looksam.h, pass_ema.h; docs/dsl.md).
 */
#include "fe_recipe.h"
#include "fe_recipe_read.h"

void fe_read_looksam(lua_State *L, int t, rt_recipe *r, int every_given)
{
	opt_config *o = &r->opt;
	o->looksam = 1;
	fe_read_key(L, t, r, "optimizer.sam.looksam.k");
	fe_read_key(L, t, r, "optimizer.sam.looksam.alpha");
	/* both would set the period of the SAM steps */
	if (every_given && o->sam_every != 1)
		fe_recipe_error(L, "optimizer.sam.every = %d and optimizer.sam.looksam both set how "
		                "often a SAM step runs: LookSAM's period is looksam.k", o->sam_every);
}

void fe_check_looksam(lua_State *L, const rt_recipe *r)
{
	/* GSAM's update replaces g_s, which g_v is taken from */
	if (r->opt.looksam && r->opt.gsam)
		fe_recipe_error(L, "optimizer.sam.looksam and optimizer.sam.gsam cannot be combined: "
		                "LookSAM reuses the SAM gradient, GSAM replaces it");
}

void fe_read_ema(lua_State *L, int t, rt_recipe *r)
{
	r->ema = 1;
	fe_read_key(L, t, r, "ema.decay");
}
