/*
 * cg_multi.c - multi-tensor kernels (see cg_multi.h): runs of independent
 * elementwise kernels merged into one parallel loop over all their
 * elements, each kernel's body under a tree of comparisons.
 */
#include <stdlib.h>
#include <string.h>

#include "cg_multi.h"

/* --- which kernels can be segments --- */

enum { SEG_NONE, SEG_ELEM, SEG_REDUCE }; /* what a merged kernel's segments are */

static int has_loop(const cg_stmt *s)
{
	for (; s; s = s->next)
		if (s->kind == CG_S_LOOP || s->kind == CG_S_FAIL || has_loop(s->body))
			return 1;
	return 0;
}

/* Whether the block is what a block runs well with all its threads: no
 * FAIL, no parallel loop, and stores only at its top level (thread 0
 * stores those; one inside a loop would cost every iteration a barrier). */
static int block_body(const cg_stmt *s, int top)
{
	for (; s; s = s->next) {
		if (s->kind == CG_S_FAIL || s->kind == CG_S_IF ||
		    (s->kind == CG_S_LOOP && s->loop == CG_L_PARALLEL) || (s->kind == CG_S_STORE && !top))
			return 0;
		if (!block_body(s->body, 0))
			return 0;
	}
	return 1;
}

/* What k can be a segment of (SEG_NONE: nothing), its extent in the
 * merged loop (*ext: its parallel loop's, 1 for a body without one) and
 * what each iteration runs (*leaf, over loop variable *var, -1 without a
 * parallel loop).
 *   SEG_ELEM    an elementwise kernel without inner loops: a thread per
 *               element (the optimizer's update, SAM's perturbation)
 *   SEG_REDUCE  a reduction whose iterations are block-sized: a parallel
 *               loop of reduce loops (a split reduction's chunks, sums
 *               over trailing axes) or a whole one (a squared norm, the
 *               fold of a split one): a block per iteration */
static int segment(const cg_kernel *k, int64_t *ext, const cg_stmt **leaf, int *var)
{
	const cg_stmt *s = k->body;
	if (!s || rt_kkind_is_call(k->kind))
		return SEG_NONE;
	int par = s->kind == CG_S_LOOP && !s->next && s->loop == CG_L_PARALLEL;
	*ext = par ? s->extent : 1;
	*leaf = par ? s->body : s;
	*var = par ? s->var : -1;
	if (*ext <= 0)
		return SEG_NONE;
	if (k->kind == RT_K_ELEM)
		return !has_loop(*leaf) ? SEG_ELEM : SEG_NONE;
	if (k->kind == RT_K_REDUCE)
		return block_body(*leaf, 1) ? SEG_REDUCE : SEG_NONE;
	return SEG_NONE;
}

/* --- which kernels can run side by side --- */

/* Whether program buffers a and b share bytes: the same buffer, or two
 * arena buffers of the memory plan at overlapping offsets (buffers whose
 * lifetimes do not overlap may share them: pass_plan.h). */
static int alias(const cg_program *p, int a, int b)
{
	if (a == b)
		return 1;
	const pass_plan *pl = p->plan;
	if (a < 0 || b < 0 || a >= pl->nbuf || b >= pl->nbuf)
		return 0;
	const pass_buf *x = &pl->buf[a], *y = &pl->buf[b];
	if (x->kind != PASS_BUF_ARENA || y->kind != PASS_BUF_ARENA)
		return 0;
	return x->offset < y->offset + y->bytes && y->offset < x->offset + x->bytes;
}

/* Whether k touches memory the group's kernels (their buffers `u`, n of
 * them) touch where either side writes it. */
static int conflicts(const cg_program *p, const cg_kernel *k, const cg_arg *u, int n)
{
	for (int i = 0; i < k->nargs; i++)
		for (int j = 0; j < n; j++)
			if ((k->args[i].written || u[j].written) && alias(p, k->args[i].id, u[j].id))
				return 1;
	return 0;
}

/* Adds k's buffers to the union u (n so far, room for CG_MULTI_MAX_ARGS);
 * -1, u unchanged, when they do not fit. */
static int add_args(cg_arg *u, int *n, const cg_kernel *k)
{
	int m = *n, fresh = 0;
	for (int i = 0; i < k->nargs; i++) {
		int j = 0;
		while (j < m && u[j].id != k->args[i].id)
			j++;
		fresh += j == m;
	}
	if (m + fresh > CG_MULTI_MAX_ARGS)
		return -1;
	for (int i = 0; i < k->nargs; i++) {
		int j = 0;
		while (j < m && u[j].id != k->args[i].id)
			j++;
		if (j == m) {
			u[m] = k->args[i];
			u[m++].written = 0;
		}
		u[j].written |= k->args[i].written;
	}
	*n = m;
	return 0;
}

/* --- copying a segment's statements into the merged kernel --- */

typedef struct {
	ir_arena *a;
	int var;            /* the segment's loop variable, or -1 */
	cg_expr *repl;      /* what it becomes: the element index minus the offset */
	int var0;           /* the segment's other loop variables: renumbered from here */
	int loc0;           /* the segment's first local in the merged kernel */
	const int *bmap;    /* its buffers in the merged kernel's */
	const cg_expr **key; /* memo (open addressing): a node and its copy, so */
	cg_expr **val;       /* nodes shared within a statement stay shared */
	size_t cap, n;
	int oom;
} mcopy;

static size_t hash(const cg_expr *e, size_t cap)
{
	return ((uintptr_t)e >> 4) * 0x9E3779B97F4A7C15ull % cap;
}

static cg_expr *memo_get(const mcopy *c, const cg_expr *e)
{
	if (!c->cap)
		return NULL;
	for (size_t h = hash(e, c->cap);; h = (h + 1) % c->cap) {
		if (c->key[h] == e)
			return c->val[h];
		if (!c->key[h])
			return NULL;
	}
}

static void memo_put(mcopy *c, const cg_expr *e, cg_expr *v)
{
	if (2 * (c->n + 1) > c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 256;
		const cg_expr **key = calloc(cap, sizeof *key);
		cg_expr **val = calloc(cap, sizeof *val);
		if (!key || !val) {
			free(key);
			free(val);
			c->oom = 1;
			return;
		}
		for (size_t i = 0; i < c->cap; i++) {
			if (!c->key[i])
				continue;
			size_t h = hash(c->key[i], cap);
			while (key[h])
				h = (h + 1) % cap;
			key[h] = c->key[i];
			val[h] = c->val[i];
		}
		free(c->key);
		free(c->val);
		c->key = key;
		c->val = val;
		c->cap = cap;
	}
	size_t h = hash(e, c->cap);
	while (c->key[h])
		h = (h + 1) % c->cap;
	c->key[h] = e;
	c->val[h] = v;
	c->n++;
}

/* elementwise expressions are shallow (a fused tree of a few ops), so
 * plain recursion */
static cg_expr *copy_expr(mcopy *c, const cg_expr *e)
{
	if (!e || c->oom)
		return NULL;
	cg_expr *y = memo_get(c, e);
	if (y)
		return y;
	if (e->kind == CG_X_VAR && e->var == c->var) {
		y = c->repl;
	} else {
		y = ir_arena_alloc(c->a, sizeof *y);
		*y = *e;
		y->a = copy_expr(c, e->a);
		y->b = copy_expr(c, e->b);
		y->c = copy_expr(c, e->c);
		if (e->kind == CG_X_LOCAL)
			y->var += c->loc0;
		else if (e->kind == CG_X_VAR)
			y->var += c->var0;
		else if (e->kind == CG_X_LOAD)
			y->buf = c->bmap[e->buf];
	}
	memo_put(c, e, y);
	return y;
}

static cg_stmt *copy_block(mcopy *c, const cg_stmt *b)
{
	cg_stmt *head = NULL, **tail = &head;
	for (; b && !c->oom; b = b->next) {
		cg_stmt *n = ir_arena_alloc(c->a, sizeof *n);
		*n = *b;
		n->next = NULL;
		n->idx = copy_expr(c, b->idx);
		n->val = copy_expr(c, b->val);
		n->cond = copy_expr(c, b->cond);
		n->body = copy_block(c, b->body);
		if (b->kind == CG_S_STORE)
			n->buf = c->bmap[b->buf];
		else if (b->kind == CG_S_SET)
			n->var += c->loc0;
		else if (b->kind == CG_S_LOOP) {
			n->var += c->var0;
			n->acc += b->loop == CG_L_REDUCE ? c->loc0 : 0;
		}
		*tail = n;
		tail = &n->next;
	}
	return head;
}

/* --- the merge --- */

typedef struct {
	ir_arena *a;
	const int64_t *off;  /* segment s covers [off[s], off[s + 1]) */
	cg_stmt **leaf;      /* each segment's statements, copied */
} mtree;

static cg_expr *ix(ir_arena *a, int64_t v)
{
	return cg_const_i(a, CG_T_I64, v);
}

/* Segments lo .. hi-1 under a balanced tree of comparisons of i0. */
static cg_stmt *tree(const mtree *t, int lo, int hi)
{
	if (hi - lo == 1)
		return t->leaf[lo];
	int mid = (lo + hi) / 2;
	cg_stmt *s = cg_if(t->a, cg_bin(t->a, CG_B_LT, cg_var(t->a, 0), ix(t->a, t->off[mid])),
	                   tree(t, lo, mid));
	cg_append(&s, cg_if(t->a, cg_bin(t->a, CG_B_GE, cg_var(t->a, 0), ix(t->a, t->off[mid])),
	                    tree(t, mid, hi)));
	return s;
}

/* prog->k[mem[0]], ... (ns of them) as one kernel into *out; u holds
 * their n buffers. */
static int merge(cg_program *prog, const int *mem, int ns, const cg_arg *u, int n, cg_kernel *out)
{
	ir_arena *a = &prog->arena;
	int nloc = 0, nvar = 1, rc = 0;
	int64_t *off = calloc((size_t)ns + 1, sizeof *off);
	cg_stmt **leaf = calloc((size_t)ns, sizeof *leaf);
	int *bmap = calloc(CG_MULTI_MAX_ARGS, sizeof *bmap);
	if (!off || !leaf || !bmap) {
		rc = -1;
		goto done;
	}
	const cg_kernel *k0 = &prog->k[mem[0]];
	for (int s = 0; s < ns; s++) {
		nloc += prog->k[mem[s]].nlocals;
		nvar += prog->k[mem[s]].nvars;
	}
	memset(out, 0, sizeof *out);
	out->kind = k0->kind;
	out->src = k0->src;
	if (snprintf(out->name, sizeof out->name, "k%d_multi%d", k0->src, ns) >= (int)sizeof out->name)
		rc = -1;
	out->nargs = n;
	out->args = ir_arena_alloc(a, (size_t)n * sizeof *out->args);
	memcpy(out->args, u, (size_t)n * sizeof *u);
	out->nvars = nvar;
	out->nlocals = nloc;
	out->local_type = ir_arena_alloc(a, ((size_t)nloc + 1) * sizeof *out->local_type);
	out->nseg = ns;
	nloc = 0;
	nvar = 1;
	for (int s = 0; s < ns && rc == 0; s++) {
		const cg_kernel *k = &prog->k[mem[s]];
		const cg_stmt *body = NULL;
		int var = -1;
		int64_t e = 0;
		segment(k, &e, &body, &var);
		for (int j = 0; j < k->nargs; j++) {
			int q = 0;
			while (q < n && u[q].id != k->args[j].id)
				q++;
			bmap[j] = q;
		}
		off[s + 1] = off[s] + e;
		if (k->nlocals > 0) /* a kernel without locals has no table (NULL) */
			memcpy(out->local_type + nloc, k->local_type,
			       (size_t)k->nlocals * sizeof *k->local_type);
		mcopy c;
		memset(&c, 0, sizeof c);
		c.a = a;
		c.var = var;
		c.repl = off[s] ? cg_bin(a, CG_B_SUB, cg_var(a, 0), ix(a, off[s])) : cg_var(a, 0);
		c.var0 = nvar;
		c.loc0 = nloc;
		c.bmap = bmap;
		leaf[s] = copy_block(&c, body);
		free(c.key);
		free(c.val);
		rc = c.oom ? -1 : 0;
		nloc += k->nlocals;
		nvar += k->nvars;
		out->work += k->work;
	}
	if (rc == 0) {
		mtree t = {a, off, leaf};
		out->body = cg_loop(a, 0, off[ns], CG_L_PARALLEL, tree(&t, 0, ns));
	}
done:
	free(off);
	free(leaf);
	free(bmap);
	return rc;
}

/* Kernels the driver looks past for more segments of a group, and the
 * buffers of those it passes over that it keeps track of. */
#define MULTI_WINDOW 64
#define MULTI_PASSED 4096

int cg_multi_merge(cg_program *prog, char *err, size_t errlen)
{
	cg_kernel *ks = ir_arena_alloc(&prog->arena, ((size_t)prog->nk + 1) * sizeof *ks);
	cg_arg *u = malloc(CG_MULTI_MAX_ARGS * sizeof *u), *sk = malloc(MULTI_PASSED * sizeof *sk);
	int *mem = malloc(MULTI_WINDOW * sizeof *mem);
	char *taken = calloc((size_t)prog->nk + 1, 1);
	int rc = 0;
	if (!u || !sk || !mem || !taken)
		rc = -1;
	/* From the end of the schedule: a group starts at a kernel that can
	 * be a segment and takes the earlier ones of its run of kernels of
	 * its kind that touch nothing the group or the kernels passed over
	 * write, nor write what they touch (so a split reduction's fold is
	 * passed over and the chunks of the reductions before it join the
	 * group of chunks, the folds that of folds). The merged kernel runs
	 * where the last one ran, the others moved down to it; ks[i] is what
	 * runs at kernel i's place. */
	for (int i = prog->nk - 1; i >= 0 && rc == 0; i--) {
		if (taken[i])
			continue;
		const cg_stmt *leaf;
		int64_t e;
		int var, n = 0, nsk = 0, nm = 1;
		int kind = segment(&prog->k[i], &e, &leaf, &var);
		mem[0] = i;
		ks[i] = prog->k[i];
		if (kind != SEG_NONE && add_args(u, &n, &prog->k[i]) == 0)
			for (int j = i - 1; j >= 0 && j >= i - MULTI_WINDOW && nm < MULTI_WINDOW; j--) {
				const cg_kernel *k = &prog->k[j];
				if (taken[j])
					continue;
				int m = n;
				if (segment(k, &e, &leaf, &var) != kind)
					break;
				if (!conflicts(prog, k, u, n) && !conflicts(prog, k, sk, nsk) &&
				    add_args(u, &m, k) == 0) {
					n = m;
					mem[nm++] = j;
					taken[j] = 1;
					continue;
				}
				if (nsk + k->nargs > MULTI_PASSED)
					break;
				if (k->nargs > 0)
					memcpy(sk + nsk, k->args, (size_t)k->nargs * sizeof *sk);
				nsk += k->nargs;
			}
		if (nm < 2)
			continue;
		for (int a = 0, b = nm - 1; a < b; a++, b--) { /* in schedule order */
			int t = mem[a];
			mem[a] = mem[b];
			mem[b] = t;
		}
		rc = merge(prog, mem, nm, u, n, &ks[i]);
	}
	free(u);
	free(sk);
	free(mem);
	if (rc) {
		free(taken);
		snprintf(err, errlen, "multi-tensor kernels: out of memory");
		return -1;
	}
	int nk = 0;
	for (int i = 0; i < prog->nk; i++)
		if (!taken[i])
			ks[nk++] = ks[i];
	free(taken);
	prog->k = ks;
	prog->nk = nk;
	return 0;
}

int *cg_multi_runs(const pass_fusion *f)
{
	int *run = malloc(((size_t)f->nk + 1) * sizeof *run);
	if (!run)
		return NULL;
	for (int k = 0; k < f->nk; k++) {
		const pass_kernel *K = &f->k[k];
		run[k] = k;
		if (k == 0 || (K->kind != RT_K_ELEM && K->kind != RT_K_REDUCE) ||
		    f->k[k - 1].kind != K->kind)
			continue;
		int first = run[k - 1], joins = 1;
		for (int j = 0; j < K->nreads && joins; j++) {
			const ir_node *b = pass_fuse_base(f, K->reads[j].node);
			joins = f->kernel_of[b->id] < first;
		}
		if (joins)
			run[k] = first;
	}
	return run;
}
