/*
 * cg_lower_pool.c - loop IR of the pool ops (ir_pool.h): a parallel loop
 * over the N*C planes, serial loops over the outputs and their windows.
 * Window loops have a fixed trip count (the kernel, or an adaptive
 * window's largest size) and skip the positions outside the input. The
 * backward ops scatter into their own plane, so parallel iterations write
 * disjoint elements. Same formulas as the interpreter (ir_pool.c).
 */
#include <math.h>
#include <stdio.h>

#include "cg_lower.h"
#include "ir_pool.h"

/* vars: plane, oh, ow, window row, window column */
enum { V_PL, V_OH, V_OW, V_KH, V_KW, V_COUNT };
enum { L_ACC, L_BEST, L_BESTV, L_CNT, L_PCNT, L_COUNT };

typedef struct {
	ir_arena *a;
	cg_type t;
	ir_op fwd;
	ir_pool_params p;
	int64_t H, W, OH, OW;
} poolc;

static cg_expr *I(poolc *c, int64_t v) { return cg_const_i(c->a, CG_T_I64, v); }
static cg_expr *F(poolc *c, double v) { return cg_const_f(c->a, c->t, v); }
static cg_expr *V(poolc *c, int v) { return cg_var(c->a, v); }
static cg_expr *L(poolc *c, int l) { return cg_local(c->a, l == L_BEST ? CG_T_I64 : c->t, l); }
static cg_expr *bin(poolc *c, cg_bop op, cg_expr *x, cg_expr *y) { return cg_bin(c->a, op, x, y); }

/* One axis of the window of output `o` (var), position k (var) in it. */
typedef struct {
	cg_expr *start; /* first input position (may be negative: padding) */
	cg_expr *i;     /* the input position */
	cg_expr *valid; /* inside the input and the window */
	cg_expr *padded; /* inside the window counting padding (count_include_pad) */
	cg_expr *at;    /* i clamped into [0, len): loads index with it, so the loop-IR
	                   verifier sees them in range (where `valid` holds, at == i) */
	int64_t extent; /* trip count of the window loop */
} axis;

static axis axis_of(poolc *c, int ov, int kv, int64_t k, int64_t s, int64_t p, int64_t len,
                    int64_t olen)
{
	axis x;
	cg_expr *o = V(c, ov);
	if (c->fwd == IR_OP_ADAPTIVE_AVG_POOL2D) {
		/* [floor(o*len/olen), ceil((o+1)*len/olen)) */
		x.start = bin(c, CG_B_DIV, bin(c, CG_B_MUL, o, I(c, len)), I(c, olen));
		cg_expr *end = bin(c, CG_B_DIV, bin(c, CG_B_ADD, bin(c, CG_B_MUL, o, I(c, len)),
		                                    I(c, len + olen - 1)), I(c, olen));
		x.i = bin(c, CG_B_ADD, x.start, V(c, kv));
		x.valid = bin(c, CG_B_LT, x.i, end);
		x.padded = x.valid;
		x.at = bin(c, CG_B_MIN, x.i, I(c, len - 1));
		x.extent = 0;
		for (int64_t j = 0; j < olen; j++) {
			ir_pool_win w = ir_pool_window(c->fwd, 0, 0, 0, j, len, olen);
			x.extent = w.hi - w.lo > x.extent ? w.hi - w.lo : x.extent;
		}
		return x;
	}
	x.start = bin(c, CG_B_SUB, bin(c, CG_B_MUL, o, I(c, s)), I(c, p));
	x.i = bin(c, CG_B_ADD, x.start, V(c, kv));
	x.valid = bin(c, CG_B_AND, bin(c, CG_B_GE, x.i, I(c, 0)), bin(c, CG_B_LT, x.i, I(c, len)));
	x.padded = bin(c, CG_B_LT, x.i, I(c, len + p));
	x.at = p ? bin(c, CG_B_MAX, bin(c, CG_B_MIN, x.i, I(c, len - 1)), I(c, 0)) : x.i;
	x.extent = k;
	return x;
}

/* The window loops around body, which runs where both axes are valid. */
static cg_stmt *window(poolc *c, axis *h, axis *w, cg_stmt *body)
{
	cg_stmt *in = cg_if(c->a, bin(c, CG_B_AND, h->valid, w->valid), body);
	return cg_loop(c->a, V_KH, h->extent, CG_L_SERIAL, cg_loop(c->a, V_KW, w->extent, CG_L_SERIAL, in));
}

static cg_expr *plane_at(poolc *c, int buf, cg_expr *ih, cg_expr *iw)
{
	cg_expr *base = bin(c, CG_B_MUL, V(c, V_PL), I(c, c->H * c->W));
	cg_expr *off = bin(c, CG_B_ADD, bin(c, CG_B_MUL, ih, I(c, c->W)), iw);
	return cg_load(c->a, c->t, buf, bin(c, CG_B_ADD, base, off));
}

/* L_BEST = the plane offset of the window's first maximum (or last NaN) */
static cg_stmt *argmax(poolc *c, axis *h, axis *w, int xbuf)
{
	ir_arena *a = c->a;
	cg_expr *zero = I(c, 0);
	cg_expr *h0 = cg_select(a, bin(c, CG_B_GT, h->start, zero), h->start, zero);
	cg_expr *w0 = cg_select(a, bin(c, CG_B_GT, w->start, zero), w->start, zero);
	cg_stmt *s = cg_set(a, L_BEST, bin(c, CG_B_ADD, bin(c, CG_B_MUL, h0, I(c, c->W)), w0));
	cg_append(&s, cg_set(a, L_BESTV, F(c, -INFINITY)));
	cg_expr *v = plane_at(c, xbuf, h->at, w->at);
	cg_expr *better = bin(c, CG_B_OR, bin(c, CG_B_GT, v, L(c, L_BESTV)), cg_un(a, CG_U_ISNAN, v));
	cg_expr *pos = bin(c, CG_B_ADD, bin(c, CG_B_MUL, h->i, I(c, c->W)), w->i);
	cg_stmt *upd = cg_set(a, L_BEST, cg_select(a, better, pos, L(c, L_BEST)));
	upd->next = cg_set(a, L_BESTV, cg_select(a, better, v, L(c, L_BESTV)));
	cg_append(&s, window(c, h, w, upd));
	return s;
}

/* L_CNT = inputs in the window, L_PCNT = positions counting padding */
static cg_stmt *counts(poolc *c, axis *h, axis *w)
{
	ir_arena *a = c->a;
	cg_stmt *s = cg_set(a, L_CNT, F(c, 0.0));
	cg_append(&s, cg_set(a, L_PCNT, F(c, 0.0)));
	cg_expr *pad = bin(c, CG_B_AND, h->padded, w->padded);
	cg_stmt *body = cg_if(a, bin(c, CG_B_AND, h->valid, w->valid),
	                      cg_set(a, L_CNT, bin(c, CG_B_ADD, L(c, L_CNT), F(c, 1.0))));
	body->next = cg_if(a, pad, cg_set(a, L_PCNT, bin(c, CG_B_ADD, L(c, L_PCNT), F(c, 1.0))));
	cg_append(&s, cg_loop(a, V_KH, h->extent, CG_L_SERIAL, cg_loop(a, V_KW, w->extent, CG_L_SERIAL, body)));
	return s;
}

static cg_expr *divisor(poolc *c)
{
	int cnt = c->fwd == IR_OP_AVG_POOL2D && !c->p.count_pad;
	return L(c, cnt || c->fwd == IR_OP_ADAPTIVE_AVG_POOL2D ? L_CNT : L_PCNT);
}

int cg_lower_pool(ir_arena *a, cg_kernel *k, const ir_node *n, const int *buf, char *err,
                  size_t errlen)
{
	const ir_shape *xs = &n->in[0]->shape;
	ir_op fwd = ir_pool_forward(n->op);
	int grad = fwd != n->op;
	const ir_shape *ys = grad ? &n->in[1]->shape : &n->shape;
	if (xs->rank != 4 || ys->rank != 4) {
		snprintf(err, errlen, "lowering: %s expects [N,C,H,W] tensors", ir_op_name(n->op));
		return -1;
	}
	poolc c = {a, cg_type_of(n->dtype), fwd, ir_pool_params_of(n), xs->dim[2], xs->dim[3],
	           ys->dim[2], ys->dim[3]};
	k->nvars = V_COUNT;
	k->nlocals = L_COUNT;
	k->local_type = ir_arena_alloc(a, L_COUNT * sizeof *k->local_type);
	for (int i = 0; i < L_COUNT; i++)
		k->local_type[i] = i == L_BEST ? CG_T_I64 : c.t;
	axis h = axis_of(&c, V_OH, V_KH, c.p.kh, c.p.sh, c.p.ph, c.H, c.OH);
	axis w = axis_of(&c, V_OW, V_KW, c.p.kw, c.p.sw, c.p.pw, c.W, c.OW);
	int64_t planes = xs->dim[0] * xs->dim[1];
	cg_expr *o = bin(&c, CG_B_ADD, bin(&c, CG_B_MUL, V(&c, V_PL), I(&c, c.OH * c.OW)),
	                 bin(&c, CG_B_ADD, bin(&c, CG_B_MUL, V(&c, V_OH), I(&c, c.OW)), V(&c, V_OW)));
	cg_expr *pbase = bin(&c, CG_B_MUL, V(&c, V_PL), I(&c, c.H * c.W));
	cg_stmt *body, *pre = NULL;
	k->work = planes * c.OH * c.OW * h.extent * w.extent + (grad ? planes * c.H * c.W : 0);

	if (fwd == IR_OP_MAX_POOL2D) {
		body = argmax(&c, &h, &w, buf[1]);
		if (grad) {
			cg_expr *at = bin(&c, CG_B_ADD, pbase, L(&c, L_BEST));
			cg_expr *old = cg_load(a, c.t, buf[0], at);
			cg_append(&body, cg_store(a, buf[0], at, bin(&c, CG_B_ADD, old, cg_load(a, c.t, buf[2], o))));
		} else {
			cg_append(&body, cg_store(a, buf[0], o, L(&c, L_BESTV)));
		}
	} else {
		body = counts(&c, &h, &w);
		if (grad) {
			/* dx += dy / divisor over the window */
			cg_expr *at = bin(&c, CG_B_ADD, pbase, bin(&c, CG_B_ADD, bin(&c, CG_B_MUL, h.at, I(&c, c.W)), w.at));
			cg_expr *g = bin(&c, CG_B_DIV, cg_load(a, c.t, buf[2], o), divisor(&c));
			cg_append(&body, window(&c, &h, &w,
			                        cg_store(a, buf[0], at, bin(&c, CG_B_ADD, cg_load(a, c.t, buf[0], at), g))));
		} else {
			cg_append(&body, cg_set(a, L_ACC, F(&c, 0.0)));
			cg_stmt *acc = cg_set(a, L_ACC, bin(&c, CG_B_ADD, L(&c, L_ACC), plane_at(&c, buf[1], h.at, w.at)));
			cg_append(&body, window(&c, &h, &w, acc));
			/* an empty window gives 0, as ATen */
			cg_expr *y = cg_select(a, bin(&c, CG_B_GT, L(&c, L_CNT), F(&c, 0.0)),
			                       bin(&c, CG_B_DIV, L(&c, L_ACC), divisor(&c)), F(&c, 0.0));
			cg_append(&body, cg_store(a, buf[0], o, y));
		}
	}
	if (grad)
		pre = cg_loop(a, V_OH, c.H * c.W, CG_L_SERIAL,
		              cg_store(a, buf[0], bin(&c, CG_B_ADD, pbase, V(&c, V_OH)), F(&c, 0.0)));
	cg_stmt *outs = cg_loop(a, V_OH, c.OH, CG_L_SERIAL, cg_loop(a, V_OW, c.OW, CG_L_SERIAL, body));
	if (pre)
		pre->next = outs;
	k->body = cg_loop(a, V_PL, planes, CG_L_PARALLEL, pre ? pre : outs);
	return 0;
}
