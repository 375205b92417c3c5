/*
 * rt_aot.c - a standalone trainer's main (see rt_aot.h): options, execs of
 * the compiled steps, rt_train.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_aot.h"
#include "rt_train.h"

typedef struct {
	rt_train_opts o;
	int threads;
} aot_args;

static const char *const usage =
	"usage: %s [options]\n"
	"\n"
	"Trains %s as compiled by `samc build`, evaluating on the test set after\n"
	"every epoch.\n"
	"  --epochs N            train N epochs (overrides the recipe)\n"
	"  --threads N           worker threads (default: all cores)\n"
	"  --seed N              seed for initialisation and shuffling (overrides the recipe)\n"
	"  --metrics FILE        JSON lines: one per log interval and one per epoch\n"
	"  --checkpoint-dir DIR  write DIR/last.safetensors after every epoch and at the end\n"
	"  --resume CKPT         continue a run from a checkpoint (bit-identical)\n"
	"  --stop-after N        stop after N epochs as if interrupted (the schedule still\n"
	"                        spans --epochs); resume later with --resume\n"
	"  --data DIR            take relative data paths of the recipe under DIR\n"
	"  --log-every N         steps between progress lines\n"
	"  --quiet               no progress output\n";

static int usage_error(const char *prog, const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n(see %s --help)\n", prog);
	return 2;
}

/* "--name value" or "--name=value"; NULL if argv[*i] is another option */
static const char *value(const char *name, int *i, int argc, char **argv, int *bad)
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
	if (*i + 1 >= argc) {
		*bad = 1;
		return NULL;
	}
	*i += 2;
	return argv[*i - 1];
}

static int parse_int(const char *prog, const char *opt, const char *v, int *out)
{
	char *end;
	long x = strtol(v, &end, 10);
	if (!*v || *end || x < 1 || x > 1000000000)
		return usage_error(prog, "%s must be an integer >= 1, got '%s'", opt, v);
	*out = (int)x;
	return 0;
}

static int parse(aot_args *a, int argc, char **argv)
{
	const char *prog = argv[0];
	for (int i = 1; i < argc;) {
		int bad = 0;
		const char *v;
		const char *opt = argv[i];
		if ((v = value("--epochs", &i, argc, argv, &bad))) {
			if (parse_int(prog, "--epochs", v, &a->o.epochs))
				return 2;
		} else if ((v = value("--stop-after", &i, argc, argv, &bad))) {
			if (parse_int(prog, "--stop-after", v, &a->o.stop_after))
				return 2;
		} else if ((v = value("--threads", &i, argc, argv, &bad))) {
			if (parse_int(prog, "--threads", v, &a->threads))
				return 2;
		} else if ((v = value("--log-every", &i, argc, argv, &bad))) {
			if (parse_int(prog, "--log-every", v, &a->o.log_every))
				return 2;
		} else if ((v = value("--seed", &i, argc, argv, &bad))) {
			char *end;
			a->o.seed = strtoull(v, &end, 10);
			if (!*v || *end || *v == '-')
				return usage_error(prog, "%s must be a non-negative integer, got '%s'", "--seed", v);
			a->o.has_seed = 1;
		} else if ((v = value("--metrics", &i, argc, argv, &bad))) {
			a->o.metrics_path = v;
		} else if ((v = value("--checkpoint-dir", &i, argc, argv, &bad))) {
			a->o.ckpt_dir = v;
		} else if ((v = value("--resume", &i, argc, argv, &bad))) {
			a->o.resume_path = v;
		} else if ((v = value("--data", &i, argc, argv, &bad))) {
			a->o.data_dir = v;
		} else if (!strcmp(opt, "--quiet") || !strcmp(opt, "-q")) {
			a->o.quiet = 1;
			i++;
		} else if (bad) {
			return usage_error(prog, "%s needs a value%s", opt, "");
		} else {
			return usage_error(prog, "unknown option '%s'%s", opt, "");
		}
	}
	return 0;
}

static const char *opt_name(const rt_recipe *r)
{
	return r->opt.kind == OPT_SGD ? "SGD" : r->opt.kind == OPT_ADAM ? "Adam" : "AdamW";
}

static rt_exec *make(const rt_prog *p, int threads, rt_err *err)
{
	return p ? rt_prog_exec_new(p, threads, err) : NULL;
}

int rt_aot_main(const rt_aot_model *m, int argc, char **argv)
{
	const char *prog = argc > 0 ? argv[0] : "trainer";
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf(usage, prog, m->model);
			return 0;
		}
	if (m->abi != RT_AOT_ABI) {
		fprintf(stderr, "%s: built for runtime ABI %d, linked with ABI %d: rebuild with samc build\n",
		        prog, m->abi, RT_AOT_ABI);
		return 1;
	}
	aot_args a;
	memset(&a, 0, sizeof a);
	int rc = parse(&a, argc, argv);
	if (rc)
		return rc;
	rt_err err = {{0}};
	rt_exec *sam = NULL, *base = NULL, *eval = NULL;
	rc = 1;
	if ((m->sam && !(sam = make(m->sam, a.threads, &err))) ||
	    (m->base && !(base = make(m->base, a.threads, &err))) ||
	    (m->eval && !(eval = make(m->eval, a.threads, &err)))) {
		fprintf(stderr, "%s: %s\n", prog, err.msg);
		goto done;
	}
	rt_train_result res;
	memset(&res, 0, sizeof res);
	a.o.recipe = m->recipe;
	a.o.program_hash = m->program_hash;
	a.o.result = &res;
	if (!a.o.quiet)
		printf("%s: %s: %d params, compiled cpu, %s%s\n", prog, m->model, m->nparams,
		       m->recipe->opt.sam ? "SAM around " : "", opt_name(m->recipe));
	if (rt_train(&a.o, sam, base, eval, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
	} else {
		if (!a.o.quiet)
			printf("test accuracy: %.4f  test loss: %.4f  (%d epochs, %lld steps, %.0f samples/s)\n",
			       res.test_acc, res.test_loss, res.epochs, (long long)res.steps, res.samples_per_s);
		rc = 0;
	}
	rt_train_result_free(&res);
done:
	if (sam)
		sam->free(sam);
	if (base)
		base->free(base);
	if (eval)
		eval->free(eval);
	return rc;
}
