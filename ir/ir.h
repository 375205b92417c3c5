/*
 * ir.h - samc's graph IR: whole-tensor ops with static shapes.
 *
 * A model file builds one ir_graph: leaves (params, inputs, optimizer state,
 * constants) and ops over them. Every node carries the dtype and shape that
 * shape inference gave it, and the model-file line that created it, so any
 * error about a node can name "file:line".
 *
 * Passes (autodiff, optimizer lowering, the SAM rewrite) append nodes to the
 * same graph; a training step ends in ASSIGN nodes that write params/state.
 * Semantics of a step: every node reads the values the leaves had when the
 * step began; all ASSIGNs commit together at its end.
 *
 * Nodes live in the graph's arena and are freed together with the graph.
 * Builder functions never abort: on a bad argument they return NULL and
 * leave a message (with the location) in the graph's error buffer. A NULL
 * input (an earlier failure) gives NULL and keeps the first message, so
 * builder calls nest without a check at each level.
 */
#ifndef SAMC_IR_H
#define SAMC_IR_H

#include <stddef.h>
#include <stdint.h>

#include "ir_arena.h"

#define IR_MAX_DIMS 6
#define IR_MAX_INPUTS 3

typedef enum { IR_F32, IR_F64, IR_I32 } ir_dtype;

typedef struct {
	int rank;
	int64_t dim[IR_MAX_DIMS];
} ir_shape;

typedef struct {
	const char *file; /* model file (interned in the arena), or NULL */
	int line;         /* 0 when unknown (nodes made by a pass) */
} ir_loc;

/* Op kinds, for fusion and for the printer. */
typedef enum {
	IR_KIND_LEAF,    /* no inputs: param, input, state, const */
	IR_KIND_ELEM,    /* elementwise, numpy broadcasting between inputs */
	IR_KIND_SHAPE,   /* reshape, transpose, broadcast: data movement only */
	IR_KIND_REDUCE,  /* reduces over axes */
	IR_KIND_MATMUL,  /* library call (GEMM) */
	IR_KIND_OPAQUE,  /* softmax-like: row-wise, own kernel */
	IR_KIND_EFFECT   /* assign */
} ir_kind;

/*
 * The op table. X(ENUM, "name", arity, kind)
 * Adding an op means adding: its row here, its shape rule (ir_build.c), its
 * interpreter case (ir_interp.c), its derivative (pass_autodiff.c) and tests.
 */
#define IR_OP_TABLE(X)                                   \
	X(PARAM, "param", 0, IR_KIND_LEAF)                   \
	X(INPUT, "input", 0, IR_KIND_LEAF)                   \
	X(STATE, "state", 0, IR_KIND_LEAF)                   \
	X(CONST, "const", 0, IR_KIND_LEAF)                   \
	/* unary elementwise */                              \
	X(NEG, "neg", 1, IR_KIND_ELEM)                       \
	X(EXP, "exp", 1, IR_KIND_ELEM)                       \
	X(LOG, "log", 1, IR_KIND_ELEM)                       \
	X(SQRT, "sqrt", 1, IR_KIND_ELEM)                     \
	X(RSQRT, "rsqrt", 1, IR_KIND_ELEM)                   \
	X(ABS, "abs", 1, IR_KIND_ELEM)                       \
	X(SIGN, "sign", 1, IR_KIND_ELEM)                     \
	X(RELU, "relu", 1, IR_KIND_ELEM)                     \
	X(GELU, "gelu", 1, IR_KIND_ELEM)                     \
	X(TANH, "tanh", 1, IR_KIND_ELEM)                     \
	X(SIGMOID, "sigmoid", 1, IR_KIND_ELEM)               \
	X(COS, "cos", 1, IR_KIND_ELEM)                       \
	X(SIN, "sin", 1, IR_KIND_ELEM)                       \
	X(FLOOR, "floor", 1, IR_KIND_ELEM)                   \
	/* binary elementwise (broadcasting) */              \
	X(ADD, "add", 2, IR_KIND_ELEM)                       \
	X(SUB, "sub", 2, IR_KIND_ELEM)                       \
	X(MUL, "mul", 2, IR_KIND_ELEM)                       \
	X(DIV, "div", 2, IR_KIND_ELEM)                       \
	X(POW, "pow", 2, IR_KIND_ELEM)                       \
	X(MINIMUM, "minimum", 2, IR_KIND_ELEM)               \
	X(MAXIMUM, "maximum", 2, IR_KIND_ELEM)               \
	X(GT, "gt", 2, IR_KIND_ELEM)      /* 1 where a>b */  \
	X(EQ, "eq", 2, IR_KIND_ELEM)      /* 1 where a==b */ \
	X(GELU_GRAD, "gelu_grad", 2, IR_KIND_ELEM) /* (x,dy) */ \
	/* data movement */                                  \
	X(RESHAPE, "reshape", 1, IR_KIND_SHAPE)              \
	X(TRANSPOSE, "transpose", 1, IR_KIND_SHAPE)          \
	X(BROADCAST, "broadcast", 1, IR_KIND_SHAPE)          \
	/* reductions */                                     \
	X(SUM, "sum", 1, IR_KIND_REDUCE)                     \
	X(MAX, "max", 1, IR_KIND_REDUCE)                     \
	/* matrix product */                                 \
	X(MATMUL, "matmul", 2, IR_KIND_MATMUL)               \
	/* row-wise */                                       \
	X(SOFTMAX, "softmax", 1, IR_KIND_OPAQUE)             \
	X(LOG_SOFTMAX, "log_softmax", 1, IR_KIND_OPAQUE)     \
	X(CROSS_ENTROPY, "cross_entropy", 2, IR_KIND_OPAQUE) \
	X(CROSS_ENTROPY_GRAD, "cross_entropy_grad", 3, IR_KIND_OPAQUE) \
	X(CORRECT, "correct", 2, IR_KIND_OPAQUE)             \
	/* effects */                                        \
	X(ASSIGN, "assign", 2, IR_KIND_EFFECT)

typedef enum {
#define X(e, s, a, k) IR_OP_##e,
	IR_OP_TABLE(X)
#undef X
	IR_OP_COUNT
} ir_op;

const char *ir_op_name(ir_op op);
int ir_op_arity(ir_op op);
ir_kind ir_op_kind(ir_op op);
const char *ir_dtype_name(ir_dtype t);
int ir_dtype_is_float(ir_dtype t);

/* How a PARAM is initialised (PyTorch's defaults per layer). */
typedef enum {
	IR_INIT_ZEROS,
	IR_INIT_ONES,
	IR_INIT_UNIFORM,  /* uniform in [a, b) */
	IR_INIT_NORMAL    /* mean a, std b */
} ir_init_kind;

typedef struct {
	ir_init_kind kind;
	double a, b;
} ir_init;

/* CROSS_ENTROPY reduction */
enum { IR_REDUCE_MEAN = 0, IR_REDUCE_NONE = 1 };

typedef struct ir_node ir_node;
struct ir_node {
	int id;           /* index in graph->nodes */
	ir_op op;
	ir_dtype dtype;
	ir_shape shape;
	int nin;
	ir_node *in[IR_MAX_INPUTS];
	const char *name; /* PARAM/INPUT/STATE: unique name; else NULL */
	ir_loc loc;

	/* attributes; which are meaningful depends on op */
	double value;            /* CONST: fill value; CROSS_ENTROPY*: label smoothing */
	int axis;                /* SOFTMAX, LOG_SOFTMAX: the axis (>= 0) */
	uint32_t axes;           /* SUM, MAX: bit i set = axis i reduced */
	int keepdim;             /* SUM, MAX */
	int perm[IR_MAX_DIMS];   /* TRANSPOSE: out dim i = in dim perm[i] */
	int ta, tb;              /* MATMUL: transpose A / B */
	int reduction;           /* CROSS_ENTROPY: IR_REDUCE_* */
	int nclasses;            /* INPUT used as labels: classes (0 = not labels) */
	ir_init init;            /* PARAM */
};

typedef struct ir_graph {
	ir_arena arena;
	ir_node **nodes;
	int nnodes, cap;
	ir_dtype fdtype; /* float dtype of the program: IR_F32 or IR_F64 */
	ir_loc cur;      /* location stamped on newly built nodes */
	char err[1024];  /* last error, "file:line: message" */
	int has_err;
} ir_graph;

/* Lifetime */
ir_graph *ir_graph_new(ir_dtype fdtype);
void ir_graph_free(ir_graph *g);

/* Where new nodes come from (the frontend sets it before each builder call).
 * `file` is copied into the arena. */
void ir_set_loc(ir_graph *g, const char *file, int line);

/* Record an error at a location (printf-style); returns NULL for chaining. */
ir_node *ir_error(ir_graph *g, ir_loc loc, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

/* Shapes */
ir_shape ir_shape_make(int rank, const int64_t *dims);
ir_shape ir_shape_scalar(void);
int64_t ir_shape_numel(const ir_shape *s);
int ir_shape_eq(const ir_shape *a, const ir_shape *b);
/* "[128,784]" into buf; returns buf */
char *ir_shape_str(const ir_shape *s, char *buf, size_t n);
/* numpy broadcasting; 0 if incompatible */
int ir_shape_broadcast(const ir_shape *a, const ir_shape *b, ir_shape *out);

/* Leaves. Names must be unique among leaves of the same op. */
ir_node *ir_param(ir_graph *g, const char *name, ir_dtype t, ir_shape s, ir_init init);
ir_node *ir_input(ir_graph *g, const char *name, ir_dtype t, ir_shape s);
ir_node *ir_state(ir_graph *g, const char *name, ir_dtype t, ir_shape s);
ir_node *ir_const(ir_graph *g, ir_dtype t, ir_shape s, double value);
ir_node *ir_scalar(ir_graph *g, double value); /* const of g->fdtype, rank 0 */

/* Elementwise ops (binary ops broadcast; dtypes must match). */
ir_node *ir_unary(ir_graph *g, ir_op op, ir_node *x);
ir_node *ir_binary(ir_graph *g, ir_op op, ir_node *a, ir_node *b);

/* Data movement */
ir_node *ir_reshape(ir_graph *g, ir_node *x, ir_shape s); /* one dim may be -1 */
ir_node *ir_transpose(ir_graph *g, ir_node *x, const int *perm);
ir_node *ir_transpose2(ir_graph *g, ir_node *x, int d0, int d1); /* swap two dims */
ir_node *ir_broadcast(ir_graph *g, ir_node *x, ir_shape s);

/* Reductions; axes is a bitmask; axes == 0 means all axes. */
ir_node *ir_reduce(ir_graph *g, ir_op op, ir_node *x, uint32_t axes, int keepdim);
ir_node *ir_mean(ir_graph *g, ir_node *x, uint32_t axes, int keepdim); /* sum * 1/n */

/* [m,k] x [k,n] -> [m,n] (after optional transposes of A and B) */
ir_node *ir_matmul(ir_graph *g, ir_node *a, ir_node *b, int ta, int tb);

/* Row-wise ops. axis may be negative (counts from the end). */
ir_node *ir_softmax(ir_graph *g, ir_op op, ir_node *x, int axis);
/* logits [N,C] float, labels [N] i32 -> scalar (mean) or [N] (none) */
ir_node *ir_cross_entropy(ir_graph *g, ir_node *logits, ir_node *labels,
                          int reduction, double label_smoothing);
ir_node *ir_cross_entropy_grad(ir_graph *g, ir_node *logits, ir_node *labels,
                               ir_node *dloss, int reduction, double label_smoothing);
/* logits [N,C], labels [N] -> [N] of 1.0 where argmax == label (first max wins) */
ir_node *ir_correct(ir_graph *g, ir_node *logits, ir_node *labels);

/* target (PARAM or STATE) := value at the end of the step */
ir_node *ir_assign(ir_graph *g, ir_node *target, ir_node *value);

/* Lookup of a leaf by op and name; NULL if absent. */
ir_node *ir_find_leaf(ir_graph *g, ir_op op, const char *name);

/* A copy of `src` in a fresh graph. If map is given, (*map)[id] is the copy
 * of src node id (caller frees the array). */
ir_graph *ir_graph_clone(const ir_graph *src, ir_node ***map);

/* Re-emits every node among the first `limit` that depends on some from[i],
 * with from[i] replaced by to[i]. Returns a map (size >= limit, caller frees)
 * from old node id to its replacement, NULL where unchanged. */
ir_node **ir_substitute(ir_graph *g, int limit, ir_node *const *from, ir_node *const *to, int n);

/* Puts nodes back in an order where inputs come first, after a pass made
 * earlier nodes read nodes appended later; nodes already in order keep
 * their relative order (so do leaves, hence slot order). Ids are
 * renumbered; node pointers stay valid. -1 (g->err set) on a cycle. */
int ir_reorder(ir_graph *g);
/* Moves n (appended later) to just after `after`, whose position its
 * inputs must precede; a scheduling hint that ir_reorder keeps. */
void ir_move_after(ir_graph *g, ir_node *n, const ir_node *after);

/* Checks every node's invariants (inputs earlier, shapes consistent with the
 * shape rules, leaves named uniquely, assigns target leaves). 0 = ok, else
 * sets g->err. */
int ir_verify(ir_graph *g);

/* Human-readable listing, one node per line with its type and source line. */
#include <stdio.h>
void ir_print(FILE *f, const ir_graph *g);
void ir_print_node(FILE *f, const ir_node *n);

#endif
