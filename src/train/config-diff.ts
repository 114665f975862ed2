/**
 * Comparing two run configurations (plain JSON data): which dotted keys differ. Used wherever a
 * stored result or checkpoint is about to be reused, so that one made with another configuration
 * is refused with a message naming what changed, never silently reused.
 */

import { canonicalJson } from '../backend';
export { canonicalJson };

const isObject = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);

/** Dotted keys whose values differ between two plain-data objects (sorted); `(root)` when they are not both objects and differ. */
export function differingKeys(a: unknown, b: unknown, prefix = ''): string[] {
  if (!isObject(a) || !isObject(b)) return canonicalJson(a) === canonicalJson(b) ? [] : [prefix || '(root)'];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.flatMap((k) => differingKeys(a[k], b[k], prefix ? `${prefix}.${k}` : k));
}

/** The value at a dotted key, or undefined. */
function at(x: unknown, key: string): unknown {
  let cur = x;
  for (const part of key.split('.')) {
    if (!isObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/** "train.steps 100 -> 200, run.spec 'a' -> 'b'" for the first `limit` differing keys. */
export function describeDifference(stored: unknown, current: unknown, keys: string[], limit = 5): string {
  const show = (v: unknown) => {
    const s = v === undefined ? 'absent' : JSON.stringify(v);
    return s.length > 40 ? `${s.slice(0, 37)}...` : s;
  };
  const parts = keys
    .slice(0, limit)
    .map((k) => (k === '(root)' ? `${show(stored)} -> ${show(current)}` : `${k} ${show(at(stored, k))} -> ${show(at(current, k))}`));
  return parts.join(', ') + (keys.length > limit ? `, and ${keys.length - limit} more` : '');
}
