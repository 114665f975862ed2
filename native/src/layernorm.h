#ifndef RPELAB_LAYERNORM_H
#define RPELAB_LAYERNORM_H
#include <stdint.h>
/* Layer normalisation over the last axis of x [n, f] (src/nn/layernorm-kernels.ts):
   y = γ ⊙ (x − μ)·r + β with μ the row mean and r = 1/√(var + eps) (biased variance);
   also writes μ and r [n] for the gradient. */
void rpelab_layernorm(int64_t n, int64_t f, const float *x, const float *gamma, const float *beta, float eps,
                      float *y, float *mean, float *rstd, int threads);
/* Its gradient from dy [n, f]: dx [n, f], dgamma and dbeta [f]. Returns 0, or -1 when out of memory. */
int rpelab_layernorm_grad(int64_t n, int64_t f, const float *dy, const float *x, const float *mean, const float *rstd,
                          const float *gamma, float *dx, float *dgamma, float *dbeta, int threads);
#endif
