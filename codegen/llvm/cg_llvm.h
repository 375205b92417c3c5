/*
 * cg_llvm.h - the CPU renderer: loop IR kernels to LLVM IR through the
 * LLVM-C API, optimized for the host CPU (its name and features, so AVX2 /
 * AVX-512 vectorize), or for a trainer's target CPU (cg_target.h), with the
 * new pass manager at O3.
 *
 * Every loop kernel becomes
 * `void NAME(void **bufs, int64_t lo, int64_t hi, int32_t *err)`:
 * bufs[i] is the kernel's i-th buffer (cg_kernel.args); when the kernel is
 * parallel (cg_kernel_parallel), its outermost loop runs over [lo, hi),
 * otherwise over its whole extent. A FAIL stores its code to *err (a
 * relaxed atomic store) and returns; nothing else writes *err. GEMM
 * kernels are library calls made by the caller and produce no function.
 */
#ifndef SAMC_CG_LLVM_H
#define SAMC_CG_LLVM_H

#include <stdint.h>
#include <stdio.h>

#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

#include "cg_lower.h"
#include "cg_target.h"

typedef void (*cg_kernel_fn)(void **bufs, int64_t lo, int64_t hi, int32_t *err);

/* Initializes LLVM's native target once per process; 0 or -1 with a message. */
int cg_llvm_init(char *err, size_t errlen);

/* A TargetMachine for this host (PIC, O3); NULL with a message. */
LLVMTargetMachineRef cg_llvm_host_tm(char *err, size_t errlen);

/* Renders prog's loop kernels into a new module of ctx, set up for tm's
 * target (and tuned for the CPU `tune` unless NULL or ""), verified. NULL
 * with a message. */
LLVMModuleRef cg_llvm_render(const cg_program *prog, LLVMContextRef ctx,
                             LLVMTargetMachineRef tm, const char *tune, char *err,
                             size_t errlen);

/* Runs "default<O3>" (or "default<O0>" when opt_level is 0) for tm. */
int cg_llvm_optimize(LLVMModuleRef m, LLVMTargetMachineRef tm, int opt_level,
                     char *err, size_t errlen);

#endif
