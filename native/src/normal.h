#ifndef RPELAB_NORMAL_H
#define RPELAB_NORMAL_H
#include <stdint.h>
/* `pairs` Box–Muller pairs from rpelab's xoshiro128** state s[4] (updated in place), written as
   out[2i] = r·cos(2πv), out[2i+1] = r·sin(2πv), r = √(−2 ln u): the draws of src/backend/rng.ts
   (u redrawn while 0, then v; both uint32 / 2^32), computed in double and stored as float32. */
void rpelab_normal_pairs(uint32_t *s, int64_t pairs, float *out);
#endif
