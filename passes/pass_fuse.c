/*
 * pass_fuse.c - fusion by op kind (see pass_fuse.h): decide for every
 * needed node whether it is inlined or materialized, then gather each
 * kernel's inlined tree and the materialized values it reads.
 */
#include <stdlib.h>
#include <string.h>

#include "pass_fuse.h"

void pass_fusion_free(pass_fusion *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->nk; i++) {
		free(f->k[i].nodes);
		free(f->k[i].roots);
		free(f->k[i].reads);
	}
	free(f->k);
	free(f->val);
	free(f->kernel_of);
	free(f->outs);
	free(f);
}

ir_node *pass_fuse_base(const pass_fusion *f, ir_node *n)
{
	while (n && f->val[n->id] == PASS_VAL_ALIAS)
		n = n->in[0];
	return n;
}

static int is_inline_consumer(const ir_node *c)
{
	return c->op != IR_OP_RESHAPE &&
	       (ir_op_kind(c->op) == IR_KIND_ELEM || ir_op_kind(c->op) == IR_KIND_SHAPE ||
	        ir_op_kind(c->op) == IR_KIND_REDUCE);
}

/* Whether node x (one consumer, c) can be computed inside c's kernel. */
static int can_inline(const ir_node *x, const ir_node *c)
{
	if (!is_inline_consumer(c))
		return 0;
	if (ir_op_kind(c->op) == IR_KIND_REDUCE)
		return 1;
	/* an expanding read would recompute x for every copy, except for a
	 * scalar: its computation is loop-invariant and hoisted */
	return ir_shape_numel(&x->shape) == ir_shape_numel(&c->shape) ||
	       ir_shape_numel(&x->shape) == 1;
}

typedef struct {
	pass_fusion *f;
	pass_kernel *k;
	int cap_nodes, cap_reads;
} gather;

static int add_read(gather *ga, ir_node *v, int identity)
{
	pass_kernel *k = ga->k;
	for (int i = 0; i < k->nreads; i++)
		if (k->reads[i].node == v) {
			k->reads[i].identity &= identity;
			return 0;
		}
	if (k->nreads == ga->cap_reads) {
		int cap = ga->cap_reads ? 2 * ga->cap_reads : 8;
		pass_read *r = realloc(k->reads, (size_t)cap * sizeof *r);
		if (!r)
			return -1;
		k->reads = r;
		ga->cap_reads = cap;
	}
	k->reads[k->nreads].node = v;
	k->reads[k->nreads++].identity = identity;
	return 0;
}

static int add_node(gather *ga, ir_node *n)
{
	pass_kernel *k = ga->k;
	if (k->nnodes == ga->cap_nodes) {
		int cap = ga->cap_nodes ? 2 * ga->cap_nodes : 8;
		ir_node **p = realloc(k->nodes, (size_t)cap * sizeof *p);
		if (!p)
			return -1;
		k->nodes = p;
		ga->cap_nodes = cap;
	}
	k->nodes[k->nnodes++] = n;
	return 0;
}

typedef struct {
	ir_node *n;
	int ident; /* n is read at the root's index */
	int next;  /* the next input of n to visit */
} walk_frame;

/* Walks the inlined tree under top in pre-order (inputs in order), with a
 * stack of its own: an elementwise chain may be any number of ops long. */
static int walk(gather *ga, ir_node *top, int ident, int kidx)
{
	pass_fusion *f = ga->f;
	const ir_node *root = ga->k->root;
	int sp = 0, cap = 16, rc = -1;
	walk_frame *st = malloc((size_t)cap * sizeof *st);
	if (!st || add_node(ga, top))
		goto done;
	f->kernel_of[top->id] = kidx;
	st[sp++] = (walk_frame){top, ident, 0};
	while (sp > 0) {
		walk_frame *fr = &st[sp - 1];
		ir_node *n = fr->n;
		if (fr->next == n->nin) {
			sp--;
			continue;
		}
		ir_node *x = n->in[fr->next++];
		int same = ir_shape_eq(&x->shape, &root->shape);
		int xid = fr->ident && same &&
		          (ir_op_kind(n->op) == IR_KIND_ELEM ||
		           (n->op == IR_OP_BROADCAST && ir_shape_eq(&n->shape, &x->shape)));
		if (ga->k->kind != RT_K_ELEM)
			xid = 0;
		if (f->val[x->id] == PASS_VAL_INLINE) {
			/* the same node may feed n twice (x*x): walk it once */
			if (f->kernel_of[x->id] == kidx)
				continue;
			if (add_node(ga, x))
				goto done;
			f->kernel_of[x->id] = kidx;
			if (sp == cap) {
				cap *= 2;
				walk_frame *ns = realloc(st, (size_t)cap * sizeof *ns);
				if (!ns)
					goto done;
				st = ns;
			}
			st[sp++] = (walk_frame){x, xid, 0};
		} else if (!(x->op == IR_OP_CONST && ga->k->kind <= RT_K_REDUCE)) {
			if (add_read(ga, x, xid))
				goto done;
		}
	}
	rc = 0;
done:
	free(st);
	return rc;
}

static int cmp_node(const void *a, const void *b)
{
	const ir_node *x = *(ir_node *const *)a, *y = *(ir_node *const *)b;
	return (x->id > y->id) - (x->id < y->id);
}

/* Index of the kernel whose roots include base value v, or -1. */
static int root_kernel(const pass_fusion *f, const ir_node *v)
{
	if (f->val[v->id] != PASS_VAL_ROOT)
		return -1;
	return f->kernel_of[v->id];
}

/* May kernel P be computed inside the later kernel C (see pass_fuse.h)? */
static int can_merge(const pass_fusion *f, int p, int c)
{
	const pass_kernel *P = &f->k[p], *C = &f->k[c];
	if (P->kind != RT_K_ELEM || C->kind != RT_K_ELEM || !P->nnodes ||
	    !ir_shape_eq(&P->root->shape, &C->root->shape))
		return 0;
	/* C reads P's results only at its own index */
	for (int j = 0; j < C->nreads; j++)
		if (root_kernel(f, pass_fuse_base(f, C->reads[j].node)) == p && !C->reads[j].identity)
			return 0;
	/* P's results do not exist before C now: no kernel in between reads them */
	for (int q = p + 1; q < c; q++)
		for (int j = 0; j < f->k[q].nreads; j++)
			if (root_kernel(f, pass_fuse_base(f, f->k[q].reads[j].node)) == p)
				return 0;
	return 1;
}

static int append(void *pa, int *n, const void *src, int m, size_t size)
{
	void **arr = pa;
	void *x = realloc(*arr, (size_t)(*n + m) * size);
	if (!x)
		return -1;
	memcpy((char *)x + (size_t)*n * size, src, (size_t)m * size);
	*arr = x;
	*n += m;
	return 0;
}

/* Moves kernel p into kernel c: c writes p's results too. */
static int merge_into(pass_fusion *f, int p, int c)
{
	pass_kernel *P = &f->k[p], *C = &f->k[c];
	ir_node **roots = malloc((size_t)(P->nroots + C->nroots) * sizeof *roots);
	if (!roots)
		return -1;
	memcpy(roots, P->roots, (size_t)P->nroots * sizeof *roots);
	memcpy(roots + P->nroots, C->roots, (size_t)C->nroots * sizeof *roots);
	free(C->roots);
	C->roots = roots;
	C->nroots += P->nroots;
	if (append(&C->nodes, &C->nnodes, P->nodes, P->nnodes, sizeof *P->nodes))
		return -1;
	qsort(C->nodes, (size_t)C->nnodes, sizeof *C->nodes, cmp_node);
	/* C's reads of P's results become values computed in place */
	int nr = 0;
	for (int j = 0; j < C->nreads; j++)
		if (root_kernel(f, pass_fuse_base(f, C->reads[j].node)) != p)
			C->reads[nr++] = C->reads[j];
	C->nreads = nr;
	for (int j = 0; j < P->nreads; j++) {
		int dup = 0;
		for (int q = 0; q < C->nreads && !dup; q++)
			if (C->reads[q].node == P->reads[j].node) {
				C->reads[q].identity &= P->reads[j].identity;
				dup = 1;
			}
		if (!dup && append(&C->reads, &C->nreads, &P->reads[j], 1, sizeof *P->reads))
			return -1;
	}
	for (int j = 0; j < P->nnodes; j++)
		f->kernel_of[P->nodes[j]->id] = c;
	free(P->nodes);
	free(P->reads);
	free(P->roots);
	memset(P, 0, sizeof *P);
	return 0;
}

/* Multi-output elementwise kernels (see pass_fuse.h), then compaction. */
static int merge_outputs(pass_fusion *f)
{
	for (int c = 0; c < f->nk; c++) {
		for (int again = 1; again;) {
			again = 0;
			for (int j = 0; j < f->k[c].nreads; j++) {
				int p = root_kernel(f, pass_fuse_base(f, f->k[c].reads[j].node));
				if (p < 0 || p >= c || !can_merge(f, p, c))
					continue;
				if (merge_into(f, p, c))
					return -1;
				again = 1;
				break;
			}
		}
	}
	int *idx = malloc(((size_t)f->nk + 1) * sizeof *idx), n = 0;
	if (!idx)
		return -1;
	for (int i = 0; i < f->nk; i++) {
		idx[i] = f->k[i].nnodes ? n : -1;
		if (f->k[i].nnodes)
			f->k[n++] = f->k[i];
	}
	for (int i = 0; i < f->g->nnodes; i++)
		if (f->kernel_of[i] >= 0)
			f->kernel_of[i] = idx[f->kernel_of[i]];
	f->nk = n;
	free(idx);
	return 0;
}

static rt_kkind kernel_kind(const ir_node *n)
{
	switch (ir_op_kind(n->op)) {
	case IR_KIND_REDUCE: return RT_K_REDUCE;
	case IR_KIND_MATMUL: return RT_K_GEMM;
	case IR_KIND_OPAQUE: return RT_K_ROW;
	case IR_KIND_COMM: return RT_K_COMM;
	default: return RT_K_ELEM;
	}
}

/* Roles of the needed nodes; consumers[] counts distinct needed consumers. */
static void decide(pass_fusion *f, const char *need, const int *nuse, ir_node **one_use,
                   const char *forced)
{
	ir_graph *g = f->g;
	for (int i = 0; i < g->nnodes; i++) {
		ir_node *n = g->nodes[i];
		pass_val v = PASS_VAL_UNUSED;
		if (!need[i]) {
			f->val[i] = v;
			continue;
		}
		switch (ir_op_kind(n->op)) {
		case IR_KIND_LEAF:
			if (n->op != IR_OP_CONST)
				v = PASS_VAL_LEAF;
			else
				v = forced[i] ? PASS_VAL_ROOT : PASS_VAL_INLINE;
			break;
		case IR_KIND_EFFECT:
			v = PASS_VAL_EFFECT;
			break;
		case IR_KIND_ELEM:
		case IR_KIND_SHAPE:
			if (n->op == IR_OP_RESHAPE)
				v = PASS_VAL_ALIAS;
			else if (!forced[i] && nuse[i] == 1 && can_inline(n, one_use[i]))
				v = PASS_VAL_INLINE;
			else
				v = PASS_VAL_ROOT;
			break;
		default:
			v = PASS_VAL_ROOT;
			break;
		}
		f->val[i] = v;
	}
}

pass_fusion *pass_fuse(ir_graph *g, ir_node *const *outs, int nout, char *err, size_t errlen)
{
	int n = g->nnodes;
	for (int i = 0; i < n; i++)
		if (g->nodes[i]->op == IR_OP_MODE) {
			ir_failf(err, errlen, "fusion: the train/eval mode is not resolved (ir_resolve_mode)");
			return NULL;
		}
	pass_fusion *f = calloc(1, sizeof *f);
	char *need = calloc((size_t)n + 1, 1), *forced = calloc((size_t)n + 1, 1);
	int *nuse = calloc((size_t)n + 1, sizeof *nuse);
	ir_node **one_use = calloc((size_t)n + 1, sizeof *one_use);
	if (!f || !need || !forced || !nuse || !one_use)
		goto oom;
	f->g = g;
	f->nout = nout;
	f->outs = malloc((size_t)(nout > 0 ? nout : 1) * sizeof *f->outs);
	f->val = calloc((size_t)n + 1, sizeof *f->val);
	f->kernel_of = malloc(((size_t)n + 1) * sizeof *f->kernel_of);
	f->k = calloc((size_t)n + 1, sizeof *f->k);
	if (!f->outs || !f->val || !f->kernel_of || !f->k)
		goto oom;
	for (int i = 0; i < n; i++)
		f->kernel_of[i] = -1;
	for (int i = 0; i < nout; i++) {
		if (!outs[i] || outs[i]->id < 0 || outs[i]->id >= n || g->nodes[outs[i]->id] != outs[i]) {
			ir_failf(err, errlen, "fusion: output %d is not a node of this graph", i);
			goto bad;
		}
		f->outs[i] = outs[i];
		need[outs[i]->id] = 1;
		forced[outs[i]->id] = 1;
	}
	/* mark what the outputs and assigns need; inputs always come earlier */
	for (int i = n - 1; i >= 0; i--) {
		ir_node *nd = g->nodes[i];
		if (nd->op == IR_OP_ASSIGN)
			need[i] = 1;
		if (!need[i])
			continue;
		for (int j = 0; j < nd->nin; j++) {
			ir_node *x = nd->in[j];
			if (!x || x->id >= i || g->nodes[x->id] != x) {
				ir_failf(err, errlen, "fusion: node %%%d (%s): input %d is not an earlier node", i,
				     ir_op_name(nd->op), j);
				goto bad;
			}
			need[x->id] = 1;
			int dup = 0;
			for (int q = 0; q < j; q++)
				dup |= nd->in[q] == x;
			if (dup)
				continue;
			nuse[x->id]++;
			one_use[x->id] = nd;
			/* consumers that read a whole buffer force their inputs into memory */
			if (!is_inline_consumer(nd))
				forced[x->id] = 1;
		}
	}
	decide(f, need, nuse, one_use, forced);

	for (int i = 0; i < n; i++) {
		if (f->val[i] != PASS_VAL_ROOT)
			continue;
		gather ga = {f, &f->k[f->nk], 0, 0};
		ga.k->root = g->nodes[i];
		ga.k->kind = kernel_kind(g->nodes[i]);
		if (walk(&ga, g->nodes[i], 1, f->nk))
			goto oom;
		qsort(ga.k->nodes, (size_t)ga.k->nnodes, sizeof *ga.k->nodes, cmp_node);
		if (!(ga.k->roots = malloc(sizeof *ga.k->roots)))
			goto oom;
		ga.k->roots[0] = ga.k->root;
		ga.k->nroots = 1;
		f->nk++;
	}
	if (merge_outputs(f))
		goto oom;
	free(need);
	free(forced);
	free(nuse);
	free(one_use);
	return f;
oom:
	ir_failf(err, errlen, "fusion: out of memory");
bad:
	free(need);
	free(forced);
	free(nuse);
	free(one_use);
	pass_fusion_free(f);
	return NULL;
}

static const char *kind_name(rt_kkind k)
{
	static const char *const names[] = {[RT_K_ELEM] = "elem", [RT_K_REDUCE] = "reduce",
	                                    [RT_K_ROW] = "row", [RT_K_GEMM] = "matmul",
	                                    [RT_K_CONV] = "conv", [RT_K_COMM] = "comm"};
	return names[k];
}

void pass_fuse_print(FILE *out, const pass_fusion *f)
{
	char sh[64];
	fprintf(out, "# %d kernels\n", f->nk);
	for (int i = 0; i < f->nk; i++) {
		const pass_kernel *k = &f->k[i];
		fprintf(out, "k%d %s ->", i, kind_name(k->kind));
		for (int j = 0; j < k->nroots; j++)
			fprintf(out, "%s%%%d", j ? "," : " ", k->roots[j]->id);
		fprintf(out, " %s %s:", ir_dtype_name(k->root->dtype),
		        ir_shape_str(&k->root->shape, sh, sizeof sh));
		for (int j = 0; j < k->nnodes; j++)
			fprintf(out, " %%%d=%s", k->nodes[j]->id, ir_op_name(k->nodes[j]->op));
		fputs("  reads", out);
		for (int j = 0; j < k->nreads; j++) {
			const ir_node *r = k->reads[j].node;
			fprintf(out, " %%%d", r->id);
			if (r->name)
				fprintf(out, "(%s)", r->name);
		}
		fputc('\n', out);
	}
}
