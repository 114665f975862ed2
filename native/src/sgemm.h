#ifndef RPELAB_SGEMM_H
#define RPELAB_SGEMM_H
#include <stdint.h>
#include <stddef.h>
/* Floats of packing workspace `rpelab_sgemm` needs for these sizes. */
size_t rpelab_sgemm_workspace(int64_t m, int64_t n, int64_t k);
/* C [m, n] = op(A) [m, k] · op(B) [k, n], row-major; op(A) = A [k, m]ᵀ when trans_a, op(B) = B [n, k]ᵀ when trans_b. */
void rpelab_sgemm(int64_t m, int64_t n, int64_t k, const float *a, int trans_a, const float *b, int trans_b, float *c, float *work);
#endif
