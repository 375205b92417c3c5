/*
 * rt_recipe.h - a training recipe as plain data: optimizer, SAM options,
 * schedule, data, batch size, epochs, seed. The front end fills it from the
 * model file; passes and the runtime read it. Defaults follow PyTorch's
 * (see docs/dsl.md). Every key a model file or --set may name, with its
 * field here, default and range, is listed once in rt_recipe_schema.h.
 */
#ifndef SAMC_RT_RECIPE_H
#define SAMC_RT_RECIPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { OPT_SGD, OPT_ADAM, OPT_ADAMW, OPT_RMSPROP } opt_kind;
typedef enum { SCHED_CONSTANT, SCHED_STEP, SCHED_COSINE } sched_kind;
enum { RT_CKPT_MIN, RT_CKPT_MAX }; /* checkpoint.mode */
/* precision: bf16 computes matmuls and convolutions (and what follows them
 * on their bf16 results) in bfloat16, with f32 master weights
 * (passes/pass_precision.c) */
enum { RT_PRECISION_F32, RT_PRECISION_BF16 };
#define RT_CKPT_MAX_BEST 16        /* checkpoint.keep's upper bound */

typedef struct {
	const char *prefix; /* params whose name starts with this */
	double rho;
	int rho_given;      /* 0: rho follows optimizer.sam.rho (also under --set) */
} sam_group;

/* Each SAM group's rho is a step input of its own (see rt_step_scalars). */
#define RT_SAM_GROUPS_MAX 32
/* optimizer.accumulate and optimizer.sam.m: micro-batches per step, at most */
#define RT_MICRO_MAX 4096

/* SAM's variants (docs/dsl.md, "SAM variants"): ASAM's operator, the rho
 * schedule and GSAM. */
typedef enum { SAM_ONLY_ALL, SAM_ONLY_WEIGHTS } sam_only_kind; /* optimizer.sam.only */
typedef enum { RHO_SCHED_CONSTANT, RHO_SCHED_STEP, RHO_SCHED_COSINE, RHO_SCHED_LR } rho_sched_kind;
typedef struct {
	int kind;                 /* rho_sched_kind */
	double step_size, gamma;  /* RHO_SCHED_STEP: rho * gamma^floor(t/step_size) */
	double t_max;             /* RHO_SCHED_COSINE: t counted in steps; 0 = whole run */
	double rho_min;           /* RHO_SCHED_COSINE, RHO_SCHED_LR: the floor */
	double lr_min;            /* RHO_SCHED_LR: the lr at which rho is rho_min */
} rho_sched_config;

/* optimizer.groups: a learning-rate scale and a weight decay for the
 * parameters whose name starts with `prefix` (the first group that matches
 * wins). Its lr and weight decay are step inputs of their own. */
typedef struct {
	const char *prefix;
	double lr_scale;
	double weight_decay;
	int wd_given;       /* 0: follows optimizer.weight_decay (also under --set) */
} opt_group;
#define RT_OPT_GROUPS_MAX 16

typedef struct {
	opt_kind kind;
	double lr;
	double momentum, dampening, weight_decay; /* SGD (weight_decay: all) */
	int nesterov;
	double beta1, beta2, eps;                 /* Adam, AdamW (eps: RMSprop too) */
	double alpha;                             /* RMSprop (momentum: above) */
	int centered;                             /* RMSprop */

	/* torch.nn.utils.clip_grad_norm_ on the gradient the base optimizer
	 * receives, before it adds weight decay; 0: no clipping */
	double clip_grad_norm;
	/* optimizer.no_decay: a parameter whose name contains one of these
	 * (substring) gets no weight decay; compiled in, so a built trainer
	 * carries none of them */
	const char *const *no_decay;
	int nno_decay;
	opt_group *param_groups; /* optimizer.groups */
	int nparam_groups;

	/* SAM: off when sam == 0 */
	int sam;
	double rho;
	int adaptive;    /* ASAM: a = |w| */
	int sam_every;   /* SAM step every k steps; plain base steps between */
	sam_group *groups;
	int ngroups;
	double sam_eta;  /* ASAM: T_w = |w| + eta (a step input when != 0) */
	int sam_only;    /* ASAM: sam_only_kind, the params T_w applies to */
	rho_sched_config rho_sched; /* rho (and each group's) per step */
	int gsam;        /* GSAM: the update g2 - alpha * (g1's part orthogonal to g2) */
	double gsam_alpha;
	/* LookSAM (Liu et al. 2022): a SAM step every looksam_k steps stores
	 * g_v; the steps between reuse it (pass_looksam.h). Off when 0. */
	int looksam;
	int looksam_k;
	double looksam_alpha;

	/* Micro-batches (rt_step_seq.h): a step of batch_size examples runs
	 * the model on `accumulate` (or, with SAM, `sam_m`) micro-batches of
	 * batch_size / n; 1: none. At most one of the two is above 1. */
	int accumulate;  /* optimizer.accumulate: gradients summed, one update */
	int sam_m;       /* optimizer.sam.m: m-sharpness, each perturbed by its own */

	/* A data-parallel run (rt_step_seq.h): its ranks (set by the run, not
	 * a recipe key; 0 or 1: one process) and optimizer.sam.sync, whether
	 * the ranks perturb with the all-reduced first gradient (1) or each
	 * micro-batch with its own (0, per-replica SAM). */
	int ranks;
	int sam_sync;
} opt_config;

/* The micro-batches of one optimizer step (rt_step_seq.h, pass_micro.h).
 * local: the runs on one rank (optimizer.accumulate, optimizer.sam.m or
 * 1); total: over all ranks, the divisor of the step's means; accum: the
 * step's first gradients are summed before SAM perturbs
 * (optimizer.accumulate, or optimizer.sam.sync on several ranks), else
 * each micro-batch is perturbed by its own gradient. */
int rt_micro_local(const opt_config *o);
int rt_micro_total(const opt_config *o);
int rt_micro_accum(const opt_config *o);
/* Several ranks: steps end with the upd / upd_sam programs. */
int rt_micro_dist(const opt_config *o);

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

/* Training-split augmentation of image inputs [B,C,H,W] (rt_dataset.h). */
typedef struct {
	int crop_size;     /* RandomCrop's size: 0 or the input's H = W */
	int crop_padding;  /* zero pixels on each side before the crop; 0 = no crop */
	int flip;          /* horizontal flip with probability 0.5 */
	int cutout;        /* side of a square zeroed after normalisation; 0 = none */
} data_augment;

/* data.mean and data.std: one value for every channel, or one per channel
 * of image inputs [B,C,H,W] (torchvision's Normalize(mean, std)). */
#define RT_DATA_MAX_CHANNELS 16
typedef struct {
	double v[RT_DATA_MAX_CHANNELS];
	int n; /* values given; 0 or 1: v[0] for every channel */
} data_channels;

/* The value of channel c (c is ignored for a single value). */
static inline double data_channel(const data_channels *d, int64_t c)
{
	return d->n > 1 ? d->v[c] : d->v[0];
}

typedef struct {
	const char *format;   /* "idx", "csv", "safetensors", "cifar10", "cifar100", "npy" */
	data_file train[4], test[4];
	int ntrain, ntest;
	/* the validation set: files of its own (val), or val_split, the
	 * fraction of the training rows held out (rt_dataset_hold_out); at most
	 * one of the two; neither (val_split 0): none */
	data_file val[4];
	int nval;
	double val_split;
	double scale;         /* x * scale, then (x - mean) / std */
	data_channels mean, std; /* std 0 is read as 1 */
	int drop_last;        /* training: drop the short last batch (1) or pad (0) */
	int limit_train, limit_test; /* use only the first N examples (0 = all) */
	data_augment augment; /* training split only */
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
	int ckpt_every;       /* checkpoint.every_steps: a checkpoint every N steps, 0: none */
	const char *ckpt_monitor; /* checkpoint.monitor: "test.accuracy", ...; NULL: none */
	int ckpt_mode;        /* checkpoint.mode: RT_CKPT_MIN or RT_CKPT_MAX */
	int ckpt_best;        /* checkpoint.keep: best checkpoints kept */
	const char *es_monitor; /* early_stopping.monitor: as ckpt_monitor; NULL: none */
	int es_mode;          /* early_stopping.mode: RT_CKPT_MIN or RT_CKPT_MAX */
	int es_patience;      /* early_stopping.patience: epochs without improvement */
	double es_min_delta;  /* early_stopping.min_delta: the least change that improves */
	int log_csv;          /* log.csv: a CSV of the epoch records beside the metrics file */
	int ema;              /* ema = {...}: an EMA of the weights (pass_ema.h); off when 0 */
	double ema_decay;     /* ema.decay */
	int precision;        /* precision: RT_PRECISION_F32 or _BF16 (compiled in) */
	int sync_bn;          /* sync_bn: batch_norm's statistics over the ranks (compiled in) */
	/* several ranks: the accumulators' all-reduce overlapped with the last
	 * micro-batch's backward pass, in buckets of at most allreduce_bucket_mb
	 * MiB (rt_overlap.h) */
	int allreduce_overlap;
	double allreduce_bucket_mb;
} rt_recipe;

/* Learning rate at optimizer step t (0-based) of a run of `total` steps. */
double rt_sched_lr(const rt_recipe *r, int64_t t, int64_t total);

/*
 * The scalar inputs a compiled training step reads. Hyperparameters are
 * inputs, not constants, so one compiled step serves any value of them
 * (`./trainer --set optimizer.sam.rho=0.1`, and schedules later); what a
 * value changes in the step's structure (the optimizer, SAM on or off,
 * nesterov, momentum or weight decay used at all) stays compiled in.
 *
 * Each is computed in double on the host for step t (0-based) and rounded
 * once to the step's float type when stored, exactly as a constant node of
 * the same value was rounded: terms such as 1 - beta1 are inputs of their
 * own so that they are computed in double, as the constants were. PyTorch
 * computes Adam's bias corrections in double too; in float32,
 * 1 - 0.999^t would lose 4 digits. A program need not read every scalar.
 */
#define RT_SCALAR_LR "opt.lr"
#define RT_SCALAR_STEP "opt.step"                     /* t + 1 */
#define RT_SCALAR_WEIGHT_DECAY "opt.weight_decay"     /* when != 0 */
#define RT_SCALAR_MOMENTUM "opt.sgd.momentum"         /* SGD, when != 0 */
#define RT_SCALAR_UNDAMPED "opt.sgd.one_minus_dampening" /* SGD, dampening != 0 */
#define RT_SCALAR_ADAM_STEP_SIZE "opt.adam.step_size" /* lr / (1 - beta1^(t+1)) */
#define RT_SCALAR_ADAM_BC2_SQRT "opt.adam.bias_correction2_sqrt" /* sqrt(1 - beta2^(t+1)) */
#define RT_SCALAR_ADAM_ONE_MINUS_BETA1 "opt.adam.one_minus_beta1"
#define RT_SCALAR_ADAM_BETA2 "opt.adam.beta2"
#define RT_SCALAR_ADAM_ONE_MINUS_BETA2 "opt.adam.one_minus_beta2"
#define RT_SCALAR_ADAM_EPS "opt.adam.eps"
#define RT_SCALAR_RMSPROP_ALPHA "opt.rmsprop.alpha"
#define RT_SCALAR_RMSPROP_ONE_MINUS_ALPHA "opt.rmsprop.one_minus_alpha"
#define RT_SCALAR_RMSPROP_EPS "opt.rmsprop.eps"
#define RT_SCALAR_RMSPROP_MOMENTUM "opt.rmsprop.momentum" /* when != 0 */
#define RT_SCALAR_CLIP_GRAD_NORM "opt.clip_grad_norm"     /* when != 0 */
/* group i (0-based) of optimizer.groups: "<base>.<i+1>" of opt.lr (lr *
 * lr_scale), opt.weight_decay and, for Adam, opt.adam.step_size */
void rt_scalar_opt_group(char *out, size_t len, const char *base, int group);
/* The optimizer.groups group (0-based) of a parameter, or -1. */
int rt_opt_group_of(const opt_config *o, const char *param_name);
/* Whether a parameter's name matches one of optimizer.no_decay. */
int rt_opt_no_decay(const opt_config *o, const char *param_name);
#define RT_SCALAR_SAM_RHO "opt.sam.rho"               /* params in no group */
#define RT_SCALAR_SAM_ETA "opt.sam.eta"               /* ASAM, when != 0 */
#define RT_SCALAR_GSAM_ALPHA "opt.sam.gsam.alpha"     /* GSAM */
/* group i (0-based) of optimizer.sam.groups: "opt.sam.rho.<i+1>" */
void rt_scalar_sam_group_rho(char *out, size_t len, int group);

/* The group (0-based) a parameter's rho comes from: the first whose prefix
 * matches its name, or -1 for optimizer.sam.rho. */
int rt_sam_group_of(const opt_config *o, const char *param_name);

/* rho at step t of a group whose rho (the schedule's rho_max) is rho_max:
 * optimizer.sam.rho_schedule's closed form (rt_sched.c). */
double rt_sam_rho_at(const rt_recipe *r, double rho_max, int64_t t, int64_t total);
/* 0, or -1 and msg when the rho schedule cannot run: step without
 * step_size, rho_min above a rho, "lr" with lr_min >= optimizer.lr. */
int rt_sam_rho_check(const rt_recipe *r, char *msg, size_t len);
/* ASAM's only = "weights": the params named "weight" or "*.weight". */
int rt_sam_is_weight(const char *param_name);
/* 1 when rho_schedule.<key> applies to schedule `kind` ("step_size": step). */
int rt_sam_rho_key_applies(int kind, const char *key);

/* LookSAM's alpha, between its SAM steps */
#define RT_SCALAR_LOOKSAM_ALPHA "opt.sam.looksam_alpha"
/* The EMA's weight of the new parameters: 1 on the run's first step (the
 * EMA starts as a copy, as AveragedModel's first update_parameters), then
 * 1 - ema.decay */
#define RT_SCALAR_EMA_WEIGHT "opt.ema.weight"
/* The EMA of param P is the state "ema.P" (pass_ema.h); evaluation,
 * predict and export read it in P's place. */
#define RT_EMA_PREFIX "ema."

/* Steps per SAM step: LookSAM's k, else optimizer.sam.every (1: every step
 * is a SAM step); a SAM step when t % period == 0, t counted from 0. */
int rt_sam_period(const opt_config *o);

#define RT_STEP_SCALARS_MAX (18 + RT_SAM_GROUPS_MAX + 3 * RT_OPT_GROUPS_MAX)
typedef struct {
	char name[40];
	double value;
} rt_step_scalar;

/* Writes the scalars of step t to out (RT_STEP_SCALARS_MAX entries at
 * most), "opt.lr" first; returns how many. */
int rt_step_scalars(const rt_recipe *r, int64_t t, int64_t total, rt_step_scalar *out);

#endif
