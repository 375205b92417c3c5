/*
 * test_frontend_norm.c - the model language's batch_norm and layer_norm:
 * the parameters and state they declare (PyTorch's state_dict names,
 * shapes and initial values), default names, the state updates the model
 * records, and their argument errors with the model's file and line.
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
	"local x = input(\"x\", {B, 24})\n"
	"local y = input(\"y\", {B}, {dtype = \"i32\", classes = 3})\n"
	"local img = reshape(x, {B, 2, 3, 4})\n";

static const char *const TAIL =
	"return {loss = sum(a) + sum(b) + sum(c) + sum(d), epochs = 1,\n"
	"  optimizer = {name = \"sgd\", lr = 0.1},\n"
	"  data = {format = \"idx\", train = {x = \"a\", y = \"b\"}}}\n";

static const char *write_model(const char *name, const char *body)
{
	return test_write_model("test_frontend_norm", name, HEAD, body);
}

static const ir_node *leaf(const ir_model *m, ir_op op, const char *name, int rank,
                           const int64_t *dims, ir_init_kind init)
{
	const ir_node *n = ir_find_leaf(m->g, op, name);
	if (!n)
		fail_msg("no %s '%s'", ir_op_name(op), name);
	assert_int_equal(n->shape.rank, rank);
	for (int i = 0; i < rank; i++)
		assert_int_equal(n->shape.dim[i], dims[i]);
	assert_int_equal(ir_node_init(n).kind, init);
	assert_int_equal(n->dtype, m->g->fdtype);
	return n;
}

static void t_declarations(void **st)
{
	(void)st;
	const char *path = write_model(
		"ok", "local a = batch_norm(x)\n"                                   /* bn1, [B,24] */
		      "local b = batch_norm(img, {momentum = 0.5, eps = 1e-3})\n"  /* bn2, NCHW */
		      "local c = batch_norm(img, {name = \"stem\", affine = false})\n"
		      "local d = sum(layer_norm(img, {3, 4})) + sum(layer_norm(x, 24, {name = \"head_ln\"}))\n"
		      "local e = layer_norm(img, 4, {elementwise_affine = false})\n" /* ln2 */
		      "d = d + sum(e)\n");
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	fputs(TAIL, f);
	fclose(f);
	ir_model *m = NULL;
	char err[1024];
	if (fe_load_model(path, NULL, &m, err, sizeof err))
		fail_msg("%s", err);
	int64_t c24 = 24, c2 = 2, ln[2] = {3, 4};
	leaf(m, IR_OP_PARAM, "bn1.weight", 1, &c24, IR_INIT_ONES);
	leaf(m, IR_OP_PARAM, "bn1.bias", 1, &c24, IR_INIT_ZEROS);
	leaf(m, IR_OP_STATE, "bn1.running_mean", 1, &c24, IR_INIT_ZEROS);
	leaf(m, IR_OP_STATE, "bn1.running_var", 1, &c24, IR_INIT_ONES);
	leaf(m, IR_OP_STATE, "bn1.num_batches_tracked", 0, NULL, IR_INIT_ZEROS);
	leaf(m, IR_OP_PARAM, "bn2.weight", 1, &c2, IR_INIT_ONES);
	leaf(m, IR_OP_STATE, "bn2.running_var", 1, &c2, IR_INIT_ONES);
	/* affine = false: state, no params */
	assert_null(ir_find_leaf(m->g, IR_OP_PARAM, "stem.weight"));
	assert_null(ir_find_leaf(m->g, IR_OP_PARAM, "stem.bias"));
	leaf(m, IR_OP_STATE, "stem.running_mean", 1, &c2, IR_INIT_ZEROS);
	leaf(m, IR_OP_PARAM, "ln1.weight", 2, ln, IR_INIT_ONES);
	leaf(m, IR_OP_PARAM, "ln1.bias", 2, ln, IR_INIT_ZEROS);
	leaf(m, IR_OP_PARAM, "head_ln.weight", 1, &c24, IR_INIT_ONES);
	assert_null(ir_find_leaf(m->g, IR_OP_PARAM, "ln2.weight"));
	/* params in declaration order, as a state_dict lists them */
	const char *order[] = {"bn1.weight", "bn1.bias", "bn2.weight", "bn2.bias", "ln1.weight",
	                       "ln1.bias", "head_ln.weight", "head_ln.bias"};
	assert_int_equal(m->nparams, 8);
	for (int i = 0; i < 8; i++)
		assert_string_equal(m->params[i]->name, order[i]);
	/* three updates per batch_norm, in order; momentum 0.5 for bn2 */
	assert_int_equal(m->nupdates, 9);
	const char *upd[] = {"bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"};
	for (int i = 0; i < 3; i++)
		assert_string_equal(m->updates[i].target->name, upd[i]);
	const ir_node *v = m->updates[3].value; /* bn2.running_mean := 0.5*mean + 0.5*rm */
	assert_int_equal(v->op, IR_OP_ADD);
	assert_int_equal(v->in[0]->in[0]->op, IR_OP_CONST);
	assert_true(ir_attr_f(v->in[0]->in[0], IR_ATTR_VALUE) == 0.5);
	for (int i = 0; i < m->nupdates; i++)
		assert_true(ir_shape_eq(&m->updates[i].target->shape, &m->updates[i].value->shape));
	fe_model_free(m);
}

static void t_errors(void **st)
{
	(void)st;
	struct {
		const char *body, *want;
	} cases[] = {
		{"local z = batch_norm(sum(x, 1))", ":5: batch_norm: input must be a float tensor [N, C] or [N, C, H, W], got tensor f32[4]"},
		{"local z = batch_norm(x, {momentum = 2})", ":5: batch_norm: option momentum must be in [0, 1], got 2"},
		{"local z = batch_norm(x, {eps = \"1\"})", ":5: batch_norm: option eps must be a finite number, got string"},
		{"local z = batch_norm(x, {affine = 1})", ":5: batch_norm: option affine must be true or false, got number"},
		{"local z = batch_norm(x, {mom = 0.1})", ":5: batch_norm: unknown option 'mom'"},
		{"local z = batch_norm(reshape(x, {1, 96}))", ":5: batch_norm: expected more than 1 value per channel when training, got input [1,96]"},
		{"local z = batch_norm(x, {name = \"n\"})\nlocal w = batch_norm(x, {name = \"n\"})", ":6: batch_norm: parameter 'n.weight' already declared at line 5"},
		{"local p = param(\"n.running_mean\", {24})\nlocal z = batch_norm(x, {name = \"n\", affine = false})", ":6: batch_norm: parameter 'n.running_mean' already declared at line 5"},
		{"local z = batch_norm(x, {name = \"n\", affine = false})\nlocal p = param(\"n.running_var\", {24})", ":6: param: 'n.running_var' already declared as a state at line 5"},
		{"local z = layer_norm(img, {2, 4})", ":5: layer_norm: normalized_shape [2,4] must be the trailing dims of the input tensor f32[4,2,3,4]"},
		{"local z = layer_norm(img, 5)", ":5: layer_norm: normalized_shape [5] must be the trailing dims"},
		{"local z = layer_norm(img)", ":5: layer_norm: argument 2 (normalized_shape) must be"},
		{"local z = layer_norm(img, 4, {eps = -1})", ":5: layer_norm: option eps must be >= 0, got -1"},
		{"local z = layer_norm(img, 4, {affine = false})", ":5: layer_norm: unknown option 'affine'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[32], want[1024], err[1024] = "";
		snprintf(name, sizeof name, "err%zu", i);
		char body[512];
		snprintf(body, sizeof body, "%s\nreturn {}", cases[i].body);
		const char *path = write_model(name, body);
		if (cases[i].want[0] == ':')
			snprintf(want, sizeof want, "%s%s", path, cases[i].want);
		else
			snprintf(want, sizeof want, "%s", cases[i].want);
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
		cmocka_unit_test(t_declarations),
		cmocka_unit_test(t_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
