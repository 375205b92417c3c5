/*
 * ir_clone.c - copying nodes: a whole graph into a fresh one (each compiled
 * program starts from its own copy of the model), and re-emitting the
 * dependents of substituted nodes (SAM's second pass reads w~ for w).
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

/* Appends a copy of `n` with inputs `in`, keeping attributes and location. */
static ir_node *copy_node(ir_graph *g, const ir_node *n, ir_node *const *in)
{
	if (g->nnodes == g->cap) {
		int cap = g->cap ? g->cap * 2 : 256;
		ir_node **nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
		if (!nodes)
			return ir_error(g, n->loc, "out of memory");
		g->nodes = nodes;
		g->cap = cap;
	}
	ir_node *c = ir_arena_alloc(&g->arena, sizeof *c);
	int na;
	ir_op_attrs(n->op, &na);
	*c = *n;
	c->in = ir_arena_alloc(&g->arena, (size_t)(n->nin > 0 ? n->nin : 1) * sizeof *c->in);
	for (int i = 0; i < n->nin; i++)
		c->in[i] = in[i];
	c->attr = ir_arena_alloc(&g->arena, (size_t)(na > 0 ? na : 1) * sizeof *c->attr);
	for (int i = 0; i < na && n->attr; i++)
		c->attr[i] = n->attr[i];
	if (n->name)
		c->name = ir_arena_strdup(&g->arena, n->name);
	if (n->loc.file) {
		ir_set_loc(g, n->loc.file, n->loc.line);
		c->loc = g->cur;
	}
	c->id = g->nnodes;
	g->nodes[g->nnodes++] = c;
	ir_names_note(g, c);
	return c;
}

ir_graph *ir_graph_clone(const ir_graph *src, ir_node ***map_out)
{
	ir_graph *g = ir_graph_new(src->fdtype);
	ir_node **map = calloc((size_t)src->nnodes + 1, sizeof *map);
	if (!g || !map) {
		ir_graph_free(g);
		free(map);
		return NULL;
	}
	for (int i = 0; i < src->nnodes; i++) {
		const ir_node *n = src->nodes[i];
		ir_node **in = calloc((size_t)n->nin + 1, sizeof *in);
		for (int k = 0; in && k < n->nin; k++)
			in[k] = map[n->in[k]->id];
		map[i] = in ? copy_node(g, n, in) : NULL;
		free(in);
		if (!map[i]) {
			ir_graph_free(g);
			free(map);
			return NULL;
		}
	}
	if (map_out)
		*map_out = map;
	else
		free(map);
	return g;
}

ir_node **ir_substitute(ir_graph *g, int limit, ir_node *const *from, ir_node *const *to, int n)
{
	ir_node **map = calloc((size_t)g->nnodes + 1, sizeof *map);
	if (!map)
		return NULL;
	for (int i = 0; i < n; i++)
		map[from[i]->id] = to[i];
	for (int i = 0; i < limit; i++) {
		ir_node *node = g->nodes[i];
		if (map[i] || node->op == IR_OP_ASSIGN)
			continue;
		int changed = 0;
		for (int k = 0; k < node->nin; k++)
			changed |= map[node->in[k]->id] != NULL;
		if (!changed)
			continue;
		ir_node **in = calloc((size_t)node->nin + 1, sizeof *in);
		for (int k = 0; in && k < node->nin; k++) {
			ir_node *m = map[node->in[k]->id];
			in[k] = m ? m : node->in[k];
		}
		map[i] = in ? copy_node(g, node, in) : NULL;
		free(in);
		if (!map[i]) {
			free(map);
			return NULL;
		}
	}
	return map;
}
