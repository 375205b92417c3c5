/*
 * rt_sched.c - learning-rate schedules, evaluated per optimizer step.
 *
 * The compiled step takes the learning rate as an input ("opt.lr"), so one
 * compiled program serves every schedule, and samc steps, the trainer and
 * the PyTorch oracle all compute it with this one closed form. The other
 * per-step scalars (the step count, Adam's bias corrections) come from here
 * too, in double.
 */
#include "rt_recipe.h"

#include <math.h>

double rt_sched_lr(const rt_recipe *r, int64_t t, int64_t total)
{
	const sched_config *s = &r->sched;
	double lr = r->opt.lr;
	switch (s->kind) {
	case SCHED_CONSTANT:
		break;
	case SCHED_STEP:
		if (s->step_size > 0)
			lr *= pow(s->gamma, floor((double)t / s->step_size));
		break;
	case SCHED_COSINE: {
		/* CosineAnnealingLR's closed form, held at eta_min after t_max. */
		double T = s->t_max > 0 ? s->t_max : (double)total;
		double tt = (double)t < T ? (double)t : T;
		if (T > 0)
			lr = s->eta_min + (lr - s->eta_min) * (1.0 + cos(M_PI * tt / T)) / 2.0;
		break;
	}
	}
	if (s->warmup > 0 && (double)(t + 1) < s->warmup)
		lr *= (double)(t + 1) / s->warmup;
	return lr;
}

int rt_step_scalars(const rt_recipe *r, int64_t t, int64_t total, rt_step_scalar *out)
{
	double lr = rt_sched_lr(r, t, total), step = (double)(t + 1);
	int n = 0;
	out[n++] = (rt_step_scalar){"opt.lr", lr};
	out[n++] = (rt_step_scalar){"opt.step", step};
	if (r->opt.kind == OPT_ADAM || r->opt.kind == OPT_ADAMW) {
		out[n++] = (rt_step_scalar){"opt.adam.step_size", lr / (1.0 - pow(r->opt.beta1, step))};
		out[n++] = (rt_step_scalar){"opt.adam.bias_correction2_sqrt", sqrt(1.0 - pow(r->opt.beta2, step))};
	}
	return n;
}
