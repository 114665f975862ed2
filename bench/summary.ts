/**
 * The committed form of a benchmark result: `bench/summaries/<name>.json`. A result file
 * (`bench/results/`, git-ignored) keeps everything a run measured, including the per-kernel
 * profile of every point; its summary keeps what the README and the targets read (every median,
 * every ratio, the fits, the targets, the machine and the code measured), the three slowest
 * kernels per point, no host name and no absolute paths, one point per line. A summary is itself
 * a readable `BenchResult`: the bench compares the training step with a baseline summary.
 * Pure functions (the CLI writes the files).
 */
import type { BenchResult } from './report';

/** Kernels kept per point in a summary. */
export const SUMMARY_KERNELS = 3;

/** `s` with every absolute path replaced by its last component ('/a/b/c.node (x)' -> 'c.node (x)'). */
export function stripPaths(s: string): string {
  return s.replace(/(?:\/[^\s/()'"]+)+\/([^\s/()'"]+)/g, '$1');
}

function stripAll<T>(x: T): T {
  if (typeof x === 'string') return stripPaths(x) as T;
  if (Array.isArray(x)) return x.map(stripAll) as T;
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, stripAll(v)])) as T;
  return x;
}

/** The summary of a result (see the module comment); `r` is not modified. */
export function summarizeResult(r: BenchResult): BenchResult {
  const { hostname: _h, ...machine } = r.machine;
  const top = <P extends { kernels?: Array<{ ms: number }> }>(p: P): P =>
    p.kernels ? { ...p, kernels: [...p.kernels].sort((a, b) => b.ms - a.ms).slice(0, SUMMARY_KERNELS) } : p;
  return stripAll({ ...r, machine: machine as BenchResult['machine'], layer: r.layer.map(top) });
}

/** A summary as JSON text: top-level fields one per line, list fields one element per line. */
export function formatSummary(s: BenchResult): string {
  const lines = Object.entries(s).map(([k, v]) =>
    Array.isArray(v) && v.length > 0
      ? ` ${JSON.stringify(k)}: [\n${v.map((x) => `  ${JSON.stringify(x)}`).join(',\n')}\n ]`
      : ` ${JSON.stringify(k)}: ${JSON.stringify(v)}`,
  );
  return `{\n${lines.join(',\n')}\n}\n`;
}
