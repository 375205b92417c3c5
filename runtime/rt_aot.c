/*
 * rt_aot.c - a standalone trainer's main (see rt_aot.h): options (those of
 * rt_args.h, as `samc model.lua` takes them, and --set for the recipe
 * values its steps read as inputs), execs of the compiled steps, rt_train.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_aot.h"
#include "rt_comm.h"
#include "rt_comm_nccl.h"
#include "rt_args.h"
#include "rt_cpu.h"
#include "rt_dev_cpu.h"
#include "rt_train.h"

typedef struct {
	rt_train_opts o;
	int threads;
	const char **sets; /* --set key=value, in order */
	int nsets;
} aot_args;

static const char *const usage =
	"usage: %s [options]\n"
	"\n"
	"Trains %s as compiled by `samc build`, evaluating on the validation set\n"
	"(data.val, data.val_split) after every epoch and on the test set at the end,\n"
	"or without a validation set on the test set after every epoch.\n"
	RT_ARGS_TRAIN_HELP RT_ARGS_SET_HELP;

static const char *const set_option[] = {"--set", NULL};

static int parse(aot_args *a, int argc, char **argv)
{
	const char *prog = argv[0];
	for (int i = 1; i < argc;) {
		char msg[512];
		const char *opt = argv[i], *v;
		int missing = 0;
		int took = rt_args_take_train(&a->o, &a->threads, &i, argc, argv, msg, sizeof msg);
		if (took == 0 && (v = rt_args_value("--set", &i, argc, argv, &missing))) {
			a->sets[a->nsets++] = v; /* argc bounds their number */
			continue;
		}
		if (took == 0 && missing)
			snprintf(msg, sizeof msg, "%s needs a value", opt);
		else if (took == 0)
			rt_args_unknown(opt, set_option, 1, msg, sizeof msg);
		if (took <= 0) {
			fprintf(stderr, "%s: %s\n(see %s --help)\n", prog, msg, prog);
			return 2;
		}
	}
	return 0;
}

static const char *opt_name(const rt_recipe *r)
{
	return r->opt.kind == OPT_SGD ? "SGD" : r->opt.kind == OPT_ADAM ? "Adam" : "AdamW";
}

/* The kernels use the instructions of the CPU they were compiled for:
 * refuse to start, naming what is missing, rather than die with SIGILL. */
static int cpu_check(const rt_aot_model *m, const char *prog)
{
	char missing[512];
	if (m->nptx > 0) /* a CUDA trainer: its kernels run on the GPU */
		return 0;
	int n = rt_cpu_missing(m->cpu_features, getenv("SAMC_CPU_MASK"), missing, sizeof missing);
	if (n == 0)
		return 0;
	int generic = !strcmp(m->cpu, "generic");
	fprintf(stderr,
	        "%s: this trainer was compiled for the CPU %s (samc build --cpu %s), but this CPU "
	        "lacks %s: %s\nRebuild it with `samc build --cpu %s`%s.\n",
	        prog, m->cpu_llvm, m->cpu, n == 1 ? "the feature" : "the features", missing,
	        generic ? "native" : "generic",
	        generic ? " on this machine (or --cpu x86-64, which runs on any x86-64 CPU)"
	                : " (or --cpu native on this machine)");
	return 1;
}

static rt_exec *make(const rt_prog *p, int threads, rt_err *err)
{
	return p ? rt_prog_exec_new(p, threads, err) : NULL;
}

int rt_aot_main(const rt_aot_model *m, int argc, char **argv)
{
	const char *prog = argc > 0 ? argv[0] : "trainer";
	setvbuf(stdout, NULL, _IOLBF, 0); /* progress through | tee arrives line by line */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf(usage, prog, m->model);
			if (m->nptx == 0)
				printf("\nIts kernels were compiled for the CPU %s (samc build --cpu %s); it exits 1\n"
				       "on a CPU without their features. SAMC_CPU_MASK=avx2,... treats those as\n"
				       "missing.\n", m->cpu_llvm, m->cpu);
			return 0;
		}
	if (m->abi != RT_AOT_ABI) {
		fprintf(stderr, "%s: built for runtime ABI %d, linked with ABI %d: rebuild with samc build\n",
		        prog, m->abi, RT_AOT_ABI);
		return 1;
	}
	if (cpu_check(m, prog))
		return 1;
	aot_args a;
	memset(&a, 0, sizeof a);
	/* --set writes into a copy of the recipe (and of its SAM groups) */
	rt_recipe recipe = *m->recipe;
	int ng = recipe.opt.ngroups;
	sam_group *groups = calloc((size_t)ng + 1, sizeof *groups);
	char msg[512];
	if (!groups || !(a.sets = calloc((size_t)argc + 1, sizeof *a.sets))) {
		fprintf(stderr, "%s: out of memory\n", prog);
		free(groups);
		return 1;
	}
	if (ng > 0)
		memcpy(groups, recipe.opt.groups, (size_t)ng * sizeof *groups);
	recipe.opt.groups = groups;
	int npg = recipe.opt.nparam_groups; /* and of its optimizer groups */
	opt_group *pgroups = calloc((size_t)npg + 1, sizeof *pgroups);
	if (!pgroups) {
		fprintf(stderr, "%s: out of memory\n", prog);
		free(groups);
		free(a.sets);
		return 1;
	}
	if (npg > 0)
		memcpy(pgroups, recipe.opt.param_groups, (size_t)npg * sizeof *pgroups);
	recipe.opt.param_groups = pgroups;
	int rc = parse(&a, argc, argv);
	if (!rc && rt_args_recipe_sets(&recipe, a.sets, a.nsets, msg, sizeof msg)) {
		fprintf(stderr, "%s: %s\n(see %s --help)\n", prog, msg, prog);
		rc = 2;
	}
	free(a.sets);
	if (rc) {
		free(groups);
		free(pgroups);
		return rc;
	}
	rt_err err = {{0}};
	rt_exec *sam = NULL, *base = NULL, *eval = NULL;
	rt_comm_gpu gpu = {0};
	rc = 1;
	/* a data-parallel trainer runs on the ranks it was compiled for */
	rt_comm *comm;
	if (rt_comm_open(&comm, &err)) {
		fprintf(stderr, "%s: %s\n", prog, err.msg);
		free(groups);
		free(pgroups);
		return 1;
	}
	int ranks = m->ranks > 1 ? m->ranks : 1;
	recipe.opt.ranks = m->ranks;
	a.o.comm = comm;
	if (comm->size != ranks) {
		if (comm->rank == 0)
			fprintf(stderr, "%s: built for %d rank%s, started on %d: rebuild it with `samc build "
			        "%s --ranks %d` (and the same other options)\n", prog, ranks,
			        ranks > 1 ? "s" : "", comm->size, m->model, comm->size);
		goto done;
	}
	if (rt_comm_agree(comm, "program", strtoull(m->program_hash, NULL, 16), &err)) {
		fprintf(stderr, "%s: rank %d: %s\n", prog, comm->rank, err.msg);
		goto done;
	}
	if (m->nptx > 0) { /* a CUDA trainer; the environment names other libraries */
		const char *drv = getenv("SAMC_CUDA_DRIVER"), *blas = getenv("SAMC_CUDA_BLAS"),
		           *dnn = getenv("SAMC_CUDA_DNN");
		/* several ranks: each its own GPU, and NCCL for the sums */
		if (rt_comm_gpu_open(comm, drv, getenv("SAMC_NCCL"), &gpu, &err)) {
			fprintf(stderr, "%s: %s\n", prog, err.msg);
			goto done;
		}
		if (comm->rank == 0 && gpu.note[0])
			fprintf(stderr, "%s: note: %s\n", prog, gpu.note);
		int g = gpu.ordinal;
#define CUDA_EXEC(prog, ptx) rt_aot_cuda_exec_on(prog, ptx, m->nptx, drv, blas, dnn, g, &err)
		if ((m->sam && !(sam = CUDA_EXEC(m->sam, m->sam_ptx))) ||
		    (m->base && !(base = CUDA_EXEC(m->base, m->base_ptx))) ||
		    (m->eval && !(eval = CUDA_EXEC(m->eval, m->eval_ptx))) ||
		    (m->acc && !(a.o.train_acc = CUDA_EXEC(m->acc, m->acc_ptx))) ||
		    (m->sam_acc && !(a.o.train_sam_acc = CUDA_EXEC(m->sam_acc, m->sam_acc_ptx))) ||
		    (m->upd && !(a.o.train_upd = CUDA_EXEC(m->upd, m->upd_ptx))) ||
		    (m->upd_sam && !(a.o.train_upd_sam = CUDA_EXEC(m->upd_sam, m->upd_sam_ptx)))) {
#undef CUDA_EXEC
			fprintf(stderr, "%s: %s\n", prog, err.msg);
			goto done;
		}
	} else if ((m->sam && !(sam = make(m->sam, a.threads, &err))) ||
	           (m->base && !(base = make(m->base, a.threads, &err))) ||
	           (m->eval && !(eval = make(m->eval, a.threads, &err))) ||
	           (m->acc && !(a.o.train_acc = make(m->acc, a.threads, &err))) ||
	           (m->sam_acc && !(a.o.train_sam_acc = make(m->sam_acc, a.threads, &err))) ||
	           (m->upd && !(a.o.train_upd = make(m->upd, a.threads, &err))) ||
	           (m->upd_sam && !(a.o.train_upd_sam = make(m->upd_sam, a.threads, &err)))) {
		fprintf(stderr, "%s: %s\n", prog, err.msg);
		goto done;
	}
	rt_train_result res;
	memset(&res, 0, sizeof res);
	a.o.recipe = &recipe;
	a.o.program_hash = m->program_hash;
	a.o.result = &res;
	int lead = comm->rank == 0;
	if (!lead)
		a.o.quiet = 1; /* rank 0 speaks (rt_train: and writes) */
	if (!a.o.quiet && m->nptx > 0)
		printf("%s: %s: %d params, compiled cuda, %s%s\n", prog, m->model, m->nparams,
		       recipe.opt.sam ? "SAM around " : "", opt_name(&recipe));
	else if (!a.o.quiet)
		printf("%s: %s: %d params, compiled cpu (%s), %s%s\n", prog, m->model, m->nparams,
		       m->cpu_llvm, recipe.opt.sam ? "SAM around " : "", opt_name(&recipe));
	if (!a.o.quiet && ranks > 1)
		printf("%s: %d ranks (%s), %d examples each per step\n", prog, ranks, comm->name,
		       recipe.batch_size / ranks);
	if (!a.o.quiet && gpu.info[0])
		printf("%s: %s (the GPUs' sums)\n", prog, gpu.info);
	if (rt_train(&a.o, sam, base, eval, &err) != 0) {
		if (ranks > 1)
			fprintf(stderr, "%s: rank %d: ", prog, comm->rank);
		fprintf(stderr, "%s\n", err.msg);
	} else {
		if (lead && (!a.o.quiet || res.interrupted)) /* an interruption is always said */
			rt_train_print_summary(stdout, &res);
		rc = res.interrupted ? 128 + res.interrupted : 0;
	}
	rt_train_result_free(&res);
done:
	rt_comm_gpu_close(comm, &gpu); /* NCCL first, then the devices */
	if (sam)
		sam->free(sam);
	if (base)
		base->free(base);
	if (eval)
		eval->free(eval);
	if (a.o.train_acc)
		a.o.train_acc->free(a.o.train_acc);
	if (a.o.train_sam_acc)
		a.o.train_sam_acc->free(a.o.train_sam_acc);
	if (a.o.train_upd)
		a.o.train_upd->free(a.o.train_upd);
	if (a.o.train_upd_sam)
		a.o.train_upd_sam->free(a.o.train_upd_sam);
	comm->release(comm);
	free(groups);
	free(pgroups);
	return rc;
}
