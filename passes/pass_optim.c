/*
 * pass_optim.c - SGD, Adam, AdamW and RMSprop as graph nodes.
 *
 * The formulas follow torch.optim's single-tensor implementations term by
 * term (including SGD's first-step momentum buffer and Adam's bias
 * corrections), so `samc steps` can be compared with PyTorch to 1e-9.
 * Hyperparameters are scalar inputs (see rt_step_scalars); only whether a
 * term exists at all (momentum, dampening, weight decay != 0) is decided
 * here, from the recipe. Gradient clipping (torch.nn.utils.clip_grad_norm_)
 * scales the gradients first, and each parameter's lr and weight decay come
 * from its optimizer group and optimizer.no_decay, as a torch.optim param
 * group's would.
 */
#include "pass_optim.h"
#include "pass_pipeline.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
	ir_graph *g;
	ir_dtype t;
} opt_ctx;

static ir_node *K(opt_ctx *c, double v) { return ir_const(c->g, c->t, ir_shape_scalar(), v); }

static ir_node *scalar_input(opt_ctx *c, const char *name)
{
	ir_node *x = ir_find_leaf(c->g, IR_OP_INPUT, name);
	return x ? x : ir_input(c->g, name, c->t, ir_shape_scalar());
}

/* A hyperparameter: a step input (see rt_recipe.h). */
static ir_node *H(opt_ctx *c, const char *name) { return scalar_input(c, name); }

static ir_node *B(opt_ctx *c, ir_op op, ir_node *a, ir_node *b)
{
	return ir_binary(c->g, op, a, b);
}

static ir_node *buffer(opt_ctx *c, const ir_node *p, const char *what)
{
	char name[512];
	snprintf(name, sizeof name, "opt.%s.%s", p->name, what);
	ir_node *s = ir_find_leaf(c->g, IR_OP_STATE, name);
	return s ? s : ir_state(c->g, name, p->dtype, p->shape);
}

static int assign(opt_ctx *c, ir_node *target, ir_node *v)
{
	return target && v && ir_assign(c->g, target, v) ? 0 : -1;
}

/* One parameter's hyperparameters: its group's lr, its weight decay (NULL:
 * none at all) and, for Adam, its group's step size lr / (1 - beta1^t). */
typedef struct {
	ir_node *lr, *wd, *step_size;
} opt_hyper;

static ir_node *group_input(opt_ctx *c, const char *base, int group)
{
	char name[64];
	if (group < 0)
		return H(c, base);
	rt_scalar_opt_group(name, sizeof name, base, group);
	return H(c, name);
}

static opt_hyper hyper_of(opt_ctx *c, const opt_config *o, const ir_node *p, ir_node *lr)
{
	opt_hyper h = {lr, NULL, NULL};
	int k = rt_opt_group_of(o, p->name);
	double wd = k >= 0 && o->param_groups[k].wd_given ? o->param_groups[k].weight_decay
	                                                  : o->weight_decay;
	if (k >= 0)
		h.lr = group_input(c, RT_SCALAR_LR, k);
	if (wd != 0 && !rt_opt_no_decay(o, p->name))
		h.wd = group_input(c, RT_SCALAR_WEIGHT_DECAY, k);
	if (o->kind == OPT_ADAM || o->kind == OPT_ADAMW)
		h.step_size = group_input(c, RT_SCALAR_ADAM_STEP_SIZE, k);
	return h;
}

/* clip_grad_norm_: g * min(1, C / (||g||_2 + 1e-6)), the norm over every
 * gradient at once, applied unconditionally as torch does (no branch). */
static int clip(opt_ctx *c, ir_node *const *grads, ir_node **out, int n)
{
	ir_node *n2 = ir_dot_all(c->g, grads, grads, n);
	if (!n2)
		return n == 0 ? 0 : -1;
	ir_node *coef = B(c, IR_OP_DIV, H(c, RT_SCALAR_CLIP_GRAD_NORM),
	                  B(c, IR_OP_ADD, ir_unary(c->g, IR_OP_SQRT, n2), K(c, 1e-6)));
	coef = B(c, IR_OP_MINIMUM, coef, K(c, 1.0));
	for (int i = 0; i < n; i++)
		if (!(out[i] = B(c, IR_OP_MUL, grads[i], coef)))
			return -1;
	return 0;
}

static int sgd(opt_ctx *c, const opt_config *o, ir_node *p, ir_node *grad, const opt_hyper *h,
               ir_node *step)
{
	ir_node *d = grad, *lr = h->lr;
	if (h->wd)
		d = B(c, IR_OP_ADD, d, B(c, IR_OP_MUL, p, h->wd));
	if (o->momentum != 0) {
		ir_node *buf = buffer(c, p, "momentum_buffer");
		ir_node *next = B(c, IR_OP_ADD, B(c, IR_OP_MUL, buf, H(c, RT_SCALAR_MOMENTUM)),
		                  o->dampening != 0 ? B(c, IR_OP_MUL, d, H(c, RT_SCALAR_UNDAMPED)) : d);
		if (o->dampening != 0) {
			/* torch starts the buffer at d_p itself, undamped, on step 1 */
			ir_node *first = B(c, IR_OP_EQ, step, K(c, 1.0));
			next = B(c, IR_OP_ADD, B(c, IR_OP_MUL, first, d),
			         B(c, IR_OP_MUL, B(c, IR_OP_SUB, K(c, 1.0), first), next));
		}
		if (assign(c, buf, next))
			return -1;
		d = o->nesterov ? B(c, IR_OP_ADD, d, B(c, IR_OP_MUL, next, H(c, RT_SCALAR_MOMENTUM))) : next;
	}
	return assign(c, p, B(c, IR_OP_SUB, p, B(c, IR_OP_MUL, d, lr)));
}

static int adam(opt_ctx *c, const opt_config *o, ir_node *p, ir_node *grad, const opt_hyper *h)
{
	ir_node *m = buffer(c, p, "exp_avg"), *v = buffer(c, p, "exp_avg_sq");
	ir_node *w = p;
	if (h->wd) {
		if (o->kind == OPT_ADAMW) /* decoupled: param *= 1 - lr*wd */
			w = B(c, IR_OP_MUL, p, B(c, IR_OP_SUB, K(c, 1.0), B(c, IR_OP_MUL, h->lr, h->wd)));
		else
			grad = B(c, IR_OP_ADD, grad, B(c, IR_OP_MUL, p, h->wd));
	}
	/* exp_avg.lerp_(grad, 1-beta1); exp_avg_sq * beta2 + (1-beta2) g^2 */
	ir_node *m2 = B(c, IR_OP_ADD, m, B(c, IR_OP_MUL, B(c, IR_OP_SUB, grad, m),
	                                  H(c, RT_SCALAR_ADAM_ONE_MINUS_BETA1)));
	ir_node *v2 = B(c, IR_OP_ADD, B(c, IR_OP_MUL, v, H(c, RT_SCALAR_ADAM_BETA2)),
	                B(c, IR_OP_MUL, B(c, IR_OP_MUL, grad, grad),
	                  H(c, RT_SCALAR_ADAM_ONE_MINUS_BETA2)));
	/* lr / (1 - beta1^t) and sqrt(1 - beta2^t) come from the host in double
	 * (rt_step_scalars), as PyTorch computes them */
	ir_node *step_size = h->step_size;
	ir_node *bc2_sqrt = scalar_input(c, PASS_INPUT_ADAM_BC2_SQRT);
	ir_node *denom = B(c, IR_OP_ADD, B(c, IR_OP_DIV, ir_unary(c->g, IR_OP_SQRT, v2), bc2_sqrt),
	                   H(c, RT_SCALAR_ADAM_EPS));
	ir_node *upd = B(c, IR_OP_SUB, w, B(c, IR_OP_MUL, B(c, IR_OP_DIV, m2, denom), step_size));
	if (assign(c, m, m2) || assign(c, v, v2))
		return -1;
	return assign(c, p, upd);
}

/* torch.optim.RMSprop: square_avg = alpha*sa + (1-alpha)*g^2; centered:
 * grad_avg = alpha*ga + (1-alpha)*g and sa - ga^2 under the root; eps added
 * outside the root; momentum: buf = momentum*buf + g/avg, p -= lr*buf. */
static int rmsprop(opt_ctx *c, const opt_config *o, ir_node *p, ir_node *grad, const opt_hyper *h)
{
	if (h->wd)
		grad = B(c, IR_OP_ADD, grad, B(c, IR_OP_MUL, p, h->wd));
	ir_node *sa = buffer(c, p, "square_avg");
	ir_node *sa2 = B(c, IR_OP_ADD, B(c, IR_OP_MUL, sa, H(c, RT_SCALAR_RMSPROP_ALPHA)),
	                 B(c, IR_OP_MUL, B(c, IR_OP_MUL, grad, grad),
	                   H(c, RT_SCALAR_RMSPROP_ONE_MINUS_ALPHA)));
	ir_node *var = sa2;
	if (assign(c, sa, sa2))
		return -1;
	if (o->centered) {
		ir_node *ga = buffer(c, p, "grad_avg");
		ir_node *ga2 = B(c, IR_OP_ADD, B(c, IR_OP_MUL, ga, H(c, RT_SCALAR_RMSPROP_ALPHA)),
		                 B(c, IR_OP_MUL, grad, H(c, RT_SCALAR_RMSPROP_ONE_MINUS_ALPHA)));
		var = B(c, IR_OP_SUB, sa2, B(c, IR_OP_MUL, ga2, ga2));
		if (assign(c, ga, ga2))
			return -1;
	}
	ir_node *avg = B(c, IR_OP_ADD, ir_unary(c->g, IR_OP_SQRT, var), H(c, RT_SCALAR_RMSPROP_EPS));
	ir_node *d = B(c, IR_OP_DIV, grad, avg);
	if (o->momentum != 0) {
		ir_node *buf = buffer(c, p, "momentum_buffer");
		d = B(c, IR_OP_ADD, B(c, IR_OP_MUL, buf, H(c, RT_SCALAR_RMSPROP_MOMENTUM)), d);
		if (assign(c, buf, d))
			return -1;
	}
	return assign(c, p, B(c, IR_OP_SUB, p, B(c, IR_OP_MUL, d, h->lr)));
}

int pass_optim_lower(ir_graph *g, const opt_config *o, ir_node *const *params,
                     ir_node *const *grads, int n, ir_node *lr, ir_node *step)
{
	opt_ctx c = {g, g->fdtype};
	ir_node **clipped = NULL;
	if (o->clip_grad_norm != 0 && n > 0) {
		g->cur = params[0]->loc;
		if (!(clipped = calloc((size_t)n, sizeof *clipped)) || clip(&c, grads, clipped, n)) {
			free(clipped);
			if (!g->has_err)
				ir_error(g, params[0]->loc, "optimizer: cannot lower clip_grad_norm");
			return -1;
		}
		grads = clipped;
	}
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		g->cur = params[i]->loc;
		opt_hyper h = hyper_of(&c, o, params[i], lr);
		rc = o->kind == OPT_SGD       ? sgd(&c, o, params[i], grads[i], &h, step)
		     : o->kind == OPT_RMSPROP ? rmsprop(&c, o, params[i], grads[i], &h)
		                              : adam(&c, o, params[i], grads[i], &h);
		if (rc != 0 && !g->has_err)
			ir_error(g, params[i]->loc, "optimizer: cannot lower the update of '%s'", params[i]->name);
	}
	free(clipped);
	return rc;
}
