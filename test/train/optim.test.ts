import { strict as assert } from 'assert';
import { tf, Rng, useNative, nativeKernels } from '../../src/backend';
import { Module } from '../../src/nn';
import { Adam, AdamW, clipGradNorm, globalNorm, lossAndGrads } from '../../src/train';
import { assertClose, assertThrowsNaming, withBackend } from '../helpers';
import { hasFusedAdamStep, adamStepInPlace } from '../../src/train/adam-kernels';

/** f(w, W) = ½ Σ a_i (w_i − c_i)² + ½ Σ (W_ij − C_ij)²: a vector (rank 1) and a matrix (rank 2). */
class Quadratic extends Module {
  readonly w: tf.Variable;
  readonly W: tf.Variable;
  static readonly a = [1, 4, 0.25];
  static readonly c = [1, -2, 3];
  static readonly C = [0.5, -1, 2, 0];
  constructor() {
    super();
    this.w = this.addParameter('w', tf.tensor1d([0.3, 0.1, -0.5]));
    this.W = this.addParameter('W', tf.tensor2d([1, 2, -1, 0.5], [2, 2]));
  }
  loss(): tf.Scalar {
    return tf.tidy(() => {
      const dw = this.w.sub(tf.tensor1d(Quadratic.c));
      const dW = this.W.sub(tf.tensor2d(Quadratic.C, [2, 2]));
      return dw.square().mul(tf.tensor1d(Quadratic.a)).sum().mul(0.5).add(dW.square().sum().mul(0.5)) as tf.Scalar;
    });
  }
}

/** Plain-JS (float64) Adam/AdamW on the quadratic: the reference. */
function referenceAdam(lrs: number[], b1: number, b2: number, eps: number, wd: number, decayW: boolean, decayMatrixW: boolean) {
  const w = [0.3, 0.1, -0.5];
  const W = [1, 2, -1, 0.5];
  const mw = [0, 0, 0],
    vw = [0, 0, 0],
    mW = [0, 0, 0, 0],
    vW = [0, 0, 0, 0];
  lrs.forEach((lr, k) => {
    const t = k + 1;
    const gw = w.map((x, i) => Quadratic.a[i] * (x - Quadratic.c[i]));
    const gW = W.map((x, i) => x - Quadratic.C[i]);
    const upd = (p: number[], g: number[], m: number[], v: number[], decays: boolean) => {
      for (let i = 0; i < p.length; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        if (decays) p[i] *= 1 - lr * wd;
        const mhat = m[i] / (1 - b1 ** t);
        const vhat = v[i] / (1 - b2 ** t);
        p[i] -= (lr * mhat) / (Math.sqrt(vhat) + eps);
      }
    };
    upd(w, gw, mw, vw, decayW);
    upd(W, gW, mW, vW, decayMatrixW);
  });
  return { w, W, mw, vw, mW, vW };
}

describe('train/optim', () => {
  const lrs = [0.1, 0.05, 0.2, 0.1, 0.01, 0.3];

  function run(opt: Adam | AdamW, m: Quadratic): void {
    for (const lr of lrs) {
      tf.tidy(() => {
        const { grads } = lossAndGrads(m, () => m.loss());
        opt.apply(grads, lr);
      });
    }
  }

  it('Adam matches a hand-computed float64 reference for 6 steps on a quadratic', () => {
    const m = new Quadratic();
    const opt = new Adam(m, { beta1: 0.9, beta2: 0.98, eps: 1e-8 });
    run(opt, m);
    const ref = referenceAdam(lrs, 0.9, 0.98, 1e-8, 0, false, false);
    assertClose(m.w, ref.w, 2e-6, 1e-5, 'w');
    assertClose(m.W, ref.W, 2e-6, 1e-5, 'W');
    const st = opt.getState();
    assert.equal(st.step, 6);
    assertClose(st.slots['m:w'].data, ref.mw, 1e-6, 1e-5, 'm:w');
    assertClose(st.slots['v:W'].data, ref.vW, 1e-6, 1e-5, 'v:W');
    // The weights moved a lot, so this comparison can fail.
    assert.ok(Math.abs(ref.w[1] - 0.1) > 0.3, `w[1] moved to ${ref.w[1]}`);
    opt.dispose();
    m.dispose();
  });

  it('the one-kernel update (native, and its JavaScript loops on cpu) and the tf-op form give the same bits over 6 AdamW steps', async function () {
    /**
     * Parameters and moments after the six steps, as arrays, on the current backend. `hold`:
     * clones of the parameters are kept across the steps (they share the parameters' values on
     * wasm and cpu, so the update cannot run in place: the kernel makes new tensors), and must
     * still hold the initial values at the end.
     */
    const after = (hold: boolean) => {
      const m = new Quadratic();
      const opt = new AdamW(m, { weightDecay: 0.1, beta2: 0.98 });
      const held = hold ? [m.w.clone(), m.W.clone()] : [];
      try {
        run(opt, m);
        assert.deepEqual(
          held.map((t) => Array.from(t.dataSync())),
          hold ? [[0.3, 0.1, -0.5].map(Math.fround), [1, 2, -1, 0.5]] : [],
          'the clones kept their values',
        );
        const st = opt.getState();
        return [m.w, m.W].map((t) => Array.from(t.dataSync())).concat(Object.values(st.slots).map((h) => Array.from(h.data)));
      } finally {
        tf.dispose(held);
        opt.dispose();
        m.dispose();
      }
    };
    const forms: Array<[string, string, boolean, boolean]> = [
      ['tf ops', 'wasm', false, false],
      ['JavaScript loops in place', 'cpu', false, false],
      ['JavaScript loops into new tensors', 'cpu', false, true],
      ['native in place', 'wasm', true, false],
      ['native into new tensors', 'wasm', true, true],
    ];
    const results: number[][][] = [];
    for (const [name, backend, native, hold] of forms) {
      if (native && !nativeKernels()) this.skip();
      const was = useNative(native);
      try {
        results.push(
          await withBackend(backend, () => {
            assert.equal(hasFusedAdamStep(), name !== 'tf ops', `${name} takes the ${name === 'tf ops' ? 'tf ops' : 'kernel'}`);
            return after(hold);
          }),
        );
      } finally {
        useNative(was);
      }
    }
    for (let i = 1; i < results.length; i++) assert.deepEqual(results[i], results[0], `${forms[i][0]} vs tf ops`);
  });

  it('adamStepInPlace writes over the values only when no other tensor shares them', async () => {
    const c = { beta1: 0.9, oneMinusBeta1: 0.1, beta2: 0.999, oneMinusBeta2: 0.001, keep: 1, sqrtBiasCorrection2: 1, eps: 1e-8, stepSize: 0.5 };
    for (const backend of ['wasm', 'cpu']) {
      await withBackend(backend, () => {
        // tf.variable shares the values of the tensor it starts from: dispose that (as Module does).
        const [p, m, v] = [
          [1, 2],
          [0, 0],
          [0, 0],
        ].map((x) => tf.tidy(() => tf.variable(tf.tensor1d(x))));
        const g = tf.tensor1d([1, -1]);
        const clone = p.clone();
        try {
          assert.equal(adamStepInPlace(p, m, v, g, c), false, `${backend}: p shares its values with a clone`);
          assert.deepEqual(Array.from(p.dataSync()), [1, 2], `${backend}: p untouched`);
          clone.dispose();
          assert.equal(adamStepInPlace(p, m, v, g, c), true, `${backend}: nothing shares p, m, v`);
          // m' = 0.1 g, v' = 0.001 g², p' = p − m'/(√v' + ε)·0.5 = p − sign(g)·0.05/√0.001
          const u = 0.05 / Math.sqrt(0.001);
          assertClose(p, [1 - u, 2 + u], 1e-5, 1e-5, `${backend}: p`);
          assertClose(m, [0.1, -0.1], 1e-7, 1e-6, `${backend}: m`);
          assert.equal(adamStepInPlace(p, m, v, tf.zeros([3]), c), false, `${backend}: a gradient of another size`);
        } finally {
          tf.dispose([p, m, v, g, clone]);
        }
      });
    }
  });

  it('the native update gives the bits of the JavaScript loops over 37 values (its eight-wide blocks and its tail)', async function () {
    if (!nativeKernels()) this.skip();
    const rng = new Rng(5);
    const init = [rng.normalArray(37), rng.normalArray(37).map((x) => 0.1 * x), rng.normalArray(37).map((x) => 0.01 * x * x), rng.normalArray(37)];
    const c = { beta1: 0.9, oneMinusBeta1: 0.1, beta2: 0.98, oneMinusBeta2: 0.02, keep: 0.999, sqrtBiasCorrection2: 0.3, eps: 1e-8, stepSize: 0.01 };
    const update = async (native: boolean, backend: string) => {
      const was = useNative(native);
      try {
        return await withBackend(backend, () => {
          const [p, m, v] = init.slice(0, 3).map((x) => tf.tidy(() => tf.variable(tf.tensor1d(x))));
          const g = tf.tensor1d(init[3]);
          try {
            for (let t = 0; t < 3; t++) assert.ok(adamStepInPlace(p, m, v, g, c), `${backend}: in place`);
            return [p, m, v].map((x) => Array.from(x.dataSync()));
          } finally {
            tf.dispose([p, m, v, g]);
          }
        });
      } finally {
        useNative(was);
      }
    };
    assert.deepEqual(await update(true, 'wasm'), await update(false, 'cpu'));
  });

  it('AdamW decays only rank >= 2 variables by default (decoupled: p <- p(1 - lr wd))', () => {
    const m = new Quadratic();
    const opt = new AdamW(m, { weightDecay: 0.5 });
    assert.deepEqual(opt.decayedNames(), ['W']);
    run(opt, m);
    const ref = referenceAdam(lrs, 0.9, 0.999, 1e-8, 0.5, false, true);
    assertClose(m.w, ref.w, 2e-6, 1e-5, 'w');
    assertClose(m.W, ref.W, 2e-6, 1e-5, 'W');
    // Without decay W would differ by more than the tolerance.
    const noDecay = referenceAdam(lrs, 0.9, 0.999, 1e-8, 0, false, false);
    assert.ok(Math.abs(noDecay.W[1] - ref.W[1]) > 1e-2);
    opt.dispose();
    m.dispose();
  });

  it('AdamW with a decay predicate decays the variables it selects', () => {
    const m = new Quadratic();
    const opt = new AdamW(m, { weightDecay: 0.5, decay: () => true });
    run(opt, m);
    const ref = referenceAdam(lrs, 0.9, 0.999, 1e-8, 0.5, true, true);
    assertClose(m.w, ref.w, 2e-6, 1e-5, 'w');
    assertClose(m.W, ref.W, 2e-6, 1e-5, 'W');
    opt.dispose();
    m.dispose();
  });

  it('lossAndGrads gives analytic gradients keyed by dotted name', () => {
    const m = new Quadratic();
    tf.tidy(() => {
      const { loss, grads } = lossAndGrads(m, () => m.loss());
      assert.deepEqual(Object.keys(grads).sort(), ['W', 'w']);
      assertClose(grads.w, [1 * (0.3 - 1), 4 * (0.1 + 2), 0.25 * (-0.5 - 3)], 1e-6, 1e-6);
      assertClose(grads.W, [0.5, 3, -3, 0.5], 1e-6, 1e-6);
      assert.ok(Math.abs(loss.dataSync()[0] - (0.5 * (0.49 + 4 * 4.41 + 0.25 * 12.25) + 0.5 * (0.25 + 9 + 9 + 0.25))) < 1e-5);
    });
    m.dispose();
  });

  it('state export/import continues bit-for-bit; mismatches name the slot', () => {
    const a = new Quadratic();
    const b = new Quadratic();
    const oa = new AdamW(a, { weightDecay: 0.1 });
    const ob = new AdamW(b, { weightDecay: 0.1 });
    const step = (m: Quadratic, o: AdamW, lr: number) => tf.tidy(() => o.apply(lossAndGrads(m, () => m.loss()).grads, lr));
    for (const lr of [0.1, 0.2, 0.05]) step(a, oa, lr);
    ob.setState(oa.getState());
    b.w.assign(a.w);
    b.W.assign(a.W);
    for (const lr of [0.1, 0.3]) {
      step(a, oa, lr);
      step(b, ob, lr);
    }
    assert.deepEqual(Array.from(b.w.dataSync()), Array.from(a.w.dataSync()));
    assert.deepEqual(Array.from(b.W.dataSync()), Array.from(a.W.dataSync()));
    assert.equal(ob.step, 5);

    const st = oa.getState();
    st.slots['v:W'] = { dtype: 'float32', shape: [4], data: new Float32Array(4) };
    assertThrowsNaming(() => ob.setState(st), /v:W/, /\[4\] float32/, /expected \[2, 2\] float32/);
    const st2 = oa.getState();
    delete st2.slots['m:w'];
    assertThrowsNaming(() => ob.setState(st2), /missing 'm:w'/);
    assertThrowsNaming(() => new Adam(a).setState(oa.getState()), /state.kind: expected 'adam', got "adamw"/);
    for (const o of [oa, ob]) o.dispose();
    a.dispose();
    b.dispose();
  });

  it('clipGradNorm scales to the max norm and returns the pre-clip norm', () => {
    tf.tidy(() => {
      const g = { a: tf.tensor1d([3, 4]), b: tf.tensor2d([[12]]) };
      assert.ok(Math.abs(globalNorm(g) - 13) < 1e-5);
      const { grads, norm } = clipGradNorm(g, 6.5);
      assert.ok(Math.abs(norm - 13) < 1e-5);
      assertClose(grads.a, [1.5, 2], 1e-6);
      assertClose(grads.b, [6], 1e-6);
      assert.ok(Math.abs(globalNorm(grads) - 6.5) < 1e-5);
      const loose = clipGradNorm(g, 20);
      assertClose(loose.grads.a, [3, 4], 0, 0);
      assert.ok(Math.abs(loose.norm - 13) < 1e-5);
      assertThrowsNaming(() => clipGradNorm(g, 0), /maxNorm: expected a finite number > 0/);
    });
  });

  it('rejects bad hyperparameters and unknown gradients, naming them', () => {
    const m = new Quadratic();
    assertThrowsNaming(() => new Adam(m, { beta1: 1 }), /beta1/);
    assertThrowsNaming(() => new AdamW(m, { weightDecay: -1 }), /weightDecay/);
    const o = new Adam(m);
    tf.tidy(() => {
      assertThrowsNaming(() => o.apply({ nope: tf.scalar(1) }, 0.1), /grads: 'nope' is not a trainable variable/);
      assertThrowsNaming(() => o.apply({ w: tf.zeros([2]) }, 0.1), /grads: 'w' has shape \[2\], expected \[3\]/);
      assertThrowsNaming(() => o.apply({}, -1), /lr: expected a finite number >= 0/);
    });
    o.dispose();
    m.dispose();
  });

  it('does not leak tensors over repeated steps', () => {
    const m = new Quadratic();
    const o = new AdamW(m, { weightDecay: 0.1 });
    const once = () => tf.tidy(() => o.apply(clipGradNorm(lossAndGrads(m, () => m.loss()).grads, 1).grads, 0.1));
    once();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) once();
    assert.equal(tf.memory().numTensors, before);
    o.dispose();
    m.dispose();
    assert.equal(tf.memory().numTensors, before - 6); // 2 parameters + 4 moment tensors
  });
});

describe('train/optim memory', () => {
  it('constructing and disposing an optimiser leaves no tensor behind', () => {
    class Two extends Module {
      constructor() {
        super();
        this.addParameter('a', tf.tensor(new Rng(1).normalArray(6), [2, 3]));
        this.addParameter('b', tf.zeros([3]));
      }
    }
    const m = new Two();
    const before = tf.memory().numTensors;
    const opt = new AdamW(m, { weightDecay: 0.1 });
    opt.dispose();
    assert.equal(tf.memory().numTensors, before);
    m.dispose();
  });
});
