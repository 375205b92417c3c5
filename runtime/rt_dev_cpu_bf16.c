/*
 * rt_dev_cpu_bf16.c - the CPU device's bf16 GEMMs (see rt_dev_cpu.h): a
 * GEMM entry flagged bf16 (rt_prog.h) on a CPU with AVX-512 BF16 or AMX
 * runs as oneDNN's bf16 matmul (rt_matmul.h) on its operands' upper
 * halves, converted into the device's scratch over the pool.
 */
#include <stdlib.h>
#include <string.h>

#include "rt_cpu.h"
#include "rt_dev_cpu.h"

int rt_dev_cpu_has_bf16(const char *mask)
{
	char missing[64];
	/* either suffices: oneDNN takes AMX where there is, else AVX-512 BF16 */
	return rt_cpu_missing("avx512bf16", mask, missing, sizeof missing) == 0 ||
	       rt_cpu_missing("amx-bf16,amx-tile", mask, missing, sizeof missing) == 0;
}

void rt_dev_cpu_bf16_free(rt_dev_cpu_bf16 *b)
{
	rt_matmul_free(b->mm);
	free(b->buf);
	memset(b, 0, sizeof *b);
}

int rt_dev_cpu_bf16_prepare(rt_dev_cpu_bf16 *b, const rt_prog_kernel *k, int threads)
{
	if (!b->mm && !b->failed) {
		/* no oneDNN, or one pinned to AVX2 by an f32 program: f32 GEMMs */
		if (!(b->mm = rt_matmul_new(threads, NULL)))
			b->failed = 1;
	}
	if (!b->mm)
		return 0;
	int64_t ne = (k->batch > 1 ? k->batch : 1) * (k->m * k->k + k->k * k->n);
	if ((size_t)ne > b->cap) {
		uint16_t *nb = realloc(b->buf, (size_t)ne * sizeof *nb);
		if (!nb)
			return 0;
		b->buf = nb;
		b->cap = (size_t)ne;
	}
	return rt_matmul_prepare(b->mm, k->ta, k->tb, k->m, k->n, k->k, k->batch, NULL) == 1;
}

typedef struct {
	uint16_t *dst[2];
	const float *src[2];
	int64_t n[2]; /* elements of each; n[1] = 0: one operand */
} cvt_job;

static void cvt_part(void *ctx, int part, int nparts)
{
	const cvt_job *j = ctx;
	for (int o = 0; o < 2; o++) {
		int64_t lo = j->n[o] * part / nparts, hi = j->n[o] * (part + 1) / nparts;
		rt_matmul_to_bf16(j->dst[o], j->src[o], lo, hi);
	}
}

int rt_dev_cpu_gemm_bf16(rt_dev_cpu_bf16 *b, const rt_prog_kernel *k, void **a, rt_pool *pool,
                         rt_err *err)
{
	int64_t nb = k->batch > 1 ? k->batch : 1;
	int64_t na = nb * k->m * k->k, nbb = nb * k->k * k->n;
	int same = a[0] == a[1]; /* A A^T: one operand, converted once */
	cvt_job j = {{b->buf, b->buf + na}, {a[0], a[1]}, {na, same ? 0 : nbb}};
	int threads = pool ? rt_pool_threads(pool) : 1;
	if (threads > 1 && na + j.n[1] >= RT_PROG_PAR_MIN_WORK)
		rt_pool_run(pool, threads, cvt_part, &j);
	else
		cvt_part(&j, 0, 1);
	if (rt_matmul_run(b->mm, k->ta, k->tb, k->m, k->n, k->k, k->batch, b->buf,
	                  same ? b->buf : b->buf + na, a[2], err) != 0)
		return -1;
	if (same && !k->ta && k->tb && k->m == k->n) {
		/* A A^T is symmetric: the upper triangle from the lower, as the
		 * f32 path's syrk gives it, whatever order oneDNN summed in */
		float *C = a[2];
		for (int64_t q = 0; q < nb; q++, C += k->m * k->m)
			for (int64_t i = 0; i < k->m; i++)
				for (int64_t c = i + 1; c < k->m; c++)
					C[i * k->m + c] = C[c * k->m + i];
	}
	b->runs++;
	return 0;
}
