/*
 * test_cuda_programs.c - whole training programs through the generated
 * CUDA C run on the host (test_cuda_host.h): the SAM, base and eval steps
 * of the example MLP and of the oracle's models (convolutions as library
 * calls and as generated kernels, pooling,
 * batch and layer norm, embedding, dropout, the other ops and losses),
 * three steps each against the interpreter, every parameter, optimizer
 * state and output compared after each step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_cuda_host.h"

#define cg_cpu_exec_new cuda_host_exec_new
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
	/* as test_cg_programs: f32 2e-4 over three steps, f64 1e-9 */
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

static void test_mlp(void **st)
{
	(void)st;
	const char *sets[] = {"batch_size=16", "optimizer.sam.every=2"};
	run_programs("examples/fashion_mlp.lua", IR_F32, sets, 2);
	run_programs("examples/fashion_mlp.lua", IR_F64, sets, 2);
	run_programs("tests/diff/mlp_adam.lua", IR_F32, NULL, 0);
}

static void test_cnn(void **st)
{
	(void)st;
	run_programs("tests/oracle/models/conv_sam.lua", IR_F32, NULL, 0);
	run_programs("tests/oracle/models/convnet_bn_sam.lua", IR_F32, NULL, 0);
	run_programs("tests/oracle/models/convnet_bn_sam.lua", IR_F64, NULL, 0);
	run_programs("tests/oracle/models/pool_sam.lua", IR_F32, NULL, 0);
	/* f32 convolutions as generated CUDA kernels rather than library calls */
	cuda_host.conv_loops = 1;
	run_programs("tests/oracle/models/convnet_bn_sam.lua", IR_F32, NULL, 0);
	cuda_host.conv_loops = 0;
}

static void test_oracle_models(void **st)
{
	(void)st;
	static const char *const models[] = {
	    "adamw", "asam_sgd", "bce_logits", "bmm_sam", "bn_sam", "cosine", "dropout_sam",
	    "elem_ops", "embed_sam", "ln_asam", "nll", "regression", "sam_groups", "slice_ops",
	    "smooth_acts", "soft_targets",
	};
	for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
		char path[256];
		snprintf(path, sizeof path, "tests/oracle/models/%s.lua", models[i]);
		run_programs(path, IR_F32, NULL, 0);
	}
}

static int cases(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mlp),
	    cmocka_unit_test(test_cnn),
	    cmocka_unit_test(test_oracle_models),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* NVRTC checks every kernel; ptxas assembles test_cuda_ops' kernels and
 * (at full optimisation) test_cuda_ptx's programs: here it would take
 * most of the test's time. */
int main(void)
{
	return cuda_host_main(cases, "test_cuda_programs", 0);
}
