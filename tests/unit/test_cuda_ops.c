/*
 * test_cuda_ops.c - test_cg_ops's cases (every op (f32, f64), shape and slice ops, reductions, GEMMs, softmax, losses, assign swaps, a label error) through the generated CUDA C run on
 * the host (test_cuda_host.h) instead of the CPU's LLVM kernels, against
 * the interpreter with the same tolerances.
 */
#include "test_cuda_host.h"

#define cg_cpu_exec_new cuda_host_exec_new
#define main cases_main
#include "test_cg_ops.c"
#undef main

int main(void)
{
	return cuda_host_main(cases_main, "test_cuda_ops", 1);
}
