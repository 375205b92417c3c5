/*
 * cg_lower.h - lowering: each fused kernel of a memory plan becomes a loop
 * IR kernel (cg_loop.h) over the plan's buffers, in schedule order.
 *
 *     pass_fusion *f = pass_fuse(g, outs, nout, err, n);
 *     pass_plan *p = pass_plan_new(f, err, n);
 *     cg_program *prog = cg_lower(p, err, n);
 *     ...render prog with a backend (codegen/llvm/cg_llvm.h)...
 *     cg_program_free(prog);
 *
 * Elementwise kernels loop over their result's shape, with dims merged
 * where every access is contiguous across them (so a [128,10] kernel is
 * one loop of 1280); reductions over trailing axes keep a scalar
 * accumulator in a reduce loop (cg_loop.h), inside a parallel loop over
 * the kept dims; other reductions accumulate in the output in input
 * order, and when they keep only their last dims (a sum over the rows)
 * do so per block of columns, the blocks a parallel loop. The CPU then
 * cuts large full reductions into chunks (cg_split.h).
 */
#ifndef SAMC_CG_LOWER_H
#define SAMC_CG_LOWER_H

#include <stdio.h>

#include "cg_loop.h"
#include "pass_plan.h"

/* A buffer a lowering step adds beyond the memory plan's (cg_split.h):
 * kernels number it plan->nbuf + its index; it lives in the arena. */
typedef struct {
	cg_type type;
	int64_t numel;
} cg_scratch;

typedef struct {
	ir_arena arena;
	const pass_plan *plan;
	cg_kernel *k; /* in schedule order; k[i].src is its fused kernel */
	int nk;
	cg_scratch *scratch;
	int nscratch;
} cg_program;

/* One loop IR kernel per fused kernel, in order (k[i].src == i). */
cg_program *cg_lower(const pass_plan *p, char *err, size_t errlen);
void cg_program_free(cg_program *prog);
void cg_program_print(FILE *out, const cg_program *prog);

cg_type cg_type_of(ir_dtype t);

/* Elements of program buffer `id` (cg_arg.id): a plan buffer or a scratch
 * buffer after them; -1 if there is none. */
int64_t cg_program_buf_numel(const cg_program *prog, int id);

/* The loop-IR expression of an elementwise (or data-movement) node over
 * its inputs' values x, y, z (as many as it has; cg_lower_ops.c); NULL for
 * other ops. */
cg_expr *cg_lower_elem(ir_arena *a, const ir_node *n, cg_expr *x, cg_expr *y, cg_expr *z);

/* Whether some kernel of cg_lower lowers op (its lowering facet). */
int cg_lower_has(ir_op op);
int cg_lower_row_has(ir_op op);

#define CG_ROW_MAX_INPUTS 3 /* inputs of a row-wise op */

/* Row-wise kernels (cg_lower_row.c): fills k's body for SOFTMAX,
 * LOG_SOFTMAX, CROSS_ENTROPY, CROSS_ENTROPY_GRAD, CORRECT. buf[0] is the
 * kernel-local buffer of the result, buf[1..] those of the node's inputs. */
int cg_lower_row(ir_arena *a, cg_kernel *k, const ir_node *n, const int *buf,
                 char *err, size_t errlen);

/* Slicing and joining kernels (cg_lower_slice.c), row kernels of their own:
 * NARROW, PAD, CAT; buf as for cg_lower_row, one per input. */
int cg_lower_slice_has(ir_op op);
int cg_lower_slice(ir_arena *a, cg_kernel *k, const ir_node *n, const int *buf, char *err,
                   size_t errlen);
/* embedding and its gradient (cg_lower_embed.c), through cg_lower_row. */
int cg_lower_embed(ir_arena *a, cg_kernel *k, const ir_node *n, const int *buf,
                   char *err, size_t errlen);
/* The pool ops (cg_lower_pool.c), through cg_lower_row: buf as there. */
int cg_lower_pool(ir_arena *a, cg_kernel *k, const ir_node *n, const int *buf,
                  char *err, size_t errlen);
/* The conv ops (cg_lower_conv.c), through cg_lower_row: buf as there. */
int cg_lower_conv(ir_arena *a, cg_kernel *k, const ir_node *n, const int *buf,
                  char *err, size_t errlen);

#endif
