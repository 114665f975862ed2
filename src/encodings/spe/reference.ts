/**
 * The plain formula of the SPE filter (SPE paper, Liutkus et al. 2021, Section 2): what a reader
 * reads first and what the tests compare the fast paths against.
 *
 *   q̂[b, s, h, r] = Σ_d q[b, s, h, d] · Q̄[s, h, d, r],   k̂[b, t, h, r] = Σ_d k[b, t, h, d] · K̄[t, h, d, r]
 *
 * so that E[q̂_s · k̂_t] = Σ_d q_sd k_td P_d(s − t) over the codes' randomness. The code is
 * broadcast over the batch and materialised times every query ([B, ...positions, H, D, R]);
 * `SPEFilter.apply` computes the same sum as one batched matrix product per position and head.
 */
import { tf } from '../../backend';

/**
 * Projects queries (or keys) on a code by the literal broadcast-multiply-and-sum.
 * @param x queries or keys [B, ...positions, H, D].
 * @param code Q̄ or K̄ [1, ...positions, H, D, R] (exactly the positions of x).
 * @returns [B, ...positions, H, R].
 */
export function projectOnCodeReference(x: tf.Tensor, code: tf.Tensor): tf.Tensor {
  return tf.tidy(() => code.mul(x.expandDims(-1)).sum(-2));
}
