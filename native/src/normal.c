/* Standard normal draws, the same stream as Rng.fillNormal (src/backend/rng.ts). The arithmetic is
   the JavaScript's, in double; only log, cos and sin come from the C library rather than V8's, which
   may differ in the last bits of a double and so, very rarely, in the float32 stored. Where the
   build found glibc's vector math library (RPELAB_MVEC, AVX2), they are its four-wide log, cos and
   sin (a few ulp of a double from the exact value; none of 50 M float32 draws differed from the
   scalar loop's), on blocks of four pairs whose uniforms are drawn first, in the stream's order; the
   scalar loop below does the rest. */
#include <math.h>
#include "normal.h"
#if defined(RPELAB_MVEC) && defined(__AVX2__)
#include <immintrin.h>
/* glibc's libmvec (x86_64 vector ABI: 'd' = AVX2, 4 lanes, one vector argument). */
__m256d _ZGVdN4v_log(__m256d x);
__m256d _ZGVdN4v_cos(__m256d x);
__m256d _ZGVdN4v_sin(__m256d x);
#endif

static inline uint32_t next(uint32_t *s) {
  const uint32_t m = s[1] * 5u;
  const uint32_t x = ((m << 7) | (m >> 25)) * 9u;
  const uint32_t t = s[1] << 9;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = (s[3] << 11) | (s[3] >> 21);
  return x;
}

/* One pair's uniforms: u (redrawn while its draw is 0), then v. */
static inline void uniforms(uint32_t *s, double *u, double *v) {
  uint32_t x;
  do x = next(s); while (x == 0);
  *u = x / 4294967296.0;
  *v = next(s) / 4294967296.0;
}

void rpelab_normal_pairs(uint32_t *st, int64_t pairs, float *out) {
  uint32_t s[4] = {st[0], st[1], st[2], st[3]};
  int64_t i = 0;
#if defined(RPELAB_MVEC) && defined(__AVX2__)
  for (; i + 4 <= pairs; i += 4) {
    double u[4], v[4];
    for (int j = 0; j < 4; j++) uniforms(s, &u[j], &v[j]);
    /* r = sqrt(-2 * log(u)), a = (2 * PI) * v: the same operations in the same order as below */
    const __m256d r = _mm256_sqrt_pd(_mm256_mul_pd(_mm256_set1_pd(-2.0), _ZGVdN4v_log(_mm256_loadu_pd(u))));
    const __m256d a = _mm256_mul_pd(_mm256_set1_pd(2 * 3.141592653589793), _mm256_loadu_pd(v));
    const __m128 c = _mm256_cvtpd_ps(_mm256_mul_pd(r, _ZGVdN4v_cos(a)));
    const __m128 sn = _mm256_cvtpd_ps(_mm256_mul_pd(r, _ZGVdN4v_sin(a)));
    /* interleave: out[2j] = c[j], out[2j + 1] = sn[j] */
    _mm_storeu_ps(out + 2 * i, _mm_unpacklo_ps(c, sn));
    _mm_storeu_ps(out + 2 * i + 4, _mm_unpackhi_ps(c, sn));
  }
#endif
  for (; i < pairs; i++) {
    double u, v;
    uniforms(s, &u, &v);
    const double r = sqrt(-2 * log(u));
    const double a = 2 * 3.141592653589793 * v; /* 2 * Math.PI * v */
    out[2 * i] = (float)(r * cos(a));
    out[2 * i + 1] = (float)(r * sin(a));
  }
  for (int k = 0; k < 4; k++) st[k] = s[k];
}
