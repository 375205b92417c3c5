/*
 * rt_prog.c - runs a compiled step's table (see rt_prog.h): binds buffers,
 * runs kernels (split over the pool) and GEMMs (OpenBLAS), reads outputs,
 * commits assigns.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "rt_pool.h"
#include "rt_prog.h"

#define RT_PROG_MAX_PARTS 64

typedef struct {
	const rt_prog *p;
	void **bufptr; /* per buffer, bound at each run */
	void **args;   /* per kernel argument, all kernels back to back */
	int *arg0;     /* per kernel: its first entry in args */
	char *arena;
	rt_pool *pool;
	int threads;
	int *join;     /* per kernel: > i when kernel i runs beside kernels (i, join) */
	int nasync;
} prog_exec;

typedef struct {
	rt_kernel_fn fn;
	void **args;
	int64_t ext;
	int rc[RT_PROG_MAX_PARTS];
} par_job;

static void par_part(void *ctx, int part, int nparts)
{
	par_job *j = ctx;
	int64_t lo = j->ext * part / nparts, hi = j->ext * (part + 1) / nparts;
	j->rc[part] = lo < hi ? j->fn(j->args, lo, hi) : 0;
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

static void run_syrk(const rt_prog_kernel *k, void **a, rt_pool *pool)
{
	int64_t m = k->m;
	int64_t h = (int64_t)((double)m / 1.41421356 / RT_PROG_GEMM_ALIGN + 0.5) * RT_PROG_GEMM_ALIGN;
	sym_job j = {k, a[0], a[2], h};
	int split = pool && rt_pool_threads(pool) > 1 && h > 0 && h < m &&
	            m * m * k->k >= RT_PROG_SYRK_PAR_MIN;
	if (split)
		rt_pool_run(pool, 2, sym_part, &j);
	else
		syrk_rows(k, j.a, j.c, 0, m);
	for (int64_t i = 0; i < m; i++) /* upper triangle from the lower */
		for (int64_t c = i + 1; c < m; c++) {
			if (k->f64)
				((double *)j.c)[i * m + c] = ((double *)j.c)[c * m + i];
			else
				((float *)j.c)[i * m + c] = ((float *)j.c)[c * m + i];
		}
}

/* A GEMM large enough is split over the pool along the longer side of C;
 * OpenBLAS itself runs single-threaded (rt_prog_exec_new), so the pool's
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

static double read_scalar(const void *v, rt_dtype t)
{
	return t == RT_F32 ? (double)*(const float *)v
	     : t == RT_F64 ? *(const double *)v : (double)*(const int32_t *)v;
}

int32_t rt_prog_kernel_run(const rt_prog_kernel *k, void **a, rt_pool *pool)
{
	if (k->kind == RT_PROG_GEMM) {
		if (a[0] == a[1] && !k->ta && k->tb && k->m == k->n)
			run_syrk(k, a, pool);
		else
			run_gemm(k, a, pool);
		return 0;
	}
	int threads = pool ? rt_pool_threads(pool) : 1;
	int64_t ext = k->par_extent;
	if (ext > 1 && threads > 1 && k->work >= RT_PROG_PAR_MIN_WORK) {
		par_job j;
		int parts = threads < ext ? threads : (int)ext;
		if (parts > RT_PROG_MAX_PARTS)
			parts = RT_PROG_MAX_PARTS;
		j.fn = k->fn;
		j.args = a;
		j.ext = ext;
		rt_pool_run(pool, parts, par_part, &j);
		int32_t rc = 0;
		for (int q = 0; q < parts && !rc; q++)
			rc = j.rc[q];
		return rc;
	}
	return k->fn(a, 0, ext);
}

static void bind_args(prog_exec *s, int i)
{
	const rt_prog_kernel *k = &s->p->kernels[i];
	void **a = s->args + s->arg0[i];
	for (int j = 0; j < k->nargs; j++)
		a[j] = s->bufptr[k->args[j]];
}

static int kernel_error(const rt_prog_kernel *k, int32_t rc, rt_err *err)
{
	return rt_errf(err, "%s: %s (code %d, input '%s')", k->fail_where ? k->fail_where : k->name,
	               k->fail_msg ? k->fail_msg : "kernel failed", (int)rc,
	               k->fail_input ? k->fail_input : "?");
}

/* Kernel i on the pool (or alone: pool NULL). */
static int run_kernel(prog_exec *s, int i, rt_pool *pool, rt_err *err)
{
	bind_args(s, i);
	int32_t rc = rt_prog_kernel_run(&s->p->kernels[i], s->args + s->arg0[i], pool);
	return rc ? kernel_error(&s->p->kernels[i], rc, err) : 0;
}

typedef struct {
	const rt_prog_kernel *k;
	void **a;
	int32_t rc;
} async_job;

static void async_part(void *ctx, int part, int nparts)
{
	async_job *j = ctx;
	(void)nparts;
	if (part == 1)
		j->rc = rt_prog_kernel_run(j->k, j->a, NULL);
}

/* Kernels [i, join): kernel i on the pool's worker, the rest beside it on
 * the calling thread, each alone (none of them would have been split). */
static int run_beside(prog_exec *s, int i, int join, rt_err *err)
{
	bind_args(s, i);
	async_job j = {&s->p->kernels[i], s->args + s->arg0[i], 0};
	int rc = 0;
	if (rt_pool_start(s->pool, async_part, &j)) { /* no worker: in order */
		for (int q = i; q < join && !rc; q++)
			rc = run_kernel(s, q, s->pool, err);
		return rc;
	}
	for (int q = i + 1; q < join && !rc; q++)
		rc = run_kernel(s, q, NULL, err);
	rt_pool_wait(s->pool);
	if (!rc && j.rc)
		rc = kernel_error(j.k, j.rc, err);
	return rc;
}

static int exec_run(rt_exec *x, void **slot_data, double *outputs, rt_err *err)
{
	prog_exec *s = x->self;
	const rt_prog *p = s->p;
	/* GEMMs are split over our pool: OpenBLAS must not add threads of its
	 * own (another exec or library may have changed its setting) */
	openblas_set_num_threads(1);
	for (int b = 0; b < p->nbufs; b++) {
		int sl = p->bufs[b].slot;
		if (sl >= 0) {
			if (!(s->bufptr[b] = slot_data[sl]))
				return rt_errf(err, "cpu: slot '%s' has no buffer", p->slots[sl].name);
		} else {
			s->bufptr[b] = s->arena + p->bufs[b].offset;
		}
	}
	for (int i = 0; i < p->nkernels; i++) {
		if (s->join[i] > i + 1) {
			if (run_beside(s, i, s->join[i], err))
				return -1;
			i = s->join[i] - 1;
		} else if (run_kernel(s, i, s->pool, err)) {
			return -1;
		}
	}
	for (int i = 0; i < p->noutputs; i++)
		outputs[i] = read_scalar(s->bufptr[p->outputs[i].buf], p->outputs[i].dtype);
	/* commits: first save values that sit in slots a commit overwrites */
	for (int i = 0; i < p->ncommits; i++) {
		const rt_prog_commit *c = &p->commits[i];
		if (c->snapshot >= 0)
			memcpy(s->bufptr[c->snapshot], s->bufptr[c->src], (size_t)p->bufs[c->snapshot].bytes);
	}
	for (int i = 0; i < p->ncommits; i++) {
		const rt_prog_commit *c = &p->commits[i];
		int from = c->snapshot >= 0 ? c->snapshot : c->src;
		if (s->bufptr[c->target] != s->bufptr[from])
			memcpy(s->bufptr[c->target], s->bufptr[from], (size_t)p->bufs[c->target].bytes);
	}
	return 0;
}

static void exec_free(rt_exec *x)
{
	if (!x)
		return;
	prog_exec *s = x->self;
	if (s) {
		rt_pool_free(s->pool);
		free(s->arena);
		free(s->bufptr);
		free(s->args);
		free(s->arg0);
		free(s->join);
		free(s);
	}
	free(x->slots);
	free(x->outputs);
	free(x);
}

static int bad_buf(const rt_prog *p, int b)
{
	return b < 0 || b >= p->nbufs;
}

/* A table from a file we wrote ourselves can still be stale or damaged:
 * refuse it with a message rather than crash in a kernel. */
static int check(const rt_prog *p, rt_err *err)
{
	if (p->nslots < 0 || p->nbufs < 0 || p->nkernels < 0 || p->noutputs < 0 || p->ncommits < 0 ||
	    p->arena_bytes < 0)
		return rt_errf(err, "cpu: malformed step table (negative count)");
	for (int b = 0; b < p->nbufs; b++) {
		const rt_prog_buf *bf = &p->bufs[b];
		if (bf->slot >= p->nslots || bf->bytes < 0 ||
		    (bf->slot < 0 && (bf->offset < 0 || bf->offset + bf->bytes > p->arena_bytes)))
			return rt_errf(err, "cpu: step table: buffer %d lies outside its slot or arena", b);
	}
	for (int i = 0; i < p->nkernels; i++) {
		const rt_prog_kernel *k = &p->kernels[i];
		if (k->kind == RT_PROG_LOOPS && !k->fn)
			return rt_errf(err, "cpu: kernel %d (%s) has no compiled function", i,
			               k->name ? k->name : "?");
		if (k->kind == RT_PROG_GEMM && k->nargs != 3)
			return rt_errf(err, "cpu: GEMM kernel %d has %d buffers, expected 3", i, k->nargs);
		for (int j = 0; j < k->nargs; j++)
			if (bad_buf(p, k->args[j]))
				return rt_errf(err, "cpu: kernel %d reads buffer %d, out of range", i, k->args[j]);
	}
	for (int i = 0; i < p->noutputs; i++)
		if (bad_buf(p, p->outputs[i].buf))
			return rt_errf(err, "cpu: output '%s' has no buffer", p->outputs[i].name);
	for (int i = 0; i < p->ncommits; i++) {
		const rt_prog_commit *c = &p->commits[i];
		if (bad_buf(p, c->src) || bad_buf(p, c->target) || c->snapshot >= p->nbufs ||
		    p->bufs[c->target].slot < 0)
			return rt_errf(err, "cpu: commit %d has buffers out of range", i);
	}
	return 0;
}

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
	return k->kind == RT_PROG_GEMM && k->args[0] == k->args[1] && !k->ta && k->tb && k->m == k->n;
}

/* rough one-thread nanoseconds: 40 multiply-adds or 2 elements per ns */
static double est_ns(const rt_prog_kernel *k)
{
	if (k->kind == RT_PROG_GEMM)
		return (double)k->m * (double)k->n * (double)k->k / (is_sym(k) ? 80.0 : 40.0);
	return (double)k->work / 2.0;
}

static int would_split(const rt_prog_kernel *k, int threads)
{
	if (threads < 2)
		return 0;
	if (k->kind == RT_PROG_LOOPS)
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
			int q_writes = q->kind == RT_PROG_LOOPS || a == 2, g_writes = b == 2;
			if ((q_writes || g_writes) && bufs_overlap(p, q->args[a], g->args[b]))
				return 1;
		}
	return 0;
}

static int plan_beside(const rt_prog *p, int threads, int *join)
{
	int n = 0;
	for (int i = 0; i < p->nkernels; i++)
		join[i] = 0;
	if (threads != 2)
		return 0;

	for (int i = 0; i < p->nkernels; i++) {
		const rt_prog_kernel *g = &p->kernels[i];
		if (g->kind != RT_PROG_GEMM || est_ns(g) < 20000)
			continue;
		double w = 0;
		int q = i + 1;
		while (q < p->nkernels && !would_split(&p->kernels[q], threads) &&
		       !conflicts(p, g, &p->kernels[q]))
			w += est_ns(&p->kernels[q++]);
		if (q > i + 1 && w >= RT_PROG_BESIDE_MIN * est_ns(g)) {
			join[i] = q;
			n++;
			i = q - 1;
		}
	}
	return n;
}

int rt_prog_exec_beside(const rt_exec *x)
{
	if (!x || !x->backend || strcmp(x->backend, "cpu") != 0 || x->run != exec_run)
		return -1;
	return ((const prog_exec *)x->self)->nasync;
}

rt_exec *rt_prog_exec_new(const rt_prog *p, int threads, rt_err *err)
{
	if (check(p, err))
		return NULL;
	rt_exec *x = calloc(1, sizeof *x);
	prog_exec *s = calloc(1, sizeof *s);
	if (!x || !s) {
		free(x);
		free(s);
		rt_errf(err, "cpu: out of memory");
		return NULL;
	}
	x->self = s;
	x->backend = "cpu";
	x->run = exec_run;
	x->free = exec_free;
	s->p = p;
	int nargs = 0;
	for (int i = 0; i < p->nkernels; i++)
		nargs += p->kernels[i].nargs;
	s->bufptr = calloc((size_t)p->nbufs + 1, sizeof *s->bufptr);
	s->args = calloc((size_t)nargs + 1, sizeof *s->args);
	s->arg0 = calloc((size_t)p->nkernels + 1, sizeof *s->arg0);
	s->join = calloc((size_t)p->nkernels + 1, sizeof *s->join);
	s->arena = aligned_alloc(64, (size_t)((p->arena_bytes + 64) / 64 * 64));
	x->slots = calloc((size_t)p->nslots + 1, sizeof *x->slots);
	x->outputs = calloc((size_t)p->noutputs + 1, sizeof *x->outputs);
	int nt = threads > 0 ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	s->threads = nt < 1 ? 1 : nt;
	s->pool = rt_pool_new(s->threads);
	if (!s->bufptr || !s->args || !s->arg0 || !s->join || !s->arena || !x->slots || !x->outputs ||
	    !s->pool) {
		exec_free(x);
		rt_errf(err, "cpu: out of memory (or no threads) for a step with a %lld-byte arena",
		        (long long)p->arena_bytes);
		return NULL;
	}
	x->pool = s->pool;
	s->nasync = plan_beside(p, s->threads, s->join);
	for (int i = 0, a = 0; i < p->nkernels; i++) {
		s->arg0[i] = a;
		a += p->kernels[i].nargs;
	}
	memcpy(x->slots, p->slots, (size_t)p->nslots * sizeof *x->slots);
	x->nslots = p->nslots;
	for (int i = 0; i < p->noutputs; i++)
		x->outputs[i] = p->outputs[i].name;
	x->noutputs = p->noutputs;
	return x;
}
