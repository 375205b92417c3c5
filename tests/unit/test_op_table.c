/*
 * test_op_table.c - walks the op table (ir.h) and fails when an op lacks
 * one of its facets: a shape rule, an interpreter kernel, a derivative rule
 * (or the table's word that it has a zero or no derivative), a lowering, a
 * DSL binding that builds it (or the word that it is internal), and a
 * gradient-check case when it has a derivative rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "cg_lower.h"
#include "fe_bindings.h"
#include "fe_model.h"
#include "ir.h"
#include "ir_infer.h"
#include "ir_interp.h"
#include "pass_autodiff.h"
#include "test_gradcheck_cases.h"

/* Leaves other than CONST get their values from slots or from a pass. */
static int valued_elsewhere(ir_op op)
{
	return ir_op_kind(op) == IR_KIND_LEAF && op != IR_OP_CONST;
}

static void t_shape_rules(void **st)
{
	(void)st;
	for (int op = 0; op < IR_OP_COUNT; op++)
		if (!ir_infer_has_rule((ir_op)op))
			fail_msg("%s has no shape rule (ir/ir_infer.c)", ir_op_name((ir_op)op));
}

static void t_interpreter(void **st)
{
	(void)st;
	for (int op = 0; op < IR_OP_COUNT; op++)
		if (!valued_elsewhere((ir_op)op) && !ir_interp_has_kernel((ir_op)op))
			fail_msg("%s has no interpreter kernel (ir/ir_interp_ops.c)", ir_op_name((ir_op)op));
}

static void t_gradients(void **st)
{
	(void)st;
	for (int op = 0; op < IR_OP_COUNT; op++) {
		const char *name = ir_op_name((ir_op)op);
		ir_grad_kind k = ir_op_grad((ir_op)op);
		if ((k == IR_GRAD_LEAF) != (ir_op_kind((ir_op)op) == IR_KIND_LEAF))
			fail_msg("%s: IR_GRAD_LEAF is for leaves, and every leaf has it", name);
		if (k == IR_GRAD_RULE && !pass_grad_has_rule((ir_op)op))
			fail_msg("%s has no derivative rule (passes/pass_autodiff.c, ir/ir_ops_elem.def) "
			         "and the op table does not say IR_GRAD_ZERO or IR_GRAD_NONE", name);
		if (k != IR_GRAD_RULE && pass_grad_has_rule((ir_op)op))
			fail_msg("%s has a derivative rule the op table does not use", name);
	}
}

static void t_lowering(void **st)
{
	(void)st;
	for (int op = 0; op < IR_OP_COUNT; op++)
		if (!valued_elsewhere((ir_op)op) && !cg_lower_has((ir_op)op))
			fail_msg("%s has no loop-IR lowering (codegen/cg_lower_ops.c)", ir_op_name((ir_op)op));
}

static void t_attributes(void **st)
{
	(void)st;
	for (int op = 0; op < IR_OP_COUNT; op++) {
		int n;
		const ir_attr_desc *d = ir_op_attrs((ir_op)op, &n);
		assert_true(n <= IR_MAX_ATTRS);
		for (int i = 0; i < n; i++)
			for (int j = 0; j < i; j++)
				if (d[i].key == d[j].key)
					fail_msg("%s lists attribute %s twice", ir_op_name((ir_op)op),
					         ir_attr_name(d[i].key));
	}
}

/* Loads a model whose line 5 is `local v = <example>`; returns the graph. */
static ir_model *load_example(const fe_binding *b, char *err, size_t errlen)
{
	char path[1024];
	/* the pid keeps two runs of this test (two build trees, a rerun) apart */
	snprintf(path, sizeof path, "%s/test_op_table_%ld_%d.lua", SAMC_BINARY_DIR, (long)getpid(),
	         (int)b->op);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "local B = batch_size(4)\n"
	           "local x = input(\"x\", {B, 3})\n"
	           "local y = input(\"y\", {B}, {dtype = \"i32\", classes = 3})\n"
	           "local w = param(\"w\", {3, 3})\n"
	           "local v = %s\n"
	           "return {loss = cross_entropy(matmul(x, w), y), optimizer = {name = \"sgd\", lr = 0.1}}\n",
	        b->example);
	fclose(f);
	ir_model *m = NULL;
	int rc = fe_load_model(path, NULL, &m, err, errlen);
	remove(path);
	return rc ? NULL : m;
}

static void t_dsl_bindings(void **st)
{
	(void)st;
	for (int op = 0; op < IR_OP_COUNT; op++) {
		const char *name = ir_op_name((ir_op)op);
		const fe_binding *b = fe_op_binding((ir_op)op);
		if (ir_op_dsl((ir_op)op) == IR_DSL_INTERNAL) {
			if (b)
				fail_msg("%s is bound in the DSL but the op table says internal", name);
			continue;
		}
		if (!b)
			fail_msg("%s has no DSL binding (frontend/fe_bindings.c) and the op table "
			         "does not say IR_DSL_INTERNAL", name);
		char err[1024];
		ir_model *m = load_example(b, err, sizeof err);
		if (!m)
			fail_msg("%s: the example `%s` does not load: %s", name, b->example, err);
		int found = 0;
		for (int i = 0; i < m->g->nnodes; i++)
			found |= m->g->nodes[i]->op == (ir_op)op && m->g->nodes[i]->loc.line == 5;
		fe_model_free(m);
		if (!found)
			fail_msg("%s: the example `%s` makes no %s node", name, b->example, name);
	}
}

/* Every op with a derivative rule is what some gradient-check case checks,
 * and the case's graph really contains it. */
static void t_gradcheck_cases(void **st)
{
	(void)st;
	static const struct {
		const char *name;
		ir_op op;
		gc_build build;
	} cases[] = {
#define X(N, OP) {#N, IR_OP_##OP, b_##N},
		GC_CASES(X)
#undef X
	};
	char covered[IR_OP_COUNT] = {0};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		gc_case c = {ir_graph_new(IR_F64), {0}, 0, NULL};
		assert_non_null(cases[i].build(&c));
		int found = 0;
		for (int j = 0; j < c.g->nnodes; j++)
			found |= c.g->nodes[j]->op == cases[i].op;
		ir_graph_free(c.g);
		if (!found)
			fail_msg("gradient-check case %s builds no %s node", cases[i].name,
			         ir_op_name(cases[i].op));
		covered[cases[i].op] = 1;
	}
	for (int op = 0; op < IR_OP_COUNT; op++)
		if (ir_op_grad((ir_op)op) == IR_GRAD_RULE && !covered[op])
			fail_msg("%s has a derivative rule but no gradient-check case "
			         "(tests/unit/test_gradcheck_cases.h)", ir_op_name((ir_op)op));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_shape_rules),
		cmocka_unit_test(t_interpreter),
		cmocka_unit_test(t_gradients),
		cmocka_unit_test(t_lowering),
		cmocka_unit_test(t_attributes),
		cmocka_unit_test(t_dsl_bindings),
		cmocka_unit_test(t_gradcheck_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
