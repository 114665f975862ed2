import { strict as assert } from 'assert';
import { tf, useNative } from '../../src/backend';
import {
  tQuantile,
  pairedDifference,
  welchDifference,
  seedDifference,
  slopeInterval,
  relativeDeviation,
  monteCarloConvergence,
  memoryExponent,
} from '../../src/experiments';

describe('experiments: intervals over seeds (stats) and the exact checks', () => {
  it('t quantiles come from stdlib and match published values', () => {
    assert.ok(Math.abs(tQuantile(0.975, 2) - 4.302652729749464) < 1e-12);
    assert.ok(Math.abs(tQuantile(0.975, 10) - 2.228138851986274) < 1e-12);
    assert.ok(Math.abs(tQuantile(0.975, 1e9) - 1.959963984540054) < 1e-6);
    assert.throws(() => tQuantile(1.5, 3), /p: expected a probability in \(0, 1\)/);
    assert.throws(() => tQuantile(0.9, 0), /df: expected degrees of freedom > 0/);
  });

  it('paired differences use the seeds both sides have; Welch when they share fewer than two', () => {
    const p = pairedDifference({ 0: 3, 1: 4, 2: 8 }, { 0: 1, 1: 2, 2: 5, 3: 100 })!;
    assert.equal(p.n, 3);
    assert.ok(Math.abs(p.estimate - 7 / 3) < 1e-12);
    assert.equal(pairedDifference({ 0: 1 }, { 0: 2 }), null);
    const w = welchDifference([1, 2, 3], [2, 4, 6, 8])!;
    // Welch-Satterthwaite degrees of freedom for these samples.
    const va = 1 / 3,
      vb = 20 / 3 / 4;
    assert.ok(Math.abs(w.df - (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 3)) < 1e-12);
    assert.equal(w.estimate, -3);
    assert.equal(seedDifference({ 0: 1, 1: 2 }, { 5: 1, 6: 3 })!.method, 'welch');
    assert.equal(seedDifference({ 0: 1, 1: 2 }, { 0: 1, 1: 3 })!.method, 'paired');
    assert.throws(() => welchDifference([1, NaN], [1, 2]), /a: expected finite numbers, got NaN/);
    assert.throws(() => pairedDifference({ 0: 1, 1: 2 }, { 0: 1, 1: 2 }, 2), /level: expected a confidence level in \(0, 1\)/);
  });

  it('a slope interval: exact on a line, wider with noise; needs three points', () => {
    const exact = slopeInterval([0, 1, 2, 3], [1, 3, 5, 7]);
    assert.equal(exact.estimate, 2);
    assert.equal(exact.lo, 2);
    assert.equal(exact.intercept, 1);
    const noisy = slopeInterval([0, 1, 2, 3], [1, 3.2, 4.9, 7.1]);
    assert.ok(noisy.lo < noisy.estimate && noisy.estimate < noisy.hi);
    assert.throws(() => slopeInterval([1, 2], [1, 2]), /xs: a slope interval needs at least 3 points, got 2/);
    assert.throws(() => slopeInterval([1, 1, 1], [1, 2, 3]), /xs: expected at least two distinct x values/);
  });

  it('relative encodings give Toeplitz scores; a pre-feature-map encoding is refused by name', () => {
    for (const e of ['rope', 'permuteformer', 'lrpe(unitary,householder,learned)', 'lrpe(permutation,odd-even)'])
      assert.ok(relativeDeviation(e, { length: 16 }) < 1e-5, e);
    assert.throws(() => relativeDeviation('spe(sine)'), /encoding: 'spe\(sine\)' is not a query\/key encoding acting after the feature map/);
    assert.throws(() => relativeDeviation('lrpe('), /encoding: expected name or name\(args\)/);
  });

  it('SPE Monte-Carlo error falls as R^(-1/2); peak memory is linear for linear attention, quadratic for the quadratic softmax form', async () => {
    const mc = monteCarloConvergence('conv', { realizations: [16, 64, 256, 1024], length: 16, draws: 2 });
    assert.ok(mc.slope.lo <= -0.5 && mc.slope.hi >= -0.5, `slope [${mc.slope.lo}, ${mc.slope.hi}]`);
    const lin = await memoryExponent('linear:elu+lrpe(unitary)', { lengths: [128, 256, 512] });
    // Softmax's quadratic form: with the native kernels off (with them the layer takes the O(L) native kernel, attention/softmax-flash.ts).
    const was = useNative(false);
    let soft: Awaited<ReturnType<typeof memoryExponent>>;
    try {
      soft = await memoryExponent('softmax', { lengths: [128, 256, 512] });
    } finally {
      useNative(was);
    }
    assert.ok(lin.exponent.estimate > 0.9 && lin.exponent.estimate < 1.1, `linear ${lin.exponent.estimate}`);
    assert.ok(soft.exponent.estimate > 1.5, `softmax ${soft.exponent.estimate}`);
  });

  it('the memory exponent counts the pass only, not tensors alive before it (a test leaking tensors once bent it)', async () => {
    const alone = await memoryExponent('linear:elu+lrpe(unitary)', { lengths: [32, 64, 128] });
    const held = tf.zeros([1 << 18]);
    try {
      const beside = await memoryExponent('linear:elu+lrpe(unitary)', { lengths: [32, 64, 128] });
      assert.deepEqual(beside.peakBytes, alone.peakBytes);
    } finally {
      held.dispose();
    }
  });
});
