/*
 * cg_lower_row.c - loop IR of the row-wise ops: softmax and log-softmax
 * along any axis (max-subtracted), and over logits [N,C] with i32 labels
 * [N]: cross-entropy (mean or per row, label smoothing), its gradient, and
 * the argmax-equals-label count; nll_loss over log-probabilities and its
 * gradient. Labels outside [0, C) stop the kernel
 * with error code 1. Same formulas as the interpreter (ir_interp_ops.c).
 */
#include <math.h>
#include <stdio.h>

#include "cg_lower.h"
#include "ir_conv.h"
#include "ir_embed.h"
#include "ir_pool.h"

enum { L_MX, L_SUM, L_LSE, L_ACC, L_Y, L_BEST, L_BESTV, L_COUNT };

typedef struct {
	ir_arena *a;
	cg_type t;
} rowc;

static cg_expr *F(rowc *r, double v) { return cg_const_f(r->a, r->t, v); }
static cg_expr *I(rowc *r, int64_t v) { return cg_const_i(r->a, CG_T_I64, v); }
static cg_expr *L(rowc *r, int l) { return cg_local(r->a, (l == L_Y || l == L_BEST) ? CG_T_I64 : r->t, l); }
static cg_expr *V(rowc *r, int v) { return cg_var(r->a, v); }
static cg_expr *add(rowc *r, cg_expr *x, cg_expr *y) { return cg_bin(r->a, CG_B_ADD, x, y); }
static cg_expr *sub(rowc *r, cg_expr *x, cg_expr *y) { return cg_bin(r->a, CG_B_SUB, x, y); }
static cg_expr *mul(rowc *r, cg_expr *x, cg_expr *y) { return cg_bin(r->a, CG_B_MUL, x, y); }

/* mx = max over the row (NaN-ignoring, as the interpreter); sum = sum exp(x-mx) */
static cg_stmt *max_and_sum(rowc *r, int var, int64_t len, cg_expr *(*xat)(rowc *, void *, cg_expr *),
                            void *ctx)
{
	ir_arena *a = r->a;
	cg_stmt *s = NULL;
	cg_append(&s, cg_set(a, L_MX, F(r, -INFINITY)));
	cg_expr *x = xat(r, ctx, V(r, var));
	cg_append(&s, cg_loop(a, var, len, CG_L_SERIAL,
	                      cg_set(a, L_MX, cg_select(a, cg_bin(a, CG_B_GT, x, L(r, L_MX)), x, L(r, L_MX)))));
	cg_append(&s, cg_set(a, L_SUM, F(r, 0.0)));
	cg_append(&s, cg_reduce(a, var, len, CG_B_ADD, L_SUM,
	                        cg_set(a, L_SUM, add(r, L(r, L_SUM), cg_un(a, CG_U_EXP, sub(r, x, L(r, L_MX)))))));
	return s;
}

typedef struct {
	int buf;
	cg_expr *base;  /* element index of the row's first value */
	int64_t step;   /* distance between the row's values */
} rowptr;

static cg_expr *row_at(rowc *r, void *ctx, cg_expr *c)
{
	rowptr *p = ctx;
	cg_expr *off = p->step == 1 ? c : mul(r, c, I(r, p->step));
	return cg_load(r->a, r->t, p->buf, add(r, p->base, off));
}

static void set_locals(ir_arena *a, cg_kernel *k, cg_type t)
{
	k->nlocals = L_COUNT;
	k->local_type = ir_arena_alloc(a, L_COUNT * sizeof *k->local_type);
	for (int i = 0; i < L_COUNT; i++)
		k->local_type[i] = (i == L_Y || i == L_BEST) ? CG_T_I64 : t;
}

static int lower_softmax(rowc *r, cg_kernel *k, const ir_node *n, const int *buf)
{
	ir_arena *a = r->a;
	const ir_shape *s = &n->shape;
	int64_t outer = 1, len = s->dim[ir_attr_i(n, IR_ATTR_AXIS)], inner = 1;
	for (int i = 0; i < ir_attr_i(n, IR_ATTR_AXIS); i++)
		outer *= s->dim[i];
	for (int i = ir_attr_i(n, IR_ATTR_AXIS) + 1; i < s->rank; i++)
		inner *= s->dim[i];
	/* vars: 0 = outer, 1 = inner, 2 = along the axis */
	rowptr p = {buf[1], add(r, mul(r, V(r, 0), I(r, len * inner)), V(r, 1)), inner};
	cg_stmt *body = max_and_sum(r, 2, len, row_at, &p);
	cg_expr *v = sub(r, row_at(r, &p, V(r, 2)), L(r, L_MX));
	cg_expr *y = n->op == IR_OP_SOFTMAX ? cg_bin(a, CG_B_DIV, cg_un(a, CG_U_EXP, v), L(r, L_SUM))
	                                    : sub(r, v, cg_un(a, CG_U_LOG, L(r, L_SUM)));
	cg_expr *oidx = add(r, p.base, inner == 1 ? V(r, 2) : mul(r, V(r, 2), I(r, inner)));
	cg_append(&body, cg_loop(a, 2, len, CG_L_SERIAL, cg_store(a, buf[0], oidx, y)));
	k->body = cg_loop(a, 0, outer, CG_L_PARALLEL, cg_loop(a, 1, inner, CG_L_SERIAL, body));
	k->nvars = 3;
	k->work = ir_shape_numel(s) * 3;
	return 0;
}

/* y = label of row var 0, checked against [0, C) */
static cg_stmt *load_label(rowc *r, int lbuf, int64_t C)
{
	ir_arena *a = r->a;
	cg_stmt *s = cg_set(a, L_Y, cg_cast(a, CG_T_I64, cg_load(a, CG_T_I32, lbuf, V(r, 0))));
	cg_expr *bad = cg_bin(a, CG_B_OR, cg_bin(a, CG_B_LT, L(r, L_Y), I(r, 0)),
	                      cg_bin(a, CG_B_GE, L(r, L_Y), I(r, C)));
	s->next = cg_if(a, bad, cg_fail(a, 1));
	return s;
}

/* l = -x[y] per row, then each row, the mean or the sum; the gradient is -dl at y */
static int lower_nll(rowc *r, cg_kernel *k, const ir_node *n, const int *buf, cg_stmt *body)
{
	ir_arena *a = r->a;
	int64_t N = n->in[0]->shape.dim[0], C = n->in[0]->shape.dim[1];
	int red = (int)ir_attr_i(n, IR_ATTR_REDUCTION);
	cg_expr *base = mul(r, V(r, 0), I(r, C));
	k->nvars = 2;
	k->work = n->op == IR_OP_NLL_LOSS ? N : N * C;
	if (n->op == IR_OP_NLL_LOSS_GRAD) {
		cg_expr *dl = red == IR_REDUCE_NONE ? cg_load(a, r->t, buf[3], V(r, 0))
		              : red == IR_REDUCE_SUM ? cg_load(a, r->t, buf[3], I(r, 0))
		                                     : cg_bin(a, CG_B_DIV, cg_load(a, r->t, buf[3], I(r, 0)),
		                                              F(r, (double)N));
		cg_expr *g = cg_select(a, cg_bin(a, CG_B_EQ, V(r, 1), L(r, L_Y)), cg_un(a, CG_U_NEG, dl),
		                       F(r, 0.0));
		cg_append(&body, cg_loop(a, 1, C, CG_L_SERIAL, cg_store(a, buf[0], add(r, base, V(r, 1)), g)));
		k->body = cg_loop(a, 0, N, CG_L_PARALLEL, body);
		return 0;
	}
	cg_expr *l = cg_un(a, CG_U_NEG, cg_load(a, r->t, buf[1], add(r, base, L(r, L_Y))));
	if (red == IR_REDUCE_NONE) {
		cg_append(&body, cg_store(a, buf[0], V(r, 0), l));
		k->body = cg_loop(a, 0, N, CG_L_PARALLEL, body);
		return 0;
	}
	cg_append(&body, cg_set(a, L_ACC, add(r, L(r, L_ACC), l)));
	k->body = cg_set(a, L_ACC, F(r, 0.0));
	cg_append(&k->body, cg_reduce(a, 0, N, CG_B_ADD, L_ACC, body));
	cg_expr *v = red == IR_REDUCE_SUM ? L(r, L_ACC) : cg_bin(a, CG_B_DIV, L(r, L_ACC), F(r, (double)N));
	cg_append(&k->body, cg_store(a, buf[0], I(r, 0), v));
	return 0;
}

/* out[i, c] = c == label[i]; labels checked as the losses' */
static int lower_one_hot(rowc *r, cg_kernel *k, const ir_node *n, const int *buf)
{
	ir_arena *a = r->a;
	int64_t N = n->shape.dim[0], C = n->shape.dim[1];
	cg_stmt *body = load_label(r, buf[1], C);
	cg_expr *v = cg_select(a, cg_bin(a, CG_B_EQ, V(r, 1), L(r, L_Y)), F(r, 1.0), F(r, 0.0));
	cg_append(&body, cg_loop(a, 1, C, CG_L_SERIAL,
	                         cg_store(a, buf[0], add(r, mul(r, V(r, 0), I(r, C)), V(r, 1)), v)));
	k->body = cg_loop(a, 0, N, CG_L_PARALLEL, body);
	k->nvars = 2;
	k->work = N * C;
	return 0;
}

static int lower_loss(rowc *r, cg_kernel *k, const ir_node *n, const int *buf)
{
	ir_arena *a = r->a;
	int64_t N = n->in[0]->shape.dim[0], C = n->in[0]->shape.dim[1];
	double sm = ir_attr_f(n, IR_ATTR_SMOOTHING);
	rowptr p = {buf[1], mul(r, V(r, 0), I(r, C)), 1};
	cg_stmt *body = load_label(r, buf[2], C);
	cg_expr *xc = row_at(r, &p, V(r, 1));
	k->nvars = 2;
	k->work = N * C * 3;

	if (n->op == IR_OP_CORRECT) {
		/* first maximum wins */
		cg_append(&body, cg_set(a, L_BEST, I(r, 0)));
		cg_append(&body, cg_set(a, L_BESTV, row_at(r, &p, I(r, 0))));
		cg_expr *gt = cg_bin(a, CG_B_GT, xc, L(r, L_BESTV));
		cg_stmt *upd = cg_set(a, L_BEST, cg_select(a, gt, V(r, 1), L(r, L_BEST)));
		upd->next = cg_set(a, L_BESTV, cg_select(a, gt, xc, L(r, L_BESTV)));
		cg_append(&body, cg_loop(a, 1, C, CG_L_SERIAL, upd));
		cg_expr *hit = cg_select(a, cg_bin(a, CG_B_EQ, L(r, L_BEST), L(r, L_Y)), F(r, 1.0), F(r, 0.0));
		cg_append(&body, cg_store(a, buf[0], V(r, 0), hit));
		k->body = cg_loop(a, 0, N, CG_L_PARALLEL, body);
		return 0;
	}
	if (n->op == IR_OP_NLL_LOSS || n->op == IR_OP_NLL_LOSS_GRAD)
		return lower_nll(r, k, n, buf, body);
	cg_append(&body, max_and_sum(r, 1, C, row_at, &p));
	cg_append(&body, cg_set(a, L_LSE, add(r, L(r, L_MX), cg_un(a, CG_U_LOG, L(r, L_SUM)))));

	if (n->op == IR_OP_CROSS_ENTROPY_GRAD) {
		cg_expr *dl = ir_attr_i(n, IR_ATTR_REDUCTION) == IR_REDUCE_NONE
		                  ? cg_load(a, r->t, buf[3], V(r, 0))
		                  : cg_bin(a, CG_B_DIV, cg_load(a, r->t, buf[3], I(r, 0)), F(r, (double)N));
		cg_expr *tgt = add(r, cg_select(a, cg_bin(a, CG_B_EQ, V(r, 1), L(r, L_Y)), F(r, 1.0 - sm),
		                                F(r, 0.0)),
		                   F(r, sm / (double)C));
		cg_expr *g = mul(r, sub(r, cg_un(a, CG_U_EXP, sub(r, xc, L(r, L_LSE))), tgt), dl);
		cg_append(&body, cg_loop(a, 1, C, CG_L_SERIAL, cg_store(a, buf[0], add(r, p.base, V(r, 1)), g)));
		k->body = cg_loop(a, 0, N, CG_L_PARALLEL, body);
		return 0;
	}
	/* CROSS_ENTROPY: l = (1-s)(lse - x[y]) - s * sum(x - lse) / C */
	cg_expr *xy = cg_load(a, r->t, buf[1], add(r, p.base, L(r, L_Y)));
	cg_expr *l = mul(r, F(r, 1.0 - sm), sub(r, L(r, L_LSE), xy));
	if (sm != 0.0) {
		cg_append(&body, cg_set(a, L_ACC, F(r, 0.0)));
		cg_append(&body, cg_reduce(a, 1, C, CG_B_ADD, L_ACC,
		                           cg_set(a, L_ACC, add(r, L(r, L_ACC), sub(r, xc, L(r, L_LSE))))));
		l = sub(r, l, mul(r, F(r, sm), cg_bin(a, CG_B_DIV, L(r, L_ACC), F(r, (double)C))));
	}
	if (ir_attr_i(n, IR_ATTR_REDUCTION) == IR_REDUCE_NONE) {
		cg_append(&body, cg_store(a, buf[0], V(r, 0), l));
		k->body = cg_loop(a, 0, N, CG_L_PARALLEL, body);
		return 0;
	}
	/* mean over rows: a reduction over the rows */
	cg_append(&body, cg_set(a, L_BESTV, add(r, L(r, L_BESTV), l)));
	k->body = cg_set(a, L_BESTV, F(r, 0.0));
	cg_append(&k->body, cg_reduce(a, 0, N, CG_B_ADD, L_BESTV, body));
	cg_append(&k->body, cg_store(a, buf[0], I(r, 0),
	                             cg_bin(a, CG_B_DIV, L(r, L_BESTV), F(r, (double)N))));
	return 0;
}

typedef int (*row_fn)(rowc *r, cg_kernel *k, const ir_node *n, const int *buf);

/* The lowering facet of the row-wise ops. */
static const row_fn row_rules[IR_OP_COUNT] = {
	[IR_OP_SOFTMAX] = lower_softmax,
	[IR_OP_LOG_SOFTMAX] = lower_softmax,
	[IR_OP_CROSS_ENTROPY] = lower_loss,
	[IR_OP_CROSS_ENTROPY_GRAD] = lower_loss,
	[IR_OP_CORRECT] = lower_loss,
	[IR_OP_NLL_LOSS] = lower_loss,
	[IR_OP_NLL_LOSS_GRAD] = lower_loss,
	[IR_OP_ONE_HOT] = lower_one_hot,
};

int cg_lower_row_has(ir_op op)
{
	return op < IR_OP_COUNT &&
	       (row_rules[op] != NULL || cg_lower_slice_has(op) || ir_pool_is(op) ||
	        ir_conv_is(op) || ir_embed_is(op));
}

int cg_lower_row(ir_arena *a, cg_kernel *k, const ir_node *n, const int *buf,
                 char *err, size_t errlen)
{
	rowc r = {a, cg_type_of(n->dtype)};
	if (cg_lower_slice_has(n->op))
		return cg_lower_slice(a, k, n, buf, err, errlen);
	if (!cg_lower_row_has(n->op)) {
		snprintf(err, errlen, "lowering: %s is not a row-wise op", ir_op_name(n->op));
		return -1;
	}
	if (ir_pool_is(n->op))
		return cg_lower_pool(a, k, n, buf, err, errlen);
	if (ir_conv_is(n->op))
		return cg_lower_conv(a, k, n, buf, err, errlen);
	if (ir_embed_is(n->op))
		return cg_lower_embed(a, k, n, buf, err, errlen);
	set_locals(a, k, r.t);
	if (row_rules[n->op] == lower_loss) {
		if (n->in[0]->shape.rank != 2) {
			snprintf(err, errlen, "lowering: %s expects logits [N,C]", ir_op_name(n->op));
			return -1;
		}
		k->fail_msg = "label outside [0, number of classes)";
	}
	if (n->op == IR_OP_ONE_HOT)
		k->fail_msg = "label outside [0, number of classes)";
	return row_rules[n->op](&r, k, n, buf);
}
