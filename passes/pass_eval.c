/*
 * pass_eval.c - the evaluation program: losses and metrics as sums over
 * the rows that "eval.mask" marks real, so a padded last batch counts each
 * test example exactly once (the runtime divides by the example count).
 *
 * The batch-mean ops the DSL produces are recognised and turned back into
 * per-example values: cross_entropy(mean) becomes cross_entropy(none), and
 * accuracy's mean(correct) becomes correct. Anything else that is a scalar
 * mean over the batch is weighted by the number of real rows, which is
 * exact whenever the batch is not padded.
 *
 * Ops that behave differently in evaluation read the train/eval mode
 * (ir_mode), which becomes the constant 0 here.
 */
#include "pass_pipeline.h"

#include <math.h>

/* Per-example [N] form of a batch-mean scalar, or NULL if unrecognised. */
static ir_node *per_example(ir_graph *g, ir_node *v)
{
	if (v->op == IR_OP_CROSS_ENTROPY && ir_attr_i(v, IR_ATTR_REDUCTION) == IR_REDUCE_MEAN) {
		g->cur = v->loc;
		return ir_cross_entropy(g, v->in[0], v->in[1], IR_REDUCE_NONE, ir_attr_f(v, IR_ATTR_SMOOTHING));
	}
	/* mean(x) over all axes of a [N] tensor: sum(x) * (1/N) */
	if (v->op == IR_OP_MUL && v->in[0]->op == IR_OP_SUM && v->in[1]->op == IR_OP_CONST) {
		ir_node *x = v->in[0]->in[0];
		if (x->shape.rank == 1 && v->in[0]->shape.rank == 0 &&
		    fabs(ir_attr_f(v->in[1], IR_ATTR_VALUE) * (double)x->shape.dim[0] - 1.0) < 1e-9)
			return x;
	}
	return NULL;
}

static ir_node *masked_sum(ir_graph *g, ir_node *v, ir_node *mask)
{
	ir_node *pe = per_example(g, v);
	g->cur = v->loc;
	if (pe && pe->shape.rank == 1 && pe->shape.dim[0] == mask->shape.dim[0])
		return ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, pe, mask), 0, 0);
	/* a batch mean: weight it by the count of real rows */
	return ir_binary(g, IR_OP_MUL, v, ir_reduce(g, IR_OP_SUM, mask, 0, 0));
}

int pass_eval_rewrite(ir_graph *g, ir_node *loss, const ir_named *metrics, int nmetrics,
                      ir_node **outs)
{
	int64_t batch = -1;
	for (int i = 0; i < g->nnodes; i++)
		if (g->nodes[i]->op == IR_OP_INPUT && g->nodes[i]->shape.rank > 0) {
			batch = g->nodes[i]->shape.dim[0];
			break;
		}
	if (batch < 0) {
		ir_error(g, loss->loc, "eval: the model has no batched input");
		return -1;
	}
	ir_resolve_mode(g, IR_MODE_EVAL);
	g->cur = loss->loc;
	ir_node *mask = ir_input(g, PASS_INPUT_MASK, g->fdtype, ir_shape_make(1, &batch));
	if (!mask)
		return -1;
	if (!(outs[0] = masked_sum(g, loss, mask)))
		return -1;
	for (int i = 0; i < nmetrics; i++)
		if (!(outs[1 + i] = masked_sum(g, metrics[i].node, mask)))
			return -1;
	return 0;
}
