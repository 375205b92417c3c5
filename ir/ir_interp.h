/*
 * ir_interp.h - the reference interpreter of the graph IR.
 *
 * The interpreter is the definition of what a graph computes: plain loops,
 * no fusion, no reuse tricks. Every other backend is tested against it.
 *
 * Values are double arrays (row-major, ir_shape_numel elements) whatever the
 * node's dtype. An IR_F32 node computes in double and rounds its result to
 * float, so an f32 graph behaves like a float32 program whose every op is
 * correctly rounded; an IR_F64 node keeps the double; IR_I32 values are exact
 * integers stored in doubles.
 *
 * Usage:
 *
 *     ir_env *e = ir_env_new(g);
 *     memcpy(ir_env_leaf(e, w), w0, n * sizeof(double));   // params, inputs, state
 *     double *loss;
 *     if (ir_interp_run(e, &loss_node, 1, &loss, err, sizeof err)) ...error...
 *     // the step's ASSIGNs have now written the new values into e's leaves
 *     free(loss);
 *     ir_env_free(e);
 *
 * The graph must outlive the env. Nodes appended to the graph after
 * ir_env_new (by a pass) are picked up by the next run.
 */
#ifndef SAMC_IR_INTERP_H
#define SAMC_IR_INTERP_H

#include <stddef.h>

#include "ir.h"
#include "rt_exec.h"

/* The values of a graph's leaves (PARAM, INPUT, STATE) between steps. */
typedef struct ir_env ir_env;

ir_env *ir_env_new(ir_graph *g); /* NULL only when out of memory */
void ir_env_free(ir_env *e);

/* How the env sums a rank_sum's value over the ranks of a data-parallel
 * run: buf[0..n) (values of `dtype`, held as doubles) := their sum over
 * the ranks in the fixed rank order, each addition rounded to dtype (the
 * caller's communicator: the ir layer knows nothing of it). 0, or -1 with
 * a message in err. Without one (the default) rank_sum is the identity:
 * one rank. */
typedef int (*ir_rank_sum_fn)(void *ctx, double *buf, int64_t n, ir_dtype dtype, char *err,
                              size_t errlen);
void ir_env_set_rank_sum(ir_env *e, ir_rank_sum_fn fn, void *ctx);

/* The leaf's storage: numel(leaf->shape) doubles, zero-initialised, owned by
 * the env; callers fill it (a step rounds an f32 leaf's values to float in
 * place before reading them). NULL if `leaf` is not a PARAM/INPUT/STATE of
 * the env's graph or memory runs out. */
double *ir_env_leaf(ir_env *e, const ir_node *leaf);

/*
 * One training step. Evaluates, in node order, the nodes needed by `outs`
 * and by every ASSIGN of the graph; out_vals[i] receives a malloc'd copy of
 * outs[i]'s value (the caller frees it). Then all ASSIGNs commit together:
 * every node saw the leaf values from before the step.
 * Returns 0, or -1 with a message in err ("model.lua:12: cross_entropy:
 * label 11 of example 3 is outside [0, 10)"); on error nothing is committed
 * and no out_vals are left allocated.
 */
int ir_interp_run(ir_env *e, ir_node *const *outs, int nout, double **out_vals,
                  char *err, size_t errlen);

/* As ir_interp_run, but only the nodes `outs` need are computed and no ASSIGN
 * commits: the leaves are left as they were (evaluation, gradient checks). */
int ir_interp_eval(ir_env *e, ir_node *const *outs, int nout, double **out_vals,
                   char *err, size_t errlen);

/* Whether the interpreter has a kernel for op (its facet, for the op-table
 * test). */
int ir_interp_has_kernel(ir_op op);

/*
 * One node's kernel: computes n's value into `out` (numel(n->shape)
 * doubles) from its inputs' values in[0..n->nin-1], rounded to n->dtype.
 * Leaves: CONST fills; PARAM/INPUT/STATE are not computed here (the env
 * holds them) and give an error. ASSIGN copies its value operand.
 * Returns 0, or -1 with a message naming the node's location.
 */
int ir_interp_node(const ir_node *n, const double *const *in, double *out,
                   char *err, size_t errlen);

/*
 * The interpreter as a backend (runtime/rt_exec.h). One slot per PARAM,
 * STATE and INPUT leaf the step reads or assigns, in node order; one scalar
 * output per outs[i], named out_names[i]. run() converts the slot buffers to
 * doubles, interprets, commits the ASSIGNs and writes PARAM/STATE slots back.
 * The graph must outlive the returned exec. NULL with a message in err when
 * an output is not a scalar or memory runs out.
 */
rt_exec *ir_interp_exec_new(ir_graph *g, ir_node *const *outs,
                            const char *const *out_names, int nout,
                            char *err, size_t errlen);

/* "file:line: op: message" (or "node %id (op): message" for nodes a pass
 * made) into err; returns -1. For the kernels in ir_interp_*.c. */
int ir_interp_err(const ir_node *n, char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 4, 5)))
#endif
	;

/* The kernels of the row-wise losses and CORRECT, and of ONE_HOT
 * (ir_interp_loss.c), in ir_interp_node's form. */
int ir_interp_rowwise_loss(const ir_node *n, const double *const *in, double *out, char *err,
                           size_t errlen);
int ir_interp_one_hot(const ir_node *n, const double *const *in, double *out, char *err,
                      size_t errlen);

/* The kernels of NARROW and PAD, and of CAT (ir_interp_slice.c), in
 * ir_interp_node's form. */
int ir_interp_slice(const ir_node *n, const double *const *in, double *out, char *err,
                    size_t errlen);
int ir_interp_cat(const ir_node *n, const double *const *in, double *out, char *err,
                  size_t errlen);

#endif
