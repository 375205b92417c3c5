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

/* optimizer.sam.rho_schedule: step and cosine as the lr's (no warmup of
 * their own); "lr" is GSAM's ProportionScheduler, rho moving with the lr
 * between rho_max (at lr = optimizer.lr) and rho_min (at lr = lr_min). */
double rt_sam_rho_at(const rt_recipe *r, double rho_max, int64_t t, int64_t total)
{
	const rho_sched_config *s = &r->opt.rho_sched;
	switch (s->kind) {
	case RHO_SCHED_STEP:
		return s->step_size > 0 ? rho_max * pow(s->gamma, floor((double)t / s->step_size))
		                        : rho_max;
	case RHO_SCHED_COSINE: {
		double T = s->t_max > 0 ? s->t_max : (double)total;
		double tt = (double)t < T ? (double)t : T;
		return T > 0 ? s->rho_min + (rho_max - s->rho_min) * (1.0 + cos(M_PI * tt / T)) / 2.0
		             : rho_max;
	}
	case RHO_SCHED_LR: {
		double lr_max = r->opt.lr, lr = rt_sched_lr(r, t, total);
		if (!(lr_max > s->lr_min))
			return rho_max;
		return s->rho_min + (rho_max - s->rho_min) * (lr - s->lr_min) / (lr_max - s->lr_min);
	}
	default:
		return rho_max;
	}
}

/* The official ASAM code scales the params whose name contains "weight";
 * PyTorch names them "<module>.weight", which is what is matched here, so
 * that a param merely containing the word is not caught. */
int rt_sam_is_weight(const char *param_name)
{
	const char *dot = strrchr(param_name, '.');
	return strcmp(dot ? dot + 1 : param_name, "weight") == 0;
}

int rt_sam_rho_key_applies(int kind, const char *key)
{
	if (!strcmp(key, "step_size") || !strcmp(key, "gamma"))
		return kind == RHO_SCHED_STEP;
	if (!strcmp(key, "t_max"))
		return kind == RHO_SCHED_COSINE;
	if (!strcmp(key, "rho_min"))
		return kind == RHO_SCHED_COSINE || kind == RHO_SCHED_LR;
	if (!strcmp(key, "lr_min"))
		return kind == RHO_SCHED_LR;
	return 1;
}

int rt_sam_rho_check(const rt_recipe *r, char *msg, size_t len)
{
	const opt_config *o = &r->opt;
	const rho_sched_config *s = &o->rho_sched;
	const char *pre = "optimizer.sam.rho_schedule";
	if (!o->sam)
		return 0;
	if (s->kind == RHO_SCHED_STEP && !(s->step_size >= 1)) {
		snprintf(msg, len, "%s.step_size must be given and >= 1 for name = \"step\"", pre);
		return -1;
	}
	if (s->kind == RHO_SCHED_LR && !(s->lr_min < o->lr)) {
		snprintf(msg, len, "%s.lr_min must be below optimizer.lr (%g) for name = \"lr\", got %g",
		         pre, o->lr, s->lr_min);
		return -1;
	}
	if (s->kind != RHO_SCHED_COSINE && s->kind != RHO_SCHED_LR)
		return 0;
	/* rho runs from each rho down to rho_min (GSAM's max_value >= min_value) */
	double lowest = o->rho;
	const char *which = "optimizer.sam.rho";
	char group[64];
	for (int i = 0; i < o->ngroups; i++)
		if (o->groups[i].rho_given && o->groups[i].rho < lowest) {
			lowest = o->groups[i].rho;
			snprintf(group, sizeof group, "optimizer.sam.groups[%d].rho", i + 1);
			which = group;
		}
	if (s->rho_min > lowest) {
		snprintf(msg, len, "%s.rho_min (%g) is above %s (%g): rho runs from rho down to rho_min",
		         pre, s->rho_min, which, lowest);
		return -1;
	}
	return 0;
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

int rt_sam_period(const opt_config *o)
{
	int k = o->looksam ? o->looksam_k : o->sam_every;
	return k > 1 ? k : 1;
}

int rt_micro_local(const opt_config *o)
{
	if (o->accumulate > 1)
		return o->accumulate;
	return o->sam && o->sam_m > 1 ? o->sam_m : 1;
}

int rt_micro_dist(const opt_config *o) { return o->ranks > 1; }

int rt_micro_total(const opt_config *o)
{
	return rt_micro_local(o) * (o->ranks > 1 ? o->ranks : 1);
}

int rt_micro_accum(const opt_config *o)
{
	return o->accumulate > 1 || (o->ranks > 1 && o->sam && o->sam_sync);
}

void rt_scalar_opt_group(char *out, size_t len, const char *base, int group)
{
	snprintf(out, len, "%s.%d", base, group + 1);
}

int rt_opt_group_of(const opt_config *o, const char *param_name)
{
	for (int i = 0; i < o->nparam_groups; i++)
		if (strncmp(param_name, o->param_groups[i].prefix, strlen(o->param_groups[i].prefix)) == 0)
			return i;
	return -1;
}

int rt_opt_no_decay(const opt_config *o, const char *param_name)
{
	for (int i = 0; i < o->nno_decay; i++)
		if (strstr(param_name, o->no_decay[i]))
			return 1;
	return 0;
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
	} else if (o->kind == OPT_RMSPROP) {
		put(out, &n, RT_SCALAR_RMSPROP_ALPHA, o->alpha);
		put(out, &n, RT_SCALAR_RMSPROP_ONE_MINUS_ALPHA, 1.0 - o->alpha);
		put(out, &n, RT_SCALAR_RMSPROP_EPS, o->eps);
		put(out, &n, RT_SCALAR_RMSPROP_MOMENTUM, o->momentum);
	} else {
		put(out, &n, RT_SCALAR_ADAM_STEP_SIZE, lr / (1.0 - pow(o->beta1, step)));
		put(out, &n, RT_SCALAR_ADAM_BC2_SQRT, sqrt(1.0 - pow(o->beta2, step)));
		put(out, &n, RT_SCALAR_ADAM_ONE_MINUS_BETA1, 1.0 - o->beta1);
		put(out, &n, RT_SCALAR_ADAM_BETA2, o->beta2);
		put(out, &n, RT_SCALAR_ADAM_ONE_MINUS_BETA2, 1.0 - o->beta2);
		put(out, &n, RT_SCALAR_ADAM_EPS, o->eps);
	}
	if (o->sam && o->looksam)
		put(out, &n, RT_SCALAR_LOOKSAM_ALPHA, o->looksam_alpha);
	if (r->ema)
		put(out, &n, RT_SCALAR_EMA_WEIGHT, t == 0 ? 1.0 : 1.0 - r->ema_decay);
	if (o->clip_grad_norm != 0)
		put(out, &n, RT_SCALAR_CLIP_GRAD_NORM, o->clip_grad_norm);
	/* each group's lr as PyTorch's param group holds it: lr * lr_scale in
	 * double, and Adam's step size from that */
	for (int i = 0; i < o->nparam_groups && i < RT_OPT_GROUPS_MAX; i++) {
		const opt_group *g = &o->param_groups[i];
		double glr = lr * g->lr_scale;
		rt_scalar_opt_group(out[n].name, sizeof out[n].name, RT_SCALAR_LR, i);
		out[n++].value = glr;
		rt_scalar_opt_group(out[n].name, sizeof out[n].name, RT_SCALAR_WEIGHT_DECAY, i);
		out[n++].value = g->wd_given ? g->weight_decay : o->weight_decay;
		if (o->kind == OPT_ADAM || o->kind == OPT_ADAMW) {
			rt_scalar_opt_group(out[n].name, sizeof out[n].name, RT_SCALAR_ADAM_STEP_SIZE, i);
			out[n++].value = glr / (1.0 - pow(o->beta1, step));
		}
	}
	if (o->sam) {
		put(out, &n, RT_SCALAR_SAM_RHO, rt_sam_rho_at(r, o->rho, t, total));
		for (int i = 0; i < o->ngroups && i < RT_SAM_GROUPS_MAX; i++) {
			double rho = o->groups[i].rho_given ? o->groups[i].rho : o->rho;
			rt_scalar_sam_group_rho(out[n].name, sizeof out[n].name, i);
			out[n++].value = rt_sam_rho_at(r, rho, t, total);
		}
		put(out, &n, RT_SCALAR_SAM_ETA, o->sam_eta);
		if (o->gsam)
			put(out, &n, RT_SCALAR_GSAM_ALPHA, o->gsam_alpha);
	}
	return n;
}
