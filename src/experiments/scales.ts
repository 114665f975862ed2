/**
 * Scale presets shared by the experiment definitions.
 *
 * - smoke: seconds per run; every experiment at smoke scale together fits in 10 minutes on
 *   2 cores (CI runs them all). One seed. It checks that everything runs, nothing more.
 * - small (default): every experiment together within an hour on 2 cores (`--jobs 2`), two
 *   seeds; small models (2 layers, width 32, length 64–128) trained for 240–400 updates.
 * - full: the papers' model sizes and step counts (lrpe.md §3.2, spe.md §8.1–8.3), for users
 *   with time or tfjs-node.
 *
 * Measured wall times (wasm backend, 2 cores) are written next to the `steps` of each preset.
 */
import type { ScaleSettings } from './types';

/** A preset with some fields replaced (encoding merged). */
export function withSettings(base: ScaleSettings, over: Partial<ScaleSettings>): ScaleSettings {
  return { ...base, ...over, encoding: { ...base.encoding, ...over.encoding } };
}

/** Smoke: a 1-layer, width-16 model for a handful of updates. */
export const SMOKE: ScaleSettings = {
  model: 16,
  numLayers: 1,
  numHeads: 2,
  hidden: 32,
  dropout: 0,
  length: 32,
  batchSize: 4,
  steps: 4,
  schedule: { kind: 'constant', lr: 3e-3 },
  weightDecay: 0.01,
  beta2: 0.98,
  evalEvery: 1000,
  evalSize: 8,
  trainSize: 64,
  encoding: { R: 8, K: 4, P: 8, F: 16 },
  imageSize: 8,
  extrapolation: 4,
  listopsDepth: 3,
  seeds: [0],
};

/**
 * Small: 2 layers, width 32 (2 heads of 16), feed-forward 64, length 64 (128 for IMDB; 8 x 8
 * images), batch 8, lr 1e-2 (cosine to 1e-3), 240–400 updates, two seeds. Measured (wasm, idle
 * 2-core machine, one run at a time): 400 causal-LM updates take 13 s (NoPE), 15 s (LRPE unitary),
 * 19 s (gated sineSPE) of training. The wall time of every experiment at this scale is in
 * src/experiments/README.md.
 */
export const SMALL: ScaleSettings = {
  model: 32,
  numLayers: 2,
  numHeads: 2,
  hidden: 64,
  dropout: 0,
  length: 64,
  batchSize: 8,
  steps: 400,
  schedule: { kind: 'cosine', lr: 1e-2, warmup: 40, decaySteps: 400, floor: 1e-3 },
  weightDecay: 0.01,
  beta2: 0.98,
  evalEvery: 100,
  evalSize: 256,
  trainSize: 4000,
  encoding: { R: 8, K: 4, P: 16, F: 16 },
  imageSize: 8,
  extrapolation: 4,
  listopsDepth: 3,
  seeds: [0, 1],
};

/** A small preset with `steps` updates and the cosine schedule stretched to match. */
export function smallWithSteps(steps: number, over: Partial<ScaleSettings> = {}): ScaleSettings {
  const warmup = Math.max(1, Math.round(steps / 10));
  return withSettings(SMALL, { steps, evalEvery: Math.max(1, Math.round(steps / 2)), schedule: { kind: 'cosine', lr: 1e-2, warmup, decaySteps: steps, floor: 1e-3 }, ...over });
}
