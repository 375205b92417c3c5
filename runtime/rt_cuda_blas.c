/*
 * rt_cuda_blas.c - cuBLAS through dlopen (see rt_cuda_blas.h).
 */
#include "rt_cuda_blas.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

const char *rt_cuda_blas_status_name(rt_cublas_status s)
{
	switch (s) {
	case 0: return "CUBLAS_STATUS_SUCCESS";
	case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
	case 3: return "CUBLAS_STATUS_ALLOC_FAILED";
	case 7: return "CUBLAS_STATUS_INVALID_VALUE";
	case 8: return "CUBLAS_STATUS_ARCH_MISMATCH";
	case 11: return "CUBLAS_STATUS_MAPPING_ERROR";
	case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
	case 14: return "CUBLAS_STATUS_INTERNAL_ERROR";
	case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
	case 16: return "CUBLAS_STATUS_LICENSE_ERROR";
	default: return "unknown cuBLAS status";
	}
}

void rt_cuda_blas_close(rt_cuda_blas *b)
{
	if (b->h && b->destroy)
		b->destroy(b->h);
	if (b->lib)
		dlclose(b->lib);
	memset(b, 0, sizeof *b);
}

int rt_cuda_blas_open(rt_cuda_blas *b, const char *path, rt_err *err)
{
	memset(b, 0, sizeof *b);
	if (!path)
		path = RT_CUDA_BLAS_LIB;
	snprintf(b->path, sizeof b->path, "%s", path);
	if (!(b->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
		const char *why = dlerror();
		return rt_errf(err, "cuda: %s not found: the CUDA device runs matrix products through "
		               "cuBLAS of CUDA 13; install it or name it with SAMC_CUDA_BLAS (%s)",
		               path, why ? why : "dlopen failed");
	}
#define RT_CUDA_BLAS_RESOLVE(name, sym, ret, args)                                                 \
	if (!(*(void **)&b->name = dlsym(b->lib, sym))) {                                              \
		rt_errf(err, "cuda: %s has no %s: it is not cuBLAS of CUDA 13", path, sym);               \
		rt_cuda_blas_close(b);                                                                     \
		return -1;                                                                                 \
	}
	RT_CUDA_BLAS_FUNCS(RT_CUDA_BLAS_RESOLVE)
#undef RT_CUDA_BLAS_RESOLVE
	rt_cublas_status s = b->create(&b->h);
	if (s != 0) {
		rt_errf(err, "cuda: cublasCreate (%s) failed: %s (%d)", path, rt_cuda_blas_status_name(s),
		        s);
		b->h = NULL;
		rt_cuda_blas_close(b);
		return -1;
	}
	/* the legacy default stream: ordered with the device's launches and copies */
	if ((s = b->set_stream(b->h, NULL)) != 0) {
		rt_errf(err, "cuda: cublasSetStream failed: %s (%d)", rt_cuda_blas_status_name(s), s);
		rt_cuda_blas_close(b);
		return -1;
	}
	return 0;
}

/* cuBLAS's int sizes hold the product's */
static int check_sizes(int64_t m, int64_t n, int64_t k, int64_t batch, rt_err *err)
{
	if (m > INT_MAX || n > INT_MAX || k > INT_MAX || batch > INT_MAX)
		return rt_errf(err, "cuda: a matrix product of [%lld,%lld]x[%lld,%lld] (batch %lld) is "
		               "larger than cuBLAS's int sizes", (long long)m, (long long)k, (long long)k,
		               (long long)n, (long long)batch);
	return 0;
}

static int gemm_failed(const char *what, int ta, int tb, int64_t m, int64_t n, int64_t k,
                       int64_t batch, rt_cublas_status s, rt_err *err)
{
	return rt_errf(err, "cuda: cuBLAS %s [%lld,%lld]x[%lld,%lld]%s%s (batch %lld) failed: %s (%d)",
	               what, (long long)m, (long long)k, (long long)k, (long long)n, ta ? " A^T" : "",
	               tb ? " B^T" : "", (long long)batch, rt_cuda_blas_status_name(s), s);
}

int rt_cuda_blas_gemm(rt_cuda_blas *b, int ta, int tb, int f64, int64_t m, int64_t n, int64_t k,
                      int64_t batch, const void *a, const void *bm, void *c, rt_err *err)
{
	if (batch < 1)
		batch = 1;
	if (check_sizes(m, n, k, batch, err))
		return -1;
	/* row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T */
	int lda = (int)(ta ? m : k), ldb = (int)(tb ? k : n);
	int opa = ta ? RT_CUBLAS_OP_T : RT_CUBLAS_OP_N, opb = tb ? RT_CUBLAS_OP_T : RT_CUBLAS_OP_N;
	rt_cublas_status s;
	if (f64) {
		const double one = 1.0, zero = 0.0;
		s = b->dgemm_batched(b->h, opb, opa, (int)n, (int)m, (int)k, &one, bm, ldb, k * n, a, lda,
		                     m * k, &zero, c, (int)n, m * n, (int)batch);
	} else {
		const float one = 1.0f, zero = 0.0f;
		s = b->sgemm_batched(b->h, opb, opa, (int)n, (int)m, (int)k, &one, bm, ldb, k * n, a, lda,
		                     m * k, &zero, c, (int)n, m * n, (int)batch);
	}
	if (s != 0)
		return gemm_failed(f64 ? "dgemm" : "sgemm", ta, tb, m, n, k, batch, s, err);
	return 0;
}

int rt_cuda_blas_gemm_bf16(rt_cuda_blas *b, int ta, int tb, int64_t m, int64_t n, int64_t k,
                           int64_t batch, const void *a16, const void *b16, void *c, rt_err *err)
{
	if (batch < 1)
		batch = 1;
	if (check_sizes(m, n, k, batch, err))
		return -1;
	int lda = (int)(ta ? m : k), ldb = (int)(tb ? k : n);
	int opa = ta ? RT_CUBLAS_OP_T : RT_CUBLAS_OP_N, opb = tb ? RT_CUBLAS_OP_T : RT_CUBLAS_OP_N;
	/* CUBLAS_COMPUTE_32F: alpha and beta are f32 */
	const float one = 1.0f, zero = 0.0f;
	const int bf = RT_CUDA_R_16BF, f32 = RT_CUDA_R_32F;
	rt_cublas_status s;
	if (batch == 1)
		s = b->gemm_ex(b->h, opb, opa, (int)n, (int)m, (int)k, &one, b16, bf, ldb, a16, bf, lda,
		               &zero, c, f32, (int)n, RT_CUBLAS_COMPUTE_32F, RT_CUBLAS_GEMM_DEFAULT);
	else
		s = b->gemm_batched_ex(b->h, opb, opa, (int)n, (int)m, (int)k, &one, b16, bf, ldb, k * n,
		                       a16, bf, lda, m * k, &zero, c, f32, (int)n, m * n, (int)batch,
		                       RT_CUBLAS_COMPUTE_32F, RT_CUBLAS_GEMM_DEFAULT);
	if (s != 0)
		return gemm_failed(batch == 1 ? "GemmEx (bf16)" : "GemmStridedBatchedEx (bf16)", ta, tb, m,
		                   n, k, batch, s, err);
	return 0;
}
