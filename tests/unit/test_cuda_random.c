/*
 * test_cuda_random.c - test_cg_random's cases (the 200 random graphs, forward and backward) through the generated CUDA C run on
 * the host (test_cuda_host.h) instead of the CPU's LLVM kernels, against
 * the interpreter with the same tolerances.
 */
#include "test_cuda_host.h"

#define cg_cpu_exec_new cuda_host_exec_new
#define main cases_main
#include "test_cg_random.c"
#undef main

/* NVRTC checks every kernel; ptxas, slow on 1,600 kernels, only
 * test_cuda_ops' and test_cuda_programs' (the same kinds of kernel). */
int main(void)
{
	return cuda_host_main(cases_main, "test_cuda_random", 0);
}
