/*
 * rt_args.h - the command-line options of a training run, shared by
 * `samc model.lua` and the standalone trainers of `samc build`, so both
 * accept the same spellings, ranges and messages.
 *
 *   for (int i = 1; i < argc;) {
 *       char msg[256];
 *       int took = rt_args_take_train(&opts, &threads, &i, argc, argv, msg, sizeof msg);
 *       if (took < 0) { report msg as a usage error (exit 2) }
 *       if (took == 0) { argv[i] is not a training option: try others }
 *   }
 */
#ifndef SAMC_RT_ARGS_H
#define SAMC_RT_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "rt_recipe.h"
#include "rt_train.h"

/* The help lines of the options rt_args_take_train knows. */
#define RT_ARGS_TRAIN_HELP                                                                   \
	"  --epochs N            train N epochs (overrides the recipe)\n"                         \
	"  --threads N           worker threads of the compiled steps (default: all cores)\n"     \
	"  --seed N              seed for initialisation and shuffling (overrides the recipe)\n" \
	"  --metrics FILE        JSON lines: one per log interval and one per epoch\n"            \
	"  --checkpoint-dir DIR  write DIR/last.safetensors after every epoch, and where the\n"   \
	"                        run stands on Ctrl-C (SIGINT) or SIGTERM (exit 130, 143)\n"     \
	"  --resume CKPT         continue the checkpoint's run: its seed and, if it was\n"       \
	"                        stopped early, its epochs (unless --epochs is given);\n"        \
	"                        bit-identical on CPU\n"                                          \
	"  --stop-after N        stop after N epochs as if interrupted (the schedule still\n"     \
	"                        spans --epochs); resume later with --resume\n"                   \
	"  --data DIR            take relative data paths of the recipe under DIR\n"              \
	"  --log-every N         steps between progress lines\n"                                  \
	"  --quiet               no progress output\n"

/* --threads' upper bound. */
#define RT_ARGS_MAX_THREADS 1024

/* The value of "--name value" or "--name=value" at argv[*i], advancing *i
 * past it; NULL if argv[*i] is not that option. Sets *missing when the
 * option is last or followed by another option ("--"...: write
 * "--name=--odd" for such a value) and has no value. */
const char *rt_args_value(const char *name, int *i, int argc, char **argv, int *missing);

/* An integer in [lo, hi], the whole string; 0, or -1 with a message in msg. */
int rt_args_int(const char *opt, const char *v, long lo, long hi, long *out, char *msg,
                size_t msglen);

/* A seed: a non-negative integer that fits in 64 bits. */
int rt_args_seed(const char *opt, const char *v, uint64_t *out, char *msg, size_t msglen);

/* The closest of the options of RT_ARGS_TRAIN_HELP (with_train) and of
 * `known` (NULL-terminated, may be NULL) to the unknown option `opt` (its
 * "=value" ignored), at most two edits away; NULL if none is. */
const char *rt_args_suggest(const char *opt, const char *const *known, int with_train);

/* "unknown option '--epoch' (did you mean '--epochs'?)" into msg. */
void rt_args_unknown(const char *opt, const char *const *known, int with_train, char *msg,
                     size_t msglen);

/* Consumes argv[*i] (and its value) if it is one of the options of
 * RT_ARGS_TRAIN_HELP, filling o (and *threads). Returns 1 if consumed, 0
 * if argv[*i] is something else, -1 with a message in msg for a missing
 * or bad value. */
int rt_args_take_train(rt_train_opts *o, int *threads, int *i, int argc, char **argv, char *msg,
                       size_t msglen);

/* The help lines of a trainer's --set (samc documents its own). */
#define RT_ARGS_SET_HELP                                                                     \
	"  --set key=value       change a recipe value that is not compiled into the steps,\n"  \
	"                        e.g. --set optimizer.sam.rho=0.1 --set optimizer.lr=0.05\n"    \
	"                        (the keys are listed in docs/dsl.md; others need a rebuild)\n"

/* Applies a trainer's "--set key=value" options, in order, to r (a copy of
 * its compiled-in recipe), then checks the result as a whole. 0, or -1
 * with "--set key=value: ..." in msg. */
int rt_args_recipe_sets(rt_recipe *r, const char *const *sets, int nsets, char *msg,
                        size_t msglen);

#endif
