/*
 * test_frontend.c - the Lua front end end to end: the shipped example's
 * parameters, inputs, recipe and source lines; --set overrides; recipe
 * defaults and validation; every DSL function's shapes; error locations.
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

#define EXAMPLE SAMC_SOURCE_DIR "/examples/fashion_mlp.lua"

/* Writes a model file under the build directory; returns its path. */
static const char *write_model(const char *name, const char *text)
{
	static char path[1024];
	snprintf(path, sizeof path, "%s/test_frontend_%s.lua", SAMC_BINARY_DIR, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static ir_model *load_ok(const char *path, const fe_options *o)
{
	ir_model *m = NULL;
	char err[1024];
	if (fe_load_model(path, o, &m, err, sizeof err))
		fail_msg("%s", err);
	assert_non_null(m);
	return m;
}

/* Loads a model that must fail; checks that err contains `want`. */
static void load_fails(const char *path, const fe_options *o, const char *want)
{
	ir_model *m = NULL;
	char err[1024] = "";
	int rc = fe_load_model(path, o, &m, err, sizeof err);
	if (rc == 0) {
		fe_model_free(m);
		fail_msg("%s loaded; expected an error containing \"%s\"", path, want);
	}
	assert_null(m);
	if (!strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static void expect_dims(const ir_node *n, int rank, int64_t d0, int64_t d1)
{
	assert_int_equal(n->shape.rank, rank);
	if (rank > 0)
		assert_int_equal(n->shape.dim[0], d0);
	if (rank > 1)
		assert_int_equal(n->shape.dim[1], d1);
}

static const char *const HEAD =
	"local B = batch_size(32)\n"
	"local x = input(\"x\", {B, 20})\n"
	"local y = input(\"y\", {B}, {dtype = \"i32\", classes = 5})\n"
	"local logits = linear(x, 5, {name = \"fc\"})\n";

static void t_example_params_and_inputs(void **st)
{
	(void)st;
	ir_model *m = load_ok(EXAMPLE, NULL);
	assert_int_equal(m->nparams, 4);
	const char *names[] = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"};
	int64_t rows[] = {256, 256, 10, 10}, cols[] = {784, 0, 256, 0};
	for (int i = 0; i < 4; i++) {
		assert_string_equal(m->params[i]->name, names[i]);
		assert_int_equal(m->params[i]->op, IR_OP_PARAM);
		assert_int_equal(m->params[i]->dtype, IR_F32);
		expect_dims(m->params[i], cols[i] ? 2 : 1, rows[i], cols[i]);
	}
	/* PyTorch's nn.Linear init: uniform +-1/sqrt(fan_in), bias too */
	assert_int_equal(ir_node_init(m->params[0]).kind, IR_INIT_UNIFORM);
	assert_true(fabs(ir_node_init(m->params[0]).b - 1.0 / sqrt(784.0)) < 1e-12);
	assert_true(fabs(ir_node_init(m->params[1]).a + 1.0 / sqrt(784.0)) < 1e-12);
	assert_true(fabs(ir_node_init(m->params[2]).b - 1.0 / 16.0) < 1e-12);

	assert_int_equal(m->ninputs, 2);
	assert_string_equal(m->inputs[0]->name, "x");
	expect_dims(m->inputs[0], 2, 128, 784);
	assert_int_equal(m->inputs[0]->dtype, IR_F32);
	assert_string_equal(m->inputs[1]->name, "y");
	assert_int_equal(m->inputs[1]->dtype, IR_I32);
	assert_int_equal(ir_attr_i(m->inputs[1], IR_ATTR_NCLASSES), 10);

	assert_int_equal(m->loss->op, IR_OP_CROSS_ENTROPY);
	assert_int_equal(m->loss->shape.rank, 0);
	assert_int_equal(m->nmetrics, 1);
	assert_string_equal(m->metrics[0].name, "accuracy");
	assert_int_equal(m->metrics[0].node->shape.rank, 0);
	fe_model_free(m);
}

static void t_example_locations(void **st)
{
	(void)st;
	ir_model *m = load_ok(EXAMPLE, NULL);
	assert_string_equal(m->file, EXAMPLE);
	/* the lines of examples/fashion_mlp.lua that create each node */
	assert_int_equal(m->inputs[0]->loc.line, 5);
	assert_int_equal(m->inputs[1]->loc.line, 6);
	assert_int_equal(m->params[0]->loc.line, 7);
	assert_int_equal(m->params[3]->loc.line, 8);
	assert_int_equal(m->loss->loc.line, 11);
	assert_int_equal(m->metrics[0].node->loc.line, 12);
	assert_string_equal(m->params[0]->loc.file, EXAMPLE);
	fe_model_free(m);
}

static void t_example_recipe(void **st)
{
	(void)st;
	ir_model *m = load_ok(EXAMPLE, NULL);
	const ir_recipe *r = &m->recipe;
	assert_int_equal(r->batch_size, 128);
	assert_int_equal(r->epochs, 1);
	assert_int_equal(r->seed, 1);
	assert_int_equal(r->opt.kind, OPT_SGD);
	assert_true(r->opt.lr == 0.05);
	assert_true(r->opt.momentum == 0.9);
	assert_true(r->opt.dampening == 0);
	assert_false(r->opt.nesterov);
	assert_true(r->opt.sam);
	assert_true(r->opt.rho == 0.05);
	assert_false(r->opt.adaptive);
	assert_int_equal(r->opt.sam_every, 1);
	assert_int_equal(r->sched.kind, SCHED_CONSTANT);
	assert_string_equal(r->data.format, "idx");
	assert_int_equal(r->data.ntrain, 2);
	assert_int_equal(r->data.ntest, 2);
	int found = 0;
	for (int i = 0; i < r->data.ntrain; i++)
		if (!strcmp(r->data.train[i].input, "y"))
			found = !strcmp(r->data.train[i].path,
			                "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz");
	assert_true(found);
	assert_true(fabs(r->data.scale - 1.0 / 255) < 1e-15);
	assert_true(r->data.mean.v[0] == 0.2860 && r->data.std.v[0] == 0.3530);
	assert_true(r->data.drop_last);
	fe_model_free(m);
}

static void t_overrides(void **st)
{
	(void)st;
	const char *sets[] = {"epochs=3", "optimizer.lr=0.1", "optimizer.sam.rho=0.2",
	                      "batch_size=64", "optimizer.nesterov=true", "data.format=idx"};
	fe_options o;
	fe_options_init(&o);
	o.sets = sets;
	o.nsets = 6;
	ir_model *m = load_ok(EXAMPLE, &o);
	assert_int_equal(m->recipe.epochs, 3);
	assert_true(m->recipe.opt.lr == 0.1);
	assert_true(m->recipe.opt.rho == 0.2);
	assert_true(m->recipe.opt.nesterov);
	/* batch_size() returns the override, so every input follows */
	assert_int_equal(m->recipe.batch_size, 64);
	expect_dims(m->inputs[0], 2, 64, 784);
	expect_dims(m->inputs[1], 1, 64, 0);
	fe_model_free(m);

	const char *bad[] = {"optimiser.lr=0.1"};
	o.sets = bad;
	o.nsets = 1;
	load_fails(EXAMPLE, &o, "--set optimiser.lr=0.1: unknown recipe key 'optimiser' "
	                        "(did you mean 'optimizer'?)");
	const char *bad2[] = {"optimizer.lr=fast"};
	o.sets = bad2;
	load_fails(EXAMPLE, &o, "optimizer.lr needs a number, got 'fast'");
	const char *bad3[] = {"epochs=0"};
	o.sets = bad3;
	load_fails(EXAMPLE, &o, "recipe: epochs must be an integer >= 1, got 0");
}

static void t_sam_enabled_by_override(void **st)
{
	(void)st;
	char text[2048];
	snprintf(text, sizeof text, "%sreturn {loss = cross_entropy(logits, y),\n"
	         "  optimizer = {name = \"sgd\", lr = 0.1}}\n", HEAD);
	const char *path = write_model("plain", text);
	ir_model *m = load_ok(path, NULL);
	assert_false(m->recipe.opt.sam);
	fe_model_free(m);
	const char *sets[] = {"optimizer.sam.rho=0.1"};
	fe_options o;
	fe_options_init(&o);
	o.sets = sets;
	o.nsets = 1;
	m = load_ok(path, &o);
	assert_true(m->recipe.opt.sam);
	assert_true(m->recipe.opt.rho == 0.1);
	assert_int_equal(m->recipe.opt.sam_every, 1);
	fe_model_free(m);
}

static void t_f64(void **st)
{
	(void)st;
	fe_options o;
	fe_options_init(&o);
	o.fdtype = IR_F64;
	ir_model *m = load_ok(EXAMPLE, &o);
	assert_int_equal(m->g->fdtype, IR_F64);
	assert_int_equal(m->params[0]->dtype, IR_F64);
	assert_int_equal(m->inputs[0]->dtype, IR_F64);
	assert_int_equal(m->inputs[1]->dtype, IR_I32);
	assert_int_equal(m->loss->dtype, IR_F64);
	fe_model_free(m);
}

static void t_adam_defaults_and_schedules(void **st)
{
	(void)st;
	char text[2048];
	snprintf(text, sizeof text, "%sreturn {loss = cross_entropy(logits, y),\n"
	         "  metrics = {zeta = mean(logits), acc = accuracy(logits, y)},\n"
	         "  optimizer = {name = \"adamw\",\n"
	         "    sam = {adaptive = true, every = 3, groups = {{prefix = \"fc.b\", rho = 0.5}}}},\n"
	         "  schedule = {name = \"step\", step_size = 100, warmup = 10},\n"
	         "  data = {format = \"idx\", train = {x = \"data/x.gz\", y = \"/abs/y.gz\"}}}\n", HEAD);
	ir_model *m = load_ok(write_model("adamw", text), NULL);
	const opt_config *o = &m->recipe.opt;
	assert_int_equal(o->kind, OPT_ADAMW);
	assert_true(o->lr == 1e-3 && o->beta1 == 0.9 && o->beta2 == 0.999 && o->eps == 1e-8);
	assert_true(o->weight_decay == 0.01);
	assert_true(o->sam && o->adaptive && o->sam_every == 3 && o->rho == 0.05);
	assert_int_equal(o->ngroups, 1);
	assert_string_equal(o->groups[0].prefix, "fc.b");
	assert_true(o->groups[0].rho == 0.5);
	assert_int_equal(m->recipe.sched.kind, SCHED_STEP);
	assert_true(m->recipe.sched.step_size == 100 && m->recipe.sched.gamma == 0.1);
	assert_true(m->recipe.sched.warmup == 10);
	/* metrics sorted by name */
	assert_int_equal(m->nmetrics, 2);
	assert_string_equal(m->metrics[0].name, "acc");
	assert_string_equal(m->metrics[1].name, "zeta");
	/* data files in input order; a relative path is resolved (against the
	 * model's directory) by the runtime, an absolute one kept */
	const char *px = m->recipe.data.train[0].path;
	assert_string_equal(m->recipe.data.train[0].input, "x");
	assert_true(strlen(px) >= 9 && strcmp(px + strlen(px) - 9, "data/x.gz") == 0);
	assert_string_equal(m->recipe.data.train[1].input, "y");
	assert_string_equal(m->recipe.data.train[1].path, "/abs/y.gz");
	assert_int_equal(m->recipe.epochs, 1);
	assert_int_equal(m->recipe.log_every, 100);
	assert_true(m->recipe.data.std.v[0] == 1 && m->recipe.data.scale == 1);
	fe_model_free(m);
}

static void t_recipe_errors(void **st)
{
	(void)st;
	struct {
		const char *tail, *want;
	} cases[] = {
		{"return {loss = cross_entropy(logits, y), optimizer = {name = \"adam\", betas = {0.9, 1.0}}}",
		 ":5: recipe: optimizer.betas[2] must be in [0, 1), got 1.0"},
		{"return {loss = cross_entropy(logits, y), optimizer = {name = \"adam\", eps = 0}}",
		 "recipe: optimizer.eps must be > 0, got 0"},
		{"return {loss = cross_entropy(logits, y), optimizer = {name = \"sgd\", momentum = -1}}",
		 "recipe: optimizer.momentum must be >= 0, got -1"},
		{"return {loss = cross_entropy(logits, y), optimizer = {name = \"sgd\", sam = {every = 0}}}",
		 "recipe: optimizer.sam.every must be an integer >= 1, got 0"},
		{"return {loss = cross_entropy(logits, y), optimizer = {name = \"sgd\"},\n"
		 " schedule = {name = \"linear\"}}", "unknown schedule 'linear'"},
		{"return {loss = cross_entropy(logits, y), optimizer = {name = \"sgd\"},\n"
		 " data = {format = \"jpeg\"}}", "unknown data.format 'jpeg'"},
		{"return {loss = cross_entropy(logits, y), optimizer = {name = \"sgd\"}, epochs = 1.5}",
		 "recipe: epochs must be an integer >= 1, got 1.5"},
		{"return {loss = cross_entropy(logits, y), optimizer = {name = \"sgd\", sam = {\n"
		 " groups = {{prefix = \"conv\"}}}}}", "prefix 'conv' matches no parameter"},
		{"return {loss = cross_entropy(logits, y)}", "recipe: optimizer is missing"},
		{"return {loss = logits, optimizer = {name = \"sgd\"}}",
		 ":4: recipe: loss must be a float scalar, got tensor f32[32,5]"},
		{"return {loss = 1.5, optimizer = {name = \"sgd\"}}", "recipe: loss must be a tensor, got 1.5"},
		{"return {loss = cross_entropy(logits, y), optimizer = {name = \"sgd\"}, metrics = {a = logits}}",
		 "recipe: metrics.a must be a float scalar"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[2048], name[32];
		snprintf(text, sizeof text, "%s%s\n", HEAD, cases[i].tail);
		snprintf(name, sizeof name, "recipe_err%zu", i);
		load_fails(write_model(name, text), NULL, cases[i].want);
	}
}

/* Every tensor function, checked from inside Lua with assert(). */
static void t_dsl_functions(void **st)
{
	(void)st;
	const char *text =
		"local B = batch_size(8)\n"
		"local x = input(\"x\", {B, 6})\n"
		"local y = input(\"y\", {B}, {dtype = \"i32\", classes = 3})\n"
		"assert(tostring(x) == \"tensor f32[8,6]\", tostring(x))\n"
		"local s = x.shape\n"
		"assert(#s == 2 and s[1] == 8 and s[2] == 6)\n"
		"assert(x.dtype == \"f32\" and y.dtype == \"i32\" and x.name == \"x\")\n"
		"local w = param(\"w\", {6, 3}, {init = \"normal\", std = 0.01})\n"
		"local b = param(\"b\", {3}, {init = \"zeros\"})\n"
		"local z = matmul(x, w) + b\n"
		"assert(tostring(z) == \"tensor f32[8,3]\")\n"
		"for _, f in ipairs({relu, gelu, tanh, sigmoid, exp, abs}) do\n"
		"  assert(tostring(f(z)) == \"tensor f32[8,3]\") end\n"
		"assert(tostring(sqrt(abs(z) + 1)) == \"tensor f32[8,3]\")\n"
		"assert(tostring(log(exp(z))) == \"tensor f32[8,3]\")\n"
		"assert(tostring(softmax(z, 1)) == \"tensor f32[8,3]\")\n"
		"assert(tostring(log_softmax(z)) == \"tensor f32[8,3]\")\n"
		"assert(tostring(sum(z)) == \"tensor f32[]\")\n"
		"assert(tostring(sum(z, 0)) == \"tensor f32[3]\")\n"
		"assert(tostring(mean(z, -1, true)) == \"tensor f32[8,1]\")\n"
		"assert(tostring(max(z, {0, 1})) == \"tensor f32[]\")\n"
		"assert(tostring(reshape(z, {4, -1})) == \"tensor f32[4,6]\")\n"
		"assert(tostring(transpose(z, 0, 1)) == \"tensor f32[3,8]\")\n"
		"assert(tostring(-z * 2 - 1 / z + z ^ 2) == \"tensor f32[8,3]\")\n"
		"assert(tostring(2 ^ z) == \"tensor f32[8,3]\")\n"
		"assert(tostring(mse_loss(z, z * 0.5)) == \"tensor f32[]\")\n"
		"assert(tostring(cross_entropy(z, y, {label_smoothing = 0.1})) == \"tensor f32[]\")\n"
		"assert(tostring(cross_entropy(z, y, {reduction = \"none\"})) == \"tensor f32[8]\")\n"
		"local h = linear(x, 4, {bias = false})\n"
		"assert(tostring(h) == \"tensor f32[8,4]\")\n"
		"assert(getmetatable(x) == \"tensor\")\n"
		"assert(not pcall(setmetatable, x, {}))\n"
		"return {loss = cross_entropy(z, y), metrics = {acc = accuracy(z, y)},\n"
		"        optimizer = {name = \"sgd\", lr = 0.1}}\n";
	ir_model *m = load_ok(write_model("dsl", text), NULL);
	/* w, b and linear1.weight (no bias) */
	assert_int_equal(m->nparams, 3);
	assert_string_equal(m->params[2]->name, "linear1.weight");
	assert_int_equal(ir_node_init(m->params[0]).kind, IR_INIT_NORMAL);
	assert_true(ir_node_init(m->params[0]).b == 0.01);
	assert_int_equal(ir_node_init(m->params[1]).kind, IR_INIT_ZEROS);
	assert_int_equal(ir_verify(m->g), 0);
	fe_model_free(m);
}

static void t_dsl_errors(void **st)
{
	(void)st;
	struct {
		const char *tail, *want;
	} cases[] = {
		{"local h = linear(x, 2.5)", ":5: linear: argument 2 (out_features) must be a positive integer, got 2.5"},
		{"local p = param(\"fc.weight\", {3})", ":5: param: parameter 'fc.weight' already declared at line 4"},
		{"local p = param(\"bad name\", {3})", ":5: param: argument 1 (name) \"bad name\" is not a valid name"},
		{"local p = param(\"p\", {3, 0})", ":5: param: argument 2 (shape) must be a table of positive integers, got 0 at position 2"},
		{"local z = x + \"a\"", ":5: +: operands must be tensors or numbers, got string"},
		{"local z = sum(x, 3)", ":5: sum: dim 3 out of range for tensor f32[32,20]"},
		{"local z = linear(x, 3, {nmae = \"a\"})", ":5: linear: unknown option 'nmae' (known: name, bias)"},
		{"local z = input(\"x\", {B, 3})", ":5: input: input 'x' already declared at line 2"},
		{"local z = input(\"z\", {B + 1, 3})", ":5: input 'z': the first dimension must be the batch size 32"},
		{"batch_size(64)", ":5: batch_size: already set at line 1"},
		{"x.shape = 3", ":5: tensors are read-only"},
		{"error(\"custom failure\")", ":5: custom failure"},
		{"error({})", ":5: (error object is a table value)"},
		{"local z = clamp(x)", ":5: clamp: at least one of min and max must be given"},
		{"local z = clamp(x, \"0\")", ":5: clamp: argument 2 (min) must be a number, got string"},
		{"local z = softplus(x, 0)", ":5: softplus: argument 2 (beta) must not be 0"},
		{"local z = leaky_relu(x, 0/0)", ":5: leaky_relu: argument 2 (negative_slope) is NaN"},
		{"local z = where(x, 1, 2)", ":5: where: argument 2 (input) or 3 (other) must be a tensor"},
		{"local z = maximum(x, \"a\")", ":5: maximum: operands must be tensors or numbers, got string"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[2048], name[32];
		snprintf(text, sizeof text, "%s%s\nreturn {}\n", HEAD, cases[i].tail);
		snprintf(name, sizeof name, "dsl_err%zu", i);
		const char *path = write_model(name, text);
		char want[1024];
		/* messages start with the path exactly as given */
		snprintf(want, sizeof want, "%s%s", path, cases[i].want);
		load_fails(path, NULL, want);
	}
}

/* flatten, narrow and cat: PyTorch's shapes, negative dims and starts, and
 * errors that name the model line */
static void t_dsl_slice(void **st)
{
	(void)st;
	const char *text =
		"local B = batch_size(8)\n"
		"local x = input(\"x\", {B, 24})\n"
		"local y = input(\"y\", {B}, {dtype = \"i32\", classes = 3})\n"
		"local img = reshape(x, {B, 2, 3, 4})\n"
		"assert(tostring(flatten(img)) == \"tensor f32[8,24]\")\n"
		"assert(tostring(flatten(img, 0)) == \"tensor f32[192]\")\n"
		"assert(tostring(flatten(img, 1, 2)) == \"tensor f32[8,6,4]\")\n"
		"assert(tostring(flatten(img, -2)) == \"tensor f32[8,2,12]\")\n"
		"assert(tostring(flatten(sum(x))) == \"tensor f32[1]\")\n"
		"assert(tostring(narrow(img, 2, 1, 2)) == \"tensor f32[8,2,2,4]\")\n"
		"assert(tostring(narrow(img, -1, -3, 3)) == \"tensor f32[8,2,3,3]\")\n"
		"assert(tostring(cat({x, x, x}, 1)) == \"tensor f32[8,72]\")\n"
		"assert(tostring(cat({x})) == \"tensor f32[8,24]\")\n"
		"assert(tostring(cat({img, narrow(img, 1, 0, 1)}, -3)) == \"tensor f32[8,3,3,4]\")\n"
		"local z = linear(cat({narrow(x, 1, 0, 10), narrow(x, 1, 20, 4)}, 1), 3)\n"
		"return {loss = cross_entropy(z, y), optimizer = {name = \"sgd\", lr = 0.1}}\n";
	ir_model *m = load_ok(write_model("slice", text), NULL);
	assert_int_equal(ir_verify(m->g), 0);
	fe_model_free(m);

	struct {
		const char *tail, *want;
	} cases[] = {
		{"local z = narrow(x, 1, 18, 3)", ":5: narrow: start (18) + length (3) exceeds the size of dim 1 (20), or length is below 1"},
		{"local z = narrow(x, 1, -21, 1)", ":5: narrow: start -21 out of range for dim 1 of size 20"},
		{"local z = narrow(x, 2, 0, 1)", ":5: narrow: dim 2 out of range for tensor f32[32,20]"},
		{"local z = cat({x, reshape(x, {20, 32})}, 1)", ":5: cat: sizes of [32,20] and [20,32] must match except in dim"},
		{"local z = cat(x, 0)", ":5: cat: argument 1 (tensors) must be a table of tensors, got userdata"},
		{"local z = cat({}, 0)", ":5: cat: argument 1 (tensors) is an empty table"},
		{"local z = cat({x, 1}, 0)", ":5: cat: tensors[2] must be a tensor, got number"},
		{"local z = flatten(x, 1, 0)", ":5: flatten: start_dim 1 comes after end_dim 0"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text2[2048], name[32];
		snprintf(text2, sizeof text2, "%s%s\nreturn {}\n", HEAD, cases[i].tail);
		snprintf(name, sizeof name, "slice_err%zu", i);
		const char *path = write_model(name, text2);
		char want[1024];
		snprintf(want, sizeof want, "%s%s", path, cases[i].want);
		load_fails(path, NULL, want);
	}
}

/* arg(name, default): --arg values take the default's type; unread or
 * malformed ones are errors. */
static void t_model_args(void **st)
{
	(void)st;
	const char *text =
		"local ds = arg('dataset', 'fashion')\n"
		"local n = arg('hidden', 16)\n"
		"local big = arg('big', false)\n"
		"local B = batch_size(4)\n"
		"local x = input('x', {B, ds == 'cifar10' and 3072 or 784})\n"
		"local y = input('y', {B}, {dtype = 'i32', classes = 10})\n"
		"local h = relu(linear(x, big and 2 * n or n))\n"
		"return { loss = cross_entropy(linear(h, 10), y), optimizer = { name = 'sgd' } }\n";
	const char *path = write_model("margs", text);
	ir_model *m = load_ok(path, NULL);
	expect_dims(m->inputs[0], 2, 4, 784);
	expect_dims(m->params[0], 2, 16, 784);
	fe_model_free(m);
	fe_options o;
	fe_options_init(&o);
	const char *args[] = {"dataset=cifar10", "hidden=8", "big=true"};
	o.args = args;
	o.nargs = 3;
	m = load_ok(path, &o);
	expect_dims(m->inputs[0], 2, 4, 3072);
	expect_dims(m->params[0], 2, 16, 3072);
	fe_model_free(m);
	const char *bad[][2] = {
		{"hiden=8", "--arg hiden=8: the model never reads 'hiden' with arg()"},
		{"hidden=8x", ":2: arg: --arg hidden=8x: 'hidden' takes a number"},
		{"big=1", ":3: arg: --arg big=1: 'big' takes true or false"},
		{"nameless", "model argument 'nameless' is not name=value"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		o.args = &bad[i][0];
		o.nargs = 1;
		load_fails(path, &o, bad[i][1]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_example_params_and_inputs),
		cmocka_unit_test(t_example_locations),
		cmocka_unit_test(t_example_recipe),
		cmocka_unit_test(t_overrides),
		cmocka_unit_test(t_sam_enabled_by_override),
		cmocka_unit_test(t_f64),
		cmocka_unit_test(t_adam_defaults_and_schedules),
		cmocka_unit_test(t_recipe_errors),
		cmocka_unit_test(t_dsl_functions),
		cmocka_unit_test(t_dsl_errors),
		cmocka_unit_test(t_dsl_slice),
		cmocka_unit_test(t_model_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
