/*
 * test_cuda_ptx.c - the CUDA backend's rows of the pass table: `samc emit
 * --stage=cuda` and `--stage=ptx` over the example MLP's SAM step and the
 * conv net's; NVRTC at full optimisation for compute_80 and compute_90,
 * ptxas for sm_80 and sm_90 on its PTX (registers and shared memory
 * reported); NVRTC's log wrapped into a message that names the kernel and
 * its model line. Skipped without NVRTC in the build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_cuda_host.h"
#include "pass_pipeline.h"
#include "test_model.h"

static char dir[4096];

static char *emit(const char *model, const char *stage, size_t *len)
{
	char err[4096];
	ir_model *m = test_load_model(model, IR_F32, NULL, 0);
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	cg_step_options so;
	cg_step_options_default(&so);
	int rc = pass_emit(f, m, PASS_PROG_SAM, cg_cuda_backend(), &so, stage, &so.pass, err, sizeof err);
	fclose(f);
	fe_model_free(m);
	if (rc)
		fail_msg("%s: %s", model, err);
	return buf;
}

static void check_model(const char *model)
{
	size_t len;
	char *cu = emit(model, "cuda", &len);
	assert_non_null(strstr(cu, "extern \"C\" __global__ void "));
	/* the weights' GEMMs (and f32 convolutions) are library calls, listed
	 * and not rendered */
	assert_non_null(strstr(cu, "library calls, in schedule order"));
	assert_non_null(strstr(cu, " AtB f32 "));
	if (strstr(model, "convnet"))
		assert_non_null(strstr(cu, "backward weights"));
	free(cu);
	char *ptx = emit(model, "ptx", &len);
	assert_non_null(strstr(ptx, ".visible .entry "));
	assert_non_null(strstr(ptx, ".target sm_90"));
	int regs;
	long smem;
	int rc = cuda_host_ptxas(ptx, len, "sm_90", "", dir, &regs, &smem);
	assert_int_not_equal(rc, -1);
	if (rc == 0)
		print_message("%s: sm_90: at most %d registers, %ld bytes of shared memory\n", model, regs,
		              smem);
	free(ptx);
}

static void test_emit_mlp(void **st)
{
	(void)st;
	check_model("examples/fashion_mlp.lua");
}

static void test_emit_cnn(void **st)
{
	(void)st;
	check_model("tests/oracle/models/convnet_bn_sam.lua");
}

/* the row's list of architectures; sm_80 assembled */
static void test_sm80(void **st)
{
	(void)st;
	char err[4096];
	ir_model *m = test_load_model("tests/oracle/models/conv_sam.lua", IR_F32, NULL, 0);
	pass_program p;
	assert_int_equal(pass_build(m, PASS_PROG_SAM, &p, err, sizeof err), 0);
	cg_step_options so;
	cg_step_options_default(&so);
	so.cuda = 2;
	so.cuda_arch = "compute_80,compute_90";
	cg_step *s = cg_step_new(p.g, p.outs, p.names, p.nout, &so, err, sizeof err);
	if (!s)
		fail_msg("%s", err);
	assert_int_equal(s->nptx, 2);
	assert_string_equal(s->ptx[0].arch, "compute_80");
	assert_non_null(strstr(s->ptx[0].text, ".target sm_80"));
	assert_non_null(strstr(s->ptx[1].text, ".target sm_90"));
	int regs;
	long smem;
	int rc = cuda_host_ptxas(s->ptx[0].text, s->ptx[0].len, "sm_80", "", dir, &regs, &smem);
	assert_int_not_equal(rc, -1);
	if (rc == 0)
		print_message("conv_sam: sm_80: %d kernels, at most %d registers, %ld bytes of shared "
		              "memory\n", s->cuda->nk, regs, smem);
	cg_step_free(s);
	pass_program_free(&p);
	fe_model_free(m);
}

static void test_arch_list(void **st)
{
	(void)st;
	char a[CG_NVRTC_MAX_ARCHS][24], err[256];
	assert_int_equal(cg_nvrtc_arch_list(NULL, a, CG_NVRTC_MAX_ARCHS, err, sizeof err), 1);
	assert_string_equal(a[0], "compute_90");
	assert_int_equal(cg_nvrtc_arch_list("compute_80,compute_120", a, CG_NVRTC_MAX_ARCHS, err,
	                                    sizeof err), 2);
	assert_string_equal(a[1], "compute_120");
	assert_int_equal(cg_nvrtc_arch_list("compute_80,sm_90", a, CG_NVRTC_MAX_ARCHS, err, sizeof err),
	                 -1);
	assert_non_null(strstr(err, "'sm_90'"));
	assert_int_equal(cg_nvrtc_arch_list("compute_60", a, CG_NVRTC_MAX_ARCHS, err, sizeof err), -1);
	assert_int_equal(cg_nvrtc_arch_list("compute_90x", a, CG_NVRTC_MAX_ARCHS, err, sizeof err), -1);
}

static const char *where_of(void *ctx, const cg_cuda_kernel *k)
{
	return ((cg_step *)ctx)->where[k->kernel];
}

/* a kernel NVRTC refuses: the message names it and the model's line */
static void test_error_names_kernel(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_set_loc(g, "model.lua", 7);
	int64_t d[2] = {4, 3};
	ir_node *x = ir_input(g, "x", IR_F32, ir_shape_make(2, d));
	ir_node *y = ir_input(g, "y", IR_I32, ir_shape_make(1, d));
	ir_set_loc(g, "model.lua", 12);
	ir_node *loss = ir_cross_entropy(g, x, y, IR_REDUCE_MEAN, 0.0);
	const char *name = "loss";
	char err[8192];
	cg_step_options so;
	cg_step_options_default(&so);
	so.cuda = 1;
	cg_step *s = cg_step_new(g, &loss, &name, 1, &so, err, sizeof err);
	if (!s)
		fail_msg("%s", err);
	/* the cross-entropy kernel's first store of its result, misspelt */
	const cg_cuda_kernel *k = NULL;
	for (int i = 0; i < s->cuda->nk; i++)
		if (strstr(s->cuda->k[i].name, "cross_entropy"))
			k = &s->cuda->k[i];
	assert_non_null(k);
	char *at = strstr(strstr(s->cuda->src, k->name), "b0[");
	assert_non_null(at);
	at[0] = 'q';
	char *ptx = NULL;
	size_t len;
	assert_int_equal(cg_nvrtc_compile(s->cuda, NULL, where_of, s, &ptx, &len, err, sizeof err), -1);
	print_message("%.300s\n", err);
	assert_non_null(strstr(err, k->name));
	assert_non_null(strstr(err, "model.lua:12"));
	assert_non_null(strstr(err, "compute_90"));
	assert_non_null(strstr(err, "q0"));
	cg_step_free(s);
	ir_graph_free(g);
}

int main(void)
{
	if (!cg_nvrtc_available()) {
		fprintf(stderr, "test_cuda_ptx: this build has no CUDA toolkit (NVRTC): skipped\n");
		return 77;
	}
	if (tmpdir_make(dir, sizeof dir, "test_cuda_ptx"))
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_emit_mlp),
	    cmocka_unit_test(test_emit_cnn),
	    cmocka_unit_test(test_sm80),
	    cmocka_unit_test(test_arch_list),
	    cmocka_unit_test(test_error_names_kernel),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0)
		tmpdir_remove(dir);
	return rc;
}
