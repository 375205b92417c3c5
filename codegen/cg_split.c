/*
 * cg_split.c - the CPU's lowering of reduce loops (see cg_split.h): a
 * large reduction at the top of a kernel becomes a kernel of parallel
 * chunks and a kernel that folds their partial results in order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_split.h"

/* --- copying a loop body with its loop variable replaced --- */

typedef struct {
	ir_arena *a;
	int var;            /* the variable replaced */
	cg_expr *repl;      /* by this index */
	const cg_expr **key; /* memo, open addressing: a node and its copy */
	cg_expr **val;
	size_t cap, n;
	const cg_expr **stack;
	size_t sp, scap;
	int oom;
} subst;

static size_t hash(const cg_expr *e, size_t cap)
{
	return ((uintptr_t)e >> 4) * 0x9E3779B97F4A7C15ull % cap;
}

static cg_expr *memo_get(const subst *s, const cg_expr *e)
{
	if (!s->cap)
		return NULL;
	for (size_t h = hash(e, s->cap);; h = (h + 1) % s->cap) {
		if (s->key[h] == e)
			return s->val[h];
		if (!s->key[h])
			return NULL;
	}
}

static int memo_put(subst *s, const cg_expr *e, cg_expr *v)
{
	if (2 * (s->n + 1) > s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		const cg_expr **key = calloc(cap, sizeof *key);
		cg_expr **val = calloc(cap, sizeof *val);
		if (!key || !val) {
			free(key);
			free(val);
			return s->oom = -1;
		}
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->key[i])
				continue;
			size_t h = hash(s->key[i], cap);
			while (key[h])
				h = (h + 1) % cap;
			key[h] = s->key[i];
			val[h] = s->val[i];
		}
		free(s->key);
		free(s->val);
		s->key = key;
		s->val = val;
		s->cap = cap;
	}
	size_t h = hash(e, s->cap);
	while (s->key[h])
		h = (h + 1) % s->cap;
	s->key[h] = e;
	s->val[h] = v;
	s->n++;
	return 0;
}

static int push(subst *s, const cg_expr *e)
{
	if (s->sp == s->scap) {
		size_t cap = s->scap ? 2 * s->scap : 64;
		const cg_expr **st = realloc(s->stack, cap * sizeof *st);
		if (!st)
			return s->oom = -1;
		s->stack = st;
		s->scap = cap;
	}
	s->stack[s->sp++] = e;
	return 0;
}

/* e with VAR(var) replaced, iteratively (expressions may be deep chains);
 * unchanged subtrees are shared, shared nodes stay shared. */
static cg_expr *sub_expr(subst *s, const cg_expr *e)
{
	if (!e || push(s, e))
		return NULL;
	while (s->sp && !s->oom) {
		const cg_expr *x = s->stack[s->sp - 1];
		if (memo_get(s, x)) {
			s->sp--;
			continue;
		}
		const cg_expr *ch[3] = {x->a, x->b, x->c};
		cg_expr *nc[3] = {NULL, NULL, NULL};
		int pending = 0;
		for (int i = 0; i < 3; i++)
			if (ch[i] && !(nc[i] = memo_get(s, ch[i]))) {
				push(s, ch[i]);
				pending = 1;
			}
		if (pending)
			continue;
		cg_expr *y = (cg_expr *)x;
		if (x->kind == CG_X_VAR && x->var == s->var) {
			y = s->repl;
		} else if (nc[0] != x->a || nc[1] != x->b || nc[2] != x->c) {
			y = ir_arena_alloc(s->a, sizeof *y);
			*y = *x;
			y->a = nc[0];
			y->b = nc[1];
			y->c = nc[2];
		}
		memo_put(s, x, y);
		s->sp--;
	}
	return s->oom ? NULL : memo_get(s, e);
}

/* A copy of the block b (statements nest only as deep as loops do). */
static cg_stmt *sub_block(subst *s, const cg_stmt *b)
{
	cg_stmt *head = NULL, **tail = &head;
	for (; b && !s->oom; b = b->next) {
		cg_stmt *n = ir_arena_alloc(s->a, sizeof *n);
		*n = *b;
		n->next = NULL;
		n->idx = sub_expr(s, b->idx);
		n->val = sub_expr(s, b->val);
		n->cond = sub_expr(s, b->cond);
		n->body = sub_block(s, b->body);
		*tail = n;
		tail = &n->next;
	}
	return head;
}

/* The body with `var` := base + var. */
static cg_stmt *offset_body(ir_arena *a, const cg_stmt *body, int var, cg_expr *base, int *oom)
{
	subst s;
	memset(&s, 0, sizeof s);
	s.a = a;
	s.var = var;
	s.repl = cg_bin(a, CG_B_ADD, base, cg_var(a, var));
	cg_stmt *r = sub_block(&s, body);
	*oom |= s.oom;
	free(s.key);
	free(s.val);
	free(s.stack);
	return r;
}

/* --- the split --- */

static int binds(const cg_stmt *s, int var)
{
	for (; s; s = s->next)
		if ((s->kind == CG_S_LOOP && s->var == var) || binds(s->body, var))
			return 1;
	return 0;
}

/* The reduce loop kernel k can be split at, or NULL: the body is SETs of
 * the accumulator, then the loop (which rebinds no variable of its own). */
static const cg_stmt *split_point(const cg_kernel *k, int64_t min)
{
	if (rt_kkind_is_call(k->kind))
		return NULL;
	const cg_stmt *s = k->body;
	while (s && s->kind == CG_S_SET)
		s = s->next;
	if (!s || s->kind != CG_S_LOOP || s->loop != CG_L_REDUCE ||
	    s->extent / CG_SPLIT_CHUNK < 2 || k->work < min || binds(s->body, s->var))
		return NULL;
	for (const cg_stmt *p = k->body; p != s; p = p->next)
		if (p->var != s->acc)
			return NULL;
	if (s->rop != CG_B_ADD && s->rop != CG_B_MAX)
		return NULL;
	return s;
}

/* Marks the args the block stores to as written. */
static void mark_stores(const cg_stmt *s, cg_arg *args)
{
	for (; s; s = s->next) {
		if (s->kind == CG_S_STORE)
			args[s->buf].written = 1;
		mark_stores(s->body, args);
	}
}

static cg_expr *identity(ir_arena *a, cg_bop op, cg_type t)
{
	if (op == CG_B_ADD)
		return cg_type_is_float(t) ? cg_const_f(a, t, 0.0) : cg_const_i(a, t, 0);
	if (cg_type_is_float(t))
		return cg_const_f(a, t, -INFINITY);
	return cg_const_i(a, t, t == CG_T_I32 ? INT32_MIN : INT64_MIN);
}

/* k's args and the scratch buffer `id` as the last one */
static void with_scratch(ir_arena *a, cg_kernel *dst, const cg_kernel *k, int id, cg_type t,
                         int written)
{
	dst->nargs = k->nargs + 1;
	dst->args = ir_arena_alloc(a, (size_t)dst->nargs * sizeof *dst->args);
	memcpy(dst->args, k->args, (size_t)k->nargs * sizeof *k->args);
	dst->args[k->nargs].id = id;
	dst->args[k->nargs].type = t;
	dst->args[k->nargs].written = written;
}

/* Fills the chunks kernel p and rewrites k into its fold. */
static int split(ir_arena *a, cg_kernel *p, cg_kernel *k, const cg_stmt *red, int id)
{
	int64_t ch = CG_SPLIT_CHUNK, nc = red->extent / ch, rem = red->extent - nc * ch;
	int acc = red->acc, c = k->nvars, sb = k->nargs, oom = 0;
	cg_type t = k->local_type[acc];
	cg_bop op = red->rop;

	*p = *k;
	if (snprintf(p->name, sizeof p->name, "%s_chunks", k->name) >= (int)sizeof p->name)
		snprintf(p->name, sizeof p->name, "k%d_chunks", k->src);
	with_scratch(a, p, k, id, t, 1);
	p->nvars = k->nvars + 1;
	cg_stmt *body = cg_set(a, acc, identity(a, op, t));
	cg_expr *base = cg_bin(a, CG_B_MUL, cg_var(a, c), cg_const_i(a, CG_T_I64, ch));
	cg_append(&body, cg_reduce(a, red->var, ch, op, acc,
	                           offset_body(a, red->body, red->var, base, &oom)));
	cg_append(&body, cg_store(a, sb, cg_var(a, c), cg_local(a, t, acc)));
	p->body = cg_loop(a, c, nc, CG_L_PARALLEL, body);
	for (int i = 0; i < p->nargs; i++)
		p->args[i].written = 0;
	mark_stores(p->body, p->args);

	/* the fold: the statements before the loop, the partials in order,
	 * the remainder, the statements after the loop */
	cg_kernel f = *k;
	with_scratch(a, &f, k, id, t, 0);
	f.nvars = k->nvars + 1;
	f.work = nc + rem;
	f.body = NULL;
	for (const cg_stmt *s = k->body; s != red; s = s->next) {
		cg_stmt *n = ir_arena_alloc(a, sizeof *n);
		*n = *s;
		n->next = NULL;
		cg_append(&f.body, n);
	}
	cg_expr *part = cg_load(a, t, sb, cg_var(a, c));
	cg_append(&f.body, cg_loop(a, c, nc, CG_L_SERIAL,
	                           cg_set(a, acc, cg_bin(a, op, cg_local(a, t, acc), part))));
	if (rem > 0) {
		base = cg_const_i(a, CG_T_I64, nc * ch);
		cg_append(&f.body, cg_reduce(a, red->var, rem, op, acc,
		                             offset_body(a, red->body, red->var, base, &oom)));
	}
	cg_append(&f.body, red->next);
	*k = f;
	return oom ? -1 : 0;
}

int cg_split_reductions(cg_program *prog, int64_t min, char *err, size_t errlen)
{
	int n = 0;
	for (int i = 0; i < prog->nk; i++)
		n += split_point(&prog->k[i], min) != NULL;
	if (!n)
		return 0;
	ir_arena *a = &prog->arena;
	cg_kernel *ks = ir_arena_alloc(a, (size_t)(prog->nk + n + 1) * sizeof *ks);
	cg_scratch *sc = ir_arena_alloc(a, (size_t)(prog->nscratch + n) * sizeof *sc);
	if (prog->nscratch)
		memcpy(sc, prog->scratch, (size_t)prog->nscratch * sizeof *sc);
	int nk = 0, ns = prog->nscratch;
	for (int i = 0; i < prog->nk; i++) {
		cg_kernel *k = &prog->k[i];
		const cg_stmt *red = split_point(k, min);
		if (red) {
			sc[ns].type = k->local_type[red->acc];
			sc[ns].numel = red->extent / CG_SPLIT_CHUNK;
			if (split(a, &ks[nk++], k, red, prog->plan->nbuf + ns)) {
				snprintf(err, errlen, "lowering: out of memory");
				return -1;
			}
			ns++;
		}
		ks[nk++] = *k;
	}
	prog->k = ks;
	prog->nk = nk;
	prog->scratch = sc;
	prog->nscratch = ns;
	return 0;
}
