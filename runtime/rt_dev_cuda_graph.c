/*
 * rt_dev_cuda_graph.c - CUDA graphs for the CUDA device (rt_dev_cuda.h):
 * each run of at least RT_CUDEV_GRAPH_MIN consecutive loop kernels of a
 * schedule is captured once into a graph (on a stream of the device's own,
 * the legacy default stream cannot be captured) and then launched as one
 * graph per step onto the legacy default stream, where it is ordered with
 * the GEMMs and convolutions around it as its kernels were. The library
 * calls stay outside the graphs (cuBLAS and cuDNN would need that stream
 * and their workspaces set for capture). A run is captured again when the
 * addresses it was captured with change (another binding of the slots),
 * and launched kernel by kernel when the driver lacks graphs, capture
 * fails, or SAMC_CUDA_GRAPHS=0.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "rt_dev_cuda_int.h"

/* kernels a run needs to be worth a graph: a graph launch costs about
 * what two kernel launches do */
#define RT_CUDEV_GRAPH_MIN 3

#define RT_CU_STREAM_CAPTURE_MODE_RELAXED 2

void rt_cudev_graph_open(cuda_dev *c)
{
	rt_cudev_graph_api *g = &c->graph;
	memset(g, 0, sizeof *g);
	*(void **)&g->begin = dlsym(c->drv.lib, "cuStreamBeginCapture_v2");
	*(void **)&g->end = dlsym(c->drv.lib, "cuStreamEndCapture");
	*(void **)&g->instantiate = dlsym(c->drv.lib, "cuGraphInstantiateWithFlags");
	*(void **)&g->launch = dlsym(c->drv.lib, "cuGraphLaunch");
	*(void **)&g->exec_destroy = dlsym(c->drv.lib, "cuGraphExecDestroy");
	*(void **)&g->destroy = dlsym(c->drv.lib, "cuGraphDestroy");
	const char *env = getenv("SAMC_CUDA_GRAPHS");
	c->graphs = g->begin && g->end && g->instantiate && g->launch && g->exec_destroy &&
	            g->destroy && !(env && strcmp(env, "0") == 0);
}

void rt_cudev_graph_close(cuda_dev *c)
{
	if (c->capture)
		c->drv.cuStreamDestroy(c->capture);
	c->capture = NULL;
}

int rt_cudev_graph_plan(cuda_dev *c, cuda_plan *pl, const rt_prog *p, rt_err *err)
{
	if (!c->graphs)
		return 0;
	pl->seg = calloc((size_t)p->nkernels + 1, sizeof *pl->seg);
	pl->seg_at = malloc(((size_t)p->nkernels + 1) * sizeof *pl->seg_at);
	if (!pl->seg || !pl->seg_at)
		return rt_errf(err, "cuda: out of memory");
	for (int i = 0; i < p->nkernels; i++)
		pl->seg_at[i] = -1;
	for (int i = 0; i < p->nkernels;) {
		int j = i;
		while (j < p->nkernels && !rt_kkind_is_call(p->kernels[j].kind))
			j++;
		if (j - i >= RT_CUDEV_GRAPH_MIN) {
			rt_cudev_seg *g = &pl->seg[pl->nseg];
			g->first = i;
			g->end = j;
			for (int k = i; k < j; k++)
				g->naddr += p->kernels[k].nargs + 1;
			if (!(g->addr = calloc((size_t)g->naddr, sizeof *g->addr)))
				return rt_errf(err, "cuda: out of memory");
			pl->seg_at[i] = pl->nseg++;
		}
		i = j > i ? j : i + 1;
	}
	return 0;
}

static void drop(cuda_dev *c, rt_cudev_seg *g)
{
	if (g->exec)
		c->graph.exec_destroy(g->exec);
	g->exec = NULL;
	g->state = 0;
}

void rt_cudev_graph_free(cuda_dev *c, cuda_plan *pl)
{
	for (int i = 0; i < pl->nseg; i++) {
		drop(c, &pl->seg[i]);
		free(pl->seg[i].addr);
	}
	free(pl->seg);
	free(pl->seg_at);
	pl->seg = NULL;
	pl->seg_at = NULL;
	pl->nseg = 0;
}

/* the addresses the run's kernels get now (their arguments, then their
 * error words), into out; whether they are those in g */
static int addresses(const rt_cudev_seg *g, const rt_dev_sched *s, void **out)
{
	int n = 0, same = 1;
	for (int k = g->first; k < g->end; k++) {
		for (int j = 0; j < s->p->kernels[k].nargs; j++, n++) {
			same &= g->addr[n] == s->args[k][j];
			out[n] = s->args[k][j];
		}
		same &= g->addr[n] == (void *)(s->errs + 4 * k);
		out[n++] = s->errs + 4 * k;
	}
	return same;
}

/* Captures g's kernels into a graph; -1 (and nothing launched) when the
 * driver will not. */
static int capture(cuda_dev *c, const cuda_plan *pl, rt_cudev_seg *g, const rt_dev_sched *s)
{
	rt_cu_graph graph = NULL;
	rt_err e;
	if (!c->capture && c->drv.cuStreamCreate(&c->capture, RT_CU_STREAM_NON_BLOCKING) != 0) {
		c->capture = NULL;
		return -1;
	}
	if (c->graph.begin(c->capture, RT_CU_STREAM_CAPTURE_MODE_RELAXED) != RT_CU_SUCCESS)
		return -1;
	int rc = 0;
	for (int k = g->first; k < g->end && rc == 0; k++)
		rc = rt_cudev_launch(c, pl->fn[k], &s->p->kernels[k], s->args[k], s->errs + 4 * k,
		                     c->capture, &e);
	if (c->graph.end(c->capture, &graph) != RT_CU_SUCCESS || !graph || rc)
		rc = -1;
	if (rc == 0 && c->graph.instantiate(&g->exec, graph, 0) != RT_CU_SUCCESS) {
		g->exec = NULL;
		rc = -1;
	}
	if (graph)
		c->graph.destroy(graph);
	return rc;
}

int rt_cudev_graph_run(cuda_dev *c, cuda_plan *pl, const rt_dev_sched *s, int i, int *next,
                       rt_err *err)
{
	if (!c->graphs || !pl->seg_at || pl->seg_at[i] < 0)
		return 0;
	rt_cudev_seg *g = &pl->seg[pl->seg_at[i]];
	if (g->state < 0)
		return 0;
	void **now = malloc((size_t)g->naddr * sizeof *now);
	if (!now)
		return rt_errf(err, "cuda: out of memory");
	int same = addresses(g, s, now);
	if (g->state == 0 || !same) {
		drop(c, g);
		if (capture(c, pl, g, s)) {
			free(now);
			g->state = -1; /* kernel by kernel from now on */
			return 0;
		}
		memcpy(g->addr, now, (size_t)g->naddr * sizeof *now);
		g->state = 1;
	}
	free(now);
	CU(c, c->graph.launch(g->exec, NULL), "cuGraphLaunch", err);
	*next = g->end;
	return 1;
}
