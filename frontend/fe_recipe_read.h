/*
 * fe_recipe_read.h - the recipe readers fe_recipe.c shares with the files
 * that read one part of the recipe each (fe_recipe_early.c, fe_recipe_data.c,
 * ...). Each raises a recipe error naming the model file and line on a bad
 * value.
 */
#ifndef SAMC_FE_RECIPE_READ_H
#define SAMC_FE_RECIPE_READ_H

#include <lua.h>

#include "ir_model.h"

/* Pushes t[key] (raw) and returns its type. */
int fe_get(lua_State *L, int t, const char *key);
/* Pushes t[key]; it must be nil or a table (pre names the table in the
 * error, "data."). Returns 1 for a table. */
int fe_subtable(lua_State *L, int t, const char *pre, const char *key);
/* The string t[key] copied into the graph's arena, or dflt. */
const char *fe_str(lua_State *L, int t, const char *pre, const char *key, const char *dflt);
/* Reads t[last part of path] into its field of r, checked against the
 * schema; returns 1 when the key was given. */
int fe_read_key(lua_State *L, int t, rt_recipe *r, const char *path);
/* An enum key's choice: its index, or "unknown <what> 'x' (known: ...)". */
int fe_choice(lua_State *L, const char *path, const char *what, const char *v);
/* A monitored value "train.NAME", "val.NAME" (with a validation set) or
 * "test.NAME" (without one), NAME "loss" or one of m's metrics; else
 * "<key> 'v' is not a metric of the run: ...". */
void fe_check_monitor(lua_State *L, const char *key, const char *v, const ir_model *m);
/* optimizer.clip_grad_norm, no_decay, groups and RMSprop's keys of the
 * optimizer table at t (fe_recipe_optim.c). */
void fe_read_optim_extras(lua_State *L, int t, rt_recipe *r, fe_dsl *d);
/* Keys of one optimizer given to another: "optimizer.eps does not apply to
 * sgd (adam, adamw, rmsprop only)". */
void fe_not_for_optimizer(lua_State *L, int t, opt_kind kind);
/* early_stopping = {monitor, mode, patience, min_delta} at t. */
void fe_read_early_stopping(lua_State *L, int t, rt_recipe *r, const ir_model *m);
/* optimizer.sam's eta, only, rho_schedule and gsam at t (fe_recipe_sam.c),
 * after rho, adaptive and the groups. */
void fe_read_sam_variants(lua_State *L, int t, rt_recipe *r, const fe_dsl *d);
/* optimizer.sam.looksam at t (every_given: optimizer.sam.every was given);
 * the top-level ema at t (fe_recipe_ema.c). */
void fe_read_looksam(lua_State *L, int t, rt_recipe *r, int every_given);
void fe_read_ema(lua_State *L, int t, rt_recipe *r);
/* What LookSAM cannot combine with, once optimizer.sam is read whole. */
void fe_check_looksam(lua_State *L, const rt_recipe *r);
/* The data table at t (fe_recipe_data.c): its splits' files against m's
 * inputs, made absolute against the model file's directory. */
void fe_read_data(lua_State *L, int t, rt_recipe *r, fe_dsl *d, const ir_model *m);
/* optimizer.accumulate and optimizer.sam.m against the batch size and
 * the options they cannot be combined with (fe_recipe_micro.c). */
void fe_check_micro(lua_State *L, const rt_recipe *r);

#endif
