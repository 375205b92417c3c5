/*
 * test_train_model.h - the small model the training loop's tests train,
 * written by hand as rt_execs: a softmax classifier (8 features, 3 classes)
 * with SGD+momentum, a SAM variant of its step and a masked eval step, on a
 * synthetic data set (three blobs) written as IDX files to a temp dir by
 * the group's setup (test_train.c, test_train_ckpt.c).
 */
#ifndef SAMC_TEST_TRAIN_MODEL_H
#define SAMC_TEST_TRAIN_MODEL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rt_train.h"
#include "test_idx_write.h"
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
static inline void lin_fwd_bwd(const float *x, const int32_t *y, const double *W, const double *b,
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

static inline int lin_run(rt_exec *xe, void **slot, double *outputs, rt_err *err)
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

static inline void lin_free(rt_exec *x)
{
	free(x->self);
	free(x);
}

static inline rt_exec *lin_new(int kind, int64_t nan_at)
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

static inline void make_split(const char *dir, const char *name, int n, uint32_t seed)
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
	test_write_idx(path, img, 3, idim);
	snprintf(path, sizeof path, "%s/%s-labels.idx", dir, name);
	test_write_idx(path, lab, 1, ldim);
	free(img);
	free(lab);
}

typedef struct {
	char dir[4096];
	rt_recipe recipe;
	rt_exec *base, *sam, *eval;
} fixture;

static inline int setup(void **state)
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

static inline int teardown(void **state)
{
	fixture *f = *state;
	tmpdir_remove(f->dir);
	f->base->free(f->base);
	f->sam->free(f->sam);
	f->eval->free(f->eval);
	free(f);
	return 0;
}

static inline rt_train_opts opts_for(fixture *f, rt_train_result *res)
{
	return (rt_train_opts){.recipe = &f->recipe, .data_dir = f->dir, .quiet = 1,
	                       .program_hash = "model-a", .result = res};
}

static inline void assert_same_params(const rt_tensors *a, const rt_tensors *b)
{
	assert_int_equal(a->n, b->n);
	for (int i = 0; i < a->n; i++) {
		const rt_tensor *t = rt_tensors_find(b, a->t[i].name);
		assert_non_null(t);
		assert_int_equal(rt_tensor_bytes(t), rt_tensor_bytes(&a->t[i]));
		assert_memory_equal(t->data, a->t[i].data, rt_tensor_bytes(t));
	}
}

static inline void path_in(char *buf, size_t n, const fixture *f, const char *name)
{
	snprintf(buf, n, "%s/%s", f->dir, name);
}

#endif
