/*
 * cg_loop.c - builders and the printer of the loop IR (cg_loop.h).
 */
#include <inttypes.h>
#include <stdlib.h>

#include "cg_loop.h"

static cg_expr *node(ir_arena *a, cg_xkind k, cg_type t)
{
	cg_expr *e = ir_arena_alloc(a, sizeof *e);
	e->kind = k;
	e->type = t;
	return e;
}

cg_expr *cg_const_f(ir_arena *a, cg_type t, double v)
{
	cg_expr *e = node(a, CG_X_CONST, t);
	e->fval = v;
	/* a float constant's integer twin, saturated: converting -inf (a max's
	 * start), inf or NaN to int64_t is undefined behaviour */
	if (v != v)
		e->ival = 0;
	else if (v >= 0x1p63)
		e->ival = INT64_MAX;
	else if (v < -0x1p63)
		e->ival = INT64_MIN;
	else
		e->ival = (int64_t)v;
	return e;
}

cg_expr *cg_const_i(ir_arena *a, cg_type t, int64_t v)
{
	cg_expr *e = node(a, CG_X_CONST, t);
	e->ival = v;
	e->fval = (double)v;
	return e;
}

cg_expr *cg_var(ir_arena *a, int var)
{
	cg_expr *e = node(a, CG_X_VAR, CG_T_I64);
	e->var = var;
	return e;
}

cg_expr *cg_local(ir_arena *a, cg_type t, int var)
{
	cg_expr *e = node(a, CG_X_LOCAL, t);
	e->var = var;
	return e;
}

cg_expr *cg_load(ir_arena *a, cg_type t, int buf, cg_expr *idx)
{
	cg_expr *e = node(a, CG_X_LOAD, t);
	e->buf = buf;
	e->a = idx;
	return e;
}

cg_expr *cg_un(ir_arena *a, cg_uop op, cg_expr *x)
{
	cg_type t = (op == CG_U_ISNAN || op == CG_U_NOT) ? CG_T_BOOL : x->type;
	cg_expr *e = node(a, CG_X_UN, t);
	e->op = op;
	e->a = x;
	return e;
}

cg_expr *cg_bin(ir_arena *a, cg_bop op, cg_expr *x, cg_expr *y)
{
	cg_type t = op >= CG_B_LT ? CG_T_BOOL : x->type;
	cg_expr *e = node(a, CG_X_BIN, t);
	e->op = op;
	e->a = x;
	e->b = y;
	return e;
}

cg_expr *cg_select(ir_arena *a, cg_expr *c, cg_expr *x, cg_expr *y)
{
	cg_expr *e = node(a, CG_X_SELECT, x->type);
	e->c = c;
	e->a = x;
	e->b = y;
	return e;
}

cg_expr *cg_cast(ir_arena *a, cg_type t, cg_expr *x)
{
	if (x->type == t)
		return x;
	cg_expr *e = node(a, CG_X_CAST, t);
	e->a = x;
	return e;
}

static cg_stmt *stmt(ir_arena *a, cg_skind k)
{
	cg_stmt *s = ir_arena_alloc(a, sizeof *s);
	s->kind = k;
	return s;
}

cg_stmt *cg_loop(ir_arena *a, int var, int64_t extent, cg_lkind kind, cg_stmt *body)
{
	cg_stmt *s = stmt(a, CG_S_LOOP);
	s->var = var;
	s->extent = extent;
	s->loop = kind;
	s->body = body;
	return s;
}

cg_stmt *cg_reduce(ir_arena *a, int var, int64_t extent, cg_bop op, int acc, cg_stmt *body)
{
	cg_stmt *s = cg_loop(a, var, extent, CG_L_REDUCE, body);
	s->rop = op;
	s->acc = acc;
	return s;
}

cg_stmt *cg_store(ir_arena *a, int buf, cg_expr *idx, cg_expr *val)
{
	cg_stmt *s = stmt(a, CG_S_STORE);
	s->buf = buf;
	s->idx = idx;
	s->val = val;
	return s;
}

cg_stmt *cg_set(ir_arena *a, int local, cg_expr *val)
{
	cg_stmt *s = stmt(a, CG_S_SET);
	s->var = local;
	s->val = val;
	return s;
}

cg_stmt *cg_if(ir_arena *a, cg_expr *cond, cg_stmt *body)
{
	cg_stmt *s = stmt(a, CG_S_IF);
	s->cond = cond;
	s->body = body;
	return s;
}

cg_stmt *cg_fail(ir_arena *a, int code)
{
	cg_stmt *s = stmt(a, CG_S_FAIL);
	s->code = code;
	return s;
}

cg_stmt *cg_append(cg_stmt **head, cg_stmt *s)
{
	while (*head)
		head = &(*head)->next;
	*head = s;
	return s;
}

int64_t cg_kernel_par_extent(const cg_kernel *k)
{
	const cg_stmt *s = k->body;
	if (rt_kkind_is_call(k->kind) || !s || s->kind != CG_S_LOOP || s->loop != CG_L_PARALLEL || s->next)
		return 0;
	return s->extent;
}

const char *cg_type_name(cg_type t)
{
	static const char *const names[] = {"f32", "f64", "i32", "i64", "bool"};
	return (unsigned)t < sizeof names / sizeof *names ? names[t] : "?";
}

int cg_type_is_float(cg_type t)
{
	return t == CG_T_F32 || t == CG_T_F64;
}

static const char *uop_name(int op)
{
	static const char *const n[] = {"neg", "exp", "log", "sqrt", "abs", "floor",
	                                "tanh", "erf", "cos", "sin", "log1p", "isnan", "not", "bf16"};
	return (unsigned)op < sizeof n / sizeof *n ? n[op] : "?";
}

static const char *bop_name(int op)
{
	static const char *const n[] = {"+", "-", "*", "/", "pow", "min", "max",
	                                "<", "<=", ">", ">=", "==", "!=", "&&", "||"};
	return (unsigned)op < sizeof n / sizeof *n ? n[op] : "?";
}

/* One step of printing e: what comes before its operand `step` (or after
 * the last one), and that operand (NULL after the last). */
static const cg_expr *print_step(FILE *f, const cg_expr *e, int step)
{
	int fn = e->kind == CG_X_BIN &&
	         (e->op == CG_B_POW || e->op == CG_B_MIN || e->op == CG_B_MAX);
	switch (e->kind) {
	case CG_X_CONST:
		if (cg_type_is_float(e->type))
			fprintf(f, "%.9g", e->fval);
		else
			fprintf(f, "%" PRId64, e->ival);
		return NULL;
	case CG_X_VAR: fprintf(f, "i%d", e->var); return NULL;
	case CG_X_LOCAL: fprintf(f, "t%d", e->var); return NULL;
	case CG_X_LOAD:
		if (step == 0)
			return fprintf(f, "b%d[", e->buf), e->a;
		fputc(']', f);
		return NULL;
	case CG_X_UN:
	case CG_X_CAST:
		if (step == 0)
			return fprintf(f, "%s(", e->kind == CG_X_UN ? uop_name(e->op) : cg_type_name(e->type)),
			       e->a;
		fputc(')', f);
		return NULL;
	case CG_X_BIN:
		if (step == 0) {
			if (fn)
				fprintf(f, "%s(", bop_name(e->op));
			else
				fputc('(', f);
			return e->a;
		}
		if (step == 1) {
			if (fn)
				fputs(", ", f);
			else
				fprintf(f, " %s ", bop_name(e->op));
			return e->b;
		}
		fputc(')', f);
		return NULL;
	case CG_X_SELECT: {
		static const char *const sep[] = {"(", " ? ", " : ", ")"};
		fputs(sep[step], f);
		return step == 0 ? e->c : step == 1 ? e->a : step == 2 ? e->b : NULL;
	}
	}
	return NULL;
}

typedef struct {
	const cg_expr *e;
	int step;
} print_frame;

/* Prints an expression tree with a stack of its own (a fused chain may be
 * any number of ops deep). */
static void print_expr(FILE *f, const cg_expr *root)
{
	size_t sp = 0, cap = 64;
	print_frame *st = malloc(cap * sizeof *st);
	if (!st) {
		fputs("<out of memory>", f);
		return;
	}
	st[sp++] = (print_frame){root, 0};
	while (sp > 0) {
		print_frame *fr = &st[sp - 1];
		const cg_expr *x = print_step(f, fr->e, fr->step++);
		if (!x) {
			sp--;
			continue;
		}
		if (sp == cap) {
			cap *= 2;
			print_frame *ns = realloc(st, cap * sizeof *ns);
			if (!ns) {
				fputs("<out of memory>", f);
				break;
			}
			st = ns;
		}
		st[sp++] = (print_frame){x, 0};
	}
	free(st);
}

static void print_block(FILE *f, const cg_stmt *s, int depth)
{
	for (; s; s = s->next) {
		fprintf(f, "%*s", 2 * depth + 2, "");
		switch (s->kind) {
		case CG_S_LOOP:
			fprintf(f, "for i%d in 0..%" PRId64, s->var, s->extent);
			if (s->loop == CG_L_PARALLEL)
				fputs(" parallel", f);
			else if (s->loop == CG_L_REDUCE)
				fprintf(f, " reduce(%s: t%d)", bop_name(s->rop), s->acc);
			fputs(":\n", f);
			print_block(f, s->body, depth + 1);
			break;
		case CG_S_STORE:
			fprintf(f, "b%d[", s->buf);
			print_expr(f, s->idx);
			fputs("] = ", f);
			print_expr(f, s->val);
			fputc('\n', f);
			break;
		case CG_S_SET:
			fprintf(f, "t%d = ", s->var);
			print_expr(f, s->val);
			fputc('\n', f);
			break;
		case CG_S_IF:
			fputs("if ", f);
			print_expr(f, s->cond);
			fputs(":\n", f);
			print_block(f, s->body, depth + 1);
			break;
		case CG_S_FAIL:
			fprintf(f, "fail %d\n", s->code);
			break;
		}
	}
}

void cg_kernel_print(FILE *f, const cg_kernel *k)
{
	fprintf(f, "kernel %s(", k->name);
	for (int i = 0; i < k->nargs; i++)
		fprintf(f, "%sb%d=buf%d %s%s", i ? ", " : "", i, k->args[i].id,
		        cg_type_name(k->args[i].type), k->args[i].written ? " out" : "");
	fputs(")", f);
	if (k->kind == RT_K_GEMM) {
		if (k->batch > 1)
			fprintf(f, " gemm batch=%" PRId64, k->batch);
		else
			fprintf(f, " gemm");
		fprintf(f, " m=%" PRId64 " n=%" PRId64 " k=%" PRId64 " ta=%d tb=%d%s\n", k->m, k->n,
		        k->k, k->ta, k->tb, k->bf16 ? " bf16" : "");
		return;
	}
	if (k->kind == RT_K_CONV) {
		const rt_conv_desc *d = &k->conv;
		static const char *const ops[] = {"forward", "backward_data", "backward_weights"};
		fprintf(f, " conv %s%s%s x=[%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "] o=%" PRId64
		        " k=%" PRId64 "x%" PRId64 " stride=%" PRId64 "x%" PRId64 " pad=%" PRId64 "x%" PRId64
		        " dil=%" PRId64 "x%" PRId64 " groups=%" PRId64 "\n",
		        k->conv_op >= 0 && k->conv_op < 3 ? ops[k->conv_op] : "?",
		        k->conv_bias ? "+bias" : "", k->bf16 ? " bf16" : "", d->n, d->c, d->h, d->w, d->o, d->kh, d->kw,
		        d->stride_h, d->stride_w, d->pad_h, d->pad_w, d->dil_h, d->dil_w, d->groups);
		return;
	}
	if (k->kind == RT_K_COMM) {
		fprintf(f, " rank_sum n=%" PRId64 "\n", k->comm_n);
		return;
	}
	for (int i = 0; i < k->nlocals; i++)
		fprintf(f, "%st%d:%s", i ? ", " : " locals ", i, cg_type_name(k->local_type[i]));
	fputc('\n', f);
	print_block(f, k->body, 0);
}
