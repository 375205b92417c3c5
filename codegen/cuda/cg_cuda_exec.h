/*
 * cg_cuda_exec.h - the CUDA backend's rt_exec: a step compiled through the
 * CUDA rows (cg_step.h: lowrank .. gpusplit, cuda; f32 convolutions as
 * cuDNN calls, f64 ones as generated kernels), its CUDA C compiled by NVRTC for the device's
 * architecture (or taken from the PTX cache), loaded into a CUDA device
 * (runtime/rt_dev_cuda.h) and run by the runtime's step runner, as the CPU
 * exec runs its table on the CPU device.
 *
 * The PTX cache: HASH.ptx, keyed by a hash of the CUDA C source, the
 * architecture and NVRTC's version, and HASH.cu, the source, for people
 * to read. Both are written atomically (a temporary file, then rename);
 * a second run with the same program skips NVRTC. A cache that cannot be
 * written is not an error.
 */
#ifndef SAMC_CG_CUDA_EXEC_H
#define SAMC_CG_CUDA_EXEC_H

#include <stddef.h>

#include "cg_cuda.h"
#include "cg_nvrtc.h"
#include "cg_step.h"
#include "ir.h"
#include "pass_table.h"
#include "rt_exec.h"
#include "rt_prog.h"

typedef struct {
	pass_options pass;
	const char *driver;    /* the driver library; NULL: libcuda.so.1 */
	const char *blas;      /* cuBLAS; NULL: libcublas.so.13 */
	const char *dnn;       /* cuDNN; NULL: libcudnn.so.9 (opened only for convolutions) */
	const char *cache_dir; /* the PTX cache; NULL or "": none */
	int ordinal;           /* which GPU */
} cg_cuda_options;

void cg_cuda_options_default(cg_cuda_options *o);

/* The cache directory from the environment: $SAMC_CACHE_DIR, else
 * $XDG_CACHE_HOME/samc, else $HOME/.cache/samc; "" when none is set. */
void cg_cuda_cache_dir(char *buf, size_t len);

/* The cache key of a module's source for arch and this NVRTC: 32 hex
 * digits. */
void cg_cuda_ptx_key(const char *src, size_t len, const char *arch, char out[33]);

/* The PTX of m for arch: dir/KEY.ptx when it is there, else NVRTC's
 * (where names kernels in its messages), then written to dir with m's
 * source beside it. *cached says which. dir may be NULL (no cache). */
int cg_cuda_ptx(const cg_cuda_mod *m, const char *arch, const char *dir,
                cg_nvrtc_where_fn where, void *ctx, char **ptx, size_t *len, int *cached,
                char *err, size_t errlen);

/* A step compiled through the CUDA rows up to `cuda` (cg_step.h) gets its
 * PTX for each architecture of the list archs ("compute_80,compute_90";
 * NULL: the default) in s->ptx, through the cache: what `samc build
 * --device cuda` embeds. */
int cg_cuda_step_ptx(cg_step *s, const char *archs, const char *cache_dir, char *err,
                     size_t errlen);

/* The exec of a program on the CUDA device (o may be NULL: defaults).
 * NULL with a message: no driver or GPU, NVRTC's error, ... */
rt_exec *cg_cuda_exec_new(ir_graph *g, ir_node *const *outs, const char *const *out_names,
                          int nout, const cg_cuda_options *o, char *err, size_t errlen);

/* "samc host stand-in (sm_90, driver 13.0), compute_90, PTX from the
 * cache" for an exec of cg_cuda_exec_new; NULL for any other exec. */
const char *cg_cuda_exec_describe(const rt_exec *x);

/* The step's table an exec of cg_cuda_exec_new runs (its loop kernels
 * named as in its module, with their launches); NULL for any other exec. */
const rt_prog *cg_cuda_exec_prog(const rt_exec *x);

#endif
