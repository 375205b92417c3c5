/*
 * pass_looksam.c - LookSAM's g_v as state and its reuse (pass_looksam.h).
 */
#include "pass_looksam.h"
#include "pass_sam.h"

#include <stdio.h>
#include <stdlib.h>

ir_node *pass_looksam_gv(ir_graph *g, const ir_node *param)
{
	char name[512];
	snprintf(name, sizeof name, "opt.%s.looksam_gv", param->name);
	ir_node *s = ir_find_leaf(g, IR_OP_STATE, name);
	return s ? s : ir_state(g, name, param->dtype, param->shape);
}

static ir_node *K(ir_graph *g, double v) { return ir_const(g, g->fdtype, ir_shape_scalar(), v); }

int pass_looksam_store(ir_graph *g, ir_node *const *params, ir_node *const *g1,
                       ir_node *const *g2, int n)
{
	if (n == 0)
		return 0;
	g->cur = params[0]->loc;
	/* ||g_s|| cos(g, g_s) / ||g|| = <g, g_s> / ||g||^2 */
	ir_node *c = ir_binary(g, IR_OP_DIV, ir_dot_all(g, g1, g2, n),
	                       ir_binary(g, IR_OP_ADD, ir_dot_all(g, g1, g1, n), K(g, 1e-24)));
	for (int i = 0; i < n; i++) {
		g->cur = params[i]->loc;
		ir_node *gv = ir_binary(g, IR_OP_SUB, g2[i], ir_binary(g, IR_OP_MUL, g1[i], c));
		if (!gv || !ir_assign(g, pass_looksam_gv(g, params[i]), gv))
			return -1;
	}
	return 0;
}

int pass_looksam_mix(ir_graph *g, ir_node *const *params, ir_node *const *grads, int n,
                     ir_node **out)
{
	if (n == 0)
		return 0;
	g->cur = params[0]->loc;
	ir_node **gv = calloc((size_t)n, sizeof *gv);
	if (!gv) {
		ir_error(g, g->cur, "looksam: out of memory");
		return -1;
	}
	int rc = -1;
	for (int i = 0; i < n; i++)
		if (!(gv[i] = pass_looksam_gv(g, params[i])))
			goto done;
	ir_node *alpha = ir_find_leaf(g, IR_OP_INPUT, RT_SCALAR_LOOKSAM_ALPHA);
	if (!alpha)
		alpha = ir_input(g, RT_SCALAR_LOOKSAM_ALPHA, g->fdtype, ir_shape_scalar());
	ir_node *ng = ir_unary(g, IR_OP_SQRT, ir_dot_all(g, grads, grads, n));
	ir_node *nv = ir_binary(g, IR_OP_ADD, ir_unary(g, IR_OP_SQRT, ir_dot_all(g, gv, gv, n)),
	                        K(g, 1e-12));
	ir_node *scale = ir_binary(g, IR_OP_MUL, alpha, ir_binary(g, IR_OP_DIV, ng, nv));
	for (int i = 0; i < n; i++) {
		g->cur = params[i]->loc;
		out[i] = ir_binary(g, IR_OP_ADD, grads[i], ir_binary(g, IR_OP_MUL, gv[i], scale));
		if (!out[i])
			goto done;
	}
	rc = 0;
done:
	free(gv);
	return rc;
}
