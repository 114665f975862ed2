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
/* The map of n consecutive rows x [n, D], row i with the table rows C, S [n, W] i, into y [n, 2D or D]:
   for kernels that map the rows of one sequence as they gather them (linear_scan.c). */
void rpelab_lrpe_rows(int64_t n, const float *x, const float *u, const float *C, const float *S, int64_t D, int64_t W, int unitary, float *y);
/* Its transpose on the rows' gradients g [n, 2D or D]: dx [n, D], row i = P Λᵢᵀ g_i (P is symmetric).
   dx may be g (rows are read before they are written, and row i of dx ends before row i + 1 of g starts). */
void rpelab_lrpe_rows_back(int64_t n, const float *g, const float *u, const float *C, const float *S, int64_t D, int64_t W, int unitary, float *dx);
#endif
