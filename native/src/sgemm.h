#ifndef RPELAB_SGEMM_H
#define RPELAB_SGEMM_H
#include <stdint.h>
#include <stddef.h>
/* Floats of packing workspace `rpelab_sgemm` needs for these sizes. */
size_t rpelab_sgemm_workspace(int64_t m, int64_t n, int64_t k);
/* C [m, n] = op(A) [m, k] · op(B) [k, n], row-major; op(A) = A [k, m]ᵀ when trans_a, op(B) = B [n, k]ᵀ when trans_b. */
void rpelab_sgemm(int64_t m, int64_t n, int64_t k, const float *a, int trans_a, const float *b, int trans_b, float *c, float *work);
/* The same with op(A)(i, p) = a[i*a_rs + p*a_cs]. */
void rpelab_sgemm_strided(int64_t m, int64_t n, int64_t k, const float *a, int64_t a_rs, int64_t a_cs, const float *b, int trans_b, float *c, float *work);
/* The builtin product (blas.c's rpelab_batch_sgemm calls OpenBLAS instead where the addon was built with it):
   out[g] = op(A[g or 0]) · op(B[g or 0]) for g < batch on up to `threads` threads (rows of C split when batch is 1,
   batch elements otherwise). Returns 0, or -1 when out of memory. */
int rpelab_batch_sgemm_builtin(int64_t batch, int64_t batch_a, int64_t batch_b, int64_t m, int64_t n, int64_t k,
                       const float *a, int trans_a, const float *b, int trans_b, float *c, int threads);
#endif
