/*
 * fe_dsl.h - the model language's C side: the state a model file builds
 * while it runs (graph, params, inputs, batch size), tensors as Lua
 * userdata wrapping ir_node*, and argument checking with messages that name
 * the function, the argument and what was wrong.
 *
 * fe_dsl.c registers the global functions, fe_tensor.c the tensor type and
 * its operators, fe_args.c the argument checks. See docs/dsl.md.
 */
#ifndef SAMC_FE_DSL_H
#define SAMC_FE_DSL_H

#include <stdint.h>

#include <lua.h>

#include "fe_model.h"
#include "ir.h"

typedef struct {
	ir_node *node;
	int line; /* model line that declared it */
} fe_decl;

typedef struct {
	ir_graph *g;
	const char *path;        /* model path as given */
	int batch_size;          /* 0 until batch_size() runs */
	int batch_line;
	int batch_override;      /* from --set batch_size=N; 0 = none */
	int micro;               /* > 1: built at the micro-batch, batch_size / micro
	                            (optimizer.accumulate, optimizer.sam.m, ranks) */
	int ranks;               /* > 1: the ranks of a data-parallel run (fe_options) */
	int sync_bn;             /* > 1: batch_norm's statistics over that many ranks (sync_bn) */
	fe_decl *params;  int nparams, cap_params;  /* declaration order */
	fe_decl *inputs;  int ninputs, cap_inputs;
	fe_decl *states;  int nstates, cap_states;  /* the layers' state (running stats) */
	ir_update *updates; int nupdates, cap_updates;
	ir_follow *follows; int nfollows, cap_follows; /* ir_model.h */
	int nlinear;             /* layers named automatically so far */
	int nconv;               /* conv2d layers named automatically so far */
	int nbn, nln;            /* batch_norm, layer_norm named automatically */
	int ndropout, nembedding;
	int sealed;              /* the file has returned: no more building */
	const char *const *margs; /* model arguments "name=value" (--arg), fe_margs.c */
	int nmargs;
	uint64_t margs_used;     /* bit i: the model read margs[i] */
} fe_dsl;

#define FE_TENSOR_MT "samc.tensor"

/* The DSL of a state (stored in its sandbox). */
fe_dsl *fe_dsl_of(lua_State *L);

/* Registers the tensor type and every DSL function as globals. */
void fe_dsl_open(lua_State *L, fe_dsl *d);
void fe_tensor_open(lua_State *L);
void fe_ops_open(lua_State *L);
void fe_slice_open(lua_State *L); /* flatten, narrow, cat (fe_slice.c) */
void fe_pool_open(lua_State *L); /* fe_pool.c */
void fe_conv_open(lua_State *L); /* conv2d (fe_conv.c) */
void fe_losses_open(lua_State *L); /* fe_losses.c */
void fe_margs_open(lua_State *L); /* arg(): model arguments (fe_margs.c) */
/* The first model argument the model never read, or -1. */
int fe_margs_unused(const fe_dsl *d);
void fe_norm_open(lua_State *L); /* batch_norm, layer_norm (fe_norm.c) */

/* Declarations the layers make (`fn` names the DSL function in messages).
 * A name may be declared once, as a parameter or as a state. */
ir_node *fe_new_param(lua_State *L, const char *fn, const char *name, ir_shape s, ir_init init);
ir_node *fe_new_state(lua_State *L, const char *fn, const char *name, ir_shape s, ir_init init);
/* Records target := value for the training programs (ir_update). */
void fe_new_update(lua_State *L, ir_node *target, ir_node *value);
void fe_new_follow(lua_State *L, ir_node *out, ir_node *in);
void fe_embed_open(lua_State *L); /* dropout, embedding (fe_embed.c) */

/* Tensors */
void fe_tensor_push(lua_State *L, ir_node *n);
ir_node *fe_tensor_test(lua_State *L, int idx);      /* NULL if not a tensor */
/* "tensor f32[128,784]" into buf */
char *fe_tensor_describe(const ir_node *n, char *buf, size_t len);

/* Stamps the calling model line on the nodes built next. */
void fe_dsl_here(lua_State *L);
/* Passes a builder result through; NULL raises the builder's message. */
ir_node *fe_dsl_built(lua_State *L, ir_node *n);

/* Argument checks. They raise "<file>:<line>: fn: argument N (what) must
 * be ..., got ..." on failure. */
const char *fe_arg_typename(lua_State *L, int idx, char *buf, size_t len);
ir_node *fe_arg_tensor(lua_State *L, int idx, const char *fn, const char *what);
int64_t fe_arg_posint(lua_State *L, int idx, const char *fn, const char *what);
int64_t fe_arg_int(lua_State *L, int idx, const char *fn, const char *what);
const char *fe_arg_name(lua_State *L, int idx, const char *fn, const char *what);
/* a table of integers; allow_minus1: one -1 may appear (reshape) */
ir_shape fe_arg_shape(lua_State *L, int idx, const char *fn, const char *what,
                      int allow_minus1);
/* Options table at idx: nil or a table whose keys are all in `known`
 * (NULL-terminated). Returns 1 if a table is there. */
int fe_arg_options(lua_State *L, int idx, const char *fn, const char *const *known);
/* Normalises a 0-based, possibly negative, dimension of x. */
int fe_arg_dim(lua_State *L, int64_t dim, const ir_node *x, const char *fn);

#endif
