/*
 * pass_lowrank.c - SAM's first-layer rewrite into B x B Gram matrices (see
 * pass_lowrank.h).
 */
#include "pass_lowrank.h"
#include "pass_simplify.h"

#include <stdlib.h>

/* Users of every node: user(i, j) for j < cnt[i]; outs count as a use. */
typedef struct {
	int *cnt, *start, *list;
	char *is_out;
} users;

static void users_free(users *u)
{
	free(u->cnt), free(u->start), free(u->list), free(u->is_out);
}

static int users_build(const ir_graph *g, ir_node *const *outs, int nout, users *u)
{
	int n = g->nnodes, total = 0;
	u->cnt = calloc((size_t)n + 1, sizeof *u->cnt);
	u->start = calloc((size_t)n + 1, sizeof *u->start);
	u->is_out = calloc((size_t)n + 1, 1);
	for (int i = 0; u->cnt && i < n; i++)
		for (int k = 0; k < g->nodes[i]->nin; k++, total++)
			u->cnt[g->nodes[i]->in[k]->id]++;
	u->list = calloc((size_t)total + 1, sizeof *u->list);
	int *fill = calloc((size_t)n + 1, sizeof *fill);
	if (!u->cnt || !u->start || !u->is_out || !u->list || !fill) {
		free(fill);
		return -1;
	}
	for (int i = 1; i < n; i++)
		u->start[i] = u->start[i - 1] + u->cnt[i - 1];
	for (int i = 0; i < n; i++)
		for (int k = 0; k < g->nodes[i]->nin; k++) {
			int src = g->nodes[i]->in[k]->id;
			u->list[u->start[src] + fill[src]++] = i;
		}
	free(fill);
	for (int i = 0; i < nout; i++)
		if (outs[i])
			u->is_out[outs[i]->id] = 1;
	return 0;
}

/* The one node reading n, or NULL (none, several, or n is an output). A
 * node reading n twice (mul(G, G)) counts once. */
static ir_node *sole_user(const ir_graph *g, const users *u, const ir_node *n)
{
	int c = u->cnt[n->id];
	if (u->is_out[n->id] || c < 1)
		return NULL;
	const int *l = u->list + u->start[n->id];
	for (int j = 1; j < c; j++)
		if (l[j] != l[0])
			return NULL;
	return g->nodes[l[0]];
}

/* pf[i]: node i depends on no PARAM or STATE (data and constants only). */
static char *param_free(const ir_graph *g)
{
	char *pf = calloc((size_t)g->nnodes + 1, 1);
	for (int i = 0; pf && i < g->nnodes; i++) {
		const ir_node *n = g->nodes[i];
		int f = n->op != IR_OP_PARAM && n->op != IR_OP_STATE;
		for (int k = 0; k < n->nin && f; k++)
			f = pf[n->in[k]->id];
		pf[i] = (char)f;
	}
	return pf;
}

#define MAX_USES 8
#define MAX_STEPS 8

/* How a perturbation scales G on its way to W + s*G: s is the product of
 * these steps, applied in order (STEP_MUL k: *k, STEP_DIV k: /k, STEP_NEG). */
typedef enum { STEP_MUL, STEP_DIV, STEP_NEG } step_kind;

typedef struct {
	step_kind kind[MAX_STEPS];
	ir_node *k[MAX_STEPS];
	int n;
} scaling;

/* One weight's gradient G and how SAM uses it. */
typedef struct {
	ir_node *x, *d;             /* G = D^T X (tb = 1) or X^T D (tb = 0) */
	int tb;                     /* of the forward matmul(X, W) */
	ir_node *norm[MAX_USES];    /* sum(G * G) nodes */
	int nnorm;
	ir_node *fwd[MAX_USES];     /* matmul(X, W + s G) */
	scaling scale[MAX_USES];    /* its s */
	ir_node *first[MAX_USES];   /* matmul(X, W): the unperturbed forward */
	int nfwd;
} match;

/* matmul(x, w, 0, tb) among w's users, or NULL. */
static ir_node *find_forward(const ir_graph *g, const users *u, const ir_node *w,
                             const ir_node *x, int tb)
{
	for (int j = 0; j < u->cnt[w->id]; j++) {
		ir_node *m = g->nodes[u->list[u->start[w->id] + j]];
		if (m->op == IR_OP_MATMUL && m->in[0] == x && m->in[1] == w && !ir_attr_i(m, IR_ATTR_TA) &&
		    ir_attr_i(m, IR_ATTR_TB) == tb)
			return m;
	}
	return NULL;
}

/* A scalar factor of the same dtype, other than v itself: one element, of
 * a rank that broadcasting against v (and the [B,N] update) leaves alone. */
static int is_scalar_of(const ir_node *k, const ir_node *v)
{
	return k != v && ir_shape_numel(&k->shape) == 1 && k->shape.rank <= 2 &&
	       k->shape.rank <= v->shape.rank && k->dtype == v->dtype;
}

static int push_step(scaling *sc, step_kind kind, ir_node *k)
{
	if (sc->n == MAX_STEPS)
		return -1;
	sc->kind[sc->n] = kind;
	sc->k[sc->n++] = k;
	return 0;
}

/*
 * A perturbation by meaning: from G through any chain of scalar scalings
 * (G*s, s*G, G/s, -G) to W + e, e + W or W - e, whose only reader is the
 * forward product matmul(X, ., 0, tb). `u0` is the use of G the chain
 * starts with. Records the forward and s.
 */
static int match_perturb(const ir_graph *g, const users *u, ir_node *gr, ir_node *u0, match *m)
{
	scaling sc = {0};
	ir_node *cur = gr, *nx = u0, *w = NULL;
	for (;;) {
		if (!nx || m->nfwd == MAX_USES)
			return -1;
		if (nx->op == IR_OP_MUL && nx->in[0] == cur && is_scalar_of(nx->in[1], cur)) {
			if (push_step(&sc, STEP_MUL, nx->in[1]))
				return -1;
		} else if (nx->op == IR_OP_MUL && nx->in[1] == cur && is_scalar_of(nx->in[0], cur)) {
			if (push_step(&sc, STEP_MUL, nx->in[0]))
				return -1;
		} else if (nx->op == IR_OP_DIV && nx->in[0] == cur && is_scalar_of(nx->in[1], cur)) {
			if (push_step(&sc, STEP_DIV, nx->in[1]))
				return -1;
		} else if (nx->op == IR_OP_NEG) {
			if (push_step(&sc, STEP_NEG, NULL))
				return -1;
		} else if (nx->op == IR_OP_ADD && (nx->in[0] == cur) != (nx->in[1] == cur)) {
			w = nx->in[0] == cur ? nx->in[1] : nx->in[0];
			break;
		} else if (nx->op == IR_OP_SUB && nx->in[1] == cur && nx->in[0] != cur) {
			w = nx->in[0];
			if (push_step(&sc, STEP_NEG, NULL))
				return -1;
			break;
		} else {
			return -1;
		}
		cur = nx;
		nx = sole_user(g, u, cur);
	}
	ir_node *fwd = sole_user(g, u, nx);
	if (w->op != IR_OP_PARAM || !ir_shape_eq(&w->shape, &gr->shape) ||
	    !ir_shape_eq(&nx->shape, &gr->shape) || !fwd || fwd->op != IR_OP_MATMUL ||
	    fwd->in[0] != m->x || fwd->in[1] != nx || ir_attr_i(fwd, IR_ATTR_TA) ||
	    ir_attr_i(fwd, IR_ATTR_TB) != m->tb)
		return -1;
	ir_node *first = find_forward(g, u, w, m->x, m->tb);
	if (!first)
		return -1;
	m->fwd[m->nfwd] = fwd;
	m->scale[m->nfwd] = sc;
	m->first[m->nfwd++] = first;
	return 0;
}

/* sum(G * G) or sum(G ^ 2) over every axis: a squared norm of G. */
static ir_node *match_norm(const ir_graph *g, const users *u, const ir_node *gr, ir_node *sq)
{
	int square = (sq->op == IR_OP_MUL && sq->in[0] == gr && sq->in[1] == gr) ||
	             (sq->op == IR_OP_POW && sq->in[0] == gr && sq->in[1] != gr &&
	              sq->in[1]->op == IR_OP_CONST && ir_attr_f(sq->in[1], IR_ATTR_VALUE) == 2.0);
	ir_node *sum = square ? sole_user(g, u, sq) : NULL;
	return sum && sum->op == IR_OP_SUM && sum->shape.rank == 0 ? sum : NULL;
}

/* Is gr a data-fed weight gradient whose every use is SAM's norm or
 * perturbation, and is the rewrite cheaper? */
static int match_grad(const ir_graph *g, const users *u, const char *pf, ir_node *gr, match *m)
{
	if (gr->op != IR_OP_MATMUL || !ir_attr_i(gr, IR_ATTR_TA) || ir_attr_i(gr, IR_ATTR_TB) ||
	    gr->shape.rank != 2 || u->is_out[gr->id] || !ir_dtype_is_float(gr->dtype))
		return -1;
	ir_node *a = gr->in[0], *b = gr->in[1];
	if (pf[b->id] && !pf[a->id])
		*m = (match){.x = b, .d = a, .tb = 1};
	else if (pf[a->id] && !pf[b->id])
		*m = (match){.x = a, .d = b, .tb = 0};
	else
		return -1;
	if (m->x->shape.rank != 2 || m->d->shape.rank != 2)
		return -1;
	int64_t B = m->x->shape.dim[0], K = m->x->shape.dim[1], N = m->d->shape.dim[1];
	if (B * K + 2 * B * N >= 2 * N * K)
		return -1;
	const int *l = u->list + u->start[gr->id];
	for (int j = 0; j < u->cnt[gr->id]; j++) {
		ir_node *mul = g->nodes[l[j]];
		if (j > 0 && l[j] == l[j - 1])
			continue; /* mul(G, G) lists G twice */
		ir_node *sum = match_norm(g, u, gr, mul);
		if (sum) {
			if (m->nnorm == MAX_USES)
				return -1;
			m->norm[m->nnorm++] = sum;
		} else if (match_perturb(g, u, gr, mul, m)) {
			return -1;
		}
	}
	return m->nfwd > 0 ? 0 : -1;
}

static void replace_uses(ir_graph *g, ir_node **outs, int nout, ir_node *old, ir_node *new_)
{
	for (int i = 0; i < g->nnodes; i++) {
		ir_node *n = g->nodes[i];
		for (int k = 0; k < n->nin && n != new_; k++)
			if (n->in[k] == old)
				n->in[k] = new_;
	}
	for (int i = 0; i < nout; i++)
		if (outs[i] == old)
			outs[i] = new_;
}

/* Gram matrices made so far, by X (node ids move while rewriting). */
typedef struct {
	ir_node **x, **gram;
	int n;
} grams;

/* The Gram matrix X X^T, one per X, placed right after the first forward
 * product that reads X: it depends on the data alone, and from there it
 * can run beside the small kernels of the first backward pass
 * (runtime/rt_prog.c). */
static ir_node *gram_of(ir_graph *g, ir_node *x, const ir_node *first, grams *gs)
{
	for (int i = 0; i < gs->n; i++)
		if (gs->x[i] == x)
			return gs->gram[i];
	ir_node *gr = ir_matmul(g, x, x, 0, 1);
	if (gr) {
		ir_move_after(g, gr, first);
		gs->x[gs->n] = x;
		gs->gram[gs->n++] = gr;
	}
	return gr;
}

/* The scalar s of a perturbation, built from its steps (a single factor
 * is used as it is). */
static ir_node *scale_node(ir_graph *g, const scaling *sc, ir_dtype t)
{
	ir_node *s = NULL;
	for (int i = 0; i < sc->n; i++) {
		switch (sc->kind[i]) {
		case STEP_MUL: s = s ? ir_binary(g, IR_OP_MUL, s, sc->k[i]) : sc->k[i]; break;
		case STEP_DIV:
			s = ir_binary(g, IR_OP_DIV, s ? s : ir_const(g, t, ir_shape_scalar(), 1.0), sc->k[i]);
			break;
		case STEP_NEG: s = s ? ir_unary(g, IR_OP_NEG, s) : ir_const(g, t, ir_shape_scalar(), -1.0); break;
		}
		if (!s)
			return NULL;
	}
	return s ? s : ir_const(g, t, ir_shape_scalar(), 1.0);
}

static int rewrite(ir_graph *g, ir_node **outs, int nout, const match *m, grams *gs)
{
	g->cur = m->fwd[0]->loc;
	ir_node *gxx = gram_of(g, m->x, m->first[0], gs);
	ir_node *gdd = ir_matmul(g, m->d, m->d, 0, 1);
	ir_node *upd = ir_matmul(g, gxx, m->d, 0, 0); /* X X^T D = X G^T (tb) or X G */
	for (int i = 0; i < m->nnorm; i++) {
		g->cur = m->norm[i]->loc;
		ir_node *s = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, gdd, gxx), 0, 0);
		if (!s)
			return -1;
		replace_uses(g, outs, nout, m->norm[i], s);
	}
	for (int i = 0; i < m->nfwd; i++) {
		g->cur = m->fwd[i]->loc;
		ir_node *sc = scale_node(g, &m->scale[i], upd->dtype);
		ir_node *f = sc ? ir_binary(g, IR_OP_ADD, m->first[i], ir_binary(g, IR_OP_MUL, upd, sc)) : NULL;
		if (!f)
			return -1;
		replace_uses(g, outs, nout, m->fwd[i], f);
	}
	return 0;
}

int pass_sam_lowrank(ir_graph *g, ir_node **outs, int nout, int *count)
{
	users u = {0};
	char *pf = param_free(g);
	int n0 = g->nnodes, nm = 0, rc = 0;
	match *ms = calloc((size_t)n0 + 1, sizeof *ms);
	if (!pf || !ms || users_build(g, outs, nout, &u)) {
		rc = -1;
		ir_error(g, g->cur, "lowrank: out of memory");
		goto out;
	}
	/* find every match on the unchanged graph, then rewrite */
	for (int i = 0; i < n0; i++)
		if (match_grad(g, &u, pf, g->nodes[i], &ms[nm]) == 0)
			nm++;
	if (nm > 0) {
		grams gs = {calloc((size_t)nm, sizeof *gs.x), calloc((size_t)nm, sizeof *gs.gram), 0};
		if (!gs.x || !gs.gram) {
			free(gs.x), free(gs.gram);
			rc = -1;
			ir_error(g, g->cur, "lowrank: out of memory");
			goto out;
		}
		for (int i = 0; i < nm && !rc; i++)
			rc = rewrite(g, outs, nout, &ms[i], &gs);
		free(gs.x), free(gs.gram);
		if (!rc)
			rc = ir_reorder(g);
		if (!rc)
			rc = pass_dce(g, outs, nout);
		if (!rc)
			rc = ir_verify(g);
	}
out:
	if (count)
		*count = rc ? 0 : nm;
	users_free(&u);
	free(pf);
	free(ms);
	return rc;
}
