/* pass_dce.c - dead-code elimination (see pass_simplify.h). */
#include "pass_simplify.h"

#include <stdlib.h>

int pass_dce(ir_graph *g, ir_node *const *outs, int nout)
{
	char *live = calloc((size_t)g->nnodes + 1, 1);
	if (!live) {
		ir_error(g, g->cur, "dce: out of memory");
		return -1;
	}
	for (int i = 0; i < nout; i++)
		live[outs[i]->id] = 1;
	for (int i = g->nnodes - 1; i >= 0; i--) {
		ir_node *n = g->nodes[i];
		if (n->op == IR_OP_ASSIGN)
			live[i] = 1;
		if (live[i])
			for (int k = 0; k < n->nin; k++)
				live[n->in[k]->id] = 1;
	}
	int kept = 0;
	for (int i = 0; i < g->nnodes; i++)
		if (live[i]) {
			g->nodes[kept] = g->nodes[i];
			g->nodes[kept]->id = kept;
			kept++;
		}
	g->nnodes = kept; /* dropped nodes stay in the arena until the graph is freed */
	free(live);
	return 0;
}
