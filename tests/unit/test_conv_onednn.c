/*
 * test_conv_onednn.c - the CPU backend's f32 convolutions are oneDNN calls
 * (RT_K_CONV): a small net (a convolution with a bias add and relu, a
 * strided grouped one, a dilated one) compiles to one call per forward,
 * input-gradient and weight-gradient convolution, f64 and the conv_loops
 * option keep the generated loops, the emitted stages name the calls, and
 * the compiled step agrees with the reference interpreter on 1 and 2
 * threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cg_step.h"
#include "ir_conv.h"
#include "pass_autodiff.h"
#include "test_cg_harness.h"

/* x [6,3,10,10] (an input) -> conv 3->8, 3x3, padding 1, + bias, relu ->
 * conv 8->12, groups 2, stride 2, padding 1 -> conv 12->6, 3x3, padding 2,
 * dilation 2 -> loss sum(y * r); observes y and the four gradients. */
static ir_graph *net(ir_dtype t)
{
	ir_graph *g = ir_graph_new(t);
	ir_init zero = {IR_INIT_ZEROS, 0, 0};
	int64_t xd[4] = {6, 3, 10, 10}, w1d[4] = {8, 3, 3, 3}, bd[1] = {8}, b4[4] = {1, 8, 1, 1};
	int64_t w2d[4] = {12, 4, 3, 3}, w3d[4] = {6, 12, 3, 3};
	ir_node *x = ir_input(g, "x", t, ir_shape_make(4, xd));
	ir_node *p[4] = {ir_param(g, "w1", t, ir_shape_make(4, w1d), zero),
	                 ir_param(g, "b1", t, ir_shape_make(1, bd), zero),
	                 ir_param(g, "w2", t, ir_shape_make(4, w2d), zero),
	                 ir_param(g, "w3", t, ir_shape_make(4, w3d), zero)};
	ir_conv_params c1 = {1, 1, 1, 1, 1, 1, 1}, c2 = {2, 2, 1, 1, 1, 1, 2};
	ir_conv_params c3 = {1, 1, 2, 2, 2, 2, 1};
	ir_node *h = ir_conv2d(g, x, p[0], &c1);
	h = ir_unary(g, IR_OP_RELU,
	             ir_binary(g, IR_OP_ADD, h, ir_reshape(g, p[1], ir_shape_make(4, b4))));
	h = ir_conv2d(g, h, p[2], &c2);
	ir_node *y = ir_conv2d(g, h, p[3], &c3);
	assert_non_null(y);
	assert_int_equal(y->shape.dim[2], 5);
	ir_node *r = ir_input(g, "r", t, y->shape);
	ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, y, r), 0, 0);
	ir_node *gr[4];
	assert_int_equal(pass_grad(g, loss, p, 4, gr), 0);
	assert_non_null(cgh_observe(g, y, 0));
	for (int i = 0; i < 4; i++)
		assert_non_null(cgh_observe(g, gr[i], 1 + i));
	return g;
}

/* The compiled step's kernels: how many are convolution calls, and of
 * which operation. */
static int count_calls(ir_graph *g, int conv_loops, int *per_op)
{
	char err[1024];
	cg_step_options o;
	cg_step_options_default(&o);
	o.conv_loops = conv_loops;
	cg_step *st = cg_step_new(g, NULL, NULL, 0, &o, err, sizeof err);
	if (!st)
		fail_msg("%s", err);
	int n = 0;
	for (int i = 0; i < st->desc.nkernels; i++) {
		const rt_prog_kernel *k = &st->desc.kernels[i];
		if (k->kind != RT_K_CONV)
			continue;
		n++;
		per_op[k->conv_op]++;
		assert_null(k->fn);
		assert_int_equal(k->nargs, 3);
	}
	cg_step_free(st);
	return n;
}

static void test_kernels(void **state)
{
	(void)state;
	ir_graph *g = net(IR_F32);
	int per_op[3] = {0, 0, 0};
	/* three forwards, the input gradients of the two later convolutions
	 * (x is an input), three weight gradients */
	assert_int_equal(count_calls(g, 0, per_op), 8);
	assert_int_equal(per_op[RT_CONV_FWD], 3);
	assert_int_equal(per_op[RT_CONV_BWD_DATA], 2);
	assert_int_equal(per_op[RT_CONV_BWD_WEIGHT], 3);
	assert_int_equal(count_calls(g, 1, per_op), 0);
	ir_graph_free(g);
	g = net(IR_F64); /* oneDNN has no f64 convolution */
	assert_int_equal(count_calls(g, 0, per_op), 0);
	ir_graph_free(g);
}

/* `samc emit` shows the calls in the fusion and the loop IR */
static void test_emit(void **state)
{
	(void)state;
	ir_graph *g = net(IR_F32);
	static const struct {
		const char *stage, *needle;
	} want[] = {
		{"fuse", " conv "},
		{"lower", "conv forward x=[6,3,10,10] o=8 k=3x3 stride=1x1 pad=1x1 dil=1x1 groups=1"},
		{"lower", "conv backward_data x=[6,8,10,10] o=12 k=3x3 stride=2x2 pad=1x1 dil=1x1 groups=2"},
		{"lower", "conv backward_weights x=[6,12,5,5] o=6 k=3x3 stride=1x1 pad=2x2 dil=2x2"},
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		char *buf = NULL, err[1024];
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		assert_non_null(f);
		int rc = cg_cpu_emit(f, want[i].stage, g, NULL, 0, err, sizeof err);
		fclose(f);
		if (rc)
			fail_msg("%s", err);
		if (!strstr(buf, want[i].needle))
			fail_msg("stage %s lacks \"%s\":\n%s", want[i].stage, want[i].needle, buf);
		free(buf);
	}
	ir_graph_free(g);
}

/* the step through oneDNN against the interpreter (double sums rounded
 * once), on 1 and 2 threads, two steps: within f32 rounding of the sums.
 * conv1's weight gradient sums 600 products whose factors reach ~10 (the
 * gradient through two convolutions of values in [-1, 1]) into results
 * near 0.03: f32 sums of them are good to an absolute ~1e-4 at worst
 * (measured: 2.3e-5 of |value| + 1). */
static void test_agrees_with_interpreter(void **state)
{
	(void)state;
	ir_graph *g = net(IR_F32);
	for (int t = 1; t <= 2; t++) {
		cg_options o;
		cg_options_default(&o);
		o.threads = t;
		char err[1024] = "";
		double worst = 0;
		int rc = cgh_compare_with(g, NULL, NULL, 0, &o, 2, 1e-4, 5, &worst, err, sizeof err);
		if (rc)
			fail_msg("%d threads: %s", t, err);
		print_message("%d threads: worst scaled difference %.3g\n", t, worst);
		/* not the generated loops' bits: oneDNN sums in f32 */
		assert_true(worst > 0);
	}
	ir_graph_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernels),
		cmocka_unit_test(test_emit),
		cmocka_unit_test(test_agrees_with_interpreter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
