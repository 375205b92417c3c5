/*
 * test_frontend_pool.c - the model language's pooling functions: sizes as
 * numbers or pairs, PyTorch's defaults (stride = kernel_size, padding 0,
 * count_include_pad true), the shapes they give, and their argument
 * errors with the model's file and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe_model.h"
#include "test_model.h"

static const char *const HEAD =
	"local B = batch_size(4)\n"
	"local x = input(\"x\", {B, 20})\n"
	"local y = input(\"y\", {B}, {dtype = \"i32\", classes = 5})\n"
	"local img = reshape(linear(x, 60, {name = \"fc\"}), {B, 3, 4, 5})\n";

static const char *write_model(const char *name, const char *tail)
{
	return test_write_model("test_frontend_pool", name, HEAD, tail);
}

/* The last node of op in the model's graph. */
static const ir_node *last_of(const ir_model *m, ir_op op)
{
	for (int i = m->g->nnodes - 1; i >= 0; i--)
		if (m->g->nodes[i]->op == op)
			return m->g->nodes[i];
	fail_msg("no %s node", ir_op_name(op));
	return NULL;
}

static void expect4(const ir_node *n, int64_t a, int64_t b, int64_t c, int64_t d)
{
	assert_int_equal(n->shape.rank, 4);
	int64_t want[4] = {a, b, c, d};
	for (int i = 0; i < 4; i++)
		if (n->shape.dim[i] != want[i])
			fail_msg("%s: dim %d is %lld, expected %lld", ir_op_name(n->op), i,
			         (long long)n->shape.dim[i], (long long)want[i]);
}

static void t_shapes_and_defaults(void **st)
{
	(void)st;
	const char *p2 = write_model(
		"ok2", "local a = max_pool2d(img, 2)\n"
		       "local b = avg_pool2d(img, {3, 2}, {1, 2}, {1, 0}, false)\n"
		       "local c = adaptive_avg_pool2d(img, {2, 7})\n"
		       "return {loss = sum(a) + sum(b) + sum(c), epochs = 1,\n"
		       "  optimizer = {name = \"sgd\", lr = 0.1},\n"
		       "  data = {format = \"idx\", train = {x = \"a\", y = \"b\"}}}\n");
	ir_model *m = NULL;
	char err[1024];
	if (fe_load_model(p2, NULL, &m, err, sizeof err))
		fail_msg("%s", err);
	const ir_node *a = last_of(m, IR_OP_MAX_POOL2D);
	expect4(a, 4, 3, 2, 2); /* stride defaults to the kernel */
	assert_int_equal(ir_attr_i(a, IR_ATTR_STRIDE_H), 2);
	assert_int_equal(ir_attr_i(a, IR_ATTR_PAD_W), 0);
	const ir_node *b = last_of(m, IR_OP_AVG_POOL2D);
	expect4(b, 4, 3, 4, 2); /* (4 + 2 - 3) / 1 + 1, (5 - 2) / 2 + 1 */
	assert_int_equal(ir_attr_i(b, IR_ATTR_COUNT_PAD), 0);
	expect4(last_of(m, IR_OP_ADAPTIVE_AVG_POOL2D), 4, 3, 2, 7);
	fe_model_free(m);
}

static void t_errors(void **st)
{
	(void)st;
	struct {
		const char *tail, *want;
	} cases[] = {
		{"local z = max_pool2d(x, 2)", ":5: max_pool2d: expects an input [N,C,H,W], got rank 2"},
		{"local z = max_pool2d(img, \"2\")", ":5: max_pool2d: argument 2 (kernel_size) must be an integer or a pair {h, w} of integers"},
		{"local z = avg_pool2d(img, {2, 2, 2})", ":5: avg_pool2d: argument 2 (kernel_size) must be"},
		{"local z = max_pool2d(img, 2, 0)", ":5: max_pool2d: stride 0x0 must be positive"},
		{"local z = max_pool2d(img, 2, 1, 2)", ":5: max_pool2d: padding 2x2 must be at most half the kernel size"},
		{"local z = max_pool2d(img, 5)", ":5: max_pool2d: the padded input 4x5 is smaller than the kernel"},
		{"local z = avg_pool2d(img, 2, 2, 0, 1)", ":5: avg_pool2d: argument 5 (count_include_pad) must be a boolean"},
		{"local z = max_pool2d(img, 2, 2, 0, true)", ":5: max_pool2d: takes at most 4 arguments"},
		{"local z = adaptive_avg_pool2d(img, 0)", ":5: adaptive_avg_pool2d: output size 0x0 must be positive"},
		{"local z = adaptive_avg_pool2d(img)", ":5: adaptive_avg_pool2d: argument 2 (output_size) must be"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[32], want[1024], err[1024] = "";
		snprintf(name, sizeof name, "err%zu", i);
		char tail[512];
		snprintf(tail, sizeof tail, "%s\nreturn {}", cases[i].tail);
		const char *path = write_model(name, tail);
		snprintf(want, sizeof want, "%s%s", path, cases[i].want);
		ir_model *m = NULL;
		if (fe_load_model(path, NULL, &m, err, sizeof err) == 0) {
			fe_model_free(m);
			fail_msg("%s loaded; expected \"%s\"", path, want);
		}
		if (!strstr(err, want))
			fail_msg("error \"%s\" lacks \"%s\"", err, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_shapes_and_defaults),
		cmocka_unit_test(t_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
