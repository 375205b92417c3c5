/*
 * pass_plan.c - liveness-based memory planning and the assign strategy
 * (direct write into the slot, or commit at the end); see pass_plan.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pass_plan.h"

#define PLAN_ALIGN 64

size_t pass_dtype_size(ir_dtype t)
{
	return t == IR_F64 ? 8 : 4;
}

void pass_plan_free(pass_plan *p)
{
	if (!p)
		return;
	free(p->buf);
	free(p->buf_of);
	free(p->commit);
	free(p->direct);
	free(p);
}

static int add_buf(pass_plan *p, pass_buf_kind kind, ir_node *n, int def, int last)
{
	pass_buf *b = &p->buf[p->nbuf];
	memset(b, 0, sizeof *b);
	b->kind = kind;
	b->node = n;
	b->dtype = n->dtype;
	b->numel = ir_shape_numel(&n->shape);
	b->bytes = b->numel * (int64_t)pass_dtype_size(n->dtype);
	b->def = def;
	b->last = last;
	return p->nbuf++;
}

/* May kernel k write target t's slot while producing its root? */
static int can_write_direct(const pass_fusion *f, int k, const ir_node *t, const int *last_read,
                            const char *at_end)
{
	if (at_end[t->id] || last_read[t->id] > k)
		return 0;
	if (last_read[t->id] < k)
		return 1;
	const pass_kernel *K = &f->k[k];
	if (K->kind != RT_K_ELEM)
		return 0;
	for (int j = 0; j < K->nreads; j++)
		if (pass_fuse_base(f, K->reads[j].node) == t && !K->reads[j].identity)
			return 0;
	return 1;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* First fit by offset among buffers whose lifetimes overlap. Buffers are
 * placed in the order of their first write; those placed before b that
 * are still live when b is written are all live at that moment, so they
 * overlap each other and lie disjoint in the arena: kept sorted by offset,
 * b goes into the first gap large enough. (A pairwise search over every
 * earlier buffer until nothing moved was cubic: a model of 10,000 layers
 * spent minutes here.) */
static int place(pass_plan *p)
{
	int64_t peak = 0;
	int n = 0, nact = 0;
	int64_t *order = malloc(((size_t)p->nbuf + 1) * sizeof *order); /* def << 32 | index */
	int *act = malloc(((size_t)p->nbuf + 1) * sizeof *act);
	if (!order || !act) {
		free(order);
		free(act);
		return -1;
	}
	for (int i = 0; i < p->nbuf; i++)
		if (p->buf[i].kind == PASS_BUF_ARENA)
			order[n++] = (int64_t)p->buf[i].def << 32 | i;
	qsort(order, (size_t)n, sizeof *order, cmp_i64);
	for (int r = 0; r < n; r++) {
		int i = (int)(order[r] & 0xffffffff);
		pass_buf *b = &p->buf[i];
		p->naive_bytes += (b->bytes + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN;
		int keep = 0; /* drop the buffers dead before b is written */
		for (int j = 0; j < nact; j++)
			if (p->buf[act[j]].last >= b->def)
				act[keep++] = act[j];
		nact = keep;
		int64_t off = 0;
		int at = 0;
		for (; at < nact; at++) {
			const pass_buf *o = &p->buf[act[at]];
			if (off + b->bytes <= o->offset)
				break;
			int64_t end = (o->offset + o->bytes + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN;
			if (end > off)
				off = end;
		}
		b->offset = off;
		memmove(act + at + 1, act + at, (size_t)(nact - at) * sizeof *act);
		act[at] = i;
		nact++;
		if (off + b->bytes > peak)
			peak = off + b->bytes;
	}
	free(order);
	free(act);
	p->arena_bytes = peak;
	return 0;
}

pass_plan *pass_plan_new(const pass_fusion *f, char *err, size_t errlen)
{
	return pass_plan_new_runs(f, NULL, err, errlen);
}

pass_plan *pass_plan_new_runs(const pass_fusion *f, const int *run, char *err, size_t errlen)
{
	ir_graph *g = f->g;
	int n = g->nnodes, nk = f->nk;
	pass_plan *p = calloc(1, sizeof *p);
	int *last_read = malloc(((size_t)n + 1) * sizeof *last_read);
	int *nassign_t = calloc((size_t)n + 1, sizeof *nassign_t);
	int *nassign_v = calloc((size_t)n + 1, sizeof *nassign_v);
	char *at_end = calloc((size_t)n + 1, 1), *is_target = calloc((size_t)n + 1, 1);
	if (!p || !last_read || !nassign_t || !nassign_v || !at_end || !is_target)
		goto oom;
	p->f = f;
	p->buf = calloc(2 * (size_t)n + 1, sizeof *p->buf);
	p->buf_of = malloc(((size_t)n + 1) * sizeof *p->buf_of);
	p->commit = calloc((size_t)n + 1, sizeof *p->commit);
	p->direct = calloc((size_t)nk + 1, sizeof *p->direct);
	if (!p->buf || !p->buf_of || !p->commit || !p->direct)
		goto oom;
	for (int i = 0; i < n; i++) {
		p->buf_of[i] = -1;
		last_read[i] = -1;
	}
	for (int k = 0; k < nk; k++)
		for (int j = 0; j < f->k[k].nreads; j++)
			last_read[pass_fuse_base(f, f->k[k].reads[j].node)->id] = k;
	for (int i = 0; i < f->nout; i++)
		at_end[pass_fuse_base(f, f->outs[i])->id] = 1;
	for (int i = 0; i < n; i++) {
		ir_node *a = g->nodes[i];
		if (a->op != IR_OP_ASSIGN)
			continue;
		nassign_t[a->in[0]->id]++;
		nassign_v[a->in[1]->id]++;
		/* a value that is a leaf (or a view of one) is read when committing */
		if (f->val[a->in[1]->id] != PASS_VAL_ROOT)
			at_end[pass_fuse_base(f, a->in[1])->id] = 1;
	}

	for (int i = 0; i < n; i++)
		if (f->val[i] == PASS_VAL_LEAF)
			p->buf_of[i] = add_buf(p, PASS_BUF_SLOT, g->nodes[i], -1, nk);

	/* direct writes, then commits, in node order */
	for (int i = 0; i < n; i++) {
		ir_node *a = g->nodes[i];
		if (a->op != IR_OP_ASSIGN)
			continue;
		ir_node *t = a->in[0], *v = a->in[1];
		if (f->val[v->id] == PASS_VAL_ROOT && nassign_t[t->id] == 1 && nassign_v[v->id] == 1 &&
		    p->buf_of[v->id] < 0 && t->dtype == v->dtype &&
		    can_write_direct(f, f->kernel_of[v->id], t, last_read, at_end)) {
			p->buf_of[v->id] = p->buf_of[t->id];
			p->direct[f->kernel_of[v->id]] = 1;
			continue;
		}
		pass_commit *c = &p->commit[p->ncommit++];
		c->target = t;
		c->value = v;
		c->snapshot = -1;
		is_target[t->id] = 1;
		at_end[pass_fuse_base(f, v)->id] = 1;
	}

	for (int i = 0; i < n; i++) {
		if (f->val[i] != PASS_VAL_ROOT || p->buf_of[i] >= 0)
			continue;
		int last = at_end[i] ? nk : last_read[i];
		int def = f->kernel_of[i];
		last = last < def ? def : last;
		if (run) { /* a launch's kernels run at once: its buffers live through it */
			def = run[def];
			while (last + 1 < nk && run[last + 1] == run[last])
				last++;
		}
		p->buf_of[i] = add_buf(p, PASS_BUF_ARENA, g->nodes[i], def, last);
	}
	for (int i = 0; i < n; i++)
		if (f->val[i] == PASS_VAL_ALIAS)
			p->buf_of[i] = p->buf_of[pass_fuse_base(f, g->nodes[i])->id];

	for (int i = 0; i < p->ncommit; i++) {
		pass_commit *c = &p->commit[i];
		c->src = p->buf_of[c->value->id];
		if (c->src < 0) {
			snprintf(err, errlen, "memory plan: the value assigned to '%s' has no buffer",
			         c->target->name ? c->target->name : "?");
			goto bad;
		}
		pass_buf *s = &p->buf[c->src];
		if (s->kind == PASS_BUF_SLOT && is_target[s->node->id])
			c->snapshot = add_buf(p, PASS_BUF_ARENA, c->value, nk, nk);
	}
	if (place(p))
		goto oom;
	free(last_read);
	free(nassign_t);
	free(nassign_v);
	free(at_end);
	free(is_target);
	return p;
oom:
	snprintf(err, errlen, "memory plan: out of memory");
bad:
	free(last_read);
	free(nassign_t);
	free(nassign_v);
	free(at_end);
	free(is_target);
	pass_plan_free(p);
	return NULL;
}

void pass_plan_print(FILE *out, const pass_plan *p)
{
	const pass_fusion *f = p->f;
	char sh[64];
	fprintf(out, "# plan: %d kernels, %d buffers, arena %lld bytes (%lld without reuse)\n", f->nk,
	        p->nbuf, (long long)p->arena_bytes, (long long)p->naive_bytes);
	for (int k = 0; k < f->nk; k++) {
		const pass_kernel *K = &f->k[k];
		fprintf(out, "k%d %s", k, ir_op_name(K->root->op));
		for (int j = 0; j < K->nroots; j++)
			fprintf(out, "%s%%%d", j ? "," : " ", K->roots[j]->id);
		fputs(" ->", out);
		for (int j = 0; j < K->nroots; j++)
			fprintf(out, "%sbuf%d", j ? "," : " ", p->buf_of[K->roots[j]->id]);
		fprintf(out, "%s <-", p->direct[k] ? " (direct assign)" : "");
		for (int j = 0; j < K->nreads; j++)
			fprintf(out, " buf%d", p->buf_of[K->reads[j].node->id]);
		fputc('\n', out);
	}
	for (int i = 0; i < p->nbuf; i++) {
		const pass_buf *b = &p->buf[i];
		if (b->kind == PASS_BUF_SLOT)
			fprintf(out, "buf%d slot '%s' %s %s %lld bytes\n", i, b->node->name,
			        ir_dtype_name(b->dtype), ir_shape_str(&b->node->shape, sh, sizeof sh),
			        (long long)b->bytes);
		else
			fprintf(out, "buf%d arena @%lld %s %s %lld bytes live k%d..k%d (%%%d)\n", i,
			        (long long)b->offset, ir_dtype_name(b->dtype),
			        ir_shape_str(&b->node->shape, sh, sizeof sh), (long long)b->bytes, b->def,
			        b->last, b->node->id);
	}
	for (int i = 0; i < p->ncommit; i++) {
		const pass_commit *c = &p->commit[i];
		fprintf(out, "commit '%s' <- buf%d", c->target->name, c->src);
		if (c->snapshot >= 0)
			fprintf(out, " (snapshot buf%d)", c->snapshot);
		fputc('\n', out);
	}
	fprintf(out, "peak %lld bytes\n", (long long)p->arena_bytes);
}
