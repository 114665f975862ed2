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
/* The blocking (rows and columns of the register tile, depth of a packed block), for kernels that
   generate an operand in packed form:
   - packed A (rpelab_pack_a_all): per depth block of kc = min(KC, k − pc), ceil(m/MR) panels of
     kc x MR floats, element (i, p) of a panel at p*MR + i;
   - packed B: panels of kc x NR floats, element (p, j) at p*NR + j (rpelab_pack_b_block packs one
     k <= KC deep block of ceil(n/NR) panels, zero-padded);
   - rpelab_sgemm_tile: c[0..mr, 0..nr] (=, or += when accumulate) one A panel times one B panel of depth k. */
#define RPELAB_MR 6
#define RPELAB_NR 16
#define RPELAB_KC 256
size_t rpelab_packed_a_size(int64_t m, int64_t k);
void rpelab_pack_a_all(int64_t m, int64_t k, const float *a, int64_t rs, int64_t cs, float *out);
void rpelab_pack_b_block(int64_t k, int64_t n, const float *b, int64_t rs, int64_t cs, float *out);
void rpelab_sgemm_tile(int64_t k, const float *a, const float *b, float *c, int64_t ldc, int64_t mr, int64_t nr, int accumulate);
#endif
