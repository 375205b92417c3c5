/*
 * ir_interp_loss.c - the interpreter's kernels of the row-wise losses over
 * logits or log-probabilities [N,C] and labels [N] (cross_entropy, nll_loss,
 * their gradients, correct) and of one_hot: labels are checked here, so a
 * bad label is an error naming the model line.
 */
#include <math.h>

#include "ir_interp.h"

static double rnd(ir_dtype t, double v)
{
	return t == IR_F32 ? (double)(float)v : v;
}

/* Checks every label is an integer in [0, C). */
static int check_labels(const ir_node *n, const double *lab, int64_t N, int64_t C,
                        char *err, size_t errlen)
{
	for (int64_t r = 0; r < N; r++)
		if (!(lab[r] >= 0 && lab[r] < (double)C) || lab[r] != floor(lab[r]))
			return ir_interp_err(n, err, errlen,
			                "label %g of example %lld is outside [0, %lld) (input '%s')",
			                lab[r], (long long)r, (long long)C,
			                n->in[1]->name ? n->in[1]->name : "labels");
	return 0;
}

/* ONE_HOT: 1 at each row's label, labels checked as the losses' */
int ir_interp_one_hot(const ir_node *n, const double *const *in, double *out, char *err,
                      size_t errlen)
{
	int64_t N = n->shape.dim[0], C = n->shape.dim[1];
	for (int64_t r = 0; r < N; r++)
		if (!(in[0][r] >= 0 && in[0][r] < (double)C) || in[0][r] != floor(in[0][r]))
			return ir_interp_err(n, err, errlen,
			                "label %g of example %lld is outside [0, %lld) (input '%s')",
			                in[0][r], (long long)r, (long long)C,
			                n->in[0]->name ? n->in[0]->name : "labels");
	for (int64_t i = 0; i < N * C; i++)
		out[i] = (double)(i % C) == in[0][i / C] ? 1.0 : 0.0;
	return 0;
}

/*
 * NLL_LOSS: l[r] = -x[r, y[r]], then the mean, the sum or each row.
 * NLL_LOSS_GRAD: -dl at each row's label, 0 elsewhere (dl/N for the mean).
 */
static int run_nll(const ir_node *n, const double *const *in, double *out)
{
	int64_t N = n->in[0]->shape.dim[0], C = n->in[0]->shape.dim[1];
	int red = (int)ir_attr_i(n, IR_ATTR_REDUCTION);
	double total = 0.0;
	for (int64_t r = 0; r < N; r++) {
		int64_t y = (int64_t)in[1][r];
		if (n->op == IR_OP_NLL_LOSS_GRAD) {
			double dl = red == IR_REDUCE_NONE ? in[2][r]
			            : red == IR_REDUCE_SUM ? in[2][0] : in[2][0] / (double)N;
			for (int64_t c = 0; c < C; c++)
				out[r * C + c] = rnd(n->dtype, c == y ? -dl : 0.0);
		} else if (red == IR_REDUCE_NONE) {
			out[r] = rnd(n->dtype, -in[0][r * C + y]);
		} else {
			total -= in[0][r * C + y];
		}
	}
	if (n->op == IR_OP_NLL_LOSS && red != IR_REDUCE_NONE)
		out[0] = rnd(n->dtype, red == IR_REDUCE_SUM ? total : N > 0 ? total / (double)N : NAN);
	return 0;
}

/* CROSS_ENTROPY(_GRAD), NLL_LOSS(_GRAD), CORRECT over logits [N,C], labels [N]. */
int ir_interp_rowwise_loss(const ir_node *n, const double *const *in, double *out,
                           char *err, size_t errlen)
{
	const ir_shape *ls = &n->in[0]->shape;
	if (ls->rank != 2 || n->in[1]->shape.rank != 1 || n->in[1]->shape.dim[0] != ls->dim[0])
		return ir_interp_err(n, err, errlen, "expects logits [N,C] and labels [N]");
	int64_t N = ls->dim[0], C = ls->dim[1];
	const double *x = in[0], *lab = in[1];
	double s = ir_attr_f(n, IR_ATTR_SMOOTHING), total = 0.0;
	if (check_labels(n, lab, N, C, err, errlen))
		return -1;
	if (n->op == IR_OP_NLL_LOSS || n->op == IR_OP_NLL_LOSS_GRAD)
		return run_nll(n, in, out);
	if (n->op == IR_OP_CROSS_ENTROPY_GRAD && ir_attr_i(n, IR_ATTR_REDUCTION) == IR_REDUCE_NONE &&
	    ir_shape_numel(&n->in[2]->shape) != N)
		return ir_interp_err(n, err, errlen, "dloss must have one value per example");
	for (int64_t r = 0; r < N; r++) {
		const double *xr = x + r * C;
		int64_t y = (int64_t)lab[r], best = 0;
		double mx = -INFINITY, sum = 0.0, sumlogp = 0.0;
		for (int64_t c = 0; c < C; c++) {
			if (xr[c] > xr[best])
				best = c;
			mx = xr[c] > mx ? xr[c] : mx;
		}
		if (n->op == IR_OP_CORRECT) {
			out[r] = best == y ? 1.0 : 0.0;
			continue;
		}
		for (int64_t c = 0; c < C; c++)
			sum += exp(xr[c] - mx);
		double lse = mx + log(sum);
		if (n->op == IR_OP_CROSS_ENTROPY) {
			for (int64_t c = 0; c < C; c++)
				sumlogp += xr[c] - lse;
			double l = (1.0 - s) * (lse - xr[y]) - s * sumlogp / (double)C;
			if (ir_attr_i(n, IR_ATTR_REDUCTION) == IR_REDUCE_NONE)
				out[r] = rnd(n->dtype, l);
			else
				total += l;
			continue;
		}
		/* d/dx of the smoothed loss: softmax - ((1-s)*onehot + s/C) */
		double dl = ir_attr_i(n, IR_ATTR_REDUCTION) == IR_REDUCE_NONE ? in[2][r] : in[2][0] / (double)N;
		for (int64_t c = 0; c < C; c++) {
			double t = (c == y ? 1.0 - s : 0.0) + s / (double)C;
			out[r * C + c] = rnd(n->dtype, (exp(xr[c] - lse) - t) * dl);
		}
	}
	if (n->op == IR_OP_CROSS_ENTROPY && ir_attr_i(n, IR_ATTR_REDUCTION) != IR_REDUCE_NONE)
		out[0] = rnd(n->dtype, N > 0 ? total / (double)N : NAN);
	return 0;
}
