/**
 * The fast path of (gated) sineSPE, one head at a time: encodes queries and keys without
 * materialising the code Q̄ (of size L·D·R per head). Since Q̄(m, d, :) = Ω(m, d, :)·W[d]
 * with W[d] the [2K, R] mixing matrix of feature d,
 *
 *   x̂[b, m, r] = Σ_d Σ_j (x[b, m, d] · Ω[m, d, j]) · W[d, j, r]  +  Σ_d x[b, m, d] · G[d, r]
 *
 * i.e. one 2-D matmul of the [B·L, 2K·D] matrix of products x_d·Ω_dj with a (2K·D) × R
 * weight matrix, plus the gate term, a [B·L, D] × [D, R] matmul. Memory is O(B·L·D·2K)
 * instead of O(L·D·R), and only transiently (see `sineSPEProject`). The query-side phase θ
 * is folded into the weights (`headMixing`), so queries and keys share one table of
 * key-side sinusoids (`keySinusoids`).
 *
 * Layout: the 2K·D features of a position are ordered (cos/sin, k, d), d innermost, rather
 * than the reference's interleaved (d, k, cos/sin). This is for wasm, where broadcasting
 * along the innermost axis or in rank > 4, concatenating along the innermost axis, slicing
 * (every slice copies its whole source) and the batched and transposed-operand matmuls are
 * all many times slower per element than 2-D matmuls and rank ≤ 4 broadcasts with a shared
 * innermost axis. Heads are therefore handled one at a time with 2-D matmuls, and the
 * backward pass is written out with explicit transposes.
 *
 * `sineSPECodeProject` is the other way round, for batches: the code Q̄ depends on the position
 * only, so building it once (O(L·H·D·R)) and applying it to every sequence costs L·H·D·R·(2K + B)
 * multiply-adds instead of B·L·H·D·2K·R. `sineProjectPath` picks between the two by measured cost.
 */
import { tf, assertRank, assertDim, assertInt, assertSameShape } from '../../backend';

/**
 * The key-side sinusoids of one head at positions m = offset .. offset+length−1, from the
 * angle-addition formula on a grid m = offset + a·n + b with n = ⌈√length⌉, so that only
 * O(√length·K·D) cos/sin are evaluated (they are very slow on wasm):
 *   [cos(α+β), sin(α+β)] = [cos α, sin α]·cos β + [−sin α, cos α]·sin β.
 * @param omega angular frequencies 2π·f, [K, D].
 * @param turned false: [cos ωm, sin ωm]; true: their derivative in ωm, [−sin ωm, cos ωm].
 * @returns [length, 2, K, D] ([m, 0, k, d] is the cos-like entry, [m, 1, k, d] the sin-like one).
 */
export function keySinusoids(omega: tf.Tensor, length: number, offset = 0, turned = false): tf.Tensor4D {
  assertRank(omega, 2, 'omega', 'numSines, inFeatures');
  assertInt(length, 'length');
  assertInt(offset, 'offset', 0);
  const [K, D] = omega.shape as [number, number];
  const J = K * D;
  const inner = Math.ceil(Math.sqrt(length));
  const outer = Math.ceil(length / inner);
  return tf.tidy(() => {
    const om = omega.reshape([1, 1, 1, J]);
    const alpha = om.mul(tf.range(0, outer, 1, 'float32').mul(inner).add(offset).reshape([outer, 1, 1, 1]));
    const beta = om.mul(tf.range(0, inner, 1, 'float32').reshape([1, inner, 1, 1]));
    const [ca, sa, cb, sb] = [tf.cos(alpha), tf.sin(alpha), tf.cos(beta), tf.sin(beta)];
    const [p, q] = [tf.concat([ca, sa], 2), tf.concat([sa.neg(), ca], 2)];  // [outer, 1, 2, J]
    // [cos, sin](α+β) = p·cos β + q·sin β;  [−sin, cos](α+β) = q·cos β − p·sin β
    const grid = (turned ? q.mul(cb).sub(p.mul(sb)) : p.mul(cb).add(q.mul(sb))).reshape([outer * inner, 2, J]);
    return (outer * inner === length ? grid : grid.slice([0, 0, 0], [length, 2, J])).reshape([length, 2, K, D]) as tf.Tensor4D;
  });
}

/**
 * One head's mixing weights in the fast path's layout, with the query-side phase folded in:
 * cos(φ+θ)·Wc + sin(φ+θ)·Ws = cos φ·(cos θ Wc + sin θ Ws) + sin φ·(cos θ Ws − sin θ Wc),
 * so Ω_q(m)·W = Ω_k(m)·W_θ.
 * @param mixing W [D, 2K, R] (interleaved rows 2k: cos, 2k+1: sin, as `SineSPE.mixing` gives per head).
 * @param theta θ [D, K] for queries, or null for keys.
 * @returns [2·K·D, R], rows ordered (cos/sin, k, d) like the features of `keySinusoids`.
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

/** The two ways of computing the sineSPE projection (see the file comment). */
export type SineProjectPath = 'features' | 'code';

/** Largest code (L·H·D·R floats per side) the 'code' path builds: 2^25 floats, 128 MiB. */
export const MAX_CODE_FLOATS = 2 ** 25;

/**
 * The cheaper projection for a call: 'code' when B·2K ≥ 96 and the code has at most
 * `MAX_CODE_FLOATS` entries, else 'features'. Measured forward + backward of q̂ and k̂, CPU ms,
 * wasm, 2-core machine (features vs code):
 *   B=8, L=256, H=4, D=16, K=10, R=64 (B·2K = 160): 243 vs 101;
 *   B=8, L=64, H=2, D=16, K=4, R=8 (64): 9.0 vs 9.7;   B=4, L=1024, H=8, D=64, K=10, R=64 (80): 3202 vs 2722;
 *   B=2 (40): 1668 vs 2651;   B=1 (20): 870 vs 2637.
 * The code path costs ~80–100 ns per code entry (its transposes dominate), the features path
 * ~1.4 ns per multiply-add of B·L·H·D·2K·R, so 'code' wins once B·2K exceeds about 60.
 */
export function sineProjectPath(batch: number, length: number, heads: number, inFeatures: number, numSines: number, numRealizations: number): SineProjectPath {
  for (const [v, n] of [[batch, 'batch'], [length, 'length'], [heads, 'heads'], [inFeatures, 'inFeatures'], [numSines, 'numSines'], [numRealizations, 'numRealizations']] as const) assertInt(v, n);
  const codeFloats = length * heads * inFeatures * numRealizations;
  return batch * 2 * numSines >= 96 && codeFloats <= MAX_CODE_FLOATS ? 'code' : 'features';
}

/**
 * The batch path of the sineSPE projection, every head at once, with plain differentiable ops:
 * builds the code C[m, h, d, r] = Σ_j Ω[m, j, h, d]·W[h, j, d, r] (+ G[h, d, r] when gated: the
 * gate term x·G is a position-independent part of the code) with one batched matmul over (h, d),
 * then x̂[b, m, h, r] = Σ_d x[b, m, h, d]·C[m, h, d, r] with one batched matmul over (m, h).
 * Memory O(L·H·D·R); equal to `sineSPEProject` per head (tested).
 * @param q, k [B, L, H, D].
 * @param omega angular frequencies 2π·f, [H, K, D].
 * @param wq, wk [H, 2·K·D, R] (`headMixing` per head).
 * @param gate G = √g·ε, [H, D, R], or null when ungated.
 * @param offset position of the first row (default 0).
 * @returns [q̂, k̂], each [B, L, H, R].
 */
export function sineSPECodeProject(
  q: tf.Tensor,
  k: tf.Tensor,
  omega: tf.Tensor,
  wq: tf.Tensor,
  wk: tf.Tensor,
  gate: tf.Tensor | null = null,
  offset = 0,
): [tf.Tensor4D, tf.Tensor4D] {
  assertRank(q, 4, 'q', 'batch, length, heads, inFeatures');
  assertSameShape(q, k, 'q', 'k');
  const [B, L, H, D] = q.shape as [number, number, number, number];
  assertRank(omega, 3, 'omega', 'heads, numSines, inFeatures');
  assertDim(omega, 0, H, 'omega', 'the heads axis');
  assertDim(omega, 2, D, 'omega', 'the feature axis');
  const K = omega.shape[1] as number;
  assertRank(wq, 3, 'wq', 'heads, 2*numSines*inFeatures, R');
  assertDim(wq, 0, H, 'wq', 'the heads axis');
  assertDim(wq, 1, 2 * K * D, 'wq', 'the feature axis');
  assertSameShape(wq, wk, 'wq', 'wk');
  const R = wq.shape[2] as number;
  if (gate !== null) {
    assertRank(gate, 3, 'gate', 'heads, inFeatures, R');
    assertDim(gate, 0, H, 'gate', 'the heads axis');
    assertDim(gate, 1, D, 'gate', 'the feature axis');
    assertDim(gate, 2, R, 'gate', 'the realization axis');
  }
  assertInt(offset, 'offset', 0);
  return tf.tidy(() => {
    // Ω for every head at once: [L, 2K, H·D] -> [H·D, L, 2K]
    const table = keySinusoids(omega.transpose([1, 0, 2]).reshape([K, H * D]), L, offset)
      .reshape([L, 2 * K, H * D]).transpose([2, 0, 1]);
    const side = (x: tf.Tensor, w: tf.Tensor) => {
      let code = tf.matMul(table, w.reshape([H, 2 * K, D, R]).transpose([0, 2, 1, 3]).reshape([H * D, 2 * K, R]));  // [H·D, L, R]
      if (gate !== null) code = code.add(gate.reshape([H * D, 1, R]));
      const perPosition = code.reshape([H, D, L, R]).transpose([2, 0, 1, 3]).reshape([L * H, D, R]);
      const rows = x.transpose([1, 2, 0, 3]).reshape([L * H, B, D]);
      return tf.matMul(rows, perPosition).reshape([L, H, B, R]).transpose([2, 0, 1, 3]) as tf.Tensor4D;
    };
    return [side(q, wq), side(k, wk)] as [tf.Tensor4D, tf.Tensor4D];
  });
}

/**
 * Encodes one head of queries and keys together (the fast path), as one differentiable op:
 *   x̂[b, m, r] = Σ_{c,k,d} x[b,m,d]·Ω[m,c,k,d]·W[(c,k,d), r] + Σ_d x[b,m,d]·G[d, r]
 * with Ω = `keySinusoids(omega, L, offset)`, W = wq for queries and wk for keys.
 * The backward pass recomputes the sinusoids and the [B·L, 2K·D] feature matrices instead of
 * keeping them: tfjs keeps every saved input (copied, on wasm) and every intermediate
 * gradient until a backward pass ends, which for these O(L·D·2K) tensors would cost far more
 * memory than the rest of an attention layer.
 * @param q, k [B, L, D].
 * @param omega angular frequencies 2π·f, [K, D].
 * @param wq, wk [2·K·D, R] (`headMixing`: wq with θ, wk without; both scaled by √(1 − g) when gated).
 * @param gate G = √g·ε, [D, R], or null when ungated.
 * @param offset position of the first row (default 0).
 * @returns [q̂, k̂], each [B, L, R].
 */
export function sineSPEProject(
  q: tf.Tensor,
  k: tf.Tensor,
  omega: tf.Tensor,
  wq: tf.Tensor,
  wk: tf.Tensor,
  gate: tf.Tensor | null = null,
  offset = 0,
): [tf.Tensor3D, tf.Tensor3D] {
  assertRank(q, 3, 'q', 'batch, length, inFeatures');
  assertSameShape(q, k, 'q', 'k');
  const [B, L, D] = q.shape as [number, number, number];
  assertRank(omega, 2, 'omega', 'numSines, inFeatures');
  assertDim(omega, 1, D, 'omega', 'the feature axis');
  const K = omega.shape[0] as number;
  const J = 2 * K * D;
  assertRank(wq, 2, 'wq', '2*numSines*inFeatures, R');
  assertDim(wq, 0, J, 'wq', 'the feature axis');
  assertSameShape(wq, wk, 'wq', 'wk');
  const R = wq.shape[1] as number;
  if (gate !== null) {
    assertRank(gate, 2, 'gate', 'inFeatures, R');
    assertDim(gate, 0, D, 'gate', 'the feature axis');
    assertDim(gate, 1, R, 'gate', 'the realization axis');
  }
  assertInt(offset, 'offset', 0);
  const feats = (x: tf.Tensor, table: tf.Tensor) => x.reshape([B, L, 1, D]).mul(table.reshape([1, L, 2 * K, D])).reshape([B * L, J]) as tf.Tensor2D;
  const x2d = (x: tf.Tensor) => x.reshape([B * L, D]) as tf.Tensor2D;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xq, xk, w, mq, mk, g] = args as tf.Tensor[];
    save(args as tf.Tensor[]);  // all small: q, k, ω, W's, G
    const value = tf.tidy(() => {
      const table = keySinusoids(w, L, offset);
      const project = (x: tf.Tensor, m: tf.Tensor) => {
        const y = tf.matMul(feats(x, table), m as tf.Tensor2D);
        return g === undefined ? y : y.add(tf.matMul(x2d(x), g as tf.Tensor2D));
      };
      return tf.stack([project(xq, mq), project(xk, mk)]);  // [2, B·L, R]
    });
    return {
      value,
      // customGrad's gradient function runs outside the engine's per-gradient tidy: tidy here.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
        const [sq, sk, w, mq, mk, g] = saved;
        const dys = [0, 1].map((i) => dy.reshape([2, B * L * R]).slice([i, 0], [1, B * L * R]).reshape([B * L, R]) as tf.Tensor2D);
        const table = keySinusoids(w, L, offset);
        const side = (x: tf.Tensor, m: tf.Tensor, d: tf.Tensor2D) => {
          const dA = tf.matMul(d, (m as tf.Tensor2D).transpose()).reshape([B, L, 2 * K, D]);  // ∂L/∂feats = dŷ·Wᵀ
          const dTable = dA.mul(x.reshape([B, L, 1, D]));
          return {
            dm: tf.matMul(d.transpose(), feats(x, table)).transpose(),  // featsᵀ·dŷ, [J, R]
            dx: dA.mul(table.reshape([1, L, 2 * K, D])).sum(2).add(g === undefined ? 0 : tf.matMul(d, (g as tf.Tensor2D).transpose()).reshape([B, L, D])),
            dTable: B === 1 ? dTable.reshape([L, 2 * K, D]) : dTable.sum(0),  // [L, 2K, D]
            dg: g === undefined ? null : tf.matMul(d.transpose(), x2d(x)).transpose(),  // x2dᵀ·dŷ, [D, R]
          };
        };
        const gq = side(sq, mq, dys[0]);
        const gk = side(sk, mk, dys[1]);
        // ∂L/∂ω = Σ_m m · Σ_c ∂L/∂Ω[m, c]·∂Ω[m, c]/∂(ωm), with ∂[cos, sin]/∂(ωm) = [−sin, cos].
        const perPosition = gq.dTable.add(gk.dTable).reshape([L, 2, K * D]).mul(keySinusoids(w, L, offset, true).reshape([L, 2, K * D])).sum(1);
        const positions = tf.range(offset, offset + L, 1, 'float32').reshape([1, L]);
        const dOmega = tf.matMul(positions, perPosition as tf.Tensor2D).reshape([K, D]);
        const grads = [gq.dx, gk.dx, dOmega, gq.dm, gk.dm];
        return g === undefined ? grads : [...grads, (gq.dg as tf.Tensor).add(gk.dg as tf.Tensor)];
      }),
    };
  }) as unknown as (...xs: tf.Tensor[]) => tf.Tensor;
  return tf.tidy(() => {
    const out = op(...[q, k, omega, wq, wk, ...(gate === null ? [] : [gate])]).reshape([2, B * L * R]);
    const half = (i: number) => out.slice([i, 0], [1, B * L * R]).reshape([B, L, R]) as tf.Tensor3D;
    return [half(0), half(1)] as [tf.Tensor3D, tf.Tensor3D];
  });
}
