/*
 * rt_dev_cpu.c - the CPU device (see rt_dev_cpu.h): loop kernels split over
 * the pool, GEMMs and syrk through OpenBLAS, convolutions through oneDNN
 * (rt_conv), bf16 GEMMs through oneDNN (rt_dev_cpu_bf16.c), host memory.
 */
#include "rt_dev_cpu.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "rt_runner.h"

#define RT_PROG_MAX_PARTS 64

typedef struct {
	rt_kernel_fn fn;
	void **args;
	int64_t ext;
	int32_t *flag;
} par_job;

static void par_part(void *ctx, int part, int nparts)
{
	par_job *j = ctx;
	int64_t lo = j->ext * part / nparts, hi = j->ext * (part + 1) / nparts;
	if (lo < hi)
		j->fn(j->args, lo, hi, j->flag);
}

/* Rows [lo, hi) of C (along_m) or its columns [lo, hi): the same call on
 * a sub-block, so every element of C sums over k in the same order
 * whatever the split. */
static void gemm_block(const rt_prog_kernel *k, void **a, int along_m, int64_t lo, int64_t hi)
{
	enum CBLAS_TRANSPOSE ta = k->ta ? CblasTrans : CblasNoTrans;
	enum CBLAS_TRANSPOSE tb = k->tb ? CblasTrans : CblasNoTrans;
	int64_t m = k->m, n = k->n, kk = k->k;
	int lda = (int)(k->ta ? m : kk), ldb = (int)(k->tb ? kk : n), ldc = (int)n;
	size_t es = k->f64 ? 8 : 4;
	char *A = a[0], *B = a[1], *C = a[2];
	if (along_m) {
		A += (size_t)(k->ta ? lo : lo * kk) * es;
		C += (size_t)(lo * n) * es;
		m = hi - lo;
	} else {
		B += (size_t)(k->tb ? lo * kk : lo) * es;
		C += (size_t)lo * es;
		n = hi - lo;
	}
	if (k->f64)
		cblas_dgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)kk, 1.0, (double *)A, lda,
		            (double *)B, ldb, 0.0, (double *)C, ldc);
	else
		cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)kk, 1.0f, (float *)A, lda,
		            (float *)B, ldb, 0.0f, (float *)C, ldc);
}

typedef struct {
	const rt_prog_kernel *k;
	void **a;
	int along_m;
	int64_t len;
} gemm_job;

/* Part boundaries on multiples of RT_PROG_GEMM_ALIGN keep every part on
 * whole micro-kernel tiles. */
static int64_t gemm_cut(int64_t len, int q, int nparts)
{
	if (q >= nparts)
		return len;
	int64_t c = (len * q / nparts + RT_PROG_GEMM_ALIGN / 2) / RT_PROG_GEMM_ALIGN * RT_PROG_GEMM_ALIGN;
	return c < len ? c : len;
}

static void gemm_part(void *ctx, int part, int nparts)
{
	gemm_job *j = ctx;
	int64_t lo = gemm_cut(j->len, part, nparts), hi = gemm_cut(j->len, part + 1, nparts);
	if (lo < hi)
		gemm_block(j->k, j->a, j->along_m, lo, hi);
}

/* C = A A^T (one buffer read as both A and B^T): the product is symmetric,
 * so BLAS's syrk computes its lower triangle at half the multiply-adds and
 * the upper one is mirrored. Split in two parts of equal work: rows [0,h)
 * are a triangle; rows [h,m) are the block left of the diagonal (a GEMM)
 * and a triangle; h = m / sqrt(2) equalises them. */
typedef struct {
	const rt_prog_kernel *k;
	char *a, *c;
	int64_t h;
} sym_job;

static void syrk_rows(const rt_prog_kernel *k, char *A, char *C, int64_t lo, int64_t hi)
{
	int64_t kk = k->k, m = k->m;
	size_t es = k->f64 ? 8 : 4;
	char *Ar = A + (size_t)(lo * kk) * es, *Cr = C + (size_t)(lo * m) * es;
	int nr = (int)(hi - lo), lda = (int)kk, ldc = (int)m;
	if (nr <= 0)
		return;
	if (k->f64) {
		if (lo > 0)
			cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, (int)lo, lda, 1.0,
			            (double *)Ar, lda, (double *)A, lda, 0.0, (double *)Cr, ldc);
		cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, nr, lda, 1.0, (double *)Ar, lda,
		            0.0, (double *)Cr + lo, ldc);
	} else {
		if (lo > 0)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, (int)lo, lda, 1.0f,
			            (float *)Ar, lda, (float *)A, lda, 0.0f, (float *)Cr, ldc);
		cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, nr, lda, 1.0f, (float *)Ar, lda,
		            0.0f, (float *)Cr + lo, ldc);
	}
}

static void sym_part(void *ctx, int part, int nparts)
{
	sym_job *j = ctx;
	(void)nparts;
	syrk_rows(j->k, j->a, j->c, part ? j->h : 0, part ? j->k->m : j->h);
}

/* The two parts are computed whenever the work is large enough, on one
 * thread too (BLAS's syrk and gemm round differently): the result depends
 * on the shape, not on the number of threads. */
static void run_syrk(const rt_prog_kernel *k, void **a, rt_pool *pool)
{
	int64_t m = k->m;
	int64_t h = (int64_t)((double)m / 1.41421356 / RT_PROG_GEMM_ALIGN + 0.5) * RT_PROG_GEMM_ALIGN;
	sym_job j = {k, a[0], a[2], h};
	int two = h > 0 && h < m && m * m * k->k >= RT_PROG_SYRK_PAR_MIN;
	if (two && pool && rt_pool_threads(pool) > 1) {
		rt_pool_run(pool, 2, sym_part, &j);
	} else if (two) {
		syrk_rows(k, j.a, j.c, 0, h);
		syrk_rows(k, j.a, j.c, h, m);
	} else {
		syrk_rows(k, j.a, j.c, 0, m);
	}
	for (int64_t i = 0; i < m; i++) /* upper triangle from the lower */
		for (int64_t c = i + 1; c < m; c++) {
			if (k->f64)
				((double *)j.c)[i * m + c] = ((double *)j.c)[c * m + i];
			else
				((float *)j.c)[i * m + c] = ((float *)j.c)[c * m + i];
		}
}

/* A GEMM large enough is split over the pool along the longer side of C;
 * OpenBLAS itself runs single-threaded (cpu_run), so the pool's
 * spinning workers never compete with its threads. */
static void run_gemm(const rt_prog_kernel *k, void **a, rt_pool *pool)
{
	int threads = pool ? rt_pool_threads(pool) : 1;
	gemm_job j = {k, a, k->m >= k->n, k->m >= k->n ? k->m : k->n};
	int parts = (int)(j.len / RT_PROG_GEMM_ALIGN);
	if (parts > threads)
		parts = threads;
	if (parts > 1 && k->m * k->n * k->k >= RT_PROG_GEMM_PAR_MIN)
		rt_pool_run(pool, parts, gemm_part, &j);
	else
		gemm_block(k, a, 1, 0, k->m);
}

typedef struct {
	const rt_prog_kernel *k;
	void **a;
	rt_pool *pool; /* for each product's own split, or NULL */
} batch_job;

/* Products [lo, hi) of a batched GEMM, each the unbatched GEMM of its
 * matrices: its bits do not depend on which thread runs it. */
static void batch_range(const batch_job *j, int64_t lo, int64_t hi)
{
	const rt_prog_kernel *k = j->k;
	rt_prog_kernel one = *k;
	one.batch = 1;
	size_t es = k->f64 ? 8 : 4;
	size_t sa = (size_t)(k->m * k->k) * es, sb = (size_t)(k->k * k->n) * es;
	size_t sc = (size_t)(k->m * k->n) * es;
	for (int64_t b = lo; b < hi; b++) {
		void *ab[3] = {(char *)j->a[0] + (size_t)b * sa, (char *)j->a[1] + (size_t)b * sb,
		               (char *)j->a[2] + (size_t)b * sc};
		rt_prog_kernel_run(&one, ab, NULL, j->pool);
	}
}

static void batch_part(void *ctx, int part, int nparts)
{
	const batch_job *j = ctx;
	batch_range(j, j->k->batch * part / nparts, j->k->batch * (part + 1) / nparts);
}

void rt_prog_kernel_run(const rt_prog_kernel *k, void **a, int32_t *flag, rt_pool *pool)
{
	if (k->kind == RT_K_GEMM && k->batch > 1) {
		/* products too small to split run side by side over the pool; a
		 * large one is split itself (run_gemm), one after another */
		int threads = pool ? rt_pool_threads(pool) : 1;
		int small = k->m * k->n * k->k < RT_PROG_GEMM_PAR_MIN;
		batch_job j = {k, a, small ? NULL : pool};
		if (small && threads > 1 && k->batch * k->m * k->n * k->k >= RT_PROG_GEMM_PAR_MIN / 4)
			rt_pool_run(pool, threads < k->batch ? threads : (int)k->batch, batch_part, &j);
		else
			batch_range(&j, 0, k->batch);
		return;
	}
	if (k->kind == RT_K_GEMM) {
		if (a[0] == a[1] && !k->ta && k->tb && k->m == k->n)
			run_syrk(k, a, pool);
		else
			run_gemm(k, a, pool);
		return;
	}
	int threads = pool ? rt_pool_threads(pool) : 1;
	int64_t ext = k->par_extent;
	if (ext > 1 && threads > 1 && k->work >= RT_PROG_PAR_MIN_WORK) {
		int parts = threads < ext ? threads : (int)ext;
		if (parts > RT_PROG_MAX_PARTS)
			parts = RT_PROG_MAX_PARTS;
		par_job j = {k->fn, a, ext, flag};
		rt_pool_run(pool, parts, par_part, &j);
		return;
	}
	k->fn(a, 0, ext, flag);
}

/* --- the device --- */

typedef struct {
	rt_device dev;
	rt_pool *pool;
	rt_conv *conv; /* made on the first convolution */
	int threads;
	int nbeside; /* of the last plan made */
	int has_bf16; /* the CPU's bf16 instructions, less SAMC_CPU_MASK */
	int nbf16;    /* of the last plan made: entries run on bf16 operands */
	rt_dev_cpu_bf16 bf16;
} cpu_dev;

static cpu_dev *cpu_of(rt_device *d)
{
	return d->self;
}

/* memory is host memory: the host device's */
static int cpu_alloc(rt_device *d, size_t bytes, void **out, rt_err *err)
{
	(void)d;
	return rt_dev_host()->alloc(rt_dev_host(), bytes, out, err);
}

static void cpu_free(rt_device *d, void *buf)
{
	(void)d;
	rt_dev_host()->free(rt_dev_host(), buf);
}

static int cpu_move(rt_device *d, void *dst, const void *src, size_t bytes, rt_err *err)
{
	(void)d;
	return rt_dev_host()->copy(rt_dev_host(), dst, src, bytes, err);
}

static void *cpu_view(rt_device *d, void *buf)
{
	(void)d;
	return buf;
}

static int cpu_supports(const rt_device *d, rt_kkind kind)
{
	(void)d;
	return kind >= RT_K_ELEM && kind <= RT_K_COMM;
}

static int cpu_launch(rt_device *d, const rt_prog_kernel *k, void **args, void *err_word,
                      rt_err *err)
{
	(void)err;
	rt_prog_kernel_run(k, args, err_word, cpu_of(d)->pool);
	return 0;
}

static int cpu_gemm(rt_device *d, const rt_prog_kernel *k, void **args, rt_err *err)
{
	(void)err;
	rt_prog_kernel_run(k, args, NULL, cpu_of(d)->pool);
	return 0;
}

/* The device's oneDNN context: a bf16 one for a program with flagged
 * convolutions on a CPU that has the instructions (rt_conv.h). */
static rt_conv *conv_ctx(cpu_dev *c, int bf16, rt_err *err)
{
	if (!c->conv)
		c->conv = bf16 && c->has_bf16 ? rt_conv_new_bf16(c->threads, err)
		                              : rt_conv_new(c->threads, err);
	return c->conv;
}

static int cpu_conv(rt_device *d, const rt_prog_kernel *k, void **args, rt_err *err)
{
	cpu_dev *c = cpu_of(d);
	if (!conv_ctx(c, k->bf16, err))
		return -1;
	return rt_prog_conv_run(c->conv, k, args, err);
}

int rt_prog_conv_run(rt_conv *c, const rt_prog_kernel *k, void **a, rt_err *err)
{
	int bias = k->conv_bias;
	if (k->bf16)
		return rt_conv_run(c, &k->conv, (rt_conv_op)k->conv_op, bias, 1, a, err);
	switch ((rt_conv_op)k->conv_op) {
	case RT_CONV_FWD:
		return rt_conv_forward(c, &k->conv, a[0], a[1], bias ? a[2] : NULL, a[2 + bias], err);
	case RT_CONV_BWD_DATA:
		return rt_conv_backward_data(c, &k->conv, a[0], a[1], a[2], err);
	case RT_CONV_BWD_WEIGHT:
		return rt_conv_backward_weights(c, &k->conv, a[0], a[1], a[2], bias ? a[3] : NULL, err);
	}
	return rt_errf(err, "cpu: convolution kernel %s has no operation", k->name ? k->name : "?");
}

static int cpu_sync(rt_device *d, rt_err *err)
{
	(void)d;
	(void)err;
	return 0;
}

static int cpu_plan(rt_device *d, const rt_prog *p, void **plan, rt_err *err)
{
	cpu_dev *c = cpu_of(d);
	rt_dev_cpu_plan *pl = calloc(1, sizeof *pl);
	char *mm = calloc((size_t)p->nkernels + 1, 1);
	if (!pl || !mm) {
		free(pl);
		free(mm);
		return rt_errf(err, "cpu: out of memory for a schedule of %d kernels", p->nkernels);
	}
	int bf16conv = 0;
	for (int i = 0; i < p->nkernels; i++)
		bf16conv |= p->kernels[i].kind == RT_K_CONV && p->kernels[i].bf16;
	/* the convolutions' primitives are made now, not in the first step;
	 * a bf16 GEMM's too */
	c->nbf16 = 0;
	for (int i = 0; i < p->nkernels; i++) {
		const rt_prog_kernel *k = &p->kernels[i];
		if (k->kind == RT_K_GEMM && k->bf16 && c->has_bf16 && !k->f64)
			c->nbf16 += mm[i] = (char)rt_dev_cpu_bf16_prepare(&c->bf16, k, c->threads);
		if (k->kind != RT_K_CONV)
			continue;
		int rc = conv_ctx(c, bf16conv, err)
		             ? rt_conv_prepare(c->conv, &k->conv, (rt_conv_op)k->conv_op, k->conv_bias,
		                               k->bf16, err)
		             : -1;
		if (rc < 0) {
			free(pl);
			free(mm);
			return -1;
		}
		c->nbf16 += rc;
	}
	pl->mm = mm;
	if (rt_dev_cpu_plan_make(p, c->threads, mm, pl)) {
		free(pl->mm);
		free(pl);
		return rt_errf(err, "cpu: out of memory for a schedule of %d kernels", p->nkernels);
	}
	c->nbeside = pl->nbeside;
	*plan = pl;
	return 0;
}

static void cpu_plan_free(rt_device *d, void *plan)
{
	(void)d;
	rt_dev_cpu_plan *pl = plan;
	if (pl) {
		free(pl->join);
		free(pl->mm);
	}
	free(pl);
}

typedef struct {
	const rt_prog_kernel *k;
	void **a;
} async_job;

static void async_part(void *ctx, int part, int nparts)
{
	async_job *j = ctx;
	(void)nparts;
	if (part == 1)
		rt_prog_kernel_run(j->k, j->a, NULL, NULL);
}

static int32_t *flag_of(const rt_dev_sched *s, int i)
{
	return (int32_t *)(void *)(s->errs + 4 * i);
}

/* Kernels [i, join): GEMM i on the pool's worker, the rest beside it on
 * the calling thread, each alone (none of them would have been split). */
static void run_beside(cpu_dev *c, const rt_dev_sched *s, int i, int join)
{
	const rt_prog *p = s->p;
	async_job j = {&p->kernels[i], s->args[i]};
	if (rt_pool_start(c->pool, async_part, &j)) { /* no worker: in order */
		for (int q = i; q < join; q++)
			rt_prog_kernel_run(&p->kernels[q], s->args[q], flag_of(s, q), c->pool);
		return;
	}
	for (int q = i + 1; q < join; q++)
		rt_prog_kernel_run(&p->kernels[q], s->args[q], flag_of(s, q), NULL);
	rt_pool_wait(c->pool);
}

static int cpu_run(rt_device *d, void *plan, const rt_dev_sched *s, rt_err *err)
{
	cpu_dev *c = cpu_of(d);
	const rt_prog *p = s->p;
	const rt_dev_cpu_plan *pl = plan;
	/* GEMMs are split over our pool: OpenBLAS must not add threads of its
	 * own (another exec or library may have changed its setting) */
	openblas_set_num_threads(1);
	for (int i = 0; i < p->nkernels; i++) {
		if (p->kernels[i].kind == RT_K_COMM) {
			if (rt_device_comm(d, &p->kernels[i], s->args[i], s->comm, err) != 0)
				return -1;
		} else if (p->kernels[i].kind == RT_K_CONV) {
			/* on oneDNN's own threads, while the pool's sleep or spin out */
			if (cpu_conv(d, &p->kernels[i], s->args[i], err) != 0)
				return -1;
		} else if (pl && pl->mm[i]) {
			if (rt_dev_cpu_gemm_bf16(&c->bf16, &p->kernels[i], s->args[i], c->pool, err) != 0)
				return -1;
		} else if (pl && pl->join[i] > i + 1) {
			run_beside(c, s, i, pl->join[i]);
			i = pl->join[i] - 1;
		} else {
			rt_prog_kernel_run(&p->kernels[i], s->args[i], flag_of(s, i), c->pool);
		}
		if (s->done) /* [0, i] complete, a GEMM beside included */
			s->done(s->done_ctx, i + 1);
	}
	return 0;
}

static void cpu_release(rt_device *d)
{
	if (!d)
		return;
	rt_pool_free(cpu_of(d)->pool);
	rt_conv_free(cpu_of(d)->conv);
	rt_dev_cpu_bf16_free(&cpu_of(d)->bf16);
	free(cpu_of(d));
}

rt_device *rt_dev_cpu_new(int threads, rt_err *err)
{
	cpu_dev *c = calloc(1, sizeof *c);
	if (!c) {
		rt_errf(err, "cpu: out of memory");
		return NULL;
	}
	int nt = threads > 0 ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	c->has_bf16 = rt_dev_cpu_has_bf16(getenv("SAMC_CPU_MASK"));
	c->threads = nt < 1 ? 1 : nt;
	if (!(c->pool = rt_pool_new(c->threads))) {
		rt_errf(err, "cpu: out of memory or threads for a pool of %d", c->threads);
		free(c);
		return NULL;
	}
	c->dev = (rt_device){
	    .name = "cpu", .memory = "host", .self = c, .alloc = cpu_alloc, .free = cpu_free,
	    .upload = cpu_move, .download = cpu_move, .copy = cpu_move, .host_view = cpu_view,
	    .supports = cpu_supports, .launch = cpu_launch, .gemm = cpu_gemm, .conv = cpu_conv,
	    .sync = cpu_sync,
	    .plan = cpu_plan, .run = cpu_run, .plan_free = cpu_plan_free, .release = cpu_release};
	return &c->dev;
}

rt_pool *rt_dev_cpu_pool(const rt_device *d)
{
	return d && d->release == cpu_release ? ((const cpu_dev *)d->self)->pool : NULL;
}

rt_exec *rt_prog_exec_new(const rt_prog *p, int threads, rt_err *err)
{
	rt_device *d = rt_dev_cpu_new(threads, err);
	rt_exec *x = d ? rt_runner_new(p, d, err) : NULL;
	if (x)
		x->pool = rt_dev_cpu_pool(d);
	return x;
}

int rt_prog_exec_bf16(const rt_exec *x)
{
	if (!x || !x->dev || x->dev->release != cpu_release)
		return -1;
	return ((const cpu_dev *)x->dev->self)->nbf16;
}

int rt_prog_exec_beside(const rt_exec *x)
{
	if (!x || !x->dev || x->dev->release != cpu_release)
		return -1;
	return ((const cpu_dev *)x->dev->self)->nbeside;
}
