/*
 * cli_train.c - `samc model.lua` (or `samc train model.lua`): compile the
 * model and train it on its recipe, on the chosen backend.
 */
#include "cli.h"
#include "cli_backend.h"
#include "cuda/cg_cuda_exec.h"
#include "pass_pipeline.h"
#include "plot.h"
#include "rt_args.h"
#include "rt_comm.h"
#include "rt_train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a over the printed programs: a checkpoint records it, so resuming
 * with a changed model (shapes, ops, optimizer, dtype) is refused. */
void cli_program_hash(const pass_programs *p, char out[17])
{
	uint64_t h = 1469598103934665603ull;
	const pass_program *all[7] = {&p->sam, &p->base, &p->eval, &p->acc, &p->sam_acc, &p->upd,
	                              &p->upd_sam};
	for (int k = 0; k < 7; k++) {
		if (!all[k]->g)
			continue;
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		if (!f)
			continue;
		ir_print(f, all[k]->g);
		fclose(f);
		/* hash what the program computes, not where the model file lives:
		 * drop the "; file:line" comments */
		for (size_t i = 0; i < len; i++) {
			if (buf[i] == ';')
				while (i < len && buf[i] != '\n')
					i++;
			h = (h ^ (unsigned char)buf[i]) * 1099511628211ull;
		}
		free(buf);
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* The epoch hook: curves.png and curves.svg beside the metrics file. */
static int draw_curves(void *ctx, const char *metrics_path, int epoch, rt_err *err)
{
	rt_err e;
	if (plot_curves_beside(metrics_path, &e) == 0)
		return 0;
	return rt_errf(err, "the curves of epoch %d were not drawn: %s", epoch, e.msg);
}

typedef struct {
	rt_train_opts o;
	const char *backend;
	int threads;
} train_args;

/* On several ranks a checkpoint records the one-process programs' hash:
 * the ranks' own programs differ in their batch. */
int cli_one_process_hash(const cli_model_args *ma, const pass_options *po, char out[17])
{
	cli_model_args one = *ma;
	one.fe.ranks = 0;
	one.fe.sets = one.sets;
	one.fe.args = one.args;
	ir_model *m;
	pass_programs progs;
	char msg[2048];
	if (fe_load_model(one.model, &one.fe, &m, msg, sizeof msg))
		return -1;
	int rc = pass_build_all_opt(m, po, &progs, msg, sizeof msg);
	if (!rc) {
		cli_program_hash(&progs, out);
		pass_programs_free(&progs);
	}
	fe_model_free(m);
	return rc;
}

int cli_train(int argc, char **argv)
{
	/* progress through a pipe (| tee log) arrives line by line, not in
	 * 4 KB blocks */
	setvbuf(stdout, NULL, _IOLBF, 0);
	cli_model_args ma;
	cli_model_args_init(&ma);
	train_args ta;
	memset(&ta, 0, sizeof ta);
	ta.backend = "cpu";
	for (int i = 1; i < argc;) {
		int bad = 0, took = cli_take_model_arg(&ma, &i, argc, argv, "train");
		if (took < 0)
			return CLI_ERR_USAGE;
		if (took)
			continue;
		const char *v, *opt = argv[i];
		char msg[512];
		took = rt_args_take_train(&ta.o, &ta.threads, &i, argc, argv, msg, sizeof msg);
		if (took < 0)
			return cli_usage_error("train", "%s", msg);
		if (took)
			continue;
		if ((v = cli_option_value("--backend", &i, argc, argv, &bad)) ||
		    (v = cli_option_value("--device", &i, argc, argv, &bad)))
			ta.backend = v;
		else if (bad)
			return cli_usage_error("train", "%s needs a value", opt);
		else
			return cli_unknown_option("train", opt, (const char *const[]){"--backend", "--device",
			                          NULL}, 1);
	}
	if (!ma.model)
		return cli_usage_error("train", "no model file given");
	if (cli_backend_is_cuda(ta.backend)) {
		char why[1024];
		if (cli_backend_cuda_probe(why, sizeof why) != 0) {
			fprintf(stderr, "samc: %s\n", why);
			return CLI_ERR_MODEL;
		}
	}
	if (cli_backend_check(ta.backend) != 0)
		return cli_usage_error("train", "unknown backend '%s' (this build has: %s)", ta.backend,
		                       cli_backend_names());
	rt_comm *comm;
	rt_err ce;
	if (rt_comm_open(&comm, &ce)) {
		fprintf(stderr, "samc: %s\n", ce.msg);
		return CLI_ERR_MODEL;
	}
	/* several ranks: compiled for them, rank 0 speaks */
	ma.fe.ranks = comm->size;
	ma.rank = comm->rank;
	ta.o.comm = comm;
	ir_model *m;
	if (cli_load_model(&ma, &m) != 0) {
		comm->release(comm);
		return CLI_ERR_MODEL;
	}

	char msg[2048], hash[17], ckpt_hash[17];
	pass_programs progs;
	rt_exec *sam = NULL, *base = NULL, *eval = NULL;
	rt_comm_gpu gpu = {0};
	int rc = CLI_ERR_MODEL;
	pass_options po;
	cli_pass_options(&po);
	if (pass_build_all_opt(m, &po, &progs, msg, sizeof msg) != 0) {
		if (comm->rank == 0)
			fprintf(stderr, "%s\n", msg);
		fe_model_free(m);
		comm->release(comm);
		return CLI_ERR_MODEL;
	}
	cli_program_hash(&progs, hash);
	memcpy(ckpt_hash, hash, sizeof hash);
	rt_err err = {{0}};
	/* every rank must run the same programs: the same file, arguments,
	 * recipe and number of ranks */
	if (rt_comm_agree(comm, "program", strtoull(hash, NULL, 16), &err) ||
	    (comm->size > 1 && cli_one_process_hash(&ma, &po, ckpt_hash) &&
	     rt_errf(&err, "%s: the one-process programs did not build", ma.model))) {
		fprintf(stderr, "samc: rank %d: %s\n", comm->rank, err.msg);
		pass_programs_free(&progs);
		fe_model_free(m);
		comm->release(comm);
		return CLI_ERR_MODEL;
	}
	/* several ranks on GPUs: each its own, and NCCL for the sums */
	if (cli_gpu_open(ta.backend, comm, &gpu, msg, sizeof msg)) {
		fprintf(stderr, "samc: %s\n", msg);
		goto done;
	}
#define EXEC(prog) cli_exec_new_gpu(ta.backend, prog, ta.threads, &po, gpu.ordinal, msg, sizeof msg)
	if ((progs.sam.g && !(sam = EXEC(&progs.sam))) ||
	    (progs.base.g && !(base = EXEC(&progs.base))) || !(eval = EXEC(&progs.eval)) ||
	    (progs.acc.g && !(ta.o.train_acc = EXEC(&progs.acc))) ||
	    (progs.sam_acc.g && !(ta.o.train_sam_acc = EXEC(&progs.sam_acc))) ||
	    (progs.upd.g && !(ta.o.train_upd = EXEC(&progs.upd))) ||
	    (progs.upd_sam.g && !(ta.o.train_upd_sam = EXEC(&progs.upd_sam)))) {
#undef EXEC
		fprintf(stderr, "%s: %s\n", ma.model, msg);
		goto done;
	}
	rt_train_result res;
	memset(&res, 0, sizeof res);
	ta.o.recipe = &m->recipe;
	ta.o.program_hash = ckpt_hash;
	ta.o.result = &res;
	ta.o.epoch_hook = draw_curves;
	int lead = comm->rank == 0;
	if (!ta.o.quiet && lead)
		printf("samc: %s: %d params, backend %s, %s%s%s\n", ma.model, m->nparams, ta.backend,
		       m->recipe.opt.sam ? "SAM around " : "",
		       m->recipe.opt.kind == OPT_SGD ? "SGD" : m->recipe.opt.kind == OPT_ADAM ? "Adam" : "AdamW",
		       comm->size > 1 ? (m->recipe.opt.sam && !m->recipe.opt.sam_sync
		                         ? ", per-replica SAM" : "") : "");
	if (!ta.o.quiet && lead && comm->size > 1)
		printf("samc: %d ranks (%s), %d examples each per step\n", comm->size, comm->name,
		       m->recipe.batch_size / comm->size);
	if (!ta.o.quiet && lead && cg_cuda_exec_describe(sam ? sam : base ? base : eval))
		printf("samc: cuda: %s\n", cg_cuda_exec_describe(sam ? sam : base ? base : eval));
	if (!ta.o.quiet && lead && gpu.info[0])
		printf("samc: %s (the GPUs' sums)\n", gpu.info);
	if (rt_train(&ta.o, sam, base, eval, &err) != 0) {
		if (comm->size > 1)
			fprintf(stderr, "samc: rank %d: ", comm->rank);
		fprintf(stderr, "%s\n", err.msg);
	} else {
		if (lead && (!ta.o.quiet || res.interrupted)) /* an interruption is always said */
			rt_train_print_summary(stdout, &res);
		/* what the ranks cost: rank 0's time inside collectives (waiting for
		 * slower ranks included) and the bytes it sent */
		if (lead && !ta.o.quiet && comm->size > 1)
			printf("samc: rank 0: %.3f s in collectives, %.1f MB sent (%s, %d ranks)\n",
			       comm->seconds, (double)comm->bytes / 1e6, comm->name, comm->size);
		rc = res.interrupted ? 128 + res.interrupted : CLI_OK;
	}
	rt_train_result_free(&res);
	plot_release(); /* the curves' font caches */
done:
	rt_comm_gpu_close(comm, &gpu); /* NCCL first, then the devices */
	cli_exec_free(sam);
	cli_exec_free(base);
	cli_exec_free(eval);
	cli_exec_free(ta.o.train_acc);
	cli_exec_free(ta.o.train_sam_acc);
	cli_exec_free(ta.o.train_upd);
	cli_exec_free(ta.o.train_upd_sam);
	pass_programs_free(&progs);
	fe_model_free(m);
	comm->release(comm);
	return rc;
}
