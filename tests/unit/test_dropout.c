/*
 * test_dropout.c - dropout and its random input: the noise's documented
 * layout (seed, step, element), its independence of the thread count, the
 * fraction of zeros and the scale of what is kept, p = 0 and p = 1, the
 * eval program (identity, no noise read), and one mask per step in SAM's
 * program, read by both passes.
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
#include "ir_interp.h"
#include "pass_pipeline.h"
#include "pass_simplify.h"
#include "rt_noise.h"
#include "rt_pool.h"
#include "rt_rng.h"
#include "rt_store.h"

/* The documented layout: element i of "rng.NAME" at step t comes from
 * block (seed, fnv1a64("rng.NAME"), t * nb + i / per): f32 word i % 4 of
 * it, f64 words 2j, 2j + 1 (j = i % 2); nb = ceil(N / per). */
static void t_noise_layout(void **st)
{
	(void)st;
	enum { N = 1001 };
	float a[N], b[N];
	double c[N];
	rt_noise_draw("rng.drop", RT_F32, N, 5, 3, a);
	rt_noise_draw("rng.drop", RT_F32, N, 5, 3, b);
	assert_memory_equal(a, b, sizeof a);
	uint64_t stream = rt_rng_stream_of("rng.drop");
	uint32_t w[4];
	for (int i = 0; i < N; i++) {
		rt_rng_block(5, stream, 3 * ((N + 3) / 4) + (uint64_t)(i / 4), w);
		assert_true(a[i] == (float)(w[i % 4] >> 8) * 0x1p-24f);
		assert_true(a[i] >= 0 && a[i] < 1);
	}
	/* the first word of each block is what rt_rng_uniform_f32 reads */
	assert_true(a[4] == rt_rng_uniform_f32(5, stream, 3 * ((N + 3) / 4) + 1));
	rt_noise_draw("rng.drop", RT_F64, N, 5, 3, c);
	for (int i = 0; i < N; i++) {
		rt_rng_block(5, stream, 3 * ((N + 1) / 2) + (uint64_t)(i / 2), w);
		uint64_t u = ((uint64_t)w[2 * (i % 2)] << 32) | w[2 * (i % 2) + 1];
		assert_true(c[i] == (double)(u >> 11) * 0x1p-53);
	}
	assert_true(c[2] == rt_rng_uniform_f64(5, stream, 3 * ((N + 1) / 2) + 1));
	/* another step, seed or layer draws other values */
	rt_noise_draw("rng.drop", RT_F32, N, 5, 4, b);
	assert_memory_not_equal(a, b, sizeof a);
	rt_noise_draw("rng.drop", RT_F32, N, 6, 3, b);
	assert_memory_not_equal(a, b, sizeof a);
	rt_noise_draw("rng.drop2", RT_F32, N, 5, 3, b);
	assert_memory_not_equal(a, b, sizeof a);
}

/* rt_noise_fill fills only the random inputs, the same on 1 and 3 threads. */
static void t_noise_fill(void **st)
{
	(void)st;
	rt_slot slots[2] = {
		{.name = "rng.d", .role = RT_SLOT_INPUT, .dtype = RT_F32, .rank = 2, .dim = {64, 300}},
		{.name = "x", .role = RT_SLOT_INPUT, .dtype = RT_F32, .rank = 2, .dim = {64, 300}},
	};
	rt_exec x = {.backend = "test", .slots = slots, .nslots = 2};
	assert_true(rt_noise_is_input(&slots[0]) && !rt_noise_is_input(&slots[1]));
	rt_store s1 = {0}, s3 = {0};
	rt_err err;
	rt_pool *pool = rt_pool_new(3);
	assert_non_null(pool);
	assert_int_equal(rt_store_add_exec(&s1, &x, &err), 0);
	assert_int_equal(rt_store_add_exec(&s3, &x, &err), 0);
	assert_int_equal(rt_noise_fill(&s1, 9, 17, NULL, &err), 0);
	assert_int_equal(rt_noise_fill(&s3, 9, 17, pool, &err), 0);
	enum { N = 64 * 300 };
	float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), *z = calloc(N, sizeof *z);
	assert_int_equal(rt_store_download(&s1, rt_store_find(&s1, "rng.d"), a, &err), 0);
	assert_int_equal(rt_store_download(&s3, rt_store_find(&s3, "rng.d"), b, &err), 0);
	assert_memory_equal(a, b, N * sizeof *a);
	rt_noise_draw("rng.d", RT_F32, N, 9, 17, b);
	assert_memory_equal(a, b, N * sizeof *a);
	assert_int_equal(rt_store_download(&s1, rt_store_find(&s1, "x"), b, &err), 0);
	assert_memory_equal(b, z, N * sizeof *b); /* data inputs are not touched */
	free(a);
	free(b);
	free(z);
	rt_store_free(&s1);
	rt_store_free(&s3);
	rt_pool_free(pool);
}

/* The interpreter on dropout(x, p) in training, noise from the runtime's
 * layout: kept exactly where u >= p, scaled by x * (1 / (1 - p)) rounded
 * as ATen's noise.div_(1 - p); the zeros' fraction near p. */
static void check_train(ir_dtype t, double p)
{
	enum { R = 200, C = 500, N = R * C };
	ir_graph *g = ir_graph_new(t);
	ir_node *x = ir_input(g, "x", t, ir_shape_make(2, (int64_t[]){R, C}));
	ir_node *y = ir_dropout(g, x, p, "d");
	assert_non_null(y);
	assert_int_equal(ir_resolve_mode(g, IR_MODE_TRAIN), 1);
	ir_node *u = ir_find_leaf(g, IR_OP_INPUT, "rng.d");
	assert_non_null(u);
	ir_env *e = ir_env_new(g);
	double *xv = ir_env_leaf(e, x), *uv = ir_env_leaf(e, u), *out;
	for (int i = 0; i < N; i++)
		xv[i] = 1.0 + (i % 7);
	float *uf = malloc(N * sizeof *uf);
	if (t == IR_F32) {
		rt_noise_draw("rng.d", RT_F32, N, 1, 0, uf);
		for (int i = 0; i < N; i++)
			uv[i] = uf[i];
	} else {
		rt_noise_draw("rng.d", RT_F64, N, 1, 0, uv);
	}
	double *ucopy = malloc(N * sizeof *ucopy);
	memcpy(ucopy, uv, N * sizeof *ucopy);
	char err[256];
	assert_int_equal(ir_interp_eval(e, &y, 1, &out, err, sizeof err), 0);
	int zeros = 0;
	for (int i = 0; i < N; i++) {
		double xi = 1.0 + (i % 7);
		double want;
		if (t == IR_F32)
			want = (float)(xi * (double)(1.0f / (float)(1.0 - p)));
		else
			want = xi * (1.0 / (1.0 - p));
		if (ucopy[i] >= (t == IR_F32 ? (double)(float)p : p))
			assert_true(out[i] == want);
		else
			assert_true(out[i] == 0.0);
		zeros += out[i] == 0.0;
	}
	/* binomial(N, p): 5 standard deviations */
	double frac = (double)zeros / N, sd = sqrt(p * (1 - p) / N);
	assert_true(fabs(frac - p) < 5 * sd);
	free(out);
	free(uf);
	free(ucopy);
	ir_env_free(e);
	ir_graph_free(g);
}

static void t_train(void **st)
{
	(void)st;
	check_train(IR_F32, 0.3);
	check_train(IR_F64, 0.3);
	check_train(IR_F64, 0.9);
	check_train(IR_F32, 0.05);
}

/* p = 0 is x itself; p = 1 multiplies by zero (ATen); p outside [0,1] and
 * an integer input are refused; in evaluation the result is x and, once
 * simplified, nothing reads the noise. */
static void t_edges_and_eval(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_node *x = ir_input(g, "x", IR_F32, ir_shape_make(2, (int64_t[]){4, 3}));
	assert_ptr_equal(ir_dropout(g, x, 0.0, "a"), x);
	assert_null(ir_find_leaf(g, IR_OP_INPUT, "rng.a"));
	ir_node *one = ir_dropout(g, x, 1.0, "b");
	assert_non_null(one);
	assert_null(ir_find_leaf(g, IR_OP_INPUT, "rng.b"));
	assert_null(ir_dropout(g, x, 1.5, "c"));
	assert_non_null(strstr(g->err, "p must be in [0, 1]"));
	ir_graph_free(g);

	g = ir_graph_new(IR_F64);
	x = ir_input(g, "x", IR_F64, ir_shape_make(2, (int64_t[]){4, 3}));
	ir_node *lab = ir_input(g, "l", IR_I32, ir_shape_make(1, (int64_t[]){4}));
	assert_null(ir_dropout(g, lab, 0.5, "e"));
	assert_non_null(strstr(g->err, "float"));
	g->has_err = 0;
	ir_node *outs[2] = {ir_dropout(g, x, 0.5, "d"), ir_dropout(g, x, 1.0, "f")};
	assert_null(ir_dropout(g, x, 0.5, "d"));
	assert_non_null(strstr(g->err, "already exists"));
	g->has_err = 0;
	ir_resolve_mode(g, IR_MODE_EVAL);
	assert_int_equal(pass_simplify(g, outs, 2), 0);
	assert_int_equal(pass_dce(g, outs, 2), 0);
	assert_ptr_equal(outs[0], x);
	assert_ptr_equal(outs[1], x);
	assert_null(ir_find_leaf(g, IR_OP_INPUT, "rng.d"));
	ir_graph_free(g);
}

static ir_model *load(const char *name, const char *text)
{
	char path[1024], err[1024];
	snprintf(path, sizeof path, "%s/test_dropout_%s.lua", SAMC_BINARY_DIR, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	ir_model *m = NULL;
	if (fe_load_model(path, NULL, &m, err, sizeof err))
		fail_msg("%s", err);
	return m;
}

static int count_op(const ir_graph *g, ir_op op)
{
	int k = 0;
	for (int i = 0; i < g->nnodes; i++)
		k += g->nodes[i]->op == op;
	return k;
}

static int count_noise(const ir_graph *g)
{
	int k = 0;
	for (int i = 0; i < g->nnodes; i++)
		k += g->nodes[i]->op == IR_OP_INPUT &&
		     strncmp(g->nodes[i]->name, RT_NOISE_PREFIX, strlen(RT_NOISE_PREFIX)) == 0;
	return k;
}

/* SAM's step holds one noise input and one mask per dropout, read by the
 * forward and backward of both passes; the eval program holds none. */
static void t_sam_one_mask(void **st)
{
	(void)st;
	ir_model *m = load("sam",
		"local B = batch_size(4)\n"
		"local x = input(\"x\", {B, 6})\n"
		"local y = input(\"y\", {B}, {dtype = \"i32\", classes = 3})\n"
		"local h = dropout(relu(linear(x, 8, {name = \"fc1\"})), 0.25)\n"
		"assert(tostring(h) == \"tensor f32[4,8]\")\n"
		"local z = linear(dropout(h, 0.5, {name = \"d2\"}), 3, {name = \"fc2\"})\n"
		"return {loss = cross_entropy(z, y), optimizer = {name = \"sgd\", lr = 0.1,\n"
		"        sam = {rho = 0.05}}}\n");
	pass_programs p;
	char err[1024];
	assert_int_equal(pass_build_all(m, &p, err, sizeof err), 0);
	assert_non_null(p.sam.g);
	assert_non_null(ir_find_leaf(p.sam.g, IR_OP_INPUT, "rng.dropout1"));
	assert_non_null(ir_find_leaf(p.sam.g, IR_OP_INPUT, "rng.d2"));
	assert_int_equal(count_noise(p.sam.g), 2);
	assert_int_equal(count_op(p.sam.g, IR_OP_GE), 2); /* one mask each, both passes */
	assert_int_equal(count_op(p.sam.g, IR_OP_WHERE), 0);
	/* each scaled mask is read by two forward and two backward products */
	for (int i = 0; i < p.sam.g->nnodes; i++) {
		ir_node *n = p.sam.g->nodes[i];
		if (n->op != IR_OP_DIV || n->in[0]->op != IR_OP_GE)
			continue;
		int readers = 0;
		for (int j = 0; j < p.sam.g->nnodes; j++)
			for (int k = 0; k < p.sam.g->nodes[j]->nin; k++)
				readers += p.sam.g->nodes[j]->in[k] == n;
		assert_int_equal(readers, 4);
	}
	assert_non_null(p.eval.g);
	assert_int_equal(count_noise(p.eval.g), 0);
	assert_int_equal(count_op(p.eval.g, IR_OP_GE), 0);
	pass_programs_free(&p);
	fe_model_free(m);
}

/* The model language's errors name the line. */
static void t_dsl_errors(void **st)
{
	(void)st;
	static const struct { const char *body, *want; } cases[] = {
		{"dropout(x, 2)", ":4: dropout: p must be in [0, 1], got 2"},
		{"dropout(x, \"a\")", ":4: dropout: argument 2 (p) must be a number"},
		{"dropout(x, 0.5, {nme = 1})", ":4: dropout:"},
		{"dropout(x, 0.5, {name = \"q\"}) dropout(x, 0.5, {name = \"q\"})",
		 "a dropout named 'q' already exists"},
		{"input(\"rng.x\", {B, 2})", "reserved"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char path[1024], text[2048], err[1024];
		snprintf(path, sizeof path, "%s/test_dropout_err%zu.lua", SAMC_BINARY_DIR, i);
		snprintf(text, sizeof text,
		         "local B = batch_size(4)\nlocal x = input(\"x\", {B, 6})\n"
		         "local y = input(\"y\", {B}, {dtype = \"i32\", classes = 3})\n%s\n"
		         "return {loss = cross_entropy(linear(x, 3), y), optimizer = {name = \"sgd\", "
		         "lr = 0.1}}\n", cases[i].body);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(text, f);
		fclose(f);
		ir_model *m = NULL;
		assert_int_not_equal(fe_load_model(path, NULL, &m, err, sizeof err), 0);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: got '%s', want '%s'", i, err, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_noise_layout),
		cmocka_unit_test(t_noise_fill),
		cmocka_unit_test(t_train),
		cmocka_unit_test(t_edges_and_eval),
		cmocka_unit_test(t_sam_one_mask),
		cmocka_unit_test(t_dsl_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
