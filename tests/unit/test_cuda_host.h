/*
 * test_cuda_host.h - runs a step's generated CUDA C on the host: the CUDA
 * backend's rows render the kernels (codegen/cuda/cg_cuda.h), the host C++
 * compiler builds them against codegen/cuda/samc_cuda_host.h into a shared
 * object, and the CPU's step runner runs the schedule with them bound as
 * its loop kernels (GEMMs through the CPU's BLAS, commits as usual).
 *
 * One compile serves a whole test program: cuda_host_main runs the
 * program's cases twice. The first pass (output silenced) only collects:
 * each cuda_host_exec_new renders its step under a prefix of its own
 * ("c7_") into one module and returns the interpreter's exec; then the
 * module is compiled once; the second pass, the real one, makes the same
 * steps in the same order and binds each to its kernels.
 *
 * A test wraps an existing CPU test with
 *     #include "test_cuda_host.h"
 *     #define cg_cpu_exec_new cuda_host_exec_new
 *     #define main cases_main
 *     #include "test_cg_ops.c"
 *     #undef main
 *     int main(void) { return cuda_host_main(cases_main, "test_cuda_ops", 1); }
 */
#ifndef SAMC_TEST_CUDA_HOST_H
#define SAMC_TEST_CUDA_HOST_H

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cg_cpu.h"
#include "cg_step.h"
#include "cuda/cg_cuda.h"
#include "cuda/cg_nvrtc.h"
#include "ir_interp.h"
#include "rt_dev_cpu.h"
#include "test_tmpdir.h"

typedef struct {
	int run;      /* 0: collecting, 1: running */
	int ncase;
	FILE *src;    /* collecting: the module's kernels */
	char *buf;
	size_t len;
	FILE *shims;  /* and their host entry points */
	char *sbuf;
	size_t slen;
	void *so;
	int nkernels;
	int conv_loops; /* f32 convolutions as generated kernels, not library calls */
} cuda_host_state;

static cuda_host_state cuda_host;

typedef struct {
	cg_step *step;
	rt_exec *inner;
} cuda_host_exec;

static inline void cuda_host_exec_free(rt_exec *x)
{
	if (!x)
		return;
	cuda_host_exec *s = x->self;
	if (s) {
		if (s->inner)
			s->inner->free(s->inner);
		cg_step_free(s->step);
		free(s);
	}
	free(x);
}

static inline int cuda_host_exec_run(rt_exec *x, void **slot_data, double *outputs, rt_err *err)
{
	cuda_host_exec *s = x->self;
	return s->inner->run(s->inner, slot_data, outputs, err);
}

/* The CPU exec's signature (cg_cpu.h), so it can stand in for it. */
static inline rt_exec *cuda_host_exec_new(ir_graph *g, ir_node *const *outs, const char *const *names,
                                   int nout, const cg_options *opt, char *err, size_t errlen)
{
	char prefix[32];
	snprintf(prefix, sizeof prefix, "c%d_", cuda_host.ncase++);
	cg_step_options so;
	cg_step_options_default(&so);
	so.cuda = 1;
	so.cuda_prefix = prefix;
	so.conv_loops = cuda_host.conv_loops || (opt && opt->conv_loops);
	cg_step *s = cg_step_new(g, outs, names, nout, &so, err, errlen);
	if (!s)
		return NULL;
	if (!cuda_host.run) {
		fputs(s->cuda->src, cuda_host.src);
		cg_cuda_host_shims(cuda_host.shims, s->cuda, s->prog);
		cuda_host.nkernels += s->cuda->nk;
		cg_step_free(s);
		return ir_interp_exec_new(g, outs, names, nout, err, errlen);
	}
	for (int i = 0; i < s->cuda->nk; i++) {
		const cg_cuda_kernel *ck = &s->cuda->k[i];
		rt_prog_kernel *rk = &s->kernels[ck->kernel];
		char sym[128];
		snprintf(sym, sizeof sym, "%s_host", ck->name);
		void *fn = cuda_host.so ? dlsym(cuda_host.so, sym) : NULL;
		if (!fn) {
			snprintf(err, errlen, "cuda host: no kernel %s in the compiled module", sym);
			cg_step_free(s);
			return NULL;
		}
		*(void **)&rk->fn = fn;
		rk->par_extent = 0; /* the launch covers the whole grid */
	}
	rt_exec *x = calloc(1, sizeof *x);
	cuda_host_exec *h = calloc(1, sizeof *h);
	rt_err e = {{0}};
	if (!x || !h || !(h->inner = rt_prog_exec_new(&s->desc, 1, &e))) {
		snprintf(err, errlen, "cuda host: %.400s", x && h ? e.msg : "out of memory");
		free(x);
		free(h);
		cg_step_free(s);
		return NULL;
	}
	h->step = s;
	x->self = h;
	x->backend = "cuda-host";
	x->run = cuda_host_exec_run;
	x->free = cuda_host_exec_free;
	x->slots = h->inner->slots;
	x->nslots = h->inner->nslots;
	x->outputs = h->inner->outputs;
	x->noutputs = h->inner->noutputs;
	x->pool = h->inner->pool;
	x->dev = h->inner->dev;
	return x;
}

static inline double cuda_host_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Assembles ptx for `sm` ("sm_90") with the toolkit's ptxas (flags: more
 * options) in dir; the most registers and shared-memory bytes a kernel
 * uses. 0, 1 when there is no ptxas, -1 when it fails (message printed). */
static inline int cuda_host_ptxas(const char *ptx, size_t len, const char *sm, const char *flags,
                           const char *dir, int *regs, long *smem)
{
	if (!SAMC_PTXAS[0])
		return 1;
	char path[4200], cmd[9000], line[1024];
	snprintf(path, sizeof path, "%s/kernels_%s.ptx", dir, sm);
	FILE *f = fopen(path, "w");
	if (!f || fwrite(ptx, 1, len, f) != len) {
		if (f)
			fclose(f);
		fprintf(stderr, "cuda host: cannot write %s\n", path);
		return -1;
	}
	fclose(f);
	snprintf(cmd, sizeof cmd, "%s -arch=%s %s -v %s -o %s/kernels_%s.cubin 2>&1", SAMC_PTXAS, sm,
	         flags, path, dir, sm);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	*regs = 0;
	*smem = 0;
	int errors = 0;
	while (fgets(line, sizeof line, p)) {
		const char *u = strstr(line, "Used ");
		int r;
		long b;
		if (u && sscanf(u, "Used %d registers", &r) == 1 && r > *regs)
			*regs = r;
		const char *sm_at = strstr(line, " bytes smem");
		if (sm_at) {
			const char *q = sm_at;
			while (q > line && q[-1] != ' ' && q[-1] != ',')
				q--;
			if (sscanf(q, "%ld", &b) == 1 && b > *smem)
				*smem = b;
		}
		if (strstr(line, "error") && errors++ < 5)
			fputs(line, stderr);
	}
	int st = pclose(p);
	if (st != 0 || errors) {
		fprintf(stderr, "cuda host: ptxas failed: %s\n", cmd);
		return -1;
	}
	return 0;
}

/* NVRTC (fastest mode) over the collected kernels, and ptxas for sm_90
 * when `ptxas`. */
static inline int cuda_host_check_ptx(const char *name, const char *dir, int ptxas)
{
	if (!cg_nvrtc_available()) {
		fprintf(stderr, "%s: NVRTC: this build has no CUDA toolkit: skipped\n", name);
		return 0;
	}
	cg_cuda_mod view;
	memset(&view, 0, sizeof view);
	view.src = cuda_host.buf;
	view.len = cuda_host.len;
	char *ptx = NULL, err[8192];
	size_t plen = 0;
	double t0 = cuda_host_now();
	if (cg_nvrtc_compile_fast(&view, "compute_90", &ptx, &plen, err, sizeof err)) {
		fprintf(stderr, "%s: %.4000s\n", name, err);
		return -1;
	}
	double t1 = cuda_host_now();
	int regs;
	long smem;
	int rc = ptxas ? cuda_host_ptxas(ptx, plen, "sm_90", "-Ofc max", dir, &regs, &smem) : 1;
	free(ptx);
	if (rc < 0)
		return -1;
	if (rc == 0)
		fprintf(stderr, "%s: NVRTC (fast) %.2f s, ptxas sm_90 %.2f s: at most %d registers, %ld "
		        "bytes of shared memory per kernel\n", name, t1 - t0, cuda_host_now() - t1, regs,
		        smem);
	else
		fprintf(stderr, "%s: NVRTC (fast) %.2f s; not assembled\n", name, t1 - t0);
	return 0;
}

/* Compiles the collected module into dir/kernels.so and opens it. */
static inline int cuda_host_compile(const char *dir)
{
	char cu[4200], so[4200], cmd[12000];
	snprintf(cu, sizeof cu, "%s/kernels.cu", dir);
	snprintf(so, sizeof so, "%s/kernels.so", dir);
	FILE *f = fopen(cu, "w");
	if (!f || fwrite(cuda_host.buf, 1, cuda_host.len, f) != cuda_host.len ||
	    fwrite(cuda_host.sbuf, 1, cuda_host.slen, f) != cuda_host.slen) {
		if (f)
			fclose(f);
		fprintf(stderr, "cuda host: cannot write %s\n", cu);
		return -1;
	}
	fclose(f);
	/* -O1: the kernels run a few steps; compile time dominates */
	snprintf(cmd, sizeof cmd,
	         "c++ -std=c++17 -O0 -fPIC -shared -w -include %s/codegen/cuda/samc_cuda_host.h "
	         "-x c++ %s -o %s", SAMC_SOURCE_DIR, cu, so);
	if (system(cmd) != 0) {
		fprintf(stderr, "cuda host: the host compiler failed on %s:\n  %s\n", cu, cmd);
		return -1;
	}
	if (!(cuda_host.so = dlopen(so, RTLD_NOW | RTLD_LOCAL))) {
		fprintf(stderr, "cuda host: %s\n", dlerror());
		return -1;
	}
	return 0;
}

/* Runs cases() collecting, compiles (for the host, with NVRTC, and with
 * ptxas when `ptxas`), runs cases() for real. 77 (skipped) when there is
 * no host C++ compiler. */
static inline int cuda_host_main(int (*cases)(void), const char *name, int ptxas)
{
	if (system("c++ --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "%s: no host C++ compiler (c++): skipped\n", name);
		return 77;
	}
	char dir[4096];
	if (tmpdir_make(dir, sizeof dir, name)) {
		fprintf(stderr, "%s: cannot make a directory\n", name);
		return 1;
	}
	double t0 = cuda_host_now();
	cuda_host.src = open_memstream(&cuda_host.buf, &cuda_host.len);
	cuda_host.shims = open_memstream(&cuda_host.sbuf, &cuda_host.slen);
	/* the collecting pass compares the interpreter with itself: quiet */
	fflush(stdout);
	fflush(stderr);
	int out = dup(1), errfd = dup(2), null = open("/dev/null", O_WRONLY);
	dup2(null, 1);
	dup2(null, 2);
	cases();
	fflush(stdout);
	fflush(stderr);
	dup2(out, 1);
	dup2(errfd, 2);
	close(out);
	close(errfd);
	close(null);
	fclose(cuda_host.src);
	fclose(cuda_host.shims);
	double t1 = cuda_host_now();
	int rc = cuda_host_compile(dir);
	double t2 = cuda_host_now();
	fprintf(stderr, "%s: %d steps, %d CUDA kernels (%zu bytes of CUDA C): collected in %.2f s, "
	        "host-compiled in %.2f s\n", name, cuda_host.ncase, cuda_host.nkernels, cuda_host.len,
	        t1 - t0, t2 - t1);
	if (cuda_host_check_ptx(name, dir, ptxas))
		rc = 1;
	if (rc == 0) {
		cuda_host.run = 1;
		cuda_host.ncase = 0;
		double t3 = cuda_host_now();
		rc = cases();
		fprintf(stderr, "%s: ran in %.2f s\n", name, cuda_host_now() - t3);
	}
	if (cuda_host.so)
		dlclose(cuda_host.so);
	free(cuda_host.buf);
	free(cuda_host.sbuf);
	/* SAMC_CUDA_KEEP=1 keeps the module and the shared object to look at */
	if (rc == 0 && !getenv("SAMC_CUDA_KEEP"))
		tmpdir_remove(dir);
	else
		fprintf(stderr, "%s: the module is in %s\n", name, dir);
	return rc;
}

#endif
