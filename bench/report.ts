/**
 * The result file of one backend's run, its name, and the printed tables. Pure functions
 * (the CLI does the printing and writing).
 */
import type { LayerPoint } from './suites/layer';
import type { TrainPoint } from './suites/train';
import type { MicroPoint } from './suites/micro';
import type { OverheadPoint } from './suites/overhead';
import type { VsTorchPoint, TorchInfo } from './suites/vs-torch';
import type { TargetResult } from './targets';
import type { BenchArgs } from './args';
import { fitPowerLaw, type PowerLawFit } from './stats';

export const RESULT_SCHEMA = 'rpelab-bench/1';

/** Where and on what a run happened. */
export interface MachineInfo {
  /** Absent in summaries. */
  hostname?: string;
  cpus: number;
  cpuModel: string;
  totalMemMB: number;
  /** 1-, 5- and 15-minute load averages at the start and the end of the run (other jobs share the machine). */
  loadStart: number[];
  loadEnd?: number[];
  node: string;
  tfjs: string;
}

export interface CodeInfo {
  commit: string;
  /** SHA-1 over the paths and contents of src/**\/*.ts, sorted by path. */
  srcHash: string;
  /** Files under src/ that differ from the commit (modified or untracked). */
  uncommitted: number;
}

export interface ScalingFit extends PowerLawFit {
  encoding: string;
  direction: string;
  /** Lengths used by the fit. */
  lengths: number[];
}

/** The JSON written to bench/results/<date>-<backend>.json. */
export interface BenchResult {
  schema: typeof RESULT_SCHEMA;
  date: string;
  backend: string;
  /** Backend details: wasm fallback kernels, the thread count, notes. */
  backendInfo: Record<string, unknown>;
  baseline: boolean;
  tag: string | null;
  machine: MachineInfo;
  /** Which code was measured: the git commit and a hash of src/ (the working tree may hold uncommitted work). */
  code: CodeInfo;
  args: Omit<BenchArgs, 'child' | 'help' | 'part' | 'microIndex' | 'summarize' | 'targetsOf' | 'torchPart'>;
  layer: LayerPoint[];
  /** The overhead suite's paired ratios (absent in files written before it existed). */
  overhead?: OverheadPoint[];
  /** The vs-torch suite's paired comparisons with PyTorch, and what PyTorch was (absent when it did not run). */
  vsTorch?: VsTorchPoint[];
  torch?: TorchInfo;
  fits: ScalingFit[];
  train: TrainPoint[];
  micro: MicroPoint[];
  /** The targets from wall-clock medians. */
  targets: TargetResult[];
  /** The same targets from process-CPU-time medians. */
  targetsCpuTime?: TargetResult[];
  durationSec?: number;
}

/** 2025-01-31T12:34:56.789Z -> '2025-01-31-123456'. */
export function fileStamp(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/:/g, '')
    .replace('T', '-');
}

/** `baseline-<backend>.json` or `<stamp>-<backend>[-<tag>].json`. */
export function resultFileName(backend: string, date: Date, baseline: boolean, tag: string | null): string {
  const suffix = tag ? `-${tag}` : '';
  return baseline ? `baseline-${backend}${suffix}.json` : `${fileStamp(date)}-${backend}${suffix}.json`;
}

/** Fits time ∝ L^p for every (encoding, direction) with >= 2 measured lengths >= `minL`. */
export function scalingFits(points: LayerPoint[], minL = 1024): ScalingFit[] {
  const keys = [...new Set(points.map((p) => `${p.encoding}|${p.direction}`))];
  const out: ScalingFit[] = [];
  for (const key of keys) {
    const [encoding, direction] = key.split('|');
    const pts = points.filter((p) => p.encoding === encoding && p.direction === direction && p.msMedian !== undefined && p.L >= minL);
    const fit = fitPowerLaw(
      pts.map((p) => p.L),
      pts.map((p) => p.msMedian!),
    );
    if (fit) out.push({ encoding, direction, lengths: pts.map((p) => p.L), ...fit });
  }
  return out;
}

/** A plain-text table: first column left-aligned, the others right-aligned. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Milliseconds with 3 significant digits (at least integer precision). */
export function fmtMs(ms: number): string {
  if (ms >= 100) return Math.round(ms).toString();
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

/** ms per forward + backward, one row per (encoding, direction), one column per length, plus the fitted exponent. */
export function layerTable(points: LayerPoint[], fits: ScalingFit[]): string {
  const lengths = [...new Set(points.map((p) => p.L))].sort((a, b) => a - b);
  const keys = [...new Set(points.map((p) => `${p.encoding}|${p.direction}`))];
  const rows = keys.map((key) => {
    const [encoding, direction] = key.split('|');
    const cells = lengths.map((L) => {
      const p = points.find((q) => q.encoding === encoding && q.direction === direction && q.L === L);
      if (!p) return '';
      if (p.msMedian !== undefined) return fmtMs(p.msMedian);
      return p.error ? 'error' : 'skip';
    });
    const fit = fits.find((f) => f.encoding === encoding && f.direction === direction);
    const largest = points.filter((q) => q.encoding === encoding && q.direction === direction && q.msMedian !== undefined).pop();
    return [
      `${encoding} ${direction === 'causal' ? 'causal' : 'bidir'}`,
      ...cells,
      fit ? fit.exponent.toFixed(2) : '',
      largest ? `${Math.round(largest.tokensPerSec!)}` : '',
      largest?.tensorPeakMB !== undefined ? `${Math.round(largest.tensorPeakMB)}` : '',
      largest ? `${Math.round(largest.rssPeakMB!)}` : '',
    ];
  });
  return formatTable(['ms fwd+bwd', ...lengths.map((L) => `L=${L}`), 'p(L>=1k)', 'tok/s@max', 'tensorMB@max', 'rssMB@max'], rows);
}

export function overheadTable(points: OverheadPoint[]): string {
  const rows = points.map((p) => [
    `${p.encoding} ${p.direction === 'causal' ? 'causal' : 'bidir'}`,
    String(p.L),
    p.ratio !== undefined ? `x${p.ratio.toFixed(3)}` : 'error',
    p.cpuRatio !== undefined ? `x${p.cpuRatio.toFixed(3)}` : '',
    p.ratios ? `${Math.min(...p.ratios).toFixed(2)}-${Math.max(...p.ratios).toFixed(2)}` : '',
    p.msMedian !== undefined ? fmtMs(p.msMedian) : '',
    p.baselineMsMedian !== undefined ? fmtMs(p.baselineMsMedian) : '',
    p.pairs !== undefined ? String(p.pairs) : '',
  ]);
  return formatTable(['overhead (paired)', 'L', 'median ratio', 'cpu ratio', 'range', 'ms', `${points[0]?.baseline ?? 'none'} ms`, 'pairs'], rows);
}

/** The vs-torch suite: one row per layer point or training step, rpelab beside PyTorch. */
export function vsTorchTable(points: VsTorchPoint[]): string {
  const rows = points.map((p) => [
    p.kind === 'train' ? `train step ${p.encoding}` : `${p.encoding} ${p.direction === 'causal' ? 'causal' : 'bidir'}`,
    p.L !== undefined ? String(p.L) : '',
    p.msMedian !== undefined ? fmtMs(p.msMedian) : (p.skipped ?? p.error ?? '').slice(0, 60),
    p.torchMsMedian !== undefined ? fmtMs(p.torchMsMedian) : '',
    p.ratio !== undefined ? `x${p.ratio.toFixed(3)}` : '',
    p.ratios ? `${Math.min(...p.ratios).toFixed(2)}-${Math.max(...p.ratios).toFixed(2)}` : '',
    p.pairs !== undefined ? String(p.pairs) : '',
  ]);
  return formatTable(['vs PyTorch (paired)', 'L', 'rpelab ms', 'torch ms', 'median ratio', 'range', 'pairs'], rows);
}

export function trainTable(points: TrainPoint[], baseline: TrainPoint[] | null): string {
  const rows = points.map((p) => {
    const b = baseline?.find((q) => q.encoding === p.encoding);
    const ratio = b?.tokensPerSec && p.tokensPerSec ? (p.tokensPerSec / b.tokensPerSec).toFixed(2) : '';
    return [
      p.encoding,
      p.msMedian !== undefined ? fmtMs(p.msMedian) : 'error',
      p.tokensPerSec !== undefined ? `${Math.round(p.tokensPerSec)}` : '',
      b?.tokensPerSec ? `${Math.round(b.tokensPerSec)}` : '',
      ratio,
    ];
  });
  return formatTable(['train step', 'ms/step', 'tok/s', 'baseline tok/s', 'speedup'], rows);
}

export function microTable(points: MicroPoint[]): string {
  const rows = points.map((p) => [
    p.name,
    p.shape,
    p.msMedian !== undefined ? fmtMs(p.msMedian) : 'error',
    p.gflops !== undefined ? p.gflops.toFixed(2) : '',
    p.gflopsCpu !== undefined ? p.gflopsCpu.toFixed(2) : '',
    p.gbps !== undefined ? p.gbps.toFixed(3) : '',
  ]);
  return formatTable(['kernel', 'shape', 'ms', 'GFLOP/s', 'GFLOP/s(cpu)', 'GB/s'], rows);
}

export function targetLines(targets: TargetResult[]): string {
  return targets
    .map((t) => {
      const v = t.value === null ? 'n/a' : t.value.toFixed(2);
      return `${t.status.padEnd(4)}  ${t.id.padEnd(21)} ${v.padStart(6)} (${t.sense === 'max' ? '<=' : '>='} ${t.threshold})  ${t.description}\n        ${t.detail}`;
    })
    .join('\n');
}

/** Backend comparison: one row per (suite point), one column per backend. */
export function backendComparison(results: BenchResult[]): string {
  if (results.length < 2) return '';
  const names = results.map((r) => r.backend);
  const rows: string[][] = [];
  const trainKeys = [...new Set(results.flatMap((r) => r.train.map((p) => p.encoding)))];
  for (const e of trainKeys) {
    rows.push([
      `train ${e} (tok/s)`,
      ...results.map((r) => {
        const p = r.train.find((q) => q.encoding === e);
        return p?.tokensPerSec !== undefined ? `${Math.round(p.tokensPerSec)}` : '';
      }),
    ]);
  }
  const layerKeys = [...new Set(results.flatMap((r) => r.layer.map((p) => `${p.encoding}|${p.direction}|${p.L}`)))];
  for (const k of layerKeys) {
    const [e, d, L] = k.split('|');
    const cells = results.map((r) => {
      const p = r.layer.find((q) => q.encoding === e && q.direction === d && q.L === Number(L));
      return p?.msMedian !== undefined ? fmtMs(p.msMedian) : '';
    });
    if (cells.filter(Boolean).length >= 2) rows.push([`layer ${e} ${d} L=${L} (ms)`, ...cells]);
  }
  const microKeys = [...new Set(results.flatMap((r) => r.micro.map((p) => p.name)))];
  for (const m of microKeys) {
    rows.push([
      `${m} (GFLOP/s)`,
      ...results.map((r) => {
        const p = r.micro.find((q) => q.name === m);
        return p?.gflops !== undefined ? p.gflops.toFixed(2) : p?.gbps !== undefined ? `${p.gbps.toFixed(3)} GB/s` : '';
      }),
    ]);
  }
  return formatTable(['backend comparison', ...names], rows);
}
