/**
 * The layer suite: one AttentionLayer (8 heads × 64 features, batch 1; SPE with R = 64,
 * K = 10) per encoding, forward + backward (gradients of every trainable variable of
 * mean(y²)), bidirectional and causal, over growing sequence lengths.
 *
 * Lengths run in increasing order; a point is skipped when its single call is predicted
 * (from the previous points, time ∝ L for linear and L² for softmax) to exceed the time
 * budget, or its tensor memory to exceed what the backend can hold.
 */
import * as os from 'os';
import { tf, Rng } from '../../src/backend';
import { AttentionLayer } from '../../src/attention/layer';
import { quadraticSoftmaxMaxScores } from '../../src/attention/softmax';
import { hasNativeFlash } from '../../src/attention/softmax-flash';
import { LAYER_SHAPE, type EncodingCase } from '../cases';
import type { Direction } from '../args';
import { RssSampler, profileCall, timeCalls, round, type KernelTime } from '../measure';
import { fitPowerLaw } from '../stats';

export interface LayerPoint {
  encoding: string;
  spec: string;
  attention: 'linear' | 'softmax';
  direction: Direction;
  L: number;
  batch: number;
  heads: number;
  headDim: number;
  /** Wall time of each timed forward + backward, ms. */
  ms?: number[];
  msMedian?: number;
  /** Process CPU time of each timed call, ms (see `TimingResult.cpuMs`). */
  cpuMs?: number[];
  cpuMsMedian?: number;
  tokensPerSec?: number;
  rssPeakMB?: number;
  rssBeforeMB?: number;
  tensorPeakMB?: number;
  tensorStartMB?: number;
  /** Per-kernel time of the profiled (untimed) call. */
  kernels?: KernelTime[];
  kernelMs?: number;
  /** Why the point was not measured. */
  skipped?: string;
  error?: string;
}

export interface LayerSuiteOptions {
  lengths: number[];
  reps: number;
  budget: number;
  caseSeconds: number;
  topKernels: number;
  backend: string;
  log: (line: string) => void;
  /** Called before each measured point (the parent's per-point timeout restarts). */
  beat?: (point: { L: number }) => void;
}

/** Tensor memory a backend can hold, MB: wasm's heap is at most 4 GiB; cpu gets half the free RAM. */
export function memoryLimitMB(backend: string): number {
  return backend === 'wasm' ? 3500 : (os.freemem() / 2 ** 20) * 0.5;
}

/** Runs one encoding in one direction over all lengths. */
export async function runLayerCase(c: EncodingCase, direction: Direction, opts: LayerSuiteOptions, rss: RssSampler): Promise<LayerPoint[]> {
  const { batch, numHeads, headDim } = LAYER_SHAPE;
  const causal = direction === 'causal';
  const points: LayerPoint[] = [];
  const growth = c.attention === 'softmax' ? 2 : 1;
  let stop: string | null = null;
  for (const L of opts.lengths) {
    const base: LayerPoint = { encoding: c.name, spec: c.spec, attention: c.attention, direction, L, batch, heads: numHeads, headDim };
    const done = points.filter((p) => p.msMedian !== undefined);
    if (!stop && done.length > 0) {
      const last = done[done.length - 1];
      const fit =
        done.length >= 2
          ? fitPowerLaw(
              done.map((p) => p.L),
              done.map((p) => p.msMedian!),
            )
          : null;
      const p = fit ? Math.min(Math.max(fit.exponent, growth === 2 ? 1.5 : 0.9), 2.2) : growth;
      const predictedSec = (last.msMedian! / 1000) * (L / last.L) ** p;
      if (predictedSec > opts.budget) stop = `predicted ${predictedSec.toFixed(1)} s per call > budget ${opts.budget} s`;
      if (last.tensorPeakMB !== undefined && last.tensorStartMB !== undefined) {
        // Softmax memory grows as L² in the quadratic form and as L in the blockwise one, which the layer takes past quadraticSoftmaxMaxScores().
        // The layer's quadratic form (not the native O(L) kernel, which it takes at every length where built).
        const quadratic = c.attention === 'softmax' && !hasNativeFlash() && batch * numHeads * L * L <= quadraticSoftmaxMaxScores();
        const predictedMB = (last.tensorPeakMB - last.tensorStartMB) * (L / last.L) ** (quadratic ? 2 : 1);
        if (predictedMB > memoryLimitMB(opts.backend))
          stop = `predicted ${Math.round(predictedMB)} MB of tensors > ${Math.round(memoryLimitMB(opts.backend))} MB on ${opts.backend}`;
      }
    }
    if (stop) {
      points.push({ ...base, skipped: stop });
      opts.log(`  skip  ${c.name.padEnd(17)} ${direction.padEnd(13)} L=${String(L).padStart(5)}  ${stop}`);
      continue;
    }
    try {
      opts.beat?.({ L });
      points.push({ ...base, ...(await measureLayerPoint(c.spec, L, causal, opts, rss)) });
      const p = points[points.length - 1];
      opts.log(
        `  layer ${c.name.padEnd(17)} ${direction.padEnd(13)} L=${String(L).padStart(5)}  ${p.msMedian!.toFixed(1).padStart(9)} ms (cpu ${p.cpuMsMedian!.toFixed(0)})` +
          `  ${Math.round(p.tokensPerSec!).toString().padStart(7)} tok/s  rss ${p.rssPeakMB} MB` +
          (p.tensorPeakMB !== undefined ? `  tensors ${p.tensorPeakMB} MB` : '') +
          `  (${p.ms!.length} reps)`,
      );
    } catch (e) {
      const msg = (e as Error)?.message ?? String(e);
      points.push({ ...base, error: msg.split('\n')[0].slice(0, 300) });
      opts.log(`  error ${c.name.padEnd(17)} ${direction.padEnd(13)} L=${String(L).padStart(5)}  ${msg.split('\n')[0].slice(0, 160)}`);
      stop = 'an earlier length failed';
    }
  }
  return points;
}

/** One layer's timed forward + backward at length L (the layer suite's shape and seeds); dispose() frees it. */
export function layerCall(spec: string, L: number, causal: boolean): { call: () => void; dispose: () => void } {
  const { batch, numHeads, headDim } = LAYER_SHAPE;
  const model = numHeads * headDim;
  const layer = new AttentionLayer({ model, numHeads, spec, maxLength: L, rng: new Rng(1) });
  const x = tf.tensor(new Rng(2).normalArray(batch * L * model), [batch, L, model]);
  const vars = layer.trainableVariables();
  const call = () => {
    const { value, grads } = tf.variableGrads(() => layer.apply(x, { causal, training: true }).square().mean() as tf.Scalar, vars);
    tf.dispose([value, ...Object.values(grads)]);
  };
  return {
    call,
    dispose: () => {
      x.dispose();
      layer.dispose();
    },
  };
}

async function measureLayerPoint(spec: string, L: number, causal: boolean, opts: LayerSuiteOptions, rss: RssSampler): Promise<Partial<LayerPoint>> {
  const { batch } = LAYER_SHAPE;
  const start = tf.memory().numTensors;
  const { call, dispose } = layerCall(spec, L, causal);
  let disposed = false;
  try {
    // The warm-up call is the profiled one (untimed): tensor peak and per-kernel times. It may
    // leave what the layer keeps from call to call (LRPE's constant tables); the timed calls may not
    // add to it, and disposing the layer must free it.
    const prof = opts.topKernels > 0 ? await profileCall(call, opts.topKernels) : (call(), null);
    const warm = tf.memory().numTensors;
    const t = timeCalls(call, opts.reps, opts.caseSeconds, rss);
    if (tf.memory().numTensors !== warm) throw new Error(`leak: ${tf.memory().numTensors - warm} tensors left by ${t.ms.length} timed calls of ${spec}`);
    dispose();
    disposed = true;
    if (tf.memory().numTensors !== start) throw new Error(`leak: ${tf.memory().numTensors - start} tensors left after disposing the layer of ${spec}`);
    return {
      ms: t.ms,
      msMedian: t.msMedian,
      cpuMs: t.cpuMs,
      cpuMsMedian: t.cpuMsMedian,
      tokensPerSec: round((batch * L) / (t.msMedian / 1000), 1),
      rssPeakMB: t.rssPeakMB,
      rssBeforeMB: t.rssBeforeMB,
      ...(prof ? { tensorPeakMB: prof.tensorPeakMB, tensorStartMB: prof.tensorStartMB, kernels: prof.kernels, kernelMs: prof.kernelMs } : {}),
    };
  } finally {
    if (!disposed) dispose();
  }
}
