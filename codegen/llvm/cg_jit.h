/*
 * cg_jit.h - ORC LLJIT for a lowered program: renders its kernels, optimizes
 * them for the host and compiles them in memory. The process's own symbols
 * (libm's expf, tanhf, erff...) resolve through a process search generator.
 */
#ifndef SAMC_CG_JIT_H
#define SAMC_CG_JIT_H

#include "cg_llvm.h"

typedef struct cg_jit cg_jit;

/* A program's kernels rendered and optimized for the host (or, for `samc
 * build`, for a chosen CPU: cg_target.h), in a context of their own: the
 * `llvm` pass's output (codegen/cg_step.h), which the JIT then compiles. */
typedef struct cg_llvm_mod cg_llvm_mod;

/* t NULL: the host. NULL with a message (LLVM's diagnostics included) on
 * failure. */
cg_llvm_mod *cg_llvm_mod_new(const cg_program *prog, int opt_level, const cg_target *t,
                             char *err, size_t errlen);
void cg_llvm_mod_print(FILE *out, const cg_llvm_mod *m);
/* A copy of the module in ctx (through bitcode), for `samc build`, which
 * links every step's module into one object. NULL with a message. */
LLVMModuleRef cg_llvm_mod_copy(const cg_llvm_mod *m, LLVMContextRef ctx, char *err,
                               size_t errlen);
void cg_llvm_mod_free(cg_llvm_mod *m);

/* Compiles the module in memory; the JIT takes it over (*m is set to NULL
 * whatever the outcome). NULL with a message on failure. */
cg_jit *cg_jit_new(cg_llvm_mod **m, char *err, size_t errlen);
/* The compiled entry point of a loop kernel, or NULL. */
cg_kernel_fn cg_jit_find(cg_jit *j, const char *name, char *err, size_t errlen);
void cg_jit_free(cg_jit *j);

#endif
