/*
 * ir_names.c - the graph's index of named nodes, so that finding a leaf by
 * name (every param, input and state a model declares checks that its name
 * is new) costs O(1) rather than a scan of the whole graph: a model of
 * 100,000 layers once spent minutes in those scans.
 *
 * A hash table of chains keyed by (op, name) holds every named node ever
 * made in the graph. Passes drop nodes (dce) and reorder them (ir_order)
 * without telling it: a node is live while g->nodes[n->id] == n, an
 * invariant every pass keeps, so a lookup returns the first live node of
 * its chain and skips dropped ones.
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

typedef struct ir_names {
	ir_node **node; /* entries */
	int *next;      /* chain: next entry index, or -1 */
	int *head;      /* per bucket: first entry, or -1 */
	int n, cap;     /* entries */
	int nbuckets;   /* a power of two */
} ir_names;

static unsigned hash(ir_op op, const char *s)
{
	unsigned h = 2166136261u ^ (unsigned)op;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int grow(ir_names *t)
{
	int cap = t->cap ? t->cap * 2 : 256;
	ir_node **node = realloc(t->node, (size_t)cap * sizeof *node);
	if (node)
		t->node = node;
	int *next = realloc(t->next, (size_t)cap * sizeof *next);
	if (next)
		t->next = next;
	int *head = calloc((size_t)cap, sizeof *head); /* buckets: as many as entries */
	if (!node || !next || !head) {
		free(head);
		return -1;
	}
	free(t->head);
	t->head = head;
	t->cap = t->nbuckets = cap;
	for (int b = 0; b < cap; b++)
		head[b] = -1;
	for (int i = 0; i < t->n; i++) { /* rehash */
		unsigned b = hash(t->node[i]->op, t->node[i]->name) & (unsigned)(cap - 1);
		t->next[i] = head[b];
		head[b] = i;
	}
	return 0;
}

void ir_names_note(ir_graph *g, ir_node *n)
{
	if (!n->name || g->names_failed)
		return;
	if (!g->names && !(g->names = calloc(1, sizeof *g->names))) {
		g->names_failed = 1;
		return;
	}
	ir_names *t = g->names;
	if (t->n == t->cap && grow(t)) {
		g->names_failed = 1; /* out of memory: lookups scan instead */
		return;
	}
	unsigned b = hash(n->op, n->name) & (unsigned)(t->nbuckets - 1);
	t->node[t->n] = n;
	/* appended at the chain's tail, so the first made stays the first found */
	t->next[t->n] = -1;
	int *link = &t->head[b];
	while (*link >= 0)
		link = &t->next[*link];
	*link = t->n++;
}

void ir_names_free(ir_graph *g)
{
	if (!g->names)
		return;
	free(g->names->node);
	free(g->names->next);
	free(g->names->head);
	free(g->names);
	g->names = NULL;
}

static int live(const ir_graph *g, const ir_node *n)
{
	return n->id >= 0 && n->id < g->nnodes && g->nodes[n->id] == n;
}

ir_node *ir_find_leaf(ir_graph *g, ir_op op, const char *name)
{
	if (g->names_failed || !g->names) {
		for (int i = 0; i < g->nnodes && g->names_failed; i++) {
			ir_node *n = g->nodes[i];
			if (n->op == op && n->name && strcmp(n->name, name) == 0)
				return n;
		}
		return NULL;
	}
	const ir_names *t = g->names;
	for (int i = t->head[hash(op, name) & (unsigned)(t->nbuckets - 1)]; i >= 0; i = t->next[i]) {
		ir_node *n = t->node[i];
		if (n->op == op && strcmp(n->name, name) == 0 && live(g, n))
			return n;
	}
	return NULL;
}
