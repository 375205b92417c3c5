/*
 * rt_recipe.h - a training recipe as plain data: optimizer, SAM options,
 * schedule, data, batch size, epochs, seed. The front end fills it from the
 * model file; passes and the runtime read it. Defaults follow PyTorch's
 * (see docs/dsl.md).
 */
#ifndef SAMC_RT_RECIPE_H
#define SAMC_RT_RECIPE_H

#include <stdint.h>

typedef enum { OPT_SGD, OPT_ADAM, OPT_ADAMW } opt_kind;
typedef enum { SCHED_CONSTANT, SCHED_STEP, SCHED_COSINE } sched_kind;

typedef struct {
	const char *prefix; /* params whose name starts with this */
	double rho;
} sam_group;

typedef struct {
	opt_kind kind;
	double lr;
	double momentum, dampening, weight_decay; /* SGD (weight_decay: all) */
	int nesterov;
	double beta1, beta2, eps;                 /* Adam, AdamW */

	/* SAM: off when sam == 0 */
	int sam;
	double rho;
	int adaptive;    /* ASAM: a = |w| */
	int sam_every;   /* SAM step every k steps; plain base steps between */
	sam_group *groups;
	int ngroups;
} opt_config;

typedef struct {
	sched_kind kind;
	double step_size, gamma;  /* SCHED_STEP: lr * gamma^floor(t/step_size) */
	double t_max, eta_min;    /* SCHED_COSINE, t counted in steps; t_max 0 = whole run */
	double warmup;            /* linear warmup steps (any kind); 0 = none */
} sched_config;

/* One data split binds files to the model's inputs by input name. */
typedef struct {
	const char *input;  /* DSL input name */
	const char *path;
} data_file;

typedef struct {
	const char *format;   /* "idx", "csv", "safetensors" */
	data_file train[4], test[4];
	int ntrain, ntest;
	double scale;         /* x * scale, then (x - mean) / std */
	double mean, std;
	int drop_last;        /* training: drop the short last batch (1) or pad (0) */
	int limit_train, limit_test; /* use only the first N examples (0 = all) */
	const char *base_dir; /* relative paths are under it (the model file's directory,
	                         absolute); a trainer's --data DIR takes precedence */
} data_config;

typedef struct {
	opt_config opt;
	sched_config sched;
	data_config data;
	int batch_size;
	int epochs;
	uint64_t seed;
	int log_every;        /* steps between progress lines */
} rt_recipe;

/* Learning rate at optimizer step t (0-based) of a run of `total` steps. */
double rt_sched_lr(const rt_recipe *r, int64_t t, int64_t total);

/*
 * The scalar inputs a compiled training step reads, computed in double on
 * the host for step t (0-based): "opt.lr", "opt.step" (t+1), and for
 * Adam/AdamW "opt.adam.step_size" (lr / (1 - beta1^(t+1))) and
 * "opt.adam.bias_correction2_sqrt" (sqrt(1 - beta2^(t+1))). PyTorch computes
 * these in double too; in float32, 1 - 0.999^t would lose 4 digits.
 * Returns how many were written to `out`.
 */
#define RT_STEP_SCALARS_MAX 4
typedef struct {
	const char *name;
	double value;
} rt_step_scalar;

int rt_step_scalars(const rt_recipe *r, int64_t t, int64_t total, rt_step_scalar *out);

#endif
