/*
 * ir_conv.h - 2-D convolution over NCHW tensors, as torch.nn.functional's
 * conv2d without its bias (the conv2d layer adds the bias as a broadcast
 * add, which fusion can take into the next kernel):
 *
 *     conv2d(x [N,C,H,W], w [O, C/groups, kh, kw]) -> y [N,O,OH,OW]
 *     y[n,o,oh,ow] = sum over c < C/groups, ky < kh, kx < kw of
 *         x[n, g*C/groups + c, oh*sh - ph + ky*dh, ow*sw - pw + kx*dw] * w[o,c,ky,kx]
 *     with g = o / (O/groups); positions outside the input count as zero.
 *     OH = floor((H + 2*ph - dh*(kh-1) - 1) / sh) + 1, OW likewise.
 *
 * Its derivatives are ops of their own:
 *
 *     conv2d_bwd_data(dy, w)   -> dx [N,C,H,W]        (attributes input_h, input_w:
 *                                                      under a stride, OH does not
 *                                                      determine H)
 *     conv2d_bwd_weight(x, dy) -> dw [O,C/groups,kh,kw] (attributes kernel_h, kernel_w)
 *
 * All three carry stride, padding, dilation and groups (IR_ATTR_STRIDE_H/W,
 * PAD_H/W, DILATION_H/W, GROUPS). Each output element of each of them is
 * one sum (a gather), taken in a fixed order; ir_conv.c's interpreter
 * kernels define the order and codegen/cg_lower_conv.c keeps it.
 */
#ifndef SAMC_IR_CONV_H
#define SAMC_IR_CONV_H

#include "ir.h"

/* Stride, padding, dilation and groups: what the three ops share. */
typedef struct {
	int64_t sh, sw, ph, pw, dh, dw, groups;
} ir_conv_params;

/* PyTorch's defaults: stride 1, padding 0, dilation 1, groups 1. */
ir_conv_params ir_conv_params_default(void);

/* A convolution's sizes, whichever of the three ops a node is, for the
 * interpreter, the lowering and a library call alike. */
typedef struct {
	int64_t N, C, H, W;  /* input x */
	int64_t O, kh, kw;   /* weight [O, C/groups, kh, kw] */
	int64_t OH, OW;      /* output y */
	int64_t sh, sw, ph, pw, dh, dw, groups;
} ir_conv_desc;

int ir_conv_is(ir_op op); /* CONV2D and its two _BWD ops */
ir_conv_params ir_conv_params_of(const ir_node *n);
/* Fills d from conv node n (its inputs' shapes and its attributes);
 * -1 if n is not a conv op or its inputs are not rank 4. */
int ir_conv_desc_of(const ir_node *n, ir_conv_desc *d);
/* floor((in + 2p - dil*(k-1) - 1) / s) + 1; < 1 when the dilated kernel
 * does not fit the padded input. */
int64_t ir_conv_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t dil);

/* Builders: the forward op, and its derivatives with dx's height and width
 * or dw's kernel size. */
ir_node *ir_conv2d(ir_graph *g, ir_node *x, ir_node *w, const ir_conv_params *p);
ir_node *ir_conv2d_bwd_data(ir_graph *g, ir_node *dy, ir_node *w, int64_t in_h, int64_t in_w,
                            const ir_conv_params *p);
ir_node *ir_conv2d_bwd_weight(ir_graph *g, ir_node *x, ir_node *dy, int64_t kh, int64_t kw,
                              const ir_conv_params *p);

/* The shape facet and interpreter kernel of the three ops. */
int ir_conv_infer(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype);
int ir_conv_run(const ir_node *n, const double *const *in, double *out, char *err,
                size_t errlen);

#endif
