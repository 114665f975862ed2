/**
 * Argument checks shared by every public function. Each throws an `Error`
 * whose message names the offending parameter and says what was expected.
 */
import type { Tensor } from './tf';

/** Throws unless `t` has exactly `rank` dimensions. */
export function assertRank(t: Tensor, rank: number, name: string, layout?: string): void {
  if (t == null || !Array.isArray(t.shape)) {
    throw new Error(`${name}: expected a tensor${layout ? ` of shape ${layout}` : ''}, got ${String(t)}`);
  }
  if (t.rank !== rank) {
    throw new Error(`${name}: expected rank ${rank}${layout ? ` (${layout})` : ''}, got rank ${t.rank} with shape [${t.shape.join(', ')}]`);
  }
}

/** Throws unless `t.rank` is one of `ranks`. */
export function assertRankIn(t: Tensor, ranks: number[], name: string, layout?: string): void {
  if (t == null || !Array.isArray(t.shape)) {
    throw new Error(`${name}: expected a tensor${layout ? ` of shape ${layout}` : ''}, got ${String(t)}`);
  }
  if (!ranks.includes(t.rank)) {
    throw new Error(`${name}: expected rank ${ranks.join(' or ')}${layout ? ` (${layout})` : ''}, got rank ${t.rank} with shape [${t.shape.join(', ')}]`);
  }
}

/** Throws unless the two shapes are identical. */
export function assertSameShape(a: Tensor, b: Tensor, nameA: string, nameB: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${nameB}: expected the same shape as ${nameA} [${a.shape.join(', ')}], got [${b.shape.join(', ')}]`);
  }
}

/** Throws unless `t.shape[axis] === size`. Negative axes count from the end. */
export function assertDim(t: Tensor, axis: number, size: number, name: string, what: string): void {
  const ax = axis < 0 ? t.rank + axis : axis;
  if (t.shape[ax] !== size) {
    throw new Error(`${name}: expected ${what} (axis ${ax}) to be ${size}, got ${t.shape[ax]} in shape [${t.shape.join(', ')}]`);
  }
}

/** Throws unless `v` is an integer >= `min` (default 1). */
export function assertInt(v: unknown, name: string, min = 1, max = Number.MAX_SAFE_INTEGER): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new Error(`${name}: expected an integer ${range}, got ${JSON.stringify(v)}`);
  }
}

/** Throws unless `v` is a finite number (optionally > 0). */
export function assertNumber(v: unknown, name: string, opts: { positive?: boolean; min?: number; max?: number } = {}): asserts v is number {
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    !(opts.positive && v <= 0) &&
    !(opts.min !== undefined && v < opts.min) &&
    !(opts.max !== undefined && v > opts.max);
  if (!ok) {
    const parts = [opts.positive ? '> 0' : '', opts.min !== undefined ? `>= ${opts.min}` : '', opts.max !== undefined ? `<= ${opts.max}` : '']
      .filter(Boolean)
      .join(' and ');
    throw new Error(`${name}: expected a finite number${parts ? ' ' + parts : ''}, got ${JSON.stringify(v)}`);
  }
}

/** Throws unless `v` is one of `choices`; returns it typed. */
export function assertOneOf<T extends string>(v: unknown, choices: readonly T[], name: string): T {
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    throw new Error(`${name}: expected one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

/** JSON text with object keys in a stable (sorted) order, for comparing plain data. */
export function canonicalJson(x: unknown): string {
  return JSON.stringify(x, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
  );
}
