/**
 * From a request ("these experiments, this scale, these seeds, these variants") to the list of
 * runs, each with its resolved settings, attention spec and result directory. Everything that
 * can be wrong with a request is found here, before any training starts; every error lists the
 * valid choices.
 *
 * Result layout: `<resultsDir>/<experiment>/<scale>/<variant>/seed-<n>/` holding config.json,
 * metrics.jsonl, summary.json (when finished) and checkpoints/. A scale with overrides gets its
 * own directory, `<scale>+<key>=<value>,...`, so a changed setting never reuses other results.
 */
import * as path from 'path';
import { SCALES, type ExperimentDefinition, type ScaleName, type ScaleOverrides, type ScaleSettings, type VariantDefinition } from './types';
import { getExperiment, listExperiments, resolveSpec, validateSettings, experimentNames, checkKnobs } from './registry';
import { specKnobs } from '../attention/spec';
import { claimRows } from './claim-list';

/** What to run. */
export interface RunRequest {
  /** Experiment names, or 'all'. */
  experiments: string[] | 'all';
  /** Default 'small'. */
  scale?: string;
  /** Default: the scale's seeds. */
  seeds?: number[];
  /** Only these variants (each must exist in at least one requested experiment). */
  only?: string[];
  /** Settings replaced for this request (results go to a separate scale directory). */
  overrides?: ScaleOverrides;
  /** Default `defaultResultsDir()`. */
  resultsDir?: string;
  /**
   * 'i/n': only the i-th of n disjoint slices of the runs (`shardOf`), so that n machines (a
   * Slurm job array, say) writing to one shared results directory run every run exactly once.
   */
  shard?: string;
}

/** One training run. */
export interface RunPlan {
  experiment: ExperimentDefinition;
  variantName: string;
  variant: VariantDefinition;
  scale: ScaleName;
  /** Directory name of the scale (with overrides, if any). */
  scaleDir: string;
  settings: ScaleSettings;
  seed: number;
  /** Resolved attention spec. */
  spec: string;
  dir: string;
}

/** `<repo>/data/results`, or `$RPELAB_RESULTS_DIR`. */
export function defaultResultsDir(): string {
  const env = process.env.RPELAB_RESULTS_DIR;
  if (env != null && env !== '') return path.resolve(env);
  return path.resolve(__dirname, '..', '..', 'data', 'results');
}

/** Checks a scale name; an unknown one throws, listing the scales. */
export function checkScale(scale: unknown): ScaleName {
  if (!(SCALES as readonly unknown[]).includes(scale)) throw new Error(`scale: unknown scale ${JSON.stringify(scale)}; expected one of ${SCALES.join(', ')}`);
  return scale as ScaleName;
}

/** Checks seeds: a non-empty list of distinct integers in [0, 2^32). */
export function checkSeeds(seeds: unknown): number[] {
  const ok = Array.isArray(seeds) && seeds.length > 0 && seeds.every((s) => typeof s === 'number' && Number.isInteger(s) && s >= 0 && s <= 0xffffffff);
  if (!ok) throw new Error(`seeds: expected a non-empty list of integers in [0, 4294967295], like 0,1,2; got ${JSON.stringify(seeds)}`);
  if (new Set(seeds as number[]).size !== (seeds as number[]).length) throw new Error(`seeds: expected distinct seeds, got ${JSON.stringify(seeds)}`);
  return seeds as number[];
}

const OVERRIDABLE = [
  'model',
  'numLayers',
  'numHeads',
  'hidden',
  'dropout',
  'length',
  'batchSize',
  'steps',
  'evalEvery',
  'evalSize',
  'trainSize',
  'imageSize',
  'extrapolation',
  'listopsDepth',
  'weightDecay',
  'beta2',
  'clipNorm',
  'schedule',
] as const;

/** The settings of `scale` with `overrides` applied (unknown keys throw, listing the valid ones). */
export function applyOverrides(base: ScaleSettings, overrides: ScaleOverrides | undefined): ScaleSettings {
  if (!overrides) return base;
  const out: ScaleSettings = { ...base, encoding: { ...base.encoding } };
  for (const [k, v] of Object.entries(overrides)) {
    if (k === 'encoding') {
      checkKnobs(v, 'overrides.encoding');
      Object.assign(out.encoding, v);
    } else if (k === 'lr') {
      if (!(typeof v === 'number' && v > 0 && v < 1)) throw new Error(`overrides.lr: expected a learning rate in (0, 1), got ${String(v)}`);
      continue;
    } else if ((OVERRIDABLE as readonly string[]).includes(k)) {
      (out as unknown as Record<string, unknown>)[k] = v;
    } else {
      throw new Error(
        `overrides: unknown setting '${k}'; expected one of lr, ${OVERRIDABLE.join(', ')}, or an encoding knob in overrides.encoding (${[...specKnobs().keys()].join(', ')})`,
      );
    }
  }
  // A peak learning rate scales the whole schedule (its floor / end keep their ratio to the peak).
  if (overrides.lr !== undefined) {
    const s = out.schedule;
    const ratio = overrides.lr / s.lr;
    out.schedule = { ...s, lr: overrides.lr };
    if (s.kind === 'cosine' && s.floor !== undefined) out.schedule = { ...s, lr: overrides.lr, floor: s.floor * ratio };
    if (s.kind === 'polynomial' && s.end !== undefined) out.schedule = { ...s, lr: overrides.lr, end: s.end * ratio };
  }
  // A shorter run keeps a schedule that ends with it.
  if (overrides.steps !== undefined && overrides.schedule === undefined) {
    const s = out.schedule;
    if (s.kind === 'cosine') out.schedule = { ...s, warmup: Math.min(s.warmup, Math.max(1, Math.floor(out.steps / 10))), decaySteps: out.steps };
    if (s.kind === 'polynomial') out.schedule = { ...s, warmup: Math.min(s.warmup, Math.max(1, Math.floor(out.steps / 10))), total: out.steps };
  }
  return out;
}

/** `small` or `small+R=4,steps=20`: the directory of a scale with overrides. */
export function scaleDirName(scale: ScaleName, overrides: ScaleOverrides | undefined): string {
  if (!overrides || Object.keys(overrides).length === 0) return scale;
  const flat: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(overrides)) {
    if (k === 'encoding') for (const [ek, ev] of Object.entries(v as object)) flat.push([ek, ev]);
    else flat.push([k, typeof v === 'object' ? JSON.stringify(v) : v]);
  }
  flat.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${scale}+${flat.map(([k, v]) => `${k}=${String(v).replace(/[^\w.\-]/g, '_')}`).join(',')}`;
}

/** The experiments a request names ('all' = every registered one). Unknown names throw, listing the choices. */
export function requestedExperiments(names: string[] | 'all'): ExperimentDefinition[] {
  if (names === 'all') return listExperiments();
  if (!Array.isArray(names) || names.length === 0)
    throw new Error(`experiments: expected 'all' or a non-empty list of names; choices: ${experimentNames().join(', ')}`);
  if (names.includes('all')) return listExperiments();
  return names.map((n) => getExperiment(n));
}

/**
 * Validates a request completely and lists its runs, seed-major: every experiment and variant
 * at its first seed, then at its second, and so on, so that an interrupted sweep leaves every
 * table with fewer seeds rather than some tables complete and others empty. Rows that no claim
 * compares run the scale's first `supportSeeds` seeds (all of them without that setting, or
 * with an explicit `req.seeds`).
 * Throws (before anything is trained) on an unknown experiment, scale or variant, bad seeds,
 * or settings that cannot work (R < 1, a conv kernel longer than the sequence, ...).
 */
export function planRuns(req: RunRequest): RunPlan[] {
  const defs = requestedExperiments(req.experiments);
  const scale = checkScale(req.scale ?? 'small');
  if (req.seeds !== undefined) checkSeeds(req.seeds);
  const only = req.only;
  if (only !== undefined) {
    if (!Array.isArray(only) || only.length === 0) throw new Error('only: expected a non-empty list of variant names');
    const known = new Set(defs.flatMap((d) => Object.keys(d.variants)));
    for (const v of only) {
      if (!known.has(v)) {
        throw new Error(
          `only: unknown variant '${v}' for ${defs.length === 1 ? `experiment '${defs[0].name}'` : 'the requested experiments'}; expected one of ${[...known].join(', ')}`,
        );
      }
    }
  }
  const root = req.resultsDir ?? defaultResultsDir();
  const scaleDir = scaleDirName(scale, req.overrides);
  const plans: RunPlan[] = [];
  for (const def of defs) {
    const settings = applyOverrides(def.scales[scale], req.overrides);
    validateSettings(def, scaleDir, settings);
    const claimed = claimRows(def.name);
    for (const [variantName, variant] of Object.entries(def.variants)) {
      if (only && !only.includes(variantName)) continue;
      const support = settings.supportSeeds !== undefined && !claimed.has(variantName);
      const seeds = req.seeds ?? (support ? settings.seeds.slice(0, settings.supportSeeds) : settings.seeds);
      for (const seed of seeds) {
        plans.push({
          experiment: def,
          variantName,
          variant,
          scale,
          scaleDir,
          settings,
          seed,
          spec: resolveSpec(variant.attention, settings.encoding),
          dir: path.join(root, def.name, scaleDir, variantName, `seed-${seed}`),
        });
      }
    }
  }
  // Seed-major: by the seed's index in its experiment's seed list, then in definition order.
  const rank = (p: RunPlan) => (req.seeds ?? p.settings.seeds).indexOf(p.seed);
  const ordered = plans
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i)
    .map(({ p }) => p);
  return req.shard !== undefined ? shardOf(ordered, req.shard) : ordered;
}

/**
 * The `index`-th (1-based) of `count` disjoint slices of `plans`, taken round-robin so every
 * slice gets a similar mix of experiments; together the slices are exactly `plans`.
 * @param shard 'i/n', e.g. '2/3'
 */
export function shardOf<T>(plans: T[], shard: string): T[] {
  const m = /^(\d+)\/(\d+)$/.exec(shard.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!(Number.isInteger(count) && count >= 1 && Number.isInteger(index) && index >= 1 && index <= count)) {
    throw new Error(`shard: expected i/n with 1 <= i <= n, like 2/3; got '${shard}'`);
  }
  return plans.filter((_, k) => k % count === index - 1);
}

/** What `remainingWork` predicts for a plan. */
export interface RemainingWork {
  /** Runs with a summary, and their measured training + testing seconds. */
  finished: number;
  finishedSec: number;
  /** Unfinished runs of rows with a finished run, and their predicted seconds. */
  predicted: number;
  predictedSec: number;
  /** Unfinished runs of rows none of whose runs has finished (no prediction). */
  unknown: number;
}

/**
 * The training + testing seconds a plan still needs: each unfinished run is predicted by the
 * mean `trainSec + evalSec` of the finished runs of the same experiment, scale directory and row
 * (other seeds of the same configuration). Runs are seed-major, so once every row has one finished
 * seed, every remaining run has a prediction. Worker start-up and data loading are not counted.
 * @param timeOf a run directory -> its measured seconds, or null when unfinished
 */
export function remainingWork(plans: RunPlan[], timeOf: (dir: string) => number | null): RemainingWork {
  const byRow = new Map<string, number[]>();
  const rowOf = (p: RunPlan) => `${p.experiment.name}/${p.scaleDir}/${p.variantName}`;
  const times = plans.map((p) => timeOf(p.dir));
  plans.forEach((p, i) => {
    if (times[i] !== null) byRow.set(rowOf(p), [...(byRow.get(rowOf(p)) ?? []), times[i]!]);
  });
  const out: RemainingWork = { finished: 0, finishedSec: 0, predicted: 0, predictedSec: 0, unknown: 0 };
  plans.forEach((p, i) => {
    const t = times[i];
    if (t !== null) {
      out.finished++;
      out.finishedSec += t;
      return;
    }
    const seen = byRow.get(rowOf(p));
    if (!seen) {
      out.unknown++;
      return;
    }
    out.predicted++;
    out.predictedSec += seen.reduce((a, b) => a + b, 0) / seen.length;
  });
  return out;
}
