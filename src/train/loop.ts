/**
 * `train(cfg)`: one readable training loop for any `Module` and loss.
 *
 * Per update t = step, step+1, ..., steps−1:
 *
 *   batch = nextBatch(t, rngs.data)            data order from a checkpointed generator
 *   loss  = loss(batch, {step: t, rng: rngs.forward, training: true})
 *   grads = ∂loss/∂(trainable variables)       clipped to global norm `clipNorm` if set
 *   optimizer.apply(grads, schedule(t))
 *
 * all inside one tf.tidy, so a step leaves no tensor behind. Every `logEvery`
 * updates a 'step' progress event and a 'train' metrics record are emitted; every
 * `evalEvery` updates `evaluate()` runs; every `checkpointEvery` updates (and at
 * the end, and when `signal` aborts) a checkpoint is written.
 *
 * Resume: if `checkpointDir` holds a checkpoint, the newest one is restored
 * first (weights, optimiser state, step, generator states, log accumulators), so
 * an interrupted run reaches the same weights as an uninterrupted one, provided
 * `nextBatch` and `loss` draw randomness only from the generators they are given.
 * A checkpoint made with another configuration (steps, seed, clipping, optimiser, or
 * `cfg.config`) is refused with an Error naming the differing keys. A newest checkpoint that
 * is corrupt (its data does not match the SHA-256 in its manifest, or it is unreadable) is
 * moved aside to `corrupt-step-…` and the next older one is used; that fallback is a
 * 'checkpoint-skipped' record in the metrics file and a 'warning' progress event.
 */
import * as fs from 'fs';
import * as path from 'path';
import { tf, Rng, assertInt, assertNumber } from '../backend';
import { Module } from '../nn';
import { Optimizer, clipGradNorm, globalNorm, lossAndGrads } from './optim';
import { Schedule } from './schedule';
import { CheckpointError, checkpointDirs, readCheckpoint, restoreCheckpoint, saveCheckpoint, type CheckpointContents } from './checkpoint';
import { describeDifference, differingKeys } from './config-diff';
import { JsonlWriter, filterJsonl } from './metrics';
import { ProgressEvent, Throughput } from './progress';

/** What the loss function gets besides the batch. */
export interface StepContext {
  /** Index of the update being computed (0-based). */
  step: number;
  /** Generator for forward-time randomness (dropout masks, SPE codes, ...); checkpointed. */
  rng: Rng;
  training: true;
}

export interface TrainConfig<B> {
  model: Module;
  /** The scalar to minimise for one batch. */
  loss: (batch: B, ctx: StepContext) => tf.Scalar;
  /**
   * The batch for update `step`. Called inside the step's tf.tidy, so tensors it
   * creates are freed after the step. Draw data randomness from `rng` only.
   */
  nextBatch: (step: number, rng: Rng) => B;
  optimizer: Optimizer;
  schedule: Schedule;
  /** Total number of updates. */
  steps: number;
  /** Seeds the 'data' and 'forward' generators. */
  seed: number;
  /** Clip gradients to this global norm (SPE music runs: 0.5; LRPE ALM: none or 1.0). */
  clipNorm?: number;
  /** Tokens in a batch, for tokens/s; without it throughput is not reported. */
  tokensIn?: (batch: B) => number;
  /** Updates between 'step' events / 'train' records (default 10). */
  logEvery?: number;
  /** Updates between evaluations (and one at the end) when `evaluate` is given. */
  evalEvery?: number;
  /** Named evaluation numbers (validation loss, accuracy, ...). Must not draw from the training generators. */
  evaluate?: (step: number) => Record<string, number>;
  /** Directory for checkpoints; the run resumes from the newest one found there. */
  checkpointDir?: string;
  /** Updates between checkpoints (besides the final one and one at abort). */
  checkpointEvery?: number;
  /** Checkpoints kept on disk (default 2). */
  keepCheckpoints?: number;
  /** JSON-lines file of 'start', 'train', 'eval', 'checkpoint' and 'done' records. */
  metricsFile?: string;
  onProgress?: (ev: ProgressEvent) => void;
  /** Stops the run cleanly (after writing a checkpoint) when aborted. */
  signal?: AbortSignal;
  /** More generators to checkpoint and restore, e.g. a model's own (names other than 'data' and 'forward'). */
  rngs?: Record<string, Rng>;
  /** The run's configuration as plain data, stored in every checkpoint. */
  config?: unknown;
}

export interface TrainResult {
  /** Updates completed. */
  step: number;
  aborted: boolean;
  /** Checkpoint the run resumed from, or null. */
  resumedFrom: string | null;
  /** Last checkpoint written (or resumed from), or null. */
  checkpoint: string | null;
  /** Mean training loss of the last logged interval (NaN if none). */
  loss: number;
  /** Last evaluation, or null. */
  eval: Record<string, number> | null;
  /** Tokens processed over the whole run, including before a resume. */
  tokens: number;
}

/** Log accumulators and totals; saved in checkpoints so logs repeat across a resume too. */
interface Tally {
  tokens: number;
  elapsedSec: number;
  loss: number;
  eval: Record<string, number> | null;
  /** The open logging interval. */
  pending: { steps: number; lossSum: number; tokens: number; gradNorm: number; lr: number };
}

function freshTally(): Tally {
  return { tokens: 0, elapsedSec: 0, loss: NaN, eval: null, pending: { steps: 0, lossSum: 0, tokens: 0, gradNorm: NaN, lr: NaN } };
}

/** The tally saved in a checkpoint (JSON turned NaN into null; turn it back). */
function restoreTally(saved: unknown): Tally {
  const t = freshTally();
  if (saved == null || typeof saved !== 'object') return t;
  const s = saved as Partial<Tally>;
  const num = (x: unknown, dflt: number) => (typeof x === 'number' ? x : dflt);
  return {
    tokens: num(s.tokens, 0),
    elapsedSec: num(s.elapsedSec, 0),
    loss: num(s.loss, NaN),
    eval: s.eval ?? null,
    pending: {
      steps: num(s.pending?.steps, 0),
      lossSum: num(s.pending?.lossSum, 0),
      tokens: num(s.pending?.tokens, 0),
      gradNorm: num(s.pending?.gradNorm, NaN),
      lr: num(s.pending?.lr, NaN),
    },
  };
}

const RESERVED_RNGS = ['data', 'forward'];

function checkConfig<B>(cfg: TrainConfig<B>): void {
  if (!(cfg.model instanceof Module)) throw new Error(`cfg.model: expected a Module, got ${String(cfg.model)}`);
  for (const k of ['loss', 'nextBatch', 'schedule'] as const) {
    if (typeof cfg[k] !== 'function') throw new Error(`cfg.${k}: expected a function, got ${typeof cfg[k]}`);
  }
  if (cfg.optimizer == null || typeof cfg.optimizer.apply !== 'function') throw new Error('cfg.optimizer: expected an Optimizer (Adam, AdamW)');
  assertInt(cfg.steps, 'cfg.steps', 0);
  assertInt(cfg.seed, 'cfg.seed', 0, 0xffffffff);
  if (cfg.clipNorm !== undefined) assertNumber(cfg.clipNorm, 'cfg.clipNorm', { positive: true });
  if (cfg.logEvery !== undefined) assertInt(cfg.logEvery, 'cfg.logEvery', 1);
  if (cfg.evalEvery !== undefined) assertInt(cfg.evalEvery, 'cfg.evalEvery', 1);
  if (cfg.checkpointEvery !== undefined) assertInt(cfg.checkpointEvery, 'cfg.checkpointEvery', 1);
  if (cfg.keepCheckpoints !== undefined) assertInt(cfg.keepCheckpoints, 'cfg.keepCheckpoints', 1);
  if (cfg.checkpointEvery !== undefined && !cfg.checkpointDir) throw new Error('cfg.checkpointDir: expected a directory when cfg.checkpointEvery is set');
  for (const name of Object.keys(cfg.rngs ?? {})) {
    if (RESERVED_RNGS.includes(name)) throw new Error(`cfg.rngs: '${name}' is reserved for the loop's own generator; use another name`);
    if (!(cfg.rngs![name] instanceof Rng)) throw new Error(`cfg.rngs: '${name}' is not an Rng`);
  }
}

/** Lets timers, I/O and abort signals run between steps. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Trains `cfg.model` for `cfg.steps` updates (resuming if a checkpoint exists). */
export async function train<B>(cfg: TrainConfig<B>): Promise<TrainResult> {
  checkConfig(cfg);
  const { model, optimizer, schedule, steps } = cfg;
  const logEvery = cfg.logEvery ?? 10;
  const root = new Rng(cfg.seed);
  const rngs: Record<string, Rng> = { data: root.fork('data'), forward: root.fork('forward'), ...cfg.rngs };
  const emit = (ev: ProgressEvent) => cfg.onProgress?.(ev);

  // Resume.
  let step = 0;
  let resumedFrom: string | null = null;
  let tally = freshTally();
  const { contents, path: latest, skipped } = cfg.checkpointDir ? newestUsableCheckpoint(cfg.checkpointDir) : { contents: null, path: null, skipped: [] };
  if (contents && latest) {
    checkResumeConfig(cfg, contents, latest);
    restoreCheckpoint(contents, { model, optimizer, rngs });
    step = contents.step;
    resumedFrom = latest;
    tally = restoreTally(contents.metrics?.tally);
  }
  let lastCheckpoint: string | null = resumedFrom;
  let savedStep = resumedFrom ? step : -1;

  // Clocks: wall time of this process, plus what a resumed run had already spent.
  const started = performance.now();
  const sinceStart = () => (performance.now() - started) / 1000;

  // The metrics log: keep what the restored state has seen, drop what will be redone.
  let log: JsonlWriter | null = null;
  if (cfg.metricsFile) {
    const resumedAt = step;
    filterJsonl(cfg.metricsFile, (r) => resumedFrom !== null && typeof r.step === 'number' && r.step <= resumedAt);
    log = new JsonlWriter(cfg.metricsFile);
  }
  const record = (kind: string, fields: Record<string, unknown>) =>
    log?.append({ kind, step, ...fields, elapsedSec: round(tally.elapsedSec + sinceStart()), time: new Date().toISOString() });

  const meter = new Throughput();
  let intervalStart = performance.now();
  let intervalSteps = 0;
  let intervalTokens = 0;

  const checkpoint = () => {
    if (!cfg.checkpointDir || savedStep === step) return;
    const snapshotTally: Tally = { ...tally, elapsedSec: tally.elapsedSec + sinceStart() };
    lastCheckpoint = saveCheckpoint(
      cfg.checkpointDir,
      {
        step,
        model,
        optimizer,
        rngs,
        config: { train: trainSettings(cfg), run: cfg.config ?? null },
        metrics: { loss: tally.loss, tokens: tally.tokens, eval: tally.eval, tally: snapshotTally },
      },
      { keepLast: cfg.keepCheckpoints ?? 2 },
    );
    savedStep = step;
    record('checkpoint', { path: lastCheckpoint });
    emit({ kind: 'checkpoint', step, totalSteps: steps, path: lastCheckpoint });
  };

  try {
    for (const sk of skipped) {
      record('checkpoint-skipped', { path: sk.path, movedTo: sk.movedTo, reason: sk.reason });
      emit({
        kind: 'warning',
        step,
        totalSteps: steps,
        message: `skipped checkpoint ${sk.path} (${sk.reason}); moved to ${sk.movedTo}; ${resumedFrom ? `resumed from ${resumedFrom}` : 'starting from step 0'}`,
      });
    }
    record('start', { resumedFrom, totalSteps: steps });
    emit({ kind: 'start', step, totalSteps: steps, resumedFrom });
    let aborted = false;

    while (step < steps) {
      await yieldToEventLoop();
      if (cfg.signal?.aborted) {
        aborted = true;
        break;
      }

      // One update.
      const lr = schedule(step);
      const { loss, gradNorm, tokens } = trainStep(cfg, step, lr, rngs);
      step += 1;

      const p = tally.pending;
      p.steps += 1;
      p.lossSum += loss;
      p.tokens += tokens;
      p.gradNorm = gradNorm;
      p.lr = lr;
      tally.tokens += tokens;
      intervalSteps += 1;
      intervalTokens += tokens;

      if (step % logEvery === 0 || step === steps) {
        const now = performance.now();
        meter.update(intervalSteps, intervalTokens, (now - intervalStart) / 1000);
        intervalStart = now;
        intervalSteps = 0;
        intervalTokens = 0;
        tally.loss = p.lossSum / p.steps;
        const tokensPerSec = cfg.tokensIn ? meter.tokensPerSec() : undefined;
        const etaSec = meter.eta(steps - step);
        record('train', { loss: tally.loss, lr: p.lr, gradNorm: p.gradNorm, tokens: tally.tokens, tokensPerSec });
        emit({
          kind: 'step',
          step,
          totalSteps: steps,
          loss: tally.loss,
          lr: p.lr,
          gradNorm: p.gradNorm,
          tokensPerSec,
          etaSec,
          elapsedSec: tally.elapsedSec + sinceStart(),
        });
        tally.pending = { steps: 0, lossSum: 0, tokens: 0, gradNorm: NaN, lr: NaN };
      }

      if (cfg.evaluate && ((cfg.evalEvery !== undefined && step % cfg.evalEvery === 0) || step === steps)) {
        let metrics: Record<string, number> = {};
        tf.tidy(() => {
          metrics = cfg.evaluate!(step);
        });
        checkMetrics(metrics);
        tally.eval = metrics;
        record('eval', metrics);
        emit({ kind: 'eval', step, totalSteps: steps, metrics });
      }

      if ((cfg.checkpointEvery !== undefined && step % cfg.checkpointEvery === 0) || step === steps) checkpoint();
    }

    if (aborted) checkpoint();
    const elapsedSec = tally.elapsedSec + sinceStart();
    record('done', { aborted });
    emit({ kind: 'done', step, totalSteps: steps, aborted, elapsedSec });
    return { step, aborted, resumedFrom, checkpoint: lastCheckpoint, loss: tally.loss, eval: tally.eval, tokens: tally.tokens };
  } finally {
    log?.close();
  }
}

/**
 * Thrown by `train()` when an update's loss or gradient norm is not finite: the run diverged.
 * The weights are those before that update. Runners record such a run as diverged (it is a
 * result, not a crash) instead of dropping it.
 */
export class DivergenceError extends Error {
  constructor(
    /** The update whose loss or gradient was not finite. */
    readonly step: number,
    readonly loss: number,
    readonly gradNorm: number,
  ) {
    super(`loss: not finite at step ${step} (loss ${loss}, gradient norm ${gradNorm}); the weights are those before this update`);
    this.name = 'DivergenceError';
  }
}

/**
 * One update inside tf.tidy. Throws (before touching the weights) if the loss or
 * the gradient norm is not finite, naming the step.
 */
function trainStep<B>(cfg: TrainConfig<B>, step: number, lr: number, rngs: Record<string, Rng>): { loss: number; gradNorm: number; tokens: number } {
  let out = { loss: NaN, gradNorm: NaN, tokens: 0 };
  tf.tidy(() => {
    const batch = cfg.nextBatch(step, rngs.data);
    const tokens = cfg.tokensIn ? cfg.tokensIn(batch) : 0;
    const ctx: StepContext = { step, rng: rngs.forward, training: true };
    const { loss, grads: raw } = lossAndGrads(cfg.model, () => {
      const l = cfg.loss(batch, ctx);
      if (!(l instanceof tf.Tensor) || l.rank !== 0)
        throw new Error(`cfg.loss: expected a scalar tensor, got ${l instanceof tf.Tensor ? `shape [${l.shape.join(', ')}]` : typeof l}`);
      return l;
    });
    let grads = raw;
    let gradNorm: number;
    if (cfg.clipNorm !== undefined) ({ grads, norm: gradNorm } = clipGradNorm(raw, cfg.clipNorm));
    else gradNorm = globalNorm(raw);
    const lossValue = loss.dataSync()[0];
    if (!Number.isFinite(lossValue) || !Number.isFinite(gradNorm)) {
      throw new DivergenceError(step, lossValue, gradNorm);
    }
    cfg.optimizer.apply(grads, lr);
    out = { loss: lossValue, gradNorm, tokens };
  });
  return out;
}

const RESERVED_FIELDS = ['kind', 'step', 'elapsedSec', 'time'];

function checkMetrics(metrics: unknown): asserts metrics is Record<string, number> {
  if (metrics === null || typeof metrics !== 'object') throw new Error(`cfg.evaluate: expected an object of named numbers, got ${String(metrics)}`);
  for (const [k, v] of Object.entries(metrics)) {
    if (RESERVED_FIELDS.includes(k)) throw new Error(`cfg.evaluate: the metric name '${k}' is reserved for the metrics record; rename it`);
    if (typeof v !== 'number') throw new Error(`cfg.evaluate: metric '${k}' must be a number, got ${typeof v}`);
  }
}

/**
 * The newest checkpoint of `dir` that reads back intact. Newer ones that do not (corrupt data,
 * unreadable manifest) are renamed to `corrupt-step-…` (kept for inspection, never deleted) and
 * returned in `skipped`, newest first.
 */
function newestUsableCheckpoint(dir: string): {
  contents: CheckpointContents | null;
  path: string | null;
  skipped: Array<{ path: string; movedTo: string; reason: string }>;
} {
  const skipped: Array<{ path: string; movedTo: string; reason: string }> = [];
  // Each is read (and its checksum verified) once, newest first, until one reads back intact.
  for (const entry of checkpointDirs(dir).reverse()) {
    try {
      return { contents: readCheckpoint(entry.path), path: entry.path, skipped };
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      const movedTo = path.join(dir, `corrupt-${path.basename(entry.path)}-${Date.now()}`);
      fs.renameSync(entry.path, movedTo);
      skipped.push({ path: entry.path, movedTo, reason: e.message });
    }
  }
  return { contents: null, path: null, skipped };
}

/** What must match between a checkpoint and the run that resumes from it, as plain JSON data. */
function resumeIdentity(train: Record<string, unknown> | undefined, run: unknown): unknown {
  return JSON.parse(
    JSON.stringify({ train: { steps: train?.steps, seed: train?.seed, clipNorm: train?.clipNorm, optimizer: train?.optimizer }, run: run ?? null }),
  );
}

function checkResumeConfig<B>(cfg: TrainConfig<B>, c: CheckpointContents, ckpt: string): void {
  const saved = (c.config ?? {}) as { train?: Record<string, unknown>; run?: unknown };
  const stored = resumeIdentity(saved.train, saved.run);
  const current = resumeIdentity(trainSettings(cfg), cfg.config);
  const keys = differingKeys(stored, current);
  if (keys.length === 0) return;
  throw new Error(
    `cfg.config: the checkpoint ${ckpt} was made with another configuration (${describeDifference(stored, current, keys)}); ` +
      `resume with the configuration it was made with, or delete ${cfg.checkpointDir} to train from scratch`,
  );
}

function trainSettings<B>(cfg: TrainConfig<B>): Record<string, unknown> {
  return {
    steps: cfg.steps,
    seed: cfg.seed,
    clipNorm: cfg.clipNorm ?? null,
    logEvery: cfg.logEvery ?? 10,
    evalEvery: cfg.evalEvery ?? null,
    checkpointEvery: cfg.checkpointEvery ?? null,
    optimizer: cfg.optimizer.kind,
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
