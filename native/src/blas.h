#ifndef RPELAB_BLAS_H
#define RPELAB_BLAS_H
#include <stddef.h>
#include <stdint.h>
/* The matrix product behind matMul: OpenBLAS's cblas_sgemm when the addon was built with it
   (RPELAB_OPENBLAS), else the builtin sgemm of sgemm.c. Same contract as rpelab_batch_sgemm_builtin:
   out[g] = op(A[g or 0]) · op(B[g or 0]) for g < batch, on up to `threads` threads; 0, or -1 when out of memory. */
int rpelab_batch_sgemm(int64_t batch, int64_t batch_a, int64_t batch_b, int64_t m, int64_t n, int64_t k,
                       const float *a, int trans_a, const float *b, int trans_b, float *c, int threads);
/* The same, then out[g][i, j] += bias[j] and, when relu, out = max(out, 0) (a fused product's bias
   and ReLU; bias NULL: none): one product through OpenBLAS does it in each thread's block of C just
   computed; batches and the builtin sgemm in a pass after the products. The same operations in the
   same order either way, so the same bits. */
int rpelab_batch_sgemm_bias(int64_t batch, int64_t batch_a, int64_t batch_b, int64_t m, int64_t n, int64_t k, const float *a, int trans_a,
                            const float *b, int trans_b, float *c, const float *bias, int relu, int threads);
/* One product on the calling thread, for kernels that run products inside their own threads:
   C [m, n] (contiguous) = op(A) [m, k] · op(B) [k, n], row-major; op(A) = A [k, m]ᵀ when trans_a, with
   `lda` floats per stored row of A; op(B) = B [n, k]ᵀ when trans_b, B stored without padding.
   OpenBLAS single-threaded where built with it (call rpelab_blas_serial_begin() from the launching
   thread first), the builtin sgemm otherwise, which needs `work`: rpelab_sgemm_serial_workspace floats. */
void rpelab_sgemm_serial(int64_t m, int64_t n, int64_t k, const float *a, int trans_a, int64_t lda, const float *b, int trans_b, float *c,
                         float *work);
size_t rpelab_sgemm_serial_workspace(int64_t m, int64_t n, int64_t k);
/* C = alpha · op(A) · op(B) + beta · C with leading dimensions (floats per stored row), on the
   calling thread, by OpenBLAS whether or not matMul uses it; 1 if done, 0 in a build without it. */
int rpelab_sgemm_strided_library(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                                 int64_t ldb, float beta, float *c, int64_t ldc);
/* 1 in a build with OpenBLAS. */
int rpelab_blas_has_library(void);
/* Before threads of one's own call rpelab_sgemm_serial: OpenBLAS runs single-threaded inside them. */
void rpelab_blas_serial_begin(void);
/* "openblas <version> <core>" when built with OpenBLAS, else "builtin". */
const char *rpelab_blas_name(void);
/* 1: the library (OpenBLAS) computes matMul, 0: the builtin sgemm; returns -1 when asked for a library it was built without. */
int rpelab_use_blas_library(int on);
#endif
