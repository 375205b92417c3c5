/*
 * ir_interp_exec.c - the reference interpreter behind the runtime's backend
 * interface (rt_exec.h): slots for the leaves a step uses, converted to
 * doubles on the way in and back to their dtype on the way out.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir_interp.h"
#include "ir_slot.h"
#include "rt_comm.h" /* the vtable only: the caller's communicator */

typedef struct {
	ir_graph *g;
	ir_env *env;
	ir_node **leaves; /* per slot */
	ir_node **outs;
	int nout;
} interp_exec;

static void exec_free(rt_exec *x)
{
	if (!x)
		return;
	interp_exec *s = x->self;
	if (s) {
		ir_env_free(s->env);
		free(s->leaves);
		free(s->outs);
		free(s);
	}
	for (int i = 0; x->outputs && i < x->noutputs; i++)
		free((char *)x->outputs[i]);
	free(x->outputs);
	free(x->slots);
	free(x);
}

static void to_doubles(double *dst, const void *src, rt_dtype t, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		dst[i] = t == RT_F32 ? (double)((const float *)src)[i]
		       : t == RT_F64 ? ((const double *)src)[i]
		                     : (double)((const int32_t *)src)[i];
}

static void from_doubles(void *dst, const double *src, rt_dtype t, int64_t n)
{
	for (int64_t i = 0; i < n; i++) {
		if (t == RT_F32)
			((float *)dst)[i] = (float)src[i];
		else if (t == RT_F64)
			((double *)dst)[i] = src[i];
		else
			((int32_t *)dst)[i] = (int32_t)src[i];
	}
}

/* rank_sum over the exec's communicator (ir_rank_sum_fn): the values in
 * their dtype, summed by the communicator in rank order. */
static int comm_rank_sum(void *ctx, double *buf, int64_t n, ir_dtype dtype, char *err,
                         size_t errlen)
{
	rt_comm *c = ctx;
	int f32 = dtype == IR_F32;
	void *tmp = malloc((size_t)(n > 0 ? n : 1) * (f32 ? sizeof(float) : sizeof(double)));
	if (!tmp)
		return ir_failf(err, errlen, "interpreter: out of memory for rank_sum");
	from_doubles(tmp, buf, f32 ? RT_F32 : RT_F64, n);
	rt_err e = {{0}};
	int rc = c->allreduce(c, tmp, (size_t)n, f32 ? RT_COMM_F32 : RT_COMM_F64, &e);
	if (rc == 0)
		to_doubles(buf, tmp, f32 ? RT_F32 : RT_F64, n);
	else
		ir_failf(err, errlen, "rank_sum: %s", e.msg);
	free(tmp);
	return rc ? -1 : 0;
}

static int exec_run(rt_exec *x, void **slot_data, double *outputs, rt_err *err)
{
	interp_exec *s = x->self;
	/* several ranks: rank_sum sums over them (the exec's comm, set by the run) */
	if (x->comm && x->comm->size > 1)
		ir_env_set_rank_sum(s->env, comm_rank_sum, x->comm);
	else
		ir_env_set_rank_sum(s->env, NULL, NULL);
	char msg[sizeof err->msg];
	double **vals = calloc((size_t)(s->nout > 0 ? s->nout : 1), sizeof *vals);
	if (!vals)
		return rt_errf(err, "interpreter: out of memory");
	for (int i = 0; i < x->nslots; i++) {
		double *d = ir_env_leaf(s->env, s->leaves[i]);
		if (!d) {
			free(vals);
			return rt_errf(err, "interpreter: out of memory for slot '%s'", x->slots[i].name);
		}
		if (!slot_data[i]) {
			free(vals);
			return rt_errf(err, "interpreter: slot '%s' has no buffer", x->slots[i].name);
		}
		to_doubles(d, slot_data[i], x->slots[i].dtype, ir_shape_numel(&s->leaves[i]->shape));
	}
	if (ir_interp_run(s->env, s->outs, s->nout, vals, msg, sizeof msg)) {
		free(vals);
		return rt_errf(err, "%s", msg);
	}
	for (int i = 0; i < s->nout; i++) {
		outputs[i] = vals[i][0];
		free(vals[i]);
	}
	free(vals);
	for (int i = 0; i < x->nslots; i++)
		if (x->slots[i].role != RT_SLOT_INPUT)
			from_doubles(slot_data[i], ir_env_leaf(s->env, s->leaves[i]), x->slots[i].dtype,
			             ir_shape_numel(&s->leaves[i]->shape));
	return 0;
}

/* Marks the nodes the outputs and the ASSIGNs read (inputs come earlier). */
static char *mark_used(ir_graph *g, ir_node *const *outs, int nout)
{
	char *need = calloc((size_t)g->nnodes + 1, 1);
	if (!need)
		return NULL;
	for (int i = 0; i < nout; i++)
		need[outs[i]->id] = 1;
	for (int i = g->nnodes - 1; i >= 0; i--) {
		ir_node *n = g->nodes[i];
		if (n->op == IR_OP_ASSIGN)
			need[i] = 1;
		if (!need[i])
			continue;
		for (int j = 0; j < n->nin; j++)
			if (n->in[j] && n->in[j]->id < i)
				need[n->in[j]->id] = 1;
	}
	return need;
}

rt_exec *ir_interp_exec_new(ir_graph *g, ir_node *const *outs,
                            const char *const *out_names, int nout,
                            char *err, size_t errlen)
{
	for (int i = 0; i < nout; i++) {
		if (!outs[i] || outs[i]->id < 0 || outs[i]->id >= g->nnodes ||
		    g->nodes[outs[i]->id] != outs[i]) {
			snprintf(err, errlen, "interpreter: output '%s' is not a node of this graph",
			         out_names[i]);
			return NULL;
		}
		if (ir_shape_numel(&outs[i]->shape) != 1) {
			char sh[64];
			snprintf(err, errlen, "interpreter: output '%s' has shape %s; outputs are scalars",
			         out_names[i], ir_shape_str(&outs[i]->shape, sh, sizeof sh));
			return NULL;
		}
	}
	rt_exec *x = calloc(1, sizeof *x);
	interp_exec *s = calloc(1, sizeof *s);
	char *need = mark_used(g, outs, nout);
	if (!x || !s || !need)
		goto oom;
	x->self = s;
	x->backend = "interp";
	x->run = exec_run;
	x->free = exec_free;
	s->g = g;
	s->nout = nout;
	s->env = ir_env_new(g);
	s->outs = malloc((size_t)(nout > 0 ? nout : 1) * sizeof *s->outs);
	x->outputs = calloc((size_t)(nout > 0 ? nout : 1), sizeof *x->outputs);
	x->slots = calloc((size_t)g->nnodes + 1, sizeof *x->slots);
	s->leaves = calloc((size_t)g->nnodes + 1, sizeof *s->leaves);
	if (!s->env || !s->outs || !x->outputs || !x->slots || !s->leaves)
		goto oom;
	for (int i = 0; i < nout; i++) {
		s->outs[i] = outs[i];
		if (!(x->outputs[i] = strdup(out_names[i])))
			goto oom;
		x->noutputs = i + 1;
	}
	for (int i = 0; i < g->nnodes; i++) {
		ir_node *n = g->nodes[i];
		if (!need[i] || (n->op != IR_OP_PARAM && n->op != IR_OP_STATE && n->op != IR_OP_INPUT))
			continue;
		ir_slot_from_leaf(&x->slots[x->nslots], n);
		s->leaves[x->nslots++] = n;
	}
	free(need);
	return x;
oom:
	snprintf(err, errlen, "interpreter: out of memory");
	free(need);
	if (!x || !x->self)
		free(s);
	exec_free(x);
	return NULL;
}
