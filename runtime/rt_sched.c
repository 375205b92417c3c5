/*
 * rt_sched.c - learning-rate schedules, evaluated per optimizer step.
 *
 * The compiled step takes the learning rate as an input ("opt.lr"), so one
 * compiled program serves every schedule, and samc steps, the trainer and
 * the PyTorch oracle all compute it with this one closed form. The other
 * per-step scalars (the step count, Adam's bias corrections, every
 * hyperparameter: see rt_recipe.h) come from here too, in double.
 */
#include "rt_recipe.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

double rt_sched_lr(const rt_recipe *r, int64_t t, int64_t total)
{
	const sched_config *s = &r->sched;
	double lr = r->opt.lr;
	/* Warmup as timm and Hugging Face: a linear ramp to lr over the first
	 * W steps, then the schedule over the steps that remain, from its own
	 * step 0 (a cosine starts at lr and spans total - W steps). */
	int64_t w = s->warmup > 0 ? (int64_t)ceil(s->warmup) : 0;
	if (t < w)
		return lr * fmin(1.0, (double)(t + 1) / s->warmup);
	t -= w;
	total = total > w ? total - w : 0;
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
	return lr;
}

void rt_scalar_sam_group_rho(char *out, size_t len, int group)
{
	snprintf(out, len, "%s.%d", RT_SCALAR_SAM_RHO, group + 1);
}

int rt_sam_group_of(const opt_config *o, const char *param_name)
{
	for (int i = 0; i < o->ngroups; i++)
		if (strncmp(param_name, o->groups[i].prefix, strlen(o->groups[i].prefix)) == 0)
			return i;
	return -1;
}

static void put(rt_step_scalar *out, int *n, const char *name, double v)
{
	snprintf(out[*n].name, sizeof out[*n].name, "%s", name);
	out[(*n)++].value = v;
}

int rt_step_scalars(const rt_recipe *r, int64_t t, int64_t total, rt_step_scalar *out)
{
	const opt_config *o = &r->opt;
	double lr = rt_sched_lr(r, t, total), step = (double)(t + 1);
	int n = 0;
	put(out, &n, RT_SCALAR_LR, lr);
	put(out, &n, RT_SCALAR_STEP, step);
	put(out, &n, RT_SCALAR_WEIGHT_DECAY, o->weight_decay);
	if (o->kind == OPT_SGD) {
		put(out, &n, RT_SCALAR_MOMENTUM, o->momentum);
		put(out, &n, RT_SCALAR_UNDAMPED, 1.0 - o->dampening);
	} else {
		put(out, &n, RT_SCALAR_ADAM_STEP_SIZE, lr / (1.0 - pow(o->beta1, step)));
		put(out, &n, RT_SCALAR_ADAM_BC2_SQRT, sqrt(1.0 - pow(o->beta2, step)));
		put(out, &n, RT_SCALAR_ADAM_ONE_MINUS_BETA1, 1.0 - o->beta1);
		put(out, &n, RT_SCALAR_ADAM_BETA2, o->beta2);
		put(out, &n, RT_SCALAR_ADAM_ONE_MINUS_BETA2, 1.0 - o->beta2);
		put(out, &n, RT_SCALAR_ADAM_EPS, o->eps);
	}
	if (o->sam) {
		put(out, &n, RT_SCALAR_SAM_RHO, o->rho);
		for (int i = 0; i < o->ngroups && i < RT_SAM_GROUPS_MAX; i++) {
			rt_scalar_sam_group_rho(out[n].name, sizeof out[n].name, i);
			out[n++].value = o->groups[i].rho_given ? o->groups[i].rho : o->rho;
		}
	}
	return n;
}
