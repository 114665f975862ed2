#ifndef RPELAB_VEC_H
#define RPELAB_VEC_H
/*
 * Small vector helpers shared by the kernels: eight floats as one GCC/Clang vector (AVX registers
 * where -march has them, two SSE registers otherwise), unaligned loads and stores, and a
 * branch-free exp the compiler vectorizes.
 */
#include <stdint.h>
#include <string.h>

typedef float v8 __attribute__((vector_size(32)));

static inline v8 load8(const float *p) {
  v8 x;
  memcpy(&x, p, sizeof x);
  return x;
}

static inline void store8(float *p, v8 x) { memcpy(p, &x, sizeof x); }

/* Eight copies of x. */
static inline v8 bcast8(float x) { return (v8){x, x, x, x, x, x, x, x}; }

/*
 * a·b + c in one rounding where the build has FMA (else a·b, then + c). The build turns the
 * compiler's own contraction off (kernels that promise the bits of a JavaScript or tf-op form rely
 * on it); kernels whose inner loop is a chain of multiply-adds ask for it here.
 */
static inline v8 fma8(v8 a, v8 b, v8 c) {
#if defined(__FMA__)
  return __builtin_ia32_vfmaddps256(a, b, c);
#else
  return a * b + c;
#endif
}

/* The correctly rounded square root of each lane (as sqrtf; one instruction where the build has AVX). */
static inline v8 sqrt8(v8 x) {
#if defined(__AVX__)
  return __builtin_ia32_sqrtps256(x);
#else
  v8 y;
  for (int i = 0; i < 8; i++) y[i] = __builtin_sqrtf(x[i]);
  return y;
#endif
}

/* The sum of the eight lanes, in double. */
static inline double sum8(v8 x) {
  double s = 0;
  for (int i = 0; i < 8; i++) s += x[i];
  return s;
}

/*
 * y[i] = exp(x[i] − shift) for i < n, branch-free so that the compiler vectorizes it (libm's expf
 * is a call per element): x = k·ln 2 + r with k = round(x / ln 2) (the 1.5·2^23 rounding trick;
 * ln 2 split in two for an exact r), e^r by Cephes's degree-7 polynomial on |r| ≤ ln 2 / 2
 * (relative error about 1e-7), 2^k from the exponent bits. Arguments below −87.3 (masked logits
 * included) give about 1e-38 instead of 0; callers that need 0 there zero those entries themselves.
 * y may be x.
 */
static inline void exp_shifted(float *y, const float *x, float shift, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float t = x[i] - shift;
    t = t < -87.3f ? -87.3f : t > 88.f ? 88.f : t;
    const float k = (t * 1.44269504088896341f + 12582912.f) - 12582912.f;
    const float r = (t - k * 0.693359375f) - k * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.f;
    const int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    y[i] = p * scale;
  }
}

/* y[i] = φ(x[i]) = elu(x[i]) + 1 for i < n: x + 1 for x > 0, else exp(x) by `exp_shifted`, 64 values
   at a time. y may be x. */
static inline void elu_plus_one(float *y, const float *x, int64_t n) {
  float e[64];
  for (int64_t i0 = 0; i0 < n; i0 += 64) {
    const int64_t m = n - i0 < 64 ? n - i0 : 64;
    exp_shifted(e, x + i0, 0.0f, m);
    for (int64_t i = 0; i < m; i++) y[i0 + i] = x[i0 + i] > 0 ? x[i0 + i] + 1.0f : e[i];
  }
}
#endif
