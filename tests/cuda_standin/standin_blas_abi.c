/*
 * standin_blas_abi.c - rt_cuda_blas.h's copy of cuBLAS's constants
 * checked against cuBLAS's own header (compiled into the stand-in only
 * when the toolkit has cublas_api.h; it defines nothing).
 */
#include <cublas_api.h>

#include "rt_cuda_blas.h"

#define SAME(a, b) _Static_assert((int)(a) == (int)(b), #a " is " #b)
SAME(RT_CUBLAS_OP_N, CUBLAS_OP_N);
SAME(RT_CUBLAS_OP_T, CUBLAS_OP_T);
SAME(RT_CUDA_R_32F, CUDA_R_32F);
SAME(RT_CUDA_R_16BF, CUDA_R_16BF);
SAME(RT_CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F);
SAME(RT_CUBLAS_GEMM_DEFAULT, CUBLAS_GEMM_DEFAULT);
