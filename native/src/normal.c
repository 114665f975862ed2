/* Standard normal draws, the same stream as Rng.fillNormal (src/backend/rng.ts). The arithmetic is
   the JavaScript's, in double; only log, cos and sin come from the C library rather than V8's, which
   may differ in the last bit of a double and so, very rarely, in the float32 stored. */
#include <math.h>
#include "normal.h"

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

void rpelab_normal_pairs(uint32_t *st, int64_t pairs, float *out) {
  uint32_t s[4] = {st[0], st[1], st[2], st[3]};
  for (int64_t i = 0; i < pairs; i++) {
    uint32_t x;
    do x = next(s); while (x == 0);
    const double u = x / 4294967296.0;
    const double v = next(s) / 4294967296.0;
    const double r = sqrt(-2 * log(u));
    const double a = 2 * 3.141592653589793 * v; /* 2 * Math.PI * v */
    out[2 * i] = (float)(r * cos(a));
    out[2 * i + 1] = (float)(r * sin(a));
  }
  for (int k = 0; k < 4; k++) st[k] = s[k];
}
