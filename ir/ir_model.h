/*
 * ir_model.h - a model as the front end hands it to the passes: the graph,
 * its leaves by role, the loss and metrics, and the validated training
 * recipe (optimizer, SAM options, schedule, data, batch size, epochs, seed).
 *
 * The recipe (runtime/rt_recipe.h) is plain data shared with the runtime,
 * which must not depend on the IR.
 */
#ifndef SAMC_IR_MODEL_H
#define SAMC_IR_MODEL_H

#include "ir.h"
#include "rt_recipe.h"

typedef rt_recipe ir_recipe;

typedef struct {
	const char *name;
	ir_node *node;
} ir_named;

typedef struct {
	ir_graph *g;
	const char *file;     /* model file path */
	ir_node **params;  int nparams;   /* in declaration order */
	ir_node **inputs;  int ninputs;
	ir_node *loss;                     /* scalar */
	ir_named *metrics; int nmetrics;   /* scalars, e.g. accuracy */
	ir_recipe recipe;
} ir_model;

#endif
