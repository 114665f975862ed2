/**
 * Scale presets shared by the experiment definitions.
 *
 * - smoke: seconds per run; every experiment at smoke scale together fits in 10 minutes on
 *   2 cores (CI runs them all). One seed. It checks that everything runs, nothing more.
 * - quick: a first look, one seed of every row: 2 layers of width 32 on length 64 (128 for
 *   IMDB, 8 x 8 images) for 240–400 updates (the former `small`).
 * - small (default): the scale at which the claims ledger can give verdicts within about two
 *   hours on 2 cores (`--jobs 2`): three seeds of every claim row, the language models on
 *   length 256, extrapolation tested at 8 x the training length, the claim tables' images as
 *   their 28 x 28 pixels, SPE with R = 64 realizations and K = 8 sines, each task family's
 *   peak learning rate from a committed sweep (SMALL_PEAK_LR).
 * - full: the papers' model sizes and step counts, for users with time or tfjs-node.
 *
 * Measured wall times are in src/experiments/README.md.
 */
import type { ScaleSettings, TaskKind } from './types';

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
 * Quick: 2 layers, width 32 (2 heads of 16), feed-forward 64, length 64 (128 for IMDB; 8 x 8
 * images), batch 8, lr 1e-2 (cosine to 1e-3), 240–400 updates, one seed.
 */
export const QUICK: ScaleSettings = {
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
  seeds: [0],
};

/**
 * Small (the default): 2 layers, width 32 (2 heads of 16), feed-forward 64, length 256, batch 8,
 * cosine schedule with gradients clipped to norm 1, three seeds; SPE R = 64, K = 8, convSPE kernel
 * 32. Experiments set their own length, updates and task family (`smallWithSteps`: the family's
 * peak learning rate, SMALL_PEAK_LR).
 */
export const SMALL: ScaleSettings = {
  ...QUICK,
  length: 256,
  steps: 300,
  schedule: { kind: 'cosine', lr: 1e-2, warmup: 30, decaySteps: 300, floor: 1e-3 },
  clipNorm: 1,
  evalEvery: 150,
  evalSize: 64,
  trainSize: 8000,
  encoding: { R: 64, K: 8, P: 32, F: 32 },
  imageSize: 16,
  extrapolation: 8,
  listopsDepth: 4,
  seeds: [0, 1, 2],
  supportSeeds: 1,
};

/**
 * The peak learning rate of each task family at `small`, chosen by the committed sweep
 * (`data/summaries/small/lr-sweep.txt`: `rpelab sweep-lr`, seed 0, two rows per experiment, 3e-3,
 * 1e-2, 3e-2 and, for the language families, 1e-1; the rate with the best mean rank on the
 * validation metric). Retrieval sits at chance at every rate, so the sweep cannot choose its rate:
 * it keeps 1e-2. The cosine schedule decays to a tenth of the peak.
 */
export const SMALL_PEAK_LR: Record<TaskKind, number> = {
  'causal-lm': 3e-2,
  'masked-lm': 3e-2,
  classification: 1e-2,
  retrieval: 1e-2,
  extrapolation: 3e-2,
  'pe-quality': 3e-2,
  continuation: 3e-2,
};

/** `base` with `steps` updates, the cosine schedule (peak `lr`, default the base's) stretched to match, and two validations. */
function withSteps(base: ScaleSettings, steps: number, over: Partial<ScaleSettings>, peak?: number): ScaleSettings {
  const warmup = Math.max(1, Math.round(steps / 10));
  const lr = peak ?? (base.schedule.kind === 'cosine' ? base.schedule.lr : 1e-2);
  return withSettings(base, {
    steps,
    evalEvery: Math.max(1, Math.round(steps / 2)),
    schedule: { kind: 'cosine', lr, warmup, decaySteps: steps, floor: lr / 10 },
    ...over,
  });
}

/** A quick preset with `steps` updates. */
export function quickWithSteps(steps: number, over: Partial<ScaleSettings> = {}): ScaleSettings {
  return withSteps(QUICK, steps, over);
}

/** A small preset for a task of family `task` (its peak learning rate, SMALL_PEAK_LR) with `steps` updates. */
export function smallWithSteps(task: TaskKind, steps: number, over: Partial<ScaleSettings> = {}): ScaleSettings {
  return withSteps(SMALL, steps, over, SMALL_PEAK_LR[task]);
}
