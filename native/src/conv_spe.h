#ifndef RPELAB_CONV_SPE_H
#define RPELAB_CONV_SPE_H
#include <stdint.h>
/* convSPE's code in the layout the SPE filter reads (src/encodings/spe/conv-kernels.ts), for noise
   z [C, T, R] and filters f [C, P] (S = T − P + 1 outputs):
     y[m, c, r] = Σ_{j<P} f[c, j] · z[c, m + j, r]                     (j ascending)
     df[c, j]   = Σ_r ( Σ_{m<S} dy[m, c, r] · z[c, m + j, r] )         (m ascending per r, then r ascending) */
void rpelab_conv_code(int64_t T, int64_t C, int64_t R, int64_t P, const float *z, const float *f, float *y, int threads);
/* Returns 0, or −1 when out of memory. */
int rpelab_conv_code_filter_grad(int64_t T, int64_t C, int64_t R, int64_t P, const float *z, const float *dy, float *df, int threads);
#endif
