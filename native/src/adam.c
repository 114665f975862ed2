/* Adam(W) update of one parameter tensor (see adam.h). */
#include <math.h>
#include "adam.h"
#include "vec.h"

void rpelab_adam_step(int64_t n, const float *p, const float *m, const float *v, const float *g, float b1, float c1, float b2, float c2, float keep,
                      float bc2, float eps, float step, float *p_out, float *m_out, float *v_out) {
  /* Eight at a time (libm's sqrtf may set errno, which keeps the compiler from vectorizing the
     loop below); the same operations per element, each rounded once, so the same bits. Element i
     is read before it is written: the outputs may be the inputs. */
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const v8 gi = load8(g + i);
    const v8 mi = load8(m + i) * bcast8(b1) + gi * bcast8(c1);
    const v8 vi = load8(v + i) * bcast8(b2) + (gi * gi) * bcast8(c2);
    const v8 u = mi / (sqrt8(vi) / bcast8(bc2) + bcast8(eps)) * bcast8(step);
    store8(p_out + i, load8(p + i) * bcast8(keep) - u);
    store8(m_out + i, mi);
    store8(v_out + i, vi);
  }
  for (; i < n; i++) {
    const float mi = m[i] * b1 + g[i] * c1;
    const float vi = v[i] * b2 + (g[i] * g[i]) * c2;
    const float u = mi / (sqrtf(vi) / bc2 + eps) * step;
    p_out[i] = p[i] * keep - u;
    m_out[i] = mi;
    v_out[i] = vi;
  }
}
