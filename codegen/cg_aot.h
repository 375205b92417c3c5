/*
 * cg_aot.h - `samc build`: a model's compiled steps as a standalone trainer.
 *
 *     cg_aot_unit u = {.model = "m.lua", .program_hash = h, .recipe = &r,
 *                      .step = {sam, base, eval}};
 *     cg_aot_options o;
 *     cg_aot_options_default(&o);
 *     cg_aot_stats st;
 *     if (cg_aot_build(&u, "trainer", &o, &st, err, sizeof err)) ...
 *
 * The kernels of every step go to one object file, rendered and optimized
 * exactly as the JIT does (llvm/cg_llvm.h) but for the unit's target CPU
 * (llvm/cg_target.h; `samc build --cpu`, generic by default), their symbols
 * prefixed by the step ("samc_sam_k3"). The steps' tables (runtime/rt_prog.h), the recipe
 * and the program hash go to a generated C file whose main() calls
 * rt_aot_main (runtime/rt_aot.h). The system C compiler links both with
 * libsamcrt.a, OpenBLAS, cJSON, zlib, libm and pthreads: the trainer needs
 * neither LLVM nor Lua at run time (and oneDNN only if it has convolutions:
 * the runtime opens it then, runtime/rt_conv_lib.h).
 *
 * A CUDA trainer (cg_aot_unit.cuda) has no object file: each step's PTX
 * (cg_step.ptx, one string per architecture) goes into the generated C,
 * and the trainer runs it on the CUDA device (rt_aot.h).
 *
 * The runtime is found where this build of samc was built, or under
 * $SAMC_RUNTIME_DIR (libsamcrt.a and the runtime headers, rt_aot.h
 * included, in that directory or its include/). The compiler is $CC, or
 * `cc` from PATH.
 */
#ifndef SAMC_CG_AOT_H
#define SAMC_CG_AOT_H

#include <stdint.h>
#include <stdio.h>

#include "cg_step.h"
#include "rt_recipe.h"

/* acc, sam_acc: a step of micro-batches; upd, upd_sam: a step on several
 * ranks (runtime/rt_step_seq.h) */
enum {
	CG_AOT_SAM, CG_AOT_BASE, CG_AOT_EVAL, CG_AOT_ACC, CG_AOT_SAM_ACC, CG_AOT_UPD, CG_AOT_UPD_SAM,
	CG_AOT_NSTEPS
};

typedef struct {
	const char *model;        /* the model file, as given (banner, messages) */
	const char *program_hash; /* checkpoints record and check it */
	const rt_recipe *recipe;
	int nparams;
	int ranks;                /* > 1: built for a data-parallel run of that many ranks */
	cg_step *step[CG_AOT_NSTEPS]; /* NULL where the model has none (not all) */
	/* a CUDA trainer: the steps went through the CUDA rows and hold their
	 * PTX (cg_step.ptx, the same architectures in each); no object file */
	int cuda;
	/* the CPU the steps' llvm pass compiled for (cg_step_options.target);
	 * NULL: the host. The trainer checks its features at start. */
	const struct cg_target *target;
} cg_aot_unit;

typedef struct {
	const char *cc;  /* C compiler; NULL: $CC, else "cc" */
	int opt_level;   /* as cg_options.opt_level, for the steps' llvm pass; the JIT's default is 3 */
	int keep;        /* keep OUT.samc.o and OUT.samc.c */
	int verbose;     /* print the compiler's command line */
} cg_aot_options;

typedef struct {
	double codegen_s;     /* LLVM: render, O3, object file */
	double cc_s;          /* the C compiler: table + link */
	double total_s;
	int64_t object_bytes;
	int nkernels;         /* loop kernels in the object */
} cg_aot_stats;

void cg_aot_options_default(cg_aot_options *o);

/* Writes the trainer `out`. 0, or -1 with a message in err (no compiler, an
 * unwritable output, a compiler error...). */
int cg_aot_build(const cg_aot_unit *u, const char *out, const cg_aot_options *o,
                 cg_aot_stats *st, char *err, size_t errlen);

/* The parts (cg_aot_build runs them in order). */
const char *cg_aot_step_name(int step); /* "sam", "base", "eval", "acc", "sam_acc", "upd", ... */
/* The object's symbol of a step's kernel: "samc_<step>_<kernel>". */
void cg_aot_symbol(char *buf, size_t n, int step, const char *kernel);
/* llvm/cg_aot.c: every step's loop kernels, as its llvm pass left them
 * (cg_step.h, cg_step_options.llvm), into one object file. */
int cg_aot_emit_object(const cg_aot_unit *u, const char *path, int *nkernels,
                       char *err, size_t errlen);
/* cg_aot_table.c: the generated C (tables, recipe, main). */
int cg_aot_write_table(FILE *f, const cg_aot_unit *u, char *err, size_t errlen);
/* cg_aot_link.c: where libsamcrt.a and the runtime headers are. */
int cg_aot_runtime(char *lib, size_t liblen, char *inc, size_t inclen, char *err, size_t errlen);

#endif
