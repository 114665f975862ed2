import { strict as assert } from 'assert';
import { tf, Rng, useNative } from '../../src/backend';
import { nativeLinearScanApplies } from '../../src/attention/linear-scan';
import { AttentionLayer, disposeAttentionState, type AttentionState } from '../../src/attention/layer';
import { RoPE } from '../../src/encodings/rope';
import { assertClose, assertThrowsNaming, assertNoLeak } from '../helpers';

const MODEL = 16;
const HEADS = 2;

/** Every kind of layer the registry can build, with small sizes. */
const SPECS = [
  'linear:elu',
  'linear:relu',
  'linear:elu+rope',
  'linear:elu+permuteformer',
  'linear:elu+lrpe(rotation,householder,learned)',
  'linear:elu+lrpe(mixed,identity)',
  'linear:elu+lrpe(permutation,odd-even)',
  'linear:elu+lrpe(unitary,householder-learned,learned)',
  'linear:elu+lrpe(unitary,dct)',
  'linear(norm=denominator):elu+lrpe(unitary,householder,learned)',
  'linear:relu+spe(sine,K=3,R=8,gated)',
  'linear:relu+spe(conv,P=4,R=8,ungated)',
  'performer(features=16)+spe(sine,K=3,R=8)',
  'performer(features=16)',
  'softmax',
  'softmax+rope',
  'softmax+relbias(max=8)',
];

function input(seed: number, b: number, l: number): tf.Tensor3D {
  return tf.tensor3d(new Rng(seed).normalArray(b * l * MODEL), [b, l, MODEL]);
}

describe('AttentionLayer', () => {
  for (const spec of SPECS) {
    describe(spec, () => {
      it('maps [B, L, model] to [B, L, model] and every parameter gets a gradient', () => {
        const layer = new AttentionLayer({ model: MODEL, numHeads: HEADS, spec, rng: new Rng(1) });
        try {
          const x = input(2, 2, 9);
          const vars = layer.trainableVariables();
          const { value, grads } = tf.variableGrads(
            () =>
              layer
                .apply(x, { causal: true, training: true, rng: new Rng(5) })
                .square()
                .mean() as tf.Scalar,
            vars,
          );
          assert.ok(Number.isFinite(value.dataSync()[0]));
          for (const v of vars) {
            const g = grads[v.name];
            assert.ok(g, `no gradient for ${v.name}`);
            assert.ok(Array.from(g.dataSync()).every(Number.isFinite), `non-finite gradient for ${v.name}`);
          }
          const named = layer.namedVariables().map(([n]) => n);
          assert.ok(named.includes('qkv.weight') && named.includes('out.weight'));
          tf.dispose([x, value, ...Object.values(grads)]);
        } finally {
          layer.dispose();
        }
      });

      it('is causal: outputs up to t ignore tokens after t', () => {
        const layer = new AttentionLayer({ model: MODEL, numHeads: HEADS, spec, rng: new Rng(1) });
        try {
          tf.tidy(() => {
            const x = input(3, 1, 10);
            const noise = tf.concat([tf.zeros([1, 6, MODEL]), input(4, 1, 4)], 1);
            const a = layer.apply(x, { causal: true, rng: new Rng(9) });
            const b = layer.apply(x.add(noise), { causal: true, rng: new Rng(9) });
            assertClose(b.slice([0, 0, 0], [1, 6, MODEL]), a.slice([0, 0, 0], [1, 6, MODEL]), 1e-5, 1e-4);
            assert.ok(tf.abs(b.sub(a)).max().dataSync()[0] > 1e-4, 'later tokens must change later outputs');
          });
        } finally {
          layer.dispose();
        }
      });

      it('recurrent decoding step by step equals the causal forward', () => {
        const layer = new AttentionLayer({ model: MODEL, numHeads: HEADS, spec, rng: new Rng(1) });
        try {
          tf.tidy(() => {
            const L = 7;
            const x = input(5, 2, L);
            // A fixed generator per call gives the same SPE code to the full pass and to every step.
            const full = layer.apply(x, { causal: true, rng: new Rng(11) });
            let state: AttentionState = layer.initState(2);
            const outs: tf.Tensor[] = [];
            for (let t = 0; t < L; t++) {
              const r = layer.step(x.slice([0, t, 0], [2, 1, MODEL]), state, { rng: new Rng(11) });
              disposeAttentionState(state);
              state = r.state;
              outs.push(r.out);
            }
            disposeAttentionState(state);
            assertClose(tf.concat(outs, 1), full, 2e-4, 2e-3);
          });
        } finally {
          layer.dispose();
        }
      });
    });
  }

  it('padded keys get no attention (keyMask), bidirectional', () => {
    for (const spec of ['linear:elu+lrpe(unitary)', 'linear:elu+rope', 'softmax+relbias(max=8)', 'linear:relu+spe(sine,K=2,R=8)']) {
      const layer = new AttentionLayer({ model: MODEL, numHeads: HEADS, spec, rng: new Rng(1) });
      tf.tidy(() => {
        const x = input(6, 1, 8);
        const mask = tf.tensor2d([[1, 1, 1, 1, 1, 0, 0, 0]]);
        const changed = tf.concat([x.slice([0, 0, 0], [1, 5, MODEL]), input(7, 1, 3)], 1);
        const a = layer.apply(x, { keyMask: mask, rng: new Rng(3) });
        const b = layer.apply(changed, { keyMask: mask, rng: new Rng(3) });
        assertClose(b.slice([0, 0, 0], [1, 5, MODEL]), a.slice([0, 0, 0], [1, 5, MODEL]), 1e-5, 1e-4, spec);
      });
      layer.dispose();
    }
  });

  it("RoPE with the denominator is RoFormer's linear form: rotated numerator over the unrotated φ(q_s)·Σφ(k_t)", () => {
    const [b, l] = [2, 7];
    const layer = new AttentionLayer({ model: MODEL, numHeads: HEADS, spec: 'linear:elu+rope', rng: new Rng(4) });
    assert.equal(layer.plainDenominator, true);
    const vars = Object.fromEntries(layer.namedVariables());
    const x = input(9, b, l);
    for (const causal of [false, true]) {
      tf.tidy(() => {
        const d = MODEL / HEADS;
        const qkv = tf
          .matMul(x.reshape([b * l, MODEL]), vars['qkv.weight'])
          .add(vars['qkv.bias'])
          .reshape([b, l, 3, HEADS, d]);
        const [q, k, v] = tf.unstack(qkv, 2) as tf.Tensor4D[];
        const fq = tf.elu(q).add(1) as tf.Tensor4D;
        const fk = tf.elu(k).add(1) as tf.Tensor4D;
        const [rq, rk] = new RoPE({ headDim: d }).encode(fq, fk);
        // Quadratic reference per head: [B, H, L, L] score matrices.
        const scores = (a: tf.Tensor4D, c: tf.Tensor4D) => tf.matMul(a.transpose([0, 2, 1, 3]), c.transpose([0, 2, 1, 3]), false, true);
        const mask = causal ? tf.linalg.bandPart(tf.ones([l, l]), -1, 0) : tf.ones([l, l]);
        const num = tf.matMul(scores(rq, rk).mul(mask), v.transpose([0, 2, 1, 3]));
        const den = scores(fq, fk).mul(mask).sum(-1, true);
        const o = num
          .div(den)
          .transpose([0, 2, 1, 3])
          .reshape([b * l, MODEL]);
        const expected = tf.matMul(o, vars['out.weight']).add(vars['out.bias']).reshape([b, l, MODEL]);
        assertClose(layer.apply(x, { causal }), expected, 1e-4, 1e-4, `causal ${causal}`);
      });
    }
    x.dispose();
    layer.dispose();
    for (const [spec, plain] of [
      ['linear:elu+permuteformer', false],
      ['linear:elu+lrpe(unitary)', false],
      ['linear(norm=denominator):elu+lrpe(rotation)', true],
      ['softmax+rope', false],
    ] as const) {
      const other = new AttentionLayer({ model: MODEL, numHeads: HEADS, spec });
      assert.equal(other.plainDenominator, plain, spec);
      other.dispose();
    }
  });

  it('causal RoPE and LRPE with the denominator stay bounded at long lengths (the denominator stays positive)', () => {
    // Inputs N(0, 9): with the rotated denominator the outputs reached 1e9 at L = 1024.
    for (const spec of ['linear:elu+rope', 'linear(norm=denominator):elu+lrpe(unitary,householder,learned)']) {
      const layer = new AttentionLayer({ model: 32, numHeads: 2, spec, rng: new Rng(5) });
      const peak = (l: number) =>
        tf.tidy(() => {
          const x = tf.tensor3d(
            new Rng(l).normalArray(l * 32).map((z) => 3 * z),
            [1, l, 32],
          );
          return layer.apply(x, { causal: true }).abs().max().dataSync()[0];
        });
      const [short, long] = [peak(256), peak(2048)];
      assert.ok(Number.isFinite(long) && long < 10 * short, `${spec}: max |y| ${short} at L = 256, ${long} at L = 2048`);
      layer.dispose();
    }
  });

  it('does not leak tensors over repeated forward + backward passes', () => {
    for (const spec of [
      'linear:elu+lrpe(unitary,householder-learned,learned)',
      'linear:elu+rope',
      'performer(features=16)+spe(conv,P=3,R=8)',
      'softmax+relbias(max=8)',
    ]) {
      const layer = new AttentionLayer({ model: MODEL, numHeads: HEADS, spec, rng: new Rng(1) });
      const x = input(8, 2, 6);
      const run = () => {
        const { value, grads } = tf.variableGrads(
          () =>
            layer
              .apply(x, { causal: true, training: true, rng: new Rng(2) })
              .square()
              .mean() as tf.Scalar,
          layer.trainableVariables(),
        );
        tf.dispose([value, ...Object.values(grads)]);
      };
      assertNoLeak(run, 3, spec);
      x.dispose();
      layer.dispose();
    }
  });

  describe('one native linear attention kernel each way on the unsplit projection, φ and LRPE with fixed tables inside (QKEncoding.rowMap)', () => {
    for (const spec of [
      'linear:elu',
      'linear:elu+lrpe(unitary,householder)',
      'linear:elu+lrpe(rotation,householder)',
      'linear:elu+lrpe(mixed,identity)',
      'linear:elu+lrpe(permutation,householder)',
      'linear:elu+lrpe(unitary,dct)',
      'linear:elu+lrpe(rotation,odd-even)',
    ]) {
      for (const causal of [true, false]) {
        it(`${spec}, ${causal ? 'causal' : 'bidirectional'}: one kernel each way, the same output and gradients as the tf-op path`, async function () {
          if (!nativeLinearScanApplies()) this.skip();
          const layer = new AttentionLayer({ model: MODEL, numHeads: HEADS, spec, rng: new Rng(4) });
          const x = input(9, 2, 7);
          const vars = layer.trainableVariables();
          const run = () =>
            tf.tidy(() => {
              const f = (xi: tf.Tensor) => layer.apply(xi, { causal, offset: 3 }).square().mean() as tf.Scalar;
              const { value, grads } = tf.variableGrads(() => f(x), vars);
              return [value, tf.grad(f)(x), ...Object.values(grads)].map((t) => Array.from(t.dataSync()));
            });
          try {
            const pass = () => tf.dispose(tf.variableGrads(() => layer.apply(x, { causal, offset: 3 }).sum() as tf.Scalar, vars).grads);
            pass(); // builds the encoding's cached tables
            const profile = await tf.profile(pass);
            const kernels = new Set(profile.kernels.map((k) => k.name));
            assert.ok(kernels.has('RpelabLinearScanPacked') && kernels.has('RpelabLinearScanPackedGrad'), [...kernels].join(', '));
            assert.ok(!kernels.has('RpelabLrpeMap') && !kernels.has('RpelabLrpeMapGrad'), 'no separate LRPE map kernel');
            assert.ok(!kernels.has('Pack'), 'no join of the q, k, v gradients');
            const fused = run();
            const was = useNative(false);
            let composed: number[][];
            try {
              composed = run();
            } finally {
              useNative(was);
            }
            fused.forEach((got, i) => assertClose(got, composed[i], 1e-5, 1e-3, i === 0 ? 'loss' : i === 1 ? 'dx' : `d${vars[i - 2].name}`));
          } finally {
            x.dispose();
            layer.dispose();
          }
        });
      }
    }
  });

  it('refuses bad input, naming the parameter', () => {
    assertThrowsNaming(() => new AttentionLayer({ model: 10, numHeads: 3, spec: 'linear:elu' }), /numHeads: model \(10\) must be divisible by numHeads \(3\)/);
    assertThrowsNaming(() => new AttentionLayer({ model: 8, numHeads: 2, spec: 'linear:elu+nope' }), /unknown encoding 'nope'/);
    const layer = new AttentionLayer({ model: MODEL, numHeads: HEADS, spec: 'linear:elu' });
    tf.tidy(() => {
      assertThrowsNaming(() => layer.apply(tf.zeros([2, 3])), /x: expected rank 3/);
      assertThrowsNaming(() => layer.apply(tf.zeros([1, 3, MODEL + 1])), /x: expected the model axis/);
      assertThrowsNaming(() => layer.apply(tf.zeros([1, 3, MODEL]), { keyMask: tf.ones([1, 4]) as tf.Tensor2D }), /keyMask: expected shape \[1, 3\]/);
    });
    layer.dispose();
  });
});
