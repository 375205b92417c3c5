/*
 * test_state_init.c - a STATE's init rule (zeros, ones, a constant) from
 * the graph to the CPU step's slots and to the C table `samc build` writes
 * for a standalone trainer (the interpreter's slots: test_interp.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_aot.h"
#include "cg_step.h"
#include "test_model.h"

static void t_state_rules_reach_the_table(void **st)
{
	(void)st;
	ir_model *m = test_load_model("examples/fashion_mlp.lua", IR_F32, NULL, 0);
	ir_graph *g = ir_graph_new(IR_F32);
	int64_t d = 3;
	ir_node *v = ir_state_init(g, "bn.running_var", IR_F32, ir_shape_make(1, &d),
	                           (ir_init){IR_INIT_ONES, 0, 0});
	ir_node *c = ir_state_init(g, "c", IR_F32, ir_shape_make(1, &d),
	                           (ir_init){IR_INIT_CONST, 0.5, 0});
	ir_node *z = ir_state(g, "z", IR_F32, ir_shape_make(1, &d));
	ir_node *s = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_ADD, ir_binary(g, IR_OP_ADD, v, c), z), 0, 0);
	assert_non_null(ir_assign(g, v, ir_binary(g, IR_OP_MUL, v, ir_scalar(g, 0.5))));
	const char *names[] = {"s"};
	char err[1024];
	cg_step *step = cg_step_new(g, &s, names, 1, NULL, err, sizeof err);
	if (!step)
		fail_msg("%s", err);
	assert_int_equal(step->desc.nslots, 3);
	assert_int_equal(step->desc.slots[0].init, RT_INIT_ONES);
	assert_int_equal(step->desc.slots[1].init, RT_INIT_CONST);
	assert_true(step->desc.slots[1].init_a == 0.5);
	assert_int_equal(step->desc.slots[2].init, RT_INIT_ZEROS);

	cg_aot_unit u = {.model = "state.lua", .program_hash = "0", .recipe = &m->recipe};
	u.step[CG_AOT_SAM] = step;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_int_equal(cg_aot_write_table(f, &u, err, sizeof err), 0);
	fclose(f);
	const char *at = strstr(text, "\"bn.running_var\"");
	assert_non_null(at);
	assert_non_null(strstr(at, ".init = RT_INIT_ONES"));
	at = strstr(text, "\"c\"");
	assert_non_null(at);
	assert_non_null(strstr(at, ".init = RT_INIT_CONST, .init_a = 0x1p-1"));
	free(text);
	cg_step_free(step);
	ir_graph_free(g);
	fe_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_state_rules_reach_the_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
