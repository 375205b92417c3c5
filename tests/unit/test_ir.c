/*
 * test_ir.c - the graph IR's builder, shape rules, printer and verifier.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

static ir_shape S(int rank, int64_t a, int64_t b, int64_t c)
{
	int64_t d[3] = {a, b, c};
	return ir_shape_make(rank, d);
}

static ir_init Z = {IR_INIT_ZEROS, 0, 0};

static void expect_shape(const ir_node *n, ir_shape want)
{
	char a[64], b[64];
	assert_non_null(n);
	if (!ir_shape_eq(&n->shape, &want))
		fail_msg("shape %s, expected %s", ir_shape_str(&n->shape, a, sizeof a),
		         ir_shape_str(&want, b, sizeof b));
}

static void t_broadcast_rules(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *a = ir_input(g, "a", IR_F32, S(2, 2, 3, 0));
	ir_node *b = ir_input(g, "b", IR_F32, S(1, 3, 0, 0));
	ir_node *c = ir_input(g, "c", IR_F32, S(2, 2, 1, 0));
	ir_node *d = ir_input(g, "d", IR_F32, S(3, 4, 1, 3));
	expect_shape(ir_binary(g, IR_OP_ADD, a, b), S(2, 2, 3, 0));
	expect_shape(ir_binary(g, IR_OP_MUL, c, b), S(2, 2, 3, 0));
	expect_shape(ir_binary(g, IR_OP_SUB, a, d), S(3, 4, 2, 3));
	expect_shape(ir_binary(g, IR_OP_ADD, a, ir_scalar(g, 2.0)), S(2, 2, 3, 0));
	ir_node *bad = ir_input(g, "e", IR_F32, S(1, 4, 0, 0));
	assert_null(ir_binary(g, IR_OP_ADD, a, bad));
	assert_non_null(strstr(g->err, "add: shapes [2,3] and [4] cannot be broadcast together"));
	ir_graph_free(g);
}

static void t_matmul_and_locations(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_set_loc(g, "model.lua", 3);
	ir_node *x = ir_input(g, "x", IR_F32, S(2, 128, 784, 0));
	ir_node *w = ir_param(g, "w", IR_F32, S(2, 512, 10, 0), Z);
	ir_node *w2 = ir_param(g, "w2", IR_F32, S(2, 256, 784, 0), Z);
	ir_set_loc(g, "model.lua", 7);
	assert_null(ir_matmul(g, x, w, 0, 0));
	assert_string_equal(g->err, "model.lua:7: matmul: [128,784] x [512,10]: inner dimensions differ");
	ir_node *y = ir_matmul(g, x, w2, 0, 1);
	expect_shape(y, S(2, 128, 256, 0));
	assert_int_equal(y->loc.line, 7);
	assert_string_equal(y->loc.file, "model.lua");
	assert_int_equal(x->loc.line, 3);
	ir_graph_free(g);
}

static void t_reductions_and_movement(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F64);
	ir_node *x = ir_input(g, "x", IR_F64, S(3, 2, 3, 4));
	expect_shape(ir_reduce(g, IR_OP_SUM, x, 0, 0), S(0, 0, 0, 0));
	expect_shape(ir_reduce(g, IR_OP_SUM, x, 2, 0), S(2, 2, 4, 0));
	expect_shape(ir_reduce(g, IR_OP_MAX, x, 5, 1), S(3, 1, 3, 1));
	expect_shape(ir_mean(g, x, 4, 0), S(2, 2, 3, 0));
	expect_shape(ir_reshape(g, x, S(2, -1, 4, 0)), S(2, 6, 4, 0));
	assert_null(ir_reshape(g, x, S(2, 5, 5, 0)));
	assert_non_null(strstr(g->err, "cannot reshape [2,3,4] to [5,5]"));
	expect_shape(ir_transpose2(g, x, 0, 2), S(3, 4, 3, 2));
	expect_shape(ir_broadcast(g, ir_input(g, "b", IR_F64, S(2, 3, 1, 0)), S(3, 2, 3, 4)), S(3, 2, 3, 4));
	expect_shape(ir_softmax(g, IR_OP_LOG_SOFTMAX, x, -1), S(3, 2, 3, 4));
	assert_null(ir_reduce(g, IR_OP_SUM, x, 8, 0));
	ir_graph_free(g);
}

static void t_losses_and_types(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *lg = ir_input(g, "logits", IR_F32, S(2, 8, 10, 0));
	ir_node *y = ir_input(g, "y", IR_I32, S(1, 8, 0, 0));
	expect_shape(ir_cross_entropy(g, lg, y, IR_REDUCE_MEAN, 0.0), S(0, 0, 0, 0));
	expect_shape(ir_cross_entropy(g, lg, y, IR_REDUCE_NONE, 0.1), S(1, 8, 0, 0));
	expect_shape(ir_correct(g, lg, y), S(1, 8, 0, 0));
	assert_null(ir_cross_entropy(g, lg, lg, IR_REDUCE_MEAN, 0.0));
	assert_non_null(strstr(g->err, "labels must be an i32 tensor"));
	assert_null(ir_unary(g, IR_OP_RELU, y));
	assert_non_null(strstr(g->err, "relu: expects a float tensor, got i32"));
	ir_node *d = ir_input(g, "d", IR_F64, S(2, 8, 10, 0));
	assert_null(ir_binary(g, IR_OP_ADD, lg, d));
	assert_non_null(strstr(g->err, "different dtypes (f32 and f64)"));
	ir_graph_free(g);
}

static void t_leaves_and_assign(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_set_loc(g, "m.lua", 2);
	ir_node *w = ir_param(g, "fc.weight", IR_F32, S(1, 4, 0, 0), Z);
	ir_set_loc(g, "m.lua", 5);
	assert_null(ir_param(g, "fc.weight", IR_F32, S(1, 4, 0, 0), Z));
	assert_string_equal(g->err, "m.lua:5: param 'fc.weight' already defined (at line 2)");
	assert_null(ir_input(g, "x", IR_F32, S(1, -3, 0, 0)));
	assert_non_null(strstr(g->err, "dimension 0 is -3, must be positive"));
	ir_node *x = ir_input(g, "x", IR_F32, S(1, 4, 0, 0));
	assert_null(ir_assign(g, x, w));
	assert_non_null(strstr(g->err, "target must be a param or state"));
	assert_non_null(ir_assign(g, w, ir_binary(g, IR_OP_MUL, w, x)));
	assert_ptr_equal(ir_find_leaf(g, IR_OP_PARAM, "fc.weight"), w);
	assert_null(ir_find_leaf(g, IR_OP_PARAM, "x"));
	ir_graph_free(g);
}

static void t_verifier(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *a = ir_input(g, "a", IR_F32, S(2, 2, 3, 0));
	ir_node *s = ir_reduce(g, IR_OP_SUM, a, 1, 0);
	ir_node *w = ir_param(g, "w", IR_F32, S(1, 3, 0, 0), Z);
	ir_node *asg = ir_assign(g, w, s);
	assert_non_null(asg);
	assert_int_equal(ir_verify(g), 0);
	/* a pass that corrupts a node's type is caught */
	s->shape.dim[0] = 7;
	assert_int_not_equal(ir_verify(g), 0);
	assert_non_null(strstr(g->err, "its rule gives"));
	s->shape.dim[0] = 3;
	/* an input that refers forward is caught */
	s->in[0] = asg;
	assert_int_not_equal(ir_verify(g), 0);
	assert_non_null(strstr(g->err, "not an earlier node"));
	s->in[0] = a;
	/* two assigns to one target in a step are caught */
	assert_non_null(ir_assign(g, w, s));
	assert_int_not_equal(ir_verify(g), 0);
	assert_non_null(strstr(g->err, "assigned twice"));
	ir_graph_free(g);
}

static void t_printer(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_set_loc(g, "mlp.lua", 4);
	ir_node *x = ir_input(g, "x", IR_F32, S(2, 128, 784, 0));
	ir_init u = {IR_INIT_UNIFORM, -0.5, 0.5};
	ir_node *w = ir_param(g, "fc1.weight", IR_F32, S(2, 256, 784, 0), u);
	ir_set_loc(g, "mlp.lua", 5);
	ir_unary(g, IR_OP_RELU, ir_matmul(g, x, w, 0, 1));
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ir_print(f, g);
	fclose(f);
	assert_non_null(strstr(buf, "graph f32: 4 nodes, 1 params (200704 values), 1 inputs, 0 state"));
	assert_non_null(strstr(buf, "%1 = param \"fc1.weight\" init=uniform init_a=-0.5 init_b=0.5 : f32[256,784]   ; mlp.lua:4"));
	assert_non_null(strstr(buf, "%2 = matmul %0, %1 tb : f32[128,256]   ; mlp.lua:5"));
	assert_non_null(strstr(buf, "%3 = relu %2 : f32[128,256]"));
	free(buf);
	ir_graph_free(g);
}

static void t_clone_and_substitute(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *w = ir_param(g, "w", IR_F32, S(1, 3, 0, 0), Z);
	ir_node *x = ir_input(g, "x", IR_F32, S(1, 3, 0, 0));
	ir_node *y = ir_unary(g, IR_OP_EXP, ir_binary(g, IR_OP_MUL, w, x));
	ir_node *unrelated = ir_unary(g, IR_OP_NEG, x);
	ir_node **map = NULL;
	ir_graph *c = ir_graph_clone(g, &map);
	assert_int_equal(c->nnodes, g->nnodes);
	assert_string_equal(map[w->id]->name, "w");
	assert_int_equal(ir_verify(c), 0);
	free(map);
	ir_graph_free(c);

	int limit = g->nnodes;
	ir_node *wt = ir_binary(g, IR_OP_ADD, w, ir_scalar(g, 1.0));
	ir_node **sub = ir_substitute(g, limit, &w, &wt, 1);
	assert_non_null(sub[y->id]);
	assert_ptr_equal(sub[y->id]->in[0]->in[0], wt);
	assert_null(sub[unrelated->id]);
	assert_int_equal(ir_verify(g), 0);
	free(sub);
	ir_graph_free(g);
}

/* A pass points an early node at one appended later; reorder mends it. */
static void t_reorder(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *w = ir_param(g, "w", IR_F32, S(1, 3, 0, 0), Z);
	ir_node *x = ir_input(g, "x", IR_F32, S(1, 3, 0, 0));
	ir_node *a = ir_unary(g, IR_OP_EXP, x);
	ir_node *b = ir_binary(g, IR_OP_MUL, a, w);
	ir_node *c = ir_unary(g, IR_OP_NEG, b);
	ir_node *late = ir_binary(g, IR_OP_ADD, a, x); /* appended after c */
	b->in[0] = late;
	assert_int_not_equal(ir_verify(g), 0);
	assert_int_equal(ir_reorder(g), 0);
	assert_int_equal(ir_verify(g), 0);
	/* the old nodes keep their order; the new one lands before its user */
	assert_true(w->id < x->id && x->id < a->id && a->id < late->id && late->id < b->id &&
	            b->id < c->id);
	for (int i = 0; i < g->nnodes; i++)
		assert_int_equal(g->nodes[i]->id, i);
	/* a cycle is refused, not looped over */
	a->in[0] = c;
	assert_int_equal(ir_reorder(g), -1);
	assert_non_null(strstr(g->err, "cycle"));
	ir_graph_free(g);
}

/* Attributes live in a per-node array the op table describes; nodes of
 * any op can be made from an input array of any length its arity allows. */
static void t_attributes_and_inputs(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	int64_t d[2] = {3, 4};
	ir_node *x = ir_input(g, "x", IR_F32, ir_shape_make(2, d));
	ir_node *s = ir_reduce(g, IR_OP_SUM, x, 2, 1);
	assert_int_equal(ir_attr_i(s, IR_ATTR_AXES), 2);
	assert_int_equal(ir_attr_i(s, IR_ATTR_KEEPDIM), 1);
	assert_true(ir_attr_has(s, IR_ATTR_AXES));
	assert_false(ir_attr_has(s, IR_ATTR_PERM)); /* not a sum's attribute: reads 0 */
	assert_int_equal(ir_attr_i(s, IR_ATTR_TA), 0);
	assert_null(ir_attr_ints(s, IR_ATTR_PERM));
	int n;
	const ir_attr_desc *ad = ir_op_attrs(IR_OP_CROSS_ENTROPY, &n);
	assert_int_equal(n, 2);
	assert_string_equal(ir_attr_name(ad[1].key), "label_smoothing");

	/* a node from an input array: default attributes, the op's shape rule */
	ir_node *in[3] = {x, x, x};
	ir_node *m = ir_node_make(g, IR_OP_SUM, in, 1);
	assert_non_null(m);
	assert_int_equal(m->shape.rank, 0); /* axes default 0: every axis */
	assert_null(ir_node_make(g, IR_OP_ADD, in, 3));
	assert_non_null(strstr(g->err, "add: takes 2 inputs, got 3"));
	g->has_err = 0;
	ir_node *a = ir_node_make(g, IR_OP_ADD, in, 2);
	assert_non_null(a);
	assert_ptr_not_equal(a->in, in); /* the graph keeps its own copy */

	/* a clone's attributes are its own */
	ir_node **map = NULL;
	ir_graph *c = ir_graph_clone(g, &map);
	ir_attr_set_i(map[s->id], IR_ATTR_AXES, 1);
	assert_int_equal(ir_attr_i(s, IR_ATTR_AXES), 2);
	assert_int_equal(map[a->id]->nin, 2);
	assert_ptr_equal(map[a->id]->in[1], map[x->id]);
	free(map);
	ir_graph_free(c);

	/* the printer names every attribute from the table */
	char buf[256];
	FILE *f = fmemopen(buf, sizeof buf, "w");
	ir_print_node(f, s);
	fclose(f);
	assert_non_null(strstr(buf, "sum %0 axes=(1) keepdim : f32[3,1]"));

	/* the verifier checks enum attributes against their range */
	ir_node *w = ir_param(g, "w", IR_F32, ir_shape_make(2, d), (ir_init){IR_INIT_ONES, 0, 0});
	assert_int_equal(ir_verify(g), 0);
	ir_attr_set_i(w, IR_ATTR_INIT, 9);
	assert_int_equal(ir_verify(g), -1);
	assert_non_null(strstr(g->err, "out of range"));
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_broadcast_rules),   cmocka_unit_test(t_matmul_and_locations),
		cmocka_unit_test(t_reductions_and_movement), cmocka_unit_test(t_losses_and_types),
		cmocka_unit_test(t_leaves_and_assign), cmocka_unit_test(t_verifier),
		cmocka_unit_test(t_printer),           cmocka_unit_test(t_clone_and_substitute),
		cmocka_unit_test(t_reorder),
		cmocka_unit_test(t_attributes_and_inputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
