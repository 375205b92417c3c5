/*
 * rt_recipe_schema.h - every key of a training recipe, listed once.
 *
 * A model file returns the recipe as a Lua table; `--set key=value`
 * overrides one key, in `samc model.lua` and in a standalone trainer alike.
 * The list below is the one place that says which keys exist, what each
 * holds, where it lives in rt_recipe, its default, its range and whether a
 * built trainer can still change it. From it come the front end's key
 * checks, defaults and range errors (fe_recipe*.c), the --set parser shared
 * by samc and the trainer (rt_recipe_set.c), and the recipe table that
 * `samc build` writes into a trainer (cg_aot_table.c).
 *
 * RT_RECIPE_SCHEMA(N, F) calls
 *   N(path, kind, elem, dflt, lo, hi, flags)          a key without a field
 *   F(path, kind, field, dflt, lo, hi, flags, choices) a key stored in field
 * `path` is dotted; "[]" stands for any element of a list of tables.
 * `choices` ("a|b|c") lists the values of an enum or string key, in the
 * order of the enum's values.
 */
#ifndef SAMC_RT_RECIPE_SCHEMA_H
#define SAMC_RT_RECIPE_SCHEMA_H

#include <limits.h>
#include <math.h>
#include <stddef.h>

#include "rt_recipe.h"

typedef enum {
	RT_KEY_NUMBER,  /* double */
	RT_KEY_INT,     /* int */
	RT_KEY_U64,     /* uint64_t (seed) */
	RT_KEY_BOOL,    /* int, 0 or 1 */
	RT_KEY_ENUM,    /* an enum, named by `choices` */
	RT_KEY_STRING,  /* const char *; one of `choices` if given */
	RT_KEY_PAIR,    /* two doubles, {a, b}; on the command line "a,b" */
	RT_KEY_CHANNELS, /* data_channels: a number, or {a, b, ...}; "a,b,..." */
	RT_KEY_TENSOR,  /* a tensor of the model (loss) */
	RT_KEY_TABLE,   /* fixed sub-keys */
	RT_KEY_MAP,     /* any name -> elem (metrics, data.train) */
	RT_KEY_LIST     /* array of tables, their keys under "path[]." */
} rt_key_kind;

enum {
	RT_KEY_RUN = 1,        /* a built trainer takes it in --set */
	RT_KEY_NONZERO = 2,    /* zero or not is compiled in (the term exists or not) */
	RT_KEY_SGD = 4,        /* applies to SGD only */
	RT_KEY_ADAM = 8,       /* applies to Adam and AdamW only */
	RT_KEY_SAM = 16,       /* needs SAM */
	RT_KEY_LO_OPEN = 32,   /* value > lo (else >= lo) */
	RT_KEY_HI_OPEN = 64,   /* value < hi (else <= hi) */
	RT_KEY_STEP = 128,     /* applies to schedule "step" only */
	RT_KEY_COSINE = 256,   /* applies to schedule "cosine" only */
	RT_KEY_LOOKSAM = 512,  /* needs optimizer.sam.looksam */
	RT_KEY_EMA = 1024,     /* needs ema */
	RT_KEY_RMSPROP = 2048, /* applies to RMSprop (with SGD, ADAM: to those named) */
};
#define RT_KEY_OPTIMIZERS (RT_KEY_SGD | RT_KEY_ADAM | RT_KEY_RMSPROP)

#define RT_KEY_NOLIMIT HUGE_VAL
#define RT_KEY_PAIR_DFLT2 0.999 /* beta2; a PAIR field is followed by its second double */
#define RT_KEY_SEED_MAX 9007199254740992.0 /* 2^53: doubles stop being exact */

/* clang-format off */
#define RT_RECIPE_SCHEMA(N, F) \
	N("loss", TENSOR, TENSOR, 0, 0, 0, 0) \
	N("metrics", MAP, TENSOR, 0, 0, 0, 0) \
	F("epochs", INT, epochs, 1, 1, INT_MAX, RT_KEY_RUN, NULL) \
	F("seed", U64, seed, 0, 0, RT_KEY_SEED_MAX, RT_KEY_RUN, NULL) \
	F("batch_size", INT, batch_size, 0, 1, INT_MAX, 0, NULL) \
	F("log_every", INT, log_every, 100, 1, INT_MAX, RT_KEY_RUN, NULL) \
	N("optimizer", TABLE, TABLE, 0, 0, 0, 0) \
	F("optimizer.name", ENUM, opt.kind, OPT_SGD, 0, 0, 0, "sgd|adam|adamw|rmsprop") \
	F("optimizer.lr", NUMBER, opt.lr, 1e-3, 0, RT_KEY_NOLIMIT, RT_KEY_RUN | RT_KEY_LO_OPEN, NULL) \
	F("optimizer.momentum", NUMBER, opt.momentum, 0, 0, RT_KEY_NOLIMIT, \
	  RT_KEY_RUN | RT_KEY_NONZERO | RT_KEY_SGD | RT_KEY_RMSPROP, NULL) \
	F("optimizer.dampening", NUMBER, opt.dampening, 0, -RT_KEY_NOLIMIT, RT_KEY_NOLIMIT, \
	  RT_KEY_RUN | RT_KEY_NONZERO | RT_KEY_SGD, NULL) \
	F("optimizer.nesterov", BOOL, opt.nesterov, 0, 0, 1, RT_KEY_SGD, NULL) \
	F("optimizer.weight_decay", NUMBER, opt.weight_decay, 0, 0, RT_KEY_NOLIMIT, \
	  RT_KEY_RUN | RT_KEY_NONZERO, NULL) \
	F("optimizer.betas", PAIR, opt.beta1, 0.9, 0, 1, RT_KEY_RUN | RT_KEY_ADAM | RT_KEY_HI_OPEN, NULL) \
	F("optimizer.eps", NUMBER, opt.eps, 1e-8, 0, RT_KEY_NOLIMIT, \
	  RT_KEY_RUN | RT_KEY_ADAM | RT_KEY_RMSPROP | RT_KEY_LO_OPEN, NULL) \
	F("optimizer.alpha", NUMBER, opt.alpha, 0.99, 0, 1, RT_KEY_RUN | RT_KEY_RMSPROP, NULL) \
	F("optimizer.centered", BOOL, opt.centered, 0, 0, 1, RT_KEY_RMSPROP, NULL) \
	F("optimizer.clip_grad_norm", NUMBER, opt.clip_grad_norm, 0, 0, RT_KEY_NOLIMIT, \
	  RT_KEY_RUN | RT_KEY_NONZERO, NULL) \
	N("optimizer.no_decay", LIST, STRING, 0, 0, 0, 0) \
	N("optimizer.groups", LIST, TABLE, 0, 0, 0, 0) \
	N("optimizer.groups[].prefix", STRING, STRING, 0, 0, 0, 0) \
	N("optimizer.groups[].lr_scale", NUMBER, NUMBER, 1, 0, RT_KEY_NOLIMIT, RT_KEY_RUN) \
	N("optimizer.groups[].weight_decay", NUMBER, NUMBER, 0, 0, RT_KEY_NOLIMIT, \
	  RT_KEY_RUN | RT_KEY_NONZERO) \
	F("optimizer.accumulate", INT, opt.accumulate, 1, 1, RT_MICRO_MAX, 0, NULL) \
	N("optimizer.sam", TABLE, TABLE, 0, 0, 0, 0) \
	F("optimizer.sam.rho", NUMBER, opt.rho, 0.05, 0, RT_KEY_NOLIMIT, RT_KEY_RUN | RT_KEY_SAM, NULL) \
	F("optimizer.sam.adaptive", BOOL, opt.adaptive, 0, 0, 1, RT_KEY_SAM, NULL) \
	F("optimizer.sam.every", INT, opt.sam_every, 1, 1, INT_MAX, RT_KEY_SAM, NULL) \
	F("optimizer.sam.m", INT, opt.sam_m, 1, 1, RT_MICRO_MAX, RT_KEY_SAM, NULL) \
	F("optimizer.sam.sync", BOOL, opt.sam_sync, 0, 0, 1, RT_KEY_SAM, NULL) \
	N("optimizer.sam.groups", LIST, TABLE, 0, 0, 0, RT_KEY_SAM) \
	N("optimizer.sam.groups[].prefix", STRING, STRING, 0, 0, 0, RT_KEY_SAM) \
	N("optimizer.sam.groups[].rho", NUMBER, NUMBER, 0.05, 0, RT_KEY_NOLIMIT, RT_KEY_RUN | RT_KEY_SAM) \
	F("optimizer.sam.eta", NUMBER, opt.sam_eta, 0, 0, RT_KEY_NOLIMIT, \
	  RT_KEY_RUN | RT_KEY_NONZERO | RT_KEY_SAM, NULL) \
	F("optimizer.sam.only", ENUM, opt.sam_only, SAM_ONLY_ALL, 0, 0, RT_KEY_SAM, "all|weights") \
	N("optimizer.sam.rho_schedule", TABLE, TABLE, 0, 0, 0, RT_KEY_RUN | RT_KEY_SAM) \
	F("optimizer.sam.rho_schedule.name", ENUM, opt.rho_sched.kind, RHO_SCHED_CONSTANT, 0, 0, \
	  RT_KEY_RUN | RT_KEY_SAM, "constant|step|cosine|lr") \
	F("optimizer.sam.rho_schedule.step_size", NUMBER, opt.rho_sched.step_size, 0, 1, \
	  RT_KEY_NOLIMIT, RT_KEY_RUN | RT_KEY_SAM, NULL) \
	F("optimizer.sam.rho_schedule.gamma", NUMBER, opt.rho_sched.gamma, 0.1, 0, RT_KEY_NOLIMIT, \
	  RT_KEY_RUN | RT_KEY_SAM | RT_KEY_LO_OPEN, NULL) \
	F("optimizer.sam.rho_schedule.t_max", NUMBER, opt.rho_sched.t_max, 0, 0, RT_KEY_NOLIMIT, \
	  RT_KEY_RUN | RT_KEY_SAM, NULL) \
	F("optimizer.sam.rho_schedule.rho_min", NUMBER, opt.rho_sched.rho_min, 0, 0, RT_KEY_NOLIMIT, \
	  RT_KEY_RUN | RT_KEY_SAM, NULL) \
	F("optimizer.sam.rho_schedule.lr_min", NUMBER, opt.rho_sched.lr_min, 0, 0, RT_KEY_NOLIMIT, \
	  RT_KEY_RUN | RT_KEY_SAM, NULL) \
	N("optimizer.sam.gsam", TABLE, TABLE, 0, 0, 0, RT_KEY_SAM) \
	F("optimizer.sam.gsam.alpha", NUMBER, opt.gsam_alpha, 0, 0, RT_KEY_NOLIMIT, \
	  RT_KEY_RUN | RT_KEY_SAM, NULL) \
	N("optimizer.sam.looksam", TABLE, TABLE, 0, 0, 0, RT_KEY_SAM) \
	F("optimizer.sam.looksam.k", INT, opt.looksam_k, 5, 1, INT_MAX, RT_KEY_SAM | RT_KEY_LOOKSAM, NULL) \
	F("optimizer.sam.looksam.alpha", NUMBER, opt.looksam_alpha, 0.7, 0, RT_KEY_NOLIMIT, \
	  RT_KEY_RUN | RT_KEY_SAM | RT_KEY_LOOKSAM, NULL) \
	N("schedule", TABLE, TABLE, 0, 0, 0, RT_KEY_RUN) \
	F("schedule.name", ENUM, sched.kind, SCHED_CONSTANT, 0, 0, RT_KEY_RUN, "constant|step|cosine") \
	F("schedule.step_size", NUMBER, sched.step_size, 0, 1, RT_KEY_NOLIMIT, \
	  RT_KEY_RUN | RT_KEY_STEP, NULL) \
	F("schedule.gamma", NUMBER, sched.gamma, 0.1, 0, RT_KEY_NOLIMIT, \
	  RT_KEY_RUN | RT_KEY_STEP | RT_KEY_LO_OPEN, NULL) \
	F("schedule.t_max", NUMBER, sched.t_max, 0, 0, RT_KEY_NOLIMIT, RT_KEY_RUN | RT_KEY_COSINE, NULL) \
	F("schedule.eta_min", NUMBER, sched.eta_min, 0, 0, RT_KEY_NOLIMIT, \
	  RT_KEY_RUN | RT_KEY_COSINE, NULL) \
	F("schedule.warmup", NUMBER, sched.warmup, 0, 0, RT_KEY_NOLIMIT, RT_KEY_RUN, NULL) \
	N("data", TABLE, TABLE, 0, 0, 0, 0) \
	F("data.format", STRING, data.format, 0, 0, 0, 0, "idx|csv|safetensors|cifar10|cifar100|npy") \
	N("data.train", MAP, STRING, 0, 0, 0, 0) \
	N("data.test", MAP, STRING, 0, 0, 0, 0) \
	N("data.val", MAP, STRING, 0, 0, 0, 0) \
	F("data.val_split", NUMBER, data.val_split, 0, 0, 0.5, RT_KEY_RUN, NULL) \
	F("data.scale", NUMBER, data.scale, 1, -RT_KEY_NOLIMIT, RT_KEY_NOLIMIT, RT_KEY_RUN, NULL) \
	F("data.mean", CHANNELS, data.mean, 0, -RT_KEY_NOLIMIT, RT_KEY_NOLIMIT, RT_KEY_RUN, NULL) \
	F("data.std", CHANNELS, data.std, 1, 0, RT_KEY_NOLIMIT, RT_KEY_RUN | RT_KEY_LO_OPEN, NULL) \
	F("data.drop_last", BOOL, data.drop_last, 1, 0, 1, RT_KEY_RUN, NULL) \
	F("data.limit_train", INT, data.limit_train, 0, 0, INT_MAX, RT_KEY_RUN, NULL) \
	F("data.limit_test", INT, data.limit_test, 0, 0, INT_MAX, RT_KEY_RUN, NULL) \
	N("data.augment", TABLE, TABLE, 0, 0, 0, RT_KEY_RUN) \
	N("data.augment.crop", TABLE, TABLE, 0, 0, 0, RT_KEY_RUN) \
	F("data.augment.crop.size", INT, data.augment.crop_size, 0, 0, INT_MAX, RT_KEY_RUN, NULL) \
	F("data.augment.crop.padding", INT, data.augment.crop_padding, 0, 0, INT_MAX, RT_KEY_RUN, \
	  NULL) \
	F("data.augment.flip", BOOL, data.augment.flip, 0, 0, 1, RT_KEY_RUN, NULL) \
	F("data.augment.cutout", INT, data.augment.cutout, 0, 0, INT_MAX, RT_KEY_RUN, NULL) \
	N("checkpoint", TABLE, TABLE, 0, 0, 0, RT_KEY_RUN) \
	F("checkpoint.every_steps", INT, ckpt_every, 0, 0, INT_MAX, RT_KEY_RUN, NULL) \
	F("checkpoint.monitor", STRING, ckpt_monitor, 0, 0, 0, 0, NULL) \
	F("checkpoint.mode", ENUM, ckpt_mode, RT_CKPT_MIN, 0, 0, RT_KEY_RUN, "min|max") \
	F("checkpoint.keep", INT, ckpt_best, 1, 1, RT_CKPT_MAX_BEST, RT_KEY_RUN, NULL) \
	N("early_stopping", TABLE, TABLE, 0, 0, 0, RT_KEY_RUN) \
	F("early_stopping.monitor", STRING, es_monitor, 0, 0, 0, 0, NULL) \
	F("early_stopping.mode", ENUM, es_mode, RT_CKPT_MIN, 0, 0, RT_KEY_RUN, "min|max") \
	F("early_stopping.patience", INT, es_patience, 3, 1, INT_MAX, RT_KEY_RUN, NULL) \
	F("early_stopping.min_delta", NUMBER, es_min_delta, 0, 0, RT_KEY_NOLIMIT, RT_KEY_RUN, NULL) \
	N("log", TABLE, TABLE, 0, 0, 0, RT_KEY_RUN) \
	F("log.csv", BOOL, log_csv, 0, 0, 1, RT_KEY_RUN, NULL) \
	N("ema", TABLE, TABLE, 0, 0, 0, 0) \
	F("ema.decay", NUMBER, ema_decay, 0.999, 0, 1, RT_KEY_RUN | RT_KEY_EMA, NULL) \
	F("precision", ENUM, precision, RT_PRECISION_F32, 0, 0, 0, "f32|bf16") \
	F("sync_bn", BOOL, sync_bn, 0, 0, 1, 0, NULL) \
	F("allreduce_overlap", BOOL, allreduce_overlap, 1, 0, 1, RT_KEY_RUN, NULL) \
	F("allreduce_bucket_mb", NUMBER, allreduce_bucket_mb, 25, 0, 1048576, \
	  RT_KEY_RUN | RT_KEY_LO_OPEN, NULL)
/* clang-format on */

typedef struct {
	const char *path;
	rt_key_kind kind;
	rt_key_kind elem;     /* MAP, LIST: the kind of each element */
	const char *field;    /* "opt.lr" (the C member), or NULL */
	long offset;          /* of the field in rt_recipe, or -1 */
	double dflt, lo, hi;  /* PAIR: dflt is the first's, RT_KEY_PAIR_DFLT2 the second's */
	int flags;
	const char *choices;  /* "a|b|c", or NULL */
} rt_key;

/* The keys, in schema order; n set to their count. */
const rt_key *rt_recipe_keys(int *n);
/* The key at a full path ("optimizer.sam.rho", "optimizer.sam.groups[].rho"),
 * or NULL. */
const rt_key *rt_recipe_key(const char *path);
/* The key directly under `parent` ("" for the top, "optimizer.sam.groups[]"
 * for a group) named `name`, or NULL; with NULL, `hint` (if given) is set
 * to the closest name there (two edits at most) or NULL. */
/* Levenshtein distance of two short strings ((size_t)-1 past 63 bytes):
 * the "did you mean" of recipe keys and command-line options. */
size_t rt_edit_distance(const char *a, const char *b);

const rt_key *rt_recipe_key_child(const char *parent, const char *name, const char **hint);
/* The names directly under `parent`, ", "-separated. */
void rt_recipe_key_children(const char *parent, char *out, size_t len);

/* The index of `s` in k->choices, or -1; the list as "a, b, c". */
int rt_recipe_key_choice(const rt_key *k, const char *s);
void rt_recipe_key_choices(const rt_key *k, char *out, size_t len);

/* Whether k applies to optimizer `kind` (keys with none of
 * RT_KEY_OPTIMIZERS apply to all); `names` (if given) gets the optimizers
 * it applies to, "sgd, rmsprop". */
int rt_recipe_key_for_optimizer(const rt_key *k, opt_kind kind, char *names, size_t len);
/* optimizer.name's value for kind: "sgd", "adam", "adamw", "rmsprop". */
const char *rt_opt_name(opt_kind kind);

/* Fills every field of r with its default (optimizer AdamW's weight decay
 * aside: 0.01, set by whoever knows the optimizer). */
void rt_recipe_defaults(rt_recipe *r);

/* 0 if v is within k's range, else -1 and "<path> must be > 0, got -1". */
int rt_recipe_key_check(const rt_key *k, double v, char *msg, size_t len);
/* The same for an integer key ("must be an integer >= 1, got 0"). */
int rt_recipe_key_check_int(const rt_key *k, double v, char *msg, size_t len);

/*
 * One --set, parsed against the schema: "optimizer.sam.rho=0.1",
 * "optimizer.sam.groups[2].rho=0.1" (an element of a list). Errors
 * (unknown key with a suggestion, a value of the wrong type) are written
 * to msg; the caller prefixes "--set <arg>: ".
 */
typedef struct {
	const rt_key *key;
	char path[256];        /* the full key as written */
	char parts[8][64];     /* its dot-separated parts, "[N]" taken off */
	int nparts;
	int list_part, index;  /* parts[list_part] had "[index]" (1-based); index 0: none */
	const char *map_key;   /* under a MAP key: the element's name, else NULL */
	const char *text;      /* the value as written */
	double num[RT_DATA_MAX_CHANNELS]; /* NUMBER, INT, U64, BOOL (0/1), PAIR, CHANNELS */
	int nnum;
} rt_recipe_set_arg;

int rt_recipe_set_parse(const char *arg, rt_recipe_set_arg *out, char *msg, size_t len);

/*
 * Applies a parsed --set to the recipe of a built trainer. Keys that are
 * compiled into its steps are refused with a message that says so and how
 * to rebuild: non-RUN keys, momentum/dampening/weight decay turned on or
 * off, a key of another optimizer, rho of a trainer without SAM. A SAM
 * group's rho is written into r->opt.groups, which must be writable.
 * Returns 0 or -1.
 */
int rt_recipe_set_apply(rt_recipe *r, const rt_recipe_set_arg *s, char *msg, size_t len);

/* What no single key can check, after every --set: 0 or -1 and msg. */
int rt_recipe_check(const rt_recipe *r, char *msg, size_t len);
/* After every --set: -1 and msg if s's key does not apply to r's schedule
 * ("schedule.gamma does not apply to this schedule (name = "step" only)"). */
int rt_recipe_set_applies(const rt_recipe *r, const rt_recipe_set_arg *s, char *msg, size_t len);

#endif
