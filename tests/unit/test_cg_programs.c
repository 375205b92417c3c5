/*
 * test_cg_programs.c - whole training programs (the pipeline's SAM, base
 * and eval steps of the example models, several optimizers, f32 and f64)
 * through the CPU backend against the interpreter, three steps each, with
 * every parameter, optimizer state and output compared after each step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fe_model.h"
#include "pass_pipeline.h"
#include "test_cg_harness.h"
#include "test_model.h"

static void run_programs(const char *model, ir_dtype t, const char *const *sets, int nsets)
{
	char err[1024];
	ir_model *m = test_load_model(model, t, sets, nsets);
	pass_programs ps;
	if (pass_build_all(m, &ps, err, sizeof err)) {
		print_error("%s\n", err);
		fail();
	}
	pass_program *progs[3] = {&ps.sam, &ps.base, &ps.eval};
	/* f32: three steps of SGD/Adam on random weights, loss through
	 * softmax and GEMMs summed in different orders -> 2e-4; f64: 1e-9 */
	double tol = t == IR_F32 ? 2e-4 : 1e-9;
	for (int i = 0; i < 3; i++) {
		pass_program *p = progs[i];
		if (!p->g)
			continue;
		double worst;
		int rc = cgh_compare(p->g, p->outs, p->names, p->nout, 3, tol, 11, &worst, err, sizeof err);
		if (rc)
			print_error("%s program %d: %s\n", model, i, err);
		assert_int_equal(rc, 0);
	}
	pass_programs_free(&ps);
	fe_model_free(m);
}

static void test_mlp_sam_sgd(void **st)
{
	(void)st;
	const char *sets[] = {"batch_size=16", "optimizer.sam.every=2"};
	run_programs("examples/fashion_mlp.lua", IR_F32, sets, 2);
	run_programs("examples/fashion_mlp.lua", IR_F64, sets, 2);
}

static void test_adam_adamw_nesterov(void **st)
{
	(void)st;
	run_programs("tests/diff/mlp_adam.lua", IR_F32, NULL, 0);
	const char *adamw[] = {"optimizer.name=adamw", "optimizer.weight_decay=0.01",
	                       "optimizer.sam.every=3"};
	run_programs("tests/diff/mlp_adam.lua", IR_F64, adamw, 3);
	const char *nesterov[] = {"batch_size=8", "optimizer.nesterov=true"};
	run_programs("examples/fashion_mlp2.lua", IR_F32, nesterov, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mlp_sam_sgd),
	    cmocka_unit_test(test_adam_adamw_nesterov),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
