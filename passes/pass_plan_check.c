/*
 * pass_plan_check.c - the memory plan's invariants (see pass_plan.h),
 * checked from the plan alone, without trusting how it was placed.
 */
#include <stdio.h>
#include <stdlib.h>

#include "pass_plan.h"

typedef struct {
	int64_t lo;
	int i;
} span;

static int by_lo(const void *a, const void *b)
{
	const span *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo ? 1 : x->i - y->i;
}

static int check_arena(const pass_plan *p, char *err, size_t errlen)
{
	span *s = malloc(((size_t)p->nbuf + 1) * sizeof *s);
	if (!s)
		return ir_failf(err, errlen, "plan check: out of memory");
	int n = 0;
	for (int i = 0; i < p->nbuf; i++) {
		const pass_buf *b = &p->buf[i];
		if (b->kind != PASS_BUF_ARENA)
			continue;
		if (b->offset < 0 || b->bytes < b->numel * (int64_t)pass_dtype_size(b->dtype) ||
		    b->offset + b->bytes > p->arena_bytes) {
			free(s);
			return ir_failf(err, errlen, "buffer %d (%lld bytes at %lld) does not fit in the arena of "
			           "%lld bytes", i, (long long)b->bytes, (long long)b->offset,
			           (long long)p->arena_bytes);
		}
		s[n].lo = b->offset;
		s[n++].i = i;
	}
	/* by offset: a buffer can only overlap those that start before it ends */
	qsort(s, (size_t)n, sizeof *s, by_lo);
	for (int x = 0; x < n; x++) {
		const pass_buf *a = &p->buf[s[x].i];
		for (int y = x + 1; y < n && s[y].lo < a->offset + a->bytes; y++) {
			const pass_buf *b = &p->buf[s[y].i];
			if (a->last < b->def || b->last < a->def || a->bytes == 0 || b->bytes == 0)
				continue;
			int i = s[x].i < s[y].i ? s[x].i : s[y].i, j = s[x].i ^ s[y].i ^ i;
			const pass_buf *u = &p->buf[i], *v = &p->buf[j];
			free(s);
			return ir_failf(err, errlen, "buffers %d and %d overlap: bytes [%lld, %lld) and [%lld, %lld) "
			           "are both live over kernels k%d..k%d and k%d..k%d", i, j,
			           (long long)u->offset, (long long)(u->offset + u->bytes),
			           (long long)v->offset, (long long)(v->offset + v->bytes), u->def, u->last,
			           v->def, v->last);
		}
	}
	free(s);
	return 0;
}

static int check_assigns(const pass_plan *p, char *err, size_t errlen)
{
	const pass_fusion *f = p->f;
	const ir_graph *g = f->g;
	for (int i = 0; i < g->nnodes; i++) {
		const ir_node *a = g->nodes[i];
		if (a->op != IR_OP_ASSIGN || f->val[i] != PASS_VAL_EFFECT)
			continue;
		const ir_node *t = a->in[0], *v = a->in[1];
		int times = 0;
		for (int c = 0; c < p->ncommit; c++) {
			const pass_commit *cm = &p->commit[c];
			if (cm->target != t)
				continue;
			times++;
			if (cm->src < 0 || cm->src >= p->nbuf || cm->src != p->buf_of[v->id])
				return ir_failf(err, errlen, "the commit of '%s' copies buffer %d, not its value's %d",
				           t->name, cm->src, p->buf_of[v->id]);
			if (cm->snapshot >= p->nbuf ||
			    (cm->snapshot >= 0 && p->buf[cm->snapshot].kind != PASS_BUF_ARENA))
				return ir_failf(err, errlen, "the commit of '%s' snapshots to buffer %d, not an arena "
				           "buffer", t->name, cm->snapshot);
		}
		int k = f->kernel_of[v->id];
		if (k >= 0 && p->direct[k] && p->buf_of[v->id] == p->buf_of[t->id])
			times++;
		if (times != 1)
			return ir_failf(err, errlen, "'%s' is committed %d times (assign %%%d), not once", t->name,
			           times, i);
	}
	return 0;
}

int pass_plan_check(const pass_plan *p, char *err, size_t errlen)
{
	return check_arena(p, err, errlen) || check_assigns(p, err, errlen) ? -1 : 0;
}
