/*
 * pass_fuse_check.c - the fusion's invariants (see pass_fuse.h), checked
 * after the fuse pass from the result alone.
 */
#include <stdio.h>

#include "pass_fuse.h"

static int materialized(pass_val v)
{
	return v == PASS_VAL_LEAF || v == PASS_VAL_ROOT || v == PASS_VAL_ALIAS;
}

int pass_fuse_check(const pass_fusion *f, char *err, size_t errlen)
{
	const ir_graph *g = f->g;
	for (int i = 0; i < g->nnodes; i++) {
		pass_val v = f->val[i];
		int k = f->kernel_of[i];
		if ((v == PASS_VAL_INLINE || v == PASS_VAL_ROOT) && (k < 0 || k >= f->nk))
			return ir_failf(err, errlen, "node %%%d (%s) is computed by no kernel", i,
			           ir_op_name(g->nodes[i]->op));
	}
	for (int k = 0; k < f->nk; k++) {
		const pass_kernel *K = &f->k[k];
		if (K->nroots < 1 || K->roots[K->nroots - 1] != K->root)
			return ir_failf(err, errlen, "kernel k%d does not end in its root", k);
		for (int j = 0; j < K->nroots; j++) {
			const ir_node *r = K->roots[j];
			if (f->val[r->id] != PASS_VAL_ROOT || f->kernel_of[r->id] != k)
				return ir_failf(err, errlen, "kernel k%d writes %%%d, which is not its result", k, r->id);
		}
		/* constants are inlined wherever they are read: in many kernels */
		for (int j = 0; j < K->nnodes; j++)
			if (K->nodes[j]->op != IR_OP_CONST && f->kernel_of[K->nodes[j]->id] != k)
				return ir_failf(err, errlen, "kernel k%d holds %%%d, computed by k%d", k,
				           K->nodes[j]->id, f->kernel_of[K->nodes[j]->id]);
		for (int j = 0; j < K->nreads; j++) {
			ir_node *x = K->reads[j].node;
			if (!materialized(f->val[x->id]))
				return ir_failf(err, errlen, "kernel k%d reads %%%d (%s), which is not in memory", k,
				           x->id, ir_op_name(x->op));
			const ir_node *b = pass_fuse_base(f, x);
			if (f->val[b->id] == PASS_VAL_ROOT && f->kernel_of[b->id] >= k)
				return ir_failf(err, errlen, "kernel k%d reads %%%d before kernel k%d writes it", k,
				           b->id, f->kernel_of[b->id]);
		}
	}
	for (int i = 0; i < f->nout; i++)
		if (!materialized(f->val[pass_fuse_base(f, f->outs[i])->id]))
			return ir_failf(err, errlen, "output %d (%%%d) is not in memory", i, f->outs[i]->id);
	return 0;
}
