/*
 * fe_model.h - the front end's public API: run a Lua model file in the
 * sandbox and hand back an ir_model (graph, params, inputs, loss, metrics
 * and the validated training recipe).
 *
 *   fe_options o;
 *   fe_options_init(&o);
 *   o.sets = (const char *[]){"optimizer.lr=0.1"}; o.nsets = 1;
 *   ir_model *m;
 *   char err[1024];
 *   if (fe_load_model("model.lua", &o, &m, err, sizeof err))
 *       fprintf(stderr, "%s\n", err);          // "model.lua:7: matmul: ..."
 *   ...
 *   fe_model_free(m);
 *
 * The language is described in docs/dsl.md.
 */
#ifndef SAMC_FE_MODEL_H
#define SAMC_FE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ir_model.h"

#define FE_MAX_ARGS 64
typedef struct {
	ir_dtype fdtype;           /* float dtype of the program: IR_F32 (default) or IR_F64 */
	const char *const *sets;   /* "key=value" recipe overrides (--set), applied in order */
	int nsets;
	const char *const *args;   /* "name=value" model arguments (--arg), read by arg() */
	int nargs;                 /* at most FE_MAX_ARGS */
	uint64_t max_instructions; /* Lua instruction budget; 0 = FE_DEFAULT_MAX_INSTRUCTIONS (100M) */
	size_t max_memory;         /* Lua memory budget in bytes; 0 = FE_DEFAULT_MAX_MEMORY (64 MiB) */
	int max_ops;               /* ops the model may build; 0 = FE_DEFAULT_MAX_OPS */
	int ranks;                 /* > 1: compiled for a data-parallel run of that many
	                              ranks (runtime/rt_step_seq.h); 0 or 1: one process */
} fe_options;

void fe_options_init(fe_options *o);

/* Runs the model file and builds the model. Returns 0 and sets *out, or
 * returns nonzero with "<path>:<line>: <message>" in err (path as given).
 * opt may be NULL (defaults). */
int fe_load_model(const char *path, const fe_options *opt, ir_model **out,
                  char *err, size_t errlen);

/* Frees the model and its graph. NULL is fine. */
void fe_model_free(ir_model *m);

#endif
