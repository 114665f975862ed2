/**
 * The two exact ways of computing the (gated) sineSPE projection without the reference's
 * per-call code of size L·H·D·R and its L·H·D·R·(2K + B) multiply-adds per side.
 *
 * The features path (`sineSPEFeatureProject`, for single sequences and long inputs): since the
 * code is Q̄(m, d, :) = Ω(m, d, :)·diag(λ̃)·Z[d] with Z the standard-normal noise,
 *
 *   x̂[b, m, :] = Σ_d Σ_j (a[d, k(j)] · x[b, m, d] · Ω[m, d, j]) · Z[d, j, :]  +  Σ_d (s_d · x[b, m, d]) · ε[d, :]
 *
 * i.e. one [B·L, 2KD (+ D)] × [2KD (+ D), R] matmul per head and side, every learned quantity
 * (frequencies and phases in Ω, gains and gate in a and s) in the left operand and the noise, a
 * constant, on the right: the backward pass needs no weight-gradient product. Here F is composed
 * from tf ops (`composedFeatures`, the formula as written); where the backend has the fused
 * kernels the same product runs through them (`project-fused.ts`: one native call each way, or
 * per-head JavaScript feature kernels), tested equal.
 *
 * The code path (`sineSPECodeProject`, for batches): the code depends on the position only, so
 * building it once (O(L·H·D·R)) and applying it to every sequence costs L·H·D·R·(2K + B)
 * multiply-adds instead of B·L·H·D·2K·R. Its key-side sinusoids come from `keySinusoids` and the
 * query-side phase is folded into the mixing weights (`headMixing`). `sineProjectPath` picks
 * between the two by measured cost. The native fused projection does the same sharing inside the
 * features path, a block of positions at a time (`SineFeatureProjectOptions.sharedCode`).
 */
import { tf, assertRank, assertDim, assertInt, assertSameShape, hasJsKernel, nativeKernels } from '../../backend';
import { SINE_FEATURES } from './sine-kernels';
import { fusedSineFeatureProject } from './project-fused';

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
    const [p, q] = [tf.concat([ca, sa], 2), tf.concat([sa.neg(), ca], 2)]; // [outer, 1, 2, J]
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
    const split = mixing.reshape([D, K, 2, R]).transpose([2, 1, 0, 3]); // [2, K, D, R]
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
 * The cheaper projection for a call. On tfjs's own kernels: 'code' when B·2K ≥ 96 and the code has
 * at most `MAX_CODE_FLOATS` entries, else 'features'. Measured forward + backward of q̂ and k̂
 * (gated), CPU ms, features vs code: B=8, L=256, H=4, D=16, K=10, R=64 (B·2K = 160): 141 vs 116;
 * B=8, L=64, H=2, K=4, R=8 (64): 13.6 vs 15.2; B=4, L=1024, H=8, D=64 (80): 1839 vs 2212;
 * B=32, L=128, R=32 (640): 166 vs 47.
 * With the native kernels always 'features': their fused projection builds each position's code
 * once for the batch itself (`nativeSharesCode`), a block at a time, and beats the tf-op code
 * path at every size measured (`SPE.encode` gated, forward + backward, wall ms, wasm, 2-core AMD
 * EPYC, code vs features: B=8, L=256, H=4, D=16, K=10, R=64: 34.8 vs 10.9; B=64, L=128, K=8,
 * R=32: 26.6 vs 20.3; B=96: 35.1 vs 33.6; B=128, L=64: 26.4 vs 19.8).
 * @param native whether the native kernels are in use (default: loaded, on, and the backend is wasm or cpu).
 */
export function sineProjectPath(
  batch: number,
  length: number,
  heads: number,
  inFeatures: number,
  numSines: number,
  numRealizations: number,
  native = nativeKernels() !== null && hasJsKernel(SINE_FEATURES),
): SineProjectPath {
  for (const [v, n] of [
    [batch, 'batch'],
    [length, 'length'],
    [heads, 'heads'],
    [inFeatures, 'inFeatures'],
    [numSines, 'numSines'],
    [numRealizations, 'numRealizations'],
  ] as const)
    assertInt(v, n);
  const codeFloats = length * heads * inFeatures * numRealizations;
  return !native && batch * 2 * numSines >= 96 && codeFloats <= MAX_CODE_FLOATS ? 'code' : 'features';
}

/**
 * The batch path of the sineSPE projection, every head at once, with plain differentiable ops:
 * builds the code C[m, h, d, r] = Σ_j Ω[m, j, h, d]·W[h, j, d, r] (+ G[h, d, r] when gated: the
 * gate term x·G is a position-independent part of the code) with one batched matmul over (h, d),
 * then x̂[b, m, h, r] = Σ_d x[b, m, h, d]·C[m, h, d, r] with one batched matmul over (m, h).
 * Memory O(L·H·D·R); equal to `sineSPEFeatureProject` and to the literal formula (tested).
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
      .reshape([L, 2 * K, H * D])
      .transpose([2, 0, 1]);
    const side = (x: tf.Tensor, w: tf.Tensor) => {
      let code = tf.matMul(
        table,
        w
          .reshape([H, 2 * K, D, R])
          .transpose([0, 2, 1, 3])
          .reshape([H * D, 2 * K, R]),
      ); // [H·D, L, R]
      if (gate !== null) code = code.add(gate.reshape([H * D, 1, R]));
      const perPosition = code
        .reshape([H, D, L, R])
        .transpose([2, 0, 1, 3])
        .reshape([L * H, D, R]);
      const rows = x.transpose([1, 2, 0, 3]).reshape([L * H, B, D]);
      return tf.matMul(rows, perPosition).reshape([L, H, B, R]).transpose([2, 0, 1, 3]) as tf.Tensor4D;
    };
    return [side(q, wq), side(k, wk)] as [tf.Tensor4D, tf.Tensor4D];
  });
}

/**
 * The constant right-hand side Z of the feature path, [H, J, R]: per head, the standard-normal
 * code noise in its reference layout (rows d·2K + 2k + c, c = 0: cos, 1: sin), then, when gated,
 * the D rows of the gate noise.
 * @param noise [1, H, D, 2K, R] (`SineSPE.drawNoise`).
 * @param gateNoise the scaled gate noise ε [H, D, R] (`SPEFilter.gateNoise`), or null when ungated.
 * @returns [H, 2KD (+ D when gated), R].
 */
export function sineFeatureNoise(noise: tf.Tensor, gateNoise: tf.Tensor | null = null): tf.Tensor3D {
  assertRank(noise, 5, 'noise', '1, heads, inFeatures, 2*numSines, R');
  assertDim(noise, 0, 1, 'noise', 'the leading axis');
  const [, H, D, J2, R] = noise.shape as number[];
  if (gateNoise !== null) {
    assertRank(gateNoise, 3, 'gateNoise', 'heads, inFeatures, R');
    assertDim(gateNoise, 0, H, 'gateNoise', 'the heads axis');
    assertDim(gateNoise, 1, D, 'gateNoise', 'the feature axis');
    assertDim(gateNoise, 2, R, 'gateNoise', 'the realization axis');
  }
  return tf.tidy(() => {
    const rows = noise.reshape([H, D * J2, R]);
    return (gateNoise === null ? rows : tf.concat([rows, gateNoise], 1)) as tf.Tensor3D;
  });
}

/** Options of `sineSPEFeatureProject`. */
export interface SineFeatureProjectOptions {
  /** Position of the first row (default 0). */
  offset?: number;
  /**
   * Use the fused kernels (`sine-kernels.ts`; default: when the active backend has them, i.e.
   * wasm and cpu) or compose the features from tf ops (any backend; more memory and passes).
   */
  fused?: boolean;
  /**
   * With the native kernels: build each position's code once and apply it to every sequence of the
   * batch (2KD·R + B·D·R multiply-adds per position, head and side), or project each sequence's
   * features (B·J·R). Default: shared from B = 3 on (`nativeSharesCode`). The same numbers up to
   * float rounding; ignored without the native kernels.
   */
  sharedCode?: boolean;
}

/**
 * Whether the native projection builds the code once for the batch by default: from B = 3 on. Its
 * multiply-adds are fewer from B = 2 on (B = 1 adds D·R per position to the features' J·R), but at
 * B = 2 projecting each sequence's features still measured faster (forward + backward of q̂ and k̂,
 * gated, K 10, R 64, wasm, 2-core AMD EPYC, shared vs features: L 256, H 4, D 16: B = 1 4.1 vs
 * 2.8 ms, B = 2 5.9 vs 5.7, B = 3 8.4 vs 9.2; L 1024, H 8, D 64, B = 2: 113 vs 104 ms).
 */
export function nativeSharesCode(batch: number): boolean {
  return batch >= 3;
}

/**
 * The feature path of (gated) sineSPE for every head. All learned quantities enter through the
 * features, so the right-hand side is the constant noise Z and the backward pass needs no
 * weight-gradient product:
 *
 *   x̂[b, m, h, :] = F_h[b·L + m, :] · Z[h]      (queries with θ, keys with θ = 0)
 *   F_h[n, 2(dK + k) + c] = a[h, d, k] · x[b, m, h, d] · trig_c(ω[h, d, k]·(offset + m) + θ[h, d, k])
 *   F_h[n, 2KD + d]       = s[h, d] · x[b, m, h, d]                         (gated only)
 *
 * One [B·L, J] × [J, R] matmul per head and side forward, one [B·L, R] × [R, J] backward, and
 * F is never kept: memory O(B·L·J) transient, per head. `SPE.encode` passes
 * a = (R·D)^(-1/4)/√(2K) · λ · √(1 − g), s = √g, θ = `SineSPE.offsets`.
 * @param q, k [B, L, H, D].
 * @param omega angular frequencies 2π·f, [H, D, K].
 * @param theta the query-side phases θ, [H, D, K].
 * @param amp the amplitudes a, [H, D, K].
 * @param gateAmp s = √g, [H, D], or null when ungated.
 * @param z [H, J, R] (`sineFeatureNoise`), J = 2KD, + D when gated; treated as a constant.
 * @returns [q̂, k̂], each [B, L, H, R].
 */
export function sineSPEFeatureProject(
  q: tf.Tensor,
  k: tf.Tensor,
  omega: tf.Tensor,
  theta: tf.Tensor,
  amp: tf.Tensor,
  gateAmp: tf.Tensor | null,
  z: tf.Tensor,
  opts: SineFeatureProjectOptions = {},
): [tf.Tensor4D, tf.Tensor4D] {
  assertRank(q, 4, 'q', 'batch, length, heads, inFeatures');
  assertSameShape(q, k, 'q', 'k');
  const [B, L, H, D] = q.shape as [number, number, number, number];
  assertRank(omega, 3, 'omega', 'heads, inFeatures, numSines');
  assertDim(omega, 0, H, 'omega', 'the heads axis');
  assertDim(omega, 1, D, 'omega', 'the feature axis');
  const K = omega.shape[2] as number;
  assertSameShape(theta, omega, 'theta', 'omega');
  assertSameShape(amp, omega, 'amp', 'omega');
  if (gateAmp !== null) {
    assertRank(gateAmp, 2, 'gateAmp', 'heads, inFeatures');
    assertDim(gateAmp, 0, H, 'gateAmp', 'the heads axis');
    assertDim(gateAmp, 1, D, 'gateAmp', 'the feature axis');
  }
  const J = 2 * K * D + (gateAmp === null ? 0 : D);
  assertRank(z, 3, 'z', 'heads, features, R');
  assertDim(z, 0, H, 'z', 'the heads axis');
  assertDim(z, 1, J, 'z', `the feature axis (2·K·D${gateAmp === null ? '' : ' + D, gated'})`);
  const R = z.shape[2] as number;
  const offset = opts.offset ?? 0;
  assertInt(offset, 'opts.offset', 0);
  if (opts.sharedCode !== undefined && typeof opts.sharedCode !== 'boolean')
    throw new Error(`opts.sharedCode: expected a boolean, got ${String(opts.sharedCode)}`);
  const fused = opts.fused ?? hasJsKernel(SINE_FEATURES);
  if (fused && !hasJsKernel(SINE_FEATURES)) {
    throw new Error(`opts.fused: the fused sineSPE kernels exist on the wasm and cpu backends, not on '${tf.getBackend()}'`);
  }
  if (!fused) {
    return tf.tidy(() => {
      const zs = tf.unstack(z);
      const sides = [q, k].map((x, side) =>
        tf.stack(zs.map((zh, h) => tf.matMul(composedFeatures(x, h, omega, side === 0 ? theta : null, amp, gateAmp, offset), zh))),
      ); // [H, B·L, R]
      return sides.map((y) => y.transpose([1, 0, 2]).reshape([B, L, H, R])) as [tf.Tensor4D, tf.Tensor4D];
    });
  }
  return fusedSineFeatureProject(q, k, omega, theta, amp, gateAmp, z, offset, opts.sharedCode ?? nativeSharesCode(B));
}

/**
 * F_h of `sineSPEFeatureProject` composed from tf ops (differentiable by tfjs), [B·L, J].
 * @param x [B, L, H, D]; omega, amp [H, D, K]; theta [H, D, K] or null (keys); gateAmp [H, D] or null.
 */
function composedFeatures(
  x: tf.Tensor,
  h: number,
  omega: tf.Tensor,
  theta: tf.Tensor | null,
  amp: tf.Tensor,
  gateAmp: tf.Tensor | null,
  offset: number,
): tf.Tensor2D {
  const [B, L, , D] = x.shape;
  const K = omega.shape[2] as number;
  return tf.tidy(() => {
    const head = (t: tf.Tensor) => t.slice([h, 0, 0], [1, D, K]).reshape([1, D, K]);
    let phase = head(omega).mul(tf.range(offset, offset + L, 1, 'float32').reshape([L, 1, 1])); // [L, D, K]
    if (theta !== null) phase = phase.add(head(theta));
    const trig = tf.stack([tf.cos(phase), tf.sin(phase)], 3).mul(head(amp).reshape([1, D, K, 1])); // [L, D, K, 2]
    const xh = x.slice([0, 0, h, 0], [B, L, 1, D]).reshape([B, L, D, 1]);
    const feats = xh.mul(trig.reshape([1, L, D, 2 * K])).reshape([B * L, 2 * K * D]);
    if (gateAmp === null) return feats as tf.Tensor2D;
    const gate = xh.reshape([B * L, D]).mul(gateAmp.slice([h, 0], [1, D]));
    return tf.concat([feats, gate], 1) as tf.Tensor2D;
  });
}
