/*
 * pass_pipeline.h - from a model to the programs a backend compiles.
 *
 * Each program is a fresh copy of the model's graph through the graph rows
 * of the pass table (pass_table.h: ir, autodiff, sam, optim, eval,
 * simplify, dce), each row running for the programs it applies to:
 *
 *   autodiff  loss and reverse-mode gradients of the loss for every param
 *   base      a plain training step: + the base optimizer's update
 *   sam       a SAM training step: perturb, recompute, update (no restore)
 *   eval      forward only, loss and metrics as masked sums
 */
#ifndef SAMC_PASS_PIPELINE_H
#define SAMC_PASS_PIPELINE_H

#include "ir_model.h"

typedef enum {
	PASS_PROG_AUTODIFF,   /* outputs: loss, then "grad.<param>" */
	PASS_PROG_BASE,       /* base-optimizer step */
	PASS_PROG_SAM,        /* SAM step */
	PASS_PROG_EVAL,       /* evaluation with "eval.mask" */
	/* a step of micro-batches (optimizer.accumulate, optimizer.sam.m; see
	 * pass_micro.h and runtime/rt_step_seq.h); BASE and SAM are then the
	 * last program of the step, the one that updates */
	PASS_PROG_ACC,        /* accum.grad += the gradient at w; no update */
	PASS_PROG_SAM_ACC,    /* accum.sam += the gradient at the perturbed w; no update */
	/* a step spread over several ranks (opt_config.ranks > 1): after the
	 * accumulators' all-reduce, the update alone */
	PASS_PROG_UPD,        /* update with accum.grad's mean; no forward/backward */
	PASS_PROG_UPD_SAM     /* update with accum.sam's mean (GSAM: against accum.grad's) */
} pass_prog_kind;

typedef struct {
	pass_prog_kind kind;
	ir_graph *g;          /* owned */
	ir_node **outs;       /* scalar outputs (or gradients for "autodiff") */
	const char **names;   /* their names; strings live in g's arena */
	int nout;
} pass_program;


/* Names of the scalar inputs every training program reads; the optimizer
 * and SAM read their hyperparameters as inputs too (RT_SCALAR_* in
 * rt_recipe.h, computed by rt_step_scalars). */
#define PASS_INPUT_LR RT_SCALAR_LR
#define PASS_INPUT_STEP RT_SCALAR_STEP
#define PASS_INPUT_MASK "eval.mask"
/* The eval program's logits, [batch, classes], with pass_options.eval_logits. */
#define PASS_STATE_LOGITS "eval.logits"
/* Adam/AdamW only: lr / (1 - beta1^t) and sqrt(1 - beta2^t), see rt_step_scalars */
#define PASS_INPUT_ADAM_STEP_SIZE RT_SCALAR_ADAM_STEP_SIZE
#define PASS_INPUT_ADAM_BC2_SQRT RT_SCALAR_ADAM_BC2_SQRT

/* With default options (pass_table.h: verifiers in debug builds). */
int pass_build(const ir_model *m, pass_prog_kind kind, pass_program *out, char *err, size_t errlen);
void pass_program_free(pass_program *p);

/* The training programs a recipe needs: sam when the recipe has SAM,
 * base when it has no SAM or SAM runs only every k > 1 steps; acc with
 * optimizer.accumulate > 1, sam_acc with SAM and accumulate or sam.m > 1.
 * On several ranks (opt_config.ranks > 1) every step ends with upd or
 * upd_sam instead of base or sam: acc for base steps (and SAM steps with
 * optimizer.sam.sync), sam_acc for SAM steps, upd, upd_sam. */
typedef struct {
	pass_program sam, base, eval; /* g == NULL when not needed */
	pass_program acc, sam_acc;    /* a step of micro-batches (pass_micro.h) */
	pass_program upd, upd_sam;    /* a step over several ranks */
} pass_programs;

int pass_build_all(const ir_model *m, pass_programs *out, char *err, size_t errlen);
void pass_programs_free(pass_programs *p);

/* Forward graph for evaluation (pass_eval.c). */
int pass_eval_rewrite(ir_graph *g, ir_node *loss, const ir_named *metrics, int nmetrics,
                      ir_node **outs);
/* Assigns the logits of the loss's cross_entropy to the state
 * PASS_STATE_LOGITS, so the eval program writes them (samc predict). */
int pass_eval_keep_logits(ir_graph *g, ir_node *loss);

#endif
