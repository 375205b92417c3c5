/*
 * pass_hoist.h - the accumulators' kernels moved up to their gradients.
 *
 * On several ranks the accumulators (accum.grad.<p>, accum.sam.<p>: see
 * pass_micro.h) of a step's last micro-batch program are all-reduced while
 * the program still runs, each as soon as its final value is written
 * (runtime/rt_overlap.h). pass_micro adds the accumulators' assigns after
 * the whole backward pass, so their kernels (accum + g) come last in node
 * order and would all be ready only at the end. This moves each of them
 * up to just after the last kernel whose result it reads: the gradient of
 * the last layer is then accumulated (and can be sent) while the backward
 * pass goes on to the first. The kernels and their arithmetic do not
 * change, only their order (still one the dependencies allow); the memory
 * plan comes after it.
 */
#ifndef SAMC_PASS_HOIST_H
#define SAMC_PASS_HOIST_H

#include "pass_fuse.h"

/* Moves the kernels that compute an "accum.*" assign's value (see above);
 * returns how many moved, or -1 (out of memory). */
int pass_hoist_accum(pass_fusion *f);

#endif
