/*
 * pass_precision.c - `precision = "bf16"`: the forward graph rewritten so
 * that it computes what PyTorch computes under
 * torch.autocast("cpu", dtype=torch.bfloat16), with bf16 values held in f32
 * tensors rounded by round_bf16 (ir_round_bf16). Autodiff, SAM and the
 * optimizer run after it, so they see the rounded graph:
 *
 *   - matmul and conv2d (autocast's lower-precision list) read their
 *     inputs rounded to bf16 (the f32 master weights cast for this pass;
 *     SAM's perturbed weights for the second) and their result is rounded
 *     once: a product of two bf16 values is exact in f32, so this is a
 *     bf16 GEMM with f32 accumulation. A bias added to a matmul or conv2d
 *     result that nothing else reads is rounded and added before the
 *     result's one rounding (F.linear's addmm, conv2d's bias);
 *   - an elementwise, pooling, softmax or data-movement op whose float
 *     inputs are all bf16 (scalar constants aside, as Python scalars do
 *     not promote) computes in f32 and rounds its result, as ATen's kernels
 *     on bf16 tensors do; ops exact on bf16 values (relu, max, max_pool2d,
 *     reshape, ...) need no rounding and keep their result bf16;
 *   - an op with an f32 input gives f32 (type promotion: bf16 + f32 is f32);
 *   - the losses (cross_entropy, nll_loss; autocast's f32 list) and the
 *     reductions (sum, hence mean) read bf16 values as f32 and give f32:
 *     batch_norm and layer_norm are built from sum, so their statistics
 *     and normalisation are f32 as in ATen's kernels (PyTorch rounds their
 *     output, and a plain sum's, to bf16; samc rounds where the next
 *     matmul or conv2d reads it).
 *
 * round_bf16's derivative rounds the adjoint (a cast's backward), so every
 * gradient that reaches a rounded value is bf16, as the gradients of bf16
 * tensors are in PyTorch; the parameters' gradients, SAM's norm and
 * perturbation and the optimizer stay f32.
 */
#include "pass_precision.h"

#include <stdlib.h>

/* autocast's lower-precision list, as far as samc has the ops */
static int lower_op(ir_op op)
{
	return op == IR_OP_MATMUL || op == IR_OP_CONV2D;
}

/* bf16 in, bf16 out with no rounding: a selection, a sign or data movement */
static int exact_op(ir_op op)
{
	switch (op) {
	case IR_OP_NEG: case IR_OP_ABS: case IR_OP_RELU: case IR_OP_SIGN: case IR_OP_FLOOR:
	case IR_OP_MINIMUM: case IR_OP_MAXIMUM: case IR_OP_WHERE: case IR_OP_RESHAPE:
	case IR_OP_TRANSPOSE: case IR_OP_BROADCAST: case IR_OP_NARROW: case IR_OP_CAT:
	case IR_OP_PAD: case IR_OP_MAX: case IR_OP_MAX_POOL2D: case IR_OP_ROUND_BF16:
		return 1;
	default:
		return 0;
	}
}

/* ops whose result is f32 whatever they read: autocast's f32 list (the
 * losses), reductions (above), and ops that give labels or counts */
static int f32_op(ir_op op)
{
	switch (op) {
	case IR_OP_CROSS_ENTROPY: case IR_OP_NLL_LOSS: case IR_OP_SUM: case IR_OP_CORRECT:
	case IR_OP_ONE_HOT: case IR_OP_EMBEDDING:
	case IR_OP_RANK_SUM: /* sync_bn's sums over the ranks, as SUM's */
		return 1;
	default:
		return 0;
	}
}

typedef struct {
	ir_graph *g;
	int n0;          /* the nodes before the rewrite */
	char *bf16;       /* [n0]: the value its readers see is bf16 */
	ir_node **repl;   /* [n0]: what its readers read instead (its rounding), or NULL */
	ir_node **follow; /* [n0]: a layer's input, for its result (ir_follow) */
	int *uses;       /* [n0]: readers in the original graph */
} prec;

static int is_bf16(const prec *p, const ir_node *x)
{
	return x->op == IR_OP_ROUND_BF16 || (x->id < p->n0 && p->bf16[x->id]);
}

static ir_node *round_of(prec *p, ir_node *x)
{
	return x->op == IR_OP_ROUND_BF16 ? x : ir_unary(p->g, IR_OP_ROUND_BF16, x);
}

/* x + bias with x a lower op's rounded result read only here: the index
 * of x among n's inputs, else -1 */
static int bias_add(const prec *p, const ir_node *n)
{
	if (n->op != IR_OP_ADD)
		return -1;
	for (int k = 0; k < 2; k++) {
		const ir_node *r = n->in[k], *b = n->in[1 - k];
		if (r->op == IR_OP_ROUND_BF16 && r->id >= p->n0 && lower_op(r->in[0]->op) &&
		    r->in[0]->id < p->n0 && p->uses[r->in[0]->id] == 1 && !is_bf16(p, b) &&
		    ir_dtype_is_float(b->dtype))
			return k;
	}
	return -1;
}

/* n's readers read it rounded to bf16 */
static int rounded(prec *p, ir_node *n)
{
	p->bf16[n->id] = 1;
	return (p->repl[n->id] = round_of(p, n)) ? 0 : -1;
}

static int rewrite(prec *p, ir_node *n)
{
	ir_graph *g = p->g;
	g->cur = n->loc;
	if (lower_op(n->op)) {
		for (int k = 0; k < n->nin; k++)
			if (!(n->in[k] = round_of(p, n->in[k])))
				return -1;
		return rounded(p, n);
	}
	int k = bias_add(p, n);
	if (k >= 0) {
		n->in[k] = n->in[k]->in[0];
		if (!(n->in[1 - k] = round_of(p, n->in[1 - k])))
			return -1;
		return rounded(p, n);
	}
	const ir_node *in = p->follow[n->id];
	if (in)
		return is_bf16(p, in) ? rounded(p, n) : 0;
	if (ir_op_kind(n->op) == IR_KIND_LEAF || f32_op(n->op) || !ir_dtype_is_float(n->dtype))
		return 0;
	int any = 0, all = 1;
	for (int i = n->op == IR_OP_WHERE ? 1 : 0; i < n->nin; i++) {
		const ir_node *x = n->in[i];
		if (!ir_dtype_is_float(x->dtype) || x->op == IR_OP_CONST)
			continue;
		any |= is_bf16(p, x);
		all &= is_bf16(p, x);
	}
	if (!any || !all)
		return 0;
	p->bf16[n->id] = 1;
	return exact_op(n->op) ? 0 : rounded(p, n);
}

static ir_node *final(const prec *p, ir_node *x)
{
	return x && x->id < p->n0 && p->repl[x->id] ? p->repl[x->id] : x;
}

int pass_precision(ir_graph *g, ir_loc loc, ir_node **const *roots, int nroots,
                   const ir_follow *follows, int nf)
{
	if (g->fdtype != IR_F32) {
		ir_error(g, loc,
		         "precision = \"bf16\" keeps f32 master weights and computes in bfloat16: "
		         "the program must be f32, not %s", ir_dtype_name(g->fdtype));
		return -1;
	}
	size_t n = (size_t)g->nnodes + 1;
	prec p = {g, g->nnodes, calloc(n, 1), calloc(n, sizeof *p.repl),
	          calloc(n, sizeof *p.follow), calloc(n, sizeof *p.uses)};
	int rc = -1;
	if (!p.bf16 || !p.repl || !p.follow || !p.uses) {
		ir_error(g, loc, "precision: out of memory");
		goto done;
	}
	for (int i = 0; i < nf; i++)
		p.follow[follows[i].out->id] = follows[i].in;
	for (int i = 0; i < p.n0; i++)
		for (int k = 0; k < g->nodes[i]->nin; k++)
			p.uses[g->nodes[i]->in[k]->id]++;
	for (int i = 0; i < nroots; i++)
		p.uses[(*roots[i])->id]++;
	for (int i = 0; i < p.n0; i++) {
		ir_node *n = g->nodes[i];
		for (int k = 0; k < n->nin; k++)
			n->in[k] = final(&p, n->in[k]);
		if (rewrite(&p, n) != 0)
			goto done;
	}
	for (int i = 0; i < nroots; i++)
		*roots[i] = final(&p, *roots[i]);
	rc = ir_reorder(g);
done:
	free(p.bf16);
	free(p.repl);
	free(p.follow);
	free(p.uses);
	return rc;
}
