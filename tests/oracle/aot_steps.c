/*
 * aot_steps.c - `samc steps` for a built CUDA trainer, so the oracle can
 * run where samc itself cannot (a GPU machine without LLVM or Lua).
 *
 * Linked in place of the runtime's rt_aot_main with a trainer's generated
 * tables (`samc build --device cuda --keep` writes them to TRAINER.samc.c,
 * whose main() calls rt_aot_main):
 *
 *   cc -std=c11 -Iruntime -o STEPS TRAINER.samc.c tests/oracle/aot_steps.c \
 *      libsamcrt.a -lopenblas -lcjson -lz -lm -lpthread -ldl
 *
 * it takes `samc steps`'s command line (oracle.py's --samc):
 *
 *   STEPS steps MODEL --init INIT --batches BATCHES --steps K --out OUT
 *         [--dtype f32] [--eval] [--backend cuda]
 *
 * and does what frontend/cli_steps.c does with the trainer's programs on
 * the CUDA device (SAMC_CUDA_DRIVER, SAMC_CUDA_BLAS and SAMC_CUDA_DNN name
 * the libraries): the parameters from INIT, the state by its rule, K steps
 * on BATCHES' "<input>.<k>" tensors (rt_step_do), then every parameter and
 * state tensor and the per-step losses (and with --eval the eval
 * program's means on step 0's batch) written to OUT. MODEL is only
 * checked to be the trainer's. A test tool: the copy of cli_steps.c's
 * loading code stays here, beside the harness that needs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt_aot.h"
#include "rt_dataset.h"
#include "rt_init.h"
#include "rt_safetensors.h"
#include "rt_step_seq.h"
#include "rt_store.h"

typedef struct {
	const char *init, *batches, *out;
	long steps;
	int eval;
} args;

/* tensor t into slot s's host buffer dst (micro-batch micro of nmicro),
 * converting its dtype; the shape must match */
static int fill_slot(const rt_tensor *t, const rt_slot *s, void *dst, int micro, int nmicro,
                     const char *file, rt_err *err)
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
		return rt_errf(err, "%s: tensor '%s' has shape %s, the model expects %s", file, t->name,
		               a, b);
	}
	rt_tensor view = {.name = (char *)s->name, .dtype = s->dtype, .rank = s->rank, .data = dst};
	memcpy(view.dim, s->dim, sizeof view.dim);
	int64_t n = rt_tensor_numel(&view), off = n * micro;
	for (int64_t i = 0; i < n; i++)
		rt_tensor_set(&view, i, rt_tensor_get(t, off + i));
	return 0;
}

static int fill_buf(const rt_tensor *t, rt_store *st, int i, int micro, int nmicro,
                    const char *file, rt_err *err)
{
	void *h = rt_store_host(st, i);
	if (!h)
		return rt_errf(err, "out of memory for '%s'", st->buf[i].slot.name);
	return fill_slot(t, &st->buf[i].slot, h, micro, nmicro, file, err) ||
	               rt_store_flush(st, i, err)
	           ? -1
	           : 0;
}

static int load_init(const char *path, rt_store *st, rt_err *err)
{
	rt_tensors ts = {0};
	if (rt_st_read(path, &ts, NULL, err) != 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < st->n && rc == 0; i++) {
		const rt_slot *s = &st->buf[i].slot;
		if (s->role == RT_SLOT_STATE) { /* state starts by its rule, as in training */
			void *h = rt_store_host(st, i);
			rc = !h ? rt_errf(err, "out of memory for '%s'", s->name)
			     : rt_init_slot(s, h, 0, err) || rt_store_flush(st, i, err) ? -1
			                                                                : 0;
		} else if (s->role == RT_SLOT_PARAM) {
			const rt_tensor *t = rt_tensors_find(&ts, s->name);
			rc = t ? fill_buf(t, st, i, 0, 1, path, err)
			       : rt_errf(err, "%s: no tensor '%s' (every parameter is needed)", path, s->name);
		}
	}
	rt_tensors_free(&ts);
	return rc;
}

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
			return rt_errf(err, "%s: no tensor '%s' (input '%s' of step %ld)", path, name,
			               s->name, k);
		if (fill_buf(t, st, i, micro, nmicro, path, err))
			return -1;
	}
	return 0;
}

typedef struct {
	const rt_tensors *batches;
	const char *path;
	rt_store *st;
	int nmicro;
	double loss_sum;
	int64_t loss_n;
} steps_io;

static int64_t io_fill(void *ctx, int64_t t, int micro, int64_t mb, rt_err *err)
{
	steps_io *io = ctx;
	return load_batch(io->batches, io->path, io->st, (long)t, micro, io->nmicro, err) ? -1 : mb;
}

static int io_report(void *ctx, const rt_exec *x, const double *outs, int64_t real, rt_err *err)
{
	steps_io *io = ctx;
	for (int i = 0; i < x->noutputs; i++)
		if (strcmp(x->outputs[i], "loss") == 0) {
			io->loss_sum += outs[i] * (double)real;
			io->loss_n += real;
			return 0;
		}
	return rt_errf(err, "aot_steps: the step has no 'loss' output");
}

/* the eval program on step 0's batch, every row real: means over it */
static int run_eval(const steps_io *io, rt_exec *x, void **bind, double *ev, rt_err *err)
{
	rt_store *st = io->st;
	int mi = rt_store_find(st, "eval.mask");
	if (mi < 0)
		return rt_errf(err, "aot_steps: the eval program has no 'eval.mask' input");
	rt_slot *ms = &st->buf[mi].slot;
	void *h = rt_store_host(st, mi);
	if (!h)
		return rt_errf(err, "out of memory for the eval mask");
	rt_tensor view = {.name = (char *)ms->name, .dtype = ms->dtype, .rank = ms->rank, .data = h};
	memcpy(view.dim, ms->dim, sizeof view.dim);
	for (int64_t i = 0; i < ms->dim[0]; i++)
		rt_tensor_set(&view, i, 1.0);
	double part[64];
	if (rt_store_flush(st, mi, err) || x->noutputs > 64)
		return -1;
	for (int i = 0; i < x->noutputs; i++)
		ev[i] = 0;
	for (int k = 0; k < io->nmicro; k++) {
		if (load_batch(io->batches, io->path, st, 0, k, io->nmicro, err) ||
		    x->run(x, bind, part, err))
			return -1;
		for (int i = 0; i < x->noutputs; i++)
			ev[i] += part[i];
	}
	for (int i = 0; i < x->noutputs; i++)
		ev[i] /= (double)ms->dim[0] * io->nmicro;
	return 0;
}

static int write_out(const args *a, const rt_store *st, const double *loss, rt_dtype dt,
                     const rt_exec *ex, const double *ev, rt_err *err)
{
	rt_tensors out = {0};
	int rc = 0;
	for (int i = 0; ex && i < ex->noutputs && rc == 0; i++) {
		char name[256];
		snprintf(name, sizeof name, "eval.%s", ex->outputs[i]);
		rt_tensor *o = rt_tensors_add(&out, name, dt, 0, NULL);
		rc = o ? (rt_tensor_set(o, 0, ev[i]), 0) : rt_errf(err, "out of memory");
	}
	for (int i = 0; i < st->n && rc == 0; i++) {
		const rt_slot *s = &st->buf[i].slot;
		if (s->role == RT_SLOT_INPUT)
			continue;
		rt_tensor *o = rt_tensors_add(&out, s->name, s->dtype, s->rank, s->dim);
		rc = o ? rt_store_download(st, i, o->data, err) : rt_errf(err, "out of memory");
	}
	int64_t k64 = a->steps;
	rt_tensor *l = rc ? NULL : rt_tensors_add(&out, "loss", dt, 1, &k64);
	if (!rc && !l)
		rc = rt_errf(err, "out of memory");
	for (long k = 0; l && k < a->steps; k++)
		rt_tensor_set(l, k, loss[k]);
	if (rc == 0)
		rc = rt_st_write(a->out, &out, NULL, err);
	rt_tensors_free(&out);
	return rc;
}

static int parse(args *a, const rt_aot_model *m, int argc, char **argv)
{
	int i = 1;
	if (i < argc && !strcmp(argv[i], "steps"))
		i++;
	if (i < argc && argv[i][0] != '-') {
		const char *base = strrchr(m->model, '/'), *mine = strrchr(argv[i], '/');
		base = base ? base + 1 : m->model;
		mine = mine ? mine + 1 : argv[i];
		if (strcmp(base, mine) != 0) {
			fprintf(stderr, "aot_steps: %s is built from %s, not %s\n", argv[0], m->model,
			        argv[i]);
			return 2;
		}
		i++;
	}
	for (; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(o, "--eval")) {
			a->eval = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "aot_steps: %s needs a value\n", o);
			return 2;
		}
		i++;
		if (!strcmp(o, "--init"))
			a->init = v;
		else if (!strcmp(o, "--batches"))
			a->batches = v;
		else if (!strcmp(o, "--out"))
			a->out = v;
		else if (!strcmp(o, "--steps"))
			a->steps = strtol(v, NULL, 10);
		else if (!strcmp(o, "--dtype") && strcmp(v, "f32") != 0) {
			fprintf(stderr, "aot_steps: the trainer is f32, not %s\n", v);
			return 2;
		} else if (!strcmp(o, "--backend") && strcmp(v, "cuda") != 0) {
			fprintf(stderr, "unknown backend '%s' (this trainer has: cuda)\n", v);
			return 2;
		} else if (strcmp(o, "--dtype") && strcmp(o, "--backend")) {
			fprintf(stderr, "aot_steps: unknown option %s\n", o);
			return 2;
		}
	}
	if (!a->init || !a->batches || !a->out || a->steps < 1) {
		fprintf(stderr, "aot_steps: --init, --batches, --steps and --out are required\n");
		return 2;
	}
	if (m->nptx < 1) {
		fprintf(stderr, "aot_steps: %s is not a CUDA trainer\n", argv[0]);
		return 2;
	}
	return 0;
}

int rt_aot_main(const rt_aot_model *m, int argc, char **argv)
{
	args a = {0};
	int rc = parse(&a, m, argc, argv);
	if (rc)
		return rc;
	const char *drv = getenv("SAMC_CUDA_DRIVER"), *blas = getenv("SAMC_CUDA_BLAS"),
	           *dnn = getenv("SAMC_CUDA_DNN");
	const rt_prog *progs[RT_STEP_NPROGS] = {m->sam, m->base, m->acc, m->sam_acc};
	const rt_aot_ptx *ptx[RT_STEP_NPROGS] = {m->sam_ptx, m->base_ptx, m->acc_ptx, m->sam_acc_ptx};
	rt_step_execs E = {{0}, {0}};
	rt_exec *ev = NULL;
	rt_store st = {0};
	rt_tensors batches = {0};
	void **bind_ev = NULL;
	double *loss = calloc((size_t)a.steps, sizeof *loss), outs[256], evout[64];
	rt_err err = {{0}};
	rc = 1;
	for (int p = 0; p < RT_STEP_NPROGS; p++)
		if (progs[p] &&
		    !(E.x[p] = rt_aot_cuda_exec(progs[p], ptx[p], m->nptx, drv, blas, dnn, &err)))
			goto fail;
	if (a.eval && (!m->eval || !(ev = rt_aot_cuda_exec(m->eval, m->eval_ptx, m->nptx, drv, blas,
	                                                   dnn, &err)))) {
		if (!m->eval)
			rt_errf(&err, "aot_steps: the trainer has no eval program");
		goto fail;
	}
	for (int p = 0; p < RT_STEP_NPROGS; p++)
		if (E.x[p] && (E.x[p]->noutputs > 256 || rt_store_add_exec(&st, E.x[p], &err)))
			goto fail;
	if (!loss || (ev && (ev->noutputs > 64 || rt_store_add_exec(&st, ev, &err))) ||
	    load_init(a.init, &st, &err) || rt_st_read(a.batches, &batches, NULL, &err) ||
	    (ev && !(bind_ev = rt_store_bind_prefer(&st, ev, m->recipe->ema ? RT_EMA_PREFIX : NULL,
	                                             &err))))
		goto fail;
	for (int p = 0; p < RT_STEP_NPROGS; p++)
		if (E.x[p] && !(E.bind[p] = rt_store_bind(&st, E.x[p], &err)))
			goto fail;
	const rt_recipe *r = m->recipe;
	if (rt_step_check(r, &E, &err))
		goto fail;
	steps_io io = {&batches, a.batches, &st, rt_step_micro(r), 0, 0};
	rt_step_io sio = {io_fill, io_report, &io, NULL};
	for (long t = 0; t < a.steps; t++) {
		io.loss_sum = 0;
		io.loss_n = 0;
		if (rt_step_do(&E, &st, r, t, a.steps, r->seed, &sio, outs, &err) != 0)
			goto fail;
		loss[t] = io.loss_n > 0 ? io.loss_sum / (double)io.loss_n : 0;
	}
	if ((ev && run_eval(&io, ev, bind_ev, evout, &err)) ||
	    write_out(&a, &st, loss, RT_F32, ev, evout, &err))
		goto fail;
	rc = 0;
	goto done;
fail:
	fprintf(stderr, "%s\n", err.msg[0] ? err.msg : "aot_steps: out of memory");
done:
	free(bind_ev);
	rt_tensors_free(&batches);
	rt_store_free(&st); /* on the execs' devices: before them */
	for (int p = 0; p < RT_STEP_NPROGS; p++) {
		free(E.bind[p]);
		if (E.x[p])
			E.x[p]->free(E.x[p]);
	}
	if (ev)
		ev->free(ev);
	free(loss);
	return rc;
}
