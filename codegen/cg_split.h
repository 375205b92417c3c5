/*
 * cg_split.h - the CPU's lowering of reduce loops (cg_loop.h): a large
 * reduction at the top of a kernel is cut into chunks that run on every
 * thread, with a combining order fixed at compile time.
 *
 * A kernel whose body is `SET t = init; for i in 0..N reduce(op: t): BODY;
 * REST` (a full reduction: a sum or max over a whole tensor, SAM's squared
 * norms, a mean loss over many rows), with enough work to be worth the
 * pool (`min`, the runtime's own threshold for splitting a kernel), becomes
 * two kernels, with C = N / CG_SPLIT_CHUNK whole chunks:
 *
 *   kernel k7_sum_chunks(..., b4=scratch out)
 *     for i1 in 0..C parallel:
 *       t = identity of op                         (0, or -inf for max)
 *       for i0 in 0..4096 reduce(op: t): BODY[i0 := i1 * 4096 + i0]
 *       b4[i1] = t
 *   kernel k7_sum(..., b4=scratch)
 *     t = init
 *     for i1 in 0..C: t = t op b4[i1]              (serial: in order)
 *     for i0 in 0..N - C*4096 reduce(op: t): BODY[i0 := C * 4096 + i0]
 *     REST                                         (the store of t)
 *
 * The runtime splits the first kernel's chunks over its pool like any
 * parallel loop (each part a run of whole chunks), and a chunk's value
 * depends only on its number; the fold is serial. So the result depends
 * on N alone: the same for any number of threads, and whether or not the
 * runtime splits. It differs from the unsplit loop's only by the rounding
 * of a sum taken in another fixed order.
 *
 * The scratch vector is a buffer of the program (cg_program.scratch),
 * numbered after the memory plan's and placed in the arena beyond the
 * plan's peak (cg_step.c): C values per split reduction.
 *
 * This is a CPU lowering step: the loop IR before it is backend-neutral
 * (a GPU renderer lowers the same reduce loop to a block-level tree).
 */
#ifndef SAMC_CG_SPLIT_H
#define SAMC_CG_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "cg_lower.h"

/* iterations of the reduce loop per chunk */
#define CG_SPLIT_CHUNK 4096

/* Splits every kernel of prog with a top-level reduce loop of at least
 * two chunks and at least `min` elements of work. Kernels keep their
 * order (a split kernel's chunks just before it). 0, or -1 with a
 * message. */
int cg_split_reductions(cg_program *prog, int64_t min, char *err, size_t errlen);

#endif
