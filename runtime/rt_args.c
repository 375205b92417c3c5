/*
 * rt_args.c - parsing of the training options (see rt_args.h). Values are
 * checked whole: "3x", "-1" for a seed, or a number past the type's range
 * is a usage error, never a silent wrap.
 */
#include "rt_args.h"
#include "rt_recipe_schema.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rt_args_value(const char *name, int *i, int argc, char **argv, int *missing)
{
	const char *arg = argv[*i];
	size_t n = strlen(name);
	if (strncmp(arg, name, n) != 0)
		return NULL;
	if (arg[n] == '=') {
		(*i)++;
		return arg + n + 1;
	}
	if (arg[n] != '\0')
		return NULL;
	/* "--data --epochs 3": the next word is an option, not this one's value */
	if (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0) {
		*missing = 1;
		return NULL;
	}
	*i += 2;
	return argv[*i - 1];
}

int rt_args_int(const char *opt, const char *v, long lo, long hi, long *out, char *msg,
                size_t msglen)
{
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (!*v || *end || errno || x < lo || x > hi) {
		snprintf(msg, msglen, "%s must be an integer from %ld to %ld, got '%s'", opt, lo, hi, v);
		return -1;
	}
	*out = x;
	return 0;
}

int rt_args_seed(const char *opt, const char *v, uint64_t *out, char *msg, size_t msglen)
{
	char *end;
	errno = 0;
	/* strtoull accepts "-1" and wraps it: refuse any sign */
	unsigned long long x = strtoull(v, &end, 10);
	if (!*v || *v == '-' || *v == '+' || *end || errno) {
		snprintf(msg, msglen, "%s must be an integer from 0 to %llu, got '%s'", opt,
		         (unsigned long long)UINT64_MAX, v);
		return -1;
	}
	*out = x;
	return 0;
}

static const char *const train_options[] = {
	"--epochs", "--threads", "--seed", "--metrics", "--checkpoint-dir", "--resume",
	"--stop-after", "--data", "--log-every", "--quiet", "--help", NULL};

const char *rt_args_suggest(const char *opt, const char *const *known, int with_train)
{
	char name[64];
	snprintf(name, sizeof name, "%.*s", (int)strcspn(opt, "="), opt);
	const char *best = NULL;
	size_t best_d = 3; /* at most two edits away */
	const char *const *lists[2] = {with_train ? train_options : NULL, known};
	for (int l = 0; l < 2; l++)
		for (const char *const *k = lists[l]; k && *k; k++) {
			size_t d = rt_edit_distance(name, *k);
			if (d < best_d && d + 2 < strlen(*k)) {
				best = *k;
				best_d = d;
			}
		}
	return best;
}

void rt_args_unknown(const char *opt, const char *const *known, int with_train, char *msg,
                     size_t msglen)
{
	const char *hint = rt_args_suggest(opt, known, with_train);
	if (hint)
		snprintf(msg, msglen, "unknown option '%s' (did you mean '%s'?)", opt, hint);
	else
		snprintf(msg, msglen, "unknown option '%s'", opt);
}

int rt_args_take_train(rt_train_opts *o, int *threads, int *i, int argc, char **argv, char *msg,
                       size_t msglen)
{
	/* more threads than any machine has cores only cost memory and time */
	const struct { const char *name; int *to; long hi; } ints[] = {
		{"--epochs", &o->epochs, 1000000000},       {"--stop-after", &o->stop_after, 1000000000},
		{"--log-every", &o->log_every, 1000000000}, {"--threads", threads, RT_ARGS_MAX_THREADS},
	};
	const char *opt = argv[*i], *v;
	int missing = 0;
	if (!strcmp(opt, "--quiet") || !strcmp(opt, "-q")) {
		o->quiet = 1;
		(*i)++;
		return 1;
	}
	for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++)
		if ((v = rt_args_value(ints[k].name, i, argc, argv, &missing))) {
			long x;
			if (rt_args_int(ints[k].name, v, 1, ints[k].hi, &x, msg, msglen))
				return -1;
			*ints[k].to = (int)x;
			return 1;
		}
	if ((v = rt_args_value("--seed", i, argc, argv, &missing))) {
		if (rt_args_seed("--seed", v, &o->seed, msg, msglen))
			return -1;
		o->has_seed = 1;
		return 1;
	}
	const struct { const char *name; const char **to; } paths[] = {
		{"--metrics", &o->metrics_path}, {"--checkpoint-dir", &o->ckpt_dir},
		{"--resume", &o->resume_path},   {"--data", &o->data_dir},
	};
	for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++)
		if ((v = rt_args_value(paths[k].name, i, argc, argv, &missing))) {
			if (!*v) {
				snprintf(msg, msglen, "%s needs a non-empty value", paths[k].name);
				return -1;
			}
			*paths[k].to = v;
			return 1;
		}
	if (missing) {
		snprintf(msg, msglen, "%s needs a value", opt);
		return -1;
	}
	return 0;
}

int rt_args_recipe_sets(rt_recipe *r, const char *const *sets, int nsets, char *msg,
                        size_t msglen)
{
	for (int i = 0; i < nsets; i++) {
		rt_recipe_set_arg s;
		char m[400];
		if (rt_recipe_set_parse(sets[i], &s, m, sizeof m) ||
		    rt_recipe_set_apply(r, &s, m, sizeof m)) {
			snprintf(msg, msglen, "--set %s: %s", sets[i], m);
			return -1;
		}
	}
	char m[400];
	for (int i = 0; i < nsets; i++) { /* schedule keys against the final schedule */
		rt_recipe_set_arg s;
		if (rt_recipe_set_parse(sets[i], &s, m, sizeof m) == 0 &&
		    rt_recipe_set_applies(r, &s, m, sizeof m)) {
			snprintf(msg, msglen, "--set %s: %s", sets[i], m);
			return -1;
		}
	}
	if (rt_recipe_check(r, m, sizeof m)) {
		snprintf(msg, msglen, "--set: %s", m);
		return -1;
	}
	return 0;
}
