/*
 * cg_cuda_int.h - shared between the CUDA renderer's files (cg_cuda.c,
 * cg_cuda_expr.c); not part of its interface.
 */
#ifndef SAMC_CG_CUDA_INT_H
#define SAMC_CG_CUDA_INT_H

#include "cg_cuda.h"

typedef struct {
	int uses;    /* in the statement being rendered */
	int hoisted; /* the hoisting walk: 1 entered, 2 done */
	int depth;   /* nesting of its text where it is rendered in place */
	int tmp;     /* its temporary eN, or -1 */
} cgc_memo;

typedef struct {
	FILE *o;
	const cg_kernel *k;
	int depth;          /* indentation */
	int ntmp;           /* temporaries so far in the kernel */
	int *read;          /* per kernel arg: some expression loads it */
	int block;          /* threads per block of the kernel */
	const cg_expr **mkey; /* per statement: expression -> memo */
	cgc_memo *mval;
	size_t mcap, mused;
	const cg_expr **stack; /* the walks' own stack */
	size_t scap;
	int oom;
	int lines;          /* lines of the module before the kernel */
} cgc_ctx;

const char *cgc_ctype(cg_type t);
void cgc_indent(cgc_ctx *c);
/* Before a statement over x and y (either may be NULL): declares the
 * temporaries of their shared nodes; cgc_expr then renders with them. */
void cgc_prepare(cgc_ctx *c, const cg_expr *x, const cg_expr *y);
void cgc_expr(cgc_ctx *c, const cg_expr *e);
void cgc_memo_reset(cgc_ctx *c);
/* `a op b` for a reduce loop's op (+, max) over t */
void cgc_combine(cgc_ctx *c, cg_bop op, cg_type t, const char *a, const char *b);

#endif
