#ifndef RPELAB_TRIG_H
#define RPELAB_TRIG_H
#include <stdint.h>
/* c[i] = cos x[i], s[i] = sin x[i] for i < n, in float32 (cosf, sinf). */
void rpelab_sin_cos(int64_t n, const float *x, float *c, float *s, int threads);
#endif
