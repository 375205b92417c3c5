/*
 * test_train.c - the training loop end to end on a real, small model
 * (test_train_model.h): learning and its logs, eval masking, determinism,
 * sam_every, and setups that cannot train. Resume, the NaN stop and
 * checkpoint failures: test_train_ckpt.c.
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

#include "rt_train.h"
#include "test_train_model.h"

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
		cmocka_unit_test(test_sam_every),
		cmocka_unit_test(test_bad_setup),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
