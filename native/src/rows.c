/* Row gathers and scatter-adds (see rows.h). */
#include <string.h>
#include "rows.h"

void rpelab_gather_rows(int64_t outer, int64_t dim, int64_t inner, const char *src, int64_t n, const int32_t *ids, char *dst) {
  if (inner == 1) {
    /* single elements (a permutation of the last axis): plain 4-byte moves, not a memcpy call each */
    const uint32_t *s = (const uint32_t *)src;
    uint32_t *d = (uint32_t *)dst;
    for (int64_t o = 0; o < outer; o++, s += dim)
      for (int64_t i = 0; i < n; i++) *d++ = s[ids[i]];
    return;
  }
  const size_t row = (size_t)inner * 4;
  for (int64_t o = 0; o < outer; o++) {
    const char *base = src + (size_t)(o * dim) * row;
    for (int64_t i = 0; i < n; i++, dst += row) memcpy(dst, base + (size_t)ids[i] * row, row);
  }
}

void rpelab_scatter_add_rows(int64_t n, int64_t w, const float *x, const int32_t *ids, int64_t segments, float *out) {
  memset(out, 0, sizeof(float) * (size_t)(segments * w));
  for (int64_t i = 0; i < n; i++) {
    const int64_t s = ids[i];
    if (s < 0 || s >= segments) continue;
    float *restrict o = out + s * w;
    const float *restrict r = x + i * w;
    for (int64_t j = 0; j < w; j++) o[j] += r[j];
  }
}
