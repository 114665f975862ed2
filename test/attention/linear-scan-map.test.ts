/**
 * The native linear attention kernel with LRPE's map inside (`nativeLinearScan(..., map)`): the
 * same values and gradients as the map's own kernel (`fusedLrpeMap`, with φ = elu + 1) followed by
 * the kernel on the mapped features; and on q, k, v packed in one array (`nativeLinearScanPacked`)
 * the same as on the split parts. Skipped, and counted, without the native kernels.
 */
import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { nativeLinearScan, nativeLinearScanPacked, nativeLinearScanApplies, type LinearScanAttrs } from '../../src/attention/linear-scan';
import type { LrpeRowMap } from '../../src/encodings';
import { fusedLrpeMap } from '../../src/encodings/lrpe/kernels';
import { rightMultiply } from '../../src/encodings/lrpe/ops';
import { assertClose, assertThrowsNaming, weightedSumValueAndGrads } from '../helpers';

const randn = (rng: Rng, shape: number[], scale = 1) =>
  tf.tidy(() => tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape).mul(scale)) as tf.Tensor4D;

type PKind = 'none' | 'householder' | 'dense';

/** I + 0.2 N / √F, N standard normal [F, F]. */
function denseNearIdentity(rng: Rng, F: number): tf.Tensor2D {
  const noise = rng.normalArray(F * F);
  return tf.tensor2d(
    Array.from(noise, (x, i) => (i % (F + 1) === 0 ? 1 : 0) + (0.2 * x) / Math.sqrt(F)),
    [F, F],
  );
}

/** A random map: P (none, a unit Householder vector, or a dense right factor) and angle tables for L positions. */
function randomMap(rng: Rng, mode: 'pairs' | 'unitary', L: number, F: number, W: number, p: PKind | boolean): LrpeRowMap {
  const kind: PKind = p === true ? 'householder' : p === false ? 'none' : p;
  const angles = rng.uniformArray(L * W, -3, 3);
  const v = rng.normalArray(F);
  const norm = Math.hypot(...v);
  return {
    mode,
    // Dense: near the identity, so the features stay mostly positive and the denominator away from 0.
    right: kind === 'dense' ? denseNearIdentity(rng, F) : null,
    u: kind === 'householder' ? tf.tensor1d(v.map((x) => x / norm)) : null,
    cos: tf.tensor2d(angles.map(Math.cos), [L, W]),
    sin: tf.tensor2d(angles.map(Math.sin), [L, W]),
  };
}

describe('nativeLinearScan with the LRPE map inside', () => {
  beforeEach(function () {
    if (!nativeLinearScanApplies()) this.skip();
  });

  // (mode, F, W): pairs over part of the features, unitary (features 2F), and widths from 64 (the wide backward).
  const maps: Array<['pairs' | 'unitary', number, number]> = [
    ['pairs', 8, 6],
    ['unitary', 5, 5],
    ['pairs', 67, 66],
    ['unitary', 40, 40],
  ];
  const calls: Array<[string, Partial<LinearScanAttrs>]> = [
    ['causal, no denominator', { causal: true, normalize: false }],
    ['causal, denominator', { causal: true, normalize: true }],
    ['bidirectional', { causal: false, normalize: false }],
    ['bidirectional, decay', { causal: false, normalize: false, decay: [0.7, 0.95] }],
  ];
  for (const [mode, F, W] of maps) {
    for (const p of ['householder', 'none', 'dense'] as const) {
      for (const [name, call] of calls) {
        it(`${mode} (F ${F}, W ${W}, P ${p}), ${name}: values and gradients equal the map's kernel, then the scan`, () => {
          const rng = new Rng(F * 7 + W + p.length);
          const [B, L, H, E] = [2, 9, 2, 6];
          const [q, k] = [0, 1].map(() => randn(rng, [B, L, H, F], 0.5));
          const v = randn(rng, [B, L, H, E]);
          const R = randn(rng, [B, L, H, E]);
          const map = randomMap(rng, mode, L, F, W, p);
          const attrs: LinearScanAttrs = { causal: true, normalize: false, eps: 1e-6, decay: null, featureMap: 'elu', ...call };
          const run = (f: (a: tf.Tensor4D, b: tf.Tensor4D, c: tf.Tensor4D) => tf.Tensor4D) => weightedSumValueAndGrads(f, [q, k, v], R);
          const fused = run((a, b, c) => nativeLinearScan(a, b, c, { ...attrs, map: mode }, map));
          const composed = run((a, b, c) => {
            // A dense P: φ, then the rows times it (rightMultiply), then the map with no P of its own.
            const dense = (x: tf.Tensor4D) => rightMultiply((tf.elu(x).add(1) as tf.Tensor4D).reshape([-1, F]), map.right!).reshape(x.shape) as tf.Tensor4D;
            const m = (x: tf.Tensor4D) =>
              map.right
                ? fusedLrpeMap(dense(x), null, map.cos, map.sin, mode, { u: false, tables: false })
                : fusedLrpeMap(x, map.u, map.cos, map.sin, mode, { u: false, tables: false }, 'elu+1');
            return nativeLinearScan(m(a), m(b), c, { ...attrs, featureMap: 'identity' });
          });
          ['value', 'dq', 'dk', 'dv'].forEach((n, i) => {
            assert.ok(
              fused[i].some((x) => x !== 0),
              `${n} is not all zero`,
            );
            assertClose(fused[i], composed[i], 1e-5, 1e-4, n);
          });
          tf.dispose([q, k, v, R, map.cos, map.sin, ...(map.u ? [map.u] : []), ...(map.right ? [map.right] : [])]);
        });
      }
    }
  }

  for (const mode of [null, 'unitary', 'pairs'] as const) {
    for (const [name, call] of calls) {
      it(`packed q, k, v [B, L, 3, H, D]${mode ? `, ${mode} map` : ''}, ${name}: values and the gradient equal the split parts'`, () => {
        const rng = new Rng(90);
        const [B, L, H, D] = [2, 7, 2, 6];
        const qkv = randn(rng, [B, L, 3, H, D], 0.5) as unknown as tf.Tensor5D;
        const R = randn(rng, [B, L, H, D]);
        const map = mode ? randomMap(rng, mode, L, D, mode === 'pairs' ? 4 : D, mode === 'pairs' ? 'dense' : 'householder') : undefined;
        const attrs: LinearScanAttrs = { causal: true, normalize: false, eps: 1e-6, decay: null, featureMap: 'elu', ...call, ...(mode ? { map: mode } : {}) };
        const run = (f: (x: tf.Tensor5D) => tf.Tensor4D) =>
          tf.tidy(() => {
            const { value, grads } = tf.valueAndGrads((x) =>
              f(x as tf.Tensor5D)
                .mul(R)
                .sum(),
            )([qkv]);
            return [value, grads[0]].map((t) => Array.from(t.dataSync()));
          });
        const packed = run((x) => nativeLinearScanPacked(x, attrs, map));
        const split = run((x) => {
          const [q, k, v] = tf.unstack(x, 2) as tf.Tensor4D[];
          return nativeLinearScan(q, k, v, attrs, map);
        });
        ['value', 'dqkv'].forEach((n, i) => assertClose(packed[i], split[i], 1e-6, 1e-5, n));
        tf.dispose([qkv, R]);
        if (map) tf.dispose([map.cos, map.sin, ...(map.u ? [map.u] : []), ...(map.right ? [map.right] : [])]);
      });
    }
  }

  it('no tensor leak over forward + backward, and mismatched map arguments throw naming map', () => {
    const rng = new Rng(3);
    const [q, k, v] = [0, 1, 2].map(() => randn(rng, [1, 5, 2, 4]));
    const map = randomMap(rng, 'unitary', 5, 4, 4, true);
    const attrs: LinearScanAttrs = { causal: true, normalize: true, eps: 1e-6, decay: null, featureMap: 'elu', map: 'unitary' };
    try {
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        const { value, grads } = tf.valueAndGrads((a, b, c) => nativeLinearScan(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, attrs, map).sum())([
          q,
          k,
          v,
        ]);
        tf.dispose([value, ...grads]);
      }
      assert.equal(tf.memory().numTensors, before);
      assertThrowsNaming(() => nativeLinearScan(q, k, v, { ...attrs, map: 'pairs' }, map), /map: attrs.map is pairs but the tables are for unitary/);
      assertThrowsNaming(() => nativeLinearScan(q, k, v, attrs), /map: attrs.map is unitary but the tables are for none/);
      assertThrowsNaming(
        () => nativeLinearScanPacked(q as unknown as tf.Tensor5D, attrs, map),
        /qkv: expected \[batch, length, 3, heads, D\], got \[1,5,2,4\]/,
      );
    } finally {
      tf.dispose([q, k, v, map.cos, map.sin, map.u!]);
    }
  });
});
