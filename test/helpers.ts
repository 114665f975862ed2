/** Shared assertions for the test suite. */
import { strict as assert } from 'assert';
import { spawnSync, type SpawnSyncReturns } from 'child_process';
import * as path from 'path';
import { tf, Rng, nativeKernels, useNative } from '../src/backend';

const ROOT = path.resolve(__dirname, '..');

/** Runs the repository's TypeScript script `script` (a path from the root) with tsx in a child process, from the root; its output as text. */
export function runScript(script: string, ...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, script), ...args], { encoding: 'utf8', cwd: ROOT });
}

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
export function assertClose(a: tf.Tensor | ArrayLike<number>, b: tf.Tensor | ArrayLike<number>, atol = 1e-5, rtol = 1e-4, msg = ''): void {
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

/** Asserts `tf.memory().numTensors` is unchanged over `reps` more calls of `step` (after one warm-up). */
export function assertNoLeak(step: () => void, reps = 3, label?: string): void {
  step();
  const before = tf.memory().numTensors;
  for (let i = 0; i < reps; i++) step();
  assert.equal(tf.memory().numTensors, before, `${label ? `${label}: ` : ''}live tensors after repeated forward + backward`);
}

/** A standard-normal tensor [B, L, H, D] from `rng`. */
export const randn = (rng: Rng, shape: [number, number, number, number]): tf.Tensor4D => tf.tensor4d(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);

/** Per-head score matrices A[b, h, s, t] = q_s · k_t. q, k: [B, L, H, D] -> [B, H, L, L]. */
export const scores = (q: tf.Tensor4D, k: tf.Tensor4D): tf.Tensor4D => tf.matMul(q.transpose([0, 2, 1, 3]), k.transpose([0, 2, 3, 1]));

/** The same content vector at every position: [1, L, H, D]. */
export const repeated = (rng: Rng, L: number, H: number, D: number): tf.Tensor4D => tf.tile(randn(rng, [1, 1, H, D]), [1, L, 1, 1]) as tf.Tensor4D;

/**
 * Declares the test `title` once per kernel path: `[native kernels]`, which is skipped (and
 * counted as skipped) when the native addon is not loaded, so it never passes by testing the
 * portable path twice; and `[JavaScript kernels]`. `fn` runs with that path selected.
 */
export function itOnKernelPaths(title: string, fn: (native: boolean, ctx: Mocha.Context) => void | Promise<void>, timeoutMs?: number): void {
  for (const native of [true, false]) {
    it(`${title} [${native ? 'native kernels' : 'JavaScript kernels'}]`, async function () {
      if (timeoutMs !== undefined) this.timeout(timeoutMs);
      if (native && !nativeKernels()) this.skip();
      const was = useNative(native);
      try {
        await fn(native, this);
      } finally {
        useNative(was);
      }
    });
  }
}

/** For a test that compares the native kernels with another path inside one `it`: skips it (counted) when the addon is not loaded. */
export function requireNative(ctx: Mocha.Context): void {
  if (!nativeKernels()) ctx.skip();
}

/** Skips (counted as skipped) unless the native addon is built with OpenBLAS (scripts/build-native.sh). */
export function requireBlasLibrary(ctx: Mocha.Context): void {
  const k = nativeKernels();
  if (!k || !k.blas().startsWith('openblas')) ctx.skip();
}

/** Calls `onEvent` with each line of `stream` that parses as JSON (a child process's progress events); other lines are ignored. */
export function onJsonLines(stream: NodeJS.ReadableStream, onEvent: (ev: { kind?: string; step?: number }) => void): void {
  let buf = '';
  stream.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let ev: { kind?: string; step?: number };
      try {
        ev = JSON.parse(line);
      } catch {
        continue; // not an event line
      }
      onEvent(ev);
    }
  });
}

/** Spec strings that parse, covering every attention kind, options, aliases and flags (spec and fuzz tests start from them). */
export const EXAMPLE_SPECS = [
  'linear:elu+lrpe(unitary,householder,learned)',
  'linear:elu+lrpe(core=permutation,p=odd-even)',
  'performer+spe(sine,K=10,R=64,gated)',
  'linear:relu+spe(conv,P=16,ungated)',
  'softmax+relbias(max=32)',
  'linear(norm=layernorm,chunk=16):elu+rope',
  'linear:elu+permuteformer',
  'performer(features=64)+lrpe(rotation,identity)',
  'softmax',
  'linear:identity+rope(interleaved)',
  'linear(features=32):favor+retnet',
  'softmax(block=64)+relbias',
];

/**
 * The value of Σ f(q, k, v) ⊙ R and its gradients for q, k, v, as arrays [value, dq, dk, dv]
 * (q, k, v, R: [batch, length, heads, dim]; f's output has R's shape).
 */
export function weightedSumValueAndGrads(
  f: (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D) => tf.Tensor4D,
  [q, k, v]: tf.Tensor4D[],
  R: tf.Tensor4D,
): number[][] {
  return tf.tidy(() => {
    const { value, grads } = tf.valueAndGrads((a, b, c) =>
      f(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D)
        .mul(R)
        .sum(),
    )([q, k, v]);
    return [value, ...grads].map((t) => Array.from(t.dataSync()));
  });
}
