/**
 * The plain formula of LRPE (LRPE paper, Qin et al. 2023, §3: the canonical form
 * a_st = q_s^H W_{t−s} k_t with W_{t−s} = M_s^H M_t): each token is multiplied by its own matrix
 * M_s = Λ^(s) P, written out entry by entry. What a reader reads first and what the tests
 * compare `Lrpe`'s composed and fused paths against (`lrpe.ts`, `./kernels.ts`); O(L·D²) work
 * and memory, 1-D positions only.
 *
 * Λ^(s) per core (the conventions of `./core.ts` and `./permutation.ts`):
 * - rotation / mixed: identity but for the 2 x 2 blocks of the interleaved pairs (2k, 2k + 1),
 *   k < e/2, [[cos sθ_k, −sin sθ_k], [sin sθ_k, cos sθ_k]];
 * - permutation: Π^s, (Π x)_j = x_{π(j)};
 * - unitary: diag(e^{i s θ}) as the real 2D x D matrix [diag(cos sθ); diag(sin sθ)], so that
 *   M_s^T M_t is the real part of the Hermitian product.
 */
import { tf } from '../../backend';
import { rotatedDims, type LrpeCore } from './core';

/**
 * Λ^(s) as a dense matrix, [outDim][d] (outDim = 2d for 'unitary', d otherwise).
 * @param thetas θ (rotation-type cores; ignored for permutation). @param pi π (permutation only).
 */
export function coreMatrix(core: LrpeCore, d: number, s: number, thetas: ArrayLike<number>, pi: ArrayLike<number> | null): number[][] {
  const zeros = (rows: number) => Array.from({ length: rows }, () => new Array<number>(d).fill(0));
  if (core === 'unitary') {
    const m = zeros(2 * d);
    for (let k = 0; k < d; k++) {
      m[k][k] = Math.cos(s * thetas[k]);
      m[d + k][k] = Math.sin(s * thetas[k]);
    }
    return m;
  }
  const m = zeros(d);
  if (core === 'permutation') {
    if (pi === null) throw new Error('pi: the permutation core needs π');
    let idx = Array.from({ length: d }, (_, j) => j); // idx_s: y_j = x[idx_s[j]]
    for (let step = 0; step < s; step++) idx = idx.map((_, j) => idx[pi[j]]);
    for (let j = 0; j < d; j++) m[j][idx[j]] = 1;
    return m;
  }
  for (let j = 0; j < d; j++) m[j][j] = 1;
  for (let k = 0; k < rotatedDims(core, d) / 2; k++) {
    const [c, sn] = [Math.cos(s * thetas[k]), Math.sin(s * thetas[k])];
    m[2 * k][2 * k] = c;
    m[2 * k][2 * k + 1] = -sn;
    m[2 * k + 1][2 * k] = sn;
    m[2 * k + 1][2 * k + 1] = c;
  }
  return m;
}

/** What the formula needs of an LRPE instance (`Lrpe` provides it). */
export interface LrpeParts {
  core: LrpeCore;
  headDim: number;
  /** θ [channels] (empty for the permutation core). */
  thetas(): Float32Array;
  /** P [headDim, headDim]; the caller disposes it. */
  pMatrix(): tf.Tensor2D;
  /** π (permutation core), else null. */
  permutation(): Int32Array | null;
}

/** M_s = Λ^(s) P for s = offset .. offset + length − 1: [length, outDim, headDim]. */
export function lrpeMatrices(lrpe: LrpeParts, length: number, offset = 0): tf.Tensor3D {
  const d = lrpe.headDim;
  const pT = lrpe.pMatrix();
  const p = pT.arraySync();
  pT.dispose();
  const thetas = lrpe.thetas();
  const pi = lrpe.permutation();
  const out: number[][][] = [];
  for (let l = 0; l < length; l++) {
    const lam = coreMatrix(lrpe.core, d, offset + l, thetas, pi);
    out.push(lam.map((row) => Array.from({ length: d }, (_, j) => row.reduce((acc, v, i) => acc + v * p[i][j], 0))));
  }
  return tf.tensor3d(out, [length, out[0].length, d]);
}

/**
 * x̃_s = M_s x_s for every token, by the matrices of `lrpeMatrices`.
 * @param x [batch, length, heads, headDim], token l at position offset + l.
 * @returns [batch, length, heads, outDim].
 */
export function lrpeReference(x: tf.Tensor4D, lrpe: LrpeParts, offset = 0): tf.Tensor4D {
  const [B, L, H, D] = x.shape;
  const m = lrpeMatrices(lrpe, L, offset);
  const y = tf.tidy(() => {
    const rows = x.transpose([1, 0, 2, 3]).reshape([L, B * H, D]) as tf.Tensor3D;
    const out = tf.matMul(rows, m, false, true); // [L, B·H, outDim]
    return out.reshape([L, B, H, -1]).transpose([1, 0, 2, 3]) as tf.Tensor4D;
  });
  m.dispose();
  return y;
}
