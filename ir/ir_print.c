/*
 * ir_print.c - the graph as text, one node per line:
 *
 *   %7 = matmul %3, %5 tb  : f32[128,256]   ; fashion_mlp.lua:4
 *
 * Leaves show their names, attributes follow the operands, and every line
 * ends with the model-file line that made the node.
 */
#include "ir.h"

static const char *const init_names[] = {"zeros", "ones", "uniform", "normal", "const"};
static const char *const reduction_names[] = {"mean", "none", "sum"};

/* An enum attribute's value by name. */
static const char *enum_name(ir_attr_key key, int64_t v)
{
	if (key == IR_ATTR_INIT && v >= 0 && v < (int64_t)(sizeof init_names / sizeof *init_names))
		return init_names[v];
	if (key == IR_ATTR_REDUCTION && v >= 0 && v < 2)
		return reduction_names[v];
	return "?";
}

/* Every attribute the op table lists for n, as name=value; CONST shows its
 * value bare, and attributes at their default are left out except where
 * the op table gives the node's meaning (axes, reduction). */
static void print_attrs(FILE *f, const ir_node *n)
{
	int na;
	const ir_attr_desc *d = ir_op_attrs(n->op, &na);
	if (n->op == IR_OP_CONST) {
		fprintf(f, " %.9g", ir_attr_f(n, IR_ATTR_VALUE));
		return;
	}
	for (int a = 0; a < na; a++) {
		ir_attr_key key = d[a].key;
		const ir_attr_val *v = &n->attr[a];
		const char *name = ir_attr_name(key);
		switch (ir_attr_type_of(key)) {
		case IR_ATTR_T_FLOAT:
			if (v->f != d[a].def)
				fprintf(f, " %s=%.6g", name, v->f);
			break;
		case IR_ATTR_T_INT:
			if (v->i != (int64_t)d[a].def || key == IR_ATTR_AXIS)
				fprintf(f, " %s=%lld", name, (long long)v->i);
			break;
		case IR_ATTR_T_BOOL:
			if (v->i)
				fprintf(f, " %s", name);
			break;
		case IR_ATTR_T_ENUM:
			fprintf(f, " %s=%s", name, enum_name(key, v->i));
			break;
		case IR_ATTR_T_AXES:
			if (v->i == 0) {
				fprintf(f, " %s=all", name);
				break;
			}
			fprintf(f, " %s=(", name);
			for (int i = 0, first = 1; i < IR_MAX_DIMS; i++)
				if (v->i & (1 << i)) {
					fprintf(f, "%s%d", first ? "" : ",", i);
					first = 0;
				}
			fputc(')', f);
			break;
		case IR_ATTR_T_INTS:
			fprintf(f, " %s=(", name);
			for (int i = 0; i < n->shape.rank; i++)
				fprintf(f, "%s%d", i ? "," : "", v->v[i]);
			fputc(')', f);
			break;
		}
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
