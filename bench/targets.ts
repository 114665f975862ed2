/**
 * The performance targets of the issue, evaluated from the points of one run (one
 * backend) and, for the training step, the recorded baseline. Pure functions of the data.
 */
import type { LayerPoint } from './suites/layer';
import type { TrainPoint } from './suites/train';
import type { OverheadPoint } from './suites/overhead';
import type { VsTorchPoint } from './suites/vs-torch';
import type { MicroPoint } from './suites/micro';
import { LAYER_SHAPE, TRAIN_SHAPE, trainConfig } from './cases';
import { fitPowerLaw, evalPowerLaw } from './stats';
import type { Direction } from './args';

export type TargetStatus = 'PASS' | 'FAIL' | 'N/A';

export interface TargetResult {
  id: string;
  description: string;
  /** The measured quantity compared with the threshold (null when not measurable). */
  value: number | null;
  threshold: number;
  /** 'max': value must be <= threshold; 'min': value must be >= threshold. */
  sense: 'max' | 'min';
  status: TargetStatus;
  detail: string;
}

const DIRS: Direction[] = ['causal', 'bidirectional'];

/** Which median the targets compare: wall-clock time or process CPU time. */
export type Clock = 'wall' | 'cpu';

/** The median time of a point on `clock` (undefined when not measured). */
function timeOn(clock: Clock, p: { msMedian?: number; cpuMsMedian?: number }): number | undefined {
  return clock === 'cpu' ? p.cpuMsMedian : p.msMedian;
}
const LRPE = ['lrpe-rotation', 'lrpe-permutation', 'lrpe-unitary'];

function ms(clock: Clock, points: LayerPoint[], encoding: string, direction: Direction, L: number): number | undefined {
  const p = points.find((q) => q.encoding === encoding && q.direction === direction && q.L === L && timeOn(clock, q) !== undefined);
  return p ? timeOn(clock, p) : undefined;
}

function measured(clock: Clock, points: LayerPoint[], encoding: string, direction: Direction): LayerPoint[] {
  return points.filter((p) => p.encoding === encoding && p.direction === direction && timeOn(clock, p) !== undefined).sort((a, b) => a.L - b.L);
}

function judge(value: number | null, threshold: number, sense: 'max' | 'min', complete: boolean): TargetStatus {
  if (value === null || !complete) return 'N/A';
  return (sense === 'max' ? value <= threshold : value >= threshold) ? 'PASS' : 'FAIL';
}

const f2 = (x: number) => x.toFixed(2);

/** Time of linear attention grows linearly in L: fitted exponent over 1k..16k <= 1.15, both directions. */
export function linearScalingTarget(points: LayerPoint[], lo = 1024, hi = 16384, threshold = 1.15, clock: Clock = 'wall'): TargetResult {
  const parts: string[] = [];
  let worst: number | null = null;
  let complete = true;
  for (const d of DIRS) {
    const pts = measured(clock, points, 'none', d).filter((p) => p.L >= lo && p.L <= hi);
    const fit = fitPowerLaw(
      pts.map((p) => p.L),
      pts.map((p) => timeOn(clock, p)!),
    );
    if (!fit) {
      parts.push(`${d}: fewer than 2 lengths measured in [${lo}, ${hi}]`);
      complete = false;
      continue;
    }
    const maxL = pts[pts.length - 1].L;
    if (maxL < hi || pts[0].L > lo) complete = false;
    parts.push(`${d}: p = ${f2(fit.exponent)} over L = ${pts[0].L}..${maxL} (${fit.points} points)`);
    worst = worst === null ? fit.exponent : Math.max(worst, fit.exponent);
  }
  return {
    id: 'linear-time-exponent',
    description: `linear attention (elu+1, no encoding) time ∝ L^p with p <= ${threshold} from L = ${lo} to ${hi}, causal and bidirectional`,
    value: worst,
    threshold,
    sense: 'max',
    status: judge(worst, threshold, 'max', complete),
    detail: parts.join('; ') + (complete ? '' : ' (range not fully measured)'),
  };
}

/** Peak memory at L = 16384 within 2x that at L = 8192 (tf.memory() peak; RSS peak reported alongside). */
export function linearMemoryTarget(points: LayerPoint[], lo = 8192, hi = 16384, threshold = 2, clock: Clock = 'wall'): TargetResult {
  const parts: string[] = [];
  let worst: number | null = null;
  let complete = true;
  for (const d of DIRS) {
    const a = measured(clock, points, 'none', d).find((p) => p.L === lo);
    const b = measured(clock, points, 'none', d).find((p) => p.L === hi);
    if (!a || !b || a.tensorPeakMB === undefined || b.tensorPeakMB === undefined) {
      parts.push(`${d}: L = ${lo} and ${hi} not both measured`);
      complete = false;
      continue;
    }
    const r = b.tensorPeakMB / a.tensorPeakMB;
    parts.push(`${d}: tensors ${a.tensorPeakMB} -> ${b.tensorPeakMB} MB (x${f2(r)}), RSS ${a.rssPeakMB} -> ${b.rssPeakMB} MB`);
    worst = worst === null ? r : Math.max(worst, r);
  }
  return {
    id: 'linear-memory-ratio',
    description: `linear attention peak tensor memory at L = ${hi} <= ${threshold}x that at L = ${lo}`,
    value: worst,
    threshold,
    sense: 'max',
    status: judge(worst, threshold, 'max', complete),
    detail: parts.join('; '),
  };
}

/**
 * Time ratio of each `encodings` to plain linear attention at length L, both directions; the
 * worst counts. From the overhead suite's alternating pairs when it ran (the median of the
 * per-pair ratios: robust to a machine whose speed drifts), else from the layer suite's medians
 * of separate runs.
 */
export function overheadTarget(
  points: LayerPoint[],
  id: string,
  description: string,
  encodings: string[],
  L: number,
  threshold: number,
  clock: Clock = 'wall',
  paired: OverheadPoint[] = [],
): TargetResult {
  const parts: string[] = [];
  let worst: number | null = null;
  let complete = true;
  for (const d of DIRS) {
    const base = ms(clock, points, 'none', d, L);
    for (const e of encodings) {
      const pair = paired.find((p) => p.encoding === e && p.direction === d && p.L === L && (clock === 'cpu' ? p.cpuRatio : p.ratio) !== undefined);
      let r: number;
      if (pair) {
        r = (clock === 'cpu' ? pair.cpuRatio : pair.ratio)!;
        parts.push(`${e} ${d}: x${f2(r)} (${pair.pairs} pairs)`);
      } else {
        const t = ms(clock, points, e, d, L);
        if (base === undefined || t === undefined) {
          parts.push(`${e} ${d}: not measured at L = ${L}`);
          complete = false;
          continue;
        }
        r = t / base;
        parts.push(`${e} ${d}: x${f2(r)} (separate runs)`);
      }
      worst = worst === null ? r : Math.max(worst, r);
    }
  }
  return { id, description, value: worst, threshold, sense: 'max', status: judge(worst, threshold, 'max', complete), detail: parts.join('; ') };
}

export function lrpeOverheadTarget(points: LayerPoint[], L = 4096, threshold = 1.3, clock: Clock = 'wall', paired: OverheadPoint[] = []): TargetResult {
  return overheadTarget(
    points,
    'lrpe-overhead',
    `LRPE (rotation, permutation, unitary; Householder P) time <= ${threshold}x plain elu+1 linear attention at L = ${L}`,
    LRPE,
    L,
    threshold,
    clock,
    paired,
  );
}

export function speOverheadTarget(points: LayerPoint[], L = 4096, threshold = 2, clock: Clock = 'wall', paired: OverheadPoint[] = []): TargetResult {
  return overheadTarget(
    points,
    'spe-overhead',
    `gated sineSPE time <= ${threshold}x plain linear attention at L = ${L}`,
    ['spe-sine'],
    L,
    threshold,
    clock,
    paired,
  );
}

/**
 * Linear attention beats softmax from L ≈ 1k on (speedup > 1 at every measured L >= 1024)
 * and by >= 5x at L = 8192. When softmax could not run at 8192 (time or memory), its time
 * there is extrapolated from a power-law fit of its measured points with L >= 1024, which
 * under-estimates it (the fitted exponent at small L is below 2), so the speedup is conservative.
 */
export function softmaxTarget(points: LayerPoint[], from = 1024, at = 8192, threshold = 5, clock: Clock = 'wall'): TargetResult {
  const parts: string[] = [];
  let worst: number | null = null;
  let complete = true;
  let beatsEverywhere = true;
  for (const d of DIRS) {
    const soft = measured(clock, points, 'softmax', d);
    const lin = measured(clock, points, 'none', d);
    for (const s of soft.filter((p) => p.L >= from)) {
      const l = lin.find((p) => p.L === s.L);
      if (l && timeOn(clock, s)! <= timeOn(clock, l)!) {
        beatsEverywhere = false;
        parts.push(`${d}: softmax faster at L = ${s.L}`);
      }
    }
    const linAt = ms(clock, points, 'none', d, at);
    let softAt = ms(clock, points, 'softmax', d, at);
    let how = 'measured';
    if (softAt === undefined) {
      const pts = soft.filter((p) => p.L >= from);
      const fit =
        pts.length >= 2
          ? fitPowerLaw(
              pts.map((p) => p.L),
              pts.map((p) => timeOn(clock, p)!),
            )
          : null;
      if (fit) {
        softAt = evalPowerLaw(fit, at);
        how = `extrapolated (p = ${f2(fit.exponent)} from L = ${pts.map((p) => p.L).join(',')})`;
      }
    }
    if (linAt === undefined || softAt === undefined) {
      parts.push(`${d}: not measurable at L = ${at}`);
      complete = false;
      continue;
    }
    const r = softAt / linAt;
    parts.push(`${d}: x${f2(r)} at L = ${at} (softmax ${how})`);
    worst = worst === null ? r : Math.min(worst, r);
  }
  const value = worst;
  const status = !beatsEverywhere ? 'FAIL' : judge(value, threshold, 'min', complete);
  return {
    id: 'linear-vs-softmax',
    description: `linear attention faster than softmax for L >= ${from} and >= ${threshold}x faster at L = ${at}`,
    value,
    threshold,
    sense: 'min',
    status,
    detail: parts.join('; '),
  };
}

/** Small-LM training step >= 5x faster (tokens/s) than the recorded baseline, every encoding; the worst counts. */
export function trainTarget(now: TrainPoint[], baseline: TrainPoint[] | null, baselineName: string, threshold = 5, clock: Clock = 'wall'): TargetResult {
  const description = `small-LM training step >= ${threshold}x the tokens/s of the baseline (${baselineName})`;
  if (!baseline) return { id: 'train-speedup', description, value: null, threshold, sense: 'min', status: 'N/A', detail: 'no baseline file' };
  const parts: string[] = [];
  let worst: number | null = null;
  let complete = true;
  for (const p of now) {
    const b = baseline.find((q) => q.encoding === p.encoding && timeOn(clock, q) !== undefined);
    // A baseline step that hit the per-point time limit bounds the speedup from below.
    const timedOut = baseline.find((q) => q.encoding === p.encoding)?.error?.match(/timed out after (\d+(?:\.\d+)?) s/);
    if (!b && timedOut && timeOn(clock, p) !== undefined) {
      const r = (Number(timedOut[1]) * 1000) / timeOn(clock, p)!;
      parts.push(`${p.encoding}: > x${f2(r)} (the baseline step timed out after ${timedOut[1]} s)`);
      worst = worst === null ? r : Math.min(worst, r);
      continue;
    }
    if (!b || timeOn(clock, p) === undefined) {
      parts.push(`${p.encoding}: not in both runs`);
      complete = false;
      continue;
    }
    // Same batch and length in both runs, so the tokens/s ratio is the inverse time ratio.
    const r = timeOn(clock, b)! / timeOn(clock, p)!;
    parts.push(`${p.encoding}: x${f2(r)}`);
    worst = worst === null ? r : Math.min(worst, r);
  }
  return {
    id: 'train-speedup',
    description,
    value: worst,
    threshold,
    sense: 'min',
    status: judge(worst, threshold, 'min', complete && worst !== null),
    detail: parts.join('; '),
  };
}

/**
 * Floating-point operations (2 per multiply-add) of one forward + backward call of the bench's plain
 * linear layer (`LAYER_SHAPE`: batch B, H heads of D, model m = H·D) at length L, bidirectional:
 * - projections: q, k, v as one [B·L, m] × [m, 3m] product and the output [B·L, m] × [m, m], 2·B·L·m·4m
 *   forward; backward, each product's two gradients cost as much again twice;
 * - attention: Kᵀ[V, 1] and Q·(Kᵀ[V, 1]) per head (the denominator as a column of ones), 2·2·B·H·L·D·(D + 1)
 *   forward and twice that backward.
 */
export function linearLayerFlops(
  L: number,
  shape: { batch: number; numHeads: number; headDim: number } = LAYER_SHAPE,
): { projections: number; attention: number } {
  const { batch: B, numHeads: H, headDim: D } = shape;
  const m = H * D;
  return { projections: 3 * (2 * B * L * m * 4 * m), attention: 3 * (2 * 2 * B * H * L * D * (D + 1)) };
}

/**
 * The matrix products of one training step of the train suite's causal LM (`trainConfig`,
 * `TRAIN_SHAPE`: N = batch·length tokens, width m, feed-forward width h, vocabulary V), the same for
 * every encoding: per layer the q/k/v projection [N, m] × [m, 3m], the output projection
 * [N, m] × [m, m] and the feed-forward [N, m] × [m, h] and [N, h] × [h, m], then the tied output
 * projection [N, m] × [m, V]; each once forward and twice backward (∂x and ∂W: the first layer's ∂x
 * feeds the embedding's gradient). `flops` counts 2 per multiply-add. An encoding's own products
 * (sineSPE's projection) come on top.
 */
export function trainStepProducts(
  cfg: { model: number; hidden: number; vocabSize: number; numLayers: number } = trainConfig('linear:elu'),
  shape: { batch: number; length: number } = TRAIN_SHAPE,
): { products: number; flops: number } {
  const { model: m, hidden: h, vocabSize: V, numLayers: n } = cfg;
  const N = shape.batch * shape.length;
  const forward = n * (2 * N * m * 3 * m + 2 * N * m * m + 2 * 2 * N * m * h) + 2 * N * m * V;
  return { products: 3 * (4 * n + 1), flops: 3 * forward };
}

/** The micro suite's product of the layer's q/k/v projection shape (OpenBLAS with the addon), GFLOP/s on `clock` (the run's BLAS rate), or null. */
export function sgemmGflops(micro: MicroPoint[], clock: Clock = 'wall'): { gflops: number; shape: string } | null {
  const p = micro.find((x) => x.name === 'matmul 2-D (qkv projection)' && (clock === 'cpu' ? x.gflopsCpu : x.gflops) !== undefined);
  return p ? { gflops: (clock === 'cpu' ? p.gflopsCpu : p.gflops)!, shape: p.shape } : null;
}

/**
 * The plain bidirectional layer at L = `length` runs at >= `threshold` of the GFLOP/s that OpenBLAS's
 * sgemm reaches in the same run (the micro suite's q/k/v projection product, same threads): the
 * layer's useful flops (`linearLayerFlops`) over its median time, against that product's rate.
 */
export function blasFractionTarget(layer: LayerPoint[], micro: MicroPoint[], length = 8192, threshold = 0.6, clock: Clock = 'wall'): TargetResult {
  const description = `plain bidirectional linear layer at L = ${length}: GFLOP/s >= ${threshold}x OpenBLAS's sgemm GFLOP/s in the same run`;
  const t = ms(clock, layer, 'none', 'bidirectional', length);
  const blas = sgemmGflops(micro, clock);
  if (t === undefined || !blas) {
    const missing = [t === undefined ? `the layer at L = ${length}` : '', !blas ? 'the micro suite' : ''].filter(Boolean).join(' and ');
    return { id: 'layer-blas-fraction', description, value: null, threshold, sense: 'min', status: 'N/A', detail: `needs ${missing}` };
  }
  const f = linearLayerFlops(length);
  const flops = f.projections + f.attention;
  const gflops = flops / t / 1e6;
  const value = Math.round((gflops / blas.gflops) * 100) / 100;
  return {
    id: 'layer-blas-fraction',
    description,
    value,
    threshold,
    sense: 'min',
    status: judge(value, threshold, 'min', true),
    detail: `${f2(flops / 1e9)} GFLOP in ${f2(t)} ms = ${f2(gflops)} GFLOP/s; OpenBLAS ${blas.shape}: ${f2(blas.gflops)} GFLOP/s`,
  };
}

/** Every target from one run, comparing wall-clock (default) or CPU-time medians; `overhead`: the paired ratios; `micro`: the micro suite's points. */
export function evaluateTargets(
  layer: LayerPoint[],
  train: TrainPoint[],
  baselineTrain: TrainPoint[] | null,
  baselineName: string,
  clock: Clock = 'wall',
  overhead: OverheadPoint[] = [],
  micro: MicroPoint[] = [],
): TargetResult[] {
  return [
    blasFractionTarget(layer, micro, 8192, 0.6, clock),
    linearScalingTarget(layer, 1024, 16384, 1.15, clock),
    linearMemoryTarget(layer, 8192, 16384, 2, clock),
    lrpeOverheadTarget(layer, 4096, 1.3, clock, overhead),
    speOverheadTarget(layer, 4096, 2, clock, overhead),
    softmaxTarget(layer, 1024, 8192, 5, clock),
    trainTarget(train, baselineTrain, baselineName, 5, clock),
  ];
}

/** The linear layers of the vs-torch targets (names of bench/cases.ts). */
export const TORCH_LINEAR = ['none', 'lrpe-rotation', 'lrpe-permutation', 'lrpe-unitary', 'spe-sine'];

/**
 * The vs-torch targets, from the paired ratios rpelab / PyTorch of the vs-torch suite (none when
 * it did not run): every linear layer at every measured length and direction <= 0.5x PyTorch's
 * time (the worst counts; complete only when L = 512 .. 16384 were all measured); softmax <= 1.3x
 * PyTorch's for L = 1024 .. 8192; the small-LM step >= 3x PyTorch's tokens/s, every encoding.
 */
export function vsTorchTargets(points: VsTorchPoint[], lengths: [number, number] = [512, 16384], micro: MicroPoint[] = []): TargetResult[] {
  if (points.length === 0) return [];
  const layer = points.filter((p) => p.kind === 'layer');
  const worstOf = (pts: VsTorchPoint[], pick: (p: VsTorchPoint) => number, sense: 'max' | 'min') =>
    pts.length === 0 ? null : pts.map(pick).reduce((a, b) => (sense === 'max' ? Math.max(a, b) : Math.min(a, b)));
  const measuredLayer = (encs: string[], lo: number, hi: number) =>
    layer.filter((p) => encs.includes(p.encoding) && p.ratio !== undefined && p.L! >= lo && p.L! <= hi);
  const gaps = (encs: string[], lo: number, hi: number) =>
    layer.filter((p) => encs.includes(p.encoding) && p.ratio === undefined && p.L! >= lo && p.L! <= hi).map((p) => `${p.encoding} ${p.direction} L=${p.L}`);
  const worstLine = (pts: VsTorchPoint[], sense: 'max' | 'min') => {
    const w = [...pts].sort((a, b) => (sense === 'max' ? b.ratio! - a.ratio! : a.ratio! - b.ratio!))[0];
    return w ? `worst ${w.encoding} ${w.direction} L=${w.L}: ${w.msMedian} vs ${w.torchMsMedian} ms` : 'nothing measured';
  };
  const [lo, hi] = lengths;
  const lin = measuredLayer(TORCH_LINEAR, lo, hi);
  const linGaps = gaps(TORCH_LINEAR, lo, hi);
  const linPass = lin.filter((p) => p.ratio! <= 0.5).length;
  const linWorst = worstOf(lin, (p) => p.ratio!, 'max');
  // Out of reach at this BLAS: the four projections alone, at the run's sgemm rate, take more than
  // half of PyTorch's time for the layer (both sides run them on the same OpenBLAS).
  const blas = sgemmGflops(micro);
  const floorMs = (L: number) => linearLayerFlops(L).projections / (blas!.gflops * 1e6);
  const unreachable = blas ? lin.filter((p) => p.ratio! > 0.5 && p.torchMsMedian !== undefined && floorMs(p.L!) > 0.5 * p.torchMsMedian) : [];
  const soft = measuredLayer(['softmax'], 1024, 8192);
  const softGaps = gaps(['softmax'], 1024, 8192);
  const softWorst = worstOf(soft, (p) => p.ratio!, 'max');
  const train = points.filter((p) => p.kind === 'train');
  const trainOk = train.filter((p) => p.ratio !== undefined);
  // tokens/s speedup over PyTorch = torch time / rpelab time = 1 / ratio.
  const trainWorst = worstOf(trainOk, (p) => 1 / p.ratio!, 'min');
  // What 3x PyTorch leaves beside the step's products, were they to run at the run's sgemm rate
  // (a rate the step's small products do not exceed: it is the rate of the layer's larger q/k/v product).
  const steps = trainStepProducts();
  const productsMs = blas ? steps.flops / (blas.gflops * 1e6) : 0;
  const trainFailing = trainOk.filter((p) => 1 / p.ratio! < 3 && p.torchMsMedian !== undefined);
  return [
    {
      id: 'torch-linear-layers',
      description: `every linear layer (elu+1, LRPE rotation / permutation / unitary, gated sineSPE), L = ${lo}..${hi}, both directions: rpelab time <= 0.5x PyTorch's`,
      value: linWorst,
      threshold: 0.5,
      sense: 'max',
      status: judge(linWorst, 0.5, 'max', linGaps.length === 0 && lin.length > 0),
      detail:
        `${linPass} of ${lin.length} points pass; ${worstLine(lin, 'max')}` +
        (blas && lin.length > linPass
          ? `; ${unreachable.length} of the ${lin.length - linPass} failing points are out of reach at this BLAS (their four projections alone need more than half of PyTorch's time at OpenBLAS's ${f2(blas.gflops)} GFLOP/s${unreachable.length ? `: ${unreachable.map((p) => `${p.encoding} ${p.direction} L=${p.L}`).join(', ')}` : ''})`
          : '') +
        (linGaps.length ? `; not measured: ${linGaps.join(', ')}` : ''),
    },
    {
      id: 'torch-softmax',
      description: "softmax attention, L = 1024..8192, both directions: rpelab time <= 1.3x PyTorch's",
      value: softWorst,
      threshold: 1.3,
      sense: 'max',
      status: judge(softWorst, 1.3, 'max', softGaps.length === 0 && soft.length > 0),
      detail:
        `${soft.filter((p) => p.ratio! <= 1.3).length} of ${soft.length} points pass; ${worstLine(soft, 'max')}` +
        (softGaps.length ? `; not measured: ${softGaps.join(', ')}` : ''),
    },
    {
      id: 'torch-train-step',
      description: "small-LM training step: rpelab tokens/s >= 3x PyTorch's, every encoding",
      value: trainWorst,
      threshold: 3,
      sense: 'min',
      status: judge(trainWorst, 3, 'min', trainOk.length === train.length && train.length > 0),
      detail:
        train
          .map((p) =>
            p.ratio !== undefined
              ? `${p.encoding}: x${f2(1 / p.ratio)} (${p.tokensPerSec} vs ${p.torchTokensPerSec} tok/s)`
              : `${p.encoding}: ${p.error ?? 'not measured'}`,
          )
          .join('; ') +
        (blas && trainFailing.length
          ? `; the step's ${steps.products} products (${f2(steps.flops / 1e9)} GFLOP, every encoding) take ${f2(productsMs)} ms at OpenBLAS's ${f2(blas.gflops)} GFLOP/s, so 3x PyTorch leaves for the rest of the step: ${trainFailing
              .map((p) => {
                const budget = p.torchMsMedian! / 3;
                return budget > productsMs
                  ? `${p.encoding} ${f2(budget - productsMs)} of ${f2(budget)} ms (its whole step now ${f2(p.msMedian!)} ms)`
                  : `${p.encoding} nothing: its products alone exceed ${f2(budget)} ms (out of reach at this BLAS)`;
              })
              .join(', ')}`
          : ''),
    },
  ];
}
