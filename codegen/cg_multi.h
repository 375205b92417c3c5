/*
 * cg_multi.h - multi-tensor kernels: a run of independent elementwise
 * kernels side by side as one kernel, so a backend launches it once (the
 * optimizer's update of every parameter, SAM's perturbation of every
 * weight: one launch per step each instead of one per parameter).
 *
 * Kernels k_a .. k_b, consecutive in the schedule, each an elementwise
 * loop nest (RT_K_ELEM, no FAIL, no reduce loop: a parallel loop over its
 * elements, its inner loops as cg_lower.c writes them, or a scalar body
 * without loops), none of which reads or writes a buffer an earlier one
 * writes or writes one an earlier one reads, become
 *
 *   kernel k36_multi4(the union of their buffers)
 *     for i0 in 0..N0+N1+N2+N3 parallel:         (the segment table: each
 *       if (i0 < N0+N1):                           kernel's first element,
 *         if (i0 < N0): BODY0[i := i0]             constants; its buffers
 *         if (i0 >= N0): BODY1[i := i0 - N0]       the kernel's parameters)
 *       if (i0 >= N0+N1): ...
 *
 * a balanced tree of comparisons (2 log2(S) per element for S segments),
 * a segment's nest flattened into its element index as the CUDA renderer
 * flattens an elementwise nest. Every element computes what it computed
 * before, in the same expression: the results are bit for bit the
 * unmerged kernels'. The loop verifier narrows a loop variable's interval
 * under such comparisons (cg_verify.h), so each segment's indices are
 * still proven within its buffers.
 *
 * A merged kernel keeps the first kernel's `src` (for messages; it has no
 * FAIL) and records its segment count in cg_kernel.nseg.
 */
#ifndef SAMC_CG_MULTI_H
#define SAMC_CG_MULTI_H

#include <stddef.h>

#include "cg_lower.h"

/* the most buffers one merged kernel takes (its launch's parameters:
 * well inside CUDA's 4 KiB of kernel parameters) */
#define CG_MULTI_MAX_ARGS 256

/* Merges every run of two or more such kernels in prog. 0, or -1 with a
 * message. */
int cg_multi_merge(cg_program *prog, char *err, size_t errlen);

/* The runs the memory plan keeps apart for it (pass_plan_new_runs):
 * consecutive elementwise kernels of the fusion, none reading a value an
 * earlier one of its run computes. Without them the plan lets a kernel's
 * result reuse the bytes of a value the kernel before it read last, and
 * the two could not run at once. A malloc'd array, run[k] the first
 * kernel of k's run; NULL when out of memory. */
int *cg_multi_runs(const pass_fusion *f);

#endif
