/**
 * Learning-rate schedules as pure functions of the step.
 *
 * Convention: `schedule(t)` is the learning rate of update t, where t counts the
 * updates already applied (0 for the first update). This is the step Flax (LRA),
 * fairseq and PyTorch's LambdaLR pass to their schedules, so the formulas below
 * are the papers' formulas unchanged.
 *
 * Schedules are also describable as plain data (`ScheduleConfig`), so a run's
 * config can be saved in its checkpoint and rebuilt with `makeSchedule`.
 */
import { assertInt, assertNumber } from '../backend';

/** Learning rate of update t (t = 0, 1, 2, ...). */
export type Schedule = (t: number) => number;

function checkStep(t: number): void {
  assertInt(t, 't', 0);
}

/** lr at every step. */
export function constantLr(lr: number): Schedule {
  assertNumber(lr, 'lr', { min: 0 });
  return (t) => {
    checkStep(t);
    return lr;
  };
}

/**
 * The LRA schedule `constant * linear_warmup * rsqrt_decay` (SPE §8.1):
 * lr · min(1, t/w) / √max(t, w). The peak, at t = w, is lr/√w; lr(0) = 0.
 */
export function rsqrtWarmup(opts: { lr: number; warmup: number }): Schedule {
  const { lr, warmup: w } = opts;
  assertNumber(lr, 'lr', { min: 0 });
  assertInt(w, 'warmup', 1);
  return (t) => {
    checkStep(t);
    return (lr * Math.min(1, t / w)) / Math.sqrt(Math.max(t, w));
  };
}

/**
 * Linear warmup from 0 to `lr` over `warmup` updates, then a half cosine from `lr`
 * down to `floor` over the next `decaySteps` updates, then `floor`:
 *   t < w:            lr · t / w
 *   w ≤ t < w + T:    floor + (lr − floor) · (1 + cos(π (t − w) / T)) / 2
 *   t ≥ w + T:        floor
 * SPE pop piano: lr 2e-4, w 200, T 55 020, floor 5e-6; groove: 4e-4, 1000, 43 184, 2e-5
 * (there the cosine's T_max also counts from the end of warmup). LRA Image uses floor 0.
 * Unlike PyTorch's closed form we stay at the floor after T instead of rising again.
 */
export function cosineWarmup(opts: { lr: number; warmup: number; decaySteps: number; floor?: number }): Schedule {
  const { lr, warmup: w, decaySteps: T } = opts;
  const floor = opts.floor ?? 0;
  assertNumber(lr, 'lr', { min: 0 });
  assertInt(w, 'warmup', 0);
  assertInt(T, 'decaySteps', 1);
  assertNumber(floor, 'floor', { min: 0, max: lr });
  return (t) => {
    checkStep(t);
    if (t < w) return (lr * t) / w;
    const p = Math.min(1, (t - w) / T);
    return floor + ((lr - floor) * (1 + Math.cos(Math.PI * p))) / 2;
  };
}

/**
 * fairseq `inverse_sqrt` with `--warmup-init-lr`: a linear ramp from `warmupInitLr`
 * to `lr` over `warmup` updates, then lr · √w / √t.
 * LRPE-group ALM scripts: lr 5e-4, warmup 4k–8k, warmupInitLr 1e-7.
 */
export function inverseSqrt(opts: { lr: number; warmup: number; warmupInitLr?: number }): Schedule {
  const { lr, warmup: w } = opts;
  const init = opts.warmupInitLr ?? 0;
  assertNumber(lr, 'lr', { min: 0 });
  assertInt(w, 'warmup', 1);
  assertNumber(init, 'warmupInitLr', { min: 0 });
  return (t) => {
    checkStep(t);
    if (t < w) return init + ((lr - init) * t) / w;
    return (lr * Math.sqrt(w)) / Math.sqrt(t);
  };
}

/**
 * fairseq `polynomial_decay` (RoBERTa / the LRPE BLM runs): linear warmup from 0 to
 * `lr` over `warmup` updates, then (lr − end)·(1 − (t − w)/(total − w))^power + end,
 * and `end` from `total` on.
 */
export function polynomialDecay(opts: { lr: number; warmup: number; total: number; end?: number; power?: number }): Schedule {
  const { lr, warmup: w, total } = opts;
  const end = opts.end ?? 0;
  const power = opts.power ?? 1;
  assertNumber(lr, 'lr', { min: 0 });
  assertInt(w, 'warmup', 0);
  assertInt(total, 'total', w + 1);
  assertNumber(end, 'end', { min: 0, max: lr });
  assertNumber(power, 'power', { positive: true });
  return (t) => {
    checkStep(t);
    if (t < w) return (lr * t) / w;
    if (t >= total) return end;
    return (lr - end) * (1 - (t - w) / (total - w)) ** power + end;
  };
}

/** A schedule as plain data (for configs and checkpoints). */
export type ScheduleConfig =
  | { kind: 'constant'; lr: number }
  | { kind: 'rsqrt'; lr: number; warmup: number }
  | { kind: 'cosine'; lr: number; warmup: number; decaySteps: number; floor?: number }
  | { kind: 'inverse_sqrt'; lr: number; warmup: number; warmupInitLr?: number }
  | { kind: 'polynomial'; lr: number; warmup: number; total: number; end?: number; power?: number };

/** Builds the schedule a `ScheduleConfig` describes. */
export function makeSchedule(cfg: ScheduleConfig): Schedule {
  switch (cfg?.kind) {
    case 'constant':
      return constantLr(cfg.lr);
    case 'rsqrt':
      return rsqrtWarmup(cfg);
    case 'cosine':
      return cosineWarmup(cfg);
    case 'inverse_sqrt':
      return inverseSqrt(cfg);
    case 'polynomial':
      return polynomialDecay(cfg);
    default:
      throw new Error(
        `cfg.kind: expected one of 'constant', 'rsqrt', 'cosine', 'inverse_sqrt', 'polynomial', got ${JSON.stringify((cfg as { kind?: unknown })?.kind)}`,
      );
  }
}
