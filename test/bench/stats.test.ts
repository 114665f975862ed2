import { strict as assert } from 'assert';
import { median, fitPowerLaw, evalPowerLaw, geomean } from '../../bench/stats';

describe('bench/stats', () => {
  it('median of odd and even counts, unsorted input', () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([7]), 7);
    assert.throws(() => median([]), /xs: expected at least one value/);
  });

  it('power-law fit recovers the exponent of exact data (linear and quadratic time)', () => {
    const L = [1024, 2048, 4096, 8192, 16384];
    const lin = fitPowerLaw(
      L,
      L.map((l) => 0.5 * l),
    )!;
    assert.ok(Math.abs(lin.exponent - 1) < 1e-12, `p = ${lin.exponent}`);
    assert.ok(Math.abs(lin.prefactor - 0.5) < 1e-9);
    assert.ok(Math.abs(lin.r2 - 1) < 1e-12);
    const quad = fitPowerLaw(
      L,
      L.map((l) => 3e-6 * l * l),
    )!;
    assert.ok(Math.abs(quad.exponent - 2) < 1e-12, `p = ${quad.exponent}`);
    assert.ok(Math.abs(evalPowerLaw(quad, 32768) - 3e-6 * 32768 ** 2) < 1e-6 * 3e-6 * 32768 ** 2);
  });

  it('power-law fit is least squares on log-log (hand-computed three-point case)', () => {
    // log2 x = 0, 1, 2 and log2 y = 0, 1, 3: slope = Σ(dx·dy)/Σdx² = (−1·−4/3 + 1·5/3)/2 = 1.5.
    const fit = fitPowerLaw([1, 2, 4], [1, 2, 8])!;
    assert.ok(Math.abs(fit.exponent - 1.5) < 1e-12, `p = ${fit.exponent}`);
    assert.ok(fit.r2 < 1 && fit.r2 > 0.9, `r2 = ${fit.r2}`);
  });

  it('power-law fit ignores non-positive points and needs two distinct x', () => {
    assert.equal(fitPowerLaw([512], [3]), null);
    assert.equal(fitPowerLaw([512, 512], [3, 4]), null);
    const fit = fitPowerLaw([0, 1, 2, 4], [5, 1, -1, 4])!;
    assert.equal(fit.points, 2);
    assert.ok(Math.abs(fit.exponent - 1) < 1e-12);
    assert.throws(() => fitPowerLaw([1, 2], [1]), /ys: expected 2 values/);
  });

  it('geomean', () => {
    assert.ok(Math.abs(geomean([2, 8]) - 4) < 1e-12);
  });
});
