/*
 * ir_order.c - restoring the "inputs come first" order after a pass has
 * pointed old nodes at new ones appended to the end of the graph.
 */
#include "ir.h"

#include <stdlib.h>

int ir_reorder(ir_graph *g)
{
	int n = g->nnodes;
	ir_node **out = malloc((size_t)(n + 1) * sizeof *out);
	ir_node **stack = malloc((size_t)(n + 1) * sizeof *stack);
	int *next = calloc((size_t)n + 1, sizeof *next); /* per node: next input to visit */
	char *state = calloc((size_t)n + 1, 1);          /* 0 new, 1 on the stack, 2 placed */
	if (!out || !stack || !next || !state) {
		free(out), free(stack), free(next), free(state);
		ir_error(g, g->cur, "reorder: out of memory");
		return -1;
	}
	int nout = 0, rc = 0;
	/* Depth-first from each node in the old order: a node is placed after
	 * its inputs, and nodes that were already in order keep it. */
	for (int r = 0; r < n && !rc; r++) {
		if (state[r])
			continue;
		int sp = 0;
		stack[sp++] = g->nodes[r];
		state[r] = 1;
		while (sp > 0) {
			ir_node *t = stack[sp - 1];
			if (next[t->id] < t->nin) {
				ir_node *in = t->in[next[t->id]++];
				if (state[in->id] == 1) {
					ir_error(g, t->loc, "reorder: the graph has a cycle through node %%%d",
					         in->id);
					rc = -1;
					break;
				}
				if (state[in->id] == 0) {
					state[in->id] = 1;
					stack[sp++] = in;
				}
				continue;
			}
			state[t->id] = 2;
			out[nout++] = t;
			sp--;
		}
	}
	if (!rc)
		for (int i = 0; i < n; i++) {
			g->nodes[i] = out[i];
			out[i]->id = i;
		}
	free(out), free(stack), free(next), free(state);
	return rc;
}

void ir_move_after(ir_graph *g, ir_node *n, const ir_node *after)
{
	int from = n->id, to = after->id + 1;
	if (from <= to)
		return;
	for (int i = from; i > to; i--) {
		g->nodes[i] = g->nodes[i - 1];
		g->nodes[i]->id = i;
	}
	g->nodes[to] = n;
	n->id = to;
}
