/*
 * cg_verify.h - the loop-IR verifier, run after the lower and split passes
 * (see passes/pass_table.h): in every kernel, each loop variable and local
 * is defined before it is used (a reduce loop's accumulator too), and each
 * load and store index lies within its buffer for all values of the loop
 * variables (interval arithmetic over the index, loop variables in
 * [0, extent), narrowed inside an `if (i < C)`, `if (i >= C)` and the
 * like). Indices that depend on loaded data (a label) are bounded
 * at run time by the kernel's own FAIL checks and are not proven here. A
 * GEMM's operands must hold m*k, k*n and m*n elements.
 */
#ifndef SAMC_CG_VERIFY_H
#define SAMC_CG_VERIFY_H

#include "cg_lower.h"

/* 0, or -1 with the first violation ("kernel k3 (k3_add): store to b1 at
 * [0, 1290) outside its 1280 elements") in err. */
int cg_program_verify(const cg_program *prog, char *err, size_t errlen);

/* The same for one kernel whose buffers hold numel[i] elements
 * (kernel-local numbering, as k->args). */
int cg_kernel_verify(const cg_kernel *k, const int64_t *numel, char *err, size_t errlen);

#endif
