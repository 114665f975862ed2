import { strict as assert } from 'assert';
import { dataFrame, tableHtml, showTable, paperVsOurs, formatWallTime, formatTableCell, setDisplaySink, TABLE_CLASS } from '../../src/viz';
import { assertThrowsNaming } from '../helpers';

const rows = [
  { name: 'LRPE (unitary)', paper: { ppl: 24.1, acc: 61.2 }, ours: { ppl: 30.25, acc: '58.1 ± 0.4' } },
  { name: 'SPE (sine)', paper: { ppl: null }, ours: { ppl: 31.5 } },
];
const run = { scale: 'smoke', seeds: [0, 1, 2], wallTimeSec: 185, title: 'Table 2' };

/** The cells of each body row of a rendered table, as text. */
function bodyCells(html: string): string[][] {
  const body = html.split('<tbody>')[1].split('</tbody>')[0];
  return [...body.matchAll(/<tr>(.*?)<\/tr>/g)].map((r) => [...r[1].matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1]));
}

describe('viz/table', () => {
  afterEach(() => setDisplaySink(null));

  it('dataFrame keeps columns in first-appearance order and fills missing keys with null', () => {
    const df = dataFrame([
      { a: 1, b: 'x' },
      { c: 2.5, a: 3 },
    ]);
    assert.deepEqual(df.columns, ['a', 'b', 'c']);
    assert.deepEqual(df.shape, [2, 3]);
    assert.deepEqual(df.values, [
      [1, 'x', null],
      [3, null, 2.5],
    ]);
    assert.deepEqual(dataFrame([{ a: 1, b: 2 }], { columns: ['b', 'a'] }).values, [[2, 1]]);
    assertThrowsNaming(() => dataFrame([]), /rows: expected a non-empty array of records/);
    assertThrowsNaming(() => dataFrame([{ a: 1 }, 7 as never]), /rows: expected row 1 to be a record/);
  });

  it('tableHtml escapes text, formats numbers and shows missing values as an em dash', () => {
    const html = tableHtml(dataFrame([{ model: '<b>x</b>', score: 0.123456, n: 3, gap: null }]), { caption: 'a & b', digits: 2 });
    assert.ok(html.includes(`<table class="${TABLE_CLASS}">`));
    assert.deepEqual(bodyCells(html), [['&lt;b&gt;x&lt;/b&gt;', '0.12', '3', '—']]);
    assert.match(html, /<figcaption[^>]*>a &amp; b<\/figcaption>/);
    assert.equal(formatTableCell(NaN), '—');
    assert.equal(formatTableCell(24.1), '24.1');
    assert.equal(formatTableCell(2 / 3), '0.667');
  });

  it('paperVsOurs puts paper and ours columns side by side per metric', () => {
    const t = paperVsOurs(rows, run);
    assert.deepEqual(t.df.columns, ['setting', 'ppl (paper)', 'ppl (ours)', 'acc (paper)', 'acc (ours)']);
    assert.deepEqual(t.df.values, [
      ['LRPE (unitary)', 24.1, 30.25, 61.2, '58.1 ± 0.4'],
      ['SPE (sine)', null, 31.5, null, null],
    ]);
    const html = tableHtml(t.df, t);
    assert.match(html, /<th colspan="2"[^>]*>ppl<\/th><th colspan="2"[^>]*>acc<\/th>/);
    assert.equal((html.match(/>paper<\/th>/g) ?? []).length, 2);
    assert.equal((html.match(/>ours<\/th>/g) ?? []).length, 2);
    assert.deepEqual(bodyCells(html)[0], ['LRPE (unitary)', '24.1', '30.25', '61.2', '58.1 ± 0.4']);
    assert.deepEqual(paperVsOurs(rows, run, ['acc']).df.columns, ['setting', 'acc (paper)', 'acc (ours)']);
  });

  it('the paper-vs-ours caption states scale, seeds and wall time', () => {
    assert.equal(paperVsOurs(rows, run).caption, 'Table 2. Ours: scale smoke, 3 seeds (0, 1, 2), mean over seeds, wall time 3m 05s.');
    assert.equal(
      paperVsOurs(rows, { scale: 'full', seeds: [7], wallTimeSec: 12.34, note: 'Paper: Table 3.' }).caption,
      'Ours: scale full, seed 7, wall time 12.3 s. Paper: Table 3.',
    );
    assert.equal(formatWallTime(2 * 3600 + 5 * 60 + 9), '2h 05m');
    assertThrowsNaming(() => paperVsOurs(rows, { ...run, seeds: [] }), /run\.seeds: expected a non-empty array of integer seeds/);
    assertThrowsNaming(() => paperVsOurs(rows, { ...run, scale: '' }), /run\.scale: expected the scale name/);
    assertThrowsNaming(() => paperVsOurs(rows, { ...run, wallTimeSec: -1 }), /wallTimeSec: expected a finite number >= 0/);
    assertThrowsNaming(() => paperVsOurs([{ name: 'x' } as never], run), /rows: expected row 0 to be \{name: string, paper/);
  });

  it('showTable displays one table with its caption and nothing else', () => {
    const outputs: string[] = [];
    setDisplaySink({ html: (s) => void outputs.push(s) });
    showTable(paperVsOurs(rows, run));
    showTable(dataFrame([{ a: 1 }]), { caption: 'plain' });
    assert.equal(outputs.length, 2);
    assert.match(outputs[0], /<figcaption[^>]*>Table 2\. Ours: scale smoke, 3 seeds \(0, 1, 2\), mean over seeds, wall time 3m 05s\.<\/figcaption>/);
    assert.match(outputs[1], /<figcaption[^>]*>plain<\/figcaption>/);
    for (const o of outputs) assert.equal((o.match(/<table /g) ?? []).length, 1);
  });
});
