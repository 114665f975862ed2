#ifndef RPELAB_FLASH_H
#define RPELAB_FLASH_H
#include <stdint.h>
/* Softmax attention in O(L) memory (FlashAttention, the loop order of FlashAttention-2), see flash.c.
   q [B, Lq, H, D], k [B, Lk, H, D], v [B, Lk, H, Dv], o [B, Lq, H, Dv], lse [B, H, Lq]: the query at row i
   sits at position offset + i, key t at t; causal: it sees keys t <= offset + i (offset >= 0, so every
   query sees key 0). Logits scale · q·k. */
typedef struct {
  int64_t B, Lq, Lk, H, D, Dv, offset;
  float scale;
  int causal;
} RpelabFlash;
/* 1 where the addon was built with OpenBLAS (these kernels need its strided products), else 0. */
int rpelab_flash_available(void);
/* o and the log-sum-exp of each query's logits. 0, -1 when out of memory, -2 without OpenBLAS. */
int rpelab_flash_forward(const RpelabFlash *a, const float *q, const float *k, const float *v, float *o, float *lse, int threads);
/* dq, dk, dv from dout, recomputing each block's probabilities from lse. Same return codes. */
int rpelab_flash_backward(const RpelabFlash *a, const float *q, const float *k, const float *v, const float *o, const float *lse, const float *dout,
                          float *dq, float *dk, float *dv, int threads);
#endif
