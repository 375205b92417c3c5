/*
 * rt_aot_cuda.c - a CUDA trainer's execs (see rt_aot.h): the PTX it holds,
 * loaded into the CUDA device, run by the step runner.
 */
#include <stdio.h>
#include <string.h>

#include "rt_aot.h"
#include "rt_dev_cuda.h"
#include "rt_runner.h"

/* 90 for "compute_90", 0 for anything else */
static int arch_number(const char *a)
{
	int n = 0;
	return a && sscanf(a, "compute_%d", &n) == 1 ? n : 0;
}

rt_exec *rt_aot_cuda_exec(const rt_prog *p, const rt_aot_ptx *ptx, int nptx, const char *driver,
                          const char *blas, const char *dnn, rt_err *err)
{
	return rt_aot_cuda_exec_on(p, ptx, nptx, driver, blas, dnn, 0, err);
}

rt_exec *rt_aot_cuda_exec_on(const rt_prog *p, const rt_aot_ptx *ptx, int nptx,
                             const char *driver, const char *blas, const char *dnn, int ordinal,
                             rt_err *err)
{
	rt_dev_cuda_opts o = {driver, blas, dnn, ordinal};
	rt_device *dev = rt_dev_cuda_new(&o, err);
	if (!dev)
		return NULL;
	int major = 0, minor = 0, best = -1;
	char desc[320];
	if (rt_dev_cuda_info(dev, &major, &minor, desc, sizeof desc, err)) {
		dev->release(dev);
		return NULL;
	}
	/* the newest PTX the GPU runs: PTX is forward compatible */
	for (int i = 0; i < nptx; i++) {
		int a = arch_number(ptx[i].arch);
		if (a && a <= major * 10 + minor && (best < 0 || a > arch_number(ptx[best].arch)))
			best = i;
	}
	if (best < 0) {
		rt_errf(err, "cuda: this trainer holds PTX for %s%s%s, newer than %s: rebuild it with "
		        "samc build --device cuda --cuda-arch compute_%d%d", nptx ? ptx[0].arch : "none",
		        nptx > 1 ? " to " : "", nptx > 1 ? ptx[nptx - 1].arch : "", desc, major, minor);
		dev->release(dev);
		return NULL;
	}
	if (rt_dev_cuda_load(dev, ptx[best].ptx, err)) {
		dev->release(dev);
		return NULL;
	}
	return rt_runner_new(p, dev, err); /* owns dev */
}
