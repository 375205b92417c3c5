/*
 * cg_lower_conv.c - loop IR of the conv ops (ir_conv.h), each output
 * element one sum in a fixed order:
 *
 *     conv2d              parallel over N*O planes; per (oh, ow) a sum over (c, ky, kx)
 *     conv2d_bwd_data     parallel over N*C planes; per (ih, iw) a sum over (o, ky, kx)
 *                         of the outputs that read it (a gather: no scatter, no zeroing)
 *     conv2d_bwd_weight   parallel over O*C/groups; per (ky, kx) a sum over (n, oh, ow)
 *
 * Each sum is serial loops into a local of its own, in the interpreter's
 * order (ir_conv.c); up to LANES neighbouring outputs along the last axis
 * are summed side by side, so their adds overlap. The locals are f64
 * whatever the node's dtype, as the interpreter's: a product of two
 * floats is exact in double, so an f32 result is the double sum rounded
 * once, the interpreter's value bit for bit and closer to PyTorch's than a
 * float sum. Padding is a bounds check in the loop of its axis; the index
 * is also clamped into the input so that the loop-IR verifier can see
 * every load is in range (the clamp changes nothing where the check
 * holds). An axis without padding needs neither.
 */
#include <stdio.h>

#include "cg_lower.h"
#include "ir_conv.h"

/* loop variables: the parallel plane, two output positions, three summed */
enum { V_P, V_A, V_B, V_R0, V_R1, V_R2, V_COUNT };
#define LANES 8 /* outputs summed side by side (sums()) */
enum { L_ACC, L_COUNT = L_ACC + LANES }; /* an accumulator per lane */

typedef struct {
	ir_arena *a;
	cg_type t; /* the node's dtype */
	ir_conv_desc d;
} convc;

static cg_expr *I(convc *c, int64_t v) { return cg_const_i(c->a, CG_T_I64, v); }
static cg_expr *V(convc *c, int v) { return cg_var(c->a, v); }
static cg_expr *bin(convc *c, cg_bop op, cg_expr *x, cg_expr *y) { return cg_bin(c->a, op, x, y); }
static cg_expr *add(convc *c, cg_expr *x, cg_expr *y) { return bin(c, CG_B_ADD, x, y); }
static cg_expr *sub(convc *c, cg_expr *x, cg_expr *y) { return bin(c, CG_B_SUB, x, y); }
static cg_expr *mul(convc *c, cg_expr *x, cg_expr *y) { return bin(c, CG_B_MUL, x, y); }
static cg_expr *muli(convc *c, cg_expr *x, int64_t k) { return k == 1 ? x : mul(c, x, I(c, k)); }
static cg_expr *addi(convc *c, cg_expr *x, int64_t k) { return k == 0 ? x : add(c, x, I(c, k)); }
static cg_expr *both(convc *c, cg_expr *x, cg_expr *y) { return x ? (y ? bin(c, CG_B_AND, x, y) : x) : y; }

/* e clamped into [0, hi] */
static cg_expr *clamp(convc *c, cg_expr *e, int64_t hi)
{
	return bin(c, CG_B_MAX, bin(c, CG_B_MIN, e, I(c, hi)), I(c, 0));
}

/* q - (q / k) * k: what the parallel index leaves after its outer part,
 * clamped so that the verifier knows it lies in [0, k) */
static cg_expr *rem(convc *c, cg_expr *q, cg_expr *outer, int64_t k)
{
	return clamp(c, sub(c, q, muli(c, outer, k)), k - 1);
}

static cg_expr *load(convc *c, int buf, cg_expr *idx)
{
	cg_expr *v = cg_load(c->a, c->t, buf, idx);
	return c->t == CG_T_F64 ? v : cg_cast(c->a, CG_T_F64, v);
}

/* One axis of an input position read by output o at tap k: in = o*s - p + k*dil.
 * *ok is the bounds check (NULL when the axis has no padding, so every
 * position is inside), the result the position to load. */
static cg_expr *in_pos(convc *c, cg_expr *o, cg_expr *k, int64_t s, int64_t p, int64_t dil,
                       int64_t len, cg_expr **ok)
{
	cg_expr *i = add(c, addi(c, muli(c, o, s), -p), muli(c, k, dil));
	if (p == 0) {
		*ok = NULL;
		return i;
	}
	*ok = both(c, bin(c, CG_B_GE, i, I(c, 0)), bin(c, CG_B_LT, i, I(c, len)));
	return clamp(c, i, len - 1);
}

/* The output position fed by input position i at tap k (bwd_data):
 * t = i + p - k*dil must be a multiple of s and t / s < olen. */
static cg_expr *out_pos(convc *c, cg_expr *i, cg_expr *k, int64_t s, int64_t p, int64_t dil,
                        int64_t olen, cg_expr **ok)
{
	cg_expr *t = sub(c, addi(c, i, p), muli(c, k, dil));
	cg_expr *o = s == 1 ? t : bin(c, CG_B_DIV, t, I(c, s));
	cg_expr *cond = both(c, bin(c, CG_B_GE, t, I(c, 0)), bin(c, CG_B_LT, o, I(c, olen)));
	if (s > 1)
		cond = both(c, cond, bin(c, CG_B_EQ, sub(c, t, muli(c, o, s)), I(c, 0)));
	*ok = cond;
	return clamp(c, o, olen - 1);
}

static cg_stmt *guard(convc *c, cg_expr *ok, cg_stmt *s) { return ok ? cg_if(c->a, ok, s) : s; }

/* One term x * y of an output's sum, with its checks: ok1 on the r1 axis
 * (and a, never b), ok2 on the r2 axis (and b); NULL where always true. */
typedef struct {
	cg_expr *ok1, *ok2, *x, *y;
} conv_term;

/* The term of op's sum at the loop variables and output column b. */
typedef conv_term (*term_fn)(convc *c, const int *buf, cg_expr *b);

/*
 * for a, for each block of LANES columns b: acc[l] = 0; for r0, r1 (if
 * ok1), r2: acc[l] += x * y (if ok2) for each lane l; out[p, a, b+l] =
 * acc[l]. Each output's sum keeps its order; the lanes are independent
 * chains, so the adds of several outputs overlap instead of each waiting
 * for the last. A last, partial block computes its missing lanes on a
 * clamped column and does not store them.
 */
static cg_stmt *sums(convc *c, const int *buf, int64_t na, int64_t nb, const int64_t r[3],
                     term_fn fn)
{
	ir_arena *a = c->a;
	int U = nb < LANES ? (int)nb : LANES;
	cg_stmt *init = NULL, *terms = NULL, *stores = NULL;
	cg_expr *ok1 = NULL;
	for (int l = 0; l < U; l++) {
		cg_expr *b = addi(c, muli(c, V(c, V_B), U), l), *bc = nb % U ? clamp(c, b, nb - 1) : b;
		conv_term t = fn(c, buf, bc);
		ok1 = t.ok1; /* the same in every lane */
		cg_expr *acc = cg_local(a, CG_T_F64, L_ACC + l);
		cg_append(&init, cg_set(a, L_ACC + l, cg_const_f(a, CG_T_F64, 0.0)));
		cg_append(&terms, guard(c, t.ok2, cg_set(a, L_ACC + l, add(c, acc, mul(c, t.x, t.y)))));
		cg_expr *at = add(c, muli(c, V(c, V_P), na * nb), add(c, muli(c, V(c, V_A), nb), bc));
		cg_stmt *st = cg_store(a, buf[0], at, c->t == CG_T_F64 ? acc : cg_cast(a, c->t, acc));
		cg_append(&stores, nb % U ? cg_if(a, bin(c, CG_B_LT, b, I(c, nb)), st) : st);
	}
	cg_stmt *inner = guard(c, ok1, cg_loop(a, V_R2, r[2], CG_L_SERIAL, terms));
	cg_append(&init, cg_loop(a, V_R0, r[0], CG_L_SERIAL, cg_loop(a, V_R1, r[1], CG_L_SERIAL, inner)));
	cg_append(&init, stores);
	return cg_loop(a, V_A, na, CG_L_SERIAL, cg_loop(a, V_B, (nb + U - 1) / U, CG_L_SERIAL, init));
}

/* y[n,o,oh,ow] over (c, ky, kx); p = n*O + o, a = oh, b = ow */
static conv_term forward(convc *c, const int *buf, cg_expr *b)
{
	const ir_conv_desc *d = &c->d;
	int64_t Cg = d->C / d->groups, Og = d->O / d->groups;
	cg_expr *n = bin(c, CG_B_DIV, V(c, V_P), I(c, d->O));
	cg_expr *o = rem(c, V(c, V_P), n, d->O);
	cg_expr *ch = add(c, muli(c, n, d->C), add(c, muli(c, bin(c, CG_B_DIV, o, I(c, Og)), Cg), V(c, V_R0)));
	conv_term t;
	cg_expr *ih = in_pos(c, V(c, V_A), V(c, V_R1), d->sh, d->ph, d->dh, d->H, &t.ok1);
	cg_expr *iw = in_pos(c, b, V(c, V_R2), d->sw, d->pw, d->dw, d->W, &t.ok2);
	cg_expr *xi = add(c, muli(c, add(c, muli(c, ch, d->H), ih), d->W), iw);
	cg_expr *wi = add(c, muli(c, add(c, muli(c, add(c, muli(c, o, Cg), V(c, V_R0)), d->kh), V(c, V_R1)), d->kw),
	                  V(c, V_R2));
	t.x = load(c, buf[1], xi);
	t.y = load(c, buf[2], wi);
	return t;
}

/* dx[n,ci,ih,iw] over (o of ci's group, ky, kx); p = n*C + ci, a = ih, b = iw */
static conv_term bwd_data(convc *c, const int *buf, cg_expr *b)
{
	const ir_conv_desc *d = &c->d;
	int64_t Cg = d->C / d->groups, Og = d->O / d->groups;
	cg_expr *n = bin(c, CG_B_DIV, V(c, V_P), I(c, d->C));
	cg_expr *ci = rem(c, V(c, V_P), n, d->C);
	cg_expr *g = bin(c, CG_B_DIV, ci, I(c, Cg));
	cg_expr *cl = rem(c, ci, g, Cg);
	cg_expr *o = add(c, muli(c, g, Og), V(c, V_R0));
	conv_term t;
	cg_expr *oh = out_pos(c, V(c, V_A), V(c, V_R1), d->sh, d->ph, d->dh, d->OH, &t.ok1);
	cg_expr *ow = out_pos(c, b, V(c, V_R2), d->sw, d->pw, d->dw, d->OW, &t.ok2);
	cg_expr *dyi = add(c, muli(c, add(c, muli(c, add(c, muli(c, n, d->O), o), d->OH), oh), d->OW), ow);
	cg_expr *wi = add(c, muli(c, add(c, muli(c, add(c, muli(c, o, Cg), cl), d->kh), V(c, V_R1)), d->kw),
	                  V(c, V_R2));
	t.x = load(c, buf[1], dyi);
	t.y = load(c, buf[2], wi);
	return t;
}

/* dw[o,c,ky,kx] over (n, oh, ow); p = o*Cg + c, a = ky, b = kx */
static conv_term bwd_weight(convc *c, const int *buf, cg_expr *b)
{
	const ir_conv_desc *d = &c->d;
	int64_t Cg = d->C / d->groups, Og = d->O / d->groups;
	cg_expr *o = bin(c, CG_B_DIV, V(c, V_P), I(c, Cg));
	cg_expr *cl = rem(c, V(c, V_P), o, Cg);
	cg_expr *ch = add(c, muli(c, V(c, V_R0), d->C), add(c, muli(c, bin(c, CG_B_DIV, o, I(c, Og)), Cg), cl));
	conv_term t;
	cg_expr *ih = in_pos(c, V(c, V_R1), V(c, V_A), d->sh, d->ph, d->dh, d->H, &t.ok1);
	cg_expr *iw = in_pos(c, V(c, V_R2), b, d->sw, d->pw, d->dw, d->W, &t.ok2);
	cg_expr *xi = add(c, muli(c, add(c, muli(c, ch, d->H), ih), d->W), iw);
	cg_expr *dyi = add(c, muli(c, add(c, muli(c, add(c, muli(c, V(c, V_R0), d->O), o), d->OH), V(c, V_R1)), d->OW),
	                   V(c, V_R2));
	t.x = load(c, buf[1], xi);
	t.y = load(c, buf[2], dyi);
	return t;
}

int cg_lower_conv(ir_arena *a, cg_kernel *k, const ir_node *n, const int *buf, char *err,
                  size_t errlen)
{
	convc c = {a, cg_type_of(n->dtype), {0}};
	if (ir_conv_desc_of(n, &c.d) || c.d.groups < 1 || c.d.C % c.d.groups || c.d.O % c.d.groups) {
		snprintf(err, errlen, "lowering: %s expects rank-4 operands with valid sizes",
		         ir_op_name(n->op));
		return -1;
	}
	k->nvars = V_COUNT;
	k->nlocals = L_COUNT;
	k->local_type = ir_arena_alloc(a, L_COUNT * sizeof *k->local_type);
	for (int i = 0; i < L_COUNT; i++)
		k->local_type[i] = CG_T_F64;
	const ir_conv_desc *d = &c.d;
	int64_t Cg = d->C / d->groups;
	cg_stmt *body;
	int64_t planes;
	if (n->op == IR_OP_CONV2D) {
		planes = d->N * d->O;
		body = sums(&c, buf, d->OH, d->OW, (int64_t[]){Cg, d->kh, d->kw}, forward);
	} else if (n->op == IR_OP_CONV2D_BWD_DATA) {
		planes = d->N * d->C;
		body = sums(&c, buf, d->H, d->W, (int64_t[]){d->O / d->groups, d->kh, d->kw}, bwd_data);
	} else {
		planes = d->O * Cg;
		body = sums(&c, buf, d->kh, d->kw, (int64_t[]){d->N, d->OH, d->OW}, bwd_weight);
	}
	k->work = d->N * d->O * d->OH * d->OW * Cg * d->kh * d->kw;
	k->body = cg_loop(a, V_P, planes, CG_L_PARALLEL, body);
	return 0;
}
