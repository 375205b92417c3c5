/*
 * test_train.c - the training loop end to end on a real, small model
 * written by hand as rt_execs: a softmax classifier (8 features, 3 classes)
 * with SGD+momentum, a SAM variant of its step, and a masked eval step,
 * trained on a synthetic data set written as IDX files to a temp dir.
 * Checks: learning, determinism, exact resume, sam_every, eval masking,
 * NaN stop, and every checkpoint failure the loader must catch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt_ckpt.h"
#include "rt_safetensors.h"
#include "rt_train.h"
#include "test_tmpdir.h"

enum { D = 8, C = 3, B = 32, NTRAIN = 300, NTEST = 70 };
enum { KIND_BASE, KIND_SAM, KIND_EVAL };

/* ---- the model: logits = x W + b, softmax cross-entropy ---- */

typedef struct {
	int kind;
	double momentum, rho;
	int64_t nan_at;  /* 1-based step whose loss is made NaN; 0: never */
	int calls;
	rt_slot slots[8];
	const char *outs[2];
} lin_model;

/* Loss and accuracy of the batch (mean, or masked sum when mask is given);
 * gradients of the mean loss into gW, gb when not NULL. */
static void lin_fwd_bwd(const float *x, const int32_t *y, const double *W, const double *b,
                        const float *mask, double *gW, double *gb, double *loss, double *acc)
{
	double L = 0, A = 0;
	if (gW) {
		memset(gW, 0, D * C * sizeof *gW);
		memset(gb, 0, C * sizeof *gb);
	}
	for (int r = 0; r < B; r++) {
		double z[C], mx = -INFINITY, s = 0;
		int arg = 0;
		for (int c = 0; c < C; c++) {
			z[c] = b[c];
			for (int j = 0; j < D; j++)
				z[c] += x[r * D + j] * W[j * C + c];
			if (z[c] > mx) {
				mx = z[c];
				arg = c;
			}
		}
		for (int c = 0; c < C; c++)
			s += exp(z[c] - mx);
		double w = mask ? mask[r] : 1.0;
		L += w * (log(s) + mx - z[y[r]]);
		A += w * (arg == y[r]);
		for (int c = 0; gW && c < C; c++) {
			double d = (exp(z[c] - mx) / s - (c == y[r])) / B;
			gb[c] += d;
			for (int j = 0; j < D; j++)
				gW[j * C + c] += x[r * D + j] * d;
		}
	}
	*loss = mask ? L : L / B;
	*acc = mask ? A : A / B;
}

static int lin_run(rt_exec *xe, void **slot, double *outputs, rt_err *err)
{
	lin_model *m = xe->self;
	m->calls++;
	const float *x = slot[0];
	const int32_t *y = slot[1];
	float *Wf = slot[2], *bf = slot[3];
	double W[D * C], b[C], gW[D * C], gb[C], loss, acc;
	for (int i = 0; i < D * C; i++)
		W[i] = Wf[i];
	for (int i = 0; i < C; i++)
		b[i] = bf[i];
	for (int r = 0; r < B; r++)
		if (y[r] < 0 || y[r] >= C)
			return rt_errf(err, "label %d out of range", y[r]);
	if (m->kind == KIND_EVAL) {
		lin_fwd_bwd(x, y, W, b, slot[4], NULL, NULL, &outputs[0], &outputs[1]);
		return 0;
	}
	float *mW = slot[4], *mb = slot[5];
	double lr = *(float *)slot[6], step = *(float *)slot[7];
	lin_fwd_bwd(x, y, W, b, NULL, gW, gb, &loss, &acc);
	if (m->kind == KIND_SAM) {
		/* Climb to w + rho g/|g|, take the gradient there, update the original w. */
		double n = 0, W2[D * C], b2[C], l2, a2;
		for (int i = 0; i < D * C; i++)
			n += gW[i] * gW[i];
		for (int i = 0; i < C; i++)
			n += gb[i] * gb[i];
		n = sqrt(n) + 1e-12;
		for (int i = 0; i < D * C; i++)
			W2[i] = W[i] + m->rho * gW[i] / n;
		for (int i = 0; i < C; i++)
			b2[i] = b[i] + m->rho * gb[i] / n;
		lin_fwd_bwd(x, y, W2, b2, NULL, gW, gb, &l2, &a2);
	}
	for (int i = 0; i < D * C; i++) {
		mW[i] = (float)(m->momentum * mW[i] + gW[i]);
		Wf[i] = (float)(W[i] - lr * mW[i]);
	}
	for (int i = 0; i < C; i++) {
		mb[i] = (float)(m->momentum * mb[i] + gb[i]);
		bf[i] = (float)(b[i] - lr * mb[i]);
	}
	outputs[0] = m->nan_at && (int64_t)step == m->nan_at ? NAN : loss;
	outputs[1] = acc;
	return 0;
}

static void lin_free(rt_exec *x)
{
	free(x->self);
	free(x);
}

static rt_exec *lin_new(int kind, int64_t nan_at)
{
	lin_model *m = calloc(1, sizeof *m);
	rt_exec *x = calloc(1, sizeof *x);
	m->kind = kind;
	m->momentum = 0.9;
	m->rho = 0.05;
	m->nan_at = nan_at;
	double bound = 1.0 / sqrt((double)D);
	m->slots[0] = (rt_slot){.name = "x", .role = RT_SLOT_INPUT, .dtype = RT_F32, .rank = 2,
	                        .dim = {B, D}};
	m->slots[1] = (rt_slot){.name = "y", .role = RT_SLOT_INPUT, .dtype = RT_I32, .rank = 1,
	                        .dim = {B}, .nclasses = C};
	m->slots[2] = (rt_slot){.name = "fc.weight", .role = RT_SLOT_PARAM, .dtype = RT_F32,
	                        .rank = 2, .dim = {D, C}, .init = RT_INIT_UNIFORM,
	                        .init_a = -bound, .init_b = bound};
	m->slots[3] = (rt_slot){.name = "fc.bias", .role = RT_SLOT_PARAM, .dtype = RT_F32,
	                        .rank = 1, .dim = {C}, .init = RT_INIT_UNIFORM,
	                        .init_a = -bound, .init_b = bound};
	if (kind == KIND_EVAL) {
		m->slots[4] = (rt_slot){.name = "eval.mask", .role = RT_SLOT_INPUT, .dtype = RT_F32,
		                        .rank = 1, .dim = {B}};
		x->nslots = 5;
	} else {
		m->slots[4] = (rt_slot){.name = "opt.fc.weight.momentum_buffer", .role = RT_SLOT_STATE,
		                        .dtype = RT_F32, .rank = 2, .dim = {D, C}};
		m->slots[5] = (rt_slot){.name = "opt.fc.bias.momentum_buffer", .role = RT_SLOT_STATE,
		                        .dtype = RT_F32, .rank = 1, .dim = {C}};
		m->slots[6] = (rt_slot){.name = "opt.lr", .role = RT_SLOT_INPUT, .dtype = RT_F32};
		m->slots[7] = (rt_slot){.name = "opt.step", .role = RT_SLOT_INPUT, .dtype = RT_F32};
		x->nslots = 8;
	}
	m->outs[0] = "loss";
	m->outs[1] = "accuracy";
	x->backend = "handwritten";
	x->slots = m->slots;
	x->outputs = m->outs;
	x->noutputs = 2;
	x->self = m;
	x->run = lin_run;
	x->free = lin_free;
	return x;
}

/* ---- data: three blobs in 8 dimensions as u8 IDX files ---- */

static void write_idx(const char *path, const unsigned char *data, int rank, const uint32_t *dim)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	unsigned char hdr[4] = {0, 0, 0x08, (unsigned char)rank};
	fwrite(hdr, 1, 4, f);
	size_t n = 1;
	for (int i = 0; i < rank; i++) {
		unsigned char be[4] = {dim[i] >> 24, dim[i] >> 16, dim[i] >> 8, dim[i]};
		fwrite(be, 1, 4, f);
		n *= dim[i];
	}
	fwrite(data, 1, n, f);
	assert_int_equal(fclose(f), 0);
}

static void make_split(const char *dir, const char *name, int n, uint32_t seed)
{
	unsigned char *img = malloc((size_t)n * D), *lab = malloc((size_t)n);
	uint32_t s = seed;
	for (int i = 0; i < n; i++) {
		s = s * 1664525u + 1013904223u;
		int c = (int)(s >> 16) % C;
		lab[i] = (unsigned char)c;
		for (int j = 0; j < D; j++) {
			s = s * 1664525u + 1013904223u;
			int center = (j % C == c) ? 180 : 70;
			int v = center + (int)((s >> 16) % 121) - 60;
			img[i * D + j] = (unsigned char)v;
		}
	}
	char path[4200];
	uint32_t idim[3] = {(uint32_t)n, 2, 4}, ldim[1] = {(uint32_t)n};
	snprintf(path, sizeof path, "%s/%s-images.idx", dir, name);
	write_idx(path, img, 3, idim);
	snprintf(path, sizeof path, "%s/%s-labels.idx", dir, name);
	write_idx(path, lab, 1, ldim);
	free(img);
	free(lab);
}

typedef struct {
	char dir[4096];
	rt_recipe recipe;
	rt_exec *base, *sam, *eval;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	if (tmpdir_make(f->dir, sizeof f->dir, "test_train"))
		return -1;
	make_split(f->dir, "train", NTRAIN, 1);
	make_split(f->dir, "test", NTEST, 2);
	rt_recipe *r = &f->recipe;
	r->opt.kind = OPT_SGD;
	r->opt.lr = 0.1;
	r->opt.momentum = 0.9;
	r->sched.kind = SCHED_COSINE;
	r->data.format = "idx";
	r->data.train[0] = (data_file){"x", "train-images.idx"};
	r->data.train[1] = (data_file){"y", "train-labels.idx"};
	r->data.test[0] = (data_file){"x", "test-images.idx"};
	r->data.test[1] = (data_file){"y", "test-labels.idx"};
	r->data.ntrain = r->data.ntest = 2;
	r->data.scale = 1.0 / 255;
	r->data.mean = (data_channels){{0.5}, 1};
	r->data.std = (data_channels){{0.25}, 1};
	r->batch_size = B;
	r->epochs = 3;
	r->seed = 1234;
	f->base = lin_new(KIND_BASE, 0);
	f->sam = lin_new(KIND_SAM, 0);
	f->eval = lin_new(KIND_EVAL, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	tmpdir_remove(f->dir);
	f->base->free(f->base);
	f->sam->free(f->sam);
	f->eval->free(f->eval);
	free(f);
	return 0;
}

static rt_train_opts opts_for(fixture *f, rt_train_result *res)
{
	return (rt_train_opts){.recipe = &f->recipe, .data_dir = f->dir, .quiet = 1,
	                       .program_hash = "model-a", .result = res};
}

static void assert_same_params(const rt_tensors *a, const rt_tensors *b)
{
	assert_int_equal(a->n, b->n);
	for (int i = 0; i < a->n; i++) {
		const rt_tensor *t = rt_tensors_find(b, a->t[i].name);
		assert_non_null(t);
		assert_int_equal(rt_tensor_bytes(t), rt_tensor_bytes(&a->t[i]));
		assert_memory_equal(t->data, a->t[i].data, rt_tensor_bytes(t));
	}
}

static void path_in(char *buf, size_t n, const fixture *f, const char *name)
{
	snprintf(buf, n, "%s/%s", f->dir, name);
}

/* ---- tests ---- */

static void test_learns_and_logs(void **state)
{
	fixture *f = *state;
	rt_train_result res = {0};
	rt_train_opts o = opts_for(f, &res);
	char metrics[4200];
	path_in(metrics, sizeof metrics, f, "metrics.jsonl");
	o.metrics_path = metrics;
	o.log_every = 5;
	o.quiet = 0;
	o.out = tmpfile();
	assert_non_null(o.out);
	rt_err err = {{0}};
	assert_int_equal(rt_train(&o, NULL, f->base, f->eval, &err), 0);

	/* Not a terminal: a plain line every 5 steps, and one line per epoch. */
	rewind(o.out);
	char line[4096];
	int nprog = 0, nep = 0;
	while (fgets(line, sizeof line, o.out)) {
		int e, ne, b, nb;
		double l, a, tl, ta, sps;
		if (sscanf(line, "epoch %d/%d  step %d/%d  epoch mean: loss %lf  acc %lf", &e, &ne, &b,
		           &nb, &l, &a) == 6) {
			nprog++;
			assert_int_equal(nb, 10);
			assert_non_null(strstr(line, "samples/s  ETA "));
		} else if (sscanf(line, "epoch %d/%d: train loss %lf acc %lf | test loss %lf acc %lf | "
		                  "%lf samples/s", &e, &ne, &l, &a, &tl, &ta, &sps) == 7) {
			nep++;
			assert_int_equal(e, nep);
			assert_int_equal(ne, 3);
		} else {
			fail_msg("unexpected output line: %s", line);
		}
	}
	fclose(o.out);
	assert_int_equal(nprog, 6);
	assert_int_equal(nep, 3);
	assert_int_equal(res.epochs, 3);
	/* 300 examples, batch 32, padded tail: 10 batches per epoch. */
	assert_int_equal(res.steps, 30);
	assert_true(res.test_acc > 0.9);
	assert_true(res.test_loss < 0.5);

	/* JSON lines: 6 step records (every 5 steps) and 3 epochs whose train
	 * loss falls. */
	FILE *mf = fopen(metrics, "r");
	assert_non_null(mf);
	int nstep = 0, nepoch = 0;
	double loss[3] = {0};
	while (fgets(line, sizeof line, mf)) {
		cJSON *j = cJSON_Parse(line);
		assert_non_null(j);
		const char *kind = cJSON_GetObjectItem(j, "kind")->valuestring;
		if (strcmp(kind, "step") == 0) {
			nstep++;
			assert_non_null(cJSON_GetObjectItem(j, "lr"));
		} else {
			assert_string_equal(kind, "epoch");
			assert_true(nepoch < 3);
			loss[nepoch++] = cJSON_GetObjectItem(j, "train_loss")->valuedouble;
			assert_non_null(cJSON_GetObjectItem(j, "test_accuracy"));
		}
		cJSON_Delete(j);
	}
	fclose(mf);
	assert_int_equal(nstep, 6);
	assert_int_equal(nepoch, 3);
	assert_true(loss[0] > loss[1] && loss[1] > loss[2]);
	assert_true(fabs(loss[2] - res.train_loss) < 1e-6);
	rt_train_result_free(&res);
}

/* The eval step sees 70 examples in 3 padded batches; the runtime's test
 * accuracy must equal the accuracy over exactly those 70, computed here
 * from the final parameters. */
static void test_eval_masks_padding(void **state)
{
	fixture *f = *state;
	rt_train_result res = {0};
	rt_train_opts o = opts_for(f, &res);
	o.epochs = 1;
	rt_err err = {{0}};
	assert_int_equal(rt_train(&o, NULL, f->base, f->eval, &err), 0);
	const rt_tensor *W = rt_tensors_find(&res.params, "fc.weight");
	const rt_tensor *bb = rt_tensors_find(&res.params, "fc.bias");
	assert_non_null(W);
	assert_non_null(bb);
	/* Re-read the test set and evaluate directly. */
	char path[4200];
	path_in(path, sizeof path, f, "test-images.idx");
	FILE *fi = fopen(path, "rb");
	path_in(path, sizeof path, f, "test-labels.idx");
	FILE *fl = fopen(path, "rb");
	unsigned char img[NTEST * D], lab[NTEST];
	fseek(fi, 16, SEEK_SET);
	fseek(fl, 8, SEEK_SET);
	assert_int_equal(fread(img, 1, sizeof img, fi), sizeof img);
	assert_int_equal(fread(lab, 1, sizeof lab, fl), sizeof lab);
	fclose(fi);
	fclose(fl);
	int correct = 0;
	double loss = 0;
	for (int i = 0; i < NTEST; i++) {
		double z[C], mx = -INFINITY, s = 0;
		int arg = 0;
		for (int c = 0; c < C; c++) {
			z[c] = ((const float *)bb->data)[c];
			for (int j = 0; j < D; j++) {
				float xv = (float)((img[i * D + j] * (1.0 / 255) - 0.5) / 0.25);
				z[c] += xv * ((const float *)W->data)[j * C + c];
			}
			if (z[c] > mx) {
				mx = z[c];
				arg = c;
			}
		}
		for (int c = 0; c < C; c++)
			s += exp(z[c] - mx);
		loss += log(s) + mx - z[lab[i]];
		correct += arg == lab[i];
	}
	assert_true(fabs(res.test_acc - (double)correct / NTEST) < 1e-12);
	assert_true(fabs(res.test_loss - loss / NTEST) < 1e-9);
	rt_train_result_free(&res);
}

static void test_deterministic(void **state)
{
	fixture *f = *state;
	rt_train_result a = {0}, b = {0}, c = {0};
	rt_err err = {{0}};
	rt_train_opts o = opts_for(f, &a);
	o.epochs = 2;
	assert_int_equal(rt_train(&o, NULL, f->base, f->eval, &err), 0);
	o.result = &b;
	assert_int_equal(rt_train(&o, NULL, f->base, f->eval, &err), 0);
	assert_same_params(&a.params, &b.params);
	assert_true(a.test_loss == b.test_loss);
	o.result = &c;
	o.has_seed = 1;
	o.seed = 99;
	assert_int_equal(rt_train(&o, NULL, f->base, f->eval, &err), 0);
	const rt_tensor *wa = rt_tensors_find(&a.params, "fc.weight");
	const rt_tensor *wc = rt_tensors_find(&c.params, "fc.weight");
	assert_memory_not_equal(wa->data, wc->data, rt_tensor_bytes(wa));
	rt_train_result_free(&a);
	rt_train_result_free(&b);
	rt_train_result_free(&c);
}

/* Interrupted after epoch 1 and resumed: bit-identical to 2 epochs in one
 * go (cosine schedule, SAM every 3rd step, so the step count matters). */
static void test_resume_exact(void **state)
{
	fixture *f = *state;
	f->recipe.opt.sam = 1;
	f->recipe.opt.sam_every = 3;
	rt_train_result a = {0}, b = {0}, c = {0};
	rt_err err = {{0}};
	rt_train_opts o = opts_for(f, &a);
	o.epochs = 2;
	assert_int_equal(rt_train(&o, f->sam, f->base, f->eval, &err), 0);

	char dir[4200];
	path_in(dir, sizeof dir, f, "ckpt-resume");
	o.result = &b;
	o.ckpt_dir = dir;
	o.stop_after = 1;
	assert_int_equal(rt_train(&o, f->sam, f->base, f->eval, &err), 0);
	assert_int_equal(b.epochs, 1);
	assert_int_equal(b.steps, 10);
	assert_non_null(strstr(b.last_ckpt, "last.safetensors"));

	o.result = &c;
	o.stop_after = 0;
	o.resume_path = b.last_ckpt;
	assert_int_equal(rt_train(&o, f->sam, f->base, f->eval, &err), 0);
	assert_int_equal(c.steps, 20);
	assert_int_equal(c.epochs, 2);
	assert_same_params(&a.params, &c.params);
	assert_true(a.test_loss == c.test_loss);
	assert_true(a.train_loss == c.train_loss);
	rt_train_result_free(&a);
	rt_train_result_free(&b);
	rt_train_result_free(&c);
	f->recipe.opt.sam = 0;
	f->recipe.opt.sam_every = 0;
}

static void test_sam_every(void **state)
{
	fixture *f = *state;
	lin_model *ms = f->sam->self, *mb = f->base->self;
	f->recipe.opt.sam_every = 4;
	ms->calls = mb->calls = 0;
	rt_train_opts o = opts_for(f, NULL);
	o.epochs = 2;
	rt_err err = {{0}};
	assert_int_equal(rt_train(&o, f->sam, f->base, f->eval, &err), 0);
	/* Steps 0, 4, 8, 12, 16 of 20 are SAM steps. */
	assert_int_equal(ms->calls, 5);
	assert_int_equal(mb->calls, 15);
	/* SAM only (no base step given): every step. */
	ms->calls = 0;
	assert_int_equal(rt_train(&o, f->sam, NULL, NULL, &err), 0);
	assert_int_equal(ms->calls, 20);
	f->recipe.opt.sam_every = 0;
}

static void test_nan_stop(void **state)
{
	fixture *f = *state;
	rt_exec *bad = lin_new(KIND_BASE, 15);
	char dir[4200], want[4400];
	path_in(dir, sizeof dir, f, "ckpt-nan");
	rt_train_result res = {0};
	rt_train_opts o = opts_for(f, &res);
	o.ckpt_dir = dir;
	rt_err err = {{0}};
	assert_int_equal(rt_train(&o, NULL, bad, f->eval, &err), -1);
	snprintf(want, sizeof want, "step 15 (epoch 2): loss is nan; last good checkpoint: "
	         "%s/last.safetensors", dir);
	assert_string_equal(err.msg, want);
	assert_int_equal(res.epochs, 1);
	/* The checkpoint of epoch 1 is intact and loads. */
	rt_tensors ts = {0};
	rt_meta meta = {0};
	snprintf(want, sizeof want, "%s/last.safetensors", dir);
	assert_int_equal(rt_st_read(want, &ts, &meta, &err), 0);
	assert_string_equal(rt_meta_get(&meta, "step"), "10");
	assert_string_equal(rt_meta_get(&meta, "epoch"), "1");
	rt_tensors_free(&ts);
	rt_meta_free(&meta);
	rt_train_result_free(&res);
	bad->free(bad);

	/* Without a checkpoint directory the message says so. */
	bad = lin_new(KIND_BASE, 3);
	o.ckpt_dir = NULL;
	o.result = NULL;
	assert_int_equal(rt_train(&o, NULL, bad, NULL, &err), -1);
	assert_string_equal(err.msg, "step 3 (epoch 1): loss is nan; last good checkpoint: none "
	                    "(no checkpoint directory)");
	bad->free(bad);
}

/* Writes one epoch's checkpoint and returns its path in buf. */
static void one_epoch_ckpt(fixture *f, const char *sub, char *buf, size_t n)
{
	char dir[4200];
	path_in(dir, sizeof dir, f, sub);
	rt_train_opts o = opts_for(f, NULL);
	o.epochs = 2;
	o.stop_after = 1;
	o.ckpt_dir = dir;
	rt_err err = {{0}};
	assert_int_equal(rt_train(&o, NULL, f->base, f->eval, &err), 0);
	snprintf(buf, n, "%s/last.safetensors", dir);
}

static void resume_fails(fixture *f, const char *path, const char *hash, const char *want)
{
	rt_train_opts o = opts_for(f, NULL);
	o.epochs = 2;
	o.resume_path = path;
	o.program_hash = hash;
	rt_err err = {{0}};
	assert_int_equal(rt_train(&o, NULL, f->base, f->eval, &err), -1);
	if (!strstr(err.msg, want))
		fail_msg("expected '%s' in: %s", want, err.msg);
	assert_non_null(strstr(err.msg, path));
}

static void test_ckpt_failures(void **state)
{
	fixture *f = *state;
	char path[4400], msg[4600];
	one_epoch_ckpt(f, "ckpt-bad", path, sizeof path);

	snprintf(msg, sizeof msg, "%s: checkpoint is from a different model (program hash model-a, "
	         "expected model-b)", path);
	resume_fails(f, path, "model-b", msg);

	/* Another seed cannot replay the same shuffles. */
	rt_train_opts o = opts_for(f, NULL);
	o.epochs = 2;
	o.resume_path = path;
	o.has_seed = 1;
	o.seed = 5;
	rt_err err = {{0}};
	assert_int_equal(rt_train(&o, NULL, f->base, f->eval, &err), -1);
	assert_non_null(strstr(err.msg, "seed 1234"));

	/* Flip one bit in the last byte (tensor data). */
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	fseek(fp, -1, SEEK_END);
	int ch = fgetc(fp);
	fseek(fp, -1, SEEK_END);
	fputc(ch ^ 0x10, fp);
	fclose(fp);
	resume_fails(f, path, "model-a", "corrupted (checksum mismatch");

	/* Truncated: the safetensors reader reports it. */
	one_epoch_ckpt(f, "ckpt-trunc", path, sizeof path);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - 7), 0);
	rt_train_opts o2 = opts_for(f, NULL);
	o2.resume_path = path;
	assert_int_equal(rt_train(&o2, NULL, f->base, f->eval, &err), -1);
	assert_non_null(strstr(err.msg, path));
	assert_null(strstr(err.msg, "checksum")); /* caught before, as a malformed file */

	/* A missing file. */
	path_in(path, sizeof path, f, "no-such.safetensors");
	o2.resume_path = path;
	assert_int_equal(rt_train(&o2, NULL, f->base, f->eval, &err), -1);
	assert_non_null(strstr(err.msg, path));
}

static void test_bad_setup(void **state)
{
	fixture *f = *state;
	rt_err err = {{0}};
	rt_train_opts o = opts_for(f, NULL);
	f->recipe.batch_size = 64;
	assert_int_equal(rt_train(&o, NULL, f->base, f->eval, &err), -1);
	assert_non_null(strstr(err.msg, "batch_size = 64"));
	f->recipe.batch_size = B;
	f->recipe.data.train[1].path = "missing-labels.idx";
	assert_int_equal(rt_train(&o, NULL, f->base, f->eval, &err), -1);
	assert_non_null(strstr(err.msg, "missing-labels.idx"));
	f->recipe.data.train[1].path = "train-labels.idx";
	assert_int_equal(rt_train(&o, NULL, NULL, f->eval, &err), -1);
	assert_non_null(strstr(err.msg, "no train step"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_learns_and_logs),
		cmocka_unit_test(test_eval_masks_padding),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_resume_exact),
		cmocka_unit_test(test_sam_every),
		cmocka_unit_test(test_nan_stop),
		cmocka_unit_test(test_ckpt_failures),
		cmocka_unit_test(test_bad_setup),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
