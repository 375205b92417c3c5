/*
 * test_cg_random.c - 200 randomly generated small graphs (fixed seed):
 * chains of elementwise, broadcast, reduction, reshape/transpose, matmul,
 * softmax and cross-entropy ops over random shapes, and their gradients
 * (pass_grad), run through the CPU backend and the interpreter; every
 * observed value, forward and backward, must agree. Ops with
 * jumps (floor, sign, comparisons, argmax) stay out: a one-ulp difference
 * upstream could flip them; test_cg_ops covers them on exact inputs.
 * Ten graphs share one step graph (disjoint leaves and observers), so
 * one compile serves ten graphs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "pass_autodiff.h"
#include "test_cg_harness.h"

#define NGRAPHS 200
#define MAXV 64
#define BATCH 10

typedef struct {
	ir_graph *g;
	ir_node *v[MAXV];
	int nv;
	uint64_t seed;
	int nparam;
	int nback; /* graphs whose gradients are observed too */
} gen;

static int rnd(gen *G, int n)
{
	return (int)(cgh_rand(&G->seed) * n) % n;
}

static ir_node *pick(gen *G)
{
	/* favour recent values so chains grow deep */
	int lo = G->nv > 4 ? G->nv - 4 : 0;
	return rnd(G, 3) ? G->v[lo + rnd(G, G->nv - lo)] : G->v[rnd(G, G->nv)];
}

static ir_shape rand_shape(gen *G)
{
	static const int64_t dims[] = {1, 2, 3, 5, 8, 17, 33};
	ir_shape s;
	memset(&s, 0, sizeof s);
	s.rank = 1 + rnd(G, 3);
	for (int i = 0; i < s.rank; i++)
		s.dim[i] = dims[rnd(G, 7)];
	return s;
}

static ir_node *leaf(gen *G, ir_shape s)
{
	char name[16];
	snprintf(name, sizeof name, "w%d", G->nparam++);
	return ir_param(G->g, name, G->g->fdtype, s, (ir_init){IR_INIT_ZEROS, 0, 0});
}

/* A second operand that broadcasts against a: a's shape with some dims 1
 * and maybe fewer leading dims, or a scalar. */
static ir_node *partner(gen *G, ir_node *a)
{
	ir_shape s = a->shape;
	int c = rnd(G, 4);
	if (c == 0)
		return ir_scalar(G->g, 0.5 + cgh_rand(&G->seed));
	for (int i = 0; i < s.rank; i++)
		if (rnd(G, 3) == 0)
			s.dim[i] = 1;
	if (c == 1 && s.rank > 1) {
		memmove(s.dim, s.dim + 1, (size_t)(s.rank - 1) * sizeof *s.dim);
		s.rank--;
	}
	for (int i = 0; i < G->nv; i++)
		if (ir_shape_eq(&G->v[i]->shape, &s) && rnd(G, 2))
			return G->v[i];
	return leaf(G, s);
}

static ir_node *positive(gen *G, ir_node *x)
{
	return ir_binary(G->g, IR_OP_ADD, ir_unary(G->g, IR_OP_ABS, x), ir_scalar(G->g, 0.5));
}

static ir_node *step(gen *G)
{
	ir_graph *g = G->g;
	ir_node *x = pick(G);
	int r = x->shape.rank, c = rnd(G, 13);
	if (r == 0 && (c == 6 || c == 7 || c == 8 || c >= 10))
		c = 9; /* scalars only broadcast */
	switch (c) {
	case 0: {
		static const ir_op u[] = {IR_OP_NEG, IR_OP_ABS, IR_OP_RELU, IR_OP_GELU, IR_OP_TANH,
		                          IR_OP_SIGMOID, IR_OP_SIN, IR_OP_COS};
		return ir_unary(g, u[rnd(G, 8)], x);
	}
	case 1: return ir_unary(g, IR_OP_EXP, ir_unary(g, IR_OP_TANH, x));
	case 2: {
		static const ir_op u[] = {IR_OP_LOG, IR_OP_SQRT, IR_OP_RSQRT};
		return ir_unary(g, u[rnd(G, 3)], positive(G, x));
	}
	case 3:
	case 4: {
		static const ir_op b[] = {IR_OP_ADD, IR_OP_SUB, IR_OP_MUL, IR_OP_MINIMUM, IR_OP_MAXIMUM,
		                          IR_OP_GELU_GRAD};
		ir_node *y = partner(G, x);
		return rnd(G, 2) ? ir_binary(g, b[rnd(G, 6)], x, y) : ir_binary(g, b[rnd(G, 6)], y, x);
	}
	case 5: {
		ir_node *y = partner(G, x);
		return rnd(G, 2) ? ir_binary(g, IR_OP_DIV, x, positive(G, y))
		                 : ir_binary(g, IR_OP_POW, positive(G, x), ir_unary(g, IR_OP_TANH, y));
	}
	case 6: {
		uint32_t axes = (uint32_t)rnd(G, 1 << r);
		return ir_reduce(g, rnd(G, 2) ? IR_OP_SUM : IR_OP_MAX, x, axes, rnd(G, 2));
	}
	case 7: {
		int perm[IR_MAX_DIMS];
		for (int i = 0; i < r; i++)
			perm[i] = i;
		for (int i = r - 1; i > 0; i--) {
			int j = rnd(G, i + 1), t = perm[i];
			perm[i] = perm[j];
			perm[j] = t;
		}
		return ir_transpose(g, x, perm);
	}
	case 8: {
		int64_t n = ir_shape_numel(&x->shape), last = x->shape.dim[r - 1];
		int64_t d[2] = {n / last, last};
		return rnd(G, 2) ? ir_reshape(g, x, ir_shape_make(1, &n)) : ir_reshape(g, x, ir_shape_make(2, d));
	}
	case 9: {
		ir_shape s = x->shape;
		if (s.rank == IR_MAX_DIMS)
			return ir_unary(g, IR_OP_NEG, x);
		memmove(s.dim + 1, s.dim, (size_t)s.rank * sizeof *s.dim);
		s.dim[0] = 1 + rnd(G, 4);
		s.rank++;
		return ir_broadcast(g, x, s);
	}
	case 10: {
		int64_t n = ir_shape_numel(&x->shape), k = x->shape.dim[r - 1];
		int64_t d[2] = {n / k, k};
		ir_node *a = ir_reshape(g, x, ir_shape_make(2, d));
		int ta = rnd(G, 2), tb = rnd(G, 2);
		if (ta)
			a = ir_transpose2(g, a, 0, 1);
		int64_t nn = 1 + rnd(G, 20);
		int64_t bd[2] = {tb ? nn : k, tb ? k : nn};
		return ir_matmul(g, a, leaf(G, ir_shape_make(2, bd)), ta, tb);
	}
	case 11: {
		int axis = rnd(G, r);
		return ir_softmax(g, rnd(G, 2) ? IR_OP_SOFTMAX : IR_OP_LOG_SOFTMAX, x, axis);
	}
	default: {
		int64_t n = ir_shape_numel(&x->shape), c = x->shape.dim[r - 1];
		int64_t d[2] = {n / c, c};
		ir_node *lg = ir_reshape(g, x, ir_shape_make(2, d));
		char name[16];
		snprintf(name, sizeof name, "y%d", G->nparam++);
		ir_node *lab = ir_input(g, name, IR_I32, ir_shape_make(1, d));
		ir_attr_set_i(lab, IR_ATTR_NCLASSES, (int)c);
		int red = rnd(G, 2);
		double ls = rnd(G, 2) ? 0.1 : 0.0;
		if (rnd(G, 2))
			return ir_cross_entropy(g, lg, lab, red, ls);
		ir_node *dl = red == IR_REDUCE_NONE ? leaf(G, ir_shape_make(1, d)) : ir_scalar(g, 1.5);
		return ir_cross_entropy_grad(g, lg, lab, dl, red, ls);
	}
	}
}

/* Backward: the gradient of sum(last value) with respect to each of the
 * graph's params, observed like the forward values. A graph whose loss
 * depends on a gradient op (no second derivatives) is checked forward only. */
static int add_backward(gen *G, int i, int first_param, ir_node *loss)
{
	ir_graph *g = G->g;
	ir_node *params[MAXV] = {0}, *grads[MAXV] = {0};
	int np = 0;
	for (int k = 0; k < g->nnodes && np < MAXV; k++) {
		ir_node *n = g->nodes[k];
		if (n->op == IR_OP_PARAM && atoi(n->name + 1) >= first_param && n->name[0] == 'w')
			params[np++] = n;
	}
	int nnodes = g->nnodes;
	if (pass_grad(g, loss, params, np, grads) != 0) {
		if (!strstr(g->err, "second derivatives"))
			return -1;
		g->nnodes = nnodes; /* drop what the failed pass appended */
		g->has_err = 0;
		return 0;
	}
	for (int k = 0; k < np; k++)
		if (!cgh_observe(g, grads[k], 100000 + 64 * i + k))
			return -1;
	G->nback++;
	return 0;
}

/* Adds random graph i (its own leaves and observers, forward and backward)
 * to G->g; its loss. */
static ir_node *add_graph(gen *G, int i)
{
	int first_param = G->nparam;
	G->nv = 0;
	G->seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)(i + 1) * 0x2545f4914f6cdd1dull;
	int nin = 1 + rnd(G, 2);
	for (int j = 0; j < nin; j++)
		G->v[G->nv++] = leaf(G, rand_shape(G));
	int nops = 3 + rnd(G, 8);
	for (int j = 0; j < nops && G->nv < MAXV; j++) {
		ir_node *n = step(G);
		if (!n) {
			print_error("graph %d: builder: %s\n", i, G->g->err);
			return NULL;
		}
		G->v[G->nv++] = n;
	}
	/* observe the last values, and a scalar output */
	int nobs = 1 + rnd(G, 3);
	for (int j = 0; j < nobs; j++)
		cgh_observe(G->g, G->v[G->nv - 1 - j], 4 * i + j);
	ir_node *loss = ir_reduce(G->g, IR_OP_SUM, G->v[G->nv - 1], 0, 0);
	if (!loss || add_backward(G, i, first_param, loss) != 0) {
		print_error("graph %d: backward: %s\n", i, G->g->err);
		return NULL;
	}
	return loss;
}

/* Graphs [first, first + n) in one step graph (so one JIT compile), run
 * through both backends; 0 when every value agrees. */
static int check_graphs(int first, int n, ir_dtype t, double *worst, int *nback, int verbose)
{
	gen G;
	memset(&G, 0, sizeof G);
	G.g = ir_graph_new(t);
	ir_node *loss[BATCH];
	char names[BATCH][16];
	const char *pnames[BATCH];
	for (int j = 0; j < n; j++) {
		if (!(loss[j] = add_graph(&G, first + j)))
			fail();
		snprintf(names[j], sizeof names[j], "loss%d", first + j);
		pnames[j] = names[j];
	}
	assert_int_equal(ir_verify(G.g), 0);
	char err[1024];
	/* f32: chains of a dozen ops, each rounded differently -> 1e-4 */
	double tol = t == IR_F32 ? 1e-4 : 1e-10;
	int rc = cgh_compare(G.g, loss, pnames, n, 2, tol, (uint64_t)first, worst, err, sizeof err);
	if (rc && verbose) {
		print_error("graph %d (%s): %s\n", first, ir_dtype_name(t), err);
		ir_print(stderr, G.g);
	}
	ir_graph_free(G.g);
	*nback += G.nback;
	return rc;
}

/* Graphs are compiled BATCH at a time (one JIT module each, at the same
 * O3 as training): the compile dominates the run time. A failing batch is
 * re-run graph by graph to name the culprit. */
static void test_random_graphs(void **st)
{
	(void)st;
	int failures = 0, nback = 0, unused = 0;
	double worst32 = 0, worst64 = 0;
	for (int b = 0; b < NGRAPHS / BATCH; b++) {
		ir_dtype t = b % 4 == 3 ? IR_F64 : IR_F32;
		double worst = 0;
		if (check_graphs(b * BATCH, BATCH, t, &worst, &nback, 0)) {
			int before = failures;
			for (int i = b * BATCH; i < (b + 1) * BATCH; i++) {
				double w1;
				failures += check_graphs(i, 1, t, &w1, &unused, 1) != 0;
			}
			/* only the batch fails: graphs interfere, a bug as well */
			if (failures == before) {
				print_error("graphs %d..%d fail together only\n", b * BATCH, (b + 1) * BATCH - 1);
				check_graphs(b * BATCH, BATCH, t, &worst, &unused, 1);
				failures++;
			}
		}
		if (t == IR_F32 && worst > worst32)
			worst32 = worst;
		if (t == IR_F64 && worst > worst64)
			worst64 = worst;
	}
	print_message("%d graphs (%d with gradients), worst scaled error f32 %.3g, f64 %.3g\n", NGRAPHS,
	              nback, worst32, worst64);
	assert_int_equal(failures, 0);
	/* most graphs have no gradient op on their loss path */
	assert_true(nback >= NGRAPHS / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_graphs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
