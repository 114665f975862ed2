#ifndef RPELAB_TRANSPOSE_H
#define RPELAB_TRANSPOSE_H
#include <stdint.h>
/* dst = src with its axes permuted (src/backend/fast-kernels.ts, the Transpose kernel): for src of
   `shape` [rank] (row-major, 4-byte elements), dst has shape [shape[perm[0]], ..., shape[perm[rank−1]]]
   and dst[i_0, ..., i_{rank−1}] = src[j] with j_{perm[k]} = i_k. rank <= 8; perm a permutation. */
void rpelab_transpose(int rank, const int64_t *shape, const int *perm, const uint32_t *src, uint32_t *dst);
#endif
