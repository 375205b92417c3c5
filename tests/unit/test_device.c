/*
 * test_device.c - the device layer (rt_device.h) seen from outside: a
 * counting device that keeps its memory on the host, but unreachable
 * (PROT_NONE) except inside its own calls, and logs every upload, download
 * and device copy. Under it, the compiled SAM step of a small MLP trains
 * through the real loop (rt_train) and the step runner (rt_runner.h):
 *   - nothing outside the device touches device memory (it would crash);
 *   - a training step uploads only the batch and the step scalars, and
 *     downloads only the outputs and the kernels' error words;
 *   - a checkpoint downloads every parameter and state buffer once, and a
 *     resumed run uploads each once (and no initial values before);
 *   - a kernel that finds a bad label sets its error word, and the runner
 *     reports it with the model's line, then runs the next step cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cg_step.h"
#include "llvm/cg_jit.h"
#include "pass_pipeline.h"
#include "rt_dataset.h"
#include "rt_dev_cpu.h"
#include "rt_runner.h"
#include "rt_store.h"
#include "rt_train.h"
#include "test_idx_write.h"
#include "test_model.h"
#include "test_tmpdir.h"

/* ---- the counting device ---- */

enum { MAX_REGIONS = 256, MAX_LOG = 1 << 14 };

typedef struct {
	char kind;    /* 'U' upload, 'D' download, 'C' copy */
	char *region; /* the device buffer it touches (a copy: its target) */
	size_t bytes;
} transfer;

/* Memory shared by every counting device of a test (one run may hold
 * several devices, as a run holds several execs). */
typedef struct {
	struct { char *base; size_t len, bytes; } r[MAX_REGIONS];
	int nr;
	transfer log[MAX_LOG];
	int nlog;
	int launches;
} counted_mem;

typedef struct {
	rt_device dev;
	rt_device *inner; /* a CPU device: computes on the memory while it is open */
	counted_mem *mem;
} count_dev;

static void protect(counted_mem *m, int prot)
{
	for (int i = 0; i < m->nr; i++)
		assert_int_equal(mprotect(m->r[i].base, m->r[i].len, prot), 0);
}

static void open_mem(rt_device *d)
{
	protect(((count_dev *)d->self)->mem, PROT_READ | PROT_WRITE);
}

static void close_mem(rt_device *d)
{
	protect(((count_dev *)d->self)->mem, PROT_NONE);
}

/* The region an address lies in: a device address handed to the device
 * must be one of its own (or a range inside one). */
static char *region_of(counted_mem *m, const void *p, size_t bytes)
{
	for (int i = 0; i < m->nr; i++)
		if ((const char *)p >= m->r[i].base &&
		    (const char *)p + bytes <= m->r[i].base + m->r[i].bytes)
			return m->r[i].base;
	fail_msg("address %p (+%zu) is not device memory", p, bytes);
	return NULL;
}

static void log_transfer(rt_device *d, char kind, const void *dev_addr, size_t bytes)
{
	counted_mem *m = ((count_dev *)d->self)->mem;
	assert_true(m->nlog < MAX_LOG);
	m->log[m->nlog++] = (transfer){kind, region_of(m, dev_addr, bytes), bytes};
}

static int c_alloc(rt_device *d, size_t bytes, void **out, rt_err *err)
{
	counted_mem *m = ((count_dev *)d->self)->mem;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = (bytes + page) / page * page;
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || m->nr == MAX_REGIONS)
		return rt_errf(err, "counted: cannot map %zu bytes", bytes);
	m->r[m->nr].base = p;
	m->r[m->nr].len = len;
	m->r[m->nr++].bytes = bytes;
	*out = p;
	return 0;
}

static void c_free(rt_device *d, void *buf)
{
	counted_mem *m = ((count_dev *)d->self)->mem;
	for (int i = 0; i < m->nr; i++)
		if (m->r[i].base == buf) {
			munmap(buf, m->r[i].len);
			m->r[i] = m->r[--m->nr];
			return;
		}
	fail_msg("free of %p, not device memory", buf);
}

static int c_upload(rt_device *d, void *dst, const void *src, size_t bytes, rt_err *err)
{
	log_transfer(d, 'U', dst, bytes);
	open_mem(d);
	memcpy(dst, src, bytes);
	close_mem(d);
	(void)err;
	return 0;
}

static int c_download(rt_device *d, void *dst, const void *src, size_t bytes, rt_err *err)
{
	log_transfer(d, 'D', src, bytes);
	open_mem(d);
	memcpy(dst, src, bytes);
	close_mem(d);
	(void)err;
	return 0;
}

static int c_copy(rt_device *d, void *dst, const void *src, size_t bytes, rt_err *err)
{
	region_of(((count_dev *)d->self)->mem, src, bytes);
	log_transfer(d, 'C', dst, bytes);
	open_mem(d);
	memmove(dst, src, bytes);
	close_mem(d);
	(void)err;
	return 0;
}

static int c_supports(const rt_device *d, rt_kkind kind)
{
	const rt_device *in = ((const count_dev *)d->self)->inner;
	return in->supports(in, kind);
}

static int c_launch(rt_device *d, const rt_prog_kernel *k, void **args, void *err_word,
                    rt_err *err)
{
	count_dev *c = d->self;
	counted_mem *m = c->mem;
	for (int j = 0; j < k->nargs; j++)
		region_of(m, args[j], 1);
	region_of(m, err_word, 4);
	m->launches++;
	open_mem(d);
	int rc = c->inner->launch(c->inner, k, args, err_word, err);
	close_mem(d);
	return rc;
}

static int c_gemm(rt_device *d, const rt_prog_kernel *k, void **args, rt_err *err)
{
	count_dev *c = d->self;
	for (int j = 0; j < 3; j++)
		region_of(c->mem, args[j], 1);
	c->mem->launches++;
	open_mem(d);
	int rc = c->inner->gemm(c->inner, k, args, err);
	close_mem(d);
	return rc;
}

static int c_sync(rt_device *d, rt_err *err)
{
	count_dev *c = d->self;
	return c->inner->sync(c->inner, err);
}

static void c_release(rt_device *d)
{
	count_dev *c = d->self;
	c->inner->release(c->inner);
	free(c);
}

static rt_device *count_dev_new(counted_mem *m)
{
	count_dev *c = calloc(1, sizeof *c);
	rt_err err;
	assert_non_null(c);
	assert_non_null(c->inner = rt_dev_cpu_new(2, &err));
	c->mem = m;
	c->dev = (rt_device){.name = "counted", .memory = "counted", .self = c, .alloc = c_alloc,
	                     .free = c_free, .upload = c_upload, .download = c_download,
	                     .copy = c_copy, .supports = c_supports, .launch = c_launch,
	                     .gemm = c_gemm, .sync = c_sync, .release = c_release};
	return &c->dev;
}

/* ---- the model: tiny_mlp.lua's SAM step, compiled, on a counting device ---- */

enum { NEX = 48, B = 16 };

typedef struct {
	ir_model *m;
	pass_program prog;
	cg_step *st;
	cg_jit *jit;
	rt_exec *x;
} compiled;

static void compile_on(compiled *c, rt_device *dev)
{
	char err[1024];
	rt_err e = {{0}};
	c->m = test_load_model("tests/e2e/models/tiny_mlp.lua", IR_F32, NULL, 0);
	cg_step_options so;
	cg_step_options_default(&so);
	so.llvm = 1; /* the JIT compiles the llvm pass's module */
	if (pass_build(c->m, PASS_PROG_SAM, &c->prog, err, sizeof err) ||
	    !(c->st = cg_step_new(c->prog.g, c->prog.outs, c->prog.names, c->prog.nout, &so, err,
	                          sizeof err)) ||
	    !(c->jit = cg_jit_new(&c->st->llvm, err, sizeof err)))
		fail_msg("%s", err);
	for (int i = 0; i < c->st->desc.nkernels; i++) {
		rt_prog_kernel *k = &c->st->kernels[i];
		if (k->kind != RT_K_GEMM && !(k->fn = cg_jit_find(c->jit, k->name, err, sizeof err)))
			fail_msg("%s", err);
	}
	if (!(c->x = rt_runner_new(&c->st->desc, dev, &e)))
		fail_msg("%s", e.msg);
}

static void compiled_free(compiled *c)
{
	c->x->free(c->x);
	cg_jit_free(c->jit);
	cg_step_free(c->st);
	pass_program_free(&c->prog);
	fe_model_free(c->m);
}

static void write_idx(const char *dir, const char *name, const unsigned char *data, int rank,
                      const uint32_t *dim)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	test_write_idx(path, data, rank, dim);
}

static void make_data(const char *dir)
{
	static unsigned char img[NEX * 784], lab[NEX];
	for (int i = 0; i < NEX; i++) {
		lab[i] = (unsigned char)(i % 10);
		for (int j = 0; j < 784; j++)
			img[i * 784 + j] = (unsigned char)((i * 31 + j * 7) % 251);
	}
	uint32_t idim[3] = {NEX, 28, 28}, ldim[1] = {NEX};
	write_idx(dir, "train-images.idx", img, 3, idim);
	write_idx(dir, "train-labels.idx", lab, 1, ldim);
}

/* How often each device buffer was moved, by kind. */
static int count_of(const counted_mem *m, int from, char kind, const char *region)
{
	int n = 0;
	for (int i = from; i < m->nlog; i++)
		n += m->log[i].kind == kind && m->log[i].region == region;
	return n;
}

/* Trains `epochs` epochs (resuming from dir/ckpt/last.safetensors when
 * `resume`) on a fresh counting device; the log of its transfers in *mem. */
static void train_counted(counted_mem *mem, const char *dir, int epochs, int resume, int *nsaved,
                          int *per_step_up, int *per_step_down)
{
	compiled c = {0};
	compile_on(&c, count_dev_new(mem));
	assert_int_equal(mem->nr, 2); /* the runner's: the arena and the error words */
	rt_recipe r = c.m->recipe;
	r.data.train[0].path = "train-images.idx";
	r.data.train[1].path = "train-labels.idx";
	r.data.ntest = 0;
	r.epochs = epochs;
	char ckpt[4200], last[4300];
	snprintf(ckpt, sizeof ckpt, "%s/ckpt", dir);
	snprintf(last, sizeof last, "%s/last.safetensors", ckpt);
	rt_train_opts o = {.recipe = &r, .data_dir = dir, .quiet = 1, .ckpt_dir = ckpt,
	                   .program_hash = "h", .resume_path = resume ? last : NULL};
	rt_err err = {{0}};
	if (rt_train(&o, c.x, NULL, NULL, &err))
		fail_msg("%s", err.msg);
	int ndata = 0, nscalar = 0;
	*nsaved = 0;
	for (int i = 0; i < c.x->nslots; i++) {
		const rt_slot *s = &c.x->slots[i];
		if (s->role != RT_SLOT_INPUT)
			++*nsaved;
		else if (rt_dataset_is_data_input(s))
			ndata++;
		else
			nscalar++;
	}
	assert_int_equal(ndata, 2);
	assert_true(nscalar >= 1); /* opt.lr at least */
	*per_step_up = ndata + nscalar;
	*per_step_down = 1 + c.x->noutputs; /* the error words and each output */
	compiled_free(&c);
	assert_int_equal(mem->nr, 0); /* every device buffer freed */
}

static void count_kinds(const counted_mem *m, int *up, int *down)
{
	*up = *down = 0;
	for (int i = 0; i < m->nlog; i++) {
		*up += m->log[i].kind == 'U';
		*down += m->log[i].kind == 'D';
	}
}

/* The first n uploads are the saved buffers' (init or checkpoint), before
 * any step: each a different buffer, uploaded once and downloaded once
 * (the checkpoint), never moved otherwise. */
static void saved_moved_once(const counted_mem *m, int n)
{
	int seen = 0;
	for (int i = 0; i < m->nlog && seen < n; i++) {
		if (m->log[i].kind != 'U')
			continue;
		assert_int_equal(count_of(m, 0, 'U', m->log[i].region), 1);
		assert_int_equal(count_of(m, 0, 'D', m->log[i].region), 1);
		seen++;
	}
	assert_int_equal(seen, n);
}

static void test_training_moves_only_batch_scalars_outputs(void **state)
{
	(void)state;
	counted_mem *mem = calloc(1, sizeof *mem);
	char dir[4096];
	int nsaved, up_step, down_step, up, down, nsteps = NEX / B;
	assert_int_equal(tmpdir_make(dir, sizeof dir, "test_device"), 0);
	make_data(dir);

	/* one epoch, a checkpoint at its end: uploads are each saved buffer's
	 * initial value, then per step the batch and the step scalars;
	 * downloads per step the error words and the outputs, and the
	 * checkpoint's saved buffers */
	train_counted(mem, dir, 1, 0, &nsaved, &up_step, &down_step);
	count_kinds(mem, &up, &down);
	assert_int_equal(up, nsaved + nsteps * up_step);
	assert_int_equal(down, nsteps * down_step + nsaved);
	saved_moved_once(mem, nsaved);
	assert_true(mem->launches >= nsteps * 10);

	/* resumed for a second epoch: the checkpoint's buffers go up once (no
	 * initial values first), the new checkpoint's come down once */
	memset(mem, 0, sizeof *mem);
	train_counted(mem, dir, 2, 1, &nsaved, &up_step, &down_step);
	count_kinds(mem, &up, &down);
	assert_int_equal(up, nsaved + nsteps * up_step);
	assert_int_equal(down, nsteps * down_step + nsaved);
	saved_moved_once(mem, nsaved);
	tmpdir_remove(dir);
	free(mem);
}

/* Device memory is unreachable outside device calls: reading it crashes
 * (in a child process). */
static void test_memory_closed_outside_calls(void **state)
{
	(void)state;
	counted_mem *mem = calloc(1, sizeof *mem);
	rt_device *d = count_dev_new(mem);
	void *p;
	rt_err err;
	float one = 1.0f, back = 0;
	assert_int_equal(d->alloc(d, 64, &p, &err), 0);
	assert_int_equal(d->upload(d, p, &one, 4, &err), 0);
	assert_int_equal(d->download(d, &back, p, 4, &err), 0);
	assert_true(back == 1.0f);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL); /* not the test framework's handler */
		volatile float v = *(volatile float *)p;
		(void)v;
		_exit(0);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	d->free(d, p);
	d->release(d);
	free(mem);
}

/* A label out of range: the loss kernel sets its error word, the runner
 * names the model line; nothing is committed, and the next step runs. */
static void test_kernel_error_word(void **state)
{
	(void)state;
	counted_mem *mem = calloc(1, sizeof *mem);
	compiled c = {0};
	compile_on(&c, count_dev_new(mem));
	rt_exec *x = c.x;
	rt_store st = {0};
	rt_err err = {{0}};
	assert_int_equal(rt_store_add_exec(&st, x, &err), 0);
	void **bind = rt_store_bind(&st, x, &err);
	assert_non_null(bind);
	int iy = rt_store_find(&st, "y"), iw = rt_store_find(&st, "fc1.weight");
	assert_true(iy >= 0 && iw >= 0);
	int32_t *y = rt_store_host(&st, iy);
	for (int i = 0; i < B; i++)
		y[i] = i == 5 ? 10 : i % 10;
	assert_int_equal(rt_store_flush(&st, iy, &err), 0);
	assert_int_equal(rt_store_set_scalar(&st, "opt.lr", 0.1, &err), 0);
	double out[8];
	assert_int_not_equal(x->run(x, bind, out, &err), 0);
	if (!strstr(err.msg, "tiny_mlp.lua:") ||
	    !strstr(err.msg, ": cross_entropy: label outside [0, number of classes) (code 1, input 'y')"))
		fail_msg("unexpected message: %s", err.msg);
	/* no commit: the weight's buffer was never written */
	for (int i = 0; i < mem->nlog; i++)
		assert_false(mem->log[i].kind == 'C' && mem->log[i].region == st.buf[iw].addr);
	y[5] = 5;
	assert_int_equal(rt_store_flush(&st, iy, &err), 0);
	if (x->run(x, bind, out, &err))
		fail_msg("the step after a failure: %s", err.msg);
	free(bind);
	rt_store_free(&st);
	compiled_free(&c);
	free(mem);
}

/* The buffers of a run live on one memory: an exec whose device cannot
 * reach it is refused by name; host-memory execs (none, host, CPU) mix. */
static void test_store_one_memory(void **state)
{
	(void)state;
	counted_mem *mem = calloc(1, sizeof *mem);
	rt_slot sl = {.name = "w", .role = RT_SLOT_PARAM, .dtype = RT_F32, .rank = 1, .dim = {4}};
	rt_err err = {{0}};
	rt_device *cd = count_dev_new(mem), *cpu = rt_dev_cpu_new(1, &err);
	assert_non_null(cpu);
	rt_exec on_count = {.backend = "counted", .slots = &sl, .nslots = 1, .dev = cd};
	rt_exec on_host = {.backend = "interp", .slots = &sl, .nslots = 1};
	rt_exec on_cpu = {.backend = "cpu", .slots = &sl, .nslots = 1, .dev = cpu};
	rt_store st = {0};
	assert_int_equal(rt_store_add_exec(&st, &on_count, &err), 0);
	assert_int_not_equal(rt_store_add_exec(&st, &on_host, &err), 0);
	assert_non_null(strstr(err.msg, "cannot reach the run's buffers on 'counted'"));
	rt_store_free(&st);
	assert_int_equal(rt_store_add_exec(&st, &on_host, &err), 0);
	assert_int_equal(rt_store_add_exec(&st, &on_cpu, &err), 0);
	assert_int_not_equal(rt_store_add_exec(&st, &on_count, &err), 0);
	rt_store_free(&st);
	cd->release(cd);
	cpu->release(cpu);
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memory_closed_outside_calls),
		cmocka_unit_test(test_training_moves_only_batch_scalars_outputs),
		cmocka_unit_test(test_kernel_error_word),
		cmocka_unit_test(test_store_one_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
