/*
 * pass_table.h - the one ordered table of passes, from a model to code.
 *
 * Every pass samc runs is a row of one table, in this order:
 *
 *   ir        the model as the front end built it (the program's own copy)
 *   autodiff  + reverse-mode gradients of the loss for every parameter
 *   sam       + the SAM rewrite: perturb, recompute (SAM steps only)
 *   optim     + the base optimizer's update as assigns
 *   eval      the evaluation step: loss and metrics as masked sums
 *   simplify  common subexpressions merged, constant ops folded
 *   dce       nodes no output or assign needs dropped
 *   ---- backend rows (the CPU backend's, codegen/cg_step.h) ----
 *   lowrank   SAM's perturbed input layer as a low-rank update
 *   fuse      the nodes of each kernel                (stage "fused")
 *   plan      buffers in the arena, commits of the assigns
 *   lower     each kernel as loop IR, backend-neutral
 *   split     large reductions cut into parallel chunks (stage "loops")
 *   llvm      the kernels as optimized LLVM IR
 *
 * A row runs only for the programs it applies to (sam for SAM steps, eval
 * for the evaluation step...). The graph rows live here; a backend hands
 * its rows to the runner in a pass_backend (cg_cpu_backend()), so the
 * passes library does not depend on code generation. Rows are constant;
 * all that changes while they run lives in the pass_ctx.
 *
 * After each row the runner can check its output with the row's verifier:
 * the graph verifier (ir_verify) after graph rows, the fusion checker after
 * fuse, the plan checker after plan, the loop-IR verifier after lower and
 * split. A failure names the row: "after pass plan: buffers 3 and 7
 * overlap ...".
 *
 *     pass_options o;
 *     pass_options_from_debug(&o, getenv("SAMC_DEBUG"));  // the CLI only
 *     pass_build_opt(m, PASS_PROG_SAM, &o, &prog, err, sizeof err);
 *     cg_step_new(prog.g, prog.outs, prog.names, prog.nout, &step_opts, ...);
 *
 * pass_options.debug is the SAMC_DEBUG level (docs/passes.md lists the
 * levels), which the command line reads and hands down. Verifiers run when
 * pass_options.verify is set: at SAMC_DEBUG>=1, in debug builds (no
 * NDEBUG), and in tests that ask for them.
 */
#ifndef SAMC_PASS_TABLE_H
#define SAMC_PASS_TABLE_H

#include <stdio.h>

#include "pass_pipeline.h"

typedef struct {
	int verify;        /* run each pass's verifier after it */
	int debug;         /* SAMC_DEBUG: 0, 1 (names, times) or 2 (+ outputs) */
	FILE *log;         /* debug output; NULL = stderr */
	const char *stop;  /* stop after the row of this name (emit); NULL = run all */
	const char *label; /* what the log calls the program; NULL = its kind */
	int eval_logits;   /* eval: also write the loss's logits to PASS_STATE_LOGITS (predict) */
} pass_options;

/* "sam step", "eval step"...: how SAMC_DEBUG names a program. */
const char *pass_prog_kind_name(pass_prog_kind k);

/* Verify in debug builds, no debug output, run every row. */
void pass_options_default(pass_options *o);
/* From a SAMC_DEBUG value (NULL or "" = 0); debug >= 1 also verifies. */
void pass_options_from_debug(pass_options *o, const char *samc_debug);

/* Which programs a row runs for (bits of pass_prog_kind). */
#define PASS_FOR(kind) (1u << (kind))
#define PASS_FOR_TRAIN (PASS_FOR(PASS_PROG_BASE) | PASS_FOR(PASS_PROG_SAM))
#define PASS_FOR_MICRO (PASS_FOR(PASS_PROG_ACC) | PASS_FOR(PASS_PROG_SAM_ACC))
#define PASS_FOR_UPD (PASS_FOR(PASS_PROG_UPD) | PASS_FOR(PASS_PROG_UPD_SAM))
#define PASS_FOR_ALL 0xffu

typedef struct pass_ctx pass_ctx;

typedef struct {
	const char *name;     /* `samc emit --stage=NAME`, SAMC_DEBUG, verifier messages */
	const char *stage;    /* another name the stage answers to ("fused"), or NULL */
	const char *summary;  /* one line for --stage=list */
	unsigned runs_for;    /* PASS_FOR bits */
	/* 0, or -1 with a message in err */
	int (*run)(pass_ctx *c, char *err, size_t errlen);
	/* the output's invariants: 0, or -1 with a message in err; NULL = none */
	int (*verify)(pass_ctx *c, char *err, size_t errlen);
	/* the output as `samc emit` shows it: 0, or -1 with a message */
	int (*print)(FILE *out, pass_ctx *c, char *err, size_t errlen);
} pass_row;

/* A backend's rows, run after the graph rows on the program they built.
 * `state` is the backend's product (the CPU backend's cg_step), made by
 * its first row; whoever runs the rows frees it with free_state. */
typedef struct {
	const char *name;
	const pass_row *rows;
	int nrows;
	void (*free_state)(void *state);
} pass_backend;

/* What flows through the table. */
struct pass_ctx {
	const ir_model *m;        /* NULL when a backend compiles a bare graph */
	pass_prog_kind kind;
	pass_program prog;        /* the graph rows' product */
	void *state;              /* the backend rows' product */
	void *backend_opts;       /* options for the backend rows (cg_step.h) */
	const pass_options *opt;
	const char *label;        /* what SAMC_DEBUG calls the program; NULL = its kind */
	/* between graph rows */
	ir_node **params, **grads, **update_grads;
	ir_named *metrics;
	ir_update *updates;       /* the model's state updates, in the program */
	ir_node *loss;
	int forward_end;          /* the forward pass: nodes [0, forward_end) (SAM re-emits them) */
};

/* The graph rows in table order. */
const pass_row *pass_graph_rows(int *n);

/* Runs rows[0..n) that apply to c->kind, each followed by its verifier
 * (when o->verify) and debug output; stops after the row named o->stop.
 * 0, or -1 with a message (naming the failing row) in err. *stopped is set
 * when o->stop was reached (may be NULL). */
int pass_run_rows(pass_ctx *c, const pass_row *rows, int n, const pass_options *o, int *stopped,
                  char *err, size_t errlen);

/* The graph rows over a model: pass_build with options. */
int pass_build_opt(const ir_model *m, pass_prog_kind kind, const pass_options *o,
                   pass_program *out, char *err, size_t errlen);
int pass_build_all_opt(const ir_model *m, const pass_options *o, pass_programs *out, char *err,
                       size_t errlen);

/* Looks a stage up by name or stage alias among the graph rows and be's
 * rows (be may be NULL). Returns the row, and *is_backend. */
const pass_row *pass_table_find(const pass_backend *be, const char *name, int *is_backend);

/* `samc emit --stage=list`: every row in table order. */
void pass_table_list(FILE *out, const pass_backend *be);
/* Then the rows of another backend that base does not have. */
void pass_table_list_extra(FILE *out, const pass_backend *be, const pass_backend *base);

/* Runs the graph rows over a model up to o->stop into a fresh context;
 * on failure the context is freed. pass_ctx_free frees the program too. */
int pass_ctx_build(pass_ctx *c, const ir_model *m, pass_prog_kind kind, const pass_options *o,
                   int *stopped, char *err, size_t errlen);
void pass_ctx_free(pass_ctx *c);

/* `samc emit --stage=STAGE`: runs the table on the `kind` program of m up
 * to the row named `stage` (be's rows after the graph rows, with
 * backend_opts) and prints that row's output. 0, or -1 with a message. */
int pass_emit(FILE *out, const ir_model *m, pass_prog_kind kind, const pass_backend *be,
              void *backend_opts, const char *stage, const pass_options *o, char *err,
              size_t errlen);

/* The graph verifier as a row's verifier (ir_verify on c->prog.g). */
int pass_verify_graph(pass_ctx *c, char *err, size_t errlen);

#endif
