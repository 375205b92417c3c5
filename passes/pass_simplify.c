/*
 * pass_simplify.c - common subexpressions and constant folding (see
 * pass_simplify.h). One walk in node order: a node's inputs are redirected
 * to their replacements first, then the node is folded (all inputs
 * constant) or looked up among the nodes seen so far (CSE).
 */
#include "pass_simplify.h"
#include "ir_interp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Attributes that make two nodes of the same op and inputs different:
 * every one the op table lists, compared by its type (NaN equals NaN). */
static int same_attrs(const ir_node *a, const ir_node *b)
{
	int na;
	const ir_attr_desc *d = ir_op_attrs(a->op, &na);
	for (int i = 0; i < na; i++) {
		const ir_attr_val *x = &a->attr[i], *y = &b->attr[i];
		switch (ir_attr_type_of(d[i].key)) {
		case IR_ATTR_T_FLOAT:
			if (x->f != y->f && !(x->f != x->f && y->f != y->f))
				return 0;
			break;
		case IR_ATTR_T_INTS:
			if (memcmp(x->v, y->v, sizeof x->v) != 0)
				return 0;
			break;
		default:
			if (x->i != y->i)
				return 0;
			break;
		}
	}
	return 1;
}

static int same_node(const ir_node *a, const ir_node *b)
{
	if (a->op != b->op || a->dtype != b->dtype || a->nin != b->nin ||
	    !ir_shape_eq(&a->shape, &b->shape))
		return 0;
	for (int k = 0; k < a->nin; k++)
		if (a->in[k] != b->in[k])
			return 0;
	return same_attrs(a, b);
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h;
}

static uint64_t hash_node(const ir_node *n)
{
	uint64_t h = mix((uint64_t)n->op, (uint64_t)n->dtype);
	for (int k = 0; k < n->nin; k++)
		h = mix(h, (uint64_t)n->in[k]->id);
	for (int d = 0; d < n->shape.rank; d++)
		h = mix(h, (uint64_t)n->shape.dim[d]);
	uint64_t bits;
	double v = ir_attr_f(n, IR_ATTR_VALUE);
	v = v == 0 ? 0 : v; /* -0 and 0 hash alike; same_attrs decides */
	memcpy(&bits, &v, sizeof bits);
	return mix(h, bits);
}

/* Nodes that CSE may merge: computations and constants, never named
 * leaves (each is its own buffer) or assigns (effects). */
static int mergeable(const ir_node *n)
{
	ir_kind k = ir_op_kind(n->op);
	return n->op == IR_OP_CONST || (k != IR_KIND_LEAF && k != IR_KIND_EFFECT);
}

/* n's value when every input is a constant and the result is one value
 * everywhere, computed as the interpreter computes it. 1 = folded. */
static int fold(const ir_node *n, double *v)
{
	ir_kind k = ir_op_kind(n->op);
	if (n->nin == 0 || (k != IR_KIND_ELEM && k != IR_KIND_SHAPE && n->op != IR_OP_MAX))
		return 0;
	/* elementwise and data movement: at most two inputs */
	ir_node tin[2], *tinp[2], t = *n;
	double vin[2];
	const double *pin[2];
	char err[256];
	if (n->nin > 2)
		return 0;
	t.in = tinp;
	for (int i = 0; i < n->nin; i++) {
		if (n->in[i]->op != IR_OP_CONST)
			return 0;
		tin[i] = *n->in[i];
		tin[i].shape = ir_shape_scalar();
		if (ir_interp_node(&tin[i], NULL, &vin[i], err, sizeof err))
			return 0;
		pin[i] = &vin[i];
		t.in[i] = &tin[i];
	}
	if (k == IR_KIND_SHAPE || n->op == IR_OP_MAX) {
		/* a splat moved or reduced by max is the same splat */
		*v = vin[0];
		return n->dtype == n->in[0]->dtype;
	}
	t.shape = ir_shape_scalar();
	return ir_interp_node(&t, pin, v, err, sizeof err) == 0;
}

/* where(c, a, b) with a constant c is the branch c picks, when that branch
 * already has the result's shape and dtype (the train/eval mode resolves
 * so, and dropout's noise is then dead in evaluation). NULL otherwise. */
static ir_node *chosen_branch(const ir_node *n)
{
	if (n->op != IR_OP_WHERE || n->in[0]->op != IR_OP_CONST)
		return NULL;
	double c = ir_attr_f(n->in[0], IR_ATTR_VALUE);
	if (n->in[0]->dtype == IR_F32)
		c = (float)c; /* the constant as the interpreter holds it */
	ir_node *b = n->in[c != 0 || c != c ? 1 : 2]; /* NaN counts as true */
	return b->dtype == n->dtype && ir_shape_eq(&b->shape, &n->shape) ? b : NULL;
}

int pass_simplify(ir_graph *g, ir_node **outs, int nout)
{
	int n = g->nnodes;
	size_t cap = 16;
	while (cap < 2 * (size_t)n)
		cap *= 2;
	ir_node **rep = calloc((size_t)n + 1, sizeof *rep);
	ir_node **table = calloc(cap, sizeof *table);
	if (!rep || !table) {
		free(rep);
		free(table);
		ir_error(g, g->cur, "simplify: out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		ir_node *x = g->nodes[i];
		for (int k = 0; k < x->nin; k++)
			if (rep[x->in[k]->id])
				x->in[k] = rep[x->in[k]->id];
		ir_node *br = chosen_branch(x);
		if (br) {
			rep[i] = br;
			continue;
		}
		double v;
		if (fold(x, &v)) {
			/* becomes a constant where it stands: its readers and its
			 * place in the order stay as they were */
			int na;
			ir_op_attrs(IR_OP_CONST, &na);
			x->op = IR_OP_CONST;
			x->nin = 0;
			x->attr = ir_arena_alloc(&g->arena, (size_t)na * sizeof *x->attr);
			ir_attr_defaults(IR_OP_CONST, x->attr);
			ir_attr_set_f(x, IR_ATTR_VALUE, v);
		}
		if (!mergeable(x))
			continue;
		size_t h = (size_t)hash_node(x) & (cap - 1);
		while (table[h] && !same_node(table[h], x))
			h = (h + 1) & (cap - 1);
		if (table[h])
			rep[i] = table[h];
		else
			table[h] = x;
	}
	for (int i = 0; i < nout; i++)
		if (outs[i] && rep[outs[i]->id])
			outs[i] = rep[outs[i]->id];
	free(rep);
	free(table);
	return 0;
}
