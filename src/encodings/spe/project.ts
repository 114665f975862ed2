/**
 * The fast path of (gated) sineSPE, one head at a time: encodes queries or keys without
 * materialising the code Q̄ (of size L·D·R per head). Since Q̄(m, d, :) = Ω(m, d, :)·W[d]
 * with W[d] the [2K, R] mixing matrix of feature d,
 *
 *   x̂[b, m, r] = Σ_d Σ_j (x[b, m, d] · Ω[m, d, j]) · W[d, j, r]  +  Σ_d x[b, m, d] · G[d, r]
 *
 * i.e. one 2-D matmul of the [B·L, 2K·D] matrix of products x_d·Ω_dj with a (2K·D) × R
 * weight matrix, plus the gate term, a [B·L, D] × [D, R] matmul. Memory is O(B·L·D·2K)
 * instead of O(L·D·R). The query-side phase θ is folded into the weights (`headMixing`), so
 * queries and keys share one table of key-side sinusoids (`sinusoidTable`).
 *
 * Layout: the 2K·D features of a position are ordered (cos/sin, k, d), d innermost, rather
 * than the reference's interleaved (d, k, cos/sin). This is for wasm, where broadcasting
 * along the innermost axis or in rank > 4, concatenating along the innermost axis, slicing
 * (every slice copies its whole source) and the batched and transposed-operand matmuls are
 * all many times slower per element than 2-D matmuls and rank ≤ 4 broadcasts with a shared
 * innermost axis; heads are therefore handled separately with 2-D matmuls, and `matMul2d`
 * supplies a gradient made of plain matmuls and explicit transposes.
 */
import { tf, assertRank, assertDim, assertInt } from '../../backend';

/**
 * a [n, k] @ b [k, m] -> [n, m], whose gradient uses only untransposed 2-D matmuls
 * (dA = dY @ bᵀ, dB = (dYᵀ @ a)ᵀ with explicit transposes of the small operands).
 */
export const matMul2d: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  (...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    save([a, b]);
    return {
      value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
      // Gradient functions of customGrad run outside the engine's per-gradient tidy: tidy here.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
        const [sa, sb] = saved as tf.Tensor2D[];
        return [tf.matMul(dy as tf.Tensor2D, sb.transpose()), tf.matMul((dy as tf.Tensor2D).transpose(), sa).transpose()];
      }),
    };
  },
) as unknown as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/**
 * The key-side sinusoids of one head: cos and sin of ω·m for m = offset .. offset+length−1.
 * @param omega angular frequencies 2π·f, [K, D].
 * @returns [length, 2, K, D]: [m, 0, k, d] = cos(ω_kd·m), [m, 1, k, d] = sin(ω_kd·m).
 *
 * Forward: the angle-addition formula on a grid m = offset + a·n + b with n = ⌈√length⌉,
 * so only O(√length·K·D) cos/sin are evaluated (they are very slow on wasm):
 *   [cos(α+β), sin(α+β)] = [cos α, sin α]·cos β + [−sin α, cos α]·sin β.
 * Backward, written out (differentiating through the grid is slow on wasm):
 *   ∂L/∂ω = Σ_m m·(∂L/∂sin(ωm)·cos(ωm) − ∂L/∂cos(ωm)·sin(ωm)).
 */
export function sinusoidTable(omega: tf.Tensor, length: number, offset = 0): tf.Tensor4D {
  assertRank(omega, 2, 'omega', 'numSines, inFeatures');
  assertInt(length, 'length');
  assertInt(offset, 'offset', 0);
  const [K, D] = omega.shape;
  const J = K * D;
  const inner = Math.ceil(Math.sqrt(length));
  const outer = Math.ceil(length / inner);
  const grid = outer * inner;
  // [cos α, sin α] and [−sin α, cos α] as [outer, 1, 2, J]; cos β, sin β as [1, inner, 1, J].
  const factors = (w: tf.Tensor) => {
    const om = w.reshape([1, 1, 1, J]);
    const alpha = om.mul(tf.range(0, outer, 1, 'float32').mul(inner).add(offset).reshape([outer, 1, 1, 1]));
    const beta = om.mul(tf.range(0, inner, 1, 'float32').reshape([1, inner, 1, 1]));
    const [ca, sa] = [tf.cos(alpha), tf.sin(alpha)];
    return { p: tf.concat([ca, sa], 2), q: tf.concat([sa.neg(), ca], 2), cb: tf.cos(beta), sb: tf.sin(beta) };
  };
  const table = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [w, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([w]);
    const value = tf.tidy(() => {
      const { p, q, cb, sb } = factors(w);
      const full = p.mul(cb).add(q.mul(sb)).reshape([grid, 2, J]);  // [grid, 2, J]
      return (grid === length ? full : full.slice([0, 0, 0], [length, 2, J])).reshape([length, 2, K, D]);
    });
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
        const { p, q, cb, sb } = factors(saved[0]);
        // ∂table/∂(ωm) = [−sin, cos] = [−sin α, cos α]·cos β − [cos α, sin α]·sin β
        const turned = q.mul(cb).sub(p.mul(sb)).reshape([grid, 2, J]);
        const d = dy.reshape([length, 2, J]);
        const g = (grid === length ? d : d.pad([[0, grid - length], [0, 0], [0, 0]])).mul(turned).sum(1);  // [grid, J]
        const m = tf.range(offset, offset + grid, 1, 'float32').reshape([1, grid]);
        return tf.matMul(m, g).reshape([K, D]);  // Σ_m m·g[m, :]
      }),
    };
  });
  return (table as unknown as (w: tf.Tensor) => tf.Tensor4D)(omega);
}

/**
 * One head's mixing weights in the fast path's layout, with the query-side phase folded in:
 * cos(φ+θ)·Wc + sin(φ+θ)·Ws = cos φ·(cos θ Wc + sin θ Ws) + sin φ·(cos θ Ws − sin θ Wc),
 * so Ω_q(m)·W = Ω_k(m)·W_θ.
 * @param mixing W [D, 2K, R] (interleaved rows 2k: cos, 2k+1: sin, as `SineSPE.mixing` gives per head).
 * @param theta θ [D, K] for queries, or null for keys.
 * @returns [2·K·D, R], rows ordered (cos/sin, k, d) like `sinusoidTable`'s features.
 */
export function headMixing(mixing: tf.Tensor, theta: tf.Tensor | null = null): tf.Tensor2D {
  assertRank(mixing, 3, 'mixing', 'inFeatures, 2*numSines, R');
  const [D, J, R] = mixing.shape;
  const K = J / 2;
  if (theta !== null) {
    assertRank(theta, 2, 'theta', 'inFeatures, numSines');
    assertDim(theta, 0, D, 'theta', 'the feature axis');
    assertDim(theta, 1, K, 'theta', 'the sine axis');
  }
  return tf.tidy(() => {
    const split = mixing.reshape([D, K, 2, R]).transpose([2, 1, 0, 3]);  // [2, K, D, R]
    if (theta === null) return split.reshape([2 * K * D, R]) as tf.Tensor2D;
    const halves = split.reshape([2, K * D * R]);
    const [wc, ws] = [0, 1].map((i) => halves.slice([i, 0], [1, K * D * R]).reshape([K, D, R]));
    const th = theta.transpose().reshape([K, D, 1]);
    const [c, s] = [tf.cos(th), tf.sin(th)];
    return tf.stack([c.mul(wc).add(s.mul(ws)), c.mul(ws).sub(s.mul(wc))]).reshape([2 * K * D, R]) as tf.Tensor2D;
  });
}

/**
 * Encodes one head of queries or keys.
 * @param x [B, L, D].
 * @param sinusoids [L, 2, K, D] (`sinusoidTable`).
 * @param mixing [2·K·D, R] (`headMixing`, scaled by √(1 − g) when gated).
 * @param gateMixing G = √g·ε, [D, R], or null when ungated.
 * @returns x̂ [B, L, R].
 */
export function sineSPEProject(x: tf.Tensor, sinusoids: tf.Tensor, mixing: tf.Tensor, gateMixing: tf.Tensor | null = null): tf.Tensor3D {
  assertRank(x, 3, 'x', 'batch, length, inFeatures');
  const [B, L, D] = x.shape as [number, number, number];
  assertRank(sinusoids, 4, 'sinusoids', 'length, 2, numSines, inFeatures');
  const K = sinusoids.shape[2] as number;
  [L, 2, K, D].forEach((n, i) => assertDim(sinusoids, i, n, 'sinusoids', ['the length axis', 'the cos/sin axis', 'the sine axis', 'the feature axis'][i]));
  assertRank(mixing, 2, 'mixing', '2*numSines*inFeatures, R');
  assertDim(mixing, 0, 2 * K * D, 'mixing', 'the feature axis');
  const R = mixing.shape[1] as number;
  if (gateMixing !== null) {
    assertRank(gateMixing, 2, 'gateMixing', 'inFeatures, R');
    assertDim(gateMixing, 0, D, 'gateMixing', 'the feature axis');
    assertDim(gateMixing, 1, R, 'gateMixing', 'the realization axis');
  }
  return tf.tidy(() => {
    const feats = x.reshape([B, L, 1, D]).mul(sinusoids.reshape([1, L, 2 * K, D])).reshape([B * L, 2 * K * D]) as tf.Tensor2D;
    let out = matMul2d(feats, mixing as tf.Tensor2D);
    if (gateMixing !== null) out = out.add(matMul2d(x.reshape([B * L, D]) as tf.Tensor2D, gateMixing as tf.Tensor2D));
    return out.reshape([B, L, R]) as tf.Tensor3D;
  });
}
