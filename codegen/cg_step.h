/*
 * cg_step.h - the CPU backend's rows of the pass table (lowrank, fuse,
 * plan, lower, llvm; passes/pass_table.h) and the step they compile: its
 * fusion, memory plan, loop IR and LLVM module, and the rt_prog
 * (runtime/rt_prog.h) that runs it, with the kernels' functions still to
 * be bound. The JIT compiles the llvm row's module and binds them in
 * memory (cg_exec.c); `samc build` writes the same table as C and links
 * every step's module into an object file (llvm/cg_aot.h), so both paths
 * run one schedule of the same code.
 *
 * Slots are exactly those of the interpreter's exec: one per PARAM, STATE
 * and INPUT leaf the step uses, in node order.
 */
#ifndef SAMC_CG_STEP_H
#define SAMC_CG_STEP_H

#include "cg_lower.h"
#include "cuda/cg_nvrtc.h"
#include "pass_plan.h"
#include "pass_table.h"
#include "rt_prog.h"

struct cg_llvm_mod;
struct cg_target;

/* How the CPU backend's rows of the pass table (lowrank, fuse, plan,
 * lower, llvm) run. */
typedef struct {
	pass_options pass; /* verifiers, SAMC_DEBUG level */
	int llvm;          /* also run the llvm row (render, optimize): what the JIT compiles */
	int opt_level;     /* llvm: 0 = none, else O3 */
	const struct cg_target *target; /* llvm: the CPU (llvm/cg_target.h); NULL: the host */
	int conv_loops;    /* 1: f32 convolutions as generated loops too, not oneDNN calls */
	/* the CUDA rows instead of split..llvm: split for a GPU, then render
	 * CUDA C (cg_cuda.h) with this prefix on kernel names (may be NULL);
	 * the ptx row only when cuda > 1 */
	int cuda;
	const char *cuda_prefix;
	const char *cuda_arch; /* ptx: "compute_90" when NULL; or a list, "compute_80,compute_90" */
	int cuda_separate;     /* 1: no multi-tensor kernels (cg_multi.h), a launch per kernel */
} cg_step_options;

/* Rows lowrank .. lower, verify in debug builds, O3. */
void cg_step_options_default(cg_step_options *o);

/* The CPU backend's rows, for the pass table's runner and `samc emit`
 * (the rows' backend_opts is a cg_step_options, or NULL for defaults). */
const pass_backend *cg_cpu_backend(void);
/* The CUDA backend's rows: lowrank, fuse, plan, lower, gpusplit, multi, cuda, ptx
 * (the first four the CPU's). */
const pass_backend *cg_cuda_backend(void);

typedef struct {
	ir_graph *g;              /* the step's own copy, rewritten (pass_lowrank.h) */
	ir_node **outs;           /* the outputs in that copy */
	int nlowrank;             /* weights whose SAM perturbation became low-rank */
	pass_fusion *f;
	pass_plan *p;
	cg_program *prog;
	struct cg_llvm_mod *llvm; /* the llvm row's module, until the JIT takes it */
	struct cg_cuda_mod *cuda; /* the cuda row's module */
	struct {                  /* the ptx row's output, per architecture */
		char arch[24];
		char *text;
		size_t len;
	} ptx[CG_NVRTC_MAX_ARCHS];
	int nptx;
	rt_prog desc;             /* points into the arrays below */
	rt_slot *slots;
	rt_prog_output *outputs;
	rt_prog_buf *bufs;
	rt_prog_kernel *kernels;  /* fn NULL until bound */
	int *args;
	rt_prog_commit *commits;
	char **where;             /* per kernel: "file:line: op", owned */
} cg_step;

/* Compiles a copy of g (g is left as it is) through the backend rows. o
 * may be NULL (cg_step_options_default). Outputs must be scalars. NULL
 * with a message in err. */
cg_step *cg_step_new(const ir_graph *g, ir_node *const *outs, const char *const *out_names,
                     int nout, const cg_step_options *o, char *err, size_t errlen);
void cg_step_free(cg_step *s);

#endif
