import { strict as assert } from 'assert';
import { tf, Rng, useNative } from '../../src/backend';
import { eluPlusOne, reluFeatureMap, identityFeatureMap, featureMapFromName, FavorPlus } from '../../src/attention/feature-maps';
import { assertClose, assertThrowsNaming, withBackend, itOnKernelPaths, requireNative } from '../helpers';
import { hasFusedFavorFeatures } from '../../src/attention/favor-kernels';

const xs = [-2, -0.5, 0, 1.5];
const x4 = () => tf.tensor4d(xs, [1, 2, 1, 2]);

/** Mean over pairs of |φ(q)·φ(k) − exp(q·k/√d)| / exp(q·k/√d), averaged over `seeds` projections. */
function favorRelativeError(numFeatures: number, seeds: number[]): number {
  const d = 8;
  const pairs = 64;
  const data = new Rng(99);
  const q = tf.tensor4d(data.normalArray(pairs * d, 0, 0.7), [1, pairs, 1, d]);
  const k = tf.tensor4d(data.normalArray(pairs * d, 0, 0.7), [1, pairs, 1, d]);
  const qd = q.dataSync();
  const kd = k.dataSync();
  let total = 0;
  for (const seed of seeds) {
    const favor = new FavorPlus({ dim: d, numFeatures, rng: new Rng(seed) });
    const approx = tf.tidy(() => favor.apply(q).mul(favor.apply(k)).sum(3).dataSync());
    for (let p = 0; p < pairs; p++) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += qd[p * d + j] * kd[p * d + j];
      const exact = Math.exp(dot / Math.sqrt(d));
      total += Math.abs(approx[p] - exact) / exact;
    }
    favor.dispose();
  }
  tf.dispose([q, k]);
  return total / (pairs * seeds.length);
}

describe('feature maps', () => {
  it('elu+1, relu + eps and identity give their values and keep the shape', () => {
    tf.tidy(() => {
      assertClose(eluPlusOne.apply(x4()), [Math.exp(-2), Math.exp(-0.5), 1, 2.5], 1e-6, 1e-6, 'elu+1');
      assertClose(reluFeatureMap().apply(x4()), [1e-3, 1e-3, 1e-3, 1.501], 1e-7, 1e-6, 'relu');
      assertClose(reluFeatureMap(0.1).apply(x4()), [0.1, 0.1, 0.1, 1.6], 1e-7, 1e-6, 'relu eps 0.1');
      assertClose(identityFeatureMap.apply(x4()), xs, 0, 0, 'identity');
      assert.deepEqual(eluPlusOne.apply(x4()).shape, [1, 2, 1, 2]);
      for (const fm of [eluPlusOne, reluFeatureMap(), identityFeatureMap]) assert.equal(fm.outputDim(7), 7);
    });
  });

  it('featureMapFromName returns the named map and rejects other names', () => {
    assert.equal(featureMapFromName('elu'), eluPlusOne);
    assert.equal(featureMapFromName('identity'), identityFeatureMap);
    assert.equal(featureMapFromName('relu').name, 'relu');
    tf.tidy(() => assertClose(featureMapFromName('relu').apply(x4()), [1e-3, 1e-3, 1e-3, 1.501], 1e-7, 1e-6));
    assertThrowsNaming(() => featureMapFromName('exp' as 'relu'), /^name: expected one of 'elu', 'relu', 'identity', got "exp"/);
    assertThrowsNaming(() => eluPlusOne.apply(tf.zeros([2, 3]) as unknown as tf.Tensor4D), /^x: expected rank 4/);
    assertThrowsNaming(() => reluFeatureMap(-1), /^eps: /);
  });

  describe('FAVOR+ (SPE paper, Liutkus et al. 2021)', () => {
    itOnKernelPaths('features are (exp(w·x̂ − ‖x̂‖²/2) + 1e-4)/√m with x̂ = x·d^(-1/4), computed from the projection buffer', () => {
      const favor = new FavorPlus({ dim: 4, numFeatures: 6, rng: new Rng(1) });
      tf.tidy(() => {
        const x = tf.tensor4d(new Rng(2).normalArray(2 * 3 * 2 * 4), [2, 3, 2, 4]);
        const phi = favor.apply(x);
        assert.deepEqual(phi.shape, [2, 3, 2, 6]);
        const w = favor.projection.dataSync(); // [dim, m]
        const xd = x.dataSync();
        const want: number[] = [];
        for (let row = 0; row < 12; row++) {
          const xh = Array.from({ length: 4 }, (_, j) => xd[row * 4 + j] * 4 ** -0.25);
          const half = xh.reduce((a, c) => a + c * c, 0) / 2;
          for (let i = 0; i < 6; i++) {
            const wx = xh.reduce((a, c, j) => a + c * w[j * 6 + i], 0);
            want.push((Math.exp(wx - half) + 1e-4) / Math.sqrt(6));
          }
        }
        assertClose(phi, want, 1e-6, 1e-4);
        assert.ok(phi.min().dataSync()[0] > 0, 'features are positive');
      });
      assert.equal(favor.outputDim(4), 6);
      assertThrowsNaming(() => favor.outputDim(5), /^d: FavorPlus was built for dim 4, got 5/);
      assertThrowsNaming(() => tf.tidy(() => favor.apply(tf.zeros([1, 2, 1, 3]) as tf.Tensor4D)), /^x: expected the feature axis/);
      favor.dispose();
    });

    it('projection rows are orthogonal within a block of d and have Gaussian-like norms', () => {
      const favor = new FavorPlus({ dim: 8, numFeatures: 20, rng: new Rng(3) });
      const w = favor.projection.dataSync(); // [8, 20]: column i is w_i
      const col = (i: number) => Array.from({ length: 8 }, (_, j) => w[j * 20 + i]);
      for (const [start, n] of [
        [0, 8],
        [8, 8],
        [16, 4],
      ]) {
        for (let a = start; a < start + n; a++) {
          for (let b = a + 1; b < start + n; b++) {
            const dot = col(a).reduce((acc, x, j) => acc + x * col(b)[j], 0);
            assert.ok(Math.abs(dot) < 1e-4, `w_${a}·w_${b} = ${dot}`);
          }
        }
      }
      // Rows across blocks are not orthogonal (independent blocks).
      assert.ok(Math.abs(col(0).reduce((acc, x, j) => acc + x * col(8)[j], 0)) > 1e-3);
      // Squared norms are chi-square with d degrees of freedom: mean 8.
      const mean = Array.from({ length: 20 }, (_, i) => col(i).reduce((a, x) => a + x * x, 0)).reduce((a, b) => a + b) / 20;
      assert.ok(mean > 4 && mean < 12, `mean squared norm ${mean}`);
      favor.dispose();
    });

    it('approximates exp(q·k/√d): the relative error falls as numFeatures grows', function () {
      this.timeout(20000);
      const seeds = [1, 2, 3, 4];
      const errors = [8, 32, 128, 512].map((m) => favorRelativeError(m, seeds));
      for (let i = 1; i < errors.length; i++) assert.ok(errors[i] < errors[i - 1], `errors ${errors.map((e) => e.toFixed(3))}`);
      // Monte Carlo rate 1/√m: 64x the features should cut the error by about 8; ask for 4.
      assert.ok(errors[3] < errors[0] / 4, `errors ${errors.map((e) => e.toFixed(3))}`);
      assert.ok(errors[3] < 0.15, `error with 512 features ${errors[3]} (${errors})`);
    });

    it('redraw replaces the projection deterministically from the rng', () => {
      const a = new FavorPlus({ dim: 4, numFeatures: 8, rng: new Rng(5) });
      const b = new FavorPlus({ dim: 4, numFeatures: 8, rng: new Rng(5) });
      const c = new FavorPlus({ dim: 4, numFeatures: 8, rng: new Rng(6) });
      const x = tf.tensor4d(new Rng(7).normalArray(12), [1, 3, 1, 4]);
      const feats = (f: FavorPlus) => tf.tidy(() => Array.from(f.apply(x).dataSync()));
      try {
        assert.deepEqual(feats(a), feats(b), 'same seed, same features');
        assert.notDeepEqual(feats(a), feats(c), 'other seed, other features');
        const first = feats(a);
        a.redraw();
        b.redraw();
        assert.notDeepEqual(feats(a), first, 'redraw changes the features');
        assert.deepEqual(feats(a), feats(b), 'the modules own generators redraw identically');
        a.redraw(new Rng(42));
        c.redraw(new Rng(42));
        assert.deepEqual(feats(a), feats(c), 'the same given rng gives the same features');
        assert.equal(a.trainableVariables().length, 0, 'the projection is a frozen buffer');
        assert.deepEqual(
          a.namedVariables().map(([n]) => n),
          ['projection'],
        );
        // Redrawing keeps the variable (no new tensors).
        const before = tf.memory().numTensors;
        a.redraw();
        assert.equal(tf.memory().numTensors, before);
      } finally {
        tf.dispose(x);
        [a, b, c].forEach((m) => m.dispose());
      }
    });

    it('i.i.d. (non-orthogonal) projections also approximate the kernel', () => {
      const favor = new FavorPlus({ dim: 4, numFeatures: 2048, orthogonal: false, stabilizer: 0, rng: new Rng(8) });
      tf.tidy(() => {
        const q = tf.tensor4d([0.3, -0.2, 0.5, 0.1], [1, 1, 1, 4]);
        const k = tf.tensor4d([0.4, 0.1, 0.2, -0.3], [1, 1, 1, 4]);
        const approx = favor.apply(q).mul(favor.apply(k)).sum().dataSync()[0];
        const exact = Math.exp((0.12 - 0.02 + 0.1 - 0.03) / 2);
        assert.ok(Math.abs(approx - exact) / exact < 0.05, `${approx} vs ${exact}`);
      });
      favor.dispose();
    });

    it("the fused kernels (native; JavaScript loops on cpu) give the composed tf ops' features and gradients", async function () {
      requireNative(this);
      /** Features and d/dx of Σ φ ⊙ u (u fixed random weights), rows of 70 features (edges of every vector block). */
      const run = () => {
        const favor = new FavorPlus({ dim: 12, numFeatures: 70, rng: new Rng(13) });
        try {
          return tf.tidy(() => {
            const x = tf.tensor4d(new Rng(14).normalArray(2 * 5 * 3 * 12), [2, 5, 3, 12]);
            const u = tf.tensor4d(new Rng(15).normalArray(2 * 5 * 3 * 70), [2, 5, 3, 70]);
            const phi = favor.apply(x);
            const [g] = tf.grads((y) =>
              favor
                .apply(y as tf.Tensor4D)
                .mul(u)
                .sum(),
            )([x]);
            return { fused: hasFusedFavorFeatures(), phi: Array.from(phi.dataSync()), g: Array.from(g.dataSync()) };
          });
        } finally {
          favor.dispose();
        }
      };
      const forms: Array<[string, string, boolean]> = [
        ['composed tf ops', 'wasm', false],
        ['native kernels', 'wasm', true],
        ['JavaScript loops', 'cpu', false],
      ];
      const out = [];
      for (const [name, backend, native] of forms) {
        const was = useNative(native);
        try {
          const r = await withBackend(backend, run);
          assert.equal(r.fused, name !== 'composed tf ops', `${name}: the fused kernels ${r.fused ? 'ran' : 'did not run'}`);
          out.push(r);
        } finally {
          useNative(was);
        }
      }
      assert.ok(
        out[0].g.some((v) => Math.abs(v) > 1e-3),
        'a gradient that can fail the comparison',
      );
      for (let i = 1; i < forms.length; i++) {
        assertClose(out[i].phi, out[0].phi, 1e-6, 1e-5, `${forms[i][0]}: features`);
        assertClose(out[i].g, out[0].g, 1e-5, 1e-4, `${forms[i][0]}: d/dx`);
      }
    });

    it('gradients with respect to x exist and agree between wasm and cpu; no tensor leak', async () => {
      const run = () => {
        const favor = new FavorPlus({ dim: 4, numFeatures: 16, rng: new Rng(9) });
        try {
          return tf.tidy(() => {
            const x = tf.tensor4d(new Rng(10).normalArray(24), [2, 3, 1, 4]);
            const [g] = tf.grads((y) => favor.apply(y as tf.Tensor4D).sum())([x]);
            return Array.from(g.dataSync());
          });
        } finally {
          favor.dispose();
        }
      };
      const onCpu = await withBackend('cpu', run);
      const onWasm = await withBackend('wasm', run);
      assert.ok(onCpu.some((v) => Math.abs(v) > 1e-4));
      assertClose(onWasm, onCpu, 1e-5, 1e-4);

      const favor = new FavorPlus({ dim: 4, numFeatures: 16 });
      const x = tf.ones([1, 3, 2, 4]) as tf.Tensor4D;
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        const { value, grads } = tf.valueAndGrads((y) => favor.apply(y as tf.Tensor4D).sum())([x]);
        tf.dispose([value, ...grads]);
        favor.redraw();
      }
      assert.equal(tf.memory().numTensors, before);
      tf.dispose(x);
      favor.dispose();
    });

    it('bad options throw naming the parameter', () => {
      assertThrowsNaming(() => new FavorPlus({ dim: 0 }), /^dim: expected an integer >= 1, got 0/);
      assertThrowsNaming(() => new FavorPlus({ dim: 4, numFeatures: 1.5 }), /^numFeatures: /);
      assertThrowsNaming(() => new FavorPlus({ dim: 4, stabilizer: -1 }), /^stabilizer: /);
    });
  });
});
