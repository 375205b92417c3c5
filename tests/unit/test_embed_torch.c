/*
 * test_embed_torch.c - embedding against PyTorch's values at fixed indices
 * (repeats, a row never used, indices of rank 1 to 3): the forward values
 * and the weight gradient of sum(y * r), through the reference interpreter
 * and the CPU backend, in f64 and f32, bit for bit (the gradient adds
 * repeated rows in index order, as ATen). The table is
 * tests/oracle/embed_ref.py's output; CTest's oracle_embed_ref checks
 * that it still is PyTorch's. Then: larger random cases on the backend
 * against the interpreter, and an index out of range on both.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_cg_harness.h"

#include "cg_cpu.h"
#include "fe_model.h"
#include "ir.h"
#include "ir_interp.h"
#include "pass_autodiff.h"

#include "test_embed_torch_ref.h"

/* y = embedding(w, i), gw = d sum(y * r) / dw, observed in states */
static ir_graph *build(ir_dtype t, const embed_ref_row *row)
{
	ir_graph *g = ir_graph_new(t);
	ir_init zero = {IR_INIT_ZEROS, 0, 0};
	ir_node *w = ir_param(g, "w", t, ir_shape_make(2, (int64_t[]){row->num, row->dim}), zero);
	ir_node *idx = ir_input(g, "i", IR_I32, ir_shape_make(row->rank, row->shape));
	ir_node *y = ir_embedding(g, w, idx), *gw;
	if (!y)
		fail_msg("%s", g->err);
	assert_int_equal(y->shape.rank, row->rank + 1);
	ir_node *r = ir_input(g, "r", t, y->shape);
	ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, y, r), 0, 0);
	assert_int_equal(pass_grad(g, loss, &w, 1, &gw), 0);
	assert_non_null(cgh_observe(g, y, 0));
	assert_non_null(cgh_observe(g, gw, 1));
	assert_int_equal(ir_verify(g), 0);
	return g;
}

static void put(const rt_slot *sl, void *d, const double *v, const int *iv)
{
	for (int64_t i = 0; i < cgh_numel(sl); i++) {
		if (sl->dtype == RT_F32)
			((float *)d)[i] = (float)v[i];
		else if (sl->dtype == RT_F64)
			((double *)d)[i] = v[i];
		else
			((int32_t *)d)[i] = iv[i];
	}
}

/* Runs x once on the row's w, i, r; checks obs0 (y) and obs1 (gw) exactly. */
static void check_exec(rt_exec *x, const embed_ref_row *row, int f32, const char *what)
{
	void **d = calloc((size_t)x->nslots + 1, sizeof *d);
	for (int i = 0; i < x->nslots; i++) {
		const rt_slot *sl = &x->slots[i];
		d[i] = calloc((size_t)cgh_numel(sl) + 1, 8);
		if (!strcmp(sl->name, "w"))
			put(sl, d[i], row->w, NULL);
		else if (!strcmp(sl->name, "r"))
			put(sl, d[i], row->r, NULL);
		else if (!strcmp(sl->name, "i"))
			put(sl, d[i], NULL, row->idx);
	}
	rt_err e;
	double outv[1];
	if (x->run(x, d, outv, &e))
		fail_msg("%s: %s", what, e.msg);
	for (int i = 0; i < x->nslots; i++) {
		const rt_slot *sl = &x->slots[i];
		const double *want = !strcmp(sl->name, "obs0") ? row->y[f32]
		                   : !strcmp(sl->name, "obs1") ? row->gw[f32] : NULL;
		for (int64_t j = 0; want && j < cgh_numel(sl); j++)
			if (cgh_get(sl, d[i], j) != want[j])
				fail_msg("%s num %lld dim %lld %s[%lld]: %.17g, PyTorch %.17g", what,
				         (long long)row->num, (long long)row->dim, sl->name, (long long)j,
				         cgh_get(sl, d[i], j), want[j]);
		free(d[i]);
	}
	free(d);
}

static void test_torch(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof embed_ref_rows / sizeof *embed_ref_rows; i++)
		for (int f32 = 0; f32 < 2; f32++) {
			ir_dtype t = f32 ? IR_F32 : IR_F64;
			ir_graph *g = build(t, &embed_ref_rows[i]);
			char err[1024];
			rt_exec *ref = ir_interp_exec_new(g, NULL, NULL, 0, err, sizeof err);
			if (!ref)
				fail_msg("%s", err);
			check_exec(ref, &embed_ref_rows[i], f32, f32 ? "interpreter f32" : "interpreter f64");
			ref->free(ref);
			cg_options o;
			cg_options_default(&o);
			rt_exec *cpu = cg_cpu_exec_new(g, NULL, NULL, 0, &o, err, sizeof err);
			if (!cpu)
				fail_msg("%s", err);
			check_exec(cpu, &embed_ref_rows[i], f32, f32 ? "backend f32" : "backend f64");
			cpu->free(cpu);
			ir_graph_free(g);
		}
}

/* Many positions and columns (the loops split over threads), indices in
 * range by the input's classes: the backend against the interpreter. */
static void test_backend_random(void **st)
{
	(void)st;
	for (int t = 0; t < 2; t++) {
		ir_dtype dt = t ? IR_F64 : IR_F32;
		ir_graph *g = ir_graph_new(dt);
		ir_init zero = {IR_INIT_ZEROS, 0, 0};
		ir_node *w = ir_param(g, "w", dt, ir_shape_make(2, (int64_t[]){50, 96}), zero);
		ir_node *idx = ir_input(g, "i", IR_I32, ir_shape_make(2, (int64_t[]){64, 30}));
		ir_attr_set_i(idx, IR_ATTR_NCLASSES, 50);
		ir_node *y = ir_embedding(g, w, idx), *gw;
		ir_node *r = ir_input(g, "r", dt, y->shape);
		ir_node *loss = ir_reduce(g, IR_OP_SUM, ir_binary(g, IR_OP_MUL, y, r), 0, 0);
		assert_int_equal(pass_grad(g, loss, &w, 1, &gw), 0);
		assert_non_null(cgh_observe(g, y, 0));
		assert_non_null(cgh_observe(g, gw, 1));
		char err[1024] = "";
		double worst;
		/* the same additions in the same order: exact */
		if (cgh_compare(g, NULL, NULL, 0, 2, 0.0, 11 + t, &worst, err, sizeof err))
			fail_msg("%s: %s (worst %g)", ir_dtype_name(dt), err, worst);
		ir_graph_free(g);
	}
}

/* An index outside [0, num) stops the step on both backends, naming the
 * model line and the indices input; nothing is committed. */
static void test_out_of_range(void **st)
{
	(void)st;
	static const int bad[2] = {-1, 5};
	for (int k = 0; k < 2; k++) {
		embed_ref_row row = embed_ref_rows[0];
		row.idx[3] = bad[k];
		ir_graph *g = build(IR_F64, &row);
		for (int i = 0; i < g->nnodes; i++)
			if (g->nodes[i]->op == IR_OP_EMBEDDING || g->nodes[i]->op == IR_OP_EMBEDDING_GRAD)
				g->nodes[i]->loc = (ir_loc){"model.lua", 7};
		char err[1024];
		rt_exec *xs[2] = {ir_interp_exec_new(g, NULL, NULL, 0, err, sizeof err), NULL};
		cg_options o;
		cg_options_default(&o);
		xs[1] = cg_cpu_exec_new(g, NULL, NULL, 0, &o, err, sizeof err);
		for (int b = 0; b < 2; b++) {
			rt_exec *x = xs[b];
			assert_non_null(x);
			void **d = calloc((size_t)x->nslots + 1, sizeof *d);
			for (int i = 0; i < x->nslots; i++) {
				d[i] = calloc((size_t)cgh_numel(&x->slots[i]) + 1, 8);
				if (!strcmp(x->slots[i].name, "i"))
					put(&x->slots[i], d[i], NULL, row.idx);
			}
			rt_err e;
			double outv[1];
			assert_int_not_equal(x->run(x, d, outv, &e), 0);
			if (!strstr(e.msg, "model.lua:7") || !strstr(e.msg, "'i'") ||
			    !strstr(e.msg, b ? "index outside [0, num_embeddings)" : "outside [0, 5)"))
				fail_msg("%s: %s", b ? "backend" : "interpreter", e.msg);
			for (int i = 0; i < x->nslots; i++)
				free(d[i]);
			free(d);
			x->free(x);
		}
		ir_graph_free(g);
	}
}

/* The shape rule refuses what F.embedding refuses. */
static void test_errors(void **st)
{
	(void)st;
	ir_graph *g = ir_graph_new(IR_F32);
	ir_init zero = {IR_INIT_ZEROS, 0, 0};
	ir_node *w = ir_param(g, "w", IR_F32, ir_shape_make(2, (int64_t[]){5, 3}), zero);
	ir_node *w3 = ir_param(g, "w3", IR_F32, ir_shape_make(3, (int64_t[]){5, 3, 2}), zero);
	ir_node *fi = ir_input(g, "f", IR_F32, ir_shape_make(1, (int64_t[]){4}));
	ir_node *ii = ir_input(g, "i", IR_I32, ir_shape_make(1, (int64_t[]){4}));
	assert_null(ir_embedding(g, w, fi));
	assert_non_null(strstr(g->err, "indices must be an i32 tensor"));
	g->has_err = 0;
	assert_null(ir_embedding(g, w3, ii));
	assert_non_null(strstr(g->err, "weight must be 2-D"));
	g->has_err = 0;
	assert_null(ir_embedding(g, ii, ii));
	assert_non_null(strstr(g->err, "float"));
	g->has_err = 0;
	ir_node *s = ir_input(g, "s", IR_I32, ir_shape_scalar());
	ir_node *y = ir_embedding(g, w, s); /* a scalar index gives one row */
	assert_non_null(y);
	assert_int_equal(y->shape.rank, 1);
	assert_int_equal(y->shape.dim[0], 3);
	ir_graph_free(g);
}

static int load(const char *name, const char *body, ir_model **m, char *err, size_t n)
{
	char path[1024], text[4096];
	snprintf(path, sizeof path, "%s/test_embed_%s.lua", SAMC_BINARY_DIR, name);
	snprintf(text, sizeof text,
	         "local B = batch_size(4)\n"
	         "local tok = input(\"tok\", {B, 6}, {dtype = \"i32\", classes = 10})\n"
	         "local x = input(\"x\", {B, 3})\n"
	         "local y = input(\"y\", {B}, {dtype = \"i32\", classes = 3})\n%s", body);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	*m = NULL;
	return fe_load_model(path, NULL, m, err, n);
}

/* The model language: shapes, the weight's name and init, argument errors
 * naming the line. */
static void test_dsl(void **st)
{
	(void)st;
	ir_model *m;
	char err[1024];
	const char *body =
		"local e = embedding(tok, 10, 4)\n"
		"assert(tostring(e) == \"tensor f32[4,6,4]\")\n"
		"assert(tostring(embedding(y, 7, 2, {name = \"lab\"})) == \"tensor f32[4,2]\")\n"
		"return {loss = cross_entropy(linear(reshape(e, {B, 24}), 3), y),\n"
		"        optimizer = {name = \"sgd\", lr = 0.1}}\n";
	if (load("ok", body, &m, err, sizeof err))
		fail_msg("%s", err);
	ir_node *w = ir_find_leaf(m->g, IR_OP_PARAM, "embedding1.weight");
	assert_non_null(w);
	assert_int_equal(w->shape.dim[0], 10);
	assert_int_equal(w->shape.dim[1], 4);
	ir_init in = ir_node_init(w);
	assert_int_equal(in.kind, IR_INIT_NORMAL);
	assert_true(in.a == 0.0 && in.b == 1.0);
	assert_non_null(ir_find_leaf(m->g, IR_OP_PARAM, "lab.weight"));
	fe_model_free(m);
	static const struct { const char *body, *want; } bad[] = {
		{"embedding(x, 10, 4)", ":5: embedding: indices must be an i32 tensor"},
		{"embedding(tok, 0, 4)", ":5: embedding: argument 2 (num_embeddings)"},
		{"embedding(tok, 10)", ":5: embedding: argument 3 (embedding_dim)"},
		{"embedding(tok, 10, 4, {nam = 1})", ":5: embedding:"},
		{"embedding(tok, 10, 4, {name = \"e\"})\nembedding(tok, 10, 4, {name = \"e\"})",
		 ":6: embedding: parameter 'e.weight' already declared at line 5"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char text[512];
		snprintf(text, sizeof text, "%s\nreturn {loss = cross_entropy(linear(x, 3), y), "
		         "optimizer = {name = \"sgd\", lr = 0.1}}\n", bad[i].body);
		assert_int_not_equal(load("bad", text, &m, err, sizeof err), 0);
		if (!strstr(err, bad[i].want))
			fail_msg("case %zu: got '%s', want '%s'", i, err, bad[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_torch),
		cmocka_unit_test(test_backend_random),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_dsl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
