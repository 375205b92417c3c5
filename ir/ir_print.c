/*
 * ir_print.c - the graph as text, one node per line:
 *
 *   %7 = matmul %3, %5 tb  : f32[128,256]   ; fashion_mlp.lua:4
 *
 * Leaves show their names, attributes follow the operands, and every line
 * ends with the model-file line that made the node.
 */
#include "ir.h"

static void print_attrs(FILE *f, const ir_node *n)
{
	switch (n->op) {
	case IR_OP_CONST:
		fprintf(f, " %.9g", n->value);
		break;
	case IR_OP_PARAM:
		switch (n->init.kind) {
		case IR_INIT_ZEROS: fprintf(f, " init=zeros"); break;
		case IR_INIT_ONES: fprintf(f, " init=ones"); break;
		case IR_INIT_UNIFORM: fprintf(f, " init=uniform(%.6g,%.6g)", n->init.a, n->init.b); break;
		case IR_INIT_NORMAL: fprintf(f, " init=normal(%.6g,%.6g)", n->init.a, n->init.b); break;
		}
		break;
	case IR_OP_INPUT:
		if (n->nclasses)
			fprintf(f, " classes=%d", n->nclasses);
		break;
	case IR_OP_TRANSPOSE:
		fprintf(f, " perm=(");
		for (int i = 0; i < n->shape.rank; i++)
			fprintf(f, "%s%d", i ? "," : "", n->perm[i]);
		fprintf(f, ")");
		break;
	case IR_OP_SUM:
	case IR_OP_MAX:
		if (n->axes == 0) {
			fprintf(f, " axes=all%s", n->keepdim ? " keepdim" : "");
			break;
		}
		fprintf(f, " axes=(");
		for (int i = 0, first = 1; i < IR_MAX_DIMS; i++)
			if (n->axes & (1u << i)) {
				fprintf(f, "%s%d", first ? "" : ",", i);
				first = 0;
			}
		fprintf(f, ")%s", n->keepdim ? " keepdim" : "");
		break;
	case IR_OP_MATMUL:
		fprintf(f, "%s%s", n->ta ? " ta" : "", n->tb ? " tb" : "");
		break;
	case IR_OP_SOFTMAX:
	case IR_OP_LOG_SOFTMAX:
		fprintf(f, " dim=%d", n->axis);
		break;
	case IR_OP_CROSS_ENTROPY:
	case IR_OP_CROSS_ENTROPY_GRAD:
		fprintf(f, " reduction=%s", n->reduction == IR_REDUCE_NONE ? "none" : "mean");
		if (n->value != 0.0)
			fprintf(f, " label_smoothing=%g", n->value);
		break;
	default:
		break;
	}
}

void ir_print_node(FILE *f, const ir_node *n)
{
	char b[96];
	if (n->op == IR_OP_ASSIGN)
		fprintf(f, "  assign %s := %%%d", n->in[0]->name, n->in[1]->id);
	else
		fprintf(f, "  %%%d = %s", n->id, ir_op_name(n->op));
	if (n->name && n->op != IR_OP_ASSIGN)
		fprintf(f, " \"%s\"", n->name);
	if (n->op != IR_OP_ASSIGN)
		for (int i = 0; i < n->nin; i++)
			fprintf(f, "%s%%%d", i ? ", " : " ", n->in[i]->id);
	print_attrs(f, n);
	fprintf(f, " : %s%s", ir_dtype_name(n->dtype), ir_shape_str(&n->shape, b, sizeof b));
	if (n->loc.line > 0)
		fprintf(f, "   ; %s:%d", n->loc.file ? n->loc.file : "?", n->loc.line);
	fputc('\n', f);
}

void ir_print(FILE *f, const ir_graph *g)
{
	int params = 0, inputs = 0, states = 0;
	int64_t pcount = 0;
	for (int i = 0; i < g->nnodes; i++) {
		const ir_node *n = g->nodes[i];
		if (n->op == IR_OP_PARAM) {
			params++;
			pcount += ir_shape_numel(&n->shape);
		}
		inputs += n->op == IR_OP_INPUT;
		states += n->op == IR_OP_STATE;
	}
	fprintf(f, "graph %s: %d nodes, %d params (%lld values), %d inputs, %d state\n",
	        ir_dtype_name(g->fdtype), g->nnodes, params, (long long)pcount, inputs, states);
	for (int i = 0; i < g->nnodes; i++)
		ir_print_node(f, g->nodes[i]);
}
