/*
 * rt_cpu.h - does this CPU have the instruction-set features a trainer was
 * compiled for? A standalone trainer's kernels are compiled for one target
 * (`samc build --cpu`, codegen/llvm/cg_target.h); it records that target's
 * features by their LLVM names ("avx2,fma,bmi2") and checks them with
 * cpuid before it runs anything, so a trainer built for AVX-512 says what
 * is missing on an AVX2-only CPU instead of dying with SIGILL.
 *
 *     char missing[256];
 *     if (rt_cpu_missing("avx2,fma", getenv("SAMC_CPU_MASK"), missing, sizeof missing) > 0)
 *         ... "this CPU lacks <missing>" ...
 *
 * Features the table below does not know are not checked (rt_cpu_known
 * tells which are); on a non-x86 CPU nothing is.
 */
#ifndef SAMC_RT_CPU_H
#define SAMC_RT_CPU_H

#include <stddef.h>

/* 1 if this build can test the LLVM feature `name` on the running CPU. */
int rt_cpu_known(const char *name);

/* 1 if the running CPU (and its OS, for vector state) has the feature;
 * 0 if not or if the feature is unknown. */
int rt_cpu_has(const char *name);

/* The features of the comma-separated list `need` that this CPU lacks,
 * comma-separated into missing[0..n); their number. `mask` (may be NULL)
 * is a comma-separated list of features to treat as absent: the
 * SAMC_CPU_MASK variable, which lets tests play a CPU without them.
 * Unknown features are skipped. */
int rt_cpu_missing(const char *need, const char *mask, char *missing, size_t n);

#endif
