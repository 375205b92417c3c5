/*
 * test_train_ckpt.c - the training loop's checkpoints on a real, small
 * model (test_train_model.h): a resumed run bit-identical to one that ran
 * through, the NaN stop naming the last good checkpoint, and every
 * checkpoint failure the loader must catch (another model, another seed, a
 * flipped bit, a truncated or missing file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt_ckpt.h"
#include "rt_safetensors.h"
#include "rt_train.h"
#include "test_train_model.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resume_exact),
		cmocka_unit_test(test_nan_stop),
		cmocka_unit_test(test_ckpt_failures),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
