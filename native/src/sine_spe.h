#ifndef RPELAB_SINE_SPE_H
#define RPELAB_SINE_SPE_H
#include <stdint.h>
/* The sineSPE feature path (src/encodings/spe/sine-kernels.ts and project.ts): for head h and
   x [B, L, H, D], the features (the sinusoids from position offset + m)
     F[b·L + m, 2(dK + k) + c] = a[h,d,k] · x[b,m,h,d] · trig_c(ω[h,d,k]·(offset + m) + θ[h,d,k])
     F[b·L + m, 2KD + d]       = s[h,d] · x[b,m,h,d]                              (gated)
   with J = 2KD (+ D) columns. omega, theta, amp [H, D, K]; gate [H, D] or NULL. */
typedef struct {
  int64_t B, L, H, D, K, offset;
  const float *omega, *theta, *amp, *gate;
} RpelabSine;

/* The fused projection of every head and both sides, F never in memory:
     out[0, b, m, h, :] = F_h(xq, θ) [b·L + m, :] · Z[h],  out[1, ...] = F_h(xk, θ = 0) · Z[h]
   with z [H, J, R]; out [2, B, L, H, R]. shared: 1 builds each position's code once for the whole
   batch (rpelab's default from B = 3 on: nativeSharesCode), 0 projects each sequence's features; the same numbers up to
   float rounding. Returns 0, or -1 when out of memory. */
int rpelab_sine_project(const RpelabSine *a, const float *xq, const float *xk, const float *z, int64_t R, float *out, int shared, int threads);
/* Its gradient from dy [2, B, L, H, R]: dxq, dxk [B, L, H, D]; dOmega, dAmp [H, D, K] and dGate [H, D]
   (NULL when ungated) summed over both sides, dTheta [H, D, K] from the queries. */
int rpelab_sine_project_grad(const RpelabSine *a, const float *xq, const float *xk, const float *z, int64_t R, const float *dy,
                             float *dxq, float *dxk, float *dOmega, float *dTheta, float *dAmp, float *dGate, int shared, int threads);
#endif
