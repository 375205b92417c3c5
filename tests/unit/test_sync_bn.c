/*
 * test_sync_bn.c - rank_sum and sync_bn inside one process: two ranks as
 * two threads over a communicator of their own (the rt_comm vtable over a
 * barrier, sums in rank order as rt_comm.h defines them).
 *
 *   - batch_norm over 2 ranks (ir_batch_norm_ranks) through the
 *     interpreter: the sum of the ranks' losses, their gradients (rank_sum's
 *     adjoint) and the running statistics' batch values equal one
 *     batch_norm over the concatenated batch, and central finite
 *     differences of the ranks' summed loss;
 *   - the interpreter's exec and the CPU step runner sum over the exec's
 *     comm (rt_exec.comm), and copy without one; a malformed COMM entry is
 *     refused;
 *   - the programs of a model: with sync_bn on 2 ranks the training
 *     programs hold rank_sums and the evaluation program none; without
 *     sync_bn, or on one rank, none at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fe_model.h"
#include "ir.h"
#include "ir_interp.h"
#include "ir_norm.h"
#include "pass_autodiff.h"
#include "pass_pipeline.h"
#include "rt_comm.h"
#include "rt_dev_cpu.h"

/* --- two ranks as threads --- */

typedef struct {
	pthread_barrier_t bar;
	void *buf[2];
} tshared;

static int t_allreduce(rt_comm *c, void *buf, size_t n, rt_comm_dtype dt, rt_err *err)
{
	(void)err;
	tshared *s = c->self;
	size_t es = dt == RT_COMM_F64 ? 8 : 4;
	void *sum = malloc(n * es + 1);
	s->buf[c->rank] = buf;
	pthread_barrier_wait(&s->bar);
	for (size_t i = 0; i < n; i++) {
		if (dt == RT_COMM_F64)
			((double *)sum)[i] = ((double *)s->buf[0])[i] + ((double *)s->buf[1])[i];
		else
			((float *)sum)[i] = ((float *)s->buf[0])[i] + ((float *)s->buf[1])[i];
	}
	pthread_barrier_wait(&s->bar); /* both have read both */
	memcpy(buf, sum, n * es);
	free(sum);
	return 0;
}

static void tcomm_init(tshared *s, rt_comm c[2])
{
	pthread_barrier_init(&s->bar, NULL, 2);
	for (int r = 0; r < 2; r++)
		c[r] = (rt_comm){.name = "threads", .rank = r, .size = 2, .self = s,
		                 .allreduce = t_allreduce};
}

static int cb_rank_sum(void *ctx, double *buf, int64_t n, ir_dtype dtype, char *err,
                       size_t errlen)
{
	rt_comm *c = ctx;
	rt_err e;
	assert_int_equal(dtype, IR_F64);
	if (c->allreduce(c, buf, (size_t)n, RT_COMM_F64, &e))
		return ir_failf(err, errlen, "%s", e.msg);
	return 0;
}

/* --- batch_norm over the ranks against one batch_norm --- */

enum { C = 3, ROWS = 4, NOUT = 5 };

typedef struct {
	ir_graph *g;
	ir_node *x, *c, *w, *b, *rm, *rv;
	ir_node *out[NOUT]; /* loss, d/dw, d/db, batch mean, unbiased variance */
} bn_graph;

static void bn_build(bn_graph *G, int64_t rows, int ranks)
{
	ir_graph *g = G->g = ir_graph_new(IR_F64);
	ir_shape xs = ir_shape_make(2, (int64_t[]){rows, C}), cs = ir_shape_make(1, (int64_t[]){C});
	G->x = ir_input(g, "x", IR_F64, xs);
	G->c = ir_input(g, "c", IR_F64, xs);
	G->w = ir_param(g, "w", IR_F64, cs, (ir_init){IR_INIT_ONES, 0, 0});
	G->b = ir_param(g, "b", IR_F64, cs, (ir_init){IR_INIT_ZEROS, 0, 0});
	G->rm = ir_state(g, "rm", IR_F64, cs);
	G->rv = ir_state_init(g, "rv", IR_F64, cs, (ir_init){IR_INIT_ONES, 0, 0});
	ir_node *h = ir_binary(g, IR_OP_ADD, ir_binary(g, IR_OP_MUL, G->x, G->w), G->b);
	ir_bn_stats st;
	ir_node *y = ir_batch_norm_ranks(g, h, NULL, NULL, G->rm, G->rv, ir_mode(g), 1e-5, ranks, &st);
	assert_non_null(y);
	assert_int_equal(st.count, rows * (ranks > 1 ? ranks : 1));
	ir_resolve_mode(g, IR_MODE_TRAIN);
	ir_node *loss = ir_reduce(g, IR_OP_SUM,
	                          ir_binary(g, IR_OP_MUL, G->c, ir_unary(g, IR_OP_TANH, y)), 0, 0);
	ir_node *wrt[2] = {G->w, G->b}, *grads[2];
	assert_int_equal(pass_grad(g, loss, wrt, 2, grads), 0);
	ir_node *o[NOUT] = {loss, grads[0], grads[1], st.mean, st.unbiased_var};
	memcpy(G->out, o, sizeof o);
	assert_int_equal(ir_verify(g), 0);
}

static double val(int64_t i, int k) { return sin(0.7 * (double)i + 1.3 * k) + 0.1 * k; }

/* env's leaves: rows [r0, r0 + rows) of the global x and c, w and b */
static ir_env *bn_env(const bn_graph *G, int64_t r0, int64_t rows, const double *w)
{
	ir_env *e = ir_env_new(G->g);
	double *x = ir_env_leaf(e, G->x), *c = ir_env_leaf(e, G->c);
	for (int64_t i = 0; i < rows * C; i++) {
		x[i] = val(r0 * C + i, 0);
		c[i] = val(r0 * C + i, 1);
	}
	memcpy(ir_env_leaf(e, G->w), w, C * sizeof *w);
	for (int k = 0; k < C; k++)
		ir_env_leaf(e, G->b)[k] = 0.1 * k - 0.05;
	return e;
}

typedef struct {
	const bn_graph *G;
	rt_comm *comm;
	double w[C];
	int nout;
	double *vals[NOUT];
	int rc;
	char err[256];
} rank_job;

static void *rank_main(void *arg)
{
	rank_job *j = arg;
	ir_env *e = bn_env(j->G, (int64_t)j->comm->rank * ROWS, ROWS, j->w);
	ir_env_set_rank_sum(e, cb_rank_sum, j->comm);
	j->rc = ir_interp_eval(e, (ir_node **)j->G->out, j->nout, j->vals, j->err, sizeof j->err);
	ir_env_free(e);
	return NULL;
}

/* Both ranks at w: job[r].vals */
static void run_ranks(const bn_graph *G, const double *w, int nout, rank_job job[2])
{
	tshared s;
	rt_comm comm[2];
	tcomm_init(&s, comm);
	pthread_t t[2];
	for (int r = 0; r < 2; r++) {
		job[r] = (rank_job){.G = G, .comm = &comm[r], .nout = nout};
		memcpy(job[r].w, w, C * sizeof *w);
		assert_int_equal(pthread_create(&t[r], NULL, rank_main, &job[r]), 0);
	}
	for (int r = 0; r < 2; r++)
		pthread_join(t[r], NULL);
	pthread_barrier_destroy(&s.bar);
	for (int r = 0; r < 2; r++)
		if (job[r].rc)
			fail_msg("rank %d: %s", r, job[r].err);
}

static void close_to(const char *what, double got, double want, double tol)
{
	if (!(fabs(got - want) <= tol * (1 + fabs(want))))
		fail_msg("%s: %.17g, expected %.17g (tol %g)", what, got, want, tol);
}

static void test_bn_over_ranks(void **state)
{
	(void)state;
	bn_graph two, one;
	bn_build(&two, ROWS, 2);
	bn_build(&one, 2 * ROWS, 1);
	int nsum = 0;
	for (int i = 0; i < two.g->nnodes; i++)
		nsum += two.g->nodes[i]->op == IR_OP_RANK_SUM;
	assert_int_equal(nsum, 4); /* two statistics, and their adjoints */
	double w[C] = {1.0, 0.8, 1.3};
	rank_job job[2];
	run_ranks(&two, w, NOUT, job);
	ir_env *e = bn_env(&one, 0, 2 * ROWS, w);
	double *ref[NOUT];
	char err[256];
	if (ir_interp_eval(e, one.out, NOUT, ref, err, sizeof err))
		fail_msg("%s", err);
	/* the losses and the gradients add up over the ranks */
	close_to("loss", job[0].vals[0][0] + job[1].vals[0][0], ref[0][0], 1e-13);
	for (int k = 0; k < C; k++) {
		close_to("d/dw", job[0].vals[1][k] + job[1].vals[1][k], ref[1][k], 1e-12);
		close_to("d/db", job[0].vals[2][k] + job[1].vals[2][k], ref[2][k], 1e-12);
		/* d/db is zero up to rounding (the batch's shift), on each rank too */
		close_to("d/db", ref[2][k], 0, 1e-12);
		/* every rank holds the global batch's statistics (count 8: n - 1 = 7) */
		for (int r = 0; r < 2; r++) {
			close_to("mean", job[r].vals[3][k], ref[3][k], 1e-14);
			close_to("unbiased var", job[r].vals[4][k], ref[4][k], 1e-14);
		}
	}
	/* central differences of the ranks' summed loss in w */
	for (int k = 0; k < C; k++) {
		double wp[C], wm[C], h = 1e-6;
		memcpy(wp, w, sizeof wp);
		memcpy(wm, w, sizeof wm);
		wp[k] += h;
		wm[k] -= h;
		rank_job jp[2], jm[2];
		run_ranks(&two, wp, 1, jp);
		run_ranks(&two, wm, 1, jm);
		double fd = (jp[0].vals[0][0] + jp[1].vals[0][0] - jm[0].vals[0][0] - jm[1].vals[0][0]) /
		            (2 * h);
		close_to("finite difference", job[0].vals[1][k] + job[1].vals[1][k], fd, 1e-6);
		for (int r = 0; r < 2; r++) {
			free(jp[r].vals[0]);
			free(jm[r].vals[0]);
		}
	}
	for (int i = 0; i < NOUT; i++) {
		free(ref[i]);
		free(job[0].vals[i]);
		free(job[1].vals[i]);
	}
	ir_env_free(e);
	ir_graph_free(two.g);
	ir_graph_free(one.g);
}

/* --- execs: the interpreter's and the CPU runner's, over rt_exec.comm --- */

typedef struct {
	rt_exec *x;
	rt_comm *comm;
	float in[4], out[4];
	int rc;
	rt_err err;
} exec_job;

static void *exec_main(void *arg)
{
	exec_job *j = arg;
	j->x->comm = j->comm;
	void *slots[2];
	for (int i = 0; i < j->x->nslots; i++)
		slots[i] = strcmp(j->x->slots[i].name, "x") == 0 ? (void *)j->in : (void *)j->out;
	double outs[1];
	j->rc = j->x->run(j->x, slots, outs, &j->err);
	return NULL;
}

/* the interpreter's execs' graphs, which must outlive them: freed by
 * sum_over_threads after the execs */
static ir_graph *made[2];
static int nmade;

/* s := rank_sum(x) in f32: each rank's exec from make(); the ranks' s */
static void sum_over_threads(rt_exec *(*make)(void), int two, float got[2][4])
{
	tshared s;
	rt_comm comm[2];
	tcomm_init(&s, comm);
	exec_job j[2];
	pthread_t t[2];
	for (int r = 0; r < 2; r++) {
		memset(&j[r], 0, sizeof j[r]);
		j[r].x = make();
		j[r].comm = two ? &comm[r] : NULL;
		for (int i = 0; i < 4; i++)
			j[r].in[i] = (float)(0.1 * (i + 1) + r);
		assert_int_equal(pthread_create(&t[r], NULL, exec_main, &j[r]), 0);
		if (!two) /* no comm: each alone */
			pthread_join(t[r], NULL);
	}
	for (int r = 0; two && r < 2; r++)
		pthread_join(t[r], NULL);
	pthread_barrier_destroy(&s.bar);
	for (int r = 0; r < 2; r++) {
		if (j[r].rc)
			fail_msg("rank %d: %s", r, j[r].err.msg);
		memcpy(got[r], j[r].out, sizeof got[r]);
		j[r].x->free(j[r].x);
	}
	while (nmade > 0)
		ir_graph_free(made[--nmade]);
}

static void expect_sums(float got[2][4], int two)
{
	for (int r = 0; r < 2; r++)
		for (int i = 0; i < 4; i++) {
			float a = (float)(0.1 * (i + 1)), b = (float)(0.1 * (i + 1) + 1);
			float want = two ? a + b : r ? b : a;
			if (got[r][i] != want)
				fail_msg("rank %d, element %d: %.9g, expected %.9g", r, i, got[r][i], want);
		}
}

static rt_exec *interp_exec(void)
{
	ir_graph *g = ir_graph_new(IR_F32);
	assert_true(g && nmade < 2);
	made[nmade++] = g;
	ir_shape s4 = ir_shape_make(1, (int64_t[]){4});
	ir_node *x = ir_input(g, "x", IR_F32, s4), *s = ir_state(g, "s", IR_F32, s4);
	ir_node_make(g, IR_OP_ASSIGN, (ir_node *[]){s, ir_rank_sum(g, x)}, 2);
	char err[256];
	rt_exec *e = ir_interp_exec_new(g, NULL, NULL, 0, err, sizeof err);
	if (!e)
		fail_msg("%s", err);
	return e;
}

/* a table by hand: s := rank_sum(x) through an arena buffer and a commit */
static const rt_slot t_slots[2] = {
    {.name = "x", .role = RT_SLOT_INPUT, .dtype = RT_F32, .rank = 1, .dim = {4}},
    {.name = "s", .role = RT_SLOT_STATE, .dtype = RT_F32, .rank = 1, .dim = {4}}};
static const rt_prog_buf t_bufs[3] = {{0, 0, 16}, {-1, 0, 16}, {1, 0, 16}};
static const int t_args[2] = {0, 1};
static const rt_prog_kernel t_kernels[1] = {
    {.kind = RT_K_COMM, .name = "k0_rank_sum", .nargs = 2, .args = t_args, .work = 4,
     .comm_n = 4, .fail_where = "t.lua:1: rank_sum"}};
static const rt_prog_commit t_commits[1] = {{1, -1, 2}};
static const rt_prog t_prog = {t_slots, 2, NULL, 0, t_bufs, 3, t_kernels, 1, t_commits, 1, 64};

static rt_exec *runner_exec(void)
{
	rt_err err;
	rt_exec *e = rt_prog_exec_new(&t_prog, 1, &err);
	if (!e)
		fail_msg("%s", err.msg);
	return e;
}

/* a COMM entry with a third buffer is refused with a message */
static void test_malformed_comm(void **state)
{
	(void)state;
	static const int args3[3] = {0, 1, 2};
	rt_prog_kernel k = t_kernels[0];
	k.nargs = 3;
	k.args = args3;
	rt_prog p = t_prog;
	p.kernels = &k;
	rt_err err = {{0}};
	assert_null(rt_prog_exec_new(&p, 1, &err));
	assert_non_null(strstr(err.msg, "rank_sum kernel 0 has 3 buffers, expected 2"));
}

static void test_execs_sum_over_comm(void **state)
{
	(void)state;
	float got[2][4];
	rt_exec *(*make[2])(void) = {interp_exec, runner_exec};
	for (int m = 0; m < 2; m++)
		for (int two = 0; two < 2; two++) {
			sum_over_threads(make[m], two, got);
			expect_sums(got, two);
		}
}

/* --- the programs of a model --- */

static int count_rank_sums(const pass_program *p)
{
	int n = 0;
	for (int i = 0; p->g && i < p->g->nnodes; i++)
		n += p->g->nodes[i]->op == IR_OP_RANK_SUM;
	return n;
}

static void programs(int ranks, const char *sync, pass_programs *out)
{
	char path[1024], err[1024];
	snprintf(path, sizeof path, "%s/test_sync_bn.lua", SAMC_BINARY_DIR);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("local B = batch_size(8)\n"
	      "local x = input('x', {B, 6})\n"
	      "local y = input('y', {B}, {dtype = 'i32', classes = 3})\n"
	      "local h = relu(batch_norm(linear(x, 4, {name = 'fc1', bias = false})))\n"
	      "return { loss = cross_entropy(linear(h, 3, {name = 'fc2'}), y), epochs = 1,\n"
	      "  optimizer = { name = 'sgd', lr = 0.1, sam = { rho = 0.05, sync = true } } }\n",
	      f);
	fclose(f);
	fe_options o;
	fe_options_init(&o);
	o.ranks = ranks;
	o.sets = (const char *[]){sync};
	o.nsets = 1;
	ir_model *m = NULL;
	if (fe_load_model(path, &o, &m, err, sizeof err))
		fail_msg("%s", err);
	if (pass_build_all(m, out, err, sizeof err))
		fail_msg("%s", err);
	fe_model_free(m);
}

static void test_programs(void **state)
{
	(void)state;
	pass_programs p;
	programs(2, "sync_bn=true", &p);
	/* acc at w and sam_acc at the perturbed weights: the statistics and
	 * their adjoints; upd and upd_sam have no forward pass */
	assert_int_equal(count_rank_sums(&p.acc), 4);
	assert_int_equal(count_rank_sums(&p.sam_acc), 4);
	assert_int_equal(count_rank_sums(&p.upd_sam), 0);
	assert_non_null(p.eval.g);
	assert_int_equal(count_rank_sums(&p.eval), 0);
	pass_programs_free(&p);
	programs(2, "sync_bn=false", &p);
	assert_int_equal(count_rank_sums(&p.acc) + count_rank_sums(&p.sam_acc), 0);
	pass_programs_free(&p);
	programs(1, "sync_bn=true", &p); /* one rank: nothing to synchronise */
	assert_non_null(p.sam.g);
	assert_int_equal(count_rank_sums(&p.sam) + count_rank_sums(&p.eval), 0);
	pass_programs_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bn_over_ranks),
	    cmocka_unit_test(test_execs_sum_over_comm),
	    cmocka_unit_test(test_malformed_comm),
	    cmocka_unit_test(test_programs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
