/*
 * test_recipe_augment.c - the data.augment keys of a recipe: read from the
 * model's table, defaults, range and type errors, unknown keys with a
 * suggestion, and --set in samc and in a built trainer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "fe_model.h"
#include "rt_args.h"
#include "rt_recipe_schema.h"

static const char *write_model(const char *name, const char *data_extra)
{
	static char path[1024];
	snprintf(path, sizeof path, "%s/test_recipe_augment_%s.lua", SAMC_BINARY_DIR, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "local B = batch_size(8)\n"
	           "local x = input(\"x\", {B, 3, 32, 32})\n"
	           "local y = input(\"y\", {B}, {dtype = \"i32\", classes = 10})\n"
	           "local logits = linear(reshape(x, {B, -1}), 10, {name = \"fc\"})\n"
	           "return {loss = cross_entropy(logits, y),\n"
	           "  optimizer = {name = \"sgd\", lr = 0.1},\n"
	           "  data = {format = \"cifar10\", train = {x = \"a.bin\", y = \"a.bin\"}%s}}\n",
	        data_extra);
	fclose(f);
	return path;
}

static ir_model *load(const char *path, const char *set, char *err, size_t len)
{
	fe_options o;
	fe_options_init(&o);
	const char *sets[] = {set};
	o.sets = sets;
	o.nsets = set ? 1 : 0;
	ir_model *m = NULL;
	if (fe_load_model(path, &o, &m, err, len))
		return NULL;
	return m;
}

static void expect_error(const char *extra, const char *set, const char *want)
{
	char err[1024] = "";
	ir_model *m = load(write_model("bad", extra), set, err, sizeof err);
	if (m) {
		fe_model_free(m);
		fail_msg("loaded; expected an error containing \"%s\"", want);
	}
	if (!strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static void t_table(void **st)
{
	(void)st;
	char err[1024];
	ir_model *m = load(write_model("none", ""), NULL, err, sizeof err);
	if (!m)
		fail_msg("%s", err);
	const data_augment *a = &m->recipe.data.augment;
	assert_true(a->crop_size == 0 && a->crop_padding == 0 && !a->flip && a->cutout == 0);
	fe_model_free(m);

	m = load(write_model("aug", ", augment = {crop = {size = 32, padding = 4}, flip = true, "
	                            "cutout = 16}"),
	         NULL, err, sizeof err);
	if (!m)
		fail_msg("%s", err);
	a = &m->recipe.data.augment;
	assert_int_equal(a->crop_size, 32);
	assert_int_equal(a->crop_padding, 4);
	assert_int_equal(a->flip, 1);
	assert_int_equal(a->cutout, 16);
	fe_model_free(m);

	m = load(write_model("set", ""), "data.augment.crop.padding=2", err, sizeof err);
	if (!m)
		fail_msg("%s", err);
	assert_int_equal(m->recipe.data.augment.crop_padding, 2);
	fe_model_free(m);
}

static void t_errors(void **st)
{
	(void)st;
	expect_error(", augment = {crop = {padding = -1}}", NULL,
	             "data.augment.crop.padding must be an integer >= 0, got -1");
	expect_error(", augment = {flip = 1}", NULL, "data.augment.flip must be true or false, got 1");
	expect_error(", augment = {flop = true}", NULL, "unknown recipe key 'data.augment.flop' (did you mean 'data.augment.flip'?)");
	expect_error(", augment = {crop = 4}", NULL, "data.augment.crop must be a table, got 4");
	expect_error(", augment = {cutout = 2.5}", NULL,
	             "data.augment.cutout must be an integer >= 0, got 2.5");
}

static void t_trainer_set(void **st)
{
	(void)st;
	rt_recipe r;
	rt_recipe_defaults(&r);
	r.batch_size = 8;
	char msg[512];
	const char *sets[] = {"data.augment.crop.padding=4", "data.augment.flip=true",
	                      "data.augment.cutout=8"};
	if (rt_args_recipe_sets(&r, sets, 3, msg, sizeof msg))
		fail_msg("%s", msg);
	assert_true(r.data.augment.crop_padding == 4 && r.data.augment.flip &&
	            r.data.augment.cutout == 8);
	const char *bad[] = {"data.augment.crop.padding=-2"};
	assert_int_equal(rt_args_recipe_sets(&r, bad, 1, msg, sizeof msg), -1);
	assert_non_null(strstr(msg, "data.augment.crop.padding"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_table),
	    cmocka_unit_test(t_errors),
	    cmocka_unit_test(t_trainer_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
