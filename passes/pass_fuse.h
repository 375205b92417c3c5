/*
 * pass_fuse.h - fusion: which nodes of a step become one kernel.
 *
 * Fusion is by op kind (TVM's pattern kinds): elementwise ops, transposes
 * and broadcasts are inlined into their single consumer when it is
 * elementwise or a reduction and reads them without expanding them, so a
 * chain like relu(x*w+b) or sum(g*g) is one kernel. GEMMs and the row-wise
 * ops (softmax, cross-entropy...) are kernels of their own reading
 * materialized buffers. RESHAPE never computes: it is an alias of its
 * (materialized) input. Constants are inlined wherever they are read
 * inside a kernel.
 *
 * Scalars (one element) are also inlined into consumers that expand them:
 * the renderer hoists their loop-invariant computation, so a chain such as
 * rho / (sqrt(n) + eps) costs no kernel of its own.
 *
 * Multi-output kernels: an elementwise kernel whose result a later
 * elementwise kernel of the same shape reads at its own index is computed
 * inside that later kernel, which then writes both results in one pass
 * (relu(x*w+b) also writing x*w+b for the backward pass; the momentum
 * buffer and the weight update of SGD). `roots` lists every result a
 * kernel writes, in node order; `root` is the last of them.
 *
 * Every value the step needs is then one of: a leaf (a slot the runtime
 * owns), inlined into a kernel, the root (result) of a kernel, or an alias.
 * Kernels come in node order, which is a valid execution order.
 */
#ifndef SAMC_PASS_FUSE_H
#define SAMC_PASS_FUSE_H

#include <stdio.h>

#include "ir.h"
#include "rt_kkind.h" /* a kernel's kind */

typedef enum {
	PASS_VAL_UNUSED, /* not needed by the outputs or the assigns */
	PASS_VAL_LEAF,   /* PARAM, INPUT, STATE: lives in its slot */
	PASS_VAL_INLINE, /* computed inside the kernel that consumes it */
	PASS_VAL_ROOT,   /* written to memory by its own kernel */
	PASS_VAL_ALIAS,  /* RESHAPE: the same memory as its input */
	PASS_VAL_EFFECT  /* ASSIGN */
} pass_val;


typedef struct {
	ir_node *node; /* a materialized value: leaf, kernel root or alias */
	int identity;  /* every read is at the kernel's own output index */
} pass_read;

typedef struct {
	rt_kkind kind;
	ir_node *root;   /* the kernel's (last) result */
	ir_node **roots; /* every result it writes, in node order (root last) */
	int nroots;
	ir_node **nodes; /* inlined nodes and the roots, in node order */
	int nnodes;
	pass_read *reads; /* distinct materialized values read (not its own roots) */
	int nreads;
} pass_kernel;

typedef struct {
	ir_graph *g;
	ir_node **outs;
	int nout;
	pass_kernel *k;
	int nk;
	pass_val *val;  /* by node id */
	int *kernel_of; /* by node id: the kernel computing it (root or inline), else -1 */
} pass_fusion;

/* Fuses the nodes that `outs` and the graph's ASSIGNs need. NULL with a
 * message in err when memory runs out or the graph is malformed. */
pass_fusion *pass_fuse(ir_graph *g, ir_node *const *outs, int nout, char *err, size_t errlen);
void pass_fusion_free(pass_fusion *f);

/* The materialized value holding n's memory (follows aliases). */
ir_node *pass_fuse_base(const pass_fusion *f, ir_node *n);

/* The fusion checker, run after the fuse pass: every needed value has a
 * kernel or lives in memory, each kernel's roots and nodes are its own,
 * it reads only values in memory that earlier kernels wrote. 0, or -1
 * with the first violation in err. */
int pass_fuse_check(const pass_fusion *f, char *err, size_t errlen);

/* `samc emit --stage=fused`: one line per kernel with its nodes and reads. */
void pass_fuse_print(FILE *out, const pass_fusion *f);

#endif
