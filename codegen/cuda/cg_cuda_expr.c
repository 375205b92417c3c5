/*
 * cg_cuda_expr.c - loop IR expressions as CUDA C (see cg_cuda_int.h).
 * Nodes shared within one statement become `const` temporaries before
 * it, so a shared chain is computed once and renders in linear size.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_cuda_int.h"

const char *cgc_ctype(cg_type t)
{
	switch (t) {
	case CG_T_F32: return "float";
	case CG_T_F64: return "double";
	case CG_T_I32: return "int";
	case CG_T_I64: return "long long";
	case CG_T_BOOL: return "bool";
	}
	return "?";
}

static size_t slot(const cgc_ctx *c, const cg_expr *e)
{
	size_t h = ((uintptr_t)e >> 4) * 0x9e3779b97f4a7c15ull & (c->mcap - 1);
	while (c->mkey[h] && c->mkey[h] != e)
		h = (h + 1) & (c->mcap - 1);
	return h;
}

static int grow(cgc_ctx *c)
{
	size_t ocap = c->mcap, cap = ocap ? 2 * ocap : 256;
	const cg_expr **ok = c->mkey;
	cgc_memo *ov = c->mval;
	c->mkey = calloc(cap, sizeof *c->mkey);
	c->mval = calloc(cap, sizeof *c->mval);
	if (!c->mkey || !c->mval) {
		free(c->mkey);
		free(c->mval);
		c->mkey = ok;
		c->mval = ov;
		return -1;
	}
	c->mcap = cap;
	for (size_t i = 0; i < ocap; i++)
		if (ok[i]) {
			size_t h = slot(c, ok[i]);
			c->mkey[h] = ok[i];
			c->mval[h] = ov[i];
		}
	free(ok);
	free(ov);
	return 0;
}

static cgc_memo *memo(cgc_ctx *c, const cg_expr *e, int add)
{
	if (c->mcap) {
		size_t h = slot(c, e);
		if (c->mkey[h])
			return &c->mval[h];
	}
	if (!add)
		return NULL;
	if (2 * (c->mused + 1) > c->mcap && grow(c)) {
		c->oom = 1;
		return NULL;
	}
	size_t h = slot(c, e);
	c->mkey[h] = e;
	memset(&c->mval[h], 0, sizeof c->mval[h]);
	c->mval[h].tmp = -1;
	c->mused++;
	return &c->mval[h];
}

void cgc_memo_reset(cgc_ctx *c)
{
	if (c->mcap)
		memset(c->mkey, 0, c->mcap * sizeof *c->mkey);
	c->mused = 0;
}

static int trivial(const cg_expr *e)
{
	return e->kind == CG_X_CONST || e->kind == CG_X_VAR || e->kind == CG_X_LOCAL;
}

static int push(cgc_ctx *c, size_t *sp, const cg_expr *e)
{
	if (*sp == c->scap) {
		size_t cap = c->scap ? 2 * c->scap : 64;
		const cg_expr **st = realloc(c->stack, cap * sizeof *st);
		if (!st) {
			c->oom = 1;
			return -1;
		}
		c->stack = st;
		c->scap = cap;
	}
	c->stack[(*sp)++] = e;
	return 0;
}

/* counts uses; a node's operands are counted once, however often it is
 * used (a walk with a stack of its own: chains of any length) */
static void count(cgc_ctx *c, const cg_expr *root)
{
	size_t sp = 0;
	if (!root || push(c, &sp, root))
		return;
	while (sp > 0) {
		const cg_expr *e = c->stack[--sp];
		cgc_memo *m = memo(c, e, 1);
		if (!m || m->uses++)
			continue;
		const cg_expr *kids[3] = {e->a, e->b, e->c};
		for (int i = 0; i < 3; i++)
			if (kids[i] && push(c, &sp, kids[i]))
				return;
	}
}

/* a float literal with a point or an exponent ("1" would be an int) */
static void put_real(FILE *o, const char *fmt, double v, const char *sfx)
{
	char buf[64];
	snprintf(buf, sizeof buf, fmt, v);
	fprintf(o, "%s%s%s", buf, strpbrk(buf, ".e") ? "" : ".0", sfx);
}

static void put_const(FILE *o, const cg_expr *e)
{
	double v = e->fval;
	switch (e->type) {
	case CG_T_F32:
	case CG_T_F64: {
		const char *sfx = e->type == CG_T_F32 ? "F32" : "F64";
		if (isnan(v))
			fprintf(o, "SAMC_NAN_%s", sfx);
		else if (isinf(v))
			fprintf(o, "(%sSAMC_INF_%s)", v < 0 ? "-" : "", sfx);
		else if (e->type == CG_T_F32 && (double)(float)v == v)
			put_real(o, "%.9g", v, "f");
		else if (e->type == CG_T_F32) {
			/* rounded to float as the other backends round it */
			fputs("(float)", o);
			put_real(o, "%.17g", v, "");
		} else
			put_real(o, "%.17g", v, "");
		break;
	}
	case CG_T_I32: fprintf(o, "%d", (int)e->ival); break;
	case CG_T_I64: fprintf(o, "%lldLL", (long long)e->ival); break;
	case CG_T_BOOL: fprintf(o, "%s", e->ival ? "true" : "false"); break;
	}
}

static const char *fname(cg_type t, const char *base)
{
	/* the f32 spelling of a libm name; double keeps the base */
	static char buf[32];
	snprintf(buf, sizeof buf, "%s%s", base, t == CG_T_F32 ? "f" : "");
	return buf;
}

static void put(cgc_ctx *c, const cg_expr *e);

static void put_un(cgc_ctx *c, const cg_expr *e)
{
	FILE *o = c->o;
	cg_type t = e->a->type;
	const char *f = NULL;
	switch ((cg_uop)e->op) {
	case CG_U_NEG: fputs("(-", o); put(c, e->a); fputc(')', o); return;
	case CG_U_NOT: fputs("(!", o); put(c, e->a); fputc(')', o); return;
	case CG_U_ISNAN: fputc('(', o); put(c, e->a); fputs(" != ", o); put(c, e->a); fputc(')', o); return;
	case CG_U_BF16:
		fprintf(o, "samc_bf16_%s(", cg_type_name(t));
		put(c, e->a);
		fputc(')', o);
		return;
	case CG_U_EXP: f = "exp"; break;
	case CG_U_LOG: f = "log"; break;
	case CG_U_SQRT: f = "sqrt"; break;
	case CG_U_ABS: f = "fabs"; break;
	case CG_U_FLOOR: f = "floor"; break;
	case CG_U_TANH: f = "tanh"; break;
	case CG_U_ERF: f = "erf"; break;
	case CG_U_COS: f = "cos"; break;
	case CG_U_SIN: f = "sin"; break;
	case CG_U_LOG1P: f = "log1p"; break;
	}
	fprintf(o, "%s(", fname(t, f));
	put(c, e->a);
	fputc(')', o);
}

void cgc_combine(cgc_ctx *c, cg_bop op, cg_type t, const char *a, const char *b)
{
	if (op == CG_B_MAX || op == CG_B_MIN) {
		const char *fn = op == CG_B_MAX ? "samc_max" : "samc_min";
		fprintf(c->o, "%s_%s(%s, %s)", fn, cg_type_name(t), a, b);
	} else {
		fprintf(c->o, "(%s %s %s)", a, op == CG_B_ADD ? "+" : "*", b);
	}
}

static void put_bin(cgc_ctx *c, const cg_expr *e)
{
	FILE *o = c->o;
	cg_type t = e->a->type;
	const char *op = NULL;
	switch ((cg_bop)e->op) {
	case CG_B_ADD: op = "+"; break;
	case CG_B_SUB: op = "-"; break;
	case CG_B_MUL: op = "*"; break;
	case CG_B_DIV: op = "/"; break;
	case CG_B_LT: op = "<"; break;
	case CG_B_LE: op = "<="; break;
	case CG_B_GT: op = ">"; break;
	case CG_B_GE: op = ">="; break;
	case CG_B_EQ: op = "=="; break;
	case CG_B_NE: op = "!="; break;
	case CG_B_AND: op = "&&"; break;
	case CG_B_OR: op = "||"; break;
	case CG_B_POW:
		fprintf(o, "%s(", fname(t, "pow"));
		put(c, e->a);
		fputs(", ", o);
		put(c, e->b);
		fputc(')', o);
		return;
	case CG_B_MIN:
	case CG_B_MAX:
		/* NaN-propagating for floats (samc_max_f32 ...: the module's prelude) */
		fprintf(o, "samc_%s_%s(", e->op == CG_B_MAX ? "max" : "min", cg_type_name(t));
		put(c, e->a);
		fputs(", ", o);
		put(c, e->b);
		fputc(')', o);
		return;
	}
	fputc('(', o);
	put(c, e->a);
	fprintf(o, " %s ", op);
	put(c, e->b);
	fputc(')', o);
}

static void put(cgc_ctx *c, const cg_expr *e)
{
	FILE *o = c->o;
	cgc_memo *m = memo(c, e, 0);
	if (m && m->tmp >= 0) {
		fprintf(o, "e%d", m->tmp);
		return;
	}
	switch (e->kind) {
	case CG_X_CONST: put_const(o, e); return;
	case CG_X_VAR: fprintf(o, "i%d", e->var); return;
	case CG_X_LOCAL: fprintf(o, "t%d", e->var); return;
	case CG_X_LOAD:
		fprintf(o, "b%d[", e->buf);
		put(c, e->a);
		fputc(']', o);
		return;
	case CG_X_UN: put_un(c, e); return;
	case CG_X_BIN: put_bin(c, e); return;
	case CG_X_SELECT:
		fputc('(', o);
		put(c, e->c);
		fputs(" ? ", o);
		put(c, e->a);
		fputs(" : ", o);
		put(c, e->b);
		fputc(')', o);
		return;
	case CG_X_CAST:
		if (e->type == CG_T_BOOL) {
			fputc('(', o);
			put(c, e->a);
			fputs(" != 0)", o);
		} else {
			fprintf(o, "((%s)", cgc_ctype(e->type));
			put(c, e->a);
			fputc(')', o);
		}
		return;
	}
}

/* A node becomes a temporary when it is used twice, or when the text
 * rendered in place would nest deeper than this (so a chain of any length
 * renders, and compiles, without deep recursion). */
#define CGC_MAX_INLINE_DEPTH 24

/* Operands before the node, so a temporary's operands are declared first:
 * a post-order walk with a stack of its own. */
static void hoist(cgc_ctx *c, const cg_expr *root)
{
	size_t sp = 0;
	if (!root || push(c, &sp, root))
		return;
	while (sp > 0) {
		const cg_expr *e = c->stack[sp - 1];
		cgc_memo *m = memo(c, e, 0);
		if (!m || m->hoisted == 2) {
			sp--;
			continue;
		}
		const cg_expr *kids[3] = {e->a, e->b, e->c};
		if (!m->hoisted) {
			m->hoisted = 1;
			for (int i = 0; i < 3; i++)
				if (kids[i] && push(c, &sp, kids[i]))
					return;
			continue;
		}
		sp--;
		m->hoisted = 2;
		int depth = 0;
		for (int i = 0; i < 3; i++) {
			cgc_memo *k = kids[i] ? memo(c, kids[i], 0) : NULL;
			if (k && k->tmp < 0 && k->depth > depth)
				depth = k->depth;
		}
		m->depth = depth + 1;
		if (trivial(e) || (m->uses < 2 && m->depth < CGC_MAX_INLINE_DEPTH))
			continue;
		cgc_indent(c);
		fprintf(c->o, "const %s e%d = ", cgc_ctype(e->type), c->ntmp);
		put(c, e);
		fputs(";\n", c->o);
		m->tmp = c->ntmp++;
		m->depth = 0;
	}
}

void cgc_prepare(cgc_ctx *c, const cg_expr *x, const cg_expr *y)
{
	cgc_memo_reset(c);
	count(c, x);
	count(c, y);
	hoist(c, x);
	hoist(c, y);
}

void cgc_expr(cgc_ctx *c, const cg_expr *e)
{
	put(c, e);
}

void cgc_indent(cgc_ctx *c)
{
	for (int i = 0; i < c->depth; i++)
		fputc('\t', c->o);
}
