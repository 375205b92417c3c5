/*
 * rt_exec.h - the one interface between the runtime and a backend.
 *
 * A compiled step (train or eval) is an rt_exec: a list of slots it reads
 * and writes (params, optimizer state, the batch's inputs) and a list of
 * scalar outputs (loss, metrics). The runtime owns the memory of every
 * slot, allocated on the exec's device (rt_device.h; NULL: host memory)
 * for the whole run, and never knows which backend runs the step: the
 * reference interpreter, LLVM-compiled CPU code, or CUDA.
 *
 * Semantics of run(): read every slot as it is when called; write the new
 * values of PARAM and STATE slots (the step's assigns); store the outputs
 * (on the host). INPUT slots are read-only.
 */
#ifndef SAMC_RT_EXEC_H
#define SAMC_RT_EXEC_H

#include "rt_err.h"
#include "rt_tensor.h"

typedef enum { RT_SLOT_PARAM, RT_SLOT_STATE, RT_SLOT_INPUT } rt_slot_role;

/* Initialisation rules (mirror ir_init): params take any, state zeros,
 * ones or a constant (init_a). */
typedef enum {
	RT_INIT_ZEROS, RT_INIT_ONES, RT_INIT_UNIFORM, RT_INIT_NORMAL, RT_INIT_CONST
} rt_init_kind;

typedef struct {
	const char *name;     /* DSL name: "fc1.weight", "x", "opt.fc1.weight.momentum_buffer", "step" */
	rt_slot_role role;
	rt_dtype dtype;       /* RT_F32, RT_F64 or RT_I32 */
	int rank;
	int64_t dim[RT_MAX_DIMS];
	rt_init_kind init;    /* how to initialise (params, state) */
	double init_a, init_b;
	int nclasses;         /* labels inputs: number of classes, else 0 */
} rt_slot;

typedef struct rt_exec rt_exec;
struct rt_exec {
	const char *backend;  /* "interp", "cpu", "cuda" */
	rt_slot *slots;
	int nslots;
	const char **outputs; /* names of scalar outputs, e.g. "loss", "accuracy" */
	int noutputs;
	void *self;           /* backend's private state */
	/* where the slots live: the runtime allocates them with dev->alloc and
	 * moves data only through dev's transfers; NULL: host memory */
	struct rt_device *dev;
	/* host worker threads, or NULL; idle between runs, so the runtime may
	 * split its own work (filling a batch) over them */
	struct rt_pool *pool;
	/* slot_data[i] is the device address of slots[i]'s buffer (dense,
	 * row-major); outputs are written to host memory. */
	int (*run)(rt_exec *x, void **slot_data, double *outputs, rt_err *err);
	/* optional, both or neither: run in two halves, so the host can work
	 * while the device does. launch binds the slots and starts the
	 * kernels; finish waits for them, checks them, stores the outputs and
	 * commits. Between them the host may prepare the next batch but writes
	 * no slot the step reads. */
	int (*launch)(rt_exec *x, void **slot_data, rt_err *err);
	int (*finish)(rt_exec *x, double *outputs, rt_err *err);
	void (*free)(rt_exec *x);
	/* the ranks of the run (rt_comm.h), or NULL: one rank. The runtime sets
	 * it on every exec of a run before the first run; a step's collectives
	 * (rank_sum: RT_K_COMM entries) go through it. */
	struct rt_comm *comm;
	/* the step runner's exec (rt_runner.h) that runs this one's table:
	 * itself, a wrapping backend's inner one (rt_exec_share), or NULL (the
	 * interpreter); the overlapped all-reduce (rt_overlap.h) asks it where
	 * each value is final */
	rt_exec *runner;
};

int rt_exec_find_slot(const rt_exec *x, const char *name); /* index or -1 */
/* A backend's exec that wraps the runtime's (the CPU's, the CUDA one's)
 * shows the inner exec's slot and output tables, pool and device as its own. */
void rt_exec_share(rt_exec *x, const rt_exec *inner);

#endif
