import { strict as assert } from 'assert';
import { tf, initBackend, backendInfo, Rng } from '../../src/backend';
import { assertClose, assertThrowsNaming, withBackend, itOnKernelPaths } from '../helpers';

describe('backend', () => {
  it('reports the active backend', () => {
    const info = backendInfo();
    assert.ok(info);
    assert.equal(info!.name, tf.getBackend());
    assert.ok(['tensorflow', 'wasm', 'cpu'].includes(info!.name));
  });

  it('rejects an unknown RPELAB_BACKEND value, naming it', async () => {
    await assert.rejects(initBackend('gpu'), /choice: expected one of 'auto', 'tensorflow', 'wasm', 'cpu', got "gpu"/);
  });

  it('says how to get tfjs-node when it is asked for and absent', async function () {
    let hasNode = true;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- probing an optional package
      hasNode = require('@tensorflow/tfjs-node/package.json').name === '@tensorflow/tfjs-node';
    } catch {
      hasNode = false;
    }
    if (hasNode) this.skip();
    await assert.rejects(
      initBackend('tensorflow'),
      /RPELAB_BACKEND: 'tensorflow' needs @tensorflow\/tfjs-node@4\.22\.0 or, with CUDA, @tensorflow\/tfjs-node-gpu@4\.22\.0 .*@tensorflow\/tfjs-node-gpu is not installed; @tensorflow\/tfjs-node resolves to @tensorflow\/tfjs/,
    );
    assert.ok(['wasm', 'cpu'].includes(tf.getBackend()));
  });

  describe('wasm fallback kernels agree with cpu (forward and gradient)', () => {
    // Each case builds its operands from a fixed seed, so both backends see identical inputs.
    const t = (rng: Rng, shape: number[]) => tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);
    const grads = (f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[]) => {
      const { value, grads: g } = tf.valueAndGrads(f)(xs);
      return [value, ...g];
    };
    const cases: Array<[string, (rng: Rng) => tf.Tensor[]]> = [
      [
        'gather (UnsortedSegmentSum)',
        (rng) => {
          const idx = tf.tensor1d([0, 3, 3, 1, 4, 0, 2], 'int32');
          return grads((x) => tf.gather(x, idx).square().sum(), [t(rng, [5, 6])]);
        },
      ],
      [
        'conv1d filter gradient (Conv2DBackpropFilter)',
        (rng) =>
          grads(
            (x, w) =>
              tf
                .conv1d(x as tf.Tensor3D, w as tf.Tensor3D, 1, 'valid')
                .square()
                .sum(),
            [t(rng, [2, 20, 3]), t(rng, [4, 3, 5])],
          ),
      ],
      [
        'depthwiseConv2d gradients (DepthwiseConv2dNativeBackprop*)',
        (rng) =>
          grads(
            (x, w) =>
              tf
                .depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid')
                .square()
                .sum(),
            [t(rng, [1, 9, 9, 4]), t(rng, [3, 3, 4, 1])],
          ),
      ],
      ['einsum', (rng) => [tf.einsum('bij,bjk->bik', t(rng, [2, 3, 4]), t(rng, [2, 4, 5]))]],
    ];
    const runOn = (backend: string, run: (rng: Rng) => tf.Tensor[]) =>
      withBackend(backend, () => tf.tidy(() => run(new Rng(7)).map((x) => ({ shape: x.shape, data: Array.from(x.dataSync()) }))));

    for (const [name, run] of cases) {
      it(name, async () => {
        const onCpu = await runOn('cpu', run);
        const onWasm = await runOn('wasm', run);
        assert.equal(onCpu.length, onWasm.length);
        for (let i = 0; i < onCpu.length; i++) {
          assert.deepEqual(onWasm[i].shape, onCpu[i].shape);
          assertClose(onWasm[i].data, onCpu[i].data, 1e-4, 1e-4, `${name} output ${i}`);
        }
      });
    }
  });

  it('wasm matMul gives right results when one right operand is reused in another shape', async () => {
    // tfjs-backend-wasm caches XNNPACK operators by the right operand's memory id; reshapes share it.
    const run = () =>
      tf.tidy(() => {
        const v = tf.tensor1d([1, 2, 3, 4, 5, 6, 7, 8]);
        const a = tf.matMul(tf.ones([1, 8]), v.reshape([8, 1])).dataSync()[0];
        const b = Array.from(tf.matMul(tf.ones([1, 4]), v.reshape([4, 2])).dataSync());
        const c = Array.from(tf.matMul(tf.ones([1, 2]), v.reshape([2, 4])).dataSync());
        return { a, b, c };
      });
    for (const backend of ['wasm', 'cpu']) {
      const r = await withBackend(backend, run);
      assert.equal(r.a, 36, backend);
      assert.deepEqual(r.b, [16, 20], backend);
      assert.deepEqual(r.c, [6, 8, 10, 12], backend);
    }
  });

  describe('Rng', () => {
    it('repeats exactly from a seed and from a saved state', () => {
      const a = new Rng(42);
      const b = new Rng(42);
      assert.deepEqual(Array.from(a.normalArray(10)), Array.from(b.normalArray(10)));
      const st = a.getState();
      const next = Array.from(a.normalArray(7));
      a.setState(st);
      assert.deepEqual(Array.from(a.normalArray(7)), next);
      assert.notDeepEqual(Array.from(new Rng(43).normalArray(10)), Array.from(new Rng(42).normalArray(10)));
    });

    it('draws standard normals (mean 0, variance 1 within 4 standard errors)', () => {
      const n = 200000;
      const xs = new Rng(1).normalArray(n);
      let m = 0;
      for (const v of xs) m += v;
      m /= n;
      let s2 = 0;
      for (const v of xs) s2 += (v - m) ** 2;
      s2 /= n - 1;
      assert.ok(Math.abs(m) < 4 / Math.sqrt(n), `mean ${m}`);
      assert.ok(Math.abs(s2 - 1) < 4 * Math.sqrt(2 / n), `variance ${s2}`);
    });

    itOnKernelPaths(
      'fillNormal writes exactly the draws of as many normal() calls (odd lengths carry the spare), and skipNormals advances the state exactly as they would',
      () => {
        const [a, b, c, d] = [new Rng(5), new Rng(5), new Rng(9), new Rng(9)];
        // 63 / 64: either side of the native threshold; 200001: a long odd run (native pairs + the spare).
        for (const n of [1, 2, 3, 7, 1000, 1, 0, 5, 63, 64, 200001, 2]) {
          const byCall = Float32Array.from({ length: n }, () => a.normal());
          const filled = new Float32Array(n + 3);
          b.fillNormal(filled, 2, 2 + n);
          assert.deepEqual(Array.from(filled.subarray(2, 2 + n)), Array.from(byCall));
          assert.deepEqual(b.getState(), a.getState());
        }
        for (const n of [3, 4, 1, 1, 10, 0]) {
          for (let i = 0; i < n; i++) c.normal();
          d.skipNormals(n);
          assert.deepEqual(d.getState(), c.getState());
        }
        assert.equal(d.normal(), c.normal());
        assertThrowsNaming(() => d.skipNormals(-1), /n: expected an integer/);
      },
    );

    it('permutation is a permutation', () => {
      const p = Array.from(new Rng(3).permutation(100)).sort((x, y) => x - y);
      assert.deepEqual(
        p,
        Array.from({ length: 100 }, (_, i) => i),
      );
    });

    it('rejects a bad seed, naming it', () => {
      assertThrowsNaming(() => new Rng(-1), /seed: expected an integer in \[0, 4294967295\], got -1/);
    });
  });
});
