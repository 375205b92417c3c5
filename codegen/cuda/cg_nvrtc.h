/*
 * cg_nvrtc.h - CUDA C to PTX in-process through NVRTC, when this build
 * found the CUDA toolkit (SAMC_HAVE_NVRTC); otherwise every call says so.
 */
#ifndef SAMC_CG_NVRTC_H
#define SAMC_CG_NVRTC_H

#include <stddef.h>

#include "cg_cuda.h"

/* The architecture PTX is made for when none is given. */
#define CG_NVRTC_DEFAULT_ARCH "compute_90"

/* Architectures one program is compiled for at most (`samc build` may
 * embed PTX for several). */
#define CG_NVRTC_MAX_ARCHS 8

/* A comma-separated list of virtual architectures ("compute_80,compute_90";
 * NULL or "" is the default) into out: their count, or -1 with a message
 * naming the bad entry (NVRTC of CUDA 13 knows compute_75 to compute_121). */
int cg_nvrtc_arch_list(const char *spec, char (*out)[24], int max, char *err, size_t errlen);

/* Whether this build can compile CUDA C (it found NVRTC). */
int cg_nvrtc_available(void);

/* NVRTC's version (13, 0): 0, or -1 (and 0.0) without the toolkit. */
int cg_nvrtc_version(int *major, int *minor);

/* The architecture to compile for a GPU of compute capability
 * major.minor: the newest NVRTC supports at or below it ("compute_90"),
 * into out. -1 with a message when there is none (or no NVRTC). */
int cg_nvrtc_arch_for(int major, int minor, char *out, size_t len, char *err, size_t errlen);

/* What names a kernel in a message: called with a kernel of m, returns
 * "model.lua:12: sum" or similar. */
typedef const char *(*cg_nvrtc_where_fn)(void *ctx, const cg_cuda_kernel *k);

/* Compiles m's source (its kernel table may be empty: then messages
 * name no kernel) for arch ("compute_90", "compute_80", ...; NULL is
 * the default) to PTX: *ptx (malloc'd, NUL-terminated) and its length.
 * On failure, -1 with a message in err that names the kernel the first
 * error falls in and its model line (through where, which may be NULL),
 * followed by NVRTC's log. */
int cg_nvrtc_compile(const cg_cuda_mod *m, const char *arch, cg_nvrtc_where_fn where, void *ctx,
                     char **ptx, size_t *len, char *err, size_t errlen);
/* The same with NVRTC's fastest compile (--Ofast-compile=max): PTX that
 * checks the source, not PTX to run fast; for tests over many kernels. */
int cg_nvrtc_compile_fast(const cg_cuda_mod *m, const char *arch, char **ptx, size_t *len,
                          char *err, size_t errlen);

/* The kernel of m whose source holds `line` (1-based), or NULL. */
const cg_cuda_kernel *cg_cuda_kernel_at_line(const cg_cuda_mod *m, int line);

#endif
