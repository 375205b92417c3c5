/*
 * rt_cuda_blas.h - cuBLAS opened at run time with dlopen (as the driver,
 * rt_cuda_drv.h), so no samc binary links it: the CUDA device's GEMMs.
 *
 * samc's GEMMs are row-major (rt_prog.h: C[m,n] = op(A) op(B)); cuBLAS is
 * column-major. A row-major matrix is its transpose read column-major, so
 * C^T = op(B)^T op(A)^T is one cuBLAS call with the operands swapped:
 * gemm(op_b, op_a, n, m, k, B, ldb, A, lda, C, n). The math mode stays
 * cuBLAS's default (no TF32), so f32 products are IEEE f32 products.
 *
 * A GEMM whose operands are bf16 values (rt_prog_kernel.bf16, precision =
 * "bf16") runs as cublasGemmEx, or cublasGemmStridedBatchedEx when
 * batched: A and B as CUDA_R_16BF (the caller's copies in bf16 storage),
 * C as CUDA_R_32F, CUBLAS_COMPUTE_32F: bf16 products summed in f32, on the
 * tensor cores of sm_80 and newer.
 */
#ifndef SAMC_RT_CUDA_BLAS_H
#define SAMC_RT_CUDA_BLAS_H

#include <stdint.h>

#include "rt_cuda_drv.h"
#include "rt_err.h"

/* The library opened when no path is given (cuBLAS of CUDA 13). */
#define RT_CUDA_BLAS_LIB "libcublas.so.13"

typedef struct rt_cublas_ctx *rt_cublas_handle;
typedef int rt_cublas_status; /* CUBLAS_STATUS_SUCCESS is 0 */

/* cublasOperation_t */
#define RT_CUBLAS_OP_N 0
#define RT_CUBLAS_OP_T 1
/* cudaDataType_t, cublasComputeType_t, cublasGemmAlgo_t */
#define RT_CUDA_R_32F 0
#define RT_CUDA_R_16BF 14
#define RT_CUBLAS_COMPUTE_32F 68
#define RT_CUBLAS_GEMM_DEFAULT (-1)

#define RT_CUDA_BLAS_FUNCS(X)                                                                      \
	X(create, "cublasCreate_v2", rt_cublas_status, (rt_cublas_handle * h))                        \
	X(destroy, "cublasDestroy_v2", rt_cublas_status, (rt_cublas_handle h))                        \
	X(set_stream, "cublasSetStream_v2", rt_cublas_status, (rt_cublas_handle h, rt_cu_stream s))   \
	X(sgemm_batched, "cublasSgemmStridedBatched", rt_cublas_status,                              \
	  (rt_cublas_handle h, int opa, int opb, int m, int n, int k, const float *alpha,             \
	   const float *A, int lda, long long sa, const float *B, int ldb, long long sb,               \
	   const float *beta, float *C, int ldc, long long sc, int batch))                            \
	X(dgemm_batched, "cublasDgemmStridedBatched", rt_cublas_status,                              \
	  (rt_cublas_handle h, int opa, int opb, int m, int n, int k, const double *alpha,            \
	   const double *A, int lda, long long sa, const double *B, int ldb, long long sb,            \
	   const double *beta, double *C, int ldc, long long sc, int batch))                            \
	X(gemm_ex, "cublasGemmEx", rt_cublas_status,                                                  \
	  (rt_cublas_handle h, int opa, int opb, int m, int n, int k, const void *alpha,              \
	   const void *A, int atype, int lda, const void *B, int btype, int ldb, const void *beta,     \
	   void *C, int ctype, int ldc, int compute, int algo))                                       \
	X(gemm_batched_ex, "cublasGemmStridedBatchedEx", rt_cublas_status,                            \
	  (rt_cublas_handle h, int opa, int opb, int m, int n, int k, const void *alpha,              \
	   const void *A, int atype, int lda, long long sa, const void *B, int btype, int ldb,         \
	   long long sb, const void *beta, void *C, int ctype, int ldc, long long sc, int batch,      \
	   int compute, int algo))

#define RT_CUDA_BLAS_FIELD(name, sym, ret, args) ret(*name) args;

typedef struct {
	void *lib;
	char path[256];
	rt_cublas_handle h; /* on the legacy default stream of the current context */
	RT_CUDA_BLAS_FUNCS(RT_CUDA_BLAS_FIELD)
} rt_cuda_blas;

/* Opens cuBLAS at path (NULL: libcublas.so.13) and creates a handle in
 * the current context. 0, or -1 with a message naming the library. */
int rt_cuda_blas_open(rt_cuda_blas *b, const char *path, rt_err *err);
void rt_cuda_blas_close(rt_cuda_blas *b);

/* A row-major GEMM of rt_prog.h (ta, tb, f64, batch) on device addresses
 * a, b, c: C = op(A) op(B), batch products of consecutive matrices. */
int rt_cuda_blas_gemm(rt_cuda_blas *b, int ta, int tb, int f64, int64_t m, int64_t n, int64_t k,
                      int64_t batch, const void *a, const void *bm, void *c, rt_err *err);

/* The same product of bf16 operands: a16 and b16 hold A and B as bf16
 * (batch * m * k and batch * k * n uint16 values), C is f32. */
int rt_cuda_blas_gemm_bf16(rt_cuda_blas *b, int ta, int tb, int64_t m, int64_t n, int64_t k,
                           int64_t batch, const void *a16, const void *b16, void *c, rt_err *err);

/* "CUBLAS_STATUS_NOT_INITIALIZED" for a status. */
const char *rt_cuda_blas_status_name(rt_cublas_status s);

#endif
