/*
 * bench_step.c - a compiled training step ready to be timed: the model's
 * program built by the pass pipeline, compiled by the CPU backend, its
 * slots bound to host buffers, and a few random batches that each step
 * points the input slots at (no copy, as a framework reading a prepared
 * batch would do).
 */
#include "bench.h"
#include "llvm/cg_target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rt_init.h"

double bench_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
	if (n <= 0)
		return 0.0;
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void bench_fill(float *p, int64_t n, uint64_t seed)
{
	uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
	for (int64_t i = 0; i < n; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		p[i] = (float)((double)(s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
	}
}

ir_model *bench_load_model(const bench_args *a)
{
	char err[1024], set[64];
	ir_model *m = NULL;
	fe_options o;
	fe_options_init(&o);
	const char *sets[BENCH_MAX_SETS + 1];
	int n = 0;
	if (a->batch > 0) {
		snprintf(set, sizeof set, "batch_size=%d", a->batch);
		sets[n++] = set;
	}
	for (int i = 0; i < a->nsets; i++)
		sets[n++] = a->sets[i];
	o.sets = sets;
	o.nsets = n;
	if (fe_load_model(a->model, &o, &m, err, sizeof err) != 0) {
		fprintf(stderr, "samc_bench: %s\n", err);
		return NULL;
	}
	return m;
}

static void set_scalar(const rt_store *st, const char *name, double v)
{
	rt_store_set_scalar(st, name, v, NULL);
}

static int is_data_input(const rt_slot *s)
{
	return s->role == RT_SLOT_INPUT && strncmp(s->name, "opt.", 4) != 0 &&
	       strncmp(s->name, "eval.", 5) != 0;
}

/* Random batches for the data inputs: floats in [-1,1), labels in range. */
static int make_batches(bench_step *s, int nbatch)
{
	s->x_slot = s->y_slot = -1;
	for (int i = 0; i < s->x->nslots; i++) {
		const rt_slot *sl = &s->x->slots[i];
		if (!is_data_input(sl))
			continue;
		if (sl->nclasses > 0 && sl->dtype == RT_I32)
			s->y_slot = i;
		else if (sl->dtype == RT_F32)
			s->x_slot = i;
	}
	if (s->x_slot < 0 || s->y_slot < 0) {
		fprintf(stderr, "samc_bench: the model needs one f32 input and one i32 labels input\n");
		return -1;
	}
	const rt_slot *xs = &s->x->slots[s->x_slot], *ys = &s->x->slots[s->y_slot];
	int64_t nx = 1, ny = 1;
	for (int d = 0; d < xs->rank; d++)
		nx *= xs->dim[d];
	for (int d = 0; d < ys->rank; d++)
		ny *= ys->dim[d];
	s->xs = calloc((size_t)nbatch, sizeof *s->xs);
	s->ys = calloc((size_t)nbatch, sizeof *s->ys);
	if (!s->xs || !s->ys)
		return -1;
	s->nbatch = nbatch;
	for (int b = 0; b < nbatch; b++) {
		s->xs[b] = aligned_alloc(64, (size_t)(nx * 4 + 63) / 64 * 64);
		s->ys[b] = malloc((size_t)ny * sizeof(int32_t));
		if (!s->xs[b] || !s->ys[b])
			return -1;
		bench_fill(s->xs[b], nx, 1000 + (uint64_t)b);
		for (int64_t j = 0; j < ny; j++)
			s->ys[b][j] = (int32_t)((j * 7 + b * 3) % ys->nclasses);
	}
	return 0;
}

int bench_step_new(bench_step *s, const ir_model *m, pass_prog_kind kind, int threads, int nbatch,
                   const char *cpu)
{
	char err[1024];
	rt_err e = {{0}};
	memset(s, 0, sizeof *s);
	double t0 = bench_now();
	if (pass_build(m, kind, &s->prog, err, sizeof err) != 0) {
		fprintf(stderr, "samc_bench: %s\n", err);
		return -1;
	}
	cg_options o;
	cg_options_default(&o);
	o.threads = threads;
	cg_target t;
	if (cpu && cg_target_init(&t, cpu, err, sizeof err)) {
		fprintf(stderr, "samc_bench: %s\n", err);
		return -1;
	}
	o.target = cpu ? &t : NULL;
	s->x = cg_cpu_exec_new(s->prog.g, s->prog.outs, s->prog.names, s->prog.nout, &o, err, sizeof err);
	if (cpu)
		cg_target_free(&t);
	if (!s->x) {
		fprintf(stderr, "samc_bench: %s\n", err);
		return -1;
	}
	s->compile_s = bench_now() - t0;
	if (rt_store_add_exec(&s->st, s->x, &e) || !(s->bind = rt_store_bind(&s->st, s->x, &e)) ||
	    rt_init_exec(s->x, s->bind, m->recipe.seed, &e)) {
		fprintf(stderr, "samc_bench: %s\n", e.msg);
		return -1;
	}
	if (!(s->outs = calloc((size_t)s->x->noutputs + 1, sizeof *s->outs)) || make_batches(s, nbatch)) {
		fprintf(stderr, "samc_bench: out of memory\n");
		return -1;
	}
	rt_step_scalar sc[RT_STEP_SCALARS_MAX];
	int nsc = rt_step_scalars(&m->recipe, 0, 1, sc);
	for (int k = 0; k < nsc; k++)
		set_scalar(&s->st, sc[k].name, sc[k].value);
	return 0;
}

int bench_step_run(bench_step *s, int i)
{
	rt_err e = {{0}};
	s->bind[s->x_slot] = s->xs[i % s->nbatch];
	s->bind[s->y_slot] = s->ys[i % s->nbatch];
	set_scalar(&s->st, PASS_INPUT_STEP, (double)(i + 1));
	if (s->x->run(s->x, s->bind, s->outs, &e) != 0) {
		fprintf(stderr, "samc_bench: step %d: %s\n", i, e.msg);
		return -1;
	}
	return 0;
}

void bench_step_free(bench_step *s)
{
	for (int b = 0; b < s->nbatch; b++) {
		free(s->xs[b]);
		free(s->ys[b]);
	}
	free(s->xs);
	free(s->ys);
	free(s->outs);
	free(s->bind);
	rt_store_free(&s->st);
	if (s->x)
		s->x->free(s->x);
	if (s->prog.g)
		pass_program_free(&s->prog);
	memset(s, 0, sizeof *s);
}
