/**
 * Progress events of a training run, a pure one-line formatter for them, and a
 * smoothed throughput / ETA estimator. The library emits events; callers (CLI,
 * notebooks, benchmarks) decide whether and how to print them.
 */
import { assertNumber } from '../backend';

interface At {
  /** Updates completed. */
  step: number;
  totalSteps: number;
}

/** Everything `train` reports through `onProgress`. */
export type ProgressEvent =
  | (At & { kind: 'start'; resumedFrom: string | null })
  | (At & {
      kind: 'step';
      /** Mean training loss over the steps since the previous 'step' event. */
      loss: number;
      /** Learning rate of the last update. */
      lr: number;
      /** Pre-clip global gradient norm of the last update. */
      gradNorm: number;
      /** Smoothed throughput; absent when the batches report no token count. */
      tokensPerSec?: number;
      /** Smoothed estimate of the time to `totalSteps`, in seconds. */
      etaSec?: number;
      elapsedSec: number;
    })
  | (At & { kind: 'eval'; metrics: Record<string, number> })
  | (At & { kind: 'checkpoint'; path: string })
  /** Something the run did that a reader must know of (e.g. a corrupt checkpoint skipped on resume). */
  | (At & { kind: 'warning'; message: string })
  | (At & { kind: 'done'; aborted: boolean; elapsedSec: number });

/** 72 -> "1m12s", 5 -> "5s", 3725 -> "1h02m", 0.4 -> "0s". */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  const m = Math.round(s / 60);
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** 5123 -> "5.1k", 950 -> "950", 2.3e6 -> "2.3M", 12.34 -> "12.3". */
export function formatCount(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1e9) return `${(x / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${(x / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return a >= 100 ? x.toFixed(0) : String(Number(x.toPrecision(3)));
}

/** Short scientific form for learning rates: 3e-4, 2.5e-4, 1e-7; 0 -> "0". */
export function formatLr(x: number): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return String(x);
  const [mant, exp] = x.toExponential(2).split('e');
  return `${String(Number(mant))}e${Number(exp)}`;
}

/** A value with three significant digits: 2.3102 -> "2.31", 0.012345 -> "0.0123". */
function sig3(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return String(Number(x.toPrecision(3)));
}

/** "[####......]" for step/total with `width` cells. */
export function progressBar(step: number, total: number, width = 10): string {
  const filled = total > 0 ? Math.max(0, Math.min(width, Math.floor((width * step) / total))) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/**
 * One line of text for an event, e.g.
 * `step 120/500 [##........] loss 2.31 lr 3e-4 |g| 0.82 tok/s 5.1k ETA 1m12s`.
 */
export function formatProgress(ev: ProgressEvent): string {
  const at = `${ev.step}/${ev.totalSteps}`;
  switch (ev.kind) {
    case 'start':
      return ev.resumedFrom ? `resume at step ${at} from ${ev.resumedFrom}` : `start at step ${at}`;
    case 'step': {
      const parts = [`step ${at}`, progressBar(ev.step, ev.totalSteps), `loss ${sig3(ev.loss)}`, `lr ${formatLr(ev.lr)}`, `|g| ${sig3(ev.gradNorm)}`];
      if (ev.tokensPerSec !== undefined) parts.push(`tok/s ${formatCount(ev.tokensPerSec)}`);
      if (ev.etaSec !== undefined) parts.push(`ETA ${formatDuration(ev.etaSec)}`);
      return parts.join(' ');
    }
    case 'eval':
      return [`eval step ${at}`, ...Object.entries(ev.metrics).map(([k, v]) => `${k} ${sig3(v)}`)].join(' ');
    case 'checkpoint':
      return `checkpoint step ${at} -> ${ev.path}`;
    case 'warning':
      return `warning at step ${at}: ${ev.message}`;
    case 'done':
      return `${ev.aborted ? 'stopped' : 'done'} at step ${at} in ${formatDuration(ev.elapsedSec)}`;
    default:
      throw new Error(`ev.kind: expected 'start', 'step', 'eval', 'checkpoint', 'warning' or 'done', got ${JSON.stringify((ev as { kind?: unknown }).kind)}`);
  }
}

/**
 * Smoothed throughput and ETA. Each `update` reports an interval (steps done,
 * tokens processed, seconds taken); rates are ratios of exponential moving
 * averages of those sums, so intervals of any length combine correctly and the
 * first interval is not biased toward zero.
 */
export class Throughput {
  private steps = 0;
  private tokens = 0;
  private seconds = 0;

  /** @param smoothing weight of the newest interval, in (0, 1]; 1 = no smoothing. */
  constructor(readonly smoothing = 0.3) {
    assertNumber(smoothing, 'smoothing', { positive: true, max: 1 });
  }

  update(steps: number, tokens: number, seconds: number): void {
    assertNumber(steps, 'steps', { min: 0 });
    assertNumber(tokens, 'tokens', { min: 0 });
    assertNumber(seconds, 'seconds', { min: 0 });
    const a = this.seconds === 0 && this.steps === 0 ? 1 : this.smoothing;
    this.steps = (1 - a) * this.steps + a * steps;
    this.tokens = (1 - a) * this.tokens + a * tokens;
    this.seconds = (1 - a) * this.seconds + a * seconds;
  }

  /** Smoothed tokens per second, or undefined before any timed interval. */
  tokensPerSec(): number | undefined {
    return this.seconds > 0 ? this.tokens / this.seconds : undefined;
  }

  /** Smoothed seconds per step, or undefined before any step. */
  secondsPerStep(): number | undefined {
    return this.steps > 0 ? this.seconds / this.steps : undefined;
  }

  /** Estimated seconds for `stepsLeft` more steps. */
  eta(stepsLeft: number): number | undefined {
    const sps = this.secondsPerStep();
    return sps === undefined ? undefined : sps * Math.max(0, stepsLeft);
  }
}
