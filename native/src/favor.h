#ifndef RPELAB_FAVOR_H
#define RPELAB_FAVOR_H
#include <stdint.h>
/* FAVOR+'s positive features from their projections (src/attention/favor-kernels.ts): for rows
   x [n, d] (already scaled by d^(-1/4)) and wx = x W [n, m],
     h = ½ Σ_i x_i²,  e_j = exp(wx_j − h),  φ_j = (e_j + s)·c          (phi [n, m])
   and from dφ [n, m], with g_j = dφ_j·c·e_j (e recomputed):
     dwx_j = g_j,  dx_i = −(Σ_j g_j)·x_i                               (dwx [n, m], dx [n, d]).
   exp is vec.h's polynomial (relative error ~1e-7; below −87.3 it gives ~1e-38, not 0). Rows split
   between threads. */
void rpelab_favor_features(int64_t n, int64_t d, int64_t m, const float *x, const float *wx, float s, float c, float *phi, int threads);
void rpelab_favor_features_grad(int64_t n, int64_t d, int64_t m, const float *x, const float *wx, const float *dphi, float c, float *dwx, float *dx,
                                int threads);
#endif
