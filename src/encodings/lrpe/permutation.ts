/**
 * The permutation core of LRPE (LRPE paper, Qin et al. 2023: its third solution):
 *
 *   y = Π^s x,   (Π x)_j = x_{π(j)},   so y = x[idx_s] with idx_0 = identity, idx_{s+1} = idx_s[π].
 *
 * The reference code gathers x with a precomputed table idx_0..idx_511. On the
 * wasm backend a per-token gather costs tens of elementwise ops and its gradient is
 * O(size x segments) (see ./ops.ts), so Π^s is computed from its real Schur form instead,
 * the same shape as the rotation core:
 *
 *   Π^s = B^T R(s) B,
 *
 * with B a fixed orthogonal basis and R(s) rotations of interleaved pairs. B is built per
 * cycle of π: on a cycle (c_0, c_1 = π(c_0), ..., c_{m−1}) Π shifts the coordinates
 * z_t = x_{c_t} to z_{t+1}, which the real Fourier basis of length m diagonalises into
 * - the pair (√(2/m) sin(2πkt/m), √(2/m) cos(2πkt/m)) turned by 2πk/m per step, 0 < k < m/2;
 * - the constant 1/√m (eigenvalue 1), and for even m the alternating (−1)^t/√m (eigenvalue −1).
 * At position s a component with (k, m) turns by 2π·((s·k) mod m)/m: reducing s·k modulo m
 * before scaling keeps the angle below 4π, so it stays accurate at any position (no table, no length limit). The result equals the gather up to float32
 * rounding (~1e−6), at the cost of two D x D matMuls and a pair rotation per token.
 */
import { tf, sinCos } from '../../backend';
import type { Trig } from './core';

/** The real Schur form of a permutation π of 0..d−1 (see the file comment). */
export interface PermutationSpectrum {
  /** B, row-major [d, d], orthogonal; row r is the r-th basis vector in feature coordinates. */
  basis: Float32Array;
  /** Per component r: at position s it turns by 2π·((s·frequency_r) mod period_r)/period_r. */
  frequency: Int32Array;
  period: Int32Array;
}

/**
 * Builds B and the per-component (frequency, period) of π. Components are ordered: all
 * turning pairs first (as interleaved slots 2j, 2j+1), then the eigenvalue −1 ones, then the
 * eigenvalue 1 ones, so the last component of an odd d never turns.
 */
export function permutationSpectrum(pi: ArrayLike<number>): PermutationSpectrum {
  const d = pi.length;
  const seen = new Uint8Array(d);
  const pairs: Array<{ rows: [Float64Array, Float64Array]; k: number; m: number }> = [];
  const flips: Array<{ row: Float64Array; k: number; m: number }> = [];
  const fixed: Array<{ row: Float64Array; k: number; m: number }> = [];
  for (let i = 0; i < d; i++) {
    if (seen[i]) continue;
    const cycle: number[] = [];
    for (let j = i; !seen[j]; j = pi[j]) {
      if (!(Number.isInteger(pi[j]) && pi[j] >= 0 && pi[j] < d)) throw new Error(`pi: expected a permutation of 0..${d - 1}, got ${pi[j]} at index ${j}`);
      seen[j] = 1;
      cycle.push(j);
    }
    if (pi[cycle[cycle.length - 1]] !== i) throw new Error(`pi: expected a permutation of 0..${d - 1}`);
    const m = cycle.length;
    const vector = (f: (t: number) => number) => {
      const v = new Float64Array(d);
      cycle.forEach((feature, t) => (v[feature] = f(t)));
      return v;
    };
    const a = Math.sqrt(2 / m);
    fixed.push({ row: vector(() => 1 / Math.sqrt(m)), k: 0, m });
    for (let k = 1; 2 * k < m; k++) {
      const w = (2 * Math.PI * k) / m;
      pairs.push({ rows: [vector((t) => a * Math.sin(w * t)), vector((t) => a * Math.cos(w * t))], k, m });
    }
    if (m % 2 === 0) flips.push({ row: vector((t) => (t % 2 === 0 ? 1 : -1) / Math.sqrt(m)), k: m / 2, m });
  }
  const rows = [...pairs.flatMap((p) => p.rows.map((row) => ({ row, k: p.k, m: p.m }))), ...flips, ...fixed];
  const basis = new Float32Array(d * d);
  rows.forEach(({ row }, r) => basis.set(row, r * d));
  return { basis, frequency: Int32Array.from(rows, (r) => r.k), period: Int32Array.from(rows, (r) => r.m) };
}

/**
 * cos/sin tables of the components at positions offset..offset+length−1, restricted to the
 * first `width` components (the pair rotation's width, ./core.ts `rotationWidth`). The sin of
 * the non-turning components (frequency 0 or period/2) is exactly 0.
 * frequency, period: int32 [d] -> cos, sin each [length, 1, width].
 */
export function permutationTrig(frequency: tf.Tensor1D, period: tf.Tensor1D, length: number, offset: number, width: number): Trig {
  return tf.tidy(() => {
    const k = frequency.slice([0], [width]).toFloat().reshape([1, width]);
    const m = period.slice([0], [width]).toFloat().reshape([1, width]);
    // (s·k) mod m = ((s mod m)·k) mod m. s mod m is taken in int32 (exact for any position), so the
    // float32 product stays below m² ≤ d² and is exact; t − m·floor(t/m) is t mod m up to a whole
    // period (if t/m rounds across an integer), which leaves cos and sin unchanged.
    // On the host: wasm's int32 Mod is a JavaScript loop through a generic broadcast (~50 ms for [8192, 64]).
    const periods = period.slice([0], [width]).dataSync();
    const sModM = new Float32Array(length * width);
    for (let l = 0; l < length; l++) for (let w = 0; w < width; w++) sModM[l * width + w] = (offset + l) % periods[w];
    const s = tf.tensor2d(sModM, [length, width]);
    const t = s.mul(k);
    const angles = t.sub(t.div(m).floor().mul(m)).mul(tf.scalar(2 * Math.PI).div(m));
    const turning = k.mul(2).sub(m).notEqual(0).logicalAnd(k.notEqual(0)).toFloat();
    const [cos, sin] = sinCos(angles);
    return {
      cos: cos.reshape([length, 1, width]) as tf.Tensor3D,
      sin: sin.mul(turning).reshape([length, 1, width]) as tf.Tensor3D,
    };
  });
}
