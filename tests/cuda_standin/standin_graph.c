/*
 * standin_graph.c - CUDA graphs in the host stand-in (see standin.c): a
 * captured stream's launches are recorded, the values of their parameters
 * copied, and a graph's launch replays them in order.
 */
#include <stdlib.h>
#include <string.h>

#include "standin.h"

typedef struct {
	void *fn;
	unsigned grid, block;
	int np;
	void **val; /* each parameter's value */
} rec_launch;

typedef struct {
	rec_launch *l;
	int n, cap;
} graph;

void *standin_capturing;
static graph *recording;

static void graph_free(graph *g)
{
	for (int i = 0; g && i < g->n; i++)
		free(g->l[i].val);
	if (g)
		free(g->l);
	free(g);
}

CUresult standin_record(void *f, unsigned grid, unsigned block, void **params)
{
	graph *g = recording;
	int np = standin_nparams(f);
	if (np < 0)
		return INVALID_VALUE;
	if (g->n == g->cap) {
		int cap = g->cap ? 2 * g->cap : 16;
		rec_launch *l = realloc(g->l, (size_t)cap * sizeof *l);
		if (!l)
			return OUT_OF_MEMORY;
		g->l = l;
		g->cap = cap;
	}
	rec_launch *r = &g->l[g->n];
	if (!(r->val = malloc((size_t)np * sizeof *r->val)))
		return OUT_OF_MEMORY;
	for (int j = 0; j < np; j++)
		r->val[j] = *(void **)params[j];
	r->fn = f;
	r->grid = grid;
	r->block = block;
	r->np = np;
	g->n++;
	counts.captured++;
	return OK;
}

EXPORT CUresult cuStreamBeginCapture_v2(void *s, int mode)
{
	/* the legacy default stream cannot be captured; one capture at a time */
	if (!s || standin_capturing || mode < 0 || mode > 2)
		return INVALID_VALUE;
	if (!(recording = calloc(1, sizeof *recording)))
		return OUT_OF_MEMORY;
	standin_capturing = s;
	return OK;
}

EXPORT CUresult cuStreamEndCapture(void *s, void **g)
{
	if (!s || s != standin_capturing)
		return INVALID_VALUE;
	*g = recording;
	recording = NULL;
	standin_capturing = NULL;
	return OK;
}

EXPORT CUresult cuGraphInstantiateWithFlags(void **e, void *g, unsigned long long flags)
{
	const graph *src = g;
	graph *x = calloc(1, sizeof *x);
	if (!src || flags || !x || !(x->l = calloc((size_t)src->n + 1, sizeof *x->l))) {
		free(x);
		return src && !flags ? OUT_OF_MEMORY : INVALID_VALUE;
	}
	for (int i = 0; i < src->n; i++) {
		x->l[i] = src->l[i];
		if (!(x->l[i].val = malloc((size_t)src->l[i].np * sizeof(void *)))) {
			graph_free(x);
			return OUT_OF_MEMORY;
		}
		memcpy(x->l[i].val, src->l[i].val, (size_t)src->l[i].np * sizeof(void *));
		x->n++;
	}
	*e = x;
	return OK;
}

EXPORT CUresult cuGraphLaunch(void *e, void *s)
{
	const graph *x = e;
	if (!x || (s && s == standin_capturing))
		return INVALID_VALUE;
	counts.graph_launch++;
	for (int i = 0; i < x->n; i++) {
		const rec_launch *r = &x->l[i];
		void *params[r->np];
		for (int j = 0; j < r->np; j++)
			params[j] = (void *)&r->val[j];
		counts.launch++;
		hostlaunch_fn fn;
		*(void **)&fn = r->fn;
		fn(r->grid, r->block, params);
	}
	return OK;
}

EXPORT CUresult cuGraphExecDestroy(void *e)
{
	graph_free(e);
	return OK;
}

EXPORT CUresult cuGraphDestroy(void *g)
{
	graph_free(g);
	return OK;
}

