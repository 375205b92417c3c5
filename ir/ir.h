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
/* The most elements one tensor may have: 2^40 (8 TiB of f64). Every
 * node's shape is checked when it is made, so element counts and byte
 * sizes computed anywhere later (plan, lowering, runtime) fit in int64. */
#define IR_MAX_NUMEL ((int64_t)1 << 40)
#define IR_MAX_ATTRS 10 /* attributes of one op */

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
	IR_KIND_EFFECT,  /* assign */
	IR_KIND_COMM     /* a collective over the ranks of a run: a kernel of its own */
} ir_kind;

/*
 * Attributes. Every op's row in the op table names its attribute set, the
 * attributes it carries (ir_op.c lists each set: keys and defaults); a
 * node stores their values in that order, in an array of its own. Read
 * and write them by key: ir_attr_i(n, IR_ATTR_AXIS). X(ENUM, "name", type)
 */
#define IR_ATTR_TABLE(X)                                               \
	X(VALUE, "value", IR_ATTR_T_FLOAT)          /* CONST: fill value */      \
	X(AXIS, "dim", IR_ATTR_T_INT)               /* softmax axis (>= 0) */    \
	X(AXES, "axes", IR_ATTR_T_AXES)             /* bit i = axis i (0 = all) */ \
	X(KEEPDIM, "keepdim", IR_ATTR_T_BOOL)                                   \
	X(PERM, "perm", IR_ATTR_T_INTS)             /* out dim i = in dim perm[i] */ \
	X(TA, "ta", IR_ATTR_T_BOOL)                 /* MATMUL: transpose A */    \
	X(TB, "tb", IR_ATTR_T_BOOL)                 /* MATMUL: transpose B */    \
	X(REDUCTION, "reduction", IR_ATTR_T_ENUM)   /* IR_REDUCE_* */            \
	X(SMOOTHING, "label_smoothing", IR_ATTR_T_FLOAT)                         \
	X(NCLASSES, "classes", IR_ATTR_T_INT)       /* labels input: classes */  \
	X(INIT, "init", IR_ATTR_T_ENUM)             /* PARAM, STATE: ir_init_kind */ \
	X(INIT_A, "init_a", IR_ATTR_T_FLOAT)                                    \
	X(INIT_B, "init_b", IR_ATTR_T_FLOAT)                                    \
	X(NEG_SLOPE, "negative_slope", IR_ATTR_T_FLOAT) /* LEAKY_RELU */         \
	X(BETA, "beta", IR_ATTR_T_FLOAT)            /* SOFTPLUS */               \
	X(THRESHOLD, "threshold", IR_ATTR_T_FLOAT)  /* SOFTPLUS: linear above */ \
	X(MIN, "min", IR_ATTR_T_FLOAT)              /* CLAMP: -inf when absent */ \
	X(MAX, "max", IR_ATTR_T_FLOAT)              /* CLAMP: inf when absent */ \
	X(START, "start", IR_ATTR_T_INT)            /* NARROW, PAD: first index along dim */ \
	X(LENGTH, "length", IR_ATTR_T_INT)          /* NARROW: indices kept along dim */ \
	X(SIZE, "size", IR_ATTR_T_INT)              /* PAD: the result's size along dim */ \
	X(KERNEL_H, "kernel_h", IR_ATTR_T_INT)      /* pooling window (ir_pool.h) */ \
	X(KERNEL_W, "kernel_w", IR_ATTR_T_INT)                                  \
	X(STRIDE_H, "stride_h", IR_ATTR_T_INT)                                  \
	X(STRIDE_W, "stride_w", IR_ATTR_T_INT)                                  \
	X(PAD_H, "padding_h", IR_ATTR_T_INT)                                    \
	X(PAD_W, "padding_w", IR_ATTR_T_INT)                                    \
	X(COUNT_PAD, "count_include_pad", IR_ATTR_T_BOOL) /* AVG_POOL2D */      \
	X(OUT_H, "output_h", IR_ATTR_T_INT)         /* ADAPTIVE_AVG_POOL2D */    \
	X(OUT_W, "output_w", IR_ATTR_T_INT)                                     \
	/* conv2d (ir_conv.h): also STRIDE_*, PAD_*; KERNEL_* for bwd_weight */  \
	X(DILATION_H, "dilation_h", IR_ATTR_T_INT)                              \
	X(DILATION_W, "dilation_w", IR_ATTR_T_INT)                              \
	X(GROUPS, "groups", IR_ATTR_T_INT)                                      \
	X(IN_H, "input_h", IR_ATTR_T_INT)           /* CONV2D_BWD_DATA: dx's H, W */ \
	X(IN_W, "input_w", IR_ATTR_T_INT)

typedef enum {
#define X(e, s, t) IR_ATTR_##e,
	IR_ATTR_TABLE(X)
#undef X
	IR_ATTR_COUNT
} ir_attr_key;

typedef enum {
	IR_ATTR_T_FLOAT, /* double */
	IR_ATTR_T_INT,   /* int64 */
	IR_ATTR_T_BOOL,  /* int64, 0 or 1 */
	IR_ATTR_T_ENUM,  /* int64, printed by name */
	IR_ATTR_T_AXES,  /* int64 bitmask */
	IR_ATTR_T_INTS   /* up to IR_MAX_DIMS ints, as many as the node's rank */
} ir_attr_type;

/* One attribute of an op: its key and default (ints[] start at 0). */
typedef struct {
	ir_attr_key key;
	double def;
} ir_attr_desc;

typedef struct {
	double f;
	int64_t i;
	int v[IR_MAX_DIMS];
} ir_attr_val;

/*
 * The op table. X(ENUM, "name", arity, kind, attrs, grad, dsl)
 * arity: number of inputs, -1 for any number. attrs: its attribute set
 * (ir_op.c). grad: how autodiff treats it (ir_grad_kind). dsl: whether the
 * model language spells it (IR_DSL_BOUND) or only passes make it
 * (IR_DSL_INTERNAL).
 *
 * Adding an op means adding its row here and its facets, each in the
 * facet table of its layer, keyed by the op: shape rule (ir_infer.c),
 * interpreter kernel (ir_interp_ops.c), derivative (passes/
 * pass_autodiff.c), lowering (codegen/cg_lower_ops.c), DSL binding
 * (frontend/fe_bindings.c), and a gradient-check case (tests/unit/
 * test_gradcheck_cases.h). An elementwise op's facets are one row of
 * ir_ops_elem.def. tests/unit/test_op_table.c fails while any is missing;
 * docs/ops.md walks through it.
 */
#define IR_OP_TABLE(X)                                                             \
	X(PARAM, "param", 0, IR_KIND_LEAF, init, IR_GRAD_LEAF, IR_DSL_BOUND)            \
	X(INPUT, "input", 0, IR_KIND_LEAF, input, IR_GRAD_LEAF, IR_DSL_BOUND)           \
	X(STATE, "state", 0, IR_KIND_LEAF, init, IR_GRAD_LEAF, IR_DSL_INTERNAL)         \
	X(CONST, "const", 0, IR_KIND_LEAF, value, IR_GRAD_LEAF, IR_DSL_BOUND)           \
	/* 1 while training, 0 while evaluating: the passes resolve it to a CONST */   \
	X(MODE, "mode", 0, IR_KIND_LEAF, none, IR_GRAD_LEAF, IR_DSL_INTERNAL)           \
	/* unary elementwise */                                                        \
	X(NEG, "neg", 1, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)                \
	X(EXP, "exp", 1, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)                \
	X(LOG, "log", 1, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)                \
	X(SQRT, "sqrt", 1, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)              \
	X(RSQRT, "rsqrt", 1, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_INTERNAL)         \
	X(ABS, "abs", 1, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)                \
	X(SIGN, "sign", 1, IR_KIND_ELEM, none, IR_GRAD_ZERO, IR_DSL_INTERNAL)           \
	X(RELU, "relu", 1, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)              \
	X(GELU, "gelu", 1, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)              \
	X(TANH, "tanh", 1, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)              \
	X(SIGMOID, "sigmoid", 1, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)        \
	X(COS, "cos", 1, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_INTERNAL)             \
	X(SIN, "sin", 1, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_INTERNAL)             \
	X(FLOOR, "floor", 1, IR_KIND_ELEM, none, IR_GRAD_ZERO, IR_DSL_INTERNAL)         \
	/* the nearest bfloat16 of an f32 value (ties to even, NaN kept): precision */ \
	/* = "bf16" (passes/pass_precision.c); its adjoint is rounded the same way  */ \
	X(ROUND_BF16, "round_bf16", 1, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_INTERNAL) \
	X(LEAKY_RELU, "leaky_relu", 1, IR_KIND_ELEM, leaky, IR_GRAD_RULE, IR_DSL_BOUND) \
	X(SOFTPLUS, "softplus", 1, IR_KIND_ELEM, softplus, IR_GRAD_RULE, IR_DSL_BOUND)  \
	X(CLAMP, "clamp", 1, IR_KIND_ELEM, clamp, IR_GRAD_RULE, IR_DSL_BOUND)           \
	/* binary elementwise (broadcasting) */                                        \
	X(ADD, "add", 2, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)                \
	X(SUB, "sub", 2, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)                \
	X(MUL, "mul", 2, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)                \
	X(DIV, "div", 2, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)                \
	X(POW, "pow", 2, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)                \
	X(MINIMUM, "minimum", 2, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)        \
	X(MAXIMUM, "maximum", 2, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)        \
	/* comparisons: 1 where it holds, else 0, in the inputs' dtype */              \
	X(GT, "gt", 2, IR_KIND_ELEM, none, IR_GRAD_ZERO, IR_DSL_BOUND)                  \
	X(GE, "ge", 2, IR_KIND_ELEM, none, IR_GRAD_ZERO, IR_DSL_BOUND)                  \
	X(LT, "lt", 2, IR_KIND_ELEM, none, IR_GRAD_ZERO, IR_DSL_BOUND)                  \
	X(LE, "le", 2, IR_KIND_ELEM, none, IR_GRAD_ZERO, IR_DSL_BOUND)                  \
	X(EQ, "eq", 2, IR_KIND_ELEM, none, IR_GRAD_ZERO, IR_DSL_BOUND)                  \
	X(NE, "ne", 2, IR_KIND_ELEM, none, IR_GRAD_ZERO, IR_DSL_BOUND)                  \
	/* ternary elementwise: cond != 0 ? a : b (cond of any dtype) */                \
	X(WHERE, "where", 3, IR_KIND_ELEM, none, IR_GRAD_RULE, IR_DSL_BOUND)            \
	X(GELU_GRAD, "gelu_grad", 2, IR_KIND_ELEM, none, IR_GRAD_NONE, IR_DSL_INTERNAL) /* (x,dy) */ \
	/* data movement */                                                            \
	X(RESHAPE, "reshape", 1, IR_KIND_SHAPE, none, IR_GRAD_RULE, IR_DSL_BOUND)       \
	X(TRANSPOSE, "transpose", 1, IR_KIND_SHAPE, perm, IR_GRAD_RULE, IR_DSL_BOUND)   \
	X(BROADCAST, "broadcast", 1, IR_KIND_SHAPE, none, IR_GRAD_RULE, IR_DSL_INTERNAL) \
	/* slicing and joining along one dim: kernels of their own (cg_lower_slice.c) */ \
	X(NARROW, "narrow", 1, IR_KIND_OPAQUE, narrow, IR_GRAD_RULE, IR_DSL_BOUND)     \
	X(CAT, "cat", -1, IR_KIND_OPAQUE, axis, IR_GRAD_RULE, IR_DSL_BOUND)            \
	/* narrow's adjoint: the input placed at start along dim, zeros elsewhere */   \
	X(PAD, "pad", 1, IR_KIND_OPAQUE, pad, IR_GRAD_NONE, IR_DSL_INTERNAL)           \
	/* reductions */                                                               \
	X(SUM, "sum", 1, IR_KIND_REDUCE, reduce, IR_GRAD_RULE, IR_DSL_BOUND)            \
	X(MAX, "max", 1, IR_KIND_REDUCE, reduce, IR_GRAD_RULE, IR_DSL_BOUND)            \
	/* matrix product */                                                           \
	X(MATMUL, "matmul", 2, IR_KIND_MATMUL, matmul, IR_GRAD_RULE, IR_DSL_BOUND)      \
	/* row-wise */                                                                 \
	X(SOFTMAX, "softmax", 1, IR_KIND_OPAQUE, axis, IR_GRAD_RULE, IR_DSL_BOUND)      \
	X(LOG_SOFTMAX, "log_softmax", 1, IR_KIND_OPAQUE, axis, IR_GRAD_RULE, IR_DSL_BOUND) \
	X(CROSS_ENTROPY, "cross_entropy", 2, IR_KIND_OPAQUE, ce, IR_GRAD_RULE, IR_DSL_BOUND) \
	X(CROSS_ENTROPY_GRAD, "cross_entropy_grad", 3, IR_KIND_OPAQUE, ce, IR_GRAD_NONE, IR_DSL_INTERNAL) \
	X(CORRECT, "correct", 2, IR_KIND_OPAQUE, none, IR_GRAD_ZERO, IR_DSL_BOUND)      \
	/* pooling over NCHW (ir_pool.h); the _GRAD ops take (x, dy) */                 \
	X(MAX_POOL2D, "max_pool2d", 1, IR_KIND_OPAQUE, maxpool, IR_GRAD_RULE, IR_DSL_BOUND) \
	X(AVG_POOL2D, "avg_pool2d", 1, IR_KIND_OPAQUE, avgpool, IR_GRAD_RULE, IR_DSL_BOUND) \
	X(ADAPTIVE_AVG_POOL2D, "adaptive_avg_pool2d", 1, IR_KIND_OPAQUE, adaptive, IR_GRAD_RULE, IR_DSL_BOUND) \
	X(MAX_POOL2D_GRAD, "max_pool2d_grad", 2, IR_KIND_OPAQUE, maxpool, IR_GRAD_NONE, IR_DSL_INTERNAL) \
	X(AVG_POOL2D_GRAD, "avg_pool2d_grad", 2, IR_KIND_OPAQUE, avgpool, IR_GRAD_NONE, IR_DSL_INTERNAL) \
	X(ADAPTIVE_AVG_POOL2D_GRAD, "adaptive_avg_pool2d_grad", 2, IR_KIND_OPAQUE, adaptive, IR_GRAD_NONE, IR_DSL_INTERNAL) \
	/* nll_loss over log-probabilities [N,C] and labels [N] */                     \
	X(NLL_LOSS, "nll_loss", 2, IR_KIND_OPAQUE, nll, IR_GRAD_RULE, IR_DSL_BOUND)     \
	X(NLL_LOSS_GRAD, "nll_loss_grad", 3, IR_KIND_OPAQUE, nll, IR_GRAD_NONE, IR_DSL_INTERNAL) \
	/* i32 labels [N] -> [N, classes] of 0/1 in the float dtype */               \
	X(ONE_HOT, "one_hot", 1, IR_KIND_OPAQUE, onehot, IR_GRAD_ZERO, IR_DSL_BOUND)     \
	/* 2-D convolution over NCHW, no bias (ir_conv.h): (x, w); bwd_data (dy, w),  \
	 * bwd_weight (x, dy) */                                                      \
	X(CONV2D, "conv2d", 2, IR_KIND_OPAQUE, conv, IR_GRAD_RULE, IR_DSL_BOUND)        \
	X(CONV2D_BWD_DATA, "conv2d_bwd_data", 2, IR_KIND_OPAQUE, conv_bwd_data, IR_GRAD_NONE, IR_DSL_INTERNAL) \
	X(CONV2D_BWD_WEIGHT, "conv2d_bwd_weight", 2, IR_KIND_OPAQUE, conv_bwd_weight, IR_GRAD_NONE, IR_DSL_INTERNAL) \
	/* embedding: weight [num, dim], i32 indices [...] -> [..., dim]; its _GRAD  \
	 * takes (dy, indices) and gives [num, dim] (attribute classes = num)  */       \
	X(EMBEDDING, "embedding", 2, IR_KIND_OPAQUE, none, IR_GRAD_RULE, IR_DSL_BOUND)   \
	X(EMBEDDING_GRAD, "embedding_grad", 2, IR_KIND_OPAQUE, onehot, IR_GRAD_NONE, IR_DSL_INTERNAL) \
	/* the sum over the ranks of a data-parallel run (sync_bn), in rt_comm.h's   \
	 * fixed rank order; the identity on one rank. Its adjoint is its own. */     \
	X(RANK_SUM, "rank_sum", 1, IR_KIND_COMM, none, IR_GRAD_RULE, IR_DSL_INTERNAL)   \
	/* effects */                                                                  \
	X(ASSIGN, "assign", 2, IR_KIND_EFFECT, none, IR_GRAD_NONE, IR_DSL_INTERNAL)

/* How autodiff treats an op. */
typedef enum {
	IR_GRAD_LEAF, /* a leaf: adjoints stop here */
	IR_GRAD_RULE, /* has a derivative rule (pass_autodiff.c) */
	IR_GRAD_ZERO, /* piecewise constant: zero derivative almost everywhere */
	IR_GRAD_NONE  /* not differentiable (a gradient op, an effect): an error */
} ir_grad_kind;

typedef enum { IR_DSL_BOUND, IR_DSL_INTERNAL } ir_dsl_kind;

typedef enum {
#define X(e, s, a, k, at, gr, dsl) IR_OP_##e,
	IR_OP_TABLE(X)
#undef X
	IR_OP_COUNT
} ir_op;

const char *ir_op_name(ir_op op);
int ir_op_arity(ir_op op); /* -1: any number of inputs */
ir_kind ir_op_kind(ir_op op);
ir_grad_kind ir_op_grad(ir_op op);
ir_dsl_kind ir_op_dsl(ir_op op);
/* The op's attributes in storage order; *n gets their count. */
const ir_attr_desc *ir_op_attrs(ir_op op, int *n);
const char *ir_attr_name(ir_attr_key key);
/* Fills attr[0..count) with the op's defaults. */
void ir_attr_defaults(ir_op op, ir_attr_val *attr);
ir_attr_type ir_attr_type_of(ir_attr_key key);
const char *ir_dtype_name(ir_dtype t);
int ir_dtype_is_float(ir_dtype t);
/* The nearest bfloat16 of x taken as an f32 (round to nearest, ties to
 * even; NaN kept, a value past bf16's largest finite one becomes inf): the
 * bits __float2bfloat16_rn and torch's .to(torch.bfloat16) give. */
double ir_round_bf16(double x);

/* How a PARAM is initialised (PyTorch's defaults per layer), and a STATE
 * (zeros, ones or a constant). */
typedef enum {
	IR_INIT_ZEROS,
	IR_INIT_ONES,
	IR_INIT_UNIFORM,  /* uniform in [a, b) */
	IR_INIT_NORMAL,   /* mean a, std b */
	IR_INIT_CONST     /* every element a */
} ir_init_kind;

typedef struct {
	ir_init_kind kind;
	double a, b;
} ir_init;

/* CROSS_ENTROPY reduction */
enum { IR_REDUCE_MEAN = 0, IR_REDUCE_NONE = 1, IR_REDUCE_SUM = 2 }; /* SUM: nll_loss only */

typedef struct ir_node ir_node;
struct ir_node {
	int id;           /* index in graph->nodes */
	ir_op op;
	ir_dtype dtype;
	ir_shape shape;
	int nin;
	ir_node **in;       /* nin inputs, in the graph's arena */
	const char *name;   /* PARAM/INPUT/STATE: unique name; else NULL */
	ir_loc loc;
	ir_attr_val *attr;  /* the op's attributes (ir_op_attrs order), in the arena */
};

/* Attribute access by key. Reading a key the op does not have gives 0;
 * setting one is ignored (ir_verify reports neither: use the op table). */
int64_t ir_attr_i(const ir_node *n, ir_attr_key key);
double ir_attr_f(const ir_node *n, ir_attr_key key);
const int *ir_attr_ints(const ir_node *n, ir_attr_key key); /* NULL if absent */
void ir_attr_set_i(ir_node *n, ir_attr_key key, int64_t v);
void ir_attr_set_f(ir_node *n, ir_attr_key key, double v);
void ir_attr_set_ints(ir_node *n, ir_attr_key key, const int *v, int count);
int ir_attr_has(const ir_node *n, ir_attr_key key);
/* A PARAM's or STATE's init rule, from its attributes. */
ir_init ir_node_init(const ir_node *n);

/* 1 if x's values are bf16-exact by construction: x is round_bf16's
 * result, or an op that selects, moves or negates values (reshape,
 * transpose, relu, max, ...) of such results only. What a backend may
 * multiply as bf16 with f32 accumulation (rt_prog_kernel's bf16). */
int ir_bf16_exact(const ir_node *x);

typedef struct ir_graph {
	ir_arena arena;
	ir_node **nodes;
	int nnodes, cap;
	ir_dtype fdtype; /* float dtype of the program: IR_F32 or IR_F64 */
	ir_loc cur;      /* location stamped on newly built nodes */
	char err[1024];  /* last error, "file:line: message" */
	int has_err;
	int max_nodes;          /* > 0: building more nodes is an error (a model's budget) */
	struct ir_names *names; /* named nodes by (op, name): ir_names.c */
	int names_failed;       /* out of memory for the index: lookups scan */
} ir_graph;

/* Lifetime */
ir_graph *ir_graph_new(ir_dtype fdtype);
void ir_graph_free(ir_graph *g);

/* Where new nodes come from (the frontend sets it before each builder call).
 * `file` is copied into the arena. */
void ir_set_loc(ir_graph *g, const char *file, int line);

/* Writes a printf-style message into err (errlen bytes) and returns -1:
 * for functions that report errors through a caller's buffer. */
int ir_failf(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

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
/* 1 if every dimension is positive and their product is at most
 * IR_MAX_NUMEL (computed without overflow), else 0 */
int ir_shape_fits(const ir_shape *s);
int ir_shape_eq(const ir_shape *a, const ir_shape *b);
/* "[128,784]" into buf; returns buf */
char *ir_shape_str(const ir_shape *s, char *buf, size_t n);
/* numpy broadcasting; 0 if incompatible */
int ir_shape_broadcast(const ir_shape *a, const ir_shape *b, ir_shape *out);

/* Leaves. Names must be unique among leaves of the same op. */
ir_node *ir_param(ir_graph *g, const char *name, ir_dtype t, ir_shape s, ir_init init);
ir_node *ir_input(ir_graph *g, const char *name, ir_dtype t, ir_shape s);
ir_node *ir_state(ir_graph *g, const char *name, ir_dtype t, ir_shape s); /* zeros */
/* A STATE whose slot starts by `init`: zeros, ones or a constant (a). */
ir_node *ir_state_init(ir_graph *g, const char *name, ir_dtype t, ir_shape s, ir_init init);
ir_node *ir_const(ir_graph *g, ir_dtype t, ir_shape s, double value);
ir_node *ir_scalar(ir_graph *g, double value); /* const of g->fdtype, rank 0 */
/* The train/eval mode: a g->fdtype scalar, 1 in the training program and 0
 * in evaluation, once ir_resolve_mode has turned it into a CONST. Ops whose
 * behaviour depends on the mode read it as an input. */
ir_node *ir_mode(ir_graph *g);
typedef enum { IR_MODE_EVAL = 0, IR_MODE_TRAIN = 1 } ir_mode_kind;
/* Turns every MODE node into the CONST of `mode`; returns how many. */
int ir_resolve_mode(ir_graph *g, ir_mode_kind mode);
/* A node of any op with `nin` inputs and default attributes, typed by the
 * op's shape rule (for ops without a builder of their own, and for
 * passes that rebuild a node with other inputs). */
ir_node *ir_node_make(ir_graph *g, ir_op op, ir_node *const *in, int nin);
/* The same with the op's attributes given (ir_op_attrs order): the shape
 * rule sees them. */
ir_node *ir_node_make_attrs(ir_graph *g, ir_op op, ir_node *const *in, int nin,
                            const ir_attr_val *attr);

/* Elementwise ops (binary ops broadcast; dtypes must match). */
ir_node *ir_unary(ir_graph *g, ir_op op, ir_node *x);
/* rank_sum(x): x summed over the ranks of a data-parallel run (a float
 * tensor; same shape and dtype). */
ir_node *ir_rank_sum(ir_graph *g, ir_node *x);
ir_node *ir_binary(ir_graph *g, ir_op op, ir_node *a, ir_node *b);
/* The elementwise ops with attributes (PyTorch's defaults: slope 0.01;
 * beta 1, threshold 20). clamp: lo = -INFINITY or hi = INFINITY for no
 * bound; NaN bounds are refused. */
ir_node *ir_leaky_relu(ir_graph *g, ir_node *x, double negative_slope);
ir_node *ir_softplus(ir_graph *g, ir_node *x, double beta, double threshold);
ir_node *ir_clamp(ir_graph *g, ir_node *x, double lo, double hi);
/* cond != 0 ? a : b elementwise, the three broadcast together; a and b
 * share a dtype, cond may have any (NaN counts as true, as PyTorch's
 * conversion to bool). */
ir_node *ir_where(ir_graph *g, ir_node *cond, ir_node *a, ir_node *b);

/* Dropout (ir_random.c): in training x * (u >= p) / (1 - p), with u the
 * step input "rng.<name>" (RT_NOISE_PREFIX), uniform in [0,1) of x's shape
 * and dtype, which the runtime fills each step (runtime/rt_noise.h); x in
 * evaluation. p in [0,1]: p = 0 is x, p = 1 is x * 0, as ATen. */
ir_node *ir_dropout(ir_graph *g, ir_node *x, double p, const char *name);

/* Embedding (ir_embed.c): weight [num, dim] rows gathered by i32 indices of
 * any shape -> [..., dim]; an index outside [0, num) stops the step. The
 * gradient scatters dy's rows back, adding them in index order. */
ir_node *ir_embedding(ir_graph *g, ir_node *weight, ir_node *indices);
ir_node *ir_embedding_grad(ir_graph *g, ir_node *dy, ir_node *indices, int64_t num);

/* Data movement */
ir_node *ir_reshape(ir_graph *g, ir_node *x, ir_shape s); /* one dim may be -1 */
ir_node *ir_transpose(ir_graph *g, ir_node *x, const int *perm);
ir_node *ir_transpose2(ir_graph *g, ir_node *x, int d0, int d1); /* swap two dims */
/* Slicing and joining (ir_build_slice.c); dims are >= 0 here. */
ir_node *ir_narrow(ir_graph *g, ir_node *x, int dim, int64_t start, int64_t length);
ir_node *ir_pad(ir_graph *g, ir_node *x, int dim, int64_t start, int64_t size);
ir_node *ir_cat(ir_graph *g, ir_node *const *xs, int n, int dim);
ir_node *ir_flatten(ir_graph *g, ir_node *x, int start_dim, int end_dim);
ir_node *ir_broadcast(ir_graph *g, ir_node *x, ir_shape s);

/* Reductions; axes is a bitmask; axes == 0 means all axes. */
ir_node *ir_reduce(ir_graph *g, ir_op op, ir_node *x, uint32_t axes, int keepdim);
ir_node *ir_mean(ir_graph *g, ir_node *x, uint32_t axes, int keepdim); /* sum * 1/n */
/* The global inner product: the sum over i of sum(a[i] * b[i]), the n
 * tensors as one vector (GSAM's and LookSAM's norms and inner products,
 * gradient clipping's norm); NULL when n is 0 (or with g->err). */
ir_node *ir_dot_all(ir_graph *g, ir_node *const *a, ir_node *const *b, int n);

/* [m,k] x [k,n] -> [m,n] (after optional transposes of A and B), or a
 * batch: [B,m,k] x [B,k,n] -> [B,m,n] (each matrix transposed) */
ir_node *ir_matmul(ir_graph *g, ir_node *a, ir_node *b, int ta, int tb);
/* torch.matmul for 2-D and 3-D operands (ir_matmul.c): batches broadcast,
 * a 2-D operand against a 3-D one as torch does */
ir_node *ir_matmul_torch(ir_graph *g, ir_node *a, ir_node *b);

/* Row-wise ops. axis may be negative (counts from the end). */
ir_node *ir_softmax(ir_graph *g, ir_op op, ir_node *x, int axis);
/* logits [N,C] float, labels [N] i32 -> scalar (mean) or [N] (none) */
ir_node *ir_cross_entropy(ir_graph *g, ir_node *logits, ir_node *labels,
                          int reduction, double label_smoothing);
ir_node *ir_cross_entropy_grad(ir_graph *g, ir_node *logits, ir_node *labels,
                               ir_node *dloss, int reduction, double label_smoothing);
/* log-probabilities [N,C] float, labels [N] i32 -> -logp[y]: scalar (mean, sum) or [N] */
ir_node *ir_nll_loss(ir_graph *g, ir_node *logp, ir_node *labels, int reduction);
ir_node *ir_nll_loss_grad(ir_graph *g, ir_node *logp, ir_node *labels, ir_node *dloss,
                          int reduction);
/* i32 labels [N] -> [N, num_classes] of g->fdtype: 1 at each row's label */
ir_node *ir_one_hot(ir_graph *g, ir_node *labels, int num_classes);
/* logits x and float target t of one shape -> scalar (mean, sum) or x's shape
 * (none); pos_weight (NULL: none) broadcasts to x (ir_loss.c) */
ir_node *ir_bce_with_logits(ir_graph *g, ir_node *x, ir_node *t, ir_node *pos_weight,
                            int reduction);
/* logits [N,C], labels [N] -> [N] of 1.0 where argmax == label (first max wins) */
ir_node *ir_correct(ir_graph *g, ir_node *logits, ir_node *labels);

/* target (PARAM or STATE) := value at the end of the step */
ir_node *ir_assign(ir_graph *g, ir_node *target, ir_node *value);

/* Lookup of a leaf by op and name; NULL if absent (ir_names.c). */
ir_node *ir_find_leaf(ir_graph *g, ir_op op, const char *name);
/* The index behind it: every node made with a name is noted (by the
 * builders and ir_clone); freed with the graph. */
void ir_names_note(ir_graph *g, ir_node *n);
void ir_names_free(ir_graph *g);

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
