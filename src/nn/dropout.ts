/**
 * Inverted dropout with its mask drawn from an `Rng`, so a run (and a resumed
 * run) repeats exactly and the mask is the same on every backend.
 */
import { tf, Rng, assertNumber } from '../backend';

/**
 * x: any shape -> same shape. While `training` (and rate > 0), each element is zeroed with
 * probability `rate` and the others are scaled by 1/(1 − rate); otherwise x is returned
 * unchanged (as a new handle the caller owns). Draws x.size uniforms from `rng` per call in
 * training mode, none otherwise; `rng` may be omitted when nothing is drawn.
 */
export function dropout(x: tf.Tensor, rate: number, rng: Rng | undefined, training: boolean): tf.Tensor {
  assertNumber(rate, 'rate', { min: 0, max: 0.999999 });
  if (x.dtype !== 'float32') throw new Error(`x: expected a float32 tensor, got dtype ${x.dtype}`);
  if (!training || rate === 0) return x.clone();
  if (!(rng instanceof Rng)) throw new Error(`rng: dropout while training needs an Rng, got ${String(rng)}`);
  const keep = 1 / (1 - rate);
  const mask = new Float32Array(x.size);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.uniform() < rate ? 0 : keep;
  return tf.tidy(() => x.mul(tf.tensor(mask, x.shape, 'float32')));
}
