/*
 * cli_steps.c - `samc steps`: run K training steps from given initial
 * weights on given batches and write every parameter, every optimizer
 * state tensor and the losses to a safetensors file. It is how samc is
 * checked against PyTorch (tests/oracle/) and against any other framework.
 * With --eval it then runs the evaluation program on step 0's batch and
 * writes its loss and metrics, as means over the batch, as eval.<name>.
 */
#include "cli.h"
#include "cli_backend.h"
#include "pass_pipeline.h"
#include "rt_init.h"
#include "rt_dataset.h"
#include "rt_noise.h"
#include "rt_comm.h"
#include "rt_step_seq.h"
#include "rt_recipe.h"
#include "rt_safetensors.h"
#include "rt_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	const char *init, *batches, *out, *backend;
	long steps;
	int eval; /* also run the eval program on batch 0 */
} steps_args;

static rt_dtype to_rt(ir_dtype t) { return t == IR_F64 ? RT_F64 : t == IR_I32 ? RT_I32 : RT_F32; }

/* Copies tensor `t` into a slot buffer, converting its dtype; the shape
 * must match exactly and labels must be integral. With nmicro > 1 the
 * tensor holds a step's batch, nmicro times the slot's first dimension,
 * and micro-batch `micro` of it (rt_step_seq.h) is copied. */
static int fill_slot_micro(const rt_tensor *t, const rt_slot *s, void *dst, int micro,
                           int nmicro, const char *file, rt_err *err)
{
	char a[64], b[64];
	int same = t->rank == s->rank;
	for (int d = 0; same && d < s->rank; d++)
		same = t->dim[d] == s->dim[d] * (d == 0 ? nmicro : 1);
	if (!same) {
		int64_t want[RT_MAX_DIMS];
		memcpy(want, s->dim, sizeof want);
		want[0] *= nmicro;
		rt_shape_str(a, sizeof a, t->rank, t->dim);
		rt_shape_str(b, sizeof b, s->rank, want);
		return rt_errf(err, "%s: tensor '%s' has shape %s, the model expects %s", file, t->name, a, b);
	}
	int is_float = t->dtype == RT_F32 || t->dtype == RT_F64;
	if (s->dtype == RT_I32 && is_float)
		return rt_errf(err, "%s: tensor '%s' is %s, the model expects integer labels (I32 or I64)",
		               file, t->name, rt_dtype_name(t->dtype));
	if (s->dtype != RT_I32 && !is_float)
		return rt_errf(err, "%s: tensor '%s' is %s, the model expects F32 or F64", file, t->name,
		               rt_dtype_name(t->dtype));
	rt_tensor view = {.name = (char *)s->name, .dtype = s->dtype, .rank = s->rank, .data = dst};
	memcpy(view.dim, s->dim, sizeof view.dim);
	int64_t n = rt_tensor_numel(&view), off = n * micro;
	for (int64_t i = 0; i < n; i++)
		rt_tensor_set(&view, i, rt_tensor_get(t, off + i));
	return 0;
}

static int fill_slot(const rt_tensor *t, const rt_slot *s, void *dst, const char *file, rt_err *err)
{
	return fill_slot_micro(t, s, dst, 0, 1, file, err);
}

/* fill_slot into store buffer i, then upload it */
static int fill_buf(const rt_tensor *t, rt_store *st, int i, const char *file, rt_err *err)
{
	void *h = rt_store_host(st, i);
	if (!h)
		return rt_errf(err, "out of memory for '%s'", st->buf[i].slot.name);
	return fill_slot(t, &st->buf[i].slot, h, file, err) || rt_store_flush(st, i, err) ? -1 : 0;
}

static int load_init(const char *path, rt_store *st, rt_err *err)
{
	rt_tensors ts = {0};
	if (rt_st_read(path, &ts, NULL, err) != 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < st->n && rc == 0; i++) {
		const rt_slot *s = &st->buf[i].slot;
		if (s->role == RT_SLOT_STATE) {
			/* state starts by its rule (running_var at ones), as in training */
			void *h = rt_store_host(st, i);
			rc = !h ? rt_errf(err, "out of memory for '%s'", s->name)
			        : rt_init_slot(s, h, 0, err) || rt_store_flush(st, i, err) ? -1 : 0;
			continue;
		}
		if (s->role != RT_SLOT_PARAM)
			continue;
		const rt_tensor *t = rt_tensors_find(&ts, s->name);
		rc = t ? fill_buf(t, st, i, path, err)
		       : rt_errf(err, "%s: no tensor '%s' (every parameter of the model is needed)", path, s->name);
	}
	for (int i = 0; i < ts.n && rc == 0; i++) {
		int k = rt_store_find(st, ts.t[i].name);
		if (k < 0 || st->buf[k].slot.role != RT_SLOT_PARAM)
			rc = rt_errf(err, "%s: tensor '%s' is not a parameter of the model", path, ts.t[i].name);
	}
	rt_tensors_free(&ts);
	return rc;
}

/* Fills the data inputs of step k from "<input>.<k>" tensors (micro-batch
 * `micro` of nmicro). */
static int load_batch(const rt_tensors *ts, const char *path, rt_store *st, long k, int micro,
                      int nmicro, rt_err *err)
{
	for (int i = 0; i < st->n; i++) {
		const rt_slot *s = &st->buf[i].slot;
		if (!rt_dataset_is_data_input(s))
			continue;
		char name[512];
		snprintf(name, sizeof name, "%s.%ld", s->name, k);
		const rt_tensor *t = rt_tensors_find(ts, name);
		if (!t)
			return rt_errf(err, "%s: no tensor '%s' (input '%s' of step %ld)", path, name, s->name, k);
		void *h = rt_store_host(st, i);
		if (!h)
			return rt_errf(err, "out of memory for '%s'", s->name);
		if (fill_slot_micro(t, s, h, micro, nmicro, path, err) || rt_store_flush(st, i, err))
			return -1;
		/* read the file's values: the I32 slot holds them clamped */
		for (int64_t j = 0; s->nclasses > 0 && j < rt_tensor_numel(t); j++) {
			double y = rt_tensor_get(t, j);
			if (y < 0 || y >= s->nclasses)
				return rt_errf(err, "%s: tensor '%s': label %.0f at index %lld is outside [0, %d)",
				               path, name, y, (long long)j, s->nclasses);
		}
	}
	return 0;
}

/* The eval program on step 0's batch (its nmicro micro-batches), every
 * row real: its masked sums divided by the batch size into ev[0..noutputs).
 * Several ranks share the micro-batches as training's evaluation shares its
 * batches (rank r takes those k with k % ranks == r) and sum their sums in
 * rank order. */
static int run_eval(const rt_tensors *batches, const char *path, rt_store *st, rt_exec *x,
                    void **bind, int nmicro, rt_comm *comm, double *ev, rt_err *err)
{
	int mi = rt_store_find(st, "eval.mask");
	if (mi < 0)
		return rt_errf(err, "samc steps: the eval program has no 'eval.mask' input");
	rt_slot *ms = &st->buf[mi].slot;
	void *h = rt_store_host(st, mi);
	if (!h)
		return rt_errf(err, "out of memory for the eval mask");
	rt_tensor view = {.name = (char *)ms->name, .dtype = ms->dtype, .rank = ms->rank, .data = h};
	memcpy(view.dim, ms->dim, sizeof view.dim);
	for (int64_t i = 0; i < ms->dim[0]; i++)
		rt_tensor_set(&view, i, 1.0);
	if (rt_store_flush(st, mi, err) != 0)
		return -1;
	double *part = calloc((size_t)x->noutputs + 1, sizeof *part);
	if (!part)
		return rt_errf(err, "out of memory");
	for (int i = 0; i < x->noutputs; i++)
		ev[i] = 0;
	for (int k = comm->rank; k < nmicro; k += comm->size) {
		if (load_batch(batches, path, st, 0, k, nmicro, err) || x->run(x, bind, part, err)) {
			free(part);
			return -1;
		}
		for (int i = 0; i < x->noutputs; i++)
			ev[i] += part[i];
	}
	free(part);
	if (comm->size > 1 && comm->allreduce(comm, ev, (size_t)x->noutputs, RT_COMM_F64, err))
		return -1;
	for (int i = 0; i < x->noutputs; i++)
		ev[i] /= (double)ms->dim[0] * nmicro;
	return 0;
}

/* samc steps' side of a step (rt_step_seq.h): micro-batches from the
 * batches file, the step's loss as the reporting runs' weighted mean. */
typedef struct {
	const rt_tensors *batches;
	const char *path;
	rt_store *st;
	int nmicro;
	double loss_sum;
	int64_t loss_n;
} steps_io;

static int64_t steps_fill(void *ctx, int64_t t, int micro, int64_t mb, rt_err *err)
{
	steps_io *io = ctx;
	return load_batch(io->batches, io->path, io->st, (long)t, micro, io->nmicro, err) ? -1 : mb;
}

static int steps_report(void *ctx, const rt_exec *x, const double *outs, int64_t real, rt_err *err)
{
	steps_io *io = ctx;
	for (int i = 0; i < x->noutputs; i++)
		if (strcmp(x->outputs[i], "loss") == 0) {
			io->loss_sum += outs[i] * (double)real;
			io->loss_n += real;
			return 0;
		}
	return rt_errf(err, "samc steps: the %s step has no 'loss' output", x->backend);
}

static int write_out(const char *path, const rt_store *st, const double *loss, long K, ir_dtype t,
                     const rt_exec *ex, const double *ev, rt_err *err)
{
	rt_tensors out = {0};
	int rc = 0;
	for (int i = 0; ex && i < ex->noutputs && rc == 0; i++) {
		char name[256];
		snprintf(name, sizeof name, "eval.%s", ex->outputs[i]);
		rt_tensor *o = rt_tensors_add(&out, name, to_rt(t), 0, NULL);
		if (!o)
			rc = rt_errf(err, "out of memory");
		else
			rt_tensor_set(o, 0, ev[i]);
	}
	for (int i = 0; i < st->n && rc == 0; i++) {
		const rt_slot *s = &st->buf[i].slot;
		if (s->role == RT_SLOT_INPUT)
			continue;
		rt_tensor *o = rt_tensors_add(&out, s->name, s->dtype, s->rank, s->dim);
		if (!o)
			rc = rt_errf(err, "out of memory");
		else
			rc = rt_store_download(st, i, o->data, err);
	}
	int64_t k64 = K;
	rt_tensor *l = rc ? NULL : rt_tensors_add(&out, "loss", to_rt(t), 1, &k64);
	if (!rc && !l)
		rc = rt_errf(err, "out of memory");
	for (long k = 0; l && k < K; k++)
		rt_tensor_set(l, k, loss[k]);
	if (rc == 0)
		rc = rt_st_write(path, &out, NULL, err);
	rt_tensors_free(&out);
	return rc;
}

/* Several ranks: each step's loss sums over all of them, in rank order. */
static int reduce_loss(rt_comm *c, steps_io *io, rt_err *err)
{
	double v[2] = {io->loss_sum, (double)io->loss_n};
	if (c->allreduce(c, v, 2, RT_COMM_F64, err))
		return -1;
	io->loss_sum = v[0];
	io->loss_n = (int64_t)v[1];
	return 0;
}

static int run_steps(const steps_args *sa, ir_model *m, rt_comm *comm)
{
	char msg[1024];
	rt_err err = {{0}};
	pass_programs progs;
	rt_step_execs E = {{0}, {0}};
	rt_exec *ev = NULL;
	rt_store st = {0};
	rt_tensors batches = {0};
	rt_step_stage stage = {0};
	rt_comm_gpu gpu = {0};
	void **bind_ev = NULL;
	double *evout = NULL;
	double *loss = calloc((size_t)sa->steps, sizeof *loss);
	double *outs = NULL;
	int rc = CLI_ERR_MODEL;

	pass_options po;
	cli_pass_options(&po);
	if (pass_build_all_opt(m, &po, &progs, msg, sizeof msg) != 0) {
		fprintf(stderr, "%s\n", msg);
		free(loss);
		return CLI_ERR_MODEL;
	}
	pass_program *ps[RT_STEP_NPROGS] = {&progs.sam, &progs.base, &progs.acc, &progs.sam_acc,
	                                    &progs.upd, &progs.upd_sam};
	char hash[17];
	cli_program_hash(&progs, hash);
	if (rt_comm_agree(comm, "program", strtoull(hash, NULL, 16), &err))
		goto fail;
	/* several ranks on GPUs: each its own, and NCCL for the sums */
	if (cli_gpu_open(sa->backend, comm, &gpu, msg, sizeof msg)) {
		fprintf(stderr, "samc: %s\n", msg);
		goto done;
	}
	int maxout = 0;
	for (int p = 0; p < RT_STEP_NPROGS; p++) {
		if (ps[p]->g && !(E.x[p] = cli_exec_new_gpu(sa->backend, ps[p], 0, &po, gpu.ordinal, msg,
		                                            sizeof msg))) {
			fprintf(stderr, "samc steps: %s\n", msg);
			goto done;
		}
		if (E.x[p] && E.x[p]->noutputs > maxout)
			maxout = E.x[p]->noutputs;
		if (E.x[p])
			E.x[p]->comm = comm; /* its collectives (sync_bn) over the ranks */
	}
	if (sa->eval && !(ev = cli_exec_new_gpu(sa->backend, &progs.eval, 0, &po, gpu.ordinal, msg,
	                                        sizeof msg))) {
		fprintf(stderr, "samc steps: %s\n", msg);
		goto done;
	}
	for (int p = 0; p < RT_STEP_NPROGS; p++)
		if (E.x[p] && rt_store_add_exec(&st, E.x[p], &err))
			goto fail;
	if ((ev && rt_store_add_exec(&st, ev, &err)) ||
	    load_init(sa->init, &st, &err) || rt_st_read(sa->batches, &batches, NULL, &err) ||
	    (ev && !(bind_ev = rt_store_bind_prefer(&st, ev, m->recipe.ema ? RT_EMA_PREFIX : NULL,
	                                             &err))))
		goto fail;
	for (int p = 0; p < RT_STEP_NPROGS; p++)
		if (E.x[p] && !(E.bind[p] = rt_store_bind(&st, E.x[p], &err)))
			goto fail;
	const rt_recipe *r = &m->recipe;
	if (rt_step_check(r, &E, &err) || !(outs = calloc((size_t)maxout + 1, sizeof *outs)))
		goto fail;
	/* the batches file holds the global batches: micro-batches over all ranks */
	steps_io io = {&batches, sa->batches, &st, rt_micro_total(&r->opt), 0, 0};
	rt_step_io sio = {steps_fill, steps_report, &io, NULL, comm, &stage};
	for (long t = 0; t < sa->steps; t++) {
		io.loss_sum = 0;
		io.loss_n = 0;
		if (rt_step_do(&E, &st, r, t, sa->steps, r->seed, &sio, outs, &err) != 0 ||
		    (comm->size > 1 && reduce_loss(comm, &io, &err)))
			goto fail;
		loss[t] = io.loss_n > 0 ? io.loss_sum / (double)io.loss_n : 0;
	}
	if (ev && (!(evout = calloc((size_t)ev->noutputs + 1, sizeof *evout)) ||
	           run_eval(&batches, sa->batches, &st, ev, bind_ev, io.nmicro, comm, evout, &err)))
		goto fail;
	/* every rank holds the same weights: rank 0 writes them */
	if (comm->rank == 0 &&
	    write_out(sa->out, &st, loss, sa->steps, m->g->fdtype, ev, evout, &err) != 0)
		goto fail;
	rc = CLI_OK;
	goto done;
fail:
	if (comm->size > 1)
		fprintf(stderr, "samc: rank %d: ", comm->rank);
	fprintf(stderr, "%s\n", err.msg[0] ? err.msg : "samc steps: out of memory");
done:
	free(outs);
	rt_step_stage_free(&stage);
	free(bind_ev);
	free(evout);
	rt_tensors_free(&batches);
	rt_store_free(&st); /* on the execs' devices: before them */
	for (int p = 0; p < RT_STEP_NPROGS; p++)
		free(E.bind[p]);
	rt_comm_gpu_close(comm, &gpu); /* NCCL first, then the devices */
	for (int p = 0; p < RT_STEP_NPROGS; p++)
		cli_exec_free(E.x[p]);
	cli_exec_free(ev);
	pass_programs_free(&progs);
	free(loss);
	return rc;
}

int cli_steps(int argc, char **argv)
{
	cli_model_args ma;
	cli_model_args_init(&ma);
	steps_args sa = {NULL, NULL, NULL, "cpu", -1, 0};
	for (int i = 1; i < argc;) {
		int bad = 0;
		const char *v;
		int took = cli_take_model_arg(&ma, &i, argc, argv, "steps");
		if (took < 0)
			return CLI_ERR_USAGE;
		if (took)
			continue;
		if ((v = cli_option_value("--init", &i, argc, argv, &bad)))
			sa.init = v;
		else if ((v = cli_option_value("--batches", &i, argc, argv, &bad)))
			sa.batches = v;
		else if ((v = cli_option_value("--out", &i, argc, argv, &bad)))
			sa.out = v;
		else if (!strcmp(argv[i], "--eval")) {
			sa.eval = 1;
			i++;
		} else if ((v = cli_option_value("--backend", &i, argc, argv, &bad)) ||
		           (v = cli_option_value("--device", &i, argc, argv, &bad)))
			sa.backend = v;
		else if ((v = cli_option_value("--steps", &i, argc, argv, &bad))) {
			char *end;
			sa.steps = strtol(v, &end, 10);
			if (*end || sa.steps < 1 || sa.steps > 1000000)
				return cli_usage_error("steps", "--steps must be a positive integer, got '%s'", v);
		} else if (bad)
			return cli_usage_error("steps", "%s needs a value", argv[i]);
		else
			return cli_unknown_option("steps", argv[i], (const char *const[]){"--init",
			                          "--batches", "--out", "--eval", "--backend", "--device",
			                          "--steps", NULL}, 0);
	}
	if (!ma.model)
		return cli_usage_error("steps", "no model file given");
	if (!sa.init || !sa.batches || !sa.out || sa.steps < 0)
		return cli_usage_error("steps", "--init, --batches, --steps and --out are required");
	if (cli_backend_is_cuda(sa.backend)) {
		char why[1024];
		if (cli_backend_cuda_probe(why, sizeof why) != 0) {
			fprintf(stderr, "samc: %s\n", why);
			return CLI_ERR_MODEL;
		}
	}
	if (cli_backend_check(sa.backend) != 0)
		return cli_usage_error("steps", "unknown backend '%s' (this build has: %s)", sa.backend,
		                       cli_backend_names());
	rt_comm *comm;
	rt_err ce;
	if (rt_comm_open(&comm, &ce)) {
		fprintf(stderr, "samc: %s\n", ce.msg);
		return CLI_ERR_MODEL;
	}
	/* compiled for the run's ranks: each runs its share of the micro-batches */
	ma.fe.ranks = comm->size;
	ma.rank = comm->rank;
	ir_model *m;
	int rc = CLI_ERR_MODEL;
	if (cli_load_model(&ma, &m) == 0) {
		rc = run_steps(&sa, m, comm);
		fe_model_free(m);
	}
	comm->release(comm);
	return rc;
}
