/** Shared assertions for the test suite. */
import { strict as assert } from 'assert';
import { tf } from '../src/backend';

/** Max absolute difference between two tensors / arrays of equal size. */
export function maxAbsDiff(a: tf.Tensor | ArrayLike<number>, b: tf.Tensor | ArrayLike<number>): number {
  const av = a instanceof tf.Tensor ? a.dataSync() : a;
  const bv = b instanceof tf.Tensor ? b.dataSync() : b;
  assert.equal(av.length, bv.length, `size mismatch: ${av.length} vs ${bv.length}`);
  let m = 0;
  for (let i = 0; i < av.length; i++) m = Math.max(m, Math.abs(av[i] - bv[i]));
  return m;
}

/** Asserts |a - b| <= atol + rtol * |b| elementwise, reporting the worst index. */
export function assertClose(
  a: tf.Tensor | ArrayLike<number>,
  b: tf.Tensor | ArrayLike<number>,
  atol = 1e-5,
  rtol = 1e-4,
  msg = '',
): void {
  if (a instanceof tf.Tensor && b instanceof tf.Tensor) {
    assert.deepEqual(a.shape, b.shape, `${msg} shape mismatch`);
  }
  const av = a instanceof tf.Tensor ? a.dataSync() : a;
  const bv = b instanceof tf.Tensor ? b.dataSync() : b;
  assert.equal(av.length, bv.length, `${msg} size mismatch: ${av.length} vs ${bv.length}`);
  for (let i = 0; i < av.length; i++) {
    const tol = atol + rtol * Math.abs(bv[i]);
    if (!(Math.abs(av[i] - bv[i]) <= tol)) {
      assert.fail(`${msg} element ${i}: ${av[i]} vs ${bv[i]} (|diff| ${Math.abs(av[i] - bv[i])} > ${tol})`);
    }
  }
}

/** Asserts `fn` throws an Error whose message matches every pattern. */
export function assertThrowsNaming(fn: () => unknown, ...patterns: RegExp[]): void {
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof Error, 'expected an Error to be thrown');
  for (const p of patterns) assert.match((err as Error).message, p);
}

/** Runs `fn` with the given backend active, then restores the previous one. */
export async function withBackend<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  const prev = tf.getBackend();
  await tf.setBackend(name);
  try {
    return await fn();
  } finally {
    await tf.setBackend(prev);
  }
}
