#ifndef RPELAB_SOFTMAX_NLL_H
#define RPELAB_SOFTMAX_NLL_H
#include <stdint.h>
/* Softmax cross-entropy per row of z [n, v] with class ids t [n] (src/nn/cross-entropy-kernels.ts):
   lse = log Σ exp(z) (shifted by the row max; exp by vec.h's polynomial, eight float partial sums added in float64),
   nll = lse − z[t]; a t outside [0, v) gives nll 0. 0, or -1 when out of memory. */
int rpelab_softmax_nll(int64_t n, int64_t v, const float *z, const float *t, float *nll, float *lse, int threads);
/* Its gradient from dnll [n]: dz = (exp(z − lse) − onehot(t)) · dnll (0 for a t outside [0, v)). */
int rpelab_softmax_nll_grad(int64_t n, int64_t v, const float *dnll, const float *z, const float *t, const float *lse, float *dz, int threads);
#endif
