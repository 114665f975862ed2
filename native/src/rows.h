#ifndef RPELAB_ROWS_H
#define RPELAB_ROWS_H
#include <stdint.h>
/* Row gathers and scatter-adds (src/backend/fast-kernels.ts: GatherV2, UnsortedSegmentSum).
   Ids are checked by the caller. */

/* dst[o, i, :] = src[o, ids[i], :] for src [outer, dim, inner] and dst [outer, n, inner], elements of 4 bytes. */
void rpelab_gather_rows(int64_t outer, int64_t dim, int64_t inner, const char *src, int64_t n, const int32_t *ids, char *dst);

/* out[s, :] = Σ_{i: ids[i] = s} x[i, :] for x [n, w] and out [segments, w], zeroed first; ids outside
   [0, segments) are dropped. Rows are added in input order (the bits of the JavaScript loop). */
void rpelab_scatter_add_rows(int64_t n, int64_t w, const float *x, const int32_t *ids, int64_t segments, float *out);
#endif
