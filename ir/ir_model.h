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

/* A state update the model declares (batch_norm's running statistics):
 * target (a STATE leaf) := value at the end of a training step. The
 * training programs assign the value the first forward pass computes (a
 * SAM step's second pass writes no state, see pass_sam.h); evaluation
 * programs write no state. */
typedef struct {
	ir_node *target;
	ir_node *value;
} ir_update;

/* A layer that ATen computes in f32 whatever its input, and whose result
 * takes its input's dtype (batch_norm, layer_norm, dropout): out is bf16 where in
 * is, under precision = "bf16" (passes/pass_precision.c). samc builds these
 * layers from several ops, so the graph alone does not say it. */
typedef struct {
	ir_node *out;
	ir_node *in;
} ir_follow;

typedef struct {
	ir_graph *g;
	const char *file;     /* model file path */
	ir_node **params;  int nparams;   /* in declaration order */
	ir_node **inputs;  int ninputs;
	ir_node *loss;                     /* scalar */
	ir_named *metrics; int nmetrics;   /* scalars, e.g. accuracy */
	ir_update *updates; int nupdates;  /* model state updates, in declaration order */
	ir_follow *follows; int nfollows;  /* layers whose result's dtype is their input's */
	ir_recipe recipe;
} ir_model;

#endif
