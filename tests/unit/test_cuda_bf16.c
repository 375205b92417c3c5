/*
 * test_cuda_bf16.c - test_bf16's cases with the generated CUDA C run on the
 * host (test_cuda_host.h) in place of the CPU's LLVM kernels: the CUDA
 * prelude's samc_bf16_f32 against the interpreter, bit for bit.
 */
#include "test_cuda_host.h"

#define cg_cpu_exec_new cuda_host_exec_new
#define main cases_main
#include "test_bf16.c"
#undef main

int main(void)
{
	return cuda_host_main(cases_main, "test_cuda_bf16", 1);
}
