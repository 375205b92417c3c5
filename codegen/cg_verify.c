/*
 * cg_verify.c - the loop-IR verifier (see cg_verify.h). Both walks keep
 * their own stacks, so a kernel of any depth is checked without deep C
 * recursion; shared expression nodes are visited once.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cg_verify.h"

typedef struct {
	int known;
	int64_t lo, hi; /* inclusive */
} ival;

typedef struct {
	const cg_expr *e;
	ival v;
} memo_slot;

typedef struct {
	const cg_kernel *k;
	const int64_t *numel;
	int64_t *extent;   /* by loop variable: its extent while in scope, else -1 */
	int64_t *lo, *hi;  /* by loop variable: its interval there (narrowed under an if) */
	char *local_set;   /* by local: set earlier */
	memo_slot *memo;   /* open addressing by expression pointer */
	size_t cap, used;
	const cg_expr **stack;
	size_t scap;
	char *err;
	size_t errlen;
} vctx;

static int fail(vctx *c, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

static int fail(vctx *c, const char *fmt, ...)
{
	int n = snprintf(c->err, c->errlen, "kernel %s: ", c->k->name);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < c->errlen)
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static size_t slot_of(const vctx *c, const cg_expr *e)
{
	size_t h = ((uintptr_t)e >> 4) * 0x9e3779b97f4a7c15ull;
	h &= c->cap - 1;
	while (c->memo[h].e && c->memo[h].e != e)
		h = (h + 1) & (c->cap - 1);
	return h;
}

static const ival *memo_get(const vctx *c, const cg_expr *e)
{
	if (!c->cap)
		return NULL;
	size_t h = slot_of(c, e);
	return c->memo[h].e ? &c->memo[h].v : NULL;
}

static int memo_put(vctx *c, const cg_expr *e, ival v)
{
	if (2 * (c->used + 1) > c->cap) {
		size_t ocap = c->cap;
		memo_slot *old = c->memo;
		c->cap = ocap ? 2 * ocap : 256;
		if (!(c->memo = calloc(c->cap, sizeof *c->memo))) {
			c->memo = old;
			c->cap = ocap;
			return fail(c, "out of memory");
		}
		for (size_t i = 0; i < ocap; i++)
			if (old[i].e)
				c->memo[slot_of(c, old[i].e)] = old[i];
		free(old);
	}
	size_t h = slot_of(c, e);
	c->memo[h].e = e;
	c->memo[h].v = v;
	c->used++;
	return 0;
}

static const ival unknown = {0, 0, 0};

static ival mk(int64_t lo, int64_t hi)
{
	ival v = {1, lo, hi};
	return v;
}

static ival bin_ival(int op, ival a, ival b)
{
	if (!a.known || !b.known)
		return unknown;
	int64_t p[4];
	switch (op) {
	case CG_B_ADD:
		if (__builtin_add_overflow(a.lo, b.lo, &p[0]) || __builtin_add_overflow(a.hi, b.hi, &p[1]))
			return unknown;
		return mk(p[0], p[1]);
	case CG_B_SUB:
		if (__builtin_sub_overflow(a.lo, b.hi, &p[0]) || __builtin_sub_overflow(a.hi, b.lo, &p[1]))
			return unknown;
		return mk(p[0], p[1]);
	case CG_B_MUL:
		if (__builtin_mul_overflow(a.lo, b.lo, &p[0]) || __builtin_mul_overflow(a.lo, b.hi, &p[1]) ||
		    __builtin_mul_overflow(a.hi, b.lo, &p[2]) || __builtin_mul_overflow(a.hi, b.hi, &p[3]))
			return unknown;
		break;
	case CG_B_DIV:
		if (b.lo <= 0 || a.lo < 0)
			return unknown;
		return mk(a.lo / b.hi, a.hi / b.lo);
	case CG_B_MIN:
		return mk(a.lo < b.lo ? a.lo : b.lo, a.hi < b.hi ? a.hi : b.hi);
	case CG_B_MAX:
		return mk(a.lo > b.lo ? a.lo : b.lo, a.hi > b.hi ? a.hi : b.hi);
	default:
		return unknown;
	}
	int64_t lo = p[0], hi = p[0];
	for (int i = 1; i < 4; i++) {
		lo = p[i] < lo ? p[i] : lo;
		hi = p[i] > hi ? p[i] : hi;
	}
	return mk(lo, hi);
}

static int check_load(vctx *c, const cg_expr *e, ival idx)
{
	if (e->buf < 0 || e->buf >= c->k->nargs)
		return fail(c, "load from b%d, which is not one of its %d buffers", e->buf, c->k->nargs);
	int64_t n = c->numel[e->buf];
	if (idx.known && (idx.lo < 0 || idx.hi >= n))
		return fail(c, "load from b%d at an index in [%lld, %lld], outside its %lld elements",
		            e->buf, (long long)idx.lo, (long long)idx.hi, (long long)n);
	return 0;
}

/* The value's interval once every child has one. */
static int compute(vctx *c, const cg_expr *e, ival *out)
{
	const ival *a = e->a ? memo_get(c, e->a) : NULL, *b = e->b ? memo_get(c, e->b) : NULL;
	const ival *x = e->c ? memo_get(c, e->c) : NULL;
	switch (e->kind) {
	case CG_X_CONST:
		*out = cg_type_is_float(e->type) ? unknown : mk(e->ival, e->ival);
		return 0;
	case CG_X_VAR:
		if (e->var < 0 || e->var >= c->k->nvars || c->extent[e->var] < 0)
			return fail(c, "loop variable i%d is used outside its loop", e->var);
		/* (an empty interval: code no value reaches) */
		*out = c->extent[e->var] > 0 && c->lo[e->var] <= c->hi[e->var]
		           ? mk(c->lo[e->var], c->hi[e->var]) : unknown;
		return 0;
	case CG_X_LOCAL:
		if (e->var < 0 || e->var >= c->k->nlocals || !c->local_set[e->var])
			return fail(c, "local t%d is read before it is set", e->var);
		*out = unknown;
		return 0;
	case CG_X_LOAD:
		if (check_load(c, e, *a))
			return -1;
		*out = unknown;
		return 0;
	case CG_X_UN:
		*out = unknown;
		return 0;
	case CG_X_BIN:
		*out = bin_ival(e->op, *a, *b);
		return 0;
	case CG_X_SELECT:
		*out = a->known && b->known ? mk(a->lo < b->lo ? a->lo : b->lo, a->hi > b->hi ? a->hi : b->hi)
		                            : unknown;
		(void)x;
		return 0;
	case CG_X_CAST:
		*out = cg_type_is_float(e->type) ? unknown : *a;
		return 0;
	}
	return fail(c, "an expression of unknown kind %d", (int)e->kind);
}

static int push(vctx *c, size_t *sp, const cg_expr *e)
{
	if (*sp == c->scap) {
		size_t cap = c->scap ? 2 * c->scap : 64;
		const cg_expr **s = realloc(c->stack, cap * sizeof *s);
		if (!s)
			return fail(c, "out of memory");
		c->stack = s;
		c->scap = cap;
	}
	c->stack[(*sp)++] = e;
	return 0;
}

/* The interval of e, checking every load under it (post-order, own stack).
 * Memoized per statement: locals and loop variables change between them. */
static int expr(vctx *c, const cg_expr *root, ival *out)
{
	if (!root)
		return fail(c, "a statement lacks an expression");
	size_t sp = 0;
	if (push(c, &sp, root))
		return -1;
	while (sp > 0) {
		const cg_expr *e = c->stack[sp - 1];
		if (memo_get(c, e)) {
			sp--;
			continue;
		}
		const cg_expr *kids[3] = {e->a, e->b, e->c};
		int pending = 0;
		for (int i = 0; i < 3; i++)
			if (kids[i] && !memo_get(c, kids[i])) {
				if (push(c, &sp, kids[i]))
					return -1;
				pending = 1;
			}
		if (pending)
			continue;
		if ((e->kind == CG_X_UN || e->kind == CG_X_CAST || e->kind == CG_X_LOAD) && !e->a)
			return fail(c, "an expression lacks its operand");
		if ((e->kind == CG_X_BIN && !e->b) || (e->kind == CG_X_SELECT && (!e->b || !e->c)))
			return fail(c, "an expression lacks an operand");
		ival v = unknown;
		if (compute(c, e, &v) || memo_put(c, e, v))
			return -1;
		sp--;
	}
	*out = *memo_get(c, root);
	return 0;
}

static void memo_clear(vctx *c)
{
	if (c->memo)
		memset(c->memo, 0, c->cap * sizeof *c->memo);
	c->used = 0;
}

typedef struct {
	const cg_stmt *next;
	int var;        /* the loop variable leaving scope, or -1 */
	int nvar;       /* the loop variable an if narrowed, or -1 */
	int64_t lo, hi; /* its interval before */
} frame;

/* An if over `i < C`, `i <= C`, `i > C` or `i >= C` (a multi-tensor
 * kernel's segments, cg_multi.h): the variable and its interval inside,
 * so the indices under it are checked over that part alone. -1 for
 * other conditions. */
static int narrow(const vctx *c, const cg_expr *e, int64_t *lo, int64_t *hi)
{
	if (!e || e->kind != CG_X_BIN || !e->a || !e->b || e->a->kind != CG_X_VAR ||
	    e->b->kind != CG_X_CONST || cg_type_is_float(e->b->type))
		return -1;
	int v = e->a->var;
	int64_t k = e->b->ival;
	if (v < 0 || v >= c->k->nvars || c->extent[v] <= 0)
		return -1;
	*lo = c->lo[v];
	*hi = c->hi[v];
	switch (e->op) {
	case CG_B_LT: k = k == INT64_MIN ? k : k - 1; /* fall through */
	case CG_B_LE: *hi = k < *hi ? k : *hi; break;
	case CG_B_GT: k = k == INT64_MAX ? k : k + 1; /* fall through */
	case CG_B_GE: *lo = k > *lo ? k : *lo; break;
	default: return -1;
	}
	return v;
}

static int stmt(vctx *c, const cg_stmt *s, int *enter_var)
{
	ival v;
	*enter_var = -2;
	memo_clear(c);
	switch (s->kind) {
	case CG_S_LOOP:
		if (s->var < 0 || s->var >= c->k->nvars)
			return fail(c, "loop variable i%d is not one of its %d", s->var, c->k->nvars);
		if (c->extent[s->var] >= 0)
			return fail(c, "loop variable i%d is bound by two nested loops", s->var);
		if (s->extent < 0)
			return fail(c, "loop over i%d has a negative extent", s->var);
		if (s->loop == CG_L_REDUCE &&
		    (s->acc < 0 || s->acc >= c->k->nlocals || !c->local_set[s->acc]))
			return fail(c, "reduce loop over i%d folds into local t%d before it is set", s->var,
			            s->acc);
		c->extent[s->var] = s->extent;
		c->lo[s->var] = 0;
		c->hi[s->var] = s->extent - 1;
		*enter_var = s->var;
		return 0;
	case CG_S_STORE: {
		ival idx;
		if (expr(c, s->idx, &idx) || expr(c, s->val, &v))
			return -1;
		if (s->buf < 0 || s->buf >= c->k->nargs)
			return fail(c, "store to b%d, which is not one of its %d buffers", s->buf, c->k->nargs);
		int64_t n = c->numel[s->buf];
		if (idx.known && (idx.lo < 0 || idx.hi >= n))
			return fail(c, "store to b%d at an index in [%lld, %lld], outside its %lld elements",
			            s->buf, (long long)idx.lo, (long long)idx.hi, (long long)n);
		return 0;
	}
	case CG_S_SET:
		if (s->var < 0 || s->var >= c->k->nlocals)
			return fail(c, "local t%d is not one of its %d", s->var, c->k->nlocals);
		if (expr(c, s->val, &v))
			return -1;
		c->local_set[s->var] = 1;
		return 0;
	case CG_S_IF:
		if (expr(c, s->cond, &v))
			return -1;
		*enter_var = -1;
		return 0;
	case CG_S_FAIL:
		return 0;
	}
	return fail(c, "a statement of unknown kind %d", (int)s->kind);
}

/* A convolution call: a valid descriptor, its buffers the sizes it says,
 * outputs written, inputs not, all f32. */
static int verify_conv(vctx *c)
{
	const cg_kernel *k = c->k;
	const rt_conv_desc *d = &k->conv;
	rt_conv_op op = (rt_conv_op)k->conv_op;
	rt_err e;
	if (op != RT_CONV_FWD && op != RT_CONV_BWD_DATA && op != RT_CONV_BWD_WEIGHT)
		return fail(c, "convolution without an operation");
	if (rt_conv_desc_check(d, &e) != 0)
		return fail(c, "%s", e.msg);
	if (k->nargs != rt_conv_nargs(op, k->conv_bias))
		return fail(c, "convolution with %d buffers, expected %d", k->nargs,
		            rt_conv_nargs(op, k->conv_bias));
	int64_t x = d->n * d->c * d->h * d->w, w = d->o * (d->c / d->groups) * d->kh * d->kw;
	int64_t y = d->n * d->o * d->oh * d->ow;
	int64_t want[4];
	if (op == RT_CONV_FWD) {
		want[0] = x, want[1] = w, want[2] = k->conv_bias ? d->o : y, want[3] = y;
	} else if (op == RT_CONV_BWD_DATA) {
		want[0] = y, want[1] = w, want[2] = x;
	} else {
		want[0] = x, want[1] = y, want[2] = w, want[3] = d->o;
	}
	for (int i = 0; i < k->nargs; i++) {
		int out = op == RT_CONV_BWD_WEIGHT ? i >= 2 : i == k->nargs - 1;
		if (c->numel[i] != want[i] || k->args[i].type != CG_T_F32 || k->args[i].written != out)
			return fail(c, "convolution buffer %d: %lld elements%s, expected %lld f32 %s", i,
			            (long long)c->numel[i], k->args[i].written ? " written" : "",
			            (long long)want[i], out ? "written" : "read");
	}
	return 0;
}

int cg_kernel_verify(const cg_kernel *k, const int64_t *numel, char *err, size_t errlen)
{
	vctx c = {0};
	c.k = k;
	c.numel = numel;
	c.err = err;
	c.errlen = errlen;
	if (k->kind == RT_K_GEMM) {
		int64_t b = k->batch > 1 ? k->batch : 1;
		if (k->nargs != 3 || numel[0] < b * k->m * k->k || numel[1] < b * k->k * k->n ||
		    numel[2] < b * k->m * k->n)
			return fail(&c, "GEMM %lldx%lldx%lld does not fit its operands", (long long)k->m,
			            (long long)k->n, (long long)k->k);
		return 0;
	}
	if (k->kind == RT_K_CONV)
		return verify_conv(&c);
	if (k->kind == RT_K_COMM) {
		/* x read, y written, both comm_n floats of one type */
		if (k->nargs != 2 || k->comm_n < 1 || numel[0] != k->comm_n || numel[1] != k->comm_n ||
		    k->args[0].type != k->args[1].type ||
		    (k->args[1].type != CG_T_F32 && k->args[1].type != CG_T_F64) ||
		    k->args[0].written || !k->args[1].written)
			return fail(&c, "rank_sum of %lld elements does not fit its buffers",
			            (long long)k->comm_n);
		return 0;
	}
	c.extent = malloc(((size_t)k->nvars + 1) * sizeof *c.extent);
	c.lo = calloc((size_t)k->nvars + 1, sizeof *c.lo);
	c.hi = calloc((size_t)k->nvars + 1, sizeof *c.hi);
	c.local_set = calloc((size_t)k->nlocals + 1, 1);
	frame *st = NULL;
	size_t sp = 0, scap = 0;
	int rc = 0;
	if (!c.extent || !c.lo || !c.hi || !c.local_set) {
		rc = fail(&c, "out of memory");
		goto done;
	}
	for (int i = 0; i < k->nvars; i++)
		c.extent[i] = -1;
	for (const cg_stmt *s = k->body;;) {
		if (!s) {
			if (sp == 0)
				break;
			frame f = st[--sp];
			if (f.var >= 0)
				c.extent[f.var] = -1;
			if (f.nvar >= 0) {
				c.lo[f.nvar] = f.lo;
				c.hi[f.nvar] = f.hi;
			}
			s = f.next;
			continue;
		}
		int enter;
		if ((rc = stmt(&c, s, &enter)) != 0)
			goto done;
		if (enter == -2) {
			s = s->next;
			continue;
		}
		if (sp == scap) {
			scap = scap ? 2 * scap : 16;
			frame *n = realloc(st, scap * sizeof *n);
			if (!n) {
				rc = fail(&c, "out of memory");
				goto done;
			}
			st = n;
		}
		st[sp].next = s->next;
		st[sp].var = enter;
		st[sp].nvar = -1;
		int64_t nlo, nhi;
		int nv = s->kind == CG_S_IF ? narrow(&c, s->cond, &nlo, &nhi) : -1;
		if (nv >= 0) {
			st[sp].nvar = nv;
			st[sp].lo = c.lo[nv];
			st[sp].hi = c.hi[nv];
			c.lo[nv] = nlo;
			c.hi[nv] = nhi;
		}
		sp++;
		s = s->body;
	}
done:
	free(st);
	free(c.extent);
	free(c.lo);
	free(c.hi);
	free(c.local_set);
	free(c.memo);
	free(c.stack);
	return rc;
}

int cg_program_verify(const cg_program *prog, char *err, size_t errlen)
{
	for (int i = 0; i < prog->nk; i++) {
		const cg_kernel *k = &prog->k[i];
		int64_t *numel = malloc(((size_t)k->nargs + 1) * sizeof *numel);
		if (!numel) {
			snprintf(err, errlen, "loop verifier: out of memory");
			return -1;
		}
		for (int j = 0; j < k->nargs; j++)
			numel[j] = cg_program_buf_numel(prog, k->args[j].id);
		int rc = cg_kernel_verify(k, numel, err, errlen);
		free(numel);
		if (rc)
			return -1;
	}
	return 0;
}
