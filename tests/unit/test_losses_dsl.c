/*
 * test_losses_dsl.c - nll_loss and binary_cross_entropy_with_logits in the
 * model language: result shapes for every reduction and pos_weight form,
 * and the argument errors, each naming the model line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "fe_model.h"

static const char *const HEAD =
	"local B = batch_size(8)\n"
	"local x = input(\"x\", {B, 6})\n"
	"local y = input(\"y\", {B}, {dtype = \"i32\", classes = 3})\n"
	"local z = linear(x, 3)\n";

static int load(const char *name, const char *body, ir_model **m, char *err, size_t errlen)
{
	char path[1024], text[4096];
	snprintf(path, sizeof path, "%s/test_losses_dsl_%s.lua", SAMC_BINARY_DIR, name);
	snprintf(text, sizeof text, "%s%s", HEAD, body);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	*m = NULL;
	return fe_load_model(path, NULL, m, err, errlen);
}

static void t_shapes(void **st)
{
	(void)st;
	const char *body =
		"local lp = log_softmax(z, 1)\n"
		"assert(tostring(nll_loss(lp, y)) == \"tensor f32[]\")\n"
		"assert(tostring(nll_loss(lp, y, {reduction = \"sum\"})) == \"tensor f32[]\")\n"
		"assert(tostring(nll_loss(lp, y, {reduction = \"none\"})) == \"tensor f32[8]\")\n"
		"local t = sigmoid(z)\n"
		"local bce = binary_cross_entropy_with_logits\n"
		"assert(tostring(bce(z, t)) == \"tensor f32[]\")\n"
		"assert(tostring(bce(z, t, {reduction = \"none\"})) == \"tensor f32[8,3]\")\n"
		"assert(tostring(bce(z, t, {reduction = \"sum\", pos_weight = 2})) == \"tensor f32[]\")\n"
		"local pw = param(\"pw\", {3}, {init = \"ones\"})\n"
		"assert(tostring(bce(z, t, {pos_weight = pw, reduction = \"none\"})) == \"tensor f32[8,3]\")\n"
		"assert(tostring(one_hot(y, 5)) == \"tensor f32[8,5]\")\n"
		"assert(tostring(one_hot(y)) == \"tensor f32[8,3]\")\n"
		"local soft = -mean(sum(one_hot(y) * lp, 1))\n"
		"return {loss = nll_loss(lp, y) + bce(z, t) + soft, optimizer = {name = \"sgd\", lr = 0.1}}\n";
	ir_model *m;
	char err[1024];
	if (load("shapes", body, &m, err, sizeof err))
		fail_msg("%s", err);
	assert_int_equal(ir_verify(m->g), 0);
	fe_model_free(m);
}

static void t_errors(void **st)
{
	(void)st;
	struct {
		const char *body, *want;
	} cases[] = {
		{"return {loss = nll_loss(z, y, {reduction = \"avg\"})}",
		 ":5: nll_loss: option reduction must be \"mean\", \"sum\" or \"none\", got \"avg\""},
		{"return {loss = nll_loss(z, y, {weight = 1})}", ":5: nll_loss: unknown option 'weight'"},
		{"return {loss = nll_loss(z, x)}", ":5: nll_loss: labels must be class indices"},
		{"return {loss = nll_loss(linear(x, 4), y)}",
		 ":5: nll_loss: labels 'y' have 3 classes but the log-probabilities have 4 columns"},
		{"return {loss = nll_loss(sum(z, 1), y)}", ":5: nll_loss: log-probabilities must be [N,C]"},
		{"return {loss = binary_cross_entropy_with_logits(z, x)}",
		 ":5: binary_cross_entropy_with_logits: logits [8,3] and target [8,6] must have the same shape"},
		{"return {loss = binary_cross_entropy_with_logits(z, y)}",
		 ":5: binary_cross_entropy_with_logits: logits and target must be float tensors"},
		{"return {loss = binary_cross_entropy_with_logits(z, z, {pos_weight = \"a\"})}",
		 ":5: binary_cross_entropy_with_logits: option pos_weight must be a number or a tensor, got string"},
		{"return {loss = binary_cross_entropy_with_logits(z, z, {pos_weight = x})}",
		 ":5: binary_cross_entropy_with_logits: pos_weight [8,6] does not broadcast to the logits [8,3]"},
		{"return {loss = binary_cross_entropy_with_logits(z, z, {reduction = 1})}",
		 "option reduction must be \"mean\", \"sum\" or \"none\", got 1"},
		{"return {loss = sum(one_hot(x, 3))}", ":5: one_hot: labels must be class indices"},
		{"return {loss = sum(one_hot(y, 0))}", ":5: one_hot: argument 2 (num_classes) must be a positive integer"},
		{"local u = input(\"u\", {B}, {dtype = \"i32\"})\nreturn {loss = sum(one_hot(u))}",
		 ":6: one_hot: num_classes is missing (labels 'u' declare no classes)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		ir_model *m;
		char err[1024] = "", name[16];
		snprintf(name, sizeof name, "err%zu", i);
		if (load(name, cases[i].body, &m, err, sizeof err) == 0) {
			fe_model_free(m);
			fail_msg("case %zu loaded; expected \"%s\"", i, cases[i].want);
		}
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_shapes),
		cmocka_unit_test(t_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
