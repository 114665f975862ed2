/**
 * The basis change P of LRPE, M_s = Λ^(s) P (LRPE paper, Qin et al. 2023): one orthogonal
 * D x D matrix per layer, shared by every head and every position, applied to
 * the feature-mapped query/key before the position-dependent core Λ^(s).
 *
 * Kinds (the paper code's `p_matrix` numbers in brackets):
 * - 'identity' [1]: P = I.
 * - 'householder' [3]: P = I − 2 v v^T with a random unit v ~ N(0, I)/‖·‖, drawn once and frozen.
 * - 'householder-learned' [3, `householder_learned`]: v is a parameter initialised N(0, I),
 *   used as v / (‖v‖ + 1e−6) in every forward pass.
 * - 'dct' [2]: the orthonormal DCT-II matrix C.
 * - 'odd-even' [5]: the riffle (P x)[2k] = x[k], (P x)[2k+1] = x[h+k], h = ceil(D/2).
 *
 * This file holds the constant matrices and the O(D) Householder reflection; the constant
 * matrices are applied as one matMul (`rightMultiply` in ./ops.ts) and the `Lrpe` module owns
 * the variables.
 */
import { tf, assertInt } from '../../backend';

export const LRPE_PS = ['identity', 'householder', 'householder-learned', 'dct', 'odd-even'] as const;
export type LrpeP = (typeof LRPE_PS)[number];

/**
 * The orthonormal DCT-II matrix, row-major [d, d]:
 * C[k][n] = s_k cos(π (2n+1) k / (2d)), s_0 = √(1/d), s_k = √(2/d) for k > 0, so C C^T = I
 * and (C x)_k is the 'ortho' DCT-II of x.
 */
export function dctMatrix(d: number): Float32Array {
  assertInt(d, 'd');
  const c = new Float32Array(d * d);
  for (let k = 0; k < d; k++) {
    const s = Math.sqrt((k === 0 ? 1 : 2) / d);
    for (let n = 0; n < d; n++) c[k * d + n] = s * Math.cos((Math.PI * (2 * n + 1) * k) / (2 * d));
  }
  return c;
}

/**
 * The odd-even ("riffle") permutation as a gather index g [d]: (P x)[j] = x[g[j]], with
 * g[2k] = k and g[2k+1] = h + k, h = ceil(d/2). It interleaves the two halves of x.
 */
export function oddEvenIndex(d: number): Int32Array {
  assertInt(d, 'd');
  const h = Math.ceil(d / 2);
  return Int32Array.from({ length: d }, (_, j) => (j % 2 === 0 ? j / 2 : h + (j - 1) / 2));
}

/** The odd-even permutation as a matrix, row-major [d, d]: P[j][g[j]] = 1 (see `oddEvenIndex`). */
export function oddEvenMatrix(d: number): Float32Array {
  const p = new Float32Array(d * d);
  oddEvenIndex(d).forEach((g, j) => (p[j * d + g] = 1));
  return p;
}

/**
 * Householder reflection y = x − 2 (x·u) u of every row, in O(D) per row (no D x D matrix).
 * u enters broadcast products only, never a matMul (see the wasm operator cache in ./ops.ts).
 * x: [N, D]; u: unit vector [D] -> [N, D].
 */
export function householderReflect(x: tf.Tensor2D, u: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => x.sub(x.mul(u).sum(-1, true).mul(u.mul(2))));
}

/** The Householder matrix P = I − 2 u u^T [D, D] of a unit vector u [D] (u u^T by broadcasting). */
export function householderMatrix(u: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(() => {
    const d = u.shape[0];
    return tf.eye(d).sub(
      u
        .reshape([d, 1])
        .mul(u.reshape([1, d]))
        .mul(2),
    ) as tf.Tensor2D;
  });
}
