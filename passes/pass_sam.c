/*
 * pass_sam.c - Sharpness-Aware Minimization as a graph rewrite.
 *
 * The eager formulation mutates w in place (w += e), recomputes, restores
 * (w -= e) and then updates: the restore is both a wasted pass over memory
 * and inexact in floating point. Here w~ = w + e is an ordinary value that
 * only the second forward/backward reads (ir_substitute re-emits the
 * forward with w~ in place of w), so the base update sees the exact
 * original w and no restore exists at all. Each group's rho is a step
 * input, so it can change between steps without a recompile.
 *
 * State is written by the first pass only (pass_sam.h): the model's state
 * updates are assigned from first-pass values before the forward is
 * re-emitted, and pass_sam_check_state proves afterwards that no assign
 * reads anything that depends on w~.
 */
#include "pass_sam.h"
#include "pass_autodiff.h"

#include <stdlib.h>
#include <string.h>

int pass_state_updates(ir_graph *g, const ir_update *upd, int nupd)
{
	for (int i = 0; i < nupd; i++) {
		g->cur = upd[i].value->loc;
		if (!ir_assign(g, upd[i].target, upd[i].value))
			return -1;
	}
	return 0;
}

int pass_sam_check_state(ir_graph *g, ir_node *const *wt, int n)
{
	char *pert = calloc((size_t)g->nnodes + 1, 1);
	if (!pert) {
		ir_error(g, g->cur, "sam: out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++)
		pert[wt[i]->id] = 1;
	int rc = 0;
	/* inputs come first, so one walk in order marks every dependant */
	for (int i = 0; i < g->nnodes && rc == 0; i++) {
		ir_node *x = g->nodes[i];
		for (int k = 0; k < x->nin && !pert[i]; k++)
			pert[i] = pert[x->in[k]->id];
		if (x->op == IR_OP_ASSIGN && pert[x->in[1]->id]) {
			ir_error(g, x->loc, "sam: the update of '%s' reads the perturbed weights (the "
			         "second pass of a SAM step writes no state)", x->in[0]->name);
			rc = -1;
		}
	}
	free(pert);
	return rc;
}

/* A scalar step input (see rt_step_scalars), made once. */
static ir_node *scalar_input(ir_graph *g, const char *name)
{
	ir_node *x = ir_find_leaf(g, IR_OP_INPUT, name);
	return x ? x : ir_input(g, name, g->fdtype, ir_shape_scalar());
}

/* rho of a parameter's group: a step input (see rt_step_scalars). */
static ir_node *rho_input(ir_graph *g, const opt_config *o, const char *param_name)
{
	char name[64] = RT_SCALAR_SAM_RHO;
	int k = rt_sam_group_of(o, param_name);
	if (k >= 0)
		rt_scalar_sam_group_rho(name, sizeof name, k);
	return scalar_input(g, name);
}

/* ASAM's T_w of a param: |w| + eta (|w| when eta is 0), or NULL for the
 * identity (plain SAM, or a param only = "weights" leaves out). */
static ir_node *asam_t(ir_graph *g, const opt_config *o, ir_node *w)
{
	if (!o->adaptive || (o->sam_only == SAM_ONLY_WEIGHTS && !rt_sam_is_weight(w->name)))
		return NULL;
	ir_node *t = ir_unary(g, IR_OP_ABS, w);
	return o->sam_eta != 0 ? ir_binary(g, IR_OP_ADD, t, scalar_input(g, RT_SCALAR_SAM_ETA)) : t;
}

/* GSAM (Zhuang et al. 2022), as its authors' PyTorch code decomposes:
 *   cos  = <g1, g2> / (|g2| |g1| + 1e-12)
 *   v    = g1 - cos |g1| g2 / (|g2| + 1e-12)   (g1's part orthogonal to g2)
 *   g2  <- g2 - alpha v
 * with plain (never ASAM-scaled) norms. */
int pass_gsam_decompose(ir_graph *g, ir_node *loss, ir_node *const *g1, ir_node **g2, int n)
{
	if (n == 0)
		return 0;
	ir_dtype t = g->fdtype;
	g->cur = loss->loc;
	ir_node *eps = ir_const(g, t, ir_shape_scalar(), 1e-12);
	ir_node *inner = ir_dot_all(g, g1, g2, n);
	ir_node *n1 = ir_unary(g, IR_OP_SQRT, ir_dot_all(g, g1, g1, n));
	ir_node *n2 = ir_unary(g, IR_OP_SQRT, ir_dot_all(g, g2, g2, n));
	ir_node *cosine = ir_binary(g, IR_OP_DIV, inner,
	                            ir_binary(g, IR_OP_ADD, ir_binary(g, IR_OP_MUL, n2, n1), eps));
	ir_node *coef = ir_binary(g, IR_OP_MUL, cosine, n1);
	ir_node *den = ir_binary(g, IR_OP_ADD, n2, eps);
	ir_node *alpha = scalar_input(g, RT_SCALAR_GSAM_ALPHA);
	for (int i = 0; i < n; i++) {
		ir_node *par = ir_binary(g, IR_OP_DIV, ir_binary(g, IR_OP_MUL, coef, g2[i]), den);
		ir_node *v = ir_binary(g, IR_OP_SUB, g1[i], par);
		g2[i] = ir_binary(g, IR_OP_SUB, g2[i], ir_binary(g, IR_OP_MUL, alpha, v));
		if (!g2[i])
			return -1;
	}
	return 0;
}

int pass_sam(ir_graph *g, const opt_config *o, ir_node *loss, ir_node *const *params,
             ir_node *const *g1, int n, int forward_end, const ir_update *upd, int nupd,
             ir_node **g2_out)
{
	ir_node **wt = calloc((size_t)n, sizeof *wt), **tw = calloc((size_t)n + 1, sizeof *tw);
	if (!wt || !tw) {
		free(wt);
		free(tw);
		ir_error(g, loss->loc, "sam: out of memory");
		return -1;
	}
	int rc = -1;
	ir_dtype t = g->fdtype;
	/* the first pass's state updates, assigned before anything is perturbed */
	if (pass_state_updates(g, upd, nupd) != 0)
		goto done;

	/* n2 = sum over params of sum((T_w*g1)^2) */
	ir_node *n2 = NULL;
	for (int i = 0; i < n; i++) {
		g->cur = params[i]->loc;
		tw[i] = asam_t(g, o, params[i]);
		ir_node *ag = tw[i] ? ir_binary(g, IR_OP_MUL, tw[i], g1[i]) : g1[i];
		ir_node *sq = ag ? ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, ag, ag), 0, 0) : NULL;
		n2 = n2 ? ir_binary(g, IR_OP_ADD, n2, sq) : sq;
	}
	g->cur = loss->loc;
	/* no params: no norm, and nothing below reads it */
	ir_node *denom = n2 ? ir_binary(g, IR_OP_ADD, ir_unary(g, IR_OP_SQRT, n2),
	                                ir_const(g, t, ir_shape_scalar(), 1e-12)) : NULL;
	for (int i = 0; i < n; i++) {
		g->cur = params[i]->loc;
		ir_node *scale = ir_binary(g, IR_OP_DIV, rho_input(g, o, params[i]->name), denom);
		ir_node *e = ir_binary(g, IR_OP_MUL, g1[i], scale);
		/* e = rho T_w^2 g1 / |T_w g1|; T_w^2 = w*w when eta is 0 */
		if (tw[i])
			e = ir_binary(g, IR_OP_MUL, o->sam_eta != 0 ? ir_binary(g, IR_OP_MUL, tw[i], tw[i])
			              : ir_binary(g, IR_OP_MUL, params[i], params[i]), e);
		wt[i] = ir_binary(g, IR_OP_ADD, params[i], e);
		if (!wt[i])
			goto done;
	}
	ir_node **map = ir_substitute(g, forward_end, params, wt, n);
	if (!map) {
		if (!g->has_err)
			ir_error(g, loss->loc, "sam: out of memory");
		goto done;
	}
	ir_node *loss2 = map[loss->id] ? map[loss->id] : loss;
	free(map);
	rc = pass_grad(g, loss2, wt, n, g2_out);
	if (rc == 0)
		rc = pass_sam_check_state(g, wt, n);
	if (rc == 0 && o->gsam)
		rc = pass_gsam_decompose(g, loss, g1, g2_out, n);
done:
	free(wt);
	free(tw);
	return rc;
}
