/*
 * ir_conv.c - the conv ops' sizes, builders, shape rule and interpreter
 * kernels (ir_conv.h).
 *
 * The interpreter sums in double and rounds once to the node's dtype, as
 * it does every op (matmul included): for f32 the products of two floats
 * are exact in double, so the result is the exact sum up to double
 * rounding, which is closer to PyTorch's float32 result (blocked sums in
 * oneDNN) than one long float32 sum would be.
 */
#include "ir_conv.h"
#include "ir_interp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ir_conv_is(ir_op op)
{
	return op == IR_OP_CONV2D || op == IR_OP_CONV2D_BWD_DATA || op == IR_OP_CONV2D_BWD_WEIGHT;
}

ir_conv_params ir_conv_params_default(void)
{
	ir_conv_params p = {1, 1, 0, 0, 1, 1, 1};
	return p;
}

ir_conv_params ir_conv_params_of(const ir_node *n)
{
	ir_conv_params p;
	p.sh = ir_attr_i(n, IR_ATTR_STRIDE_H);
	p.sw = ir_attr_i(n, IR_ATTR_STRIDE_W);
	p.ph = ir_attr_i(n, IR_ATTR_PAD_H);
	p.pw = ir_attr_i(n, IR_ATTR_PAD_W);
	p.dh = ir_attr_i(n, IR_ATTR_DILATION_H);
	p.dw = ir_attr_i(n, IR_ATTR_DILATION_W);
	p.groups = ir_attr_i(n, IR_ATTR_GROUPS);
	return p;
}

int64_t ir_conv_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t dil)
{
	int64_t span = in + 2 * p - dil * (k - 1) - 1;
	if (span < 0 || s < 1)
		return 0;
	return span / s + 1;
}

int ir_conv_desc_of(const ir_node *n, ir_conv_desc *d)
{
	if (!ir_conv_is(n->op) || n->nin != 2 || n->in[0]->shape.rank != 4 ||
	    n->in[1]->shape.rank != 4)
		return -1;
	ir_conv_params p = ir_conv_params_of(n);
	const int64_t *a = n->in[0]->shape.dim, *b = n->in[1]->shape.dim;
	memset(d, 0, sizeof *d);
	d->sh = p.sh, d->sw = p.sw, d->ph = p.ph, d->pw = p.pw;
	d->dh = p.dh, d->dw = p.dw, d->groups = p.groups;
	switch (n->op) {
	case IR_OP_CONV2D: /* (x, w) */
		d->N = a[0], d->C = a[1], d->H = a[2], d->W = a[3];
		d->O = b[0], d->kh = b[2], d->kw = b[3];
		d->OH = ir_conv_out_size(d->H, d->kh, p.sh, p.ph, p.dh);
		d->OW = ir_conv_out_size(d->W, d->kw, p.sw, p.pw, p.dw);
		break;
	case IR_OP_CONV2D_BWD_DATA: /* (dy, w) */
		d->N = a[0], d->O = a[1], d->OH = a[2], d->OW = a[3];
		d->C = b[1] * p.groups, d->kh = b[2], d->kw = b[3];
		d->H = ir_attr_i(n, IR_ATTR_IN_H), d->W = ir_attr_i(n, IR_ATTR_IN_W);
		break;
	default: /* BWD_WEIGHT: (x, dy) */
		d->N = a[0], d->C = a[1], d->H = a[2], d->W = a[3];
		d->O = b[1], d->OH = b[2], d->OW = b[3];
		d->kh = ir_attr_i(n, IR_ATTR_KERNEL_H), d->kw = ir_attr_i(n, IR_ATTR_KERNEL_W);
		break;
	}
	return 0;
}

/* ---- builders ---- */

static void set(ir_op op, ir_attr_val *attr, ir_attr_key key, int64_t v)
{
	int na;
	const ir_attr_desc *d = ir_op_attrs(op, &na);
	for (int i = 0; i < na; i++)
		if (d[i].key == key)
			attr[i].i = v;
}

static ir_node *build(ir_graph *g, ir_op op, ir_node *a, ir_node *b, const ir_conv_params *p,
                      ir_attr_key k1, int64_t v1, ir_attr_key k2, int64_t v2)
{
	if (!a || !b)
		return g->has_err ? NULL : ir_error(g, g->cur, "%s: missing input", ir_op_name(op));
	ir_attr_val attr[IR_MAX_ATTRS];
	memset(attr, 0, sizeof attr);
	ir_attr_defaults(op, attr);
	set(op, attr, IR_ATTR_STRIDE_H, p->sh);
	set(op, attr, IR_ATTR_STRIDE_W, p->sw);
	set(op, attr, IR_ATTR_PAD_H, p->ph);
	set(op, attr, IR_ATTR_PAD_W, p->pw);
	set(op, attr, IR_ATTR_DILATION_H, p->dh);
	set(op, attr, IR_ATTR_DILATION_W, p->dw);
	set(op, attr, IR_ATTR_GROUPS, p->groups);
	if (k1 != IR_ATTR_COUNT) {
		set(op, attr, k1, v1);
		set(op, attr, k2, v2);
	}
	ir_node *in[2] = {a, b};
	return ir_node_make_attrs(g, op, in, 2, attr);
}

ir_node *ir_conv2d(ir_graph *g, ir_node *x, ir_node *w, const ir_conv_params *p)
{
	return build(g, IR_OP_CONV2D, x, w, p, IR_ATTR_COUNT, 0, IR_ATTR_COUNT, 0);
}

ir_node *ir_conv2d_bwd_data(ir_graph *g, ir_node *dy, ir_node *w, int64_t in_h, int64_t in_w,
                            const ir_conv_params *p)
{
	return build(g, IR_OP_CONV2D_BWD_DATA, dy, w, p, IR_ATTR_IN_H, in_h, IR_ATTR_IN_W, in_w);
}

ir_node *ir_conv2d_bwd_weight(ir_graph *g, ir_node *x, ir_node *dy, int64_t kh, int64_t kw,
                              const ir_conv_params *p)
{
	return build(g, IR_OP_CONV2D_BWD_WEIGHT, x, dy, p, IR_ATTR_KERNEL_H, kh, IR_ATTR_KERNEL_W,
	             kw);
}

/* ---- shape rule ---- */

static int fail(ir_graph *g, const ir_node *n, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

static int fail(ir_graph *g, const ir_node *n, const char *fmt, ...)
{
	char m[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	ir_error(g, n->loc, "%s: %s", ir_op_name(n->op), m);
	return -1;
}

#define LL(v) ((long long)(v))

/* The sizes every op of the family must satisfy (as PyTorch checks them). */
static int check_sizes(ir_graph *g, const ir_node *n, const ir_conv_desc *d)
{
	if (d->groups < 1)
		return fail(g, n, "groups %lld must be positive", LL(d->groups));
	if (d->sh < 1 || d->sw < 1)
		return fail(g, n, "stride %lldx%lld must be positive", LL(d->sh), LL(d->sw));
	if (d->dh < 1 || d->dw < 1)
		return fail(g, n, "dilation %lldx%lld must be positive", LL(d->dh), LL(d->dw));
	if (d->ph < 0 || d->pw < 0)
		return fail(g, n, "padding %lldx%lld must be non-negative", LL(d->ph), LL(d->pw));
	if (d->kh < 1 || d->kw < 1)
		return fail(g, n, "kernel size %lldx%lld must be positive", LL(d->kh), LL(d->kw));
	if (d->H < 1 || d->W < 1)
		return fail(g, n, "input height %lld and width %lld must be positive", LL(d->H),
		            LL(d->W));
	if (d->C % d->groups)
		return fail(g, n, "input channels %lld are not divisible by groups %lld", LL(d->C),
		            LL(d->groups));
	if (d->O % d->groups)
		return fail(g, n, "output channels %lld are not divisible by groups %lld", LL(d->O),
		            LL(d->groups));
	/* kernel sizes come from a bounded shape, dilations from 32-bit
	 * attributes: their product can pass int64 only when it is absurd */
	if (d->kh - 1 > IR_MAX_NUMEL / d->dh || d->kw - 1 > IR_MAX_NUMEL / d->dw)
		return fail(g, n, "the kernel %lldx%lld dilated %lldx%lld is larger than any input",
		            LL(d->kh), LL(d->kw), LL(d->dh), LL(d->dw));
	int64_t eh = d->dh * (d->kh - 1) + 1, ew = d->dw * (d->kw - 1) + 1;
	if (eh > d->H + 2 * d->ph || ew > d->W + 2 * d->pw)
		return fail(g, n, "the kernel %lldx%lld (%lldx%lld dilated) is larger than the padded "
		            "input %lldx%lld", LL(d->kh), LL(d->kw), LL(eh), LL(ew),
		            LL(d->H + 2 * d->ph), LL(d->W + 2 * d->pw));
	return 0;
}

static int check_input(ir_graph *g, const ir_node *n, int i, const char *what)
{
	const ir_node *x = n->in[i];
	if (!ir_dtype_is_float(x->dtype))
		return fail(g, n, "%s must be a float tensor, got %s", what, ir_dtype_name(x->dtype));
	if (x->shape.rank != 4)
		return fail(g, n, "%s must have rank 4, got rank %d", what, x->shape.rank);
	return 0;
}

int ir_conv_infer(ir_graph *g, const ir_node *n, ir_shape *shape, ir_dtype *dtype)
{
	static const char *const names[][2] = {
		{"input [N,C,H,W]", "weight [out_channels, in_channels/groups, kh, kw]"},
		{"dy [N,O,OH,OW]", "weight [out_channels, in_channels/groups, kh, kw]"},
		{"input [N,C,H,W]", "dy [N,O,OH,OW]"}};
	int which = n->op == IR_OP_CONV2D ? 0 : n->op == IR_OP_CONV2D_BWD_DATA ? 1 : 2;
	if (check_input(g, n, 0, names[which][0]) || check_input(g, n, 1, names[which][1]))
		return -1;
	if (n->in[0]->dtype != n->in[1]->dtype)
		return fail(g, n, "the %s is %s but the %s is %s", names[which][0],
		            ir_dtype_name(n->in[0]->dtype), names[which][1],
		            ir_dtype_name(n->in[1]->dtype));
	ir_conv_desc d;
	ir_conv_desc_of(n, &d);
	if (check_sizes(g, n, &d))
		return -1;
	const ir_node *w = which == 2 ? NULL : n->in[1];
	if (w && w->shape.dim[1] * d.groups != d.C && which == 0)
		return fail(g, n, "the weight has %lld input channels per group, expected %lld "
		            "(input channels %lld / groups %lld)", LL(w->shape.dim[1]),
		            LL(d.C / d.groups), LL(d.C), LL(d.groups));
	if (w && w->shape.dim[0] != d.O)
		return fail(g, n, "the weight has %lld output channels, dy %lld", LL(w->shape.dim[0]),
		            LL(d.O));
	int64_t oh = ir_conv_out_size(d.H, d.kh, d.sh, d.ph, d.dh);
	int64_t ow = ir_conv_out_size(d.W, d.kw, d.sw, d.pw, d.dw);
	*dtype = n->in[0]->dtype;
	if (which == 0) {
		*shape = ir_shape_make(4, (int64_t[]){d.N, d.O, oh, ow});
		return 0;
	}
	const ir_node *dy = n->in[which == 1 ? 0 : 1];
	if (dy->shape.dim[0] != d.N || dy->shape.dim[2] != oh || dy->shape.dim[3] != ow) {
		char a[64], b[64];
		ir_shape want = ir_shape_make(4, (int64_t[]){d.N, d.O, oh, ow});
		return fail(g, n, "dy has shape %s, expected %s", ir_shape_str(&dy->shape, a, sizeof a),
		            ir_shape_str(&want, b, sizeof b));
	}
	if (which == 1)
		*shape = ir_shape_make(4, (int64_t[]){d.N, d.C, d.H, d.W});
	else
		*shape = ir_shape_make(4, (int64_t[]){d.O, d.C / d.groups, d.kh, d.kw});
	return 0;
}

/* ---- interpreter ---- */

/* y[n,o,oh,ow]: over (c, ky, kx) of o's group, padding skipped */
static void run_forward(const ir_conv_desc *d, const double *x, const double *w, double *y)
{
	int64_t Cg = d->C / d->groups, Og = d->O / d->groups;
	for (int64_t n = 0; n < d->N; n++)
		for (int64_t o = 0; o < d->O; o++)
			for (int64_t oh = 0; oh < d->OH; oh++)
				for (int64_t ow = 0; ow < d->OW; ow++) {
					double acc = 0.0;
					for (int64_t c = 0; c < Cg; c++) {
						const double *xp = x + (n * d->C + o / Og * Cg + c) * d->H * d->W;
						const double *wp = w + (o * Cg + c) * d->kh * d->kw;
						for (int64_t ky = 0; ky < d->kh; ky++) {
							int64_t ih = oh * d->sh - d->ph + ky * d->dh;
							if (ih < 0 || ih >= d->H)
								continue;
							for (int64_t kx = 0; kx < d->kw; kx++) {
								int64_t iw = ow * d->sw - d->pw + kx * d->dw;
								if (iw >= 0 && iw < d->W)
									acc += xp[ih * d->W + iw] * wp[ky * d->kw + kx];
							}
						}
					}
					y[((n * d->O + o) * d->OH + oh) * d->OW + ow] = acc;
				}
}

/* The output position of input position i at kernel tap k along an axis,
 * or -1 when none (padding, or a stride that skips it). */
static int64_t out_pos(int64_t i, int64_t k, int64_t s, int64_t p, int64_t dil, int64_t olen)
{
	int64_t t = i + p - k * dil;
	if (t < 0 || t % s)
		return -1;
	return t / s < olen ? t / s : -1;
}

/* dx[n,ci,ih,iw]: over (o in ci's group, ky, kx) of the outputs it fed */
static void run_bwd_data(const ir_conv_desc *d, const double *dy, const double *w, double *dx)
{
	int64_t Cg = d->C / d->groups, Og = d->O / d->groups;
	for (int64_t n = 0; n < d->N; n++)
		for (int64_t ci = 0; ci < d->C; ci++)
			for (int64_t ih = 0; ih < d->H; ih++)
				for (int64_t iw = 0; iw < d->W; iw++) {
					double acc = 0.0;
					for (int64_t ol = 0; ol < Og; ol++) {
						int64_t o = ci / Cg * Og + ol;
						const double *dyp = dy + (n * d->O + o) * d->OH * d->OW;
						const double *wp = w + (o * Cg + ci % Cg) * d->kh * d->kw;
						for (int64_t ky = 0; ky < d->kh; ky++) {
							int64_t oh = out_pos(ih, ky, d->sh, d->ph, d->dh, d->OH);
							if (oh < 0)
								continue;
							for (int64_t kx = 0; kx < d->kw; kx++) {
								int64_t ow = out_pos(iw, kx, d->sw, d->pw, d->dw, d->OW);
								if (ow >= 0)
									acc += dyp[oh * d->OW + ow] * wp[ky * d->kw + kx];
							}
						}
					}
					dx[((n * d->C + ci) * d->H + ih) * d->W + iw] = acc;
				}
}

/* dw[o,c,ky,kx]: over (n, oh, ow) */
static void run_bwd_weight(const ir_conv_desc *d, const double *x, const double *dy, double *dw)
{
	int64_t Cg = d->C / d->groups, Og = d->O / d->groups;
	for (int64_t o = 0; o < d->O; o++)
		for (int64_t c = 0; c < Cg; c++)
			for (int64_t ky = 0; ky < d->kh; ky++)
				for (int64_t kx = 0; kx < d->kw; kx++) {
					double acc = 0.0;
					for (int64_t n = 0; n < d->N; n++) {
						const double *xp = x + (n * d->C + o / Og * Cg + c) * d->H * d->W;
						const double *dyp = dy + (n * d->O + o) * d->OH * d->OW;
						for (int64_t oh = 0; oh < d->OH; oh++) {
							int64_t ih = oh * d->sh - d->ph + ky * d->dh;
							if (ih < 0 || ih >= d->H)
								continue;
							for (int64_t ow = 0; ow < d->OW; ow++) {
								int64_t iw = ow * d->sw - d->pw + kx * d->dw;
								if (iw >= 0 && iw < d->W)
									acc += xp[ih * d->W + iw] * dyp[oh * d->OW + ow];
							}
						}
					}
					dw[((o * Cg + c) * d->kh + ky) * d->kw + kx] = acc;
				}
}

int ir_conv_run(const ir_node *n, const double *const *in, double *out, char *err, size_t errlen)
{
	ir_conv_desc d;
	if (ir_conv_desc_of(n, &d) || d.groups < 1 || d.sh < 1 || d.sw < 1 || d.C % d.groups ||
	    d.O % d.groups)
		return ir_interp_err(n, err, errlen, "expects rank-4 operands with valid sizes");
	if (n->op == IR_OP_CONV2D)
		run_forward(&d, in[0], in[1], out);
	else if (n->op == IR_OP_CONV2D_BWD_DATA)
		run_bwd_data(&d, in[0], in[1], out);
	else
		run_bwd_weight(&d, in[0], in[1], out);
	if (n->dtype == IR_F32) {
		int64_t numel = ir_shape_numel(&n->shape);
		for (int64_t i = 0; i < numel; i++)
			out[i] = (double)(float)out[i];
	}
	return 0;
}
