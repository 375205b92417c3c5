/*
 * pass_ema.c - the EMA of the weights as assigns (pass_ema.h).
 */
#include "pass_ema.h"

#include <stdio.h>
#include <stdlib.h>

int pass_ema(ir_graph *g, ir_node *const *params, int n)
{
	if (n == 0)
		return 0;
	/* the value the step assigns to each param (the last assign wins),
	 * found in one walk: by[id] of a param leaf */
	int nn = g->nnodes;
	ir_node **by = calloc((size_t)nn + 1, sizeof *by);
	if (!by) {
		ir_error(g, params[0]->loc, "ema: out of memory");
		return -1;
	}
	for (int i = 0; i < nn; i++)
		if (g->nodes[i]->op == IR_OP_ASSIGN)
			by[g->nodes[i]->in[0]->id] = g->nodes[i]->in[1];
	int rc = -1;
	for (int i = 0; i < n; i++) {
		ir_node *p = params[i];
		g->cur = p->loc;
		char name[512];
		snprintf(name, sizeof name, PASS_EMA_PREFIX "%s", p->name);
		ir_node *ema = ir_find_leaf(g, IR_OP_STATE, name);
		if (!ema)
			ema = ir_state(g, name, p->dtype, p->shape);
		ir_node *w = ir_find_leaf(g, IR_OP_INPUT, RT_SCALAR_EMA_WEIGHT);
		if (!w)
			w = ir_input(g, RT_SCALAR_EMA_WEIGHT, g->fdtype, ir_shape_scalar());
		ir_node *v = by[p->id] ? by[p->id] : p;
		ir_node *next = ir_binary(g, IR_OP_ADD, ema,
		                          ir_binary(g, IR_OP_MUL, ir_binary(g, IR_OP_SUB, v, ema), w));
		if (!next || !ir_assign(g, ema, next))
			goto done;
	}
	rc = 0;
done:
	free(by);
	return rc;
}
