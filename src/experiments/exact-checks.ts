/**
 * The claims that need no training: computed in a few seconds from freshly initialised modules.
 *
 * - `relativeDeviation`: whether an encoding's scores depend on positions only through t − s
 *   (the canonical form a_st = q_sᴴ W_{t−s} k_t of LRPE): constant content at every position,
 *   the score matrix must then be Toeplitz.
 * - `monteCarloConvergence`: the relative error of an SPE's Monte-Carlo estimate of its kernel
 *   against the exact kernel, over R, and the log-log slope (SPE, §2: expected −1/2).
 * - `memoryExponent`: the log-log slope of the peak memory of an attention layer's forward +
 *   backward pass against the length (linear complexity: 1).
 *
 * Plain numbers out; every tensor is disposed.
 */
import { tf, Rng } from '../backend';
import { AttentionLayer, parseSpec } from '../attention';
import { getEncoding, resolveArgs, SPE, speKernel, toeplitz } from '../encodings';
import { slopeInterval, type Interval } from './stats';

/** Splits 'lrpe(rotation,householder)' into its name and raw arguments. */
function splitEncoding(enc: string): { name: string; args: string[] } {
  const m = /^([a-z]+)(?:\((.*)\))?$/.exec(enc.trim());
  if (!m) throw new Error(`encoding: expected name or name(args), like lrpe(rotation,householder); got '${enc}'`);
  return {
    name: m[1],
    args: m[2]
      ? m[2]
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [],
  };
}

/**
 * Largest deviation from a Toeplitz score matrix, relative to the largest score, of a post
 * (after the feature map) query/key encoding: q_s = a and k_t = b at every position s, t
 * (positive vectors, as after φ), scores ã_s · b̃_t over L positions, every head.
 * 0 (to rounding) when the scores depend only on t − s.
 * @param encoding an encoding of the spec language, e.g. 'rope' or 'lrpe(unitary,householder,learned)'
 */
export function relativeDeviation(encoding: string, opts: { headDim?: number; heads?: number; length?: number; seed?: number } = {}): number {
  const { headDim = 8, heads = 2, length = 48, seed = 0 } = opts;
  const { name, args } = splitEncoding(encoding);
  const def = getEncoding(name);
  if (def.role !== 'qk' || def.stage !== 'post')
    throw new Error(`encoding: '${encoding}' is not a query/key encoding acting after the feature map; relativeDeviation checks post encodings`);
  const enc = def.build(resolveArgs(def, args), { numHeads: heads, headDim, maxLength: length, rng: new Rng(seed) });
  try {
    const rng = new Rng(seed + 1);
    return tf.tidy(() => {
      const a = tf.tensor4d(rng.uniformArray(heads * headDim, 0.1, 1), [1, 1, heads, headDim]).tile([1, length, 1, 1]) as tf.Tensor4D;
      const b = tf.tensor4d(rng.uniformArray(heads * headDim, 0.1, 1), [1, 1, heads, headDim]).tile([1, length, 1, 1]) as tf.Tensor4D;
      const [qe, ke] = enc.encode(a, b);
      const scores = tf.matMul(qe.transpose([0, 2, 1, 3]), ke.transpose([0, 2, 1, 3]), false, true).arraySync() as number[][][][]; // [1, H, L, L]
      let worst = 0;
      let scale = 0;
      for (const m of scores[0]) {
        for (let s = 0; s < length; s++) for (let t = 0; t < length; t++) scale = Math.max(scale, Math.abs(m[s][t]));
        for (let s = 1; s < length; s++) for (let t = 1; t < length; t++) worst = Math.max(worst, Math.abs(m[s][t] - m[s - 1][t - 1]));
      }
      return worst / Math.max(scale, 1e-30);
    });
  } finally {
    enc.dispose();
  }
}

/** Monte-Carlo error of an SPE's kernel estimate at each R, and the fitted slope. */
export interface MonteCarloResult {
  realizations: number[];
  /** Relative Frobenius error ‖E_R − T‖ / ‖T‖ averaged over draws, per R. */
  error: number[];
  /** Slope of log(error) against log(R), with its 95 % interval. */
  slope: Interval & { intercept: number };
}

/**
 * One head of `variant` SPE on one-hot content (q_m = k_n = e_d at every position): then
 * √D·q̂_m·k̂_n/√R estimates the kernel P_d(m − n) without bias. Its relative error against the
 * exact Toeplitz matrix should fall as R^(−1/2).
 */
export function monteCarloConvergence(
  variant: 'sine' | 'conv',
  opts: { realizations?: number[]; draws?: number; length?: number; features?: number; gated?: boolean; seed?: number } = {},
): MonteCarloResult {
  const { realizations = [4, 16, 64, 256], draws = 4, length = 32, features = 4, gated = false, seed = 0 } = opts;
  const D = features;
  const L = length;
  const oneHot = tf.tidy(() => tf.eye(D).reshape([D, 1, 1, D]).tile([1, L, 1, 1]) as tf.Tensor4D); // batch d: e_d everywhere
  const error: number[] = [];
  try {
    for (const R of realizations) {
      const generator = variant === 'sine' ? { numSines: 5 } : { kernelSize: Math.min(8, L) };
      const spe = new SPE({ variant, numHeads: 1, headDim: D, numRealizations: R, ...generator, gated, rng: new Rng(seed) });
      const T = tf.tensor3d(speKernel(spe, L)[0].map((k) => toeplitz(k, L))); // [D, L, L]
      let sum = 0;
      for (let draw = 0; draw < draws; draw++) {
        sum += tf.tidy(() => {
          const [qh, kh] = spe.encode(oneHot, oneHot, { rng: new Rng(1000 + draw) }); // [D, L, 1, R]
          const E = tf.matMul(qh.reshape([D, L, R]), kh.reshape([D, L, R]), false, true).mul(Math.sqrt(D / R));
          return E.sub(T).norm().dataSync()[0] / T.norm().dataSync()[0];
        });
      }
      error.push(sum / draws);
      T.dispose();
      spe.dispose();
    }
  } finally {
    oneHot.dispose();
  }
  return { realizations, error, slope: slopeInterval(realizations.map(Math.log), error.map(Math.log)) };
}

/** Peak memory of a layer's forward + backward pass at each length, and the fitted exponent. */
export interface MemoryResult {
  lengths: number[];
  peakBytes: number[];
  /** Slope of log(peak bytes) against log(L), with its 95 % interval. */
  exponent: Interval & { intercept: number };
}

/**
 * Peak tensor memory (tfjs's `profile`) of one causal attention layer, forward and backward, at
 * each length: the peak above what was allocated before the pass (the input, the layer's weights
 * and whatever else is alive do not count). Deterministic for a given backend.
 * @param spec an attention spec, e.g. 'linear:elu+lrpe(unitary)'
 */
export async function memoryExponent(spec: string, opts: { lengths?: number[]; model?: number; heads?: number; causal?: boolean } = {}): Promise<MemoryResult> {
  const { lengths = [256, 512, 1024, 2048], model = 32, heads = 2, causal = true } = opts;
  parseSpec(spec);
  const peakBytes: number[] = [];
  for (const L of lengths) {
    const layer = new AttentionLayer({ model, numHeads: heads, spec, maxLength: L, rng: new Rng(0) });
    const x = tf.tensor3d(new Rng(1).normalArray(L * model), [1, L, model]);
    try {
      // tf.profile's peak counts every live tensor: the bytes held before the pass are not the layer's.
      const before = tf.memory().numBytes;
      const info = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(
          () =>
            layer
              .apply(x, { causal, rng: new Rng(2) })
              .square()
              .mean() as tf.Scalar,
          layer.trainableVariables(),
        );
        tf.dispose([value, ...Object.values(grads)]);
      });
      peakBytes.push(info.peakBytes - before);
    } finally {
      x.dispose();
      layer.dispose();
    }
  }
  return { lengths, peakBytes, exponent: slopeInterval(lengths.map(Math.log), peakBytes.map(Math.log)) };
}
