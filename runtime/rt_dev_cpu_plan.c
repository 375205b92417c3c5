/*
 * rt_dev_cpu_plan.c - the CPU device's plan of a schedule: which GEMMs run
 * on the worker beside the kernels that follow them (see rt_dev_cpu.h).
 */
#include <stdlib.h>

#include "rt_dev_cpu.h"

/* --- running a GEMM beside the kernels that follow it (two threads) ---
 *
 * A step alternates big GEMMs, split over both threads, with stretches of
 * small kernels that run on one thread while the other idles. A GEMM whose
 * result is not needed for a while (in a SAM step: the Gram matrix X X^T
 * of the low-rank rewrite) can run whole on the worker during such a
 * stretch. The plan is made once, from the table: the stretch is the run
 * of following kernels that would not be split and that touch none of the
 * GEMM's memory; a loop kernel's arguments all count as written, since
 * the table does not say which it writes. It pays when the stretch's work
 * is at least RT_PROG_BESIDE_MIN of the GEMM's on one thread (estimates
 * below): the split GEMM takes about 0.6 of its one-thread time here. */
#define RT_PROG_BESIDE_MIN 0.4

static int is_sym(const rt_prog_kernel *k)
{
	return k->kind == RT_K_GEMM && k->args[0] == k->args[1] && !k->ta && k->tb && k->m == k->n;
}

/* rough one-thread nanoseconds: 40 multiply-adds or 2 elements per ns */
static double est_ns(const rt_prog_kernel *k)
{
	if (k->kind == RT_K_GEMM)
		return (double)(k->batch > 1 ? k->batch : 1) * (double)k->m * (double)k->n *
		       (double)k->k / (is_sym(k) ? 80.0 : 40.0);
	return (double)k->work / 2.0;
}

static int would_split(const rt_prog_kernel *k, int mm, int threads)
{
	if (threads < 2)
		return 0;
	if (k->kind == RT_K_CONV || mm) /* oneDNN takes every thread */
		return 1;
	if (k->kind == RT_K_COMM) /* a collective: never beside a GEMM */
		return 1;
	if (k->kind != RT_K_GEMM)
		return k->par_extent > 1 && k->work >= RT_PROG_PAR_MIN_WORK;
	if (is_sym(k))
		return k->m * k->m * k->k >= RT_PROG_SYRK_PAR_MIN;
	return (k->m >= k->n ? k->m : k->n) >= 2 * RT_PROG_GEMM_ALIGN &&
	       k->m * k->n * k->k >= RT_PROG_GEMM_PAR_MIN;
}

static int bufs_overlap(const rt_prog *p, int a, int b)
{
	const rt_prog_buf *x = &p->bufs[a], *y = &p->bufs[b];
	if (x->slot >= 0 || y->slot >= 0)
		return x->slot == y->slot;
	return x->offset < y->offset + y->bytes && y->offset < x->offset + x->bytes;
}

/* Does kernel q (following GEMM g) touch memory that g reads or writes in
 * a way that orders them? */
static int conflicts(const rt_prog *p, const rt_prog_kernel *g, const rt_prog_kernel *q)
{
	for (int a = 0; a < q->nargs; a++)
		for (int b = 0; b < 3; b++) {
			int q_writes = q->kind != RT_K_GEMM || a == 2, g_writes = b == 2;
			if ((q_writes || g_writes) && bufs_overlap(p, q->args[a], g->args[b]))
				return 1;
		}
	return 0;
}

int rt_dev_cpu_plan_make(const rt_prog *p, int threads, const char *mm, rt_dev_cpu_plan *out)
{
	int n = 0, *join = calloc((size_t)p->nkernels + 1, sizeof *join);
	out->join = join;
	out->nbeside = 0;
	if (!join)
		return -1;
	if (threads != 2)
		return 0;

	for (int i = 0; i < p->nkernels; i++) {
		const rt_prog_kernel *g = &p->kernels[i];
		if (g->kind != RT_K_GEMM || (mm && mm[i]) || est_ns(g) < 20000)
			continue;
		double w = 0;
		int q = i + 1;
		while (q < p->nkernels && !would_split(&p->kernels[q], mm && mm[q], threads) &&
		       !conflicts(p, g, &p->kernels[q]))
			w += est_ns(&p->kernels[q++]);
		if (q > i + 1 && w >= RT_PROG_BESIDE_MIN * est_ns(g)) {
			join[i] = q;
			n++;
			i = q - 1;
		}
	}
	out->nbeside = n;
	return 0;
}
