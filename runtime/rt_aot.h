/*
 * rt_aot.h - the runtime side of a standalone trainer (`samc build`).
 *
 * samc writes the model's compiled steps as tables (rt_prog.h) and its
 * recipe as C data, and a main() that hands them to rt_aot_main:
 *
 *     static const rt_aot_model model = {.model = "fashion_mlp.lua", ...};
 *     int main(int argc, char **argv) { return rt_aot_main(&model, argc, argv); }
 *
 * rt_aot_main parses the trainer's options, makes an exec of each step on
 * the requested threads and trains with rt_train (rt_train.h), exactly as
 * `samc model.lua --backend cpu` does:
 *
 *   ./trainer [--epochs N] [--resume CKPT] [--data DIR] [--threads N]
 *             [--seed N] [--metrics FILE] [--checkpoint-dir DIR]
 *             [--stop-after N] [--log-every N] [--quiet]
 *
 * Before anything else it checks that the running CPU has the features the
 * kernels were compiled for (rt_cpu.h; SAMC_CPU_MASK=avx512f,... plays a
 * CPU without them) and otherwise exits 1 naming what is missing.
 *
 * Exit status: 0 success, 1 a data or training error (or a CPU without the
 * compiled-for features), 2 a usage error.
 */
#ifndef SAMC_RT_AOT_H
#define SAMC_RT_AOT_H

#include "rt_prog.h"
#include "rt_recipe.h"

/* bumped when rt_prog / rt_aot_model change layout; the generated file
 * states the version it was written for */
#define RT_AOT_ABI 6

/* A CUDA trainer's module of one step for one architecture. */
typedef struct {
	const char *arch; /* "compute_90" */
	const char *ptx;
} rt_aot_ptx;

typedef struct {
	int abi;                  /* RT_AOT_ABI of the generating samc */
	const char *model;        /* the model file it was built from */
	const char *program_hash;
	const rt_recipe *recipe;
	int nparams;
	const rt_prog *sam, *base, *eval; /* NULL where absent */
	/* a CUDA trainer (`samc build --device cuda`): each step's PTX for
	 * nptx architectures, oldest first; it runs on the GPU (rt_dev_cuda.h)
	 * with the newest the GPU can run. nptx 0: a CPU trainer. */
	const rt_aot_ptx *sam_ptx, *base_ptx, *eval_ptx;
	/* a step of micro-batches (rt_step_seq.h): its accumulate programs,
	 * NULL without optimizer.accumulate / optimizer.sam.m */
	const rt_prog *acc, *sam_acc;
	const rt_aot_ptx *acc_ptx, *sam_acc_ptx;
	/* a data-parallel trainer (`samc build --ranks N`): the ranks it was
	 * compiled for (1: one process; it refuses another count) and the
	 * programs that end its steps */
	int ranks;
	const rt_prog *upd, *upd_sam;
	const rt_aot_ptx *upd_ptx, *upd_sam_ptx;
	int nptx;
	/* the CPU its kernels were compiled for: `samc build --cpu` as given
	 * ("generic"), LLVM's CPU ("x86-64-v3") and the features checked at
	 * start (rt_cpu.h), comma-separated */
	const char *cpu, *cpu_llvm, *cpu_features;
} rt_aot_model;

/* A CUDA trainer's exec of step p: the CUDA device (the driver, cuBLAS
 * and cuDNN as the environment's SAMC_CUDA_DRIVER, SAMC_CUDA_BLAS and
 * SAMC_CUDA_DNN name them, given here; NULL: the defaults), the newest of
 * the nptx modules the GPU can run, the step runner. NULL with a message
 * (no GPU, no module old enough...). */
rt_exec *rt_aot_cuda_exec(const rt_prog *p, const rt_aot_ptx *ptx, int nptx, const char *driver,
                          const char *blas, const char *dnn, rt_err *err);

/* The same on GPU `ordinal` of the machine (a rank's, rt_comm_gpu_open). */
rt_exec *rt_aot_cuda_exec_on(const rt_prog *p, const rt_aot_ptx *ptx, int nptx,
                             const char *driver, const char *blas, const char *dnn, int ordinal,
                             rt_err *err);

int rt_aot_main(const rt_aot_model *m, int argc, char **argv);

#endif
