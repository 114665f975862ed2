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
