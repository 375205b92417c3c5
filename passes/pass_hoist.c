/*
 * pass_hoist.c - the accumulators' kernels moved up to their gradients
 * (see pass_hoist.h).
 */
#include "pass_hoist.h"

#include <stdlib.h>
#include <string.h>

static int is_accum_assign(const ir_node *n)
{
	return n->op == IR_OP_ASSIGN && n->nin == 2 && n->in[0]->name &&
	       strncmp(n->in[0]->name, "accum.", 6) == 0;
}

/* Kernel c to position pos < c; the kernels between move down by one. */
static void move_up(pass_fusion *f, int c, int pos)
{
	pass_kernel k = f->k[c];
	memmove(&f->k[pos + 1], &f->k[pos], (size_t)(c - pos) * sizeof *f->k);
	f->k[pos] = k;
	for (int i = 0; i < f->g->nnodes; i++) {
		int *at = &f->kernel_of[i];
		if (*at == c)
			*at = pos;
		else if (*at >= pos && *at < c)
			(*at)++;
	}
}

int pass_hoist_accum(pass_fusion *f)
{
	/* the kernels to move, by their result (a kernel's index changes as
	 * others move; its root does not) */
	ir_node **roots = malloc(((size_t)f->nk + 1) * sizeof *roots);
	char *seen = calloc((size_t)f->nk + 1, 1);
	if (!roots || !seen) {
		free(roots);
		free(seen);
		return -1;
	}
	for (int i = 0; i < f->g->nnodes; i++) {
		const ir_node *n = f->g->nodes[i];
		if (!is_accum_assign(n))
			continue;
		ir_node *v = pass_fuse_base(f, n->in[1]);
		int k = v && f->val[v->id] == PASS_VAL_ROOT ? f->kernel_of[v->id] : -1;
		for (int j = 0; k >= 0 && j < f->k[k].nreads; j++) /* accum + g, not accum := 0 */
			if (pass_fuse_base(f, f->k[k].reads[j].node) == n->in[0])
				seen[k] = 1;
	}
	int n = 0, moved = 0;
	for (int k = 0; k < f->nk; k++)
		if (seen[k])
			roots[n++] = f->k[k].root;
	/* in schedule order: a move shifts only kernels before the next one */
	for (int i = 0; i < n; i++) {
		int c = f->kernel_of[roots[i]->id], pos = 0;
		const pass_kernel *K = &f->k[c];
		for (int j = 0; j < c; j++) /* not above a collective (sync_bn's rank_sum) */
			if (f->k[j].kind == RT_K_COMM)
				pos = j + 1;
		for (int j = 0; j < K->nreads; j++) {
			ir_node *b = pass_fuse_base(f, K->reads[j].node);
			int p = b && f->val[b->id] == PASS_VAL_ROOT ? f->kernel_of[b->id] : -1;
			if (p + 1 > pos)
				pos = p + 1;
		}
		if (pos < c) {
			move_up(f, c, pos);
			moved++;
		}
	}
	free(roots);
	free(seen);
	return moved;
}
