#ifndef RPELAB_LINEAR_SCAN_H
#define RPELAB_LINEAR_SCAN_H
#include <stdint.h>
/* Linear attention as recurrences over positions (see linear_scan.c): q, k [B, L, H, F] (features,
   or raw with phi = 1: the kernel applies φ(x) = elu(x) + 1 itself, and then LRPE's map with map),
   v [B, L, H, E], o [B, L, H, E],
   den [B, L, H]. With w_st = r_h^|s−t| over
   t <= s (causal) or every t (bidirectional):
     num_s = Σ_t w_st (q_s·k_t) v_t,  den_s = Σ_t w_st (q_s·k_t),
     o_s = num_s / max(den_s, eps)  (normalize), or num_s (no normalize; den is not written). */
typedef struct {
  int64_t B, L, H, F, E;
  const float *decay; /* [H] rates in (0, 1], or NULL for none */
  int causal, normalize;
  int phi; /* 0: q, k are the features; 1: the features are elu(q) + 1, elu(k) + 1 */
  float eps;
  /* LRPE's map on the features as they are gathered (lrpe.h, fixed P and tables): 0 none, 1 'pairs',
     2 'unitary' (features 2F). The rows at position l are mapped with the table rows C, S [L, W] l;
     u [F] is the Householder unit or NULL. q, k stay [B, L, H, F]; dq, dk are for them. */
  int map;
  int64_t map_W;
  const float *map_u, *map_C, *map_S;
  /* A fixed P as a dense matrix [F, F] instead of u (NULL: none): the rows are first multiplied by it
     from the right, z = x · map_P (so P = map_Pᵀ; for LRPE's permutation core map_P = Pᵀ Bᵀ, its turn
     then read in the basis B), on the job's thread with the BLAS. */
  const float *map_P;
  /* 1: q, k, v (and dq, dk, dv) are the parts of one [B, L, 3, H, F] array (E = F; the pointers
     are to each part's first row, H·F floats apart), as a fused q/k/v projection leaves them. */
  int packed;
} RpelabLinearScan;
/* o (and den when normalize). 0, or -1 when out of memory. */
int rpelab_linear_scan_forward(const RpelabLinearScan *a, const float *q, const float *k, const float *v, float *o, float *den, int threads);
/* dq, dk, dv from dout, given the forward's o and den. Same return codes. */
int rpelab_linear_scan_backward(const RpelabLinearScan *a, const float *q, const float *k, const float *v, const float *o, const float *den,
                                const float *dout, float *dq, float *dk, float *dv, int threads);
#endif
