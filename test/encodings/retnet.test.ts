import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { Retention, retentionDecays, getEncoding } from '../../src/encodings';
import { linearAttention, linearAttentionStep, initLinearAttentionState, parseSpec, AttentionLayer } from '../../src/attention';
import { getExperiment } from '../../src/experiments';
import { assertClose, randn } from '../helpers';

/**
 * The paper's parallel form of retention, written out with complex numbers (RetNet §2.1):
 * o_n = Σ_{m ≤ n} γ^(n−m) Re[(q_n e^{inθ}) · conj(k_m e^{imθ})] v_m, dimensions (2k, 2k+1) as one complex number.
 */
function parallelRetention(q: number[][][], k: number[][][], v: number[][][], gammas: number[]): number[][][] {
  const [L, H, d] = [q.length, q[0].length, q[0][0].length];
  const theta = Array.from({ length: d / 2 }, (_, j) => Math.pow(10000, (-2 * j) / d));
  const rot = (x: number[], n: number) =>
    theta.map((t, j) => {
      const [re, im] = [x[2 * j], x[2 * j + 1]];
      return [re * Math.cos(n * t) - im * Math.sin(n * t), re * Math.sin(n * t) + im * Math.cos(n * t)];
    });
  return Array.from({ length: L }, (_, n) =>
    Array.from({ length: H }, (_, h) => {
      const out = new Array(v[0][0].length).fill(0);
      const qn = rot(q[n][h], n);
      for (let m = 0; m <= n; m++) {
        const km = rot(k[m][h], m);
        // Re[a conj(b)] = a_re b_re + a_im b_im
        const score = qn.reduce((acc, [re, im], j) => acc + re * km[j][0] + im * km[j][1], 0) * Math.pow(gammas[h], n - m);
        v[m][h].forEach((x, i) => (out[i] += score * x));
      }
      return out;
    }),
  );
}

describe('encodings/retnet (Retention, Sun et al. 2023)', () => {
  it("γ_h = 1 − 2^(−5−h), the paper's per-head decays", () => {
    assert.deepEqual(retentionDecays(3), [1 - 1 / 32, 1 - 1 / 64, 1 - 1 / 128]);
    const r = new Retention({ headDim: 8, numHeads: 4 });
    assert.deepEqual(r.decay(), retentionDecays(4));
    r.dispose();
  });

  it('parallel, chunked and recurrent forms all equal the written-out parallel retention', () => {
    const [L, H, d, dv] = [13, 2, 8, 3];
    const r = new Retention({ headDim: d, numHeads: H });
    const rng = new Rng(5);
    tf.tidy(() => {
      const q = randn(rng, [1, L, H, d]);
      const k = randn(rng, [1, L, H, d]);
      const v = randn(rng, [1, L, H, dv]);
      const want = parallelRetention(
        (q.arraySync() as number[][][][])[0],
        (k.arraySync() as number[][][][])[0],
        (v.arraySync() as number[][][][])[0],
        r.decay(),
      );
      const [qe, ke] = r.encode(q, k);
      const base = { causal: true, featureMap: 'identity' as const, normalize: 'none' as const, decay: r.decay() };
      assertClose(linearAttention(qe, ke, v, base), tf.tensor4d([want]), 1e-4, 1e-4, 'default (parallel / chunked) form');
      assertClose(linearAttention(qe, ke, v, { ...base, chunkSize: 4 }), tf.tensor4d([want]), 1e-4, 1e-4, 'chunked form, chunk 4 (13 is not a multiple)');
      // Recurrent: one token at a time with the rotation at its offset and the decayed state.
      let state = initLinearAttentionState(1, H, d, dv);
      const steps: tf.Tensor4D[] = [];
      for (let n = 0; n < L; n++) {
        const [qn, kn] = r.encode(q.slice([0, n], [1, 1]) as tf.Tensor4D, k.slice([0, n], [1, 1]) as tf.Tensor4D, { offset: n });
        const out = linearAttentionStep(qn, kn, v.slice([0, n], [1, 1]) as tf.Tensor4D, state, { featureMap: 'identity', normalize: 'none', decay: r.decay() });
        state = out.state;
        steps.push(out.out);
      }
      assertClose(tf.concat(steps, 1), tf.tensor4d([want]), 1e-4, 1e-4, 'recurrent form');
    });
    r.dispose();
  });

  it('is registered as `retnet` (post stage, LayerNorm by default) and is a row of the LM and extrapolation tables', () => {
    const def = getEncoding('retnet');
    assert.equal(def.role, 'qk');
    assert.equal(def.role === 'qk' && def.stage, 'post');
    assert.equal(parseSpec('linear:elu+retnet').normalize, 'layernorm');
    assert.equal(parseSpec('linear:identity+retnet').normalize, 'layernorm');
    for (const name of ['lrpe-alm', 'extrapolation-midi', 'extrapolation-text'])
      assert.equal(getExperiment(name).variants.retnet?.attention, 'linear:elu+retnet', name);
    const layer = new AttentionLayer({ model: 16, numHeads: 2, spec: 'linear:elu+retnet', rng: new Rng(1) });
    tf.tidy(() => assert.deepEqual(layer.apply(tf.tensor3d(new Rng(2).normalArray(2 * 9 * 16), [2, 9, 16]), { causal: true }).shape, [2, 9, 16]));
    layer.dispose();
  });
});
