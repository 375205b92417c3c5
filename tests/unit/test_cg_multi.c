/*
 * test_cg_multi.c - multi-tensor kernels (codegen/cg_multi.h): which runs
 * of elementwise kernels merge (independent ones, not one that reads
 * another's result or shares bytes of the arena with it, not across other
 * kernels, at most CG_MULTI_MAX_ARGS buffers each), the merged kernel's
 * segments, the verifier's intervals under its comparisons, and the CUDA
 * rows of the example MLPs: the optimizer's update of every parameter one
 * kernel. (test_cuda_programs runs the merged programs against the
 * interpreter.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cg_multi.h"
#include "cg_step.h"
#include "cg_verify.h"
#include "fe_model.h"
#include "pass_pipeline.h"
#include "test_model.h"

/* --- hand-made programs --- */

#define NB 600

typedef struct {
	pass_plan plan;
	pass_buf buf[NB];
	cg_program prog;
} hand;

/* buffers of 8 f32 each: slots, or arena buffers at `offset` */
static void hand_init(hand *h, int nk)
{
	memset(h, 0, sizeof *h);
	for (int i = 0; i < NB; i++) {
		h->buf[i].kind = PASS_BUF_SLOT;
		h->buf[i].numel = 8;
		h->buf[i].bytes = 32;
	}
	h->plan.buf = h->buf;
	h->plan.nbuf = NB;
	h->prog.plan = &h->plan;
	h->prog.k = ir_arena_alloc(&h->prog.arena, (size_t)(nk + 1) * sizeof *h->prog.k);
}

static void arena_buf(hand *h, int id, int64_t offset)
{
	h->buf[id].kind = PASS_BUF_ARENA;
	h->buf[id].offset = offset;
}

/* kernel: for i0 in 0..n parallel: b0[i0] = b1[i0] * 2 + b2[i0], over
 * program buffers out, x, y (y < 0: without it) */
static void add_elem(hand *h, int64_t n, int out, int x, int y)
{
	ir_arena *a = &h->prog.arena;
	cg_kernel *k = &h->prog.k[h->prog.nk];
	memset(k, 0, sizeof *k);
	k->kind = RT_K_ELEM;
	k->src = h->prog.nk;
	snprintf(k->name, sizeof k->name, "k%d_add", h->prog.nk);
	k->nargs = y >= 0 ? 3 : 2;
	k->args = ir_arena_alloc(a, 3 * sizeof *k->args);
	int ids[3] = {out, x, y};
	for (int i = 0; i < k->nargs; i++) {
		k->args[i].id = ids[i];
		k->args[i].type = CG_T_F32;
		k->args[i].written = i == 0;
	}
	k->nvars = 1;
	k->work = n;
	cg_expr *v = cg_bin(a, CG_B_MUL, cg_load(a, CG_T_F32, 1, cg_var(a, 0)),
	                    cg_const_f(a, CG_T_F32, 2.0));
	if (y >= 0)
		v = cg_bin(a, CG_B_ADD, v, cg_load(a, CG_T_F32, 2, cg_var(a, 0)));
	k->body = cg_loop(a, 0, n, CG_L_PARALLEL, cg_store(a, 0, cg_var(a, 0), v));
	h->prog.nk++;
}

/* a reduce kernel: b0[0] = sum of b1 */
static void add_sum(hand *h, int out, int x)
{
	ir_arena *a = &h->prog.arena;
	cg_kernel *k = &h->prog.k[h->prog.nk];
	memset(k, 0, sizeof *k);
	k->kind = RT_K_REDUCE;
	k->src = h->prog.nk;
	snprintf(k->name, sizeof k->name, "k%d_sum", h->prog.nk);
	k->nargs = 2;
	k->args = ir_arena_alloc(a, 2 * sizeof *k->args);
	k->args[0] = (cg_arg){out, CG_T_F32, 1};
	k->args[1] = (cg_arg){x, CG_T_F32, 0};
	k->nvars = 1;
	k->nlocals = 1;
	k->local_type = ir_arena_alloc(a, sizeof *k->local_type);
	k->local_type[0] = CG_T_F32;
	cg_stmt *b = cg_set(a, 0, cg_const_f(a, CG_T_F32, 0));
	cg_append(&b, cg_reduce(a, 0, 8, CG_B_ADD, 0,
	                        cg_set(a, 0, cg_bin(a, CG_B_ADD, cg_local(a, CG_T_F32, 0),
	                                            cg_load(a, CG_T_F32, 1, cg_var(a, 0))))));
	cg_append(&b, cg_store(a, 0, cg_const_i(a, CG_T_I64, 0), cg_local(a, CG_T_F32, 0)));
	k->body = b;
	h->prog.nk++;
}

static int writes(const cg_kernel *k, int id)
{
	for (int i = 0; i < k->nargs; i++)
		if (k->args[i].id == id)
			return k->args[i].written;
	return 0;
}

static void merge_ok(hand *h)
{
	char err[512] = "";
	int rc = cg_multi_merge(&h->prog, err, sizeof err);
	if (rc)
		fail_msg("%s", err);
	rc = cg_program_verify(&h->prog, err, sizeof err);
	if (rc)
		fail_msg("%s", err);
}

static void t_independent_merge(void **st)
{
	(void)st;
	hand h;
	hand_init(&h, 3);
	add_elem(&h, 8, 0, 1, 2);
	add_elem(&h, 5, 3, 4, 1); /* reads b1 too: shared reads are fine */
	add_elem(&h, 1, 5, 6, -1);
	merge_ok(&h);
	assert_int_equal(h.prog.nk, 1);
	const cg_kernel *k = &h.prog.k[0];
	assert_int_equal(k->nseg, 3);
	assert_int_equal(k->kind, RT_K_ELEM);
	assert_string_equal(k->name, "k0_multi3");
	assert_int_equal(k->work, 14);
	assert_int_equal(cg_kernel_par_extent(k), 14);
	/* the union of the buffers, each once, written where a segment writes */
	assert_int_equal(k->nargs, 7);
	int written = 0;
	for (int i = 0; i < k->nargs; i++)
		written += k->args[i].written;
	assert_int_equal(written, 3);
	ir_arena_free(&h.prog.arena);
}

static void t_dependent_stay_apart(void **st)
{
	(void)st;
	hand h;
	/* the second reads the first's result */
	hand_init(&h, 2);
	add_elem(&h, 8, 0, 1, 2);
	add_elem(&h, 8, 3, 0, -1);
	merge_ok(&h);
	assert_int_equal(h.prog.nk, 2);
	ir_arena_free(&h.prog.arena);
	/* the second writes what the first reads */
	hand_init(&h, 2);
	add_elem(&h, 8, 0, 1, 2);
	add_elem(&h, 8, 2, 4, -1);
	merge_ok(&h);
	assert_int_equal(h.prog.nk, 2);
	ir_arena_free(&h.prog.arena);
	/* both write one buffer */
	hand_init(&h, 2);
	add_elem(&h, 8, 0, 1, 2);
	add_elem(&h, 8, 0, 4, -1);
	merge_ok(&h);
	assert_int_equal(h.prog.nk, 2);
	ir_arena_free(&h.prog.arena);
}

static void t_arena_aliases_stay_apart(void **st)
{
	(void)st;
	hand h;
	/* b7 (written by the second) shares bytes with b1 (read by the
	 * first): the plan reused them, one after the other */
	hand_init(&h, 2);
	arena_buf(&h, 1, 0);
	arena_buf(&h, 7, 16);
	add_elem(&h, 8, 0, 1, -1);
	add_elem(&h, 8, 7, 4, -1);
	merge_ok(&h);
	assert_int_equal(h.prog.nk, 2);
	ir_arena_free(&h.prog.arena);
	/* next to each other, not overlapping: one kernel */
	hand_init(&h, 2);
	arena_buf(&h, 1, 0);
	arena_buf(&h, 7, 32);
	add_elem(&h, 8, 0, 1, -1);
	add_elem(&h, 8, 7, 4, -1);
	merge_ok(&h);
	assert_int_equal(h.prog.nk, 1);
	ir_arena_free(&h.prog.arena);
}

static void t_runs_and_limits(void **st)
{
	(void)st;
	hand h;
	/* a run ends at a kernel of another kind (e2 does not move past s1) */
	hand_init(&h, 3);
	add_elem(&h, 8, 0, 1, -1);
	add_sum(&h, 4, 0);
	add_elem(&h, 8, 5, 6, -1);
	merge_ok(&h);
	assert_int_equal(h.prog.nk, 3);
	assert_string_equal(h.prog.k[0].name, "k0_add");
	assert_string_equal(h.prog.k[2].name, "k2_add");
	ir_arena_free(&h.prog.arena);
	/* split reductions' chunks c and folds f, c0 f0 c1 f1: a later kernel
	 * moves down past one it is independent of (f0 past c1), not past one
	 * that reads its result (c0 stays before f0): c0+c1, then f0+f1 */
	hand_init(&h, 4);
	add_sum(&h, 10, 1);
	add_sum(&h, 11, 10);
	add_sum(&h, 12, 2);
	add_sum(&h, 13, 12);
	merge_ok(&h);
	assert_int_equal(h.prog.nk, 2);
	assert_string_equal(h.prog.k[0].name, "k0_multi2");
	assert_true(writes(&h.prog.k[0], 10) && writes(&h.prog.k[0], 12));
	assert_string_equal(h.prog.k[1].name, "k1_multi2");
	assert_true(writes(&h.prog.k[1], 11) && writes(&h.prog.k[1], 13));
	ir_arena_free(&h.prog.arena);
	/* the same where f0 writes the bytes c1 reads: nothing moves */
	hand_init(&h, 4);
	arena_buf(&h, 2, 0);
	arena_buf(&h, 11, 0);
	add_sum(&h, 10, 1);
	add_sum(&h, 11, 10);
	add_sum(&h, 12, 2);
	add_sum(&h, 13, 12);
	merge_ok(&h);
	assert_int_equal(h.prog.nk, 4);
	ir_arena_free(&h.prog.arena);
	/* independent reductions: one kernel, a block each */
	hand_init(&h, 3);
	add_sum(&h, 0, 1);
	add_sum(&h, 2, 3);
	add_sum(&h, 4, 5);
	merge_ok(&h);
	assert_int_equal(h.prog.nk, 1);
	assert_int_equal(h.prog.k[0].kind, RT_K_REDUCE);
	assert_int_equal(h.prog.k[0].nseg, 3);
	assert_int_equal(cg_kernel_par_extent(&h.prog.k[0]), 3);
	assert_int_equal(h.prog.k[0].nvars, 4);
	assert_int_equal(h.prog.k[0].nlocals, 3);
	ir_arena_free(&h.prog.arena);
	/* 100 kernels of 3 buffers each: 64 segments a kernel at most */
	hand_init(&h, 100);
	for (int i = 0; i < 100; i++)
		add_elem(&h, 8, 3 * i, 3 * i + 1, 3 * i + 2);
	merge_ok(&h);
	assert_int_equal(h.prog.nk, 2);
	assert_int_equal(h.prog.k[0].nseg, 36);
	assert_int_equal(h.prog.k[1].nseg, 64);
	assert_int_equal(h.prog.k[1].nargs, 192);
	assert_int_equal(cg_kernel_par_extent(&h.prog.k[0]), 36 * 8);
	/* 120 kernels of 3 buffers each: 256 buffers a kernel at most */
	ir_arena_free(&h.prog.arena);
	hand_init(&h, 120);
	for (int i = 0; i < 120; i++)
		add_elem(&h, 8, 3 * i, 3 * i + 1, 3 * i + 2);
	merge_ok(&h);
	assert_true(h.prog.nk >= 2);
	for (int i = 0; i < h.prog.nk; i++)
		assert_true(h.prog.k[i].nargs <= CG_MULTI_MAX_ARGS);
	ir_arena_free(&h.prog.arena);
}

/* --- the verifier under the segments' comparisons --- */

static int verify_if(cg_bop op, int64_t c, int64_t shift)
{
	ir_arena a = {0};
	cg_kernel k;
	memset(&k, 0, sizeof k);
	k.kind = RT_K_ELEM;
	snprintf(k.name, sizeof k.name, "k0_if");
	cg_arg args[1] = {{0, CG_T_F32, 1}};
	k.nargs = 1;
	k.args = args;
	k.nvars = 1;
	/* for i0 in 0..12 parallel: if (i0 OP c): b0[i0 + shift] = 1 */
	cg_expr *idx = cg_bin(&a, CG_B_ADD, cg_var(&a, 0), cg_const_i(&a, CG_T_I64, shift));
	cg_stmt *st = cg_store(&a, 0, idx, cg_const_f(&a, CG_T_F32, 1));
	cg_stmt *in = cg_if(&a, cg_bin(&a, op, cg_var(&a, 0), cg_const_i(&a, CG_T_I64, c)), st);
	k.body = cg_loop(&a, 0, 12, CG_L_PARALLEL, in);
	int64_t numel[1] = {8};
	char err[256];
	int rc = cg_kernel_verify(&k, numel, err, sizeof err);
	ir_arena_free(&a);
	return rc;
}

static void t_verify_narrows(void **st)
{
	(void)st;
	assert_int_equal(verify_if(CG_B_LT, 8, 0), 0);
	assert_int_equal(verify_if(CG_B_LT, 9, 0), -1);
	assert_int_equal(verify_if(CG_B_LE, 7, 0), 0);
	assert_int_equal(verify_if(CG_B_LE, 8, 0), -1);
	assert_int_equal(verify_if(CG_B_GE, 4, -4), 0);
	assert_int_equal(verify_if(CG_B_GE, 3, -4), -1);
	assert_int_equal(verify_if(CG_B_GT, 3, -4), 0);
	assert_int_equal(verify_if(CG_B_GT, 2, -4), -1);
	/* an if that narrows nothing known leaves the loop's interval */
	assert_int_equal(verify_if(CG_B_NE, 100, 0), -1);
}

/* --- the CUDA rows of the examples --- */

/* the SAM step of model through the CUDA rows: loop kernels, and the
 * last one's segments */
static int cuda_kernels(const char *model, int separate, int *last_nseg, int *nparams)
{
	char err[1024];
	ir_model *m = test_load_model(model, IR_F32, NULL, 0);
	pass_programs ps;
	if (pass_build_all(m, &ps, err, sizeof err))
		fail_msg("%s", err);
	cg_step_options o;
	cg_step_options_default(&o);
	o.cuda = 1;
	o.cuda_separate = separate;
	cg_step *s = cg_step_new(ps.sam.g, ps.sam.outs, ps.sam.names, ps.sam.nout, &o, err, sizeof err);
	if (!s)
		fail_msg("%s", err);
	int n = 0;
	for (int i = 0; i < s->prog->nk; i++)
		if (!rt_kkind_is_call(s->prog->k[i].kind)) {
			n++;
			*last_nseg = s->prog->k[i].nseg;
		}
	*nparams = 0;
	for (int i = 0; i < ps.sam.g->nnodes; i++)
		*nparams += ps.sam.g->nodes[i]->op == IR_OP_PARAM;
	cg_step_free(s);
	pass_programs_free(&ps);
	fe_model_free(m);
	return n;
}

static void t_examples_update_one_kernel(void **st)
{
	(void)st;
	static const char *const models[] = {"examples/fashion_mlp.lua", "tests/diff/mlp_adam.lua"};
	for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
		int seg, sep_seg, np;
		int merged = cuda_kernels(models[i], 0, &seg, &np);
		int apart = cuda_kernels(models[i], 1, &sep_seg, &np);
		/* the update of every parameter (and its state) is the last kernel */
		assert_int_equal(seg, np);
		assert_int_equal(sep_seg, 0);
		assert_true(merged <= apart - (np - 1));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_independent_merge),
	    cmocka_unit_test(t_dependent_stay_apart),
	    cmocka_unit_test(t_arena_aliases_stay_apart),
	    cmocka_unit_test(t_runs_and_limits),
	    cmocka_unit_test(t_verify_narrows),
	    cmocka_unit_test(t_examples_update_one_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
