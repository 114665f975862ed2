/* Box copies between row-major arrays (see copy_box.h). */
#include <string.h>
#include "copy_box.h"

void rpelab_copy_box(int rank, const int64_t *box, const char *src, const int64_t *src_shape, const int64_t *src_begin, char *dst,
                     const int64_t *dst_shape, const int64_t *dst_begin, int64_t elem) {
  int64_t ss[8], ds[8]; /* strides in elements */
  for (int i = rank - 1, s = 1, d = 1; i >= 0; i--) {
    ss[i] = s;
    ds[i] = d;
    s *= src_shape[i];
    d *= dst_shape[i];
  }
  for (int i = 0; i < rank; i++)
    if (box[i] == 0) return;
  /* Trailing axes whole in both arrays merge with the last cut axis into one contiguous run. */
  int axis = rank - 1;
  int64_t run = 1;
  while (axis >= 0 && box[axis] == src_shape[axis] && box[axis] == dst_shape[axis]) run *= box[axis--];
  if (axis < 0) {
    memcpy(dst, src, (size_t)(run * elem));
    return;
  }
  run *= box[axis];
  int64_t so = 0, dO = 0;
  for (int i = 0; i <= axis; i++) {
    so += src_begin[i] * ss[i];
    dO += dst_begin[i] * ds[i];
  }
  int64_t idx[8] = {0}, count = 1;
  for (int i = 0; i < axis; i++) count *= box[i];
  const size_t bytes = (size_t)(run * elem);
  for (int64_t n = 0; n < count; n++) {
    memcpy(dst + dO * elem, src + so * elem, bytes);
    for (int j = axis - 1; j >= 0; j--) {
      so += ss[j];
      dO += ds[j];
      if (++idx[j] < box[j]) break;
      so -= box[j] * ss[j];
      dO -= box[j] * ds[j];
      idx[j] = 0;
    }
  }
}
