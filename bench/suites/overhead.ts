/**
 * The overhead suite: each encoding of the overhead targets (the LRPE cores, gated sineSPE)
 * against plain linear attention ('none'), one attention layer each (the layer suite's shape),
 * forward + backward at one length, measured in pairs. Both layers live in one process and are
 * called alternately, the order flipping from pair to pair (plain, encoded; encoded, plain; ...),
 * so a machine whose speed drifts (other jobs, a shared host, frequency changes) slows both
 * alike; the reported overhead is the median of the per-pair time ratios. The layer suite's
 * separate runs remain the fallback of the targets when this suite did not run.
 */
import type { EncodingCase } from '../cases';
import type { Direction } from '../args';
import { median } from '../stats';
import { round } from '../measure';
import { layerCall } from './layer';

export interface OverheadPoint {
  encoding: string;
  spec: string;
  /** The encoding the time is divided by: plain elu+1 linear attention. */
  baseline: string;
  direction: Direction;
  L: number;
  /** Pairs timed (after one warm-up call of each layer). */
  pairs?: number;
  /** Per pair: encoded / plain wall time, and their median (the overhead). */
  ratios?: number[];
  ratio?: number;
  /** The same from process CPU time. */
  cpuRatios?: number[];
  cpuRatio?: number;
  /** Median wall times over the pairs, ms: the encoded layer and the plain one. */
  msMedian?: number;
  baselineMsMedian?: number;
  error?: string;
}

/** Wall and process-CPU time of one call, ms. */
export function timed(fn: () => void): [number, number] {
  const c = process.cpuUsage();
  const s = performance.now();
  fn();
  const wall = performance.now() - s;
  const dc = process.cpuUsage(c);
  return [wall, (dc.user + dc.system) / 1000];
}

/** Median of the per-pair ratios a[i] / b[i]. */
export function pairedRatio(a: number[], b: number[]): number {
  if (a.length !== b.length || a.length === 0) throw new Error(`pairedRatio: expected two non-empty lists of one length, got ${a.length} and ${b.length}`);
  return median(a.map((x, i) => x / b[i]));
}

/** Times `pairs` alternating pairs of the encoded and the plain layer; stops early after `maxSeconds`. */
export function runOverheadCase(c: EncodingCase, base: EncodingCase, direction: Direction, L: number, pairs: number, maxSeconds: number): OverheadPoint {
  const point: OverheadPoint = { encoding: c.name, spec: c.spec, baseline: base.name, direction, L };
  const causal = direction === 'causal';
  const enc = layerCall(c.spec, L, causal);
  const plain = layerCall(base.spec, L, causal);
  try {
    enc.call();
    plain.call();
    const [ew, ec, pw, pc]: number[][] = [[], [], [], []];
    const t0 = performance.now();
    for (let i = 0; i < pairs; i++) {
      const order = i % 2 === 0 ? [plain, enc] : [enc, plain];
      for (const layer of order) {
        const [w, cpu] = timed(layer.call);
        (layer === enc ? ew : pw).push(w);
        (layer === enc ? ec : pc).push(cpu);
      }
      if ((performance.now() - t0) / 1000 > maxSeconds) break;
    }
    const ratios = ew.map((w, i) => w / pw[i]);
    const cpuRatios = ec.map((w, i) => w / pc[i]);
    return {
      ...point,
      pairs: ew.length,
      ratios: ratios.map((r) => round(r, 4)),
      ratio: round(pairedRatio(ew, pw), 4),
      cpuRatios: cpuRatios.map((r) => round(r, 4)),
      cpuRatio: round(pairedRatio(ec, pc), 4),
      msMedian: round(median(ew), 2),
      baselineMsMedian: round(median(pw), 2),
    };
  } catch (e) {
    return { ...point, error: ((e as Error)?.message ?? String(e)).split('\n')[0].slice(0, 300) };
  } finally {
    enc.dispose();
    plain.dispose();
  }
}
