/*
 * Axis permutation of 4-byte elements (see transpose.h). Output axes that stay neighbours in the
 * input merge first. When the last axis stays last, every output row is one contiguous input run
 * (a memcpy each); otherwise the two axes that are contiguous on either side (the input's last,
 * the output's last) are copied in tiles of 16 × 16, reading along one and writing along the other
 * within the first-level cache, for every index of the remaining axes.
 */
#include <string.h>
#include "transpose.h"

#define TILE 16

void rpelab_transpose(int rank, const int64_t *shape, const int *perm, const uint32_t *src, uint32_t *dst) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= shape[i];
  if (n == 0) return;
  /* Merge: output axes k, k+1 with perm[k+1] = perm[k] + 1 are one axis of the input too. */
  int64_t ms[8]; /* merged input shape (in input order) */
  int mp[8], r = 0;           /* merged perm */
  int group[8];               /* input axis -> merged output position of its group's head, or -1 */
  for (int i = 0; i < rank; i++) group[i] = -1;
  for (int k = 0; k < rank; k++) {
    if (k > 0 && perm[k] == perm[k - 1] + 1) continue;
    group[perm[k]] = r++;
  }
  /* merged input axes in input order: walk the input axes, starting a new one at each group head */
  int in_r = 0, out_of[8];
  for (int i = 0; i < rank; i++) {
    if (group[i] >= 0) {
      out_of[in_r] = group[i];
      ms[in_r++] = shape[i];
    } else {
      ms[in_r - 1] *= shape[i];
    }
  }
  for (int a = 0; a < r; a++) mp[out_of[a]] = a;
  if (r == 1) {
    memcpy(dst, src, sizeof(uint32_t) * (size_t)n);
    return;
  }
  int64_t is[8], os[8], oshape[8];
  for (int a = r - 1, s = 1; a >= 0; a--) {
    is[a] = s;
    s *= ms[a];
  }
  for (int k = 0; k < r; k++) oshape[k] = ms[mp[k]];
  for (int k = r - 1, s = 1; k >= 0; k--) {
    os[k] = s;
    s *= oshape[k];
  }
  /* input stride of each output axis */
  int64_t st[8];
  for (int k = 0; k < r; k++) st[k] = is[mp[k]];
  const int last = r - 1;
  int qa = 0; /* the output axis that is the input's last */
  for (int k = 0; k < r; k++)
    if (mp[k] == r - 1) qa = k;
  /* odometer over the output axes other than qa and last */
  int64_t idx[8] = {0};
  const int64_t A = oshape[qa], Bn = oshape[last], sa = os[qa], sb = st[last];
  for (;;) {
    int64_t so = 0, dO = 0;
    for (int k = 0; k < r; k++)
      if (k != qa && k != last) {
        so += idx[k] * st[k];
        dO += idx[k] * os[k];
      }
    if (qa == last) {
      /* the last axis stays last: one contiguous run */
      memcpy(dst + dO, src + so, sizeof(uint32_t) * (size_t)Bn);
    } else {
      /* a 2-D block: dst[dO + y·sa + x] = src[so + x·sb + y] for y < A (contiguous in src), x < Bn (contiguous in dst) */
      for (int64_t y0 = 0; y0 < A; y0 += TILE) {
        const int64_t y1 = y0 + TILE < A ? y0 + TILE : A;
        for (int64_t x0 = 0; x0 < Bn; x0 += TILE) {
          const int64_t x1 = x0 + TILE < Bn ? x0 + TILE : Bn;
          for (int64_t y = y0; y < y1; y++) {
            uint32_t *d = dst + dO + y * sa;
            const uint32_t *s = src + so + y;
            for (int64_t x = x0; x < x1; x++) d[x] = s[x * sb];
          }
        }
      }
    }
    int k = last - 1;
    for (; k >= 0; k--) {
      if (k == qa) continue;
      if (++idx[k] < oshape[k]) break;
      idx[k] = 0;
    }
    if (k < 0) break;
  }
}
