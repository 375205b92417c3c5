/*
 * pass_optim.c - SGD, Adam and AdamW as graph nodes.
 *
 * The formulas follow torch.optim's single-tensor implementations term by
 * term (including SGD's first-step momentum buffer and Adam's bias
 * corrections), so `samc steps` can be compared with PyTorch to 1e-9.
 * Hyperparameters are scalar inputs (see rt_step_scalars); only whether a
 * term exists at all (momentum, dampening, weight decay != 0) is decided
 * here, from the recipe.
 */
#include "pass_optim.h"
#include "pass_pipeline.h"

#include <stdio.h>

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

static int sgd(opt_ctx *c, const opt_config *o, ir_node *p, ir_node *grad, ir_node *lr, ir_node *step)
{
	ir_node *d = grad;
	if (o->weight_decay != 0)
		d = B(c, IR_OP_ADD, d, B(c, IR_OP_MUL, p, H(c, RT_SCALAR_WEIGHT_DECAY)));
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

static int adam(opt_ctx *c, const opt_config *o, ir_node *p, ir_node *grad, ir_node *lr)
{
	ir_node *m = buffer(c, p, "exp_avg"), *v = buffer(c, p, "exp_avg_sq");
	ir_node *w = p;
	if (o->weight_decay != 0) {
		if (o->kind == OPT_ADAMW) /* decoupled: param *= 1 - lr*wd */
			w = B(c, IR_OP_MUL, p, B(c, IR_OP_SUB, K(c, 1.0),
			                         B(c, IR_OP_MUL, lr, H(c, RT_SCALAR_WEIGHT_DECAY))));
		else
			grad = B(c, IR_OP_ADD, grad, B(c, IR_OP_MUL, p, H(c, RT_SCALAR_WEIGHT_DECAY)));
	}
	/* exp_avg.lerp_(grad, 1-beta1); exp_avg_sq * beta2 + (1-beta2) g^2 */
	ir_node *m2 = B(c, IR_OP_ADD, m, B(c, IR_OP_MUL, B(c, IR_OP_SUB, grad, m),
	                                  H(c, RT_SCALAR_ADAM_ONE_MINUS_BETA1)));
	ir_node *v2 = B(c, IR_OP_ADD, B(c, IR_OP_MUL, v, H(c, RT_SCALAR_ADAM_BETA2)),
	                B(c, IR_OP_MUL, B(c, IR_OP_MUL, grad, grad),
	                  H(c, RT_SCALAR_ADAM_ONE_MINUS_BETA2)));
	/* lr / (1 - beta1^t) and sqrt(1 - beta2^t) come from the host in double
	 * (rt_step_scalars), as PyTorch computes them */
	ir_node *step_size = scalar_input(c, PASS_INPUT_ADAM_STEP_SIZE);
	ir_node *bc2_sqrt = scalar_input(c, PASS_INPUT_ADAM_BC2_SQRT);
	ir_node *denom = B(c, IR_OP_ADD, B(c, IR_OP_DIV, ir_unary(c->g, IR_OP_SQRT, v2), bc2_sqrt),
	                   H(c, RT_SCALAR_ADAM_EPS));
	ir_node *upd = B(c, IR_OP_SUB, w, B(c, IR_OP_MUL, B(c, IR_OP_DIV, m2, denom), step_size));
	if (assign(c, m, m2) || assign(c, v, v2))
		return -1;
	return assign(c, p, upd);
}

int pass_optim_lower(ir_graph *g, const opt_config *o, ir_node *const *params,
                     ir_node *const *grads, int n, ir_node *lr, ir_node *step)
{
	opt_ctx c = {g, g->fdtype};
	for (int i = 0; i < n; i++) {
		g->cur = params[i]->loc;
		int rc = o->kind == OPT_SGD ? sgd(&c, o, params[i], grads[i], lr, step)
		                            : adam(&c, o, params[i], grads[i], lr);
		if (rc != 0) {
			if (!g->has_err)
				ir_error(g, params[i]->loc, "optimizer: cannot lower the update of '%s'", params[i]->name);
			return -1;
		}
	}
	return 0;
}
