/*
 * cli_build.c - `samc build model.lua -o trainer`: compile the model's
 * steps ahead of time and link a standalone trainer (codegen/cg_aot.h)
 * that needs neither LLVM nor Lua at run time.
 */
#include "cg_aot.h"
#include "cli.h"
#include "cli_backend.h"
#include "cg_step.h"
#include "cuda/cg_cuda_exec.h"
#include "llvm/cg_target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the architectures a CUDA trainer holds PTX for when --cuda-arch is not
 * given: Ampere and Hopper (newer GPUs run the compute_90 PTX) */
#define CLI_BUILD_CUDA_ARCHS "compute_80,compute_90"

typedef struct {
	const char *out;
	const char *cpu; /* --cpu: cg_target.h; generic unless given */
	cg_aot_options o;
	int quiet;
	int cuda;              /* --device cuda: PTX in the trainer, no object */
	const char *cuda_arch; /* --cuda-arch LIST */
	int ranks;             /* --ranks N: compiled for N ranks */
} build_args;

static int parse(build_args *b, cli_model_args *ma, int argc, char **argv)
{
	for (int i = 1; i < argc;) {
		int bad = 0, took = cli_take_model_arg(ma, &i, argc, argv, "build");
		const char *v;
		if (took < 0)
			return CLI_ERR_USAGE;
		if (took)
			continue;
		if ((v = cli_option_value("-o", &i, argc, argv, &bad)) ||
		    (v = cli_option_value("--output", &i, argc, argv, &bad))) {
			b->out = v;
		} else if ((v = cli_option_value("--cpu", &i, argc, argv, &bad))) {
			b->cpu = v;
		} else if ((v = cli_option_value("--cc", &i, argc, argv, &bad))) {
			b->o.cc = v;
		} else if ((v = cli_option_value("--device", &i, argc, argv, &bad)) ||
		           (v = cli_option_value("--backend", &i, argc, argv, &bad))) {
			if (strcmp(v, "cpu") != 0 && strcmp(v, "cuda") != 0)
				return cli_usage_error("build", "device '%s': samc build writes cpu and cuda "
				                       "trainers", v);
			b->cuda = strcmp(v, "cuda") == 0;
		} else if ((v = cli_option_value("--cuda-arch", &i, argc, argv, &bad))) {
			b->cuda_arch = v;
		} else if ((v = cli_option_value("--ranks", &i, argc, argv, &bad))) {
			char *end;
			long n = strtol(v, &end, 10);
			if (*end || n < 1 || n > 1000000)
				return cli_usage_error("build", "--ranks must be a positive integer, got '%s'", v);
			b->ranks = (int)n;
		} else if (!strcmp(argv[i], "--keep")) {
			b->o.keep = 1;
			i++;
		} else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) {
			b->o.verbose = 1;
			i++;
		} else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
			b->quiet = 1;
			i++;
		} else if (!strcmp(argv[i], "-O0")) {
			b->o.opt_level = 0;
			i++;
		} else if (bad) {
			return cli_usage_error("build", "%s needs a value", argv[i]);
		} else {
			return cli_unknown_option("build", argv[i], (const char *const[]){"--output",
			                          "--cpu", "--cc", "--device", "--backend", "--cuda-arch", "--ranks", "--keep",
			                          "--verbose",
			                          "--quiet", NULL}, 0);
		}
	}
	if (!ma->model)
		return cli_usage_error("build", "no model file given");
	if (!b->out || !*b->out)
		return cli_usage_error("build", "no output given: samc build %s -o TRAINER", ma->model);
	return 0;
}

int cli_build(int argc, char **argv)
{
	cli_model_args ma;
	cli_model_args_init(&ma);
	build_args b;
	memset(&b, 0, sizeof b);
	cg_aot_options_default(&b.o);
	b.cpu = "generic"; /* a trainer runs elsewhere: portable unless asked */
	int rc = parse(&b, &ma, argc, argv);
	if (rc)
		return rc;
	char msg[2048], hash[17];
	cg_target target;
	if (cg_target_init(&target, b.cpu, msg, sizeof msg))
		return cli_usage_error("build", "%s", msg);
	ir_model *m;
	ma.fe.ranks = b.ranks; /* the batch checks name the ranks too */
	if (cli_load_model(&ma, &m) != 0) {
		cg_target_free(&target);
		return CLI_ERR_MODEL;
	}
	pass_programs progs;
	cg_step_options so;
	cg_step_options_default(&so);
	cli_pass_options(&so.pass);
	so.llvm = !b.cuda; /* the object holds the llvm pass's modules */
	so.opt_level = b.o.opt_level;
	so.cuda = b.cuda;  /* a CUDA trainer holds each step's PTX */
	so.target = &target;
	if (pass_build_all_opt(m, &so.pass, &progs, msg, sizeof msg) != 0) {
		fprintf(stderr, "%s\n", msg);
		cg_target_free(&target);
		fe_model_free(m);
		return CLI_ERR_MODEL;
	}
	cli_program_hash(&progs, hash);
	/* its checkpoints record the one-process programs' hash, as samc's */
	if (b.ranks > 1 && cli_one_process_hash(&ma, &so.pass, hash)) {
		fprintf(stderr, "%s: the one-process programs did not build\n", ma.model);
		pass_programs_free(&progs);
		cg_target_free(&target);
		fe_model_free(m);
		return CLI_ERR_MODEL;
	}
	cg_aot_unit u;
	memset(&u, 0, sizeof u);
	u.model = ma.model;
	u.program_hash = hash;
	u.recipe = &m->recipe;
	u.nparams = m->nparams;
	u.ranks = b.ranks;
	u.cuda = b.cuda;
	char cache[4096];
	cg_cuda_cache_dir(cache, sizeof cache);
	u.target = &target;
	pass_program *ps[CG_AOT_NSTEPS] = {&progs.sam, &progs.base, &progs.eval, &progs.acc,
	                                   &progs.sam_acc, &progs.upd, &progs.upd_sam};
	rc = CLI_ERR_MODEL;
	for (int s = 0; s < CG_AOT_NSTEPS; s++)
		if (ps[s]->g && !(u.step[s] = cg_step_new(ps[s]->g, ps[s]->outs, ps[s]->names,
		                                          ps[s]->nout, &so, msg, sizeof msg))) {
			fprintf(stderr, "%s: %s\n", ma.model, msg);
			goto done;
		} else if (u.step[s] && b.cuda &&
		           cg_cuda_step_ptx(u.step[s], b.cuda_arch ? b.cuda_arch : CLI_BUILD_CUDA_ARCHS,
		                            cache, msg, sizeof msg)) {
			fprintf(stderr, "%s: %s\n", ma.model, msg);
			goto done;
		}
	cg_aot_stats st;
	if (cg_aot_build(&u, b.out, &b.o, &st, msg, sizeof msg) != 0) {
		fprintf(stderr, "%s\n", msg);
		goto done;
	}
	if (!b.quiet && b.cuda)
		printf("samc build: wrote %s (%d CUDA kernels, PTX for %s) in %.2f s (cc %.2f s)\n",
		       b.out, st.nkernels, b.cuda_arch ? b.cuda_arch : CLI_BUILD_CUDA_ARCHS, st.total_s,
		       st.cc_s);
	else if (!b.quiet)
		printf("samc build: wrote %s for CPU %s (%d kernels, %lld-byte object) in %.2f s "
		       "(codegen %.2f s, cc %.2f s)\n", b.out, target.cpu, st.nkernels,
		       (long long)st.object_bytes, st.total_s, st.codegen_s, st.cc_s);
	rc = CLI_OK;
done:
	for (int s = 0; s < CG_AOT_NSTEPS; s++)
		cg_step_free(u.step[s]);
	pass_programs_free(&progs);
	fe_model_free(m);
	cg_target_free(&target);
	return rc;
}
