/*
 * test_frontend_conv.c - the model language's conv2d layer: the
 * parameters it declares (PyTorch's state_dict names, shapes and
 * kaiming-uniform bounds), automatic names, sizes as numbers or pairs,
 * padding "same" and "valid", the bias as a broadcast add, the output
 * shapes, and argument errors with the model's file and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe_model.h"
#include "test_model.h"
#include "ir_conv.h"

static const char *const HEAD =
	"local B = batch_size(4)\n"
	"local x = input(\"x\", {B, 96})\n"
	"local y = input(\"y\", {B}, {dtype = \"i32\", classes = 5})\n"
	"local img = reshape(x, {B, 6, 4, 4})\n";

static const char *write_model(const char *name, const char *tail)
{
	return test_write_model("test_frontend_conv", name, HEAD, tail);
}

static const ir_node *param(const ir_model *m, const char *name, int64_t d0, int64_t d1,
                            int64_t d2, int64_t d3, int rank)
{
	const ir_node *p = ir_find_leaf(m->g, IR_OP_PARAM, name);
	if (!p)
		fail_msg("no parameter %s", name);
	int64_t want[4] = {d0, d1, d2, d3};
	assert_int_equal(p->shape.rank, rank);
	for (int i = 0; i < rank; i++)
		if (p->shape.dim[i] != want[i])
			fail_msg("%s: dim %d is %lld, expected %lld", name, i, (long long)p->shape.dim[i],
			         (long long)want[i]);
	return p;
}

/* uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)): kaiming_uniform_(a = sqrt(5))
 * for the weight, and the bias's rule */
static void expect_bound(const ir_node *p, int64_t fan_in)
{
	ir_init in = ir_node_init(p);
	double b = 1.0 / sqrt((double)fan_in);
	assert_int_equal(in.kind, IR_INIT_UNIFORM);
	if (fabs(in.a + b) > 1e-15 || fabs(in.b - b) > 1e-15)
		fail_msg("%s: uniform(%g, %g), expected +-%g", p->name, in.a, in.b, b);
}

static const ir_node *nth_conv(const ir_model *m, int k)
{
	for (int i = 0; i < m->g->nnodes; i++)
		if (m->g->nodes[i]->op == IR_OP_CONV2D && k-- == 0)
			return m->g->nodes[i];
	fail_msg("fewer conv2d nodes than asked for");
	return NULL;
}

static void expect4(const ir_node *n, int64_t a, int64_t b, int64_t c, int64_t d)
{
	int64_t want[4] = {a, b, c, d};
	assert_int_equal(n->shape.rank, 4);
	for (int i = 0; i < 4; i++)
		if (n->shape.dim[i] != want[i])
			fail_msg("node %d: dim %d is %lld, expected %lld", n->id, i,
			         (long long)n->shape.dim[i], (long long)want[i]);
}

static void t_params_and_shapes(void **st)
{
	(void)st;
	const char *path = write_model(
		"ok", "local a = conv2d(img, 8, 3, {padding = 1})\n"
		      "local b = conv2d(a, 4, {2, 3}, {stride = 2, groups = 4, bias = false})\n"
		      "local c = conv2d(img, 6, 3, {dilation = {1, 2}, padding = {2, 1}, name = \"head\"})\n"
		      "local d = conv2d(img, 3, 3, {padding = \"same\", dilation = 2})\n"
		      "local e = conv2d(img, 2, 1, {padding = \"valid\", stride = {1, 3}})\n"
		      "return {loss = sum(b) + sum(c) + sum(d) + sum(e), epochs = 1,\n"
		      "  optimizer = {name = \"sgd\", lr = 0.1},\n"
		      "  data = {format = \"idx\", train = {x = \"a\", y = \"b\"}}}\n");
	ir_model *m = NULL;
	char err[1024];
	if (fe_load_model(path, NULL, &m, err, sizeof err))
		fail_msg("%s", err);
	expect_bound(param(m, "conv1.weight", 8, 6, 3, 3, 4), 54);
	expect_bound(param(m, "conv1.bias", 8, 0, 0, 0, 1), 54);
	expect_bound(param(m, "conv2.weight", 4, 2, 2, 3, 4), 12);
	assert_null(ir_find_leaf(m->g, IR_OP_PARAM, "conv2.bias"));
	expect_bound(param(m, "head.weight", 6, 6, 3, 3, 4), 54);
	param(m, "head.bias", 6, 0, 0, 0, 1);
	param(m, "conv3.weight", 3, 6, 3, 3, 4); /* a named layer takes no number */
	param(m, "conv4.weight", 2, 6, 1, 1, 4);
	/* declaration order: weight, then bias, layer by layer */
	static const char *const order[] = {"conv1.weight", "conv1.bias", "conv2.weight",
	                                    "head.weight", "head.bias", "conv3.weight"};
	for (int i = 0; i < 6; i++)
		assert_string_equal(m->params[i]->name, order[i]);

	const ir_node *c1 = nth_conv(m, 0);
	expect4(c1, 4, 8, 4, 4);
	assert_int_equal(ir_attr_i(c1, IR_ATTR_PAD_H), 1);
	const ir_node *c2 = nth_conv(m, 1);
	expect4(c2, 4, 4, 2, 1); /* (4 - 2) / 2 + 1, (4 - 3) / 2 + 1 */
	assert_int_equal(ir_attr_i(c2, IR_ATTR_GROUPS), 4);
	assert_int_equal(ir_attr_i(c2, IR_ATTR_STRIDE_W), 2);
	const ir_node *c3 = nth_conv(m, 2);
	expect4(c3, 4, 6, 6, 2); /* 4 + 2*2 - 2 - 1 + 1, 4 + 2*1 - 2*2 - 1 + 1 */
	assert_int_equal(ir_attr_i(c3, IR_ATTR_DILATION_W), 2);
	expect4(nth_conv(m, 3), 4, 3, 4, 4); /* "same" */
	assert_int_equal(ir_attr_i(nth_conv(m, 3), IR_ATTR_PAD_W), 2);
	expect4(nth_conv(m, 4), 4, 2, 4, 2);

	/* the bias is an add of [out,1,1] right after the convolution */
	int found = 0;
	for (int i = 0; i < m->g->nnodes; i++) {
		const ir_node *n = m->g->nodes[i];
		if (n->op == IR_OP_ADD && n->in[0] == c1) {
			assert_int_equal(n->in[1]->op, IR_OP_RESHAPE);
			assert_string_equal(n->in[1]->in[0]->name, "conv1.bias");
			expect4(n, 4, 8, 4, 4);
			assert_int_equal(n->loc.line, 5);
			found = 1;
		}
	}
	assert_true(found);
	assert_int_equal(c1->loc.line, 5);
	fe_model_free(m);
}

static void t_errors(void **st)
{
	(void)st;
	struct {
		const char *tail, *want;
	} cases[] = {
		{"local z = conv2d(x, 4, 3)", ":5: conv2d: input must be 4-D [batch, channels, height, width], got tensor f32[4,96]"},
		{"local z = conv2d(img, 0, 3)", ":5: conv2d: argument 2 (out_channels) must be a positive integer, got 0"},
		{"local z = conv2d(img, 4, \"3\")", ":5: conv2d: argument 3 (kernel_size) must be a positive integer or a pair {h, w} of them, got string"},
		{"local z = conv2d(img, 4, {3, 3, 3})", ":5: conv2d: argument 3 (kernel_size) must be a positive integer or a pair {h, w} of them, got a table of 3 values"},
		{"local z = conv2d(img, 4, {3, 0})", "got {3, 0}"},
		{"local z = conv2d(img, 4, 3, {stride = 0})", ":5: conv2d: option stride must be a positive integer or a pair {h, w} of them, got 0"},
		{"local z = conv2d(img, 4, 3, {padding = -1})", ":5: conv2d: option padding must be a non-negative integer"},
		{"local z = conv2d(img, 4, 3, {padding = \"full\"})", ":5: conv2d: option padding must be an integer, a pair {h, w}, \"same\" or \"valid\", got \"full\""},
		{"local z = conv2d(img, 4, 3, {dilation = {1, 0}})", ":5: conv2d: option dilation must be a positive integer"},
		{"local z = conv2d(img, 4, 3, {groups = 4})", ":5: conv2d: in_channels 6 and out_channels 4 must both be divisible by groups 4"},
		{"local z = conv2d(img, 4, 3, {groups = 0})", ":5: conv2d: option groups must be a positive integer, got 0"},
		{"local z = conv2d(img, 4, 3, {bias = 1})", ":5: conv2d: option bias must be true or false, got number"},
		{"local z = conv2d(img, 4, 3, {strides = 2})", ":5: conv2d: unknown option 'strides' (known: stride, padding, dilation, groups, bias, name)"},
		{"local z = conv2d(img, 4, 5)", ":5: conv2d: the kernel 5x5 (5x5 dilated) is larger than the padded input 4x4"},
		{"local z = conv2d(img, 4, 3, {dilation = 2})", ":5: conv2d: the kernel 3x3 (5x5 dilated) is larger than the padded input 4x4"},
		{"local z = conv2d(img, 4, 3, {padding = \"same\", stride = 2})", ":5: conv2d: padding = \"same\" needs stride 1 (as in PyTorch), got stride {2, 2}"},
		{"local z = conv2d(img, 4, 2, {padding = \"same\"})", ":5: conv2d: padding = \"same\" with kernel size 2 and dilation 1 pads unevenly"},
		{"local a = conv2d(img, 4, 3, {name = \"c\"})\nlocal z = conv2d(a, 4, 1, {name = \"c\"})", ":6: conv2d: parameter 'c.weight' already declared at line 5"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[32], want[1024], err[1024] = "";
		snprintf(name, sizeof name, "err%zu", i);
		char tail[512];
		snprintf(tail, sizeof tail, "%s\nreturn {}", cases[i].tail);
		const char *path = write_model(name, tail);
		snprintf(want, sizeof want, "%s%s", path, cases[i].want);
		if (cases[i].want[0] != ':')
			snprintf(want, sizeof want, "%s", cases[i].want);
		ir_model *m = NULL;
		if (fe_load_model(path, NULL, &m, err, sizeof err) == 0) {
			fe_model_free(m);
			fail_msg("%s loaded; expected \"%s\"", path, want);
		}
		if (!strstr(err, want))
			fail_msg("error \"%s\" lacks \"%s\"", err, want);
		remove(path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_params_and_shapes),
		cmocka_unit_test(t_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
