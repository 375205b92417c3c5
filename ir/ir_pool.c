/*
 * ir_pool.c - the pool ops' windows, shape rule and interpreter kernel
 * (ir_pool.h), after ATen's CPU kernels (MaxPoolKernel.cpp,
 * AvgPoolKernel.cpp, AdaptiveAvgPoolKernel.cpp).
 */
#include "ir_pool.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ir_pool_is(ir_op op)
{
	switch (op) {
	case IR_OP_MAX_POOL2D: case IR_OP_AVG_POOL2D: case IR_OP_ADAPTIVE_AVG_POOL2D:
	case IR_OP_MAX_POOL2D_GRAD: case IR_OP_AVG_POOL2D_GRAD: case IR_OP_ADAPTIVE_AVG_POOL2D_GRAD:
		return 1;
	default:
		return 0;
	}
}

ir_op ir_pool_forward(ir_op op)
{
	switch (op) {
	case IR_OP_MAX_POOL2D_GRAD: return IR_OP_MAX_POOL2D;
	case IR_OP_AVG_POOL2D_GRAD: return IR_OP_AVG_POOL2D;
	case IR_OP_ADAPTIVE_AVG_POOL2D_GRAD: return IR_OP_ADAPTIVE_AVG_POOL2D;
	default: return op;
	}
}

ir_pool_params ir_pool_params_of(const ir_node *n)
{
	ir_pool_params p;
	memset(&p, 0, sizeof p);
	if (ir_pool_forward(n->op) == IR_OP_ADAPTIVE_AVG_POOL2D) {
		p.oh = ir_attr_i(n, IR_ATTR_OUT_H);
		p.ow = ir_attr_i(n, IR_ATTR_OUT_W);
		return p;
	}
	p.kh = ir_attr_i(n, IR_ATTR_KERNEL_H);
	p.kw = ir_attr_i(n, IR_ATTR_KERNEL_W);
	p.sh = ir_attr_i(n, IR_ATTR_STRIDE_H);
	p.sw = ir_attr_i(n, IR_ATTR_STRIDE_W);
	p.ph = ir_attr_i(n, IR_ATTR_PAD_H);
	p.pw = ir_attr_i(n, IR_ATTR_PAD_W);
	p.count_pad = (int)ir_attr_i(n, IR_ATTR_COUNT_PAD);
	return p;
}

ir_pool_win ir_pool_window(ir_op fwd, int64_t k, int64_t s, int64_t p, int64_t o,
                           int64_t len, int64_t olen)
{
	ir_pool_win w;
	if (fwd == IR_OP_ADAPTIVE_AVG_POOL2D) {
		w.lo = o * len / olen;
		w.hi = ((o + 1) * len + olen - 1) / olen;
		w.span = w.hi - w.lo;
		return w;
	}
	int64_t start = o * s - p, end = start + k < len + p ? start + k : len + p;
	w.span = end - start;
	w.lo = start > 0 ? start : 0;
	w.hi = end < len ? end : len;
	return w;
}

static int fail(ir_graph *g, const ir_node *n, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

static int fail(ir_graph *g, const ir_node *n, const char *fmt, ...)
{
	char m[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	ir_error(g, n->loc, "%s: %s", ir_op_name(n->op), m);
	return -1;
}

/* The forward output shape of pool node n over x; -1 (reported) if invalid. */
static int out_shape(ir_graph *g, const ir_node *n, const ir_node *x, ir_shape *s)
{
	ir_pool_params p = ir_pool_params_of(n);
	if (!ir_dtype_is_float(x->dtype))
		return fail(g, n, "expects a float tensor, got %s", ir_dtype_name(x->dtype));
	if (x->shape.rank != 4)
		return fail(g, n, "expects an input [N,C,H,W], got rank %d", x->shape.rank);
	int64_t H = x->shape.dim[2], W = x->shape.dim[3], d[4] = {x->shape.dim[0], x->shape.dim[1], 0, 0};
	if (H < 1 || W < 1)
		return fail(g, n, "input height %lld and width %lld must be positive", (long long)H,
		            (long long)W);
	if (ir_pool_forward(n->op) == IR_OP_ADAPTIVE_AVG_POOL2D) {
		if (p.oh < 1 || p.ow < 1)
			return fail(g, n, "output size %lldx%lld must be positive", (long long)p.oh,
			            (long long)p.ow);
		d[2] = p.oh;
		d[3] = p.ow;
	} else {
		if (p.kh < 1 || p.kw < 1)
			return fail(g, n, "kernel size %lldx%lld must be positive", (long long)p.kh,
			            (long long)p.kw);
		if (p.sh < 1 || p.sw < 1)
			return fail(g, n, "stride %lldx%lld must be positive", (long long)p.sh, (long long)p.sw);
		if (p.ph < 0 || p.pw < 0 || 2 * p.ph > p.kh || 2 * p.pw > p.kw)
			return fail(g, n, "padding %lldx%lld must be at most half the kernel size",
			            (long long)p.ph, (long long)p.pw);
		if (H + 2 * p.ph < p.kh || W + 2 * p.pw < p.kw)
			return fail(g, n, "the padded input %lldx%lld is smaller than the kernel",
			            (long long)(H + 2 * p.ph), (long long)(W + 2 * p.pw));
		d[2] = (H + 2 * p.ph - p.kh) / p.sh + 1;
		d[3] = (W + 2 * p.pw - p.kw) / p.sw + 1;
	}
	*s = ir_shape_make(4, d);
	return 0;
}

int ir_pool_infer(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	const ir_node *x = n->in[0];
	ir_shape o;
	if (out_shape(g, n, x, &o))
		return -1;
	*dtype = x->dtype;
	if (ir_pool_forward(n->op) == n->op) {
		*shape = o;
		return 0;
	}
	const ir_node *dy = n->in[1];
	if (!ir_shape_eq(&dy->shape, &o) || dy->dtype != x->dtype) {
		char a[64], b[64], m[256];
		snprintf(m, sizeof m, "dy has shape %s, expected %s", ir_shape_str(&dy->shape, a, sizeof a),
		         ir_shape_str(&o, b, sizeof b));
		ir_error(g, n->loc, "%s: %s", ir_op_name(n->op), m);
		return -1;
	}
	*shape = x->shape;
	return 0;
}

int ir_pool_run(const ir_node *n, const double *const *in, double *out, char *err, size_t errlen)
{
	ir_op fwd = ir_pool_forward(n->op);
	int grad = fwd != n->op;
	const ir_shape *xs = &n->in[0]->shape;
	const ir_shape *ys = grad ? &n->in[1]->shape : &n->shape;
	if (xs->rank != 4 || ys->rank != 4) {
		snprintf(err, errlen, "node %%%d (%s): expects [N,C,H,W] tensors", n->id, ir_op_name(n->op));
		return -1;
	}
	ir_pool_params p = ir_pool_params_of(n);
	int64_t H = xs->dim[2], W = xs->dim[3], OH = ys->dim[2], OW = ys->dim[3];
	int64_t planes = xs->dim[0] * xs->dim[1];
	if (grad)
		memset(out, 0, (size_t)(planes * H * W) * sizeof *out);
	for (int64_t pl = 0; pl < planes; pl++) {
		const double *x = in[0] + pl * H * W;
		double *dx = out + pl * H * W;
		for (int64_t oh = 0; oh < OH; oh++) {
			ir_pool_win wh = ir_pool_window(fwd, p.kh, p.sh, p.ph, oh, H, OH);
			for (int64_t ow = 0; ow < OW; ow++) {
				ir_pool_win ww = ir_pool_window(fwd, p.kw, p.sw, p.pw, ow, W, OW);
				int64_t o = pl * OH * OW + oh * OW + ow;
				double dy = grad ? in[1][o] : 0.0;
				if (fwd == IR_OP_MAX_POOL2D) {
					/* ATen: the first maximum, or the last NaN */
					int64_t best = wh.lo * W + ww.lo;
					double bv = -INFINITY;
					for (int64_t ih = wh.lo; ih < wh.hi; ih++)
						for (int64_t iw = ww.lo; iw < ww.hi; iw++)
							if (x[ih * W + iw] > bv || isnan(x[ih * W + iw])) {
								bv = x[ih * W + iw];
								best = ih * W + iw;
							}
					if (grad)
						dx[best] += dy;
					else
						out[o] = bv;
					continue;
				}
				int64_t cnt = (wh.hi - wh.lo) * (ww.hi - ww.lo);
				double div = fwd == IR_OP_AVG_POOL2D && !p.count_pad ? (double)cnt
				                                                       : (double)(wh.span * ww.span);
				double sum = 0.0;
				for (int64_t ih = wh.lo; ih < wh.hi; ih++)
					for (int64_t iw = ww.lo; iw < ww.hi; iw++) {
						if (grad)
							dx[ih * W + iw] += dy / div;
						else
							sum += x[ih * W + iw];
					}
				if (!grad)
					out[o] = cnt > 0 ? sum / div : 0.0;
			}
		}
	}
	int64_t numel = ir_shape_numel(&n->shape);
	if (n->dtype == IR_F32)
		for (int64_t i = 0; i < numel; i++)
			out[i] = (double)(float)out[i];
	return 0;
}
