/*
 * cg_loop.h - the loop IR: what one fused kernel does, spelled as explicit
 * loops, scalar locals, loads, stores and scalar math over flat buffers.
 *
 * Both renderers read this form (LLVM for the CPU, CUDA C for the GPU), so
 * it holds no notion of a particular machine: a kernel is a tree of
 * statements over numbered buffers, numbered loop variables and numbered
 * locals.
 *
 * Loop kinds say what a backend may do with a loop's iterations:
 *
 *   serial          in order, one after the other (the default; a loop
 *                   that carries a value from one iteration to the next
 *                   through memory or a local other than a reduction's).
 *   parallel        independent: they touch disjoint outputs and no local
 *                   carries from one to the next, so a backend may run
 *                   them in any order or at once. The CPU splits a kernel
 *                   whose whole body is one parallel loop over its thread
 *                   pool (rt_dev_cpu.h); a GPU maps it to its grid.
 *   reduce(op: t)   independent as parallel ones, except that each
 *                   iteration folds values into the local accumulator t,
 *                   as `t = t op x`, and nothing else in the loop reads t
 *                   (op is + or max, associative and commutative up to
 *                   rounding). The order in which the
 *                   values are combined is not the loop's order but a
 *                   tree that a backend fixes at compile time, the same on
 *                   every run: the LLVM renderer lets the vectorizer
 *                   reassociate (lanes and interleaved accumulators), and
 *                   the CPU lowering (cg_split.h) cuts a large reduction
 *                   at the top of a kernel into fixed chunks whose partial
 *                   results a second kernel folds in order, so it runs on
 *                   every thread and its result does not depend on how
 *                   many there are. A GPU renderer is meant to lower the
 *                   same loop to a block-level tree and a fixed second
 *                   stage. `t` holds its value from before the loop (the
 *                   tree starts from it once); outside reduce loops an
 *                   accumulation is never reassociated.
 *
 * Expressions are trees (a node may be shared within one statement, e.g.
 * `x` in gelu's `0.5*x*(1+erf(x/sqrt2))`) and carry no side effects, so a
 * renderer may evaluate a shared node once per statement.
 *
 * A GEMM kernel is not a loop nest but a library call (BLAS on the CPU,
 * cuBLAS on the GPU), described by its operands and transposes.
 *
 * All nodes live in the program's arena and are freed with it.
 */
#ifndef SAMC_CG_LOOP_H
#define SAMC_CG_LOOP_H

#include <stdint.h>
#include <stdio.h>

#include "ir_arena.h"
#include "rt_conv.h"
#include "rt_kkind.h"

typedef enum { CG_T_F32, CG_T_F64, CG_T_I32, CG_T_I64, CG_T_BOOL } cg_type;

typedef enum {
	CG_X_CONST,  /* fval (float types) or ival (integer types, bool) */
	CG_X_VAR,    /* loop variable `var` (i64) */
	CG_X_LOCAL,  /* scalar local `var` */
	CG_X_LOAD,   /* buffer `buf` at element index a (i64) */
	CG_X_UN,     /* uop(a) */
	CG_X_BIN,    /* bop(a, b) */
	CG_X_SELECT, /* c ? a : b */
	CG_X_CAST    /* a converted to `type` */
} cg_xkind;

typedef enum {
	CG_U_NEG, CG_U_EXP, CG_U_LOG, CG_U_SQRT, CG_U_ABS, CG_U_FLOOR,
	CG_U_TANH, CG_U_ERF, CG_U_COS, CG_U_SIN, CG_U_LOG1P, CG_U_ISNAN, CG_U_NOT,
	CG_U_BF16 /* the nearest bfloat16 of an f32 (ir_round_bf16), in the operand's type */
} cg_uop;

/* MIN/MAX propagate NaN (as torch.minimum/maximum). Comparisons give bool. */
typedef enum {
	CG_B_ADD, CG_B_SUB, CG_B_MUL, CG_B_DIV, CG_B_POW, CG_B_MIN, CG_B_MAX,
	CG_B_LT, CG_B_LE, CG_B_GT, CG_B_GE, CG_B_EQ, CG_B_NE, CG_B_AND, CG_B_OR
} cg_bop;

typedef struct cg_expr cg_expr;
struct cg_expr {
	cg_xkind kind;
	cg_type type;
	int op;       /* cg_uop or cg_bop */
	int var;      /* VAR, LOCAL */
	int buf;      /* LOAD */
	double fval;  /* CONST */
	int64_t ival; /* CONST */
	cg_expr *a, *b, *c;
};

typedef enum {
	CG_S_LOOP,  /* for var in [0, extent): body */
	CG_S_STORE, /* buf[idx] = val */
	CG_S_SET,   /* local var = val */
	CG_S_IF,    /* if (cond) body */
	CG_S_FAIL   /* stop the kernel, reporting error `code` (> 0) */
} cg_skind;

/* Loop kinds (see the top of this file). */
typedef enum { CG_L_SERIAL, CG_L_PARALLEL, CG_L_REDUCE } cg_lkind;

typedef struct cg_stmt cg_stmt;
struct cg_stmt {
	cg_skind kind;
	int var;        /* LOOP: loop variable; SET: local */
	int64_t extent; /* LOOP */
	cg_lkind loop;  /* LOOP: its kind */
	cg_bop rop;     /* LOOP reduce: the combining op (CG_B_ADD, CG_B_MAX) */
	int acc;        /* LOOP reduce: the accumulator local */
	int buf;        /* STORE */
	int code;       /* FAIL */
	cg_expr *idx, *val, *cond;
	cg_stmt *body;  /* LOOP, IF: first statement of the body */
	cg_stmt *next;  /* next statement in the same block */
};

/* A buffer a kernel touches: `id` indexes the program's buffer table. */
typedef struct {
	int id;
	cg_type type;
	int written;
} cg_arg;

typedef struct {
	rt_kkind kind;     /* from fusion: loops of some kind, or a GEMM or CONV call */
	char name[48];
	int src;           /* the fused kernel it lowers (pass_fuse.h), for messages */
	int nargs;
	cg_arg *args;      /* kernel-local buffer numbers index this array */
	int nvars;         /* loop variables 0..nvars-1 */
	int nlocals;
	cg_type *local_type;
	cg_stmt *body;     /* the loop kinds (not rt_kkind_is_call) */
	int64_t work;      /* elements touched, for the parallel split decision */
	/* GEMM: C[m,n] = op(A) op(B); A is args[0], B args[1], C args[2];
	 * batch > 1 such products of consecutive matrices (rt_prog.h) */
	int ta, tb;
	int64_t m, n, k;
	int64_t batch;
	/* CONV (f32): operation conv_op (an rt_conv_op) of conv, its args in
	 * rt_prog_kernel's order (runtime/rt_prog.h) */
	rt_conv_desc conv;
	int conv_op, conv_bias;
	/* GEMM or CONV: both multiplied operands are bf16-exact (rt_prog.h) */
	int bf16;
	/* COMM: args[1] := the sum over the ranks of args[0], comm_n elements
	 * (runtime/rt_prog.h) */
	int64_t comm_n;
	/* what a FAIL code means, for the user ("label out of range ...") */
	const char *fail_msg;
	/* a multi-tensor kernel (cg_multi.h): the kernels merged into it, else 0 */
	int nseg;
} cg_kernel;

/* Builders (arena-allocated). */
cg_expr *cg_const_f(ir_arena *a, cg_type t, double v);
cg_expr *cg_const_i(ir_arena *a, cg_type t, int64_t v);
cg_expr *cg_var(ir_arena *a, int var);
cg_expr *cg_local(ir_arena *a, cg_type t, int var);
cg_expr *cg_load(ir_arena *a, cg_type t, int buf, cg_expr *idx);
cg_expr *cg_un(ir_arena *a, cg_uop op, cg_expr *x);
cg_expr *cg_bin(ir_arena *a, cg_bop op, cg_expr *x, cg_expr *y);
cg_expr *cg_select(ir_arena *a, cg_expr *c, cg_expr *x, cg_expr *y);
cg_expr *cg_cast(ir_arena *a, cg_type t, cg_expr *x);

/* A serial or parallel loop; cg_reduce: a reduce(op: acc) loop. */
cg_stmt *cg_loop(ir_arena *a, int var, int64_t extent, cg_lkind kind, cg_stmt *body);
cg_stmt *cg_reduce(ir_arena *a, int var, int64_t extent, cg_bop op, int acc, cg_stmt *body);
cg_stmt *cg_store(ir_arena *a, int buf, cg_expr *idx, cg_expr *val);
cg_stmt *cg_set(ir_arena *a, int local, cg_expr *val);
cg_stmt *cg_if(ir_arena *a, cg_expr *cond, cg_stmt *body);
cg_stmt *cg_fail(ir_arena *a, int code);
/* Appends s (and its chain) to the block *head; returns s. */
cg_stmt *cg_append(cg_stmt **head, cg_stmt *s);

/* A kernel is parallel when its body is one outermost parallel LOOP:
 * returns that loop's extent, else 0. */
int64_t cg_kernel_par_extent(const cg_kernel *k);

const char *cg_type_name(cg_type t);
int cg_type_is_float(cg_type t);

/* Readable listing of a kernel ("for i0 in 0..128 parallel:",
 * "for i1 in 0..784 reduce(+: t0):", "b2[((i0 * 10) + i1)] = ..."). */
void cg_kernel_print(FILE *f, const cg_kernel *k);

#endif
