/**
 * Intervals over seeds, for the claims ledger: the difference of two rows' metric with a
 * Student-t confidence interval, paired by seed when both rows ran the same seeds (the seed fixes
 * the data order and the held-out sets, so a paired difference removes their shared noise), and
 * Welch's unpaired interval otherwise; and a least-squares slope with its interval (Monte-Carlo
 * convergence, complexity exponents). t quantiles come from stdlib
 * (`@stdlib/stats-base-dists-t-quantile`), not from a table written here.
 *
 * Plain numbers in, plain numbers out; no tensors.
 */
import tQuantileStdlib from '@stdlib/stats-base-dists-t-quantile';

/** The p-quantile of Student's t distribution with `df` degrees of freedom (df > 0, may be fractional). */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`p: expected a probability in (0, 1), got ${p}`);
  if (!(df > 0)) throw new Error(`df: expected degrees of freedom > 0, got ${df}`);
  return tQuantileStdlib(p, df);
}

/** A difference (or a slope) with its two-sided confidence interval. */
export interface Interval {
  /** 'paired': per-seed differences; 'welch': two independent samples; 'fit': a regression slope. */
  method: 'paired' | 'welch' | 'fit';
  estimate: number;
  lo: number;
  hi: number;
  /** Confidence level, e.g. 0.95. */
  level: number;
  /** Degrees of freedom of the t quantile. */
  df: number;
  /** Pairs (paired), values per side (welch: [a, b]), or points (fit). */
  n: number | [number, number];
}

function checkLevel(level: number): void {
  if (!(level > 0 && level < 1)) throw new Error(`level: expected a confidence level in (0, 1), like 0.95; got ${level}`);
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample variance (ddof = 1). */
function variance(xs: number[]): number {
  const m = mean(xs);
  return xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
}

function checkFinite(name: string, xs: number[]): void {
  const bad = xs.find((x) => !Number.isFinite(x));
  if (bad !== undefined) throw new Error(`${name}: expected finite numbers, got ${bad}`);
}

/**
 * Paired difference a − b over the seeds both have. Needs at least 2 common seeds; returns null
 * below that. With identical differences the interval has zero width.
 * @param a,b value per seed
 */
export function pairedDifference(a: Record<number, number>, b: Record<number, number>, level = 0.95): Interval | null {
  checkLevel(level);
  const seeds = Object.keys(a).filter((s) => s in b);
  if (seeds.length < 2) return null;
  const d = seeds.map((s) => a[Number(s)] - b[Number(s)]);
  checkFinite('differences', d);
  const n = d.length;
  const m = mean(d);
  const half = tQuantile(1 - (1 - level) / 2, n - 1) * Math.sqrt(variance(d) / n);
  return { method: 'paired', estimate: m, lo: m - half, hi: m + half, level, df: n - 1, n };
}

/**
 * Welch's interval for mean(a) − mean(b) of two independent samples (Welch–Satterthwaite
 * degrees of freedom). Needs at least 2 values on each side; returns null below that.
 */
export function welchDifference(a: number[], b: number[], level = 0.95): Interval | null {
  checkLevel(level);
  checkFinite('a', a);
  checkFinite('b', b);
  if (a.length < 2 || b.length < 2) return null;
  const va = variance(a) / a.length;
  const vb = variance(b) / b.length;
  const se = Math.sqrt(va + vb);
  const m = mean(a) - mean(b);
  if (se === 0) return { method: 'welch', estimate: m, lo: m, hi: m, level, df: a.length + b.length - 2, n: [a.length, b.length] };
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  const half = tQuantile(1 - (1 - level) / 2, df) * se;
  return { method: 'welch', estimate: m, lo: m - half, hi: m + half, level, df, n: [a.length, b.length] };
}

/**
 * The difference a − b, paired by seed when at least 2 seeds are common to both, else Welch's.
 * Null when neither has enough values.
 */
export function seedDifference(a: Record<number, number>, b: Record<number, number>, level = 0.95): Interval | null {
  return pairedDifference(a, b, level) ?? welchDifference(Object.values(a), Object.values(b), level);
}

/**
 * Least-squares line y = intercept + slope·x with the slope's t interval (n − 2 degrees of
 * freedom). Needs at least 3 points with distinct x.
 */
export function slopeInterval(xs: number[], ys: number[], level = 0.95): Interval & { intercept: number } {
  checkLevel(level);
  if (xs.length !== ys.length) throw new Error(`ys: expected ${xs.length} values (one per x), got ${ys.length}`);
  if (xs.length < 3) throw new Error(`xs: a slope interval needs at least 3 points, got ${xs.length}`);
  checkFinite('xs', xs);
  checkFinite('ys', ys);
  const mx = mean(xs);
  const my = mean(ys);
  const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  if (sxx === 0) throw new Error('xs: expected at least two distinct x values');
  const slope = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / sxx;
  const intercept = my - slope * mx;
  const rss = xs.reduce((a, x, i) => a + (ys[i] - intercept - slope * x) ** 2, 0);
  const df = xs.length - 2;
  const half = tQuantile(1 - (1 - level) / 2, df) * Math.sqrt(rss / df / sxx);
  return { method: 'fit', estimate: slope, lo: slope - half, hi: slope + half, level, df, n: xs.length, intercept };
}

/** A statistic for a ledger line: 3 significant decimals below 1, 2 up to 100, exponent outside [1e-3, 1e5). */
export function formatStatistic(x: number): string {
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(2);
  return x.toFixed(a >= 100 ? 1 : a >= 1 ? 2 : 3);
}
