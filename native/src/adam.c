/* Adam(W) update of one parameter tensor (see adam.h). */
#include <math.h>
#include "adam.h"

void rpelab_adam_step(int64_t n, const float *p, const float *m, const float *v, const float *g, float b1, float c1, float b2, float c2, float keep,
                      float bc2, float eps, float step, float *p_out, float *m_out, float *v_out) {
  for (int64_t i = 0; i < n; i++) {
    const float mi = m[i] * b1 + g[i] * c1;
    const float vi = v[i] * b2 + (g[i] * g[i]) * c2;
    const float u = mi / (sqrtf(vi) / bc2 + eps) * step;
    p_out[i] = p[i] * keep - u;
    m_out[i] = mi;
    v_out[i] = vi;
  }
}
