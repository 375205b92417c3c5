/*
 * rt_conv_lib.c - loads oneDNN and libgomp on first use (see rt_conv_lib.h).
 */
#include "rt_conv_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the library's functions: process-wide, like the library itself */
static rt_dnnl_api api;
static char load_err[512];
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded;         /* under load_lock */
static atomic_int lifted;  /* loaded without the AVX2 pin (a bf16 program's) */
static atomic_int holders; /* live rt_conv contexts */

/* omp_pause_soft of OpenMP 5's omp_pause_resource_t */
#define RT_OMP_PAUSE_SOFT 1

static void *sym(void *h, const char *lib, const char *name)
{
	void *p = dlsym(h, name);
	if (!p && !load_err[0])
		snprintf(load_err, sizeof load_err, "%s has no %s: a oneDNN 2.x (libdnnl2) is needed",
		         lib, name);
	return p;
}

static void load(int lift)
{
	if (!getenv("GOMP_SPINCOUNT") && !getenv("OMP_WAIT_POLICY"))
		setenv("GOMP_SPINCOUNT", "0", 0);
	const char *lib = "libdnnl.so.2";
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	/* oneDNN's own dependency: already loaded, this only finds it */
	void *g = h ? dlopen("libgomp.so.1", RTLD_NOW | RTLD_LOCAL) : NULL;
	if (!h || !g) {
		const char *why = dlerror();
		snprintf(load_err, sizeof load_err,
		         "cannot load %s (oneDNN, for convolutions on the CPU): %s; install Debian's "
		         "libdnnl2", h ? "libgomp.so.1" : lib, why ? why : "not found");
		return;
	}
#define RT_DNNL_LOAD(f) *(void **)&api.f = sym(h, lib, #f);
	RT_DNNL_FUNCS(RT_DNNL_LOAD)
	*(void **)&api.omp_get_max_threads = sym(g, "libgomp.so.1", "omp_get_max_threads");
	*(void **)&api.omp_set_num_threads = sym(g, "libgomp.so.1", "omp_set_num_threads");
	*(void **)&api.omp_pause_resource_all = sym(g, "libgomp.so.1", "omp_pause_resource_all");
	/* the instruction-set pin (rt_conv.h); fails harmlessly when oneDNN
	 * has already dispatched, which rt_conv_new checks. A bf16 program
	 * that loads the library first leaves it off: its bf16 kernels need
	 * AVX-512 BF16 or AMX */
	if (!load_err[0] && !lift)
		(void)api.dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx2);
	if (!load_err[0] && lift)
		atomic_store(&lifted, 1);
}

const rt_dnnl_api *rt_dnnl_load(int lift, rt_err *err)
{
	pthread_mutex_lock(&load_lock);
	if (!loaded)
		load(lift);
	loaded = 1;
	pthread_mutex_unlock(&load_lock);
	if (load_err[0]) {
		rt_errf(err, "conv2d: %s", load_err);
		return NULL;
	}
	return &api;
}

int rt_dnnl_lifted(void)
{
	return atomic_load(&lifted);
}

int rt_dnnl_bf16_isa(const rt_dnnl_api *a)
{
	/* the ISA values are nested bit sets; AMX's holds AVX-512 BF16's */
	unsigned isa = (unsigned)a->dnnl_get_effective_cpu_isa(), bf = dnnl_cpu_isa_avx512_core_bf16;
	return (isa & bf) == bf;
}

void rt_dnnl_hold(const rt_dnnl_api *a)
{
	(void)a;
	atomic_fetch_add(&holders, 1);
}

void rt_dnnl_drop(const rt_dnnl_api *a)
{
	if (atomic_fetch_sub(&holders, 1) == 1)
		(void)a->omp_pause_resource_all(RT_OMP_PAUSE_SOFT);
}
