import { strict as assert } from 'assert';
import { fileStamp, resultFileName, formatTable, fmtMs, scalingFits, layerTable } from '../../bench/report';
import type { LayerPoint } from '../../bench/suites/layer';

describe('bench/report', () => {
  it('names result files by date and backend, or baseline-<backend>', () => {
    const d = new Date('2025-03-04T05:06:07.890Z');
    assert.equal(fileStamp(d), '2025-03-04-050607');
    assert.equal(resultFileName('wasm', d, false, null), '2025-03-04-050607-wasm.json');
    assert.equal(resultFileName('cpu', d, false, 'after'), '2025-03-04-050607-cpu-after.json');
    assert.equal(resultFileName('wasm', d, true, null), 'baseline-wasm.json');
  });

  it('formats an aligned table', () => {
    const t = formatTable(
      ['name', 'ms'],
      [
        ['a', '1.5'],
        ['longer', '100'],
      ],
    ).split('\n');
    assert.deepEqual(t, ['name     ms', '------  ---', 'a       1.5', 'longer  100']);
    assert.equal(fmtMs(1234.4), '1234');
    assert.equal(fmtMs(12.34), '12.3');
    assert.equal(fmtMs(1.234), '1.23');
  });

  it('fits and tabulates per (encoding, direction), marking skipped points', () => {
    const mk = (L: number, ms?: number): LayerPoint => ({
      encoding: 'none',
      spec: 'linear:elu+none',
      attention: 'linear',
      direction: 'causal',
      L,
      batch: 1,
      heads: 8,
      headDim: 64,
      ...(ms !== undefined ? { msMedian: ms, tokensPerSec: L / (ms / 1000), rssPeakMB: 10, tensorPeakMB: 5 } : { skipped: 'budget' }),
    });
    const pts = [mk(512, 5), mk(1024, 10), mk(2048, 20), mk(4096)];
    const fits = scalingFits(pts);
    assert.equal(fits.length, 1);
    assert.deepEqual(fits[0].lengths, [1024, 2048]);
    assert.ok(Math.abs(fits[0].exponent - 1) < 1e-12);
    const table = layerTable(pts, fits);
    assert.match(table, /none causal\s+5\.00\s+10\.0\s+20\.0\s+skip\s+1\.00\s+102400/);
  });
});
