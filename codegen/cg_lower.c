/*
 * cg_lower.c - fused kernels to loop IR (see cg_lower.h): index maps from
 * the loop space to every node of an inlined tree, dim merging, the loop
 * nests of elementwise and reduction kernels, GEMM descriptors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cg_lower.h"
#include "ir_conv.h"

cg_type cg_type_of(ir_dtype t)
{
	return t == IR_F32 ? CG_T_F32 : t == IR_F64 ? CG_T_F64 : CG_T_I32;
}

typedef struct {
	ir_arena *a;
	const pass_plan *p;
	const pass_fusion *f;
	cg_kernel *k;
	const pass_kernel *K;
	int argcap;
	const ir_node *root;
	int r;                      /* rank of the loop space */
	int64_t ext[IR_MAX_DIMS];
	int red[IR_MAX_DIMS];       /* reduction kernels: dim is reduced */
	int collect;                /* first walk: only record access strides */
	int64_t (*vec)[IR_MAX_DIMS];
	int nvec, capvec;
	int ngroup;
	int glast[IR_MAX_DIMS];
	int64_t gext[IR_MAX_DIMS];
	cg_expr *gidx[IR_MAX_DIMS]; /* a group's index, when not its loop variable */
	int oom;
} lctx;

/* Kernel-local number of plan buffer `id` (args are distinct buffers, so
 * a renderer may treat them as non-aliasing). */
static int arg_of(lctx *c, int id, ir_dtype t, int written)
{
	cg_kernel *k = c->k;
	for (int i = 0; i < k->nargs; i++)
		if (k->args[i].id == id) {
			k->args[i].written |= written;
			return i;
		}
	if (k->nargs == c->argcap) {
		int cap = c->argcap ? 2 * c->argcap : 8;
		cg_arg *n = ir_arena_alloc(c->a, (size_t)cap * sizeof *n);
		if (k->nargs)
			memcpy(n, k->args, (size_t)k->nargs * sizeof *n);
		k->args = n;
		c->argcap = cap;
	}
	k->args[k->nargs].id = id;
	k->args[k->nargs].type = cg_type_of(t);
	k->args[k->nargs].written = written;
	return k->nargs++;
}

/* Element strides, over the loop dims, of reading n through `map`. */
static void node_strides(const ir_node *n, const int *map, int r, int64_t *st)
{
	int64_t acc = 1;
	memset(st, 0, (size_t)r * sizeof *st);
	for (int d = n->shape.rank - 1; d >= 0; d--) {
		if (map[d] >= 0)
			st[map[d]] += acc;
		acc *= n->shape.dim[d];
	}
}

static void record(lctx *c, const int64_t *st)
{
	if (c->nvec == c->capvec) {
		int cap = c->capvec ? 2 * c->capvec : 16;
		void *v = realloc(c->vec, (size_t)cap * sizeof *c->vec);
		if (!v) {
			c->oom = 1;
			return;
		}
		c->vec = v;
		c->capvec = cap;
	}
	memcpy(c->vec[c->nvec++], st, sizeof *c->vec);
}

/* Merges adjacent non-unit loop dims across which every access is contiguous. */
static void collapse(lctx *c)
{
	c->ngroup = 0;
	for (int d = 0; d < c->r; d++) {
		if (c->ext[d] == 1)
			continue;
		if (c->ngroup > 0) {
			int a = c->glast[c->ngroup - 1], ok = c->red[a] == c->red[d];
			for (int v = 0; ok && v < c->nvec; v++)
				ok = c->vec[v][a] == c->vec[v][d] * c->ext[d];
			if (ok) {
				c->glast[c->ngroup - 1] = d;
				c->gext[c->ngroup - 1] *= c->ext[d];
				continue;
			}
		}
		c->glast[c->ngroup] = d;
		c->gext[c->ngroup++] = c->ext[d];
	}
}

static cg_expr *index_of(lctx *c, const int64_t *st)
{
	cg_expr *e = NULL;
	for (int g = 0; g < c->ngroup; g++) {
		int64_t s = st[c->glast[g]];
		if (s == 0)
			continue;
		cg_expr *t = c->gidx[g] ? c->gidx[g] : cg_var(c->a, g);
		if (s != 1)
			t = cg_bin(c->a, CG_B_MUL, t, cg_const_i(c->a, CG_T_I64, s));
		e = e ? cg_bin(c->a, CG_B_ADD, e, t) : t;
	}
	return e ? e : cg_const_i(c->a, CG_T_I64, 0);
}

/* Map of an operand x of n (numpy broadcasting, right-aligned). */
static void bcast_map(const ir_node *n, const ir_node *x, const int *map, int *xmap)
{
	int off = n->shape.rank - x->shape.rank;
	for (int j = 0; j < x->shape.rank; j++) {
		int i = j + off;
		xmap[j] = (x->shape.dim[j] == 1 && n->shape.dim[i] != 1) ? -1 : map[i];
	}
}

/* A read that ends the walk down the tree (a constant, another kernel's
 * result, another result of this kernel): 1 with its value in *out. */
static int leaf_value(lctx *c, const ir_node *n, const int *map, int top, cg_expr **out)
{
	const pass_fusion *f = c->f;
	*out = NULL;
	if (n->op == IR_OP_CONST) {
		if (!c->collect)
			*out = cg_const_f(c->a, cg_type_of(n->dtype), ir_attr_f(n, IR_ATTR_VALUE));
		return 1;
	}
	if (top || f->val[n->id] == PASS_VAL_INLINE)
		return 0;
	/* another result of this kernel: the local it was computed into */
	const ir_node *base = pass_fuse_base(f, (ir_node *)n);
	for (int j = 0; c->K && c->K->nroots > 1 && j < c->K->nroots; j++)
		if (c->K->roots[j] == base) {
			if (!c->collect)
				*out = cg_local(c->a, cg_type_of(n->dtype), j);
			return 1;
		}
	int64_t st[IR_MAX_DIMS];
	node_strides(n, map, c->r, st);
	if (c->collect) {
		record(c, st);
		return 1;
	}
	int b = arg_of(c, c->p->buf_of[n->id], n->dtype, 0);
	*out = cg_load(c->a, cg_type_of(n->dtype), b, index_of(c, st));
	return 1;
}

typedef struct {
	const ir_node *n;
	int map[IR_MAX_DIMS]; /* n's dims -> loop dims */
	int top, started, next;
	cg_expr *in[3]; /* the ops inlined here take at most three inputs */
} value_frame;

/* n's value at the loop point, read through `map` (n's dims -> loop dims):
 * a walk down the inlined tree with a stack of its own, as an elementwise
 * chain may be any number of ops long. NULL when out of memory. */
static cg_expr *value(lctx *c, const ir_node *n, const int *map, int top)
{
	int sp = 0, cap = 16;
	value_frame *st = malloc((size_t)cap * sizeof *st);
	if (!st)
		return NULL;
	memset(&st[0], 0, sizeof st[0]);
	st[0].n = n;
	memcpy(st[0].map, map, sizeof st[0].map);
	st[0].top = top;
	sp = 1;
	for (;;) {
		value_frame *fr = &st[sp - 1];
		const ir_node *x = fr->n;
		cg_expr *r = NULL;
		int done = 0;
		if (!fr->started) {
			fr->started = 1;
			done = leaf_value(c, x, fr->map, fr->top, &r);
		}
		/* elementwise ops take up to three inputs, data movement one */
		if (!done && (x->nin > 3 || (x->nin == 3 && ir_op_kind(x->op) != IR_KIND_ELEM))) {
			free(st);
			return NULL; /* not an elementwise op: no lowering here */
		}
		if (!done && fr->next < x->nin) {
			if (sp == cap) {
				cap *= 2;
				value_frame *ns = realloc(st, (size_t)cap * sizeof *ns);
				if (!ns) {
					free(st);
					return NULL;
				}
				st = ns;
				fr = &st[sp - 1];
			}
			int j = fr->next;
			value_frame *ch = &st[sp++];
			memset(ch, 0, sizeof *ch);
			ch->n = x->in[j];
			if (x->op == IR_OP_TRANSPOSE)
				for (int i = 0; i < x->shape.rank; i++)
					ch->map[ir_attr_ints(x, IR_ATTR_PERM)[i]] = fr->map[i];
			else
				bcast_map(x, x->in[j], fr->map, ch->map);
			continue;
		}
		if (!done && !c->collect)
			r = cg_lower_elem(c->a, x, fr->in[0], fr->in[1], fr->in[2]);
		if (--sp == 0) {
			free(st);
			return r;
		}
		value_frame *parent = &st[sp - 1];
		parent->in[parent->next++] = r;
	}
}

/* The loops of groups [g0, g1) around body, the outermost of kind `outer`,
 * the others serial. */
static cg_stmt *nest(lctx *c, int g0, int g1, cg_lkind outer, cg_stmt *body)
{
	for (int g = g1 - 1; g >= g0; g--)
		body = cg_loop(c->a, g, c->gext[g], g == g0 ? outer : CG_L_SERIAL, body);
	return body;
}

/* The loops of groups [g0, g1) around body, all folding into local acc. */
static cg_stmt *nest_reduce(lctx *c, int g0, int g1, cg_bop op, int acc, cg_stmt *body)
{
	for (int g = g1 - 1; g >= g0; g--)
		body = cg_reduce(c->a, g, c->gext[g], op, acc, body);
	return body;
}

static void set_space(lctx *c, const ir_shape *s)
{
	c->r = s->rank;
	for (int d = 0; d < s->rank; d++)
		c->ext[d] = s->dim[d];
}

static int lower_elem(lctx *c)
{
	const ir_node *root = c->root;
	const pass_kernel *K = c->K;
	int map[IR_MAX_DIMS], nr = K->nroots;
	int64_t st[IR_MAX_DIMS];
	set_space(c, &root->shape);
	for (int d = 0; d < c->r; d++)
		map[d] = d;
	/* every result has the root's shape: one index for all stores */
	node_strides(root, map, c->r, st);
	c->collect = 1;
	record(c, st);
	for (int j = 0; j < nr; j++)
		value(c, K->roots[j], map, 1);
	collapse(c);
	c->collect = 0;
	c->k->nvars = c->ngroup;
	c->k->work = ir_shape_numel(&root->shape) * nr;
	if (nr == 1) {
		int ob = arg_of(c, c->p->buf_of[root->id], root->dtype, 1);
		cg_expr *v = value(c, root, map, 1);
		if (!v)
			return -1;
		c->k->body = nest(c, 0, c->ngroup, CG_L_PARALLEL, cg_store(c->a, ob, index_of(c, st), v));
		return 0;
	}
	/* several results: compute all into locals (reading the old values of
	 * any slot written in place), then store them */
	c->k->nlocals = nr;
	c->k->local_type = ir_arena_alloc(c->a, (size_t)nr * sizeof *c->k->local_type);
	cg_stmt *body = NULL;
	for (int j = 0; j < nr; j++) {
		cg_expr *v = value(c, K->roots[j], map, 1);
		if (!v)
			return -1;
		c->k->local_type[j] = cg_type_of(K->roots[j]->dtype);
		cg_append(&body, cg_set(c->a, j, v));
	}
	cg_expr *idx = index_of(c, st);
	for (int j = 0; j < nr; j++) {
		const ir_node *r = K->roots[j];
		int ob = arg_of(c, c->p->buf_of[r->id], r->dtype, 1);
		cg_append(&body, cg_store(c->a, ob, idx, cg_local(c->a, cg_type_of(r->dtype), j)));
	}
	c->k->body = nest(c, 0, c->ngroup, CG_L_PARALLEL, body);
	return 0;
}

/* Columns per block when a reduction keeps only its last group (a bias
 * gradient: a sum over the rows), or 0. A block is at least 256 columns
 * wide: each row adds into the block's results, and narrower blocks make
 * that a chain of dependent loads and stores (measured: 64 columns ran
 * at half the speed of whole rows). */
static int64_t column_block(int64_t cols)
{
	for (int64_t n = 8; n >= 2; n /= 2)
		if (cols % n == 0 && cols / n >= 256)
			return cols / n;
	return 0;
}

static int lower_reduce(lctx *c)
{
	ir_arena *a = c->a;
	const ir_node *root = c->root, *x = root->in[0];
	const ir_shape *s = &x->shape;
	uint32_t axes = (uint32_t)ir_attr_i(root, IR_ATTR_AXES);
	if (!axes)
		axes = (uint32_t)((1u << s->rank) - 1);
	int map[IR_MAX_DIMS], o = 0;
	int64_t ost[IR_MAX_DIMS], st[IR_MAX_DIMS], acc = 1;
	set_space(c, s);
	for (int d = 0; d < s->rank; d++)
		map[d] = d;
	/* result strides over the input dims (0 along reduced dims) */
	for (int d = root->shape.rank - 1; d >= 0; d--) {
		ost[d] = acc;
		acc *= root->shape.dim[d];
	}
	for (int d = 0; d < s->rank; d++) {
		c->red[d] = (axes >> d) & 1;
		st[d] = c->red[d] ? 0 : ost[ir_attr_i(root, IR_ATTR_KEEPDIM) ? d : o];
		if (!c->red[d] || ir_attr_i(root, IR_ATTR_KEEPDIM))
			o++;
	}
	c->collect = 1;
	record(c, st);
	value(c, x, map, 0);
	collapse(c);
	c->collect = 0;
	int nkept = 0, suffix = 1, last = c->ngroup - 1;
	for (int g = 0; g < c->ngroup; g++) {
		if (!c->red[c->glast[g]]) {
			if (nkept != g)
				suffix = 0;
			nkept++;
		}
	}
	/* only the last group kept: blocks of its columns, each in a parallel
	 * iteration, walk the rows in order (index of the group: block * B + j) */
	int64_t blk = !suffix && nkept == 1 && !c->red[c->glast[last]] ? column_block(c->gext[last]) : 0;
	int64_t nblk = blk ? c->gext[last] / blk : 0;
	if (blk) {
		c->gidx[last] = cg_bin(a, CG_B_ADD,
		                       cg_bin(a, CG_B_MUL, cg_var(a, c->ngroup), cg_const_i(a, CG_T_I64, blk)),
		                       cg_var(a, last));
		c->gext[last] = blk;
	}
	int ob = arg_of(c, c->p->buf_of[root->id], root->dtype, 1);
	cg_expr *v = value(c, x, map, 0);
	if (!v)
		return -1;
	cg_type t = cg_type_of(root->dtype);
	int is_sum = root->op == IR_OP_SUM;
	cg_expr *init = cg_const_f(a, t, is_sum ? 0.0 : -INFINITY);
	c->k->nvars = c->ngroup;
	c->k->work = ir_shape_numel(s);
	cg_expr *oidx = index_of(c, st);
	if (suffix) {
		/* kept dims outside, a scalar accumulator over the reduced ones */
		c->k->nlocals = 1;
		c->k->local_type = ir_arena_alloc(a, sizeof *c->k->local_type);
		c->k->local_type[0] = t;
		cg_expr *accv = cg_local(a, t, 0);
		cg_bop op = is_sum ? CG_B_ADD : CG_B_MAX;
		cg_stmt *inner = nest_reduce(c, nkept, c->ngroup, op, 0, cg_set(a, 0, cg_bin(a, op, accv, v)));
		cg_stmt *body = cg_set(a, 0, init);
		body->next = inner;
		inner->next = cg_store(a, ob, oidx, accv);
		c->k->body = nest(c, 0, nkept, CG_L_PARALLEL, body);
		return 0;
	}
	/* accumulate in the result, walking the input in order */
	cg_stmt *fill = blk ? cg_loop(a, last, blk, CG_L_SERIAL, cg_store(a, ob, oidx, init))
	                    : cg_loop(a, 0, ir_shape_numel(&root->shape), CG_L_SERIAL,
	                              cg_store(a, ob, cg_var(a, 0), init));
	cg_expr *old = cg_load(a, t, ob, oidx);
	fill->next = nest(c, 0, c->ngroup, CG_L_SERIAL,
	                  cg_store(a, ob, oidx, cg_bin(a, is_sum ? CG_B_ADD : CG_B_MAX, old, v)));
	if (blk) {
		c->k->nvars = c->ngroup + 1;
		c->k->body = cg_loop(a, c->ngroup, nblk, CG_L_PARALLEL, fill);
		return 0;
	}
	if (c->k->nvars < 1)
		c->k->nvars = 1;
	c->k->body = fill;
	return 0;
}

/* A convolution as a library call (RT_K_CONV): its buffers at the fixed
 * positions of rt_prog_kernel's CONV arguments (the node's two inputs, then
 * its result), its sizes as an rt_conv_desc. */
static int lower_conv_call(lctx *c, const ir_node *root)
{
	cg_kernel *k = c->k;
	ir_conv_desc d;
	if (ir_conv_desc_of(root, &d) != 0)
		return -1;
	k->conv = (rt_conv_desc){d.N, d.C, d.H, d.W, d.O, d.kh, d.kw, d.OH, d.OW,
	                         d.sh, d.sw, d.ph, d.pw, d.dh, d.dw, d.groups};
	k->conv_op = root->op == IR_OP_CONV2D ? RT_CONV_FWD
	           : root->op == IR_OP_CONV2D_BWD_DATA ? RT_CONV_BWD_DATA : RT_CONV_BWD_WEIGHT;
	k->conv_bias = 0;
	const ir_node *ops[3] = {root->in[0], root->in[1], root};
	k->args = ir_arena_alloc(c->a, 3 * sizeof *k->args);
	for (int j = 0; j < 3; j++) {
		k->args[j].id = c->p->buf_of[ops[j]->id];
		k->args[j].type = cg_type_of(ops[j]->dtype);
		k->args[j].written = j == 2;
	}
	k->nargs = 3;
	k->bf16 = ir_bf16_exact(root->in[0]) && ir_bf16_exact(root->in[1]);
	/* multiply-adds, as a GEMM's work */
	k->work = d.N * d.O * d.OH * d.OW * (d.C / d.groups) * d.kh * d.kw;
	return 0;
}

/* A sum over the ranks as a library call (RT_K_COMM): args x, y. */
static int lower_comm_call(lctx *c, const ir_node *root)
{
	cg_kernel *k = c->k;
	const ir_node *ops[2] = {root->in[0], root};
	k->args = ir_arena_alloc(c->a, 2 * sizeof *k->args);
	for (int j = 0; j < 2; j++) {
		k->args[j].id = c->p->buf_of[ops[j]->id];
		k->args[j].type = cg_type_of(ops[j]->dtype);
		k->args[j].written = j == 1;
	}
	k->nargs = 2;
	k->comm_n = ir_shape_numel(&root->shape);
	k->work = k->comm_n;
	return 0;
}

static int lower_kernel(lctx *c, const pass_kernel *K, int idx, char *err, size_t errlen)
{
	const ir_node *root = K->root;
	cg_kernel *k = c->k;
	k->src = idx;
	snprintf(k->name, sizeof k->name, "k%d_%s", idx, ir_op_name(root->op));
	k->kind = K->kind;
	switch (K->kind) {
	case RT_K_ELEM:
		if (lower_elem(c) == 0)
			return 0;
		break;
	case RT_K_REDUCE:
		if (lower_reduce(c) == 0)
			return 0;
		break;
	case RT_K_GEMM: {
		const ir_node *A = root->in[0], *B = root->in[1];
		const ir_node *ops[3] = {A, B, root};
		/* fixed positions A, B, C: a library call, so no need for distinct buffers */
		k->args = ir_arena_alloc(c->a, 3 * sizeof *k->args);
		for (int j = 0; j < 3; j++) {
			k->args[j].id = c->p->buf_of[ops[j]->id];
			k->args[j].type = cg_type_of(ops[j]->dtype);
			k->args[j].written = j == 2;
		}
		k->nargs = 3;
		k->ta = ir_attr_i(root, IR_ATTR_TA);
		k->tb = ir_attr_i(root, IR_ATTR_TB);
		k->bf16 = ir_bf16_exact(A) && ir_bf16_exact(B);
		/* [batch,] m, n: a 3-D product is `batch` 2-D ones */
		int b3 = root->shape.rank == 3;
		k->batch = b3 ? root->shape.dim[0] : 1;
		k->m = root->shape.dim[b3];
		k->n = root->shape.dim[b3 + 1];
		k->k = ir_attr_i(root, IR_ATTR_TA) ? A->shape.dim[b3] : A->shape.dim[b3 + 1];
		k->work = k->batch * k->m * k->n * k->k;
		return 0;
	}
	case RT_K_CONV:
		return lower_conv_call(c, root);
	case RT_K_COMM:
		if (lower_comm_call(c, root) == 0)
			return 0;
		break;
	case RT_K_ROW: {
		/* cat takes any number of inputs */
		int *b = ir_arena_alloc(c->a, (size_t)(1 + root->nin) * sizeof *b);
		b[0] = arg_of(c, c->p->buf_of[root->id], root->dtype, 1);
		for (int j = 0; j < root->nin; j++)
			b[1 + j] = arg_of(c, c->p->buf_of[root->in[j]->id], root->in[j]->dtype, 0);
		return cg_lower_row(c->a, k, root, b, err, errlen);
	}
	}
	if (c->oom)
		snprintf(err, errlen, "lowering: out of memory");
	else
		snprintf(err, errlen, "lowering: node %%%d (%s) has no loop IR lowering", root->id,
		         ir_op_name(root->op));
	return -1;
}

cg_program *cg_lower(const pass_plan *p, char *err, size_t errlen)
{
	const pass_fusion *f = p->f;
	cg_program *prog = calloc(1, sizeof *prog);
	if (!prog) {
		snprintf(err, errlen, "lowering: out of memory");
		return NULL;
	}
	prog->plan = p;
	prog->k = ir_arena_alloc(&prog->arena, (size_t)(f->nk + 1) * sizeof *prog->k);
	for (int i = 0; i < f->nk; i++) {
		lctx c;
		memset(&c, 0, sizeof c);
		c.a = &prog->arena;
		c.p = p;
		c.f = f;
		c.k = &prog->k[i];
		c.root = f->k[i].root;
		c.K = &f->k[i];
		int rc = lower_kernel(&c, &f->k[i], i, err, errlen);
		free(c.vec);
		if (rc) {
			cg_program_free(prog);
			return NULL;
		}
		prog->nk++;
	}
	return prog;
}

int64_t cg_program_buf_numel(const cg_program *prog, int id)
{
	int n = prog->plan->nbuf;
	if (id >= 0 && id < n)
		return prog->plan->buf[id].numel;
	if (id >= n && id < n + prog->nscratch)
		return prog->scratch[id - n].numel;
	return -1;
}

void cg_program_free(cg_program *prog)
{
	if (!prog)
		return;
	ir_arena_free(&prog->arena);
	free(prog);
}

void cg_program_print(FILE *out, const cg_program *prog)
{
	for (int i = 0; i < prog->nk; i++)
		cg_kernel_print(out, &prog->k[i]);
}
