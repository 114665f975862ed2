/**
 * Scale presets shared by the experiment definitions.
 *
 * - smoke: seconds per run; every experiment at smoke scale together fits in 10 minutes on
 *   2 cores (CI runs them all). One seed. It checks that everything runs, nothing more.
 * - small (default): every experiment together in about an hour on 2 cores (`--jobs 2`), two
 *   seeds; tiny models (1 layer, width 16, length 32–64) trained for 120–200 updates. Enough
 *   to see learning and gross differences; not enough to separate close encodings.
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
 * Small: 1 layer, width 16 (2 heads of 8), length 32 (64 for IMDB; 8 x 8 images), batch 8,
 * lr 1e-2 (cosine to 1e-3), 240–400 updates, two seeds. Measured (wasm, 2 cores, machine at load
 * ~9 from other jobs): a training step costs 0.10–0.20 CPU s for a causal LM (convSPE 0.4 s) and
 * 0.23 s for a length-64 encoder; one run per experiment at 200 steps (16 runs) took 2 min 15 s of
 * CPU (7 min wall under that load). Every experiment at small scale (238 runs) is therefore about
 * 80 CPU-minutes: about 40 min with `--jobs 2` on an idle 2-core machine.
 */
export const SMALL: ScaleSettings = {
  model: 16,
  numLayers: 1,
  numHeads: 2,
  hidden: 32,
  dropout: 0,
  length: 32,
  batchSize: 8,
  steps: 400,
  schedule: { kind: 'cosine', lr: 1e-2, warmup: 40, decaySteps: 400, floor: 1e-3 },
  weightDecay: 0.01,
  beta2: 0.98,
  evalEvery: 100,
  evalSize: 32,
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
