/*
 * ir_pool.h - 2-D pooling over NCHW tensors, as PyTorch's CPU kernels:
 *
 *     max_pool2d(x, kernel, stride = kernel, padding = 0)
 *     avg_pool2d(x, kernel, stride = kernel, padding = 0, count_include_pad = true)
 *     adaptive_avg_pool2d(x, {OH, OW})
 *
 * Out size (H + 2P - K) / S + 1 (floor). Max pool pads with -inf: its
 * value and gradient go to the first maximal element of the window in
 * row-major order, or the last NaN. Adaptive windows are [floor(o*H/OH),
 * ceil((o+1)*H/OH)). The _GRAD ops take (x, dy) and give dx.
 */
#ifndef SAMC_IR_POOL_H
#define SAMC_IR_POOL_H

#include "ir.h"

typedef struct {
	int64_t kh, kw, sh, sw, ph, pw; /* window, stride, padding */
	int count_pad;                  /* avg: padding counts in the divisor */
	int64_t oh, ow;                 /* adaptive: output size */
} ir_pool_params;

/* The window of output row (or column) o along an axis of `len` inputs and
 * `olen` outputs: inputs [*lo, *hi) (clamped to [0, len)); *span is its
 * size counting padding (avg_pool2d's count_include_pad divisor). */
typedef struct {
	int64_t lo, hi, span;
} ir_pool_win;

int ir_pool_is(ir_op op);
ir_op ir_pool_forward(ir_op op); /* the forward op of a pool op or its _GRAD */
ir_pool_params ir_pool_params_of(const ir_node *n);
ir_pool_win ir_pool_window(ir_op fwd, int64_t k, int64_t s, int64_t p, int64_t o,
                           int64_t len, int64_t olen);

/* Builds a pool op (dy NULL) or its _GRAD (x, dy) with parameters pp. */
ir_node *ir_pool2d(ir_graph *g, ir_op op, ir_node *x, ir_node *dy, const ir_pool_params *pp);

/* The shape facet and interpreter kernel of every pool op. */
int ir_pool_infer(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype);
int ir_pool_run(const ir_node *n, const double *const *in, double *out, char *err,
                size_t errlen);

#endif
