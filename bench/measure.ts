/**
 * Measuring one benchmark point: wall time of repeated calls, the peak process RSS
 * sampled during them (by a worker thread, since tfjs calls on wasm/cpu block the main
 * thread), and the peak of tf.memory() bytes with a per-kernel time breakdown from one
 * tf.profile pass.
 */
import { Worker } from 'worker_threads';
import { tf } from '../src/backend';
import { median } from './stats';

/** Bytes per MB (all memory figures are MiB, 2^20 bytes). */
export const MiB = 1024 * 1024;

/**
 * Samples process RSS every `intervalMs` in a worker thread and keeps the maximum (KiB)
 * in shared memory, so the peak is seen even while the main thread is busy.
 */
export class RssSampler {
  private readonly peakKiB = new Int32Array(new SharedArrayBuffer(4));
  private readonly worker: Worker;

  constructor(intervalMs = 5) {
    const code = `
      const { workerData } = require('worker_threads');
      const peak = new Int32Array(workerData.buffer);
      setInterval(() => {
        const kib = Math.round(process.memoryUsage.rss() / 1024);
        if (kib > Atomics.load(peak, 0)) Atomics.store(peak, 0, kib);
      }, ${intervalMs});`;
    this.worker = new Worker(code, { eval: true, workerData: { buffer: this.peakKiB.buffer } });
    this.worker.unref();
  }

  /** Starts a new peak window at the current RSS. */
  reset(): void {
    Atomics.store(this.peakKiB, 0, Math.round(process.memoryUsage.rss() / 1024));
  }

  /** Peak RSS (MB) since the last reset, including the current value. */
  peakMB(): number {
    const now = Math.round(process.memoryUsage.rss() / 1024);
    return Math.max(Atomics.load(this.peakKiB, 0), now) / 1024;
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

/** Time of one kernel name summed over a profiled call. */
export interface KernelTime {
  name: string;
  ms: number;
  calls: number;
}

export interface ProfileResult {
  /** Peak of tf.memory().numBytes during the call, MB. */
  tensorPeakMB: number;
  /** tf.memory().numBytes before the call, MB (so peak − start is what the call added). */
  tensorStartMB: number;
  /** Largest kernel totals, descending. */
  kernels: KernelTime[];
  /** Sum of all kernel times, ms (the rest of the wall time is JavaScript overhead). */
  kernelMs: number;
}

/** Runs `fn` once under tf.profile. */
export async function profileCall(fn: () => void, topKernels: number): Promise<ProfileResult> {
  const start = tf.memory().numBytes;
  const info = await tf.profile(() => {
    fn();
  });
  const by = new Map<string, KernelTime>();
  let kernelMs = 0;
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    kernelMs += ms;
    const e = by.get(k.name) ?? { name: k.name, ms: 0, calls: 0 };
    e.ms += ms;
    e.calls += 1;
    by.set(k.name, e);
  }
  const kernels = [...by.values()]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, topKernels)
    .map((k) => ({ ...k, ms: round(k.ms, 2) }));
  const peak = info.kernels.length ? info.peakBytes : start;
  return { tensorPeakMB: round(Math.max(peak, start) / MiB, 2), tensorStartMB: round(start / MiB, 2), kernels, kernelMs: round(kernelMs, 1) };
}

export interface TimingResult {
  /** Wall time of every timed call, ms. */
  ms: number[];
  msMedian: number;
  /**
   * Process CPU time (user + system, all threads) of each timed call, ms. On a machine shared
   * with other jobs the wall time stretches while the CPU time mostly does not.
   */
  cpuMs: number[];
  cpuMsMedian: number;
  /** Peak RSS during the timed calls, MB. */
  rssPeakMB: number;
  /** RSS before the timed calls, MB. */
  rssBeforeMB: number;
}

/**
 * Times `reps` calls of `fn` (synchronous tfjs work; every call must dispose what it makes).
 * Stops early once `maxSeconds` have been spent (at least one call is always timed).
 */
export function timeCalls(fn: () => void, reps: number, maxSeconds: number, rss: RssSampler): TimingResult {
  const ms: number[] = [];
  const cpuMs: number[] = [];
  const rssBeforeMB = process.memoryUsage.rss() / MiB;
  rss.reset();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const c = process.cpuUsage();
    const s = performance.now();
    fn();
    ms.push(performance.now() - s);
    const dc = process.cpuUsage(c);
    cpuMs.push((dc.user + dc.system) / 1000);
    if ((performance.now() - t0) / 1000 > maxSeconds) break;
  }
  return {
    ms: ms.map((x) => round(x, 2)),
    msMedian: round(median(ms), 2),
    cpuMs: cpuMs.map((x) => round(x, 2)),
    cpuMsMedian: round(median(cpuMs), 2),
    rssPeakMB: round(rss.peakMB(), 1),
    rssBeforeMB: round(rssBeforeMB, 1),
  };
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
