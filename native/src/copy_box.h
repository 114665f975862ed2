#ifndef RPELAB_COPY_BOX_H
#define RPELAB_COPY_BOX_H
#include <stdint.h>
/* Copies the box `box` [rank] of elements of `elem` bytes from src (row-major, shape src_shape,
   the box starting at src_begin) to dst (shape dst_shape, starting at dst_begin): slices, splits,
   concatenations and stacks (src/backend/fast-kernels.ts). One memcpy per contiguous run. rank <= 8. */
void rpelab_copy_box(int rank, const int64_t *box, const char *src, const int64_t *src_shape, const int64_t *src_begin, char *dst,
                     const int64_t *dst_shape, const int64_t *dst_begin, int64_t elem);
#endif
