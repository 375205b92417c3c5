/*
 * pass_eval.c - the evaluation program: losses and metrics as sums over
 * the rows that "eval.mask" marks real, so a padded last batch counts each
 * test example exactly once (the runtime divides by the example count).
 *
 * Batch means are recognised and turned back into per-example values:
 * cross_entropy(mean) becomes cross_entropy(none), accuracy's
 * mean(correct) becomes correct, any mean over every element of a
 * batched tensor becomes each example's mean, and sums and constant
 * multiples of such means the same of the per-example values (see
 * per_example). Anything
 * else that is a scalar is weighted by the number of real rows, which is
 * exact whenever the batch is not padded.
 *
 * Ops that behave differently in evaluation read the train/eval mode
 * (ir_mode), which becomes the constant 0 here.
 */
#include "pass_pipeline.h"

#include <math.h>

/* A CONST's value, if c is one. */
static int const_value(const ir_node *c, double *v)
{
	if (c->op != IR_OP_CONST)
		return 0;
	*v = ir_attr_f(c, IR_ATTR_VALUE);
	return 1;
}

/* v as k * sum(x) over every axis of x: sum(x) * k, k * sum(x) or sum(x) / c. */
static ir_node *scaled_sum(ir_node *v, double *k)
{
	ir_node *a = v->nin == 2 ? v->in[0] : NULL, *b = v->nin == 2 ? v->in[1] : NULL;
	ir_node *sum = NULL;
	double c;
	if (v->op == IR_OP_MUL && a->op == IR_OP_SUM && const_value(b, k))
		sum = a;
	else if (v->op == IR_OP_MUL && b->op == IR_OP_SUM && const_value(a, k))
		sum = b;
	else if (v->op == IR_OP_DIV && a->op == IR_OP_SUM && const_value(b, &c) && c != 0.0) {
		sum = a;
		*k = 1.0 / c;
	}
	return sum && sum->shape.rank == 0 ? sum->in[0] : NULL;
}

/*
 * Per-example [N] form of a batch-mean scalar, or NULL if unrecognised. A
 * batch mean is recognised by what it computes: cross_entropy(mean),
 * nll_loss(mean), or a
 * sum over every element of x (x's first axis the batch) times 1/numel(x),
 * however written (sum * 1/n, 1/n * sum, sum / n; ir_mean's form among
 * them). For x of more than one axis the per-example value is the mean
 * over each example's own elements. Sums, differences, negations and
 * constant multiples of batch means are batch means too.
 */
static ir_node *combined(ir_graph *g, ir_node *v, int64_t batch);

static ir_node *per_example(ir_graph *g, ir_node *v, int64_t batch)
{
	if (v->op == IR_OP_CROSS_ENTROPY && ir_attr_i(v, IR_ATTR_REDUCTION) == IR_REDUCE_MEAN) {
		g->cur = v->loc;
		return ir_cross_entropy(g, v->in[0], v->in[1], IR_REDUCE_NONE, ir_attr_f(v, IR_ATTR_SMOOTHING));
	}
	if (v->op == IR_OP_NLL_LOSS && ir_attr_i(v, IR_ATTR_REDUCTION) == IR_REDUCE_MEAN) {
		g->cur = v->loc;
		return ir_nll_loss(g, v->in[0], v->in[1], IR_REDUCE_NONE);
	}
	double k = 0;
	ir_node *x = scaled_sum(v, &k);
	if (!x && v->shape.rank == 0)
		return combined(g, v, batch);
	if (!x || x->shape.rank < 1 || x->shape.dim[0] != batch ||
	    fabs(k * (double)ir_shape_numel(&x->shape) - 1.0) > 1e-9)
		return NULL;
	if (x->shape.rank == 1)
		return x;
	g->cur = v->loc;
	uint32_t rest = ((1u << x->shape.rank) - 1) & ~1u;
	double inner = (double)(ir_shape_numel(&x->shape) / batch);
	return ir_binary(g, IR_OP_MUL, ir_reduce(g, IR_OP_SUM, x, rest, 0),
	                 ir_const(g, x->dtype, ir_shape_scalar(), 1.0 / inner));
}

/* a + b, a - b, -a, a * c, c * a, a / c of batch means a, b (c constant) */
static ir_node *combined(ir_graph *g, ir_node *v, int64_t batch)
{
	double c;
	if (v->op == IR_OP_NEG) {
		ir_node *a = per_example(g, v->in[0], batch);
		g->cur = v->loc;
		return a ? ir_unary(g, IR_OP_NEG, a) : NULL;
	}
	if (v->nin != 2)
		return NULL;
	ir_node *l = v->in[0], *r = v->in[1];
	if (v->op == IR_OP_ADD || v->op == IR_OP_SUB) {
		ir_node *a = per_example(g, l, batch), *b = a ? per_example(g, r, batch) : NULL;
		g->cur = v->loc;
		return b ? ir_binary(g, v->op, a, b) : NULL;
	}
	int lc = const_value(l, &c) && l->shape.rank == 0, rc = const_value(r, &c) && r->shape.rank == 0;
	if ((v->op == IR_OP_MUL && (lc || rc)) || (v->op == IR_OP_DIV && rc)) {
		ir_node *a = per_example(g, rc ? l : r, batch);
		g->cur = v->loc;
		return a ? ir_binary(g, v->op, rc ? a : l, rc ? r : a) : NULL;
	}
	return NULL;
}

static ir_node *masked_sum(ir_graph *g, ir_node *v, ir_node *mask)
{
	ir_node *pe = per_example(g, v, mask->shape.dim[0]);
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

int pass_eval_keep_logits(ir_graph *g, ir_node *loss)
{
	ir_node *ce = loss->op == IR_OP_CROSS_ENTROPY ? loss : NULL;
	for (int i = 0; !ce && i < g->nnodes; i++)
		if (g->nodes[i]->op == IR_OP_CROSS_ENTROPY)
			ce = g->nodes[i];
	if (!ce) {
		ir_error(g, loss->loc, "predict: the loss has no cross_entropy whose logits to write");
		return -1;
	}
	ir_node *logits = ce->in[0];
	g->cur = ce->loc;
	ir_node *st = ir_state(g, PASS_STATE_LOGITS, logits->dtype, logits->shape);
	return st && ir_assign(g, st, logits) ? 0 : -1;
}
