#ifndef RPELAB_ADAM_H
#define RPELAB_ADAM_H
#include <stdint.h>
/* One Adam(W) update of n parameters (src/train/adam-kernels.ts), in float32 in the order of the
   tf-op form of src/train/optim.ts, so that both give the same bits:
     m' = m·b1 + g·c1,  v' = v·b2 + (g·g)·c2,  p' = p·keep − m' / (√v' / bc2 + eps) · step. */
void rpelab_adam_step(int64_t n, const float *p, const float *m, const float *v, const float *g, float b1, float c1, float b2, float c2, float keep,
                      float bc2, float eps, float step, float *p_out, float *m_out, float *v_out);
#endif
