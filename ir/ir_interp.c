/*
 * ir_interp.c - the reference interpreter's driver: the env holding the
 * leaves' values between steps, and one step: find the nodes the outputs
 * (and the ASSIGNs) need, evaluate them in node order with the kernels of
 * ir_interp_ops.c, free each intermediate after its last use, then commit
 * every ASSIGN at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir_interp.h"

struct ir_env {
	ir_graph *g;
	double **leaf; /* by node id: storage of PARAM/INPUT/STATE leaves */
	int cap;
	ir_rank_sum_fn rank_sum; /* NULL: one rank */
	void *rank_sum_ctx;
};

void ir_env_set_rank_sum(ir_env *e, ir_rank_sum_fn fn, void *ctx)
{
	if (e) {
		e->rank_sum = fn;
		e->rank_sum_ctx = ctx;
	}
}

static int is_env_leaf(const ir_node *n)
{
	return n->op == IR_OP_PARAM || n->op == IR_OP_INPUT || n->op == IR_OP_STATE;
}

/* Passes may append nodes after the env was made: grow to the graph. */
static int env_grow(ir_env *e)
{
	int n = e->g->nnodes;
	if (n <= e->cap)
		return 0;
	double **p = realloc(e->leaf, (size_t)n * sizeof *p);
	if (!p)
		return -1;
	memset(p + e->cap, 0, (size_t)(n - e->cap) * sizeof *p);
	e->leaf = p;
	e->cap = n;
	return 0;
}

ir_env *ir_env_new(ir_graph *g)
{
	ir_env *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->g = g;
	if (env_grow(e)) {
		free(e);
		return NULL;
	}
	return e;
}

void ir_env_free(ir_env *e)
{
	if (!e)
		return;
	for (int i = 0; i < e->cap; i++)
		free(e->leaf[i]);
	free(e->leaf);
	free(e);
}

static int in_graph(const ir_graph *g, const ir_node *n)
{
	return n && n->id >= 0 && n->id < g->nnodes && g->nodes[n->id] == n;
}

double *ir_env_leaf(ir_env *e, const ir_node *leaf)
{
	if (!e || !in_graph(e->g, leaf) || !is_env_leaf(leaf) || env_grow(e))
		return NULL;
	if (!e->leaf[leaf->id]) {
		int64_t cnt = ir_shape_numel(&leaf->shape);
		e->leaf[leaf->id] = calloc((size_t)(cnt > 0 ? cnt : 1), sizeof(double));
	}
	return e->leaf[leaf->id];
}

/* Elements of a node's value: an ASSIGN holds its target's new value. */
static int64_t value_numel(const ir_node *n)
{
	return ir_shape_numel(n->op == IR_OP_ASSIGN ? &n->in[0]->shape : &n->shape);
}

/* Marks need[i] for every node the outputs (and, when committing, the
 * ASSIGNs) read, and last[i], the last node that reads i (n: kept to the
 * end). Roots live to the end; inputs always come earlier, so one backward
 * sweep finds everything. */
static int mark_live(ir_graph *g, ir_node *const *outs, int nout, int commit, char *need,
                     int *last, char *err, size_t errlen)
{
	int n = g->nnodes;
	for (int i = 0; i < n; i++)
		last[i] = -1;
	for (int i = 0; i < nout; i++) {
		need[outs[i]->id] = 1;
		last[outs[i]->id] = n;
	}
	for (int i = 0; commit && i < n; i++)
		if (g->nodes[i]->op == IR_OP_ASSIGN) {
			ir_node *t = g->nodes[i]->in[0];
			if (!in_graph(g, t) || (t->op != IR_OP_PARAM && t->op != IR_OP_STATE))
				return ir_failf(err, errlen, "node %%%d (assign): its target is not a param or state", i);
			/* two writes to one leaf in one step have no defined order */
			if (need[t->id] == 2)
				return ir_failf(err, errlen, "node %%%d (assign): '%s' is assigned twice in one step",
				            i, t->name ? t->name : "?");
			need[t->id] = 2;
			need[i] = 1;
			last[i] = n;
		}
	for (int i = n - 1; i >= 0; i--) {
		ir_node *nd = g->nodes[i];
		if (!need[i])
			continue;
		for (int j = 0; j < nd->nin; j++) {
			ir_node *x = nd->in[j];
			if (!in_graph(g, x) || x->id >= i)
				return ir_failf(err, errlen, "node %%%d (%s): input %d is not an earlier node", i,
				            ir_op_name(nd->op), j);
			need[x->id] = 1;
			if (last[x->id] < i)
				last[x->id] = i;
		}
	}
	return 0;
}

static int interp(ir_env *e, ir_node *const *outs, int nout, double **out_vals,
                  char *err, size_t errlen, int commit)
{
	ir_graph *g = e->g;
	int n = g->nnodes, rc = -1;
	if (nout > 0 && !out_vals)
		return ir_failf(err, errlen, "interpreter: no room for the %d outputs", nout);
	for (int i = 0; i < nout; i++)
		out_vals[i] = NULL;
	if (env_grow(e))
		return ir_failf(err, errlen, "interpreter: out of memory");
	for (int i = 0; i < nout; i++)
		if (!in_graph(g, outs[i]))
			return ir_failf(err, errlen, "interpreter: output %d is not a node of this graph", i);

	char *need = calloc((size_t)n + 1, 1);
	int *last = malloc(((size_t)n + 1) * sizeof *last);
	double **val = calloc((size_t)n + 1, sizeof *val);
	if (!need || !last || !val) {
		ir_failf(err, errlen, "interpreter: out of memory");
		goto done;
	}

	if (mark_live(g, outs, nout, commit, need, last, err, errlen))
		goto done;

	for (int i = 0; i < n; i++) {
		ir_node *nd = g->nodes[i];
		if (!need[i])
			continue;
		if (is_env_leaf(nd)) {
			if (!(val[i] = ir_env_leaf(e, nd))) {
				ir_failf(err, errlen, "interpreter: out of memory");
				goto done;
			}
			/* an f32 leaf holds floats, whatever the caller wrote */
			if (nd->dtype == IR_F32)
				for (int64_t j = 0; j < ir_shape_numel(&nd->shape); j++)
					val[i][j] = (double)(float)val[i][j];
			continue;
		}
		int64_t cnt = value_numel(nd);
		if (!(val[i] = malloc((size_t)(cnt > 0 ? cnt : 1) * sizeof(double)))) {
			ir_failf(err, errlen, "interpreter: out of memory for node %%%d", i);
			goto done;
		}
		const double *inl[8] = {0}, **in = inl;
		if (nd->nin > 8 && !(in = calloc((size_t)nd->nin, sizeof *in))) {
			ir_failf(err, errlen, "interpreter: out of memory");
			goto done;
		}
		for (int j = 0; j < nd->nin; j++)
			in[j] = val[nd->in[j]->id];
		int rc = ir_interp_node(nd, in, val[i], err, errlen);
		if (in != inl)
			free(in);
		/* in node order: every rank sums its rank_sums in the same order */
		if (!rc && nd->op == IR_OP_RANK_SUM && e->rank_sum)
			rc = e->rank_sum(e->rank_sum_ctx, val[i], cnt, nd->dtype, err, errlen);
		if (rc)
			goto done;
		/* drop intermediates nothing later reads */
		for (int j = 0; j < nd->nin; j++) {
			int x = nd->in[j]->id;
			if (last[x] == i && val[x] && !is_env_leaf(nd->in[j])) {
				free(val[x]);
				val[x] = NULL;
			}
		}
	}

	for (int i = 0; i < nout; i++) {
		int64_t cnt = value_numel(outs[i]);
		out_vals[i] = malloc((size_t)(cnt > 0 ? cnt : 1) * sizeof(double));
		if (!out_vals[i]) {
			ir_failf(err, errlen, "interpreter: out of memory");
			goto done;
		}
		memcpy(out_vals[i], val[outs[i]->id], (size_t)cnt * sizeof(double));
	}
	/* every node has read the old leaves: now the ASSIGNs may write */
	for (int i = 0; commit && i < n; i++)
		if (g->nodes[i]->op == IR_OP_ASSIGN) {
			ir_node *t = g->nodes[i]->in[0];
			memcpy(val[t->id], val[i], (size_t)value_numel(g->nodes[i]) * sizeof(double));
		}
	rc = 0;

done:
	if (val)
		for (int i = 0; i < n; i++)
			if (val[i] && !is_env_leaf(g->nodes[i]))
				free(val[i]);
	if (rc)
		for (int i = 0; i < nout; i++) {
			free(out_vals[i]);
			out_vals[i] = NULL;
		}
	free(val);
	free(last);
	free(need);
	return rc;
}

int ir_interp_run(ir_env *e, ir_node *const *outs, int nout, double **out_vals,
                  char *err, size_t errlen)
{
	return interp(e, outs, nout, out_vals, err, errlen, 1);
}

int ir_interp_eval(ir_env *e, ir_node *const *outs, int nout, double **out_vals,
                   char *err, size_t errlen)
{
	return interp(e, outs, nout, out_vals, err, errlen, 0);
}
