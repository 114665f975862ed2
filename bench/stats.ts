/**
 * Small statistics for benchmark results: medians and the power-law fit t ≈ c · L^p
 * (least squares on log t = log c + p log L), whose exponent p says how time grows with
 * the sequence length (≈ 1 for linear attention, ≈ 2 for softmax attention).
 */

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('xs: expected at least one value, got an empty list');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A fitted power law y ≈ prefactor · x^exponent. */
export interface PowerLawFit {
  exponent: number;
  prefactor: number;
  /** Coefficient of determination of the log-log fit (1 = the points lie on a line). */
  r2: number;
  /** Number of (x, y) points used. */
  points: number;
}

/**
 * Least-squares fit of log y = log c + p · log x over the points with x, y > 0.
 * Returns null when fewer than two distinct x remain.
 */
export function fitPowerLaw(xs: readonly number[], ys: readonly number[]): PowerLawFit | null {
  if (xs.length !== ys.length) throw new Error(`ys: expected ${xs.length} values like xs, got ${ys.length}`);
  const pts = xs.map((x, i) => [x, ys[i]]).filter(([x, y]) => x > 0 && y > 0 && Number.isFinite(x) && Number.isFinite(y));
  if (new Set(pts.map(([x]) => x)).size < 2) return null;
  const lx = pts.map(([x]) => Math.log(x));
  const ly = pts.map(([, y]) => Math.log(y));
  const n = pts.length;
  const mx = lx.reduce((a, b) => a + b, 0) / n;
  const my = ly.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (lx[i] - mx) * (ly[i] - my);
    sxx += (lx[i] - mx) ** 2;
    syy += (ly[i] - my) ** 2;
  }
  const exponent = sxy / sxx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { exponent, prefactor: Math.exp(my - exponent * mx), r2, points: n };
}

/** Value of a fit at x. */
export function evalPowerLaw(fit: PowerLawFit, x: number): number {
  return fit.prefactor * Math.pow(x, fit.exponent);
}

/** Geometric mean of positive values. */
export function geomean(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('xs: expected at least one value, got an empty list');
  return Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
}
