/**
 * Numerics at length: causal linear attention at L = 65536 in float32 gives finite outputs of
 * bounded size for every registered encoding of linear attention (found through the registry),
 * the permutation-based ones included (no position table); softmax attention past what the
 * backend can hold throws an Error naming the lengths and the limit instead of crashing.
 */
import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { AttentionLayer, softmaxAttention, softmaxScoreLimit } from '../../src/attention';
import { listEncodings } from '../../src/encodings';
import { assertThrowsNaming } from '../helpers';

const L = 65536;
const MODEL = 16;
const HEADS = 2;

/** max |x| of a tensor. */
const maxAbs = (x: tf.Tensor) => tf.tidy(() => x.abs().max().dataSync()[0]);

describe('attention at L = 65536 (float32)', function () {
  this.timeout(300000);
  const specs = listEncodings()
    .filter((d) => d.role === 'qk')
    .flatMap((d) => {
      const specFor =
        d.name === 'spe'
          ? ['spe(sine,R=16,K=4)', 'spe(conv,R=16,P=16)']
          : d.name === 'lrpe'
            ? ['lrpe(rotation)', 'lrpe(permutation)', 'lrpe(unitary,learned)', 'lrpe(unitary)']
            : [d.name];
      return specFor.flatMap((e) => [`linear:elu+${e}`, ...(d.name === 'lrpe' || d.name === 'rope' ? [`linear(norm=denominator):elu+${e}`] : [])]);
    });

  for (const spec of ['linear:elu+none', ...specs]) {
    it(`${spec}: causal outputs are finite and within the bound the layer's weights and inputs give`, () => {
      const layer = new AttentionLayer({ model: MODEL, numHeads: HEADS, spec, maxLength: L, rng: new Rng(3) });
      tf.tidy(() => {
        const x = tf.randomNormal([1, L, MODEL], 0, 3, 'float32', 7) as tf.Tensor3D; // N(0, 9), as the report that found the RoPE blow-up
        const y = layer.apply(x, { causal: true, rng: new Rng(4) });
        assert.deepEqual(y.shape, [1, L, MODEL]);
        const values = y.dataSync();
        assert.ok(values.every(Number.isFinite), `${spec}: non-finite output`);
        // The bound: heads' outputs o are weighted means of the values v = x W_v + b_v (LayerNorm: entries ≤ √model γ_max + β_max),
        // then y = o W_o + b_o. Rotations with the denominator (RoFormer's form) may weigh values by up to the ratio of
        // |rotated| to plain scores; 10× the convex bound leaves room for that and still catches a blow-up (it was 1e10).
        const vars = Object.fromEntries(layer.namedVariables());
        const wv = vars['qkv.weight'].slice([0, 2 * MODEL], [MODEL, MODEL]);
        const v = x
          .reshape([L, MODEL])
          .matMul(wv)
          .add(vars['qkv.bias'].slice([2 * MODEL], [MODEL]));
        const o = layer.spec.normalize === 'layernorm' ? Math.sqrt(MODEL) * maxAbs(vars['norm.gamma']) + maxAbs(vars['norm.beta']) : maxAbs(v);
        const rowSum = maxAbs(vars['out.weight'].abs().sum(0));
        const slack =
          layer.spec.normalize === 'denominator' &&
          !(layer.spec.encoding?.name === 'permuteformer' || layer.spec.encoding?.name === 'spe' || !layer.spec.encoding)
            ? 10
            : 1.001;
        const bound = slack * o * rowSum + maxAbs(vars['out.bias']);
        const got = maxAbs(y);
        assert.ok(got <= bound, `${spec}: max |y| = ${got} exceeds the bound ${bound}`);
      });
      layer.dispose();
    });
  }
});

describe('softmax attention past the backend memory', () => {
  it('throws an Error naming Lq, Lk and the limit (before allocating anything large)', function () {
    const limit = softmaxScoreLimit();
    if (!Number.isFinite(limit)) this.skip(); // tensorflow manages its own memory
    const len = Math.ceil(Math.sqrt(limit / 8)) + 1;
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const q = tf.zeros([1, len, 8, 1]) as tf.Tensor4D;
      assertThrowsNaming(
        () => softmaxAttention(q, q, q, { causal: true }),
        new RegExp(`softmaxAttention: length Lq ${len} x Lk ${len} on 1 x 8 heads .* more than the ${limit} the ${tf.getBackend()} backend holds`),
        /L <= \d+/,
      );
    });
    assert.equal(tf.memory().numTensors, before);
    // Just under the limit is accepted (checked on a shape, not computed: the check comes first).
    assert.ok(Math.floor(Math.sqrt(limit / 8)) ** 2 * 8 <= limit);
  });
});
