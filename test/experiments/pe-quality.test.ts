import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { CausalLM } from '../../src/models';
import { translationInvariance, monotonicity, countInversions, causalAttentionMaps, peQualityScores, type AttentionMap } from '../../src/experiments';

/** A causal map whose value depends on s - t only, through f. */
function toeplitz(n: number, f: (lag: number) => number): AttentionMap {
  const values = new Float64Array(n * n);
  for (let s = 0; s < n; s++) for (let t = 0; t <= s; t++) values[s * n + t] = f(s - t);
  return { values, size: n };
}

describe('experiments: PE quality (Wang et al. 2021, SPE paper, Liutkus et al. 2021 pe_eval)', () => {
  it('a perfect Toeplitz map decaying with distance scores 0 on both metrics', () => {
    const m = toeplitz(12, (lag) => Math.exp(-0.3 * lag));
    assert.ok(translationInvariance(m) < 1e-12, `ti ${translationInvariance(m)}`);
    assert.ok(translationInvariance(m, 4) < 1e-12);
    assert.equal(monotonicity(m), 0);
    assert.equal(monotonicity(m, 4), 0);
  });

  it('a shuffled map scores above 0 on both metrics', () => {
    const m = toeplitz(12, (lag) => Math.exp(-0.3 * lag));
    const rng = new Rng(3);
    const values = Float64Array.from(m.values);
    for (let s = 1; s < 12; s++) {
      const row = values.subarray(s * 12, s * 12 + s + 1);
      const p = rng.permutation(row.length);
      const copy = Float64Array.from(row);
      p.forEach((j, i) => (row[i] = copy[j]));
    }
    const shuffled = { values, size: 12 };
    assert.ok(translationInvariance(shuffled) > 0.2, `ti ${translationInvariance(shuffled)}`);
    assert.ok(monotonicity(shuffled) > 0.2, `mono ${monotonicity(shuffled)}`);
  });

  it('attention growing with distance is fully non-monotone (score 1)', () => {
    assert.equal(monotonicity(toeplitz(8, (lag) => lag)), 1);
  });

  it('translation invariance by hand: one diagonal of two different values', () => {
    // lag 0: [1, 3] (variance 1), lag 1: [2] (variance 0); all entries {1, 3, 2}: variance 2/3.
    const m = { values: [1, 0, 2, 3], size: 2 };
    assert.ok(Math.abs(translationInvariance(m) - (2 * 1 + 1 * 0) / 3 / (2 / 3)) < 1e-12);
  });

  it('inversions are counted by merge sort', () => {
    assert.equal(countInversions([1, 2, 3, 4]), 0);
    assert.equal(countInversions([4, 3, 2, 1]), 6);
    assert.equal(countInversions([2, 4, 1, 3, 5]), 3);
    assert.equal(countInversions([1, 1, 1]), 0);
  });

  it('bad maps are refused, naming the argument', () => {
    assert.throws(() => translationInvariance({ values: [1, 2, 3], size: 2 }), /map\.values/);
    assert.throws(() => monotonicity({ values: [1, 0, 0, 1], size: 2 }, 2), /maxOffset/);
  });

  it('maps of a trained model: causal rows of a denominator layer sum to 1, no tensor leaks', () => {
    const lm = new CausalLM({
      vocabSize: 32,
      model: 8,
      numLayers: 2,
      numHeads: 2,
      hidden: 16,
      maxLength: 16,
      attention: 'linear:elu+spe(sine,K=2,R=4,gated)',
      ape: 'none',
      dropout: 0,
      seed: 1,
    });
    const ids = tf.tensor2d(
      Int32Array.from({ length: 2 * 10 }, (_, i) => (i * 5) % 32),
      [2, 10],
      'int32',
    );
    const before = tf.memory().numTensors;
    const maps = causalAttentionMaps(lm, ids, { rng: new Rng(0) });
    causalAttentionMaps(lm, ids, { rng: new Rng(0) });
    assert.equal(tf.memory().numTensors, before);
    assert.equal(maps.length, 2);
    assert.equal(maps[0].length, 2);
    const m = maps[1][0];
    for (let s = 0; s < 10; s++) {
      let sum = 0;
      for (let t = 0; t < 10; t++) sum += m.values[s * 10 + t];
      assert.ok(Math.abs(sum - 1) < 1e-4, `row ${s} sums to ${sum}`);
      for (let t = s + 1; t < 10; t++) assert.equal(m.values[s * 10 + t], 0, 'causal');
    }
    const q = peQualityScores(maps);
    assert.ok(q.translationInvariance >= 0 && q.translationInvariance <= 1 && q.monotonicity >= 0 && q.monotonicity <= 1);
    ids.dispose();
    lm.dispose();
  });
});
