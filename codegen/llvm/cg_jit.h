/*
 * cg_jit.h - ORC LLJIT for a lowered program: renders its kernels, optimizes
 * them for the host and compiles them in memory. The process's own symbols
 * (libm's expf, tanhf, erff...) resolve through a process search generator.
 */
#ifndef SAMC_CG_JIT_H
#define SAMC_CG_JIT_H

#include "cg_llvm.h"

typedef struct cg_jit cg_jit;

/* NULL with a message (LLVM's diagnostics included) on failure. */
cg_jit *cg_jit_new(const cg_program *prog, int opt_level, char *err, size_t errlen);
/* The compiled entry point of a loop kernel, or NULL. */
cg_kernel_fn cg_jit_find(cg_jit *j, const char *name, char *err, size_t errlen);
void cg_jit_free(cg_jit *j);

#endif
