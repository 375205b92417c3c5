/*
 * cg_cpu.h - the CPU backend: a graph step compiled to native code.
 *
 *     cg_options o;
 *     cg_options_default(&o);            // all cores, O3
 *     rt_exec *x = cg_cpu_exec_new(g, outs, names, nout, &o, err, sizeof err);
 *     x->run(x, slot_data, outputs, &rt_err);   // as any rt_exec
 *     x->free(x);
 *
 * Pipeline: fusion (pass_fuse.h) -> memory plan (pass_plan.h) -> loop IR
 * (cg_lower.h) -> LLVM IR, O3 for the host, ORC JIT (llvm/cg_jit.h). GEMMs
 * call OpenBLAS (cblas_sgemm / cblas_dgemm), f32 convolutions oneDNN
 * (runtime/rt_conv.h; f64 ones stay generated loops: oneDNN has no f64
 * convolution). Slots are exactly those of the
 * interpreter's exec (ir_interp_exec_new): one per PARAM, STATE and INPUT
 * leaf the step uses, in node order. The graph must outlive the exec.
 */
#ifndef SAMC_CG_CPU_H
#define SAMC_CG_CPU_H

#include <stdint.h>
#include <stdio.h>

#include "ir.h"
#include "pass_table.h"
#include "rt_exec.h"

struct cg_target;

typedef struct {
	int threads;       /* threads for kernels and BLAS; 0 = all cores */
	int opt_level;     /* 0: no LLVM optimization (debugging), else O3 */
	pass_options pass; /* verifiers and SAMC_DEBUG output of the backend's passes */
	int conv_loops;    /* 1: f32 convolutions as generated loops too, not oneDNN calls */
	const struct cg_target *target; /* the CPU to compile for (llvm/cg_target.h); NULL: the host */
} cg_options;

void cg_options_default(cg_options *o);

/* NULL with a message in err (a non-scalar output, an LLVM failure...). */
rt_exec *cg_cpu_exec_new(ir_graph *g, ir_node *const *outs, const char *const *out_names,
                         int nout, const cg_options *opt, char *err, size_t errlen);

/* What a compiled exec looks like (tests, `--stage=plan`): kernels in its
 * schedule (GEMMs included) and the arena's size. -1 if x is not "cpu". */
int cg_cpu_exec_nkernels(const rt_exec *x);
int64_t cg_cpu_exec_arena_bytes(const rt_exec *x);

/* `samc emit --stage=STAGE` for the CPU backend's rows of the pass table
 * (cg_cpu_backend() in cg_step.h) over a bare graph: "lowrank", "fuse" or
 * "fused" (kernels and the nodes in each), "plan" (kernels, buffers, peak
 * bytes), "lower" or "loops" (loop IR), "llvm" (optimized LLVM IR). 0, or
 * -1 with a message. */
int cg_cpu_emit(FILE *out, const char *stage, ir_graph *g, ir_node *const *outs, int nout,
                char *err, size_t errlen);

#endif
