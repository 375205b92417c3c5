/*
 * fe_recipe.h - the table a model file returns: its keys (checked against
 * runtime/rt_recipe_schema.h), --set overrides, and reading it into ir_model / ir_recipe
 * with validation. Errors name the model file and the line of its
 * `return` statement (or of the tensor concerned).
 */
#ifndef SAMC_FE_RECIPE_H
#define SAMC_FE_RECIPE_H

#include <lua.h>

#include "fe_dsl.h"
#include "ir_model.h"

/* Raises "<path>:<return line>: recipe: <message>". */
int fe_recipe_error(lua_State *L, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* Rejects keys the schema does not know, anywhere in the table at idx. */
void fe_recipe_check_keys(lua_State *L, int idx);

/* Applies "a.b.c=value" overrides to the table at idx; intermediate tables
 * are created. Raises "<path>: --set a.b.c=value: ..." on a bad one. */
void fe_recipe_apply_sets(lua_State *L, int idx, const char *const *sets, int nsets);

/* The batch size a --set batch_size=N asks for (0 if none); raises if N is
 * not a positive integer. */
int fe_recipe_batch_override(lua_State *L, const char *const *sets, int nsets);

/* Raises "<path>:<line of the metric>: recipe: metrics: the name ..." for a
 * metric name that is empty, longer than RT_PROGRESS_MAX_NAME bytes, not
 * printable UTF-8, or reserved (the loss, the metrics file's own keys). */
void fe_recipe_check_metric_name(lua_State *L, const ir_named *nm);

/* Validates the table at idx and fills m (loss, metrics, recipe). */
void fe_recipe_read(lua_State *L, int idx, fe_dsl *d, ir_model *m);

#endif
