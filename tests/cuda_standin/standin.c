/*
 * standin.c - a host stand-in for the CUDA driver and cuBLAS, for tests on
 * machines without a GPU: a shared library exporting the entry points
 * rt_cuda_drv.h and rt_cuda_blas.h resolve, under the same ABI symbols,
 * over host memory. Tests select it with SAMC_CUDA_DRIVER and
 * SAMC_CUDA_BLAS.
 *
 * One device, "samc host stand-in", of compute capability 9.0 under a
 * driver of version 13000. Device memory is host memory (cuMemAlloc is an
 * aligned calloc, copies are memcpy). cuModuleLoadData(image) looks in the
 * PTX cache directory ($SAMC_CACHE_DIR, which the tests set) for the
 * HASH.ptx whose bytes are the image, and compiles the sibling HASH.cu (the
 * CUDA C that PTX came from) with the host C++ compiler against
 * codegen/cuda/samc_cuda_host.h into HASH.standin.so, once. A kernel is
 * that object's NAME_hostlaunch(grid, block, params), which the renderer
 * writes under SAMC_CUDA_HOST: cuLaunchKernel runs the very kernel with
 * the grid, the block and the parameters the device passed. cuBLAS is in
 * standin_blas.c.
 *
 * It counts transfers and launches (samc_standin_counts) so tests can hold
 * a device to the traffic it should have.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dlfcn.h>
#include <unistd.h>


#include "standin.h"

standin_counts counts;
static int initialised;

EXPORT void samc_standin_counts(standin_counts *out)
{
	*out = counts;
}

EXPORT void samc_standin_reset(void)
{
	memset(&counts, 0, sizeof counts);
}

/* ---- the driver ---- */

EXPORT CUresult cuInit(unsigned flags)
{
	if (flags)
		return INVALID_VALUE;
	initialised = 1;
	return OK;
}

EXPORT CUresult cuDriverGetVersion(int *v)
{
	*v = 13000;
	return OK;
}

static const char *err_name(CUresult e)
{
	switch (e) {
	case OK: return "CUDA_SUCCESS";
	case INVALID_VALUE: return "CUDA_ERROR_INVALID_VALUE";
	case OUT_OF_MEMORY: return "CUDA_ERROR_OUT_OF_MEMORY";
	case NOT_INITIALIZED: return "CUDA_ERROR_NOT_INITIALIZED";
	case INVALID_DEVICE: return "CUDA_ERROR_INVALID_DEVICE";
	case INVALID_IMAGE: return "CUDA_ERROR_INVALID_IMAGE";
	case FILE_NOT_FOUND: return "CUDA_ERROR_FILE_NOT_FOUND";
	case NOT_FOUND: return "CUDA_ERROR_NOT_FOUND";
	case LAUNCH_FAILED: return "CUDA_ERROR_LAUNCH_FAILED";
	case NOT_READY: return "CUDA_ERROR_NOT_READY";
	default: return NULL;
	}
}

EXPORT CUresult cuGetErrorName(CUresult e, const char **s)
{
	return (*s = err_name(e)) ? OK : INVALID_VALUE;
}

EXPORT CUresult cuGetErrorString(CUresult e, const char **s)
{
	*s = e == INVALID_IMAGE ? "the host stand-in finds no CUDA C for this PTX in $SAMC_CACHE_DIR"
	   : e == NOT_FOUND ? "named symbol not found"
	   : err_name(e) ? "error in the samc host stand-in" : NULL;
	return *s ? OK : INVALID_VALUE;
}

/* one GPU, or $SAMC_STANDIN_GPUS of them (the ranks of a multi-GPU test
 * each take one); all address the one host memory */
static int ngpus(void)
{
	const char *s = getenv("SAMC_STANDIN_GPUS");
	int n = s ? atoi(s) : 1;
	return n >= 1 && n <= 64 ? n : 1;
}

EXPORT CUresult cuDeviceGetCount(int *n)
{
	*n = ngpus();
	return initialised ? OK : NOT_INITIALIZED;
}

EXPORT CUresult cuDeviceGet(int *d, int ordinal)
{
	if (ordinal < 0 || ordinal >= ngpus())
		return INVALID_DEVICE;
	*d = ordinal;
	return OK;
}

EXPORT CUresult cuDeviceGetName(char *name, int len, int d)
{
	if (d < 0 || d >= ngpus())
		return INVALID_DEVICE;
	snprintf(name, (size_t)len, "samc host stand-in");
	return OK;
}

EXPORT CUresult cuDeviceGetAttribute(int *v, int attr, int d)
{
	if (d < 0 || d >= ngpus())
		return INVALID_DEVICE;
	const char *base = getenv("SAMC_STANDIN_PCI_BASE");
	if (attr == 75) /* compute capability major, minor */
		*v = 9;
	else if (attr == 76)
		*v = 0;
	else if (attr == 33) /* PCI bus: ordinal + $SAMC_STANDIN_PCI_BASE, so a test gives
	                      * each rank a GPU of its own as CUDA_VISIBLE_DEVICES would */
		*v = d + (base ? atoi(base) : 0);
	else if (attr == 34 || attr == 50) /* PCI device, domain */
		*v = 0;
	else
		return INVALID_VALUE;
	return OK;
}

static int the_ctx;

EXPORT CUresult cuDevicePrimaryCtxRetain(void **c, int d)
{
	if (d < 0 || d >= ngpus())
		return INVALID_DEVICE;
	*c = &the_ctx;
	return OK;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(int d)
{
	return d >= 0 && d < ngpus() ? OK : INVALID_DEVICE;
}

EXPORT CUresult cuCtxCreate_v2(void **c, unsigned flags, int d)
{
	(void)flags;
	return cuDevicePrimaryCtxRetain(c, d);
}

EXPORT CUresult cuCtxDestroy_v2(void *c)
{
	return c == &the_ctx ? OK : INVALID_VALUE;
}

EXPORT CUresult cuCtxSetCurrent(void *c)
{
	return c == &the_ctx || !c ? OK : INVALID_VALUE;
}

EXPORT CUresult cuCtxSynchronize(void)
{
	standin_wait_pending();
	return OK;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n)
{
	void *m = aligned_alloc(256, (n + 255) / 256 * 256);
	if (!m)
		return OUT_OF_MEMORY;
	/* not zeroed: cuMemAlloc's memory is not */
	memset(m, 0xA5, (n + 255) / 256 * 256);
	*p = (CUdeviceptr)(uintptr_t)m;
	counts.mem_alloc++;
	return OK;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr p)
{
	free((void *)(uintptr_t)p);
	return OK;
}

EXPORT CUresult cuMemsetD8_v2(CUdeviceptr p, unsigned char v, size_t n)
{
	counts.memset++;
	memset((void *)(uintptr_t)p, v, n);
	return OK;
}

EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n)
{
	counts.up++;
	counts.up_bytes += (long long)n;
	memcpy((void *)(uintptr_t)dst, src, n);
	return OK;
}

EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n)
{
	standin_wait_stream(NULL);
	counts.down++;
	counts.down_bytes += (long long)n;
	memcpy(dst, (const void *)(uintptr_t)src, n);
	return OK;
}

EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n)
{
	standin_wait_stream(NULL);
	counts.copy++;
	counts.copy_bytes += (long long)n;
	memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n);
	return OK;
}

/* ---- pinned memory, streams and events: the host runs every copy when
 * it is asked for, so each is done before the next call, in any order a
 * stream or event could ask for ---- */

EXPORT CUresult cuMemHostAlloc(void **p, size_t n, unsigned flags)
{
	(void)flags;
	if (!(*p = malloc(n ? n : 1)))
		return OUT_OF_MEMORY;
	counts.host_alloc++;
	return OK;
}

EXPORT CUresult cuMemFreeHost(void *p)
{
	free(p);
	return OK;
}

EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, void *s)
{
	if (s)
		counts.up_async++;
	standin_wait_stream(s);
	return cuMemcpyHtoD_v2(dst, src, n);
}

EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void *s)
{
	if (s)
		counts.copy_async++;
	standin_wait_stream(s);
	return cuMemcpyDtoD_v2(dst, src, n);
}

/* ---- modules: the CUDA C behind a PTX image, compiled for the host ---- */

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0, r;
	do {
		if (n + 65536 > cap) {
			char *nb = realloc(buf, cap = (n + 65536) * 2);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
	} while ((r = fread(buf + n, 1, cap - n, f)) > 0 && (n += r));
	fclose(f);
	*len = n;
	return buf;
}

/* dir/HASH.ptx whose bytes are image: HASH into out */
static int find_ptx(const char *dir, const char *image, char *out, size_t outlen)
{
	size_t ilen = strlen(image);
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *e;
	int found = -1;
	while (found && (e = readdir(d))) {
		size_t nl = strlen(e->d_name);
		if (nl < 5 || strcmp(e->d_name + nl - 4, ".ptx") != 0)
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		size_t len;
		char *b = read_all(path, &len);
		if (b && len == ilen && memcmp(b, image, len) == 0) {
			snprintf(out, outlen, "%.*s", (int)(nl - 4), e->d_name);
			found = 0;
		}
		free(b);
	}
	closedir(d);
	return found;
}

EXPORT CUresult cuModuleLoadData(void **mod, const void *image)
{
	const char *dir = getenv("SAMC_CACHE_DIR");
	char hash[256], cu[4400], so[4400], tmp[4500], cmd[14000];
	if (!dir || find_ptx(dir, image, hash, sizeof hash) != 0) {
		fprintf(stderr, "samc host stand-in: no PTX in SAMC_CACHE_DIR (%s) is this module\n",
		        dir ? dir : "unset");
		return INVALID_IMAGE;
	}
	snprintf(cu, sizeof cu, "%s/%s.cu", dir, hash);
	snprintf(so, sizeof so, "%s/%s.standin.so", dir, hash);
	/* compiled once per module, again when the built-ins' header is newer */
	struct stat st, hs;
	if (stat(so, &st) != 0 || (stat(SAMC_SOURCE_DIR "/codegen/cuda/samc_cuda_host.h", &hs) == 0 &&
	                           hs.st_mtime > st.st_mtime)) {
		snprintf(tmp, sizeof tmp, "%s.%d.tmp", so, (int)getpid());
		snprintf(cmd, sizeof cmd,
		         "c++ -std=c++17 -O1 -fPIC -shared -w -DSAMC_CUDA_HOST -include "
		         "%s/codegen/cuda/samc_cuda_host.h -x c++ %s -o %s",
		         SAMC_SOURCE_DIR, cu, tmp);
		if (system(cmd) != 0 || rename(tmp, so) != 0) {
			fprintf(stderr, "samc host stand-in: the host compiler failed: %s\n", cmd);
			unlink(tmp);
			return INVALID_IMAGE;
		}
	}
	void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "samc host stand-in: %s\n", dlerror());
		return INVALID_IMAGE;
	}
	*mod = h;
	return OK;
}

EXPORT CUresult cuModuleUnload(void *mod)
{
	return mod && dlclose(mod) == 0 ? OK : INVALID_VALUE;
}

/* each function's parameter count (NAME_hostnparams), for capture */
#define MAX_FUNCS 16384
static struct {
	void *fn;
	int np;
} funcs[MAX_FUNCS];
static int nfuncs;

int standin_nparams(void *f)
{
	for (int i = 0; i < nfuncs; i++)
		if (funcs[i].fn == f)
			return funcs[i].np;
	return -1;
}

EXPORT CUresult cuModuleGetFunction(void **f, void *mod, const char *name)
{
	char sym[512];
	snprintf(sym, sizeof sym, "%s_hostlaunch", name);
	if (!(*f = dlsym(mod, sym)))
		return NOT_FOUND;
	snprintf(sym, sizeof sym, "%s_hostnparams", name);
	const int *np = dlsym(mod, sym);
	if (np && standin_nparams(*f) < 0 && nfuncs < MAX_FUNCS) {
		funcs[nfuncs].fn = *f;
		funcs[nfuncs++].np = *np;
	}
	return OK;
}

EXPORT CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                               unsigned by, unsigned bz, unsigned shared, void *stream,
                               void **params, void **extra)
{
	/* what samc's launches are: 1-D grids of 1-D blocks, static shared memory */
	if (!f || !params || extra || gy != 1 || gz != 1 || by != 1 || bz != 1 || shared ||
	    gx < 1 || bx < 1 || bx > 1024)
		return INVALID_VALUE;
	if (stream && stream == standin_capturing)
		return standin_record(f, gx, bx, params);
	standin_wait_stream(stream);
	counts.launch++;
	hostlaunch_fn fn;
	*(void **)&fn = f;
	fn(gx, bx, params);
	return OK;
}
