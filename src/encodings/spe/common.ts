/**
 * Pieces shared by the SPE code generators and the filter: the code type, the
 * (R·D)^(-1/4) code scaling, standard-normal draws from `Rng`, and checks of
 * injected noise and call shapes.
 */
import { tf, Rng, assertInt } from '../../backend';

/**
 * A positional code: qbar and kbar, each [1, ...positions, heads, inFeatures, R]
 * (the reference's (1, *S, H, D, R)). The leading 1 means one draw shared over the batch.
 */
export interface SPECode {
  qbar: tf.Tensor;
  kbar: tf.Tensor;
}

/** Per-call options of a code generator (`SineSPE.forward`, `ConvSPE.forward`). */
export interface SPECodeOptions {
  /** The standard-normal draw, in the generator's reference layout (see each generator). */
  noise?: tf.Tensor;
  /** Generator to draw the noise from when `noise` is absent (default: the module's own). */
  rng?: Rng;
  /** Overrides the module's number of realizations R for this call (the reference's `num_realizations`). */
  numRealizations?: number;
}

/** The factor (R·D)^(-1/4) applied to both codes (and to the gate noise) so that E[q̂·k̂/√R] = ℓ. */
export function codeScale(numRealizations: number, inFeatures: number): number {
  return Math.pow(numRealizations * inFeatures, -0.25);
}

/** A float32 tensor of i.i.d. N(0, 1) draws of the given shape, filled in row-major order. */
export function standardNormal(rng: Rng, shape: number[]): tf.Tensor {
  return tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);
}

/** Throws unless `noise` is a tensor of exactly `expected` shape; `layout` names its axes. */
export function checkNoise(noise: tf.Tensor, expected: number[], name: string, layout: string): void {
  if (noise == null || !(noise instanceof tf.Tensor)) {
    throw new Error(`${name}: expected a tensor of shape [${expected.join(', ')}] (${layout}), got ${String(noise)}`);
  }
  if (noise.shape.length !== expected.length || noise.shape.some((d, i) => d !== expected[i])) {
    throw new Error(`${name}: expected shape [${expected.join(', ')}] (${layout}), got [${noise.shape.join(', ')}]`);
  }
}

/**
 * Checks a call shape (batch, ...spatial) with `ndim` spatial axes and returns the spatial sizes.
 */
export function checkCallShape(shape: unknown, ndim: number, name = 'shape'): number[] {
  if (!Array.isArray(shape) || shape.length !== ndim + 1) {
    const what = ndim === 1 ? '[batch, length]' : `[batch, ${Array.from({ length: ndim }, (_, i) => `size${i}`).join(', ')}]`;
    throw new Error(`${name}: expected ${what} (${ndim + 1} integers), got ${JSON.stringify(shape)}`);
  }
  shape.forEach((s, i) => assertInt(s, `${name}[${i}]`, 1));
  return shape.slice(1) as number[];
}
