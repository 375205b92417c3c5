/*
 * cg_nvrtc.c - NVRTC in-process (see cg_nvrtc.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_nvrtc.h"

const cg_cuda_kernel *cg_cuda_kernel_at_line(const cg_cuda_mod *m, int line)
{
	const cg_cuda_kernel *hit = NULL;
	for (int i = 0; i < m->nk; i++)
		if (m->k[i].line <= line)
			hit = &m->k[i];
	return hit;
}

int cg_nvrtc_arch_list(const char *spec, char (*out)[24], int max, char *err, size_t errlen)
{
	if (!spec || !*spec)
		spec = CG_NVRTC_DEFAULT_ARCH;
	int n = 0;
	for (const char *p = spec; *p;) {
		size_t len = strcspn(p, ",");
		int v, used = 0;
		char one[24];
		snprintf(one, sizeof one, "%.*s", (int)(len < sizeof one - 1 ? len : sizeof one - 1), p);
		if (len >= sizeof one || sscanf(one, "compute_%d%n", &v, &used) != 1 ||
		    used != (int)len || v < 75 || v > 121) {
			snprintf(err, errlen, "cuda: '%.*s' is not a virtual architecture NVRTC compiles "
			         "for (compute_75 to compute_121, e.g. compute_90)", (int)len, p);
			return -1;
		}
		if (n == max) {
			snprintf(err, errlen, "cuda: more than %d architectures in '%s'", max, spec);
			return -1;
		}
		memcpy(out[n++], one, sizeof one);
		p += len;
		if (*p == ',')
			p++;
	}
	return n;
}

#ifdef SAMC_HAVE_NVRTC
#include <nvrtc.h>

int cg_nvrtc_available(void)
{
	return 1;
}

/* "samc.cu(123): error: ..." -> 123, the first error's line */
static int first_error_line(const char *log)
{
	for (const char *p = log; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		int line;
		if (sscanf(p, "samc.cu(%d): error", &line) == 1 || sscanf(p, "samc.cu(%d): catastrophic", &line) == 1)
			return line;
	}
	return 0;
}

static int compile(const cg_cuda_mod *m, const char *arch, int fast, cg_nvrtc_where_fn where,
                   void *ctx, char **ptx, size_t *len, char *err, size_t errlen)
{
	char opt_arch[64];
	snprintf(opt_arch, sizeof opt_arch, "--gpu-architecture=%s", arch ? arch : CG_NVRTC_DEFAULT_ARCH);
	/* exact IEEE division and square root, as the other backends: only
	 * FMA contraction remains a difference */
	const char *opts[] = {opt_arch, "--std=c++17", "--prec-div=true", "--prec-sqrt=true",
	                      "--ftz=false", "--diag-suppress=177", "--Ofast-compile=max"};
	int nopts = (int)(sizeof opts / sizeof *opts) - !fast;
	nvrtcProgram p;
	nvrtcResult r = nvrtcCreateProgram(&p, m->src, "samc.cu", 0, NULL, NULL);
	if (r != NVRTC_SUCCESS) {
		snprintf(err, errlen, "cuda: NVRTC cannot create a program: %s", nvrtcGetErrorString(r));
		return -1;
	}
	r = nvrtcCompileProgram(p, nopts, opts);
	if (r != NVRTC_SUCCESS) {
		size_t n = 0;
		char *log = NULL;
		if (nvrtcGetProgramLogSize(p, &n) == NVRTC_SUCCESS && (log = malloc(n + 1)) &&
		    nvrtcGetProgramLog(p, log) == NVRTC_SUCCESS)
			log[n] = 0;
		else if (log)
			log[0] = 0;
		const cg_cuda_kernel *k = log ? cg_cuda_kernel_at_line(m, first_error_line(log)) : NULL;
		const char *w = k && where ? where(ctx, k) : NULL;
		if (k)
			snprintf(err, errlen, "cuda: NVRTC cannot compile kernel %s%s%s (%s): %s",
			         k->name, w ? " from " : "", w ? w : "", arch ? arch : CG_NVRTC_DEFAULT_ARCH,
			         log ? log : nvrtcGetErrorString(r));
		else
			snprintf(err, errlen, "cuda: NVRTC cannot compile the program (%s): %s",
			         arch ? arch : CG_NVRTC_DEFAULT_ARCH, log ? log : nvrtcGetErrorString(r));
		free(log);
		nvrtcDestroyProgram(&p);
		return -1;
	}
	size_t n = 0;
	char *out = NULL;
	if (nvrtcGetPTXSize(p, &n) != NVRTC_SUCCESS || !(out = malloc(n + 1)) ||
	    nvrtcGetPTX(p, out) != NVRTC_SUCCESS) {
		free(out);
		nvrtcDestroyProgram(&p);
		snprintf(err, errlen, "cuda: NVRTC gave no PTX");
		return -1;
	}
	out[n] = 0;
	nvrtcDestroyProgram(&p);
	*ptx = out;
	*len = strlen(out);
	return 0;
}

int cg_nvrtc_version(int *major, int *minor)
{
	if (nvrtcVersion(major, minor) != NVRTC_SUCCESS)
		*major = *minor = 0;
	return 0;
}

int cg_nvrtc_arch_for(int major, int minor, char *out, size_t len, char *err, size_t errlen)
{
	int n = 0, want = major * 10 + minor, best = 0;
	int *archs = NULL;
	if (nvrtcGetNumSupportedArchs(&n) != NVRTC_SUCCESS || n < 1 ||
	    !(archs = calloc((size_t)n, sizeof *archs)) ||
	    nvrtcGetSupportedArchs(archs) != NVRTC_SUCCESS) {
		free(archs);
		snprintf(err, errlen, "cuda: NVRTC cannot list the architectures it supports");
		return -1;
	}
	/* the newest NVRTC knows that the GPU runs: PTX is forward compatible */
	for (int i = 0; i < n; i++)
		if (archs[i] <= want && archs[i] > best)
			best = archs[i];
	int oldest = archs[0];
	free(archs);
	if (!best) {
		snprintf(err, errlen, "cuda: the GPU's compute capability %d.%d is older than any "
		         "architecture this NVRTC compiles for (the oldest is compute_%d)", major, minor,
		         oldest);
		return -1;
	}
	snprintf(out, len, "compute_%d", best);
	return 0;
}

int cg_nvrtc_compile(const cg_cuda_mod *m, const char *arch, cg_nvrtc_where_fn where, void *ctx,
                     char **ptx, size_t *len, char *err, size_t errlen)
{
	return compile(m, arch, 0, where, ctx, ptx, len, err, errlen);
}

int cg_nvrtc_compile_fast(const cg_cuda_mod *m, const char *arch, char **ptx, size_t *len,
                          char *err, size_t errlen)
{
	return compile(m, arch, 1, NULL, NULL, ptx, len, err, errlen);
}

#else

int cg_nvrtc_available(void)
{
	return 0;
}

int cg_nvrtc_version(int *major, int *minor)
{
	*major = *minor = 0;
	return -1;
}

int cg_nvrtc_arch_for(int major, int minor, char *out, size_t len, char *err, size_t errlen)
{
	(void)major, (void)minor, (void)out, (void)len;
	snprintf(err, errlen, "cuda: this samc was built without the CUDA toolkit (NVRTC); "
	         "rebuild with it installed to compile CUDA C");
	return -1;
}

int cg_nvrtc_compile(const cg_cuda_mod *m, const char *arch, cg_nvrtc_where_fn where, void *ctx,
                     char **ptx, size_t *len, char *err, size_t errlen)
{
	(void)m, (void)arch, (void)where, (void)ctx, (void)ptx, (void)len;
	snprintf(err, errlen, "cuda: this samc was built without the CUDA toolkit (NVRTC); "
	         "rebuild with it installed to compile CUDA C");
	return -1;
}

int cg_nvrtc_compile_fast(const cg_cuda_mod *m, const char *arch, char **ptx, size_t *len,
                          char *err, size_t errlen)
{
	return cg_nvrtc_compile(m, arch, NULL, NULL, ptx, len, err, errlen);
}

#endif
