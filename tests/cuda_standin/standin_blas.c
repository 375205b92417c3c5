/*
 * standin_blas.c - the host stand-in's cuBLAS (see standin.c): the entry
 * points rt_cuda_blas.h resolves, following cuBLAS's column-major
 * definition through the CPU's BLAS. cublasGemmEx and
 * cublasGemmStridedBatchedEx take the one configuration samc passes, A and
 * B CUDA_R_16BF, C CUDA_R_32F, CUBLAS_COMPUTE_32F (others are
 * CUBLAS_STATUS_NOT_SUPPORTED): the bf16 operands widened to f32 (exact)
 * and multiplied by cblas_sgemm, which sums in f32 as cuBLAS's
 * COMPUTE_32F does. (standin_blas_abi.c checks rt_cuda_blas.h's constants
 * against cuBLAS's header when the toolkit has one.)
 *
 * The GEMMs are counted (samc_standin_counts: gemm, gemm_bf16); a process
 * whose CUDA_STANDIN_COUNTS names a file appends "cublas gemms F32_F64
 * BF16" to it when the library is unloaded, so a test sees another
 * process's calls (tests/cudnn_standin/check_runs.py).
 */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "standin.h"

enum { CUDA_R_32F_ = 0, CUDA_R_16BF_ = 14, COMPUTE_32F_ = 68, ST_INVALID = 7, ST_NOT_SUPPORTED = 15 };

__attribute__((destructor)) static void standin_blas_report(void)
{
	const char *path = getenv("CUDA_STANDIN_COUNTS");
	FILE *f = path && *path ? fopen(path, "a") : NULL;
	if (f) {
		fprintf(f, "cublas gemms %ld %ld\n", counts.gemm, counts.gemm_bf16);
		fclose(f);
	}
}

static int the_blas;

EXPORT int cublasCreate_v2(void **h)
{
	*h = &the_blas;
	return 0;
}

EXPORT int cublasDestroy_v2(void *h)
{
	return h == &the_blas ? 0 : 1;
}

EXPORT int cublasSetStream_v2(void *h, void *s)
{
	(void)s;
	return h == &the_blas ? 0 : 1;
}

static int bad_gemm(void *h, int opa, int opb, int m, int n, int k, int lda, int ldb, int ldc,
                    int batch)
{
	/* cuBLAS's checks: the leading dimensions hold a column of each operand */
	return h != &the_blas || opa < 0 || opa > 1 || opb < 0 || opb > 1 || m < 0 || n < 0 ||
	       k < 0 || batch < 0 || lda < (opa ? k : m) || ldb < (opb ? n : k) || ldc < m ||
	       lda < 1 || ldb < 1 || ldc < 1;
}

EXPORT int cublasSgemmStridedBatched(void *h, int opa, int opb, int m, int n, int k,
                                     const float *alpha, const float *A, int lda, long long sa,
                                     const float *B, int ldb, long long sb, const float *beta,
                                     float *C, int ldc, long long sc, int batch)
{
	if (bad_gemm(h, opa, opb, m, n, k, lda, ldb, ldc, batch))
		return ST_INVALID;
	counts.gemm++;
	for (int i = 0; i < batch; i++)
		cblas_sgemm(CblasColMajor, opa ? CblasTrans : CblasNoTrans, opb ? CblasTrans : CblasNoTrans,
		            m, n, k, *alpha, A + i * sa, lda, B + i * sb, ldb, *beta, C + i * sc, ldc);
	return 0;
}

EXPORT int cublasDgemmStridedBatched(void *h, int opa, int opb, int m, int n, int k,
                                     const double *alpha, const double *A, int lda, long long sa,
                                     const double *B, int ldb, long long sb, const double *beta,
                                     double *C, int ldc, long long sc, int batch)
{
	if (bad_gemm(h, opa, opb, m, n, k, lda, ldb, ldc, batch))
		return ST_INVALID;
	counts.gemm++;
	for (int i = 0; i < batch; i++)
		cblas_dgemm(CblasColMajor, opa ? CblasTrans : CblasNoTrans, opb ? CblasTrans : CblasNoTrans,
		            m, n, k, *alpha, A + i * sa, lda, B + i * sb, ldb, *beta, C + i * sc, ldc);
	return 0;
}

/* the f32 values of a bf16 matrix: `cols` columns of ld elements, batch
 * matrices stride apart (NULL if out of memory) */
static float *widen(const uint16_t *x, int ld, int cols, long long stride, int batch)
{
	long long n = (long long)(batch - 1) * stride + (long long)ld * cols;
	float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof *f);
	for (long long i = 0; f && i < n; i++) {
		uint32_t u = (uint32_t)x[i] << 16;
		memcpy(&f[i], &u, sizeof u);
	}
	return f;
}

static int gemm_bf16(void *h, int opa, int opb, int m, int n, int k, const void *alpha,
                     const void *A, int atype, int lda, long long sa, const void *B, int btype,
                     int ldb, long long sb, const void *beta, void *C, int ctype, int ldc,
                     long long sc, int batch, int compute, int algo)
{
	if (bad_gemm(h, opa, opb, m, n, k, lda, ldb, ldc, batch) || !alpha || !beta)
		return ST_INVALID;
	if (atype != CUDA_R_16BF_ || btype != CUDA_R_16BF_ || ctype != CUDA_R_32F_ ||
	    compute != COMPUTE_32F_ || algo != -1)
		return ST_NOT_SUPPORTED;
	float *fa = widen(A, lda, opa ? m : k, sa, batch), *fb = widen(B, ldb, opb ? k : n, sb, batch);
	if (!fa || !fb) {
		free(fa);
		free(fb);
		return 3; /* CUBLAS_STATUS_ALLOC_FAILED */
	}
	counts.gemm_bf16++;
	for (int i = 0; i < batch; i++)
		cblas_sgemm(CblasColMajor, opa ? CblasTrans : CblasNoTrans, opb ? CblasTrans : CblasNoTrans,
		            m, n, k, *(const float *)alpha, fa + i * sa, lda, fb + i * sb, ldb,
		            *(const float *)beta, (float *)C + i * sc, ldc);
	free(fa);
	free(fb);
	return 0;
}

EXPORT int cublasGemmEx(void *h, int opa, int opb, int m, int n, int k, const void *alpha,
                        const void *A, int atype, int lda, const void *B, int btype, int ldb,
                        const void *beta, void *C, int ctype, int ldc, int compute, int algo)
{
	return gemm_bf16(h, opa, opb, m, n, k, alpha, A, atype, lda, 0, B, btype, ldb, 0, beta, C,
	                 ctype, ldc, 0, 1, compute, algo);
}

EXPORT int cublasGemmStridedBatchedEx(void *h, int opa, int opb, int m, int n, int k,
                                      const void *alpha, const void *A, int atype, int lda,
                                      long long sa, const void *B, int btype, int ldb,
                                      long long sb, const void *beta, void *C, int ctype, int ldc,
                                      long long sc, int batch, int compute, int algo)
{
	return gemm_bf16(h, opa, opb, m, n, k, alpha, A, atype, lda, sa, B, btype, ldb, sb, beta, C,
	                 ctype, ldc, sc, batch, compute, algo);
}
