/*
 * cg_target.h - the CPU that kernels are compiled for.
 *
 * The JIT compiles for the host (its CPU name and features, so AVX-512
 * vectorizes where there is one). A standalone trainer runs elsewhere, so
 * `samc build --cpu SPEC` chooses:
 *
 *   native      this machine's CPU, as the JIT does (fastest here; may not
 *               start on another CPU)
 *   generic     the default: x86-64-v3 on x86-64 (AVX2, FMA, BMI2: every
 *               x86-64 server and desktop CPU of the last decade; see
 *               README), the architecture's generic CPU elsewhere
 *   x86-64, x86-64-v2, x86-64-v3, x86-64-v4
 *               an x86-64 psABI level (v4 adds AVX-512)
 *   a CPU name  znver3, skylake-avx512, ...: its x86-64 level's
 *               instructions, tuned for that CPU
 *
 *     cg_target t;
 *     if (cg_target_init(&t, "generic", err, sizeof err)) ...
 *     LLVMTargetMachineRef tm = cg_target_machine(&t, err, sizeof err);
 *     ... t.need: the features a trainer checks at start (runtime/rt_cpu.h)
 *     cg_target_free(&t);
 */
#ifndef SAMC_CG_TARGET_H
#define SAMC_CG_TARGET_H

#include <stddef.h>

#include <llvm-c/TargetMachine.h>

typedef struct cg_target {
	char spec[32];   /* as asked: "generic", "native", "x86-64-v2", "znver3" */
	char cpu[64];    /* LLVM's target-cpu */
	char tune[64];   /* LLVM's tune-cpu; "" for the cpu's own */
	char *features;  /* LLVM's target-features ("+avx2,-avx512f,..." or "") */
	char *need;      /* the features a trainer checks at start: "avx2,fma,..." */
} cg_target;

/* spec as above (NULL: native). 0, or -1 with a message listing the
 * choices. */
int cg_target_init(cg_target *t, const char *spec, char *err, size_t errlen);
void cg_target_free(cg_target *t);

/* A TargetMachine for t (PIC, O3); NULL with a message. */
LLVMTargetMachineRef cg_target_machine(const cg_target *t, char *err, size_t errlen);

/* The accepted specs, for messages and --help: "native, generic, ..." */
const char *cg_target_choices(void);

#endif
