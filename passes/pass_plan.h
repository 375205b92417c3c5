/*
 * pass_plan.h - memory planning: where every materialized value lives.
 *
 * Leaves live in their slots (the runtime's buffers). Kernel results live
 * in one arena whose size is known at compile time: each buffer is live
 * from the kernel that writes it to the last kernel that reads it (aliases
 * included), and buffers whose lifetimes do not overlap share bytes
 * (first fit by offset). Outputs live to the end of the step.
 *
 * Assign semantics (every node reads the leaves as they were when the step
 * began; assigns commit together at the end) are kept in two ways:
 *  - direct write: the value's kernel writes straight into the target's
 *    slot when no later kernel, output or commit reads the old target and
 *    the kernel itself reads the target only at the index it writes;
 *  - commit: otherwise the value stays in its own buffer and is copied into
 *    the slot after all kernels. A value that sits in a slot which some
 *    commit overwrites is first snapshotted to the arena (a swap a<->b).
 */
#ifndef SAMC_PASS_PLAN_H
#define SAMC_PASS_PLAN_H

#include <stdint.h>
#include <stdio.h>

#include "pass_fuse.h"

typedef enum { PASS_BUF_SLOT, PASS_BUF_ARENA } pass_buf_kind;

typedef struct {
	pass_buf_kind kind;
	ir_node *node;    /* SLOT: its leaf; ARENA: the value stored first */
	ir_dtype dtype;
	int64_t numel;
	int64_t offset;   /* ARENA: byte offset in the arena */
	int64_t bytes;
	int def, last;    /* kernel indices of first write and last read; nk = the end */
} pass_buf;

typedef struct {
	ir_node *target;  /* PARAM or STATE leaf */
	ir_node *value;
	int src;          /* buffer copied from at the end */
	int snapshot;     /* arena buffer the value is saved to first, or -1 */
} pass_commit;

typedef struct {
	const pass_fusion *f;
	pass_buf *buf;
	int nbuf;
	int *buf_of;            /* by node id: buffer holding the value, or -1 */
	pass_commit *commit;    /* in node order */
	int ncommit;
	int *direct;            /* by kernel: 1 if it writes an assign target's slot */
	int64_t arena_bytes;    /* peak: the arena's size */
	int64_t naive_bytes;    /* sum of all arena buffers without reuse */
} pass_plan;

pass_plan *pass_plan_new(const pass_fusion *f, char *err, size_t errlen);
/* The same where runs of consecutive kernels may run as one launch (a
 * multi-tensor kernel, codegen/cg_multi.h): run[k] is the first kernel of
 * k's run (k itself when alone). A buffer lives from the first kernel of
 * its writer's run to the last of its last reader's, so no two buffers
 * one run touches share bytes. */
pass_plan *pass_plan_new_runs(const pass_fusion *f, const int *run, char *err, size_t errlen);
void pass_plan_free(pass_plan *p);

/* `samc emit --stage=plan`: kernels, buffers (offset, size, lifetime), commits, peak. */
void pass_plan_print(FILE *out, const pass_plan *p);

size_t pass_dtype_size(ir_dtype t);

/* The plan checker, run after the plan pass: no two arena buffers live at
 * the same time share bytes, every buffer fits in the arena, and every
 * assign the step needs is committed exactly once (a direct write or one
 * commit). 0, or -1 with the first violation in err. */
int pass_plan_check(const pass_plan *p, char *err, size_t errlen);

#endif
