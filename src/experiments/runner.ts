/**
 * The runner: trains the runs of a request one after another.
 *
 * - A run whose summary.json exists is finished and never recomputed.
 * - An interrupted run resumes from its newest checkpoint (the training loop restores weights,
 *   optimiser, generators and logs), provided its config.json still matches.
 * - Progress reaches the caller as `RunnerEvent`s; aborting `signal` stops the current run after
 *   a checkpoint and skips the rest. Nothing here prints.
 */
import * as fs from 'fs';
import * as path from 'path';
import { backendInfo } from '../backend';
import { AdamW, DivergenceError, describeDifference, differingKeys, makeSchedule, train, type ProgressEvent } from '../train';
import { buildTask, type TaskResult } from './tasks';
import { planRuns, type RunPlan, type RunRequest } from './plan';

/** The identity of a run, as events and summaries carry it. */
export interface RunInfo {
  experiment: string;
  variant: string;
  scale: string;
  seed: number;
  dir: string;
}

/**
 * What summary.json holds. A run that diverged (a non-finite loss or gradient during training)
 * is a result too: it is written with status 'diverged', the step and the reason, and reports
 * count it; it is not retried (the same seed diverges again).
 */
export interface RunSummary extends RunInfo {
  label: string;
  spec: string;
  ape: string;
  status: 'finished' | 'diverged';
  /** Final metrics (empty for a diverged run). JSON stores a non-finite value as null: readers check. */
  metrics: Record<string, number>;
  /** Diverged runs: the update whose loss or gradient was not finite, and the message. */
  diverged?: { step: number; reason: string };
  curves?: Record<string, number[]>;
  steps: number;
  /** Training time over all sessions of the run (s). */
  trainSec: number;
  /** Final evaluation time (s). */
  evalSec: number;
  parameters: number;
  backend: string | null;
  /** Whether rpelab's native kernels ran (see `backend/native.ts`); absent in older summaries. */
  nativeKernels?: boolean;
  finishedAt: string;
}

export type RunnerEvent =
  | { kind: 'plan'; runs: RunInfo[] }
  | { kind: 'run-skip'; run: RunInfo; index: number; total: number; reason: 'finished' | 'diverged' }
  | { kind: 'run-start'; run: RunInfo; index: number; total: number; steps: number }
  | { kind: 'progress'; run: RunInfo; index: number; total: number; event: ProgressEvent }
  | { kind: 'run-test'; run: RunInfo; index: number; total: number }
  | { kind: 'run-end'; run: RunInfo; index: number; total: number; summary: RunSummary }
  | { kind: 'run-diverged'; run: RunInfo; index: number; total: number; summary: RunSummary }
  | { kind: 'run-stopped'; run: RunInfo; index: number; total: number; step: number };

export interface RunnerOptions {
  onEvent?: (ev: RunnerEvent) => void;
  /** Abort to stop cleanly: the current run checkpoints, later runs are not started. */
  signal?: AbortSignal;
}

export interface RunnerOutcome {
  finished: RunSummary[];
  /** Runs that diverged in this call (written with status 'diverged'). */
  diverged: RunSummary[];
  skipped: RunInfo[];
  /** The run that was stopped by the signal, if any. */
  stopped: RunInfo | null;
  wallSec: number;
}

export const SUMMARY_FILE = 'summary.json';
export const CONFIG_FILE = 'config.json';
export const METRICS_FILE = 'metrics.jsonl';
export const CHECKPOINT_DIR = 'checkpoints';

function info(p: RunPlan): RunInfo {
  return { experiment: p.experiment.name, variant: p.variantName, scale: p.scaleDir, seed: p.seed, dir: p.dir };
}

/** The plain-data configuration of a run, as written to config.json. */
export function runConfig(p: RunPlan, model: unknown): Record<string, unknown> {
  return {
    experiment: p.experiment.name,
    paper: p.experiment.paper,
    task: p.experiment.task,
    dataset: p.experiment.dataset,
    variant: p.variantName,
    label: p.variant.label,
    scale: p.scaleDir,
    seed: p.seed,
    spec: p.spec,
    ape: p.variant.ape,
    grid: p.variant.grid ?? false,
    settings: p.settings,
    model,
  };
}

/**
 * The keys in which the config.json stored in a run directory differs from the plan (everything
 * the plan decides: experiment, variant, spec, APE, settings, seed; the model block follows from
 * those and the data); empty when it matches or there is none.
 */
export function storedConfigDifference(p: RunPlan): string[] {
  const file = path.join(p.dir, CONFIG_FILE);
  if (!fs.existsSync(file)) return [];
  let stored: Record<string, unknown>;
  try {
    stored = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return ['(unreadable config.json)'];
  }
  const { model: _m, ...storedPlan } = stored;
  const { model: _p, ...plan } = runConfig(p, null);
  return differingKeys(JSON.parse(JSON.stringify(storedPlan)), JSON.parse(JSON.stringify(plan)));
}

/**
 * Throws when any run directory of `plans` holds a run made with another configuration (the
 * definition or the scale changed since): such results must never be reused. One message for
 * all of them, naming how many, the first few with their differing keys, and what to do.
 */
export function checkStoredConfigs(plans: RunPlan[]): void {
  const stale = plans.map((p) => ({ dir: p.dir, keys: storedConfigDifference(p) })).filter((x) => x.keys.length > 0);
  if (stale.length === 0) return;
  const shown = stale
    .slice(0, 3)
    .map((x) => `${x.dir} (differs in ${x.keys.join(', ')})`)
    .join('; ');
  throw new Error(
    `${stale.length} run director${stale.length === 1 ? 'y holds a run' : 'ies hold runs'} made with another configuration, whose results are not reused: ${shown}` +
      `${stale.length > 3 ? `; and ${stale.length - 3} more` : ''}. Move them aside (or delete them) to train with the current definitions, or pass another --results directory`,
  );
}

function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

/** The summary of a finished run in `dir`, or null. */
export function readSummary(dir: string): RunSummary | null {
  const f = path.join(dir, SUMMARY_FILE);
  if (!fs.existsSync(f)) return null;
  return JSON.parse(fs.readFileSync(f, 'utf8')) as RunSummary;
}

/** Trains one run to completion (or until `signal` aborts). Returns its summary, or null if stopped. */
async function runOne(p: RunPlan, index: number, total: number, opts: RunnerOptions): Promise<RunSummary | null> {
  const run = info(p);
  const emit = (ev: RunnerEvent) => opts.onEvent?.(ev);
  const task = buildTask({ experiment: p.experiment, variant: p.variant, settings: p.settings, spec: p.spec, seed: p.seed });
  const optimizer = new AdamW(task.model, { beta2: p.settings.beta2, weightDecay: p.settings.weightDecay });
  try {
    const config = runConfig(p, task.modelConfig);
    fs.mkdirSync(p.dir, { recursive: true });
    const configFile = path.join(p.dir, CONFIG_FILE);
    if (fs.existsSync(configFile)) {
      const old = JSON.parse(fs.readFileSync(configFile, 'utf8'));
      const keys = differingKeys(old, JSON.parse(JSON.stringify(config)));
      if (keys.length > 0) {
        throw new Error(
          `${configFile}: an unfinished run with a different configuration is in this directory (${describeDifference(old, config, keys)}); delete ${p.dir} to start it again`,
        );
      }
    } else writeJsonAtomic(configFile, config);

    const s = p.settings;
    emit({ kind: 'run-start', run, index, total, steps: s.steps });
    let trainSec = 0;
    const base = { ...run, label: p.variant.label, spec: p.spec, ape: p.variant.ape, parameters: task.model.numParameters() };
    const backendFields = () => ({
      backend: backendInfo()?.name ?? null,
      nativeKernels: backendInfo()?.native.active ?? false,
      finishedAt: new Date().toISOString(),
    });
    let result: Awaited<ReturnType<typeof train>>;
    try {
      result = await train({
        model: task.model,
        loss: task.loss,
        nextBatch: task.nextBatch,
        tokensIn: task.tokensIn,
        optimizer,
        schedule: makeSchedule(s.schedule),
        steps: s.steps,
        seed: p.seed,
        clipNorm: s.clipNorm,
        logEvery: Math.max(1, Math.min(10, Math.floor(s.steps / 4))),
        evalEvery: s.evalEvery,
        evaluate: () => task.validate(),
        checkpointDir: path.join(p.dir, CHECKPOINT_DIR),
        checkpointEvery: Math.max(1, Math.min(s.evalEvery, 500)),
        metricsFile: path.join(p.dir, METRICS_FILE),
        config,
        signal: opts.signal,
        onProgress: (event) => {
          if (event.kind === 'done' || event.kind === 'step') trainSec = event.elapsedSec;
          emit({ kind: 'progress', run, index, total, event });
        },
      });
    } catch (e) {
      if (!(e instanceof DivergenceError)) throw e;
      const summary: RunSummary = {
        ...base,
        status: 'diverged',
        metrics: {},
        diverged: { step: e.step, reason: e.message },
        steps: e.step,
        trainSec,
        evalSec: 0,
        ...backendFields(),
      };
      writeJsonAtomic(path.join(p.dir, SUMMARY_FILE), summary);
      emit({ kind: 'run-diverged', run, index, total, summary });
      return summary;
    }
    if (result.aborted) {
      emit({ kind: 'run-stopped', run, index, total, step: result.step });
      return null;
    }
    emit({ kind: 'run-test', run, index, total });
    const t0 = performance.now();
    // The loop validates at its last update; the test reuses those numbers rather than recompute them.
    const final: TaskResult = task.test(result.step === s.steps && result.eval ? result.eval : undefined);
    const summary: RunSummary = {
      ...base,
      status: 'finished',
      metrics: final.metrics,
      ...(final.curves ? { curves: final.curves } : {}),
      steps: result.step,
      trainSec,
      evalSec: (performance.now() - t0) / 1000,
      ...backendFields(),
    };
    writeJsonAtomic(path.join(p.dir, SUMMARY_FILE), summary);
    emit({ kind: 'run-end', run, index, total, summary });
    return summary;
  } finally {
    optimizer.dispose();
    task.model.dispose();
  }
}

/**
 * Validates `req` (throwing before any training on a bad request), then trains every run that
 * is not finished, in order.
 */
export async function runExperiments(req: RunRequest, opts: RunnerOptions = {}): Promise<RunnerOutcome> {
  const plans = planRuns(req);
  checkStoredConfigs(plans);
  const started = performance.now();
  const outcome: RunnerOutcome = { finished: [], diverged: [], skipped: [], stopped: null, wallSec: 0 };
  opts.onEvent?.({ kind: 'plan', runs: plans.map(info) });
  for (let i = 0; i < plans.length; i++) {
    const p = plans[i];
    if (opts.signal?.aborted) break;
    const done = readSummary(p.dir);
    if (done) {
      outcome.skipped.push(info(p));
      opts.onEvent?.({ kind: 'run-skip', run: info(p), index: i, total: plans.length, reason: done.status });
      continue;
    }
    const summary = await runOne(p, i, plans.length, opts);
    if (summary === null) {
      outcome.stopped = info(p);
      break;
    }
    (summary.status === 'diverged' ? outcome.diverged : outcome.finished).push(summary);
  }
  outcome.wallSec = (performance.now() - started) / 1000;
  return outcome;
}
