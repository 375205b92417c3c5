/*
 * test_pass_table.c - the pass table: its order as `--stage=list` prints
 * it, SAMC_DEBUG's output, and its verifiers catching a pass whose output
 * is broken on purpose (a kernel result claimed by another kernel,
 * overlapping buffers, an assign committed twice, an out-of-bounds index,
 * a loop variable or local used where it is not defined), each failure
 * naming the pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "cg_step.h"
#include "cg_verify.h"
#include "pass_table.h"
#include "test_model.h"

/* The table in order: graph rows, then the CPU backend's. */
static const char *const order[] = {"ir",    "precision", "autodiff", "sam",     "micro",
                                    "optim", "eval",      "simplify", "dce",     "lowrank",
                                    "fuse",  "plan",      "lower",    "split",   "llvm"};

static void t_list_is_the_table_in_order(void **st)
{
	(void)st;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	pass_table_list(f, cg_cpu_backend());
	fclose(f);
	const char *at = buf;
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		char want[32];
		snprintf(want, sizeof want, "\n  %s", order[i]);
		const char *p = strstr(at, want);
		if (!p)
			fail_msg("'%s' missing or out of order in:\n%s", order[i], buf);
		at = p + 1;
		int is_be;
		assert_non_null(pass_table_find(cg_cpu_backend(), order[i], &is_be));
		assert_int_equal(is_be, i >= 9); /* the graph rows: ir ... dce */
	}
	/* the stage names that came before the table still answer */
	const char *old[] = {"ir", "autodiff", "optim", "sam", "eval", "fused", "plan", "loops", "llvm"};
	for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) {
		int is_be;
		assert_non_null(pass_table_find(cg_cpu_backend(), old[i], &is_be));
	}
	free(buf);
}

static ir_model *load(void)
{
	return test_load_model("examples/fashion_mlp.lua", IR_F32, NULL, 0);
}

/* SAMC_DEBUG=1: one line per pass run, in table order; 2 adds outputs. */
static void t_debug_levels(void **st)
{
	(void)st;
	ir_model *m = load();
	for (int level = 1; level <= 2; level++) {
		char *buf = NULL, err[1024];
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		pass_options o;
		pass_options_from_debug(&o, level == 1 ? "1" : "2");
		assert_int_equal(o.debug, level);
		assert_true(o.verify);
		o.log = f;
		pass_program p;
		assert_int_equal(pass_build_opt(m, PASS_PROG_SAM, &o, &p, err, sizeof err), 0);
		fclose(f);
		const char *at = buf;
		for (int i = 0; i < 7; i++) {
			if (strcmp(order[i], "eval") == 0)
				continue; /* not a row of the SAM step */
			char want[64];
			snprintf(want, sizeof want, "samc: pass %-9s sam step", order[i]);
			const char *q = strstr(at, want);
			if (!q)
				fail_msg("no '%s' in order in:\n%.2000s", want, buf);
			at = q + 1;
		}
		assert_int_equal(strstr(buf, "summary:") != NULL, level == 2);
		free(buf);
		pass_program_free(&p);
	}
	fe_model_free(m);
}

/* A copy of the CPU rows in which one row's output is broken after it runs. */
typedef void (*breaker)(cg_step *s);
static breaker g_break;       /* the test's own hook, set before each run */
static int (*g_real_run)(pass_ctx *, char *, size_t);

static int broken_run(pass_ctx *c, char *err, size_t errlen)
{
	if (g_real_run(c, err, errlen))
		return -1;
	g_break(c->state);
	return 0;
}

/* Runs the CPU rows over the SAM step of fashion_mlp with `row` broken by
 * brk, verifiers on; returns the runner's message. */
static void run_broken(const char *row, breaker brk, char *err, size_t errlen)
{
	ir_model *m = load();
	pass_program p;
	assert_int_equal(pass_build(m, PASS_PROG_SAM, &p, err, errlen), 0);
	const pass_backend *be = cg_cpu_backend();
	pass_row rows[16];
	memcpy(rows, be->rows, (size_t)be->nrows * sizeof *rows);
	for (int i = 0; i < be->nrows; i++)
		if (strcmp(rows[i].name, row) == 0) {
			g_real_run = rows[i].run;
			rows[i].run = broken_run;
		}
	g_break = brk;
	cg_step_options so;
	cg_step_options_default(&so);
	so.pass.verify = 1;
	so.pass.stop = "lower";
	pass_ctx c = {0};
	c.kind = PASS_PROG_SAM;
	c.prog = p;
	c.backend_opts = &so;
	err[0] = 0;
	assert_int_not_equal(pass_run_rows(&c, rows, be->nrows, &so.pass, NULL, err, errlen), 0);
	cg_step_free(c.state);
	pass_program_free(&p);
	fe_model_free(m);
}

static void expect(const char *err, const char *a, const char *b)
{
	if (!strstr(err, a) || !strstr(err, b))
		fail_msg("expected '%s' ... '%s' in: %s", a, b, err);
}

/* The last kernel's root claimed by the first kernel. */
static void root_elsewhere(cg_step *s)
{
	pass_fusion *f = s->f;
	f->kernel_of[f->k[f->nk - 1].root->id] = 0;
}

static void t_fuse_broken_named(void **st)
{
	(void)st;
	char err[1024];
	run_broken("fuse", root_elsewhere, err, sizeof err);
	expect(err, "after pass fuse: kernel ", "which is not its result");
}

/* The first two arena buffers live at the same time get the same bytes. */
static void overlap(cg_step *s)
{
	pass_plan *p = s->p;
	for (int i = 0; i < p->nbuf; i++)
		for (int j = i + 1; j < p->nbuf; j++) {
			pass_buf *a = &p->buf[i], *b = &p->buf[j];
			if (a->kind == PASS_BUF_ARENA && b->kind == PASS_BUF_ARENA && a->bytes && b->bytes &&
			    a->def <= b->last && b->def <= a->last) {
				b->offset = a->offset;
				return;
			}
		}
	fail_msg("no two arena buffers live at the same time");
}

static void t_plan_overlap_named(void **st)
{
	(void)st;
	char err[1024];
	run_broken("plan", overlap, err, sizeof err);
	expect(err, "after pass plan: buffers ", " overlap");
}

/* The first assign, written in place by its kernel, also committed. */
static void commit_twice(cg_step *s)
{
	pass_plan *p = s->p;
	pass_commit *c = realloc(p->commit, ((size_t)p->ncommit + 2) * sizeof *c);
	assert_non_null(c);
	p->commit = c;
	for (int i = 0; i < s->g->nnodes; i++) {
		ir_node *a = s->g->nodes[i];
		if (a->op == IR_OP_ASSIGN) {
			c[p->ncommit].target = a->in[0];
			c[p->ncommit].value = a->in[1];
			c[p->ncommit].src = p->buf_of[a->in[1]->id];
			c[p->ncommit++].snapshot = -1;
			return;
		}
	}
	fail_msg("no assign");
}

static void t_plan_commit_twice_named(void **st)
{
	(void)st;
	char err[1024];
	run_broken("plan", commit_twice, err, sizeof err);
	expect(err, "after pass plan: ", "committed 2 times");
}

static cg_kernel *first_loop_kernel(cg_step *s)
{
	for (int i = 0; i < s->prog->nk; i++)
		if (s->prog->k[i].kind != RT_K_GEMM && s->prog->k[i].body->kind == CG_S_LOOP)
			return &s->prog->k[i];
	fail_msg("no loop kernel");
	return NULL;
}

/* The outermost loop runs one iteration too many. */
static void one_too_far(cg_step *s)
{
	first_loop_kernel(s)->body->extent += 1;
}

static void t_loop_out_of_bounds_named(void **st)
{
	(void)st;
	char err[1024];
	run_broken("lower", one_too_far, err, sizeof err);
	expect(err, "after pass lower: kernel ", "outside its");
}

/* A store after the loop that reads the loop's variable. */
static void var_outside(cg_step *s)
{
	cg_kernel *k = first_loop_kernel(s);
	int v = k->body->var;
	ir_arena *a = &s->prog->arena;
	cg_append(&k->body, cg_store(a, 0, cg_var(a, v), cg_const_f(a, k->args[0].type, 0)));
}

static void t_loop_undefined_variable_named(void **st)
{
	(void)st;
	char err[1024];
	run_broken("lower", var_outside, err, sizeof err);
	expect(err, "after pass lower: kernel ", "used outside its loop");
}

/* A local read before anything sets it. */
static void local_unset(cg_step *s)
{
	cg_kernel *k = first_loop_kernel(s);
	ir_arena *a = &s->prog->arena;
	int l = k->nlocals++;
	cg_type *t = ir_arena_alloc(a, (size_t)k->nlocals * sizeof *t);
	if (l)
		memcpy(t, k->local_type, (size_t)l * sizeof *t);
	t[l] = CG_T_I64;
	k->local_type = t;
	cg_stmt *s0 = cg_store(a, 0, cg_local(a, CG_T_I64, l), cg_const_f(a, k->args[0].type, 0));
	s0->next = k->body;
	k->body = s0;
}

static void t_loop_unset_local_named(void **st)
{
	(void)st;
	char err[1024];
	run_broken("lower", local_unset, err, sizeof err);
	expect(err, "after pass lower: kernel ", "read before it is set");
}

/* Unbroken, every verifier passes on every example's steps. */
static void t_examples_verify(void **st)
{
	(void)st;
	const char *files[] = {"examples/fashion_mlp.lua", "examples/fashion_mlp2.lua"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		ir_model *m = test_load_model(files[i], IR_F32, NULL, 0);
		pass_options o;
		pass_options_default(&o);
		o.verify = 1;
		pass_programs ps;
		char err[1024];
		if (pass_build_all_opt(m, &o, &ps, err, sizeof err))
			fail_msg("%s", err);
		pass_program *p[] = {&ps.sam, &ps.base, &ps.eval};
		cg_step_options so;
		cg_step_options_default(&so);
		so.pass.verify = 1;
		for (int j = 0; j < 3; j++) {
			if (!p[j]->g)
				continue;
			cg_step *s = cg_step_new(p[j]->g, p[j]->outs, p[j]->names, p[j]->nout, &so, err,
			                         sizeof err);
			if (!s)
				fail_msg("%s: %s", files[i], err);
			cg_step_free(s);
		}
		pass_programs_free(&ps);
		fe_model_free(m);
	}
}

/* The loop verifier's interval arithmetic on a kernel written by hand:
 * b0[i0*10 + i1] over 4 x 10 fits 40 elements, not 39. */
static void t_loop_intervals(void **st)
{
	(void)st;
	ir_arena a = {0};
	cg_arg args[1] = {{0, CG_T_F32, 1}};
	cg_kernel k;
	memset(&k, 0, sizeof k);
	snprintf(k.name, sizeof k.name, "k0_test");
	k.kind = RT_K_ELEM;
	k.nargs = 1;
	k.args = args;
	k.nvars = 2;
	cg_expr *idx = cg_bin(&a, CG_B_ADD, cg_bin(&a, CG_B_MUL, cg_var(&a, 0), cg_const_i(&a, CG_T_I64, 10)),
	                      cg_var(&a, 1));
	k.body = cg_loop(&a, 0, 4, CG_L_PARALLEL,
	                 cg_loop(&a, 1, 10, CG_L_SERIAL, cg_store(&a, 0, idx, cg_const_f(&a, CG_T_F32, 1))));
	char err[256];
	int64_t n40 = 40, n39 = 39;
	assert_int_equal(cg_kernel_verify(&k, &n40, err, sizeof err), 0);
	assert_int_not_equal(cg_kernel_verify(&k, &n39, err, sizeof err), 0);
	assert_non_null(strstr(err, "[0, 39]"));
	ir_arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_list_is_the_table_in_order),
		cmocka_unit_test(t_debug_levels),
		cmocka_unit_test(t_fuse_broken_named),
		cmocka_unit_test(t_plan_overlap_named),
		cmocka_unit_test(t_plan_commit_twice_named),
		cmocka_unit_test(t_loop_out_of_bounds_named),
		cmocka_unit_test(t_loop_undefined_variable_named),
		cmocka_unit_test(t_loop_unset_local_named),
		cmocka_unit_test(t_examples_verify),
		cmocka_unit_test(t_loop_intervals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
