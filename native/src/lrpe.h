#ifndef RPELAB_LRPE_H
#define RPELAB_LRPE_H
#include <stdint.h>
/* The fused LRPE map of src/encodings/lrpe/kernels.ts on x [B, L, H, D] with tables C, S [L, W]:
   y = Λ P x, P the Householder reflection of u (none when u is NULL), Λ the pair turn
   ('pairs', W even <= D) or [z ⊙ C, z ⊙ S] ('unitary', W = D, y [B, L, H, 2D]); with phi, the
   map of φ(x) = elu(x) + 1 instead (the feature map fused in; the gradient is still ∂/∂x). */
typedef struct {
  int64_t B, L, H, D, W;
  int unitary, phi;
  const float *x, *u, *C, *S;
} RpelabLrpe;
/* Returns 0, or -1 when out of memory. */
int rpelab_lrpe_map(const RpelabLrpe *a, float *y, int threads);
/* Its gradient from dy: dx, and when not NULL the table gradients dC, dS [L, W] and du [D].
   Returns 0, or -1 when out of memory. */
int rpelab_lrpe_map_grad(const RpelabLrpe *a, const float *dy, float *dx, float *dC, float *dS, float *du, int threads);
#endif
