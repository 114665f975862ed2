import { strict as assert } from 'assert';
import { logBins, binMeans, nllByPositionFigure, ledgerFigure } from '../../src/viz';
import type { ExperimentReport, Ledger } from '../../src/experiments';

describe('viz: extrapolation and claims figures', () => {
  it('log-spaced bins cover every position once, one position wide at first', () => {
    const e = logBins(512, 4);
    assert.equal(e[0], 0);
    assert.equal(e[e.length - 1], 512);
    assert.deepEqual(e.slice(0, 4), [0, 1, 2, 3]);
    for (let i = 1; i < e.length; i++) assert.ok(e[i] > e[i - 1]);
    assert.ok(e.length < 45, `${e.length} edges`);
    assert.deepEqual(binMeans([1, 2, 3, NaN, 5], [0, 1, 3, 5]), [1, 2.5, 5]);
    assert.throws(() => logBins(0), /length: expected an integer >= 1, got 0/);
  });

  it('the NLL-by-position figure has a band and a line per row with curves, and marks L', () => {
    const curve = (k: number) => Array.from({ length: 64 }, (_, t) => 2 + k + (t > 8 ? 0.1 : 0));
    const report = {
      experiment: 'extrapolation-midi',
      scale: 'small',
      seeds: [0, 1],
      rows: [
        { variant: 'ape', label: 'sinusoidal APE' },
        { variant: 'lrpe-rotation', label: 'LRPE rotation' },
        { variant: 'nope', label: 'NoPE' },
      ],
      curveSeeds: { ape: { nll_by_position: [curve(0), curve(0.2)] }, 'lrpe-rotation': { nll_by_position: [curve(0.1), curve(0.3)] } },
    } as unknown as ExperimentReport;
    const fig = nllByPositionFigure(report, { trainLength: 8 });
    const lines = fig.data.filter((t) => t.fill === undefined);
    assert.deepEqual(
      lines.map((t) => t.name),
      ['sinusoidal APE (n=2)', 'sinusoidal APE (n=2)', 'LRPE rotation (n=2)'],
      'APE in both panels, no curve for NoPE',
    );
    assert.equal(fig.data.filter((t) => t.fill === 'toself').length, 3);
    assert.ok(Math.abs((lines[0].y as number[])[0] - 2.1) < 1e-9, 'mean over seeds');
    assert.equal((fig.layout.shapes as Array<{ x0: number }>)[0].x0, 8);
  });

  it('the ledger figure plots each comparison with an interval, in % of the baseline, coloured by verdict', () => {
    const cmp = (verdict: 'supported' | 'inconclusive', est: number) => ({
      comparison: { experiment: 'lrpe-alm', metric: 'test_ppl', treatment: 'a', baseline: 'b', expect: 'better' as const },
      treatmentLabel: 'A',
      baselineLabel: verdict,
      baselineMean: 10,
      n: [3, 3] as [number, number],
      diverged: [0, 0] as [number, number],
      verdict,
      reason: 'r',
      interval: { method: 'paired' as const, estimate: est, lo: est - 0.5, hi: est + 0.5, level: 0.95, df: 2, n: 3 },
    });
    const ledger = {
      scale: 'small',
      counts: {},
      claims: [{ claim: { id: 'c1' }, verdict: 'inconclusive', reason: '', lines: [], comparisons: [cmp('supported', 1), cmp('inconclusive', 0.2)] }],
    } as unknown as Ledger;
    const fig = ledgerFigure(ledger);
    assert.deepEqual(
      fig.data.map((t) => t.name),
      ['supported', 'inconclusive'],
    );
    assert.deepEqual(fig.data[0].x, [10], '1 ppl of a baseline of 10 is 10 %');
    assert.deepEqual((fig.data[0].error_x as { array: number[] }).array, [5]);
  });
});
