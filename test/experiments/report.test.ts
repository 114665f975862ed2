/**
 * Report aggregation and formatting, a unit test on fabricated result files in a temp dir
 * (no training): mean ± std over seeds, unfinished-run marking, the paper column.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { collectReport, formatReports, formatCell, meanStd } from '../../src/experiments';
import { tinyLmDefinition } from './fixtures';

function writeSummary(root: string, variant: string, seed: number, metrics: Record<string, number>, trainSec = 10): void {
  const dir = path.join(root, 'test-report-lm', 'small', variant, `seed-${seed}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'summary.json'),
    JSON.stringify({ experiment: 'test-report-lm', variant, scale: 'small', seed, dir, status: 'finished', metrics, steps: 6, trainSec, evalSec: 2 }),
  );
}

function writeUnfinished(root: string, variant: string, seed: number, valPpl: number): void {
  const dir = path.join(root, 'test-report-lm', 'small', variant, `seed-${seed}`);
  fs.mkdirSync(dir, { recursive: true });
  const lines = [
    { kind: 'start', step: 0, totalSteps: 6, elapsedSec: 0 },
    { kind: 'train', step: 3, loss: 4.2, elapsedSec: 5 },
    { kind: 'eval', step: 3, val_nll: Math.log(valPpl), val_ppl: valPpl, elapsedSec: 6 },
  ];
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
}

describe('experiments: report (formatting unit test on fabricated summaries)', () => {
  const def = tinyLmDefinition('test-report-lm');
  let root = '';
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-report-'));
    writeSummary(root, 'ape', 0, { val_ppl: 10, test_ppl: 1 });
    writeSummary(root, 'ape', 1, { val_ppl: 12, test_ppl: 3 });
    writeSummary(root, 'lrpe', 0, { val_ppl: 8, test_ppl: 7 });
    writeUnfinished(root, 'lrpe', 1, 9);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('mean ± sample std (ddof = 1) over seeds', () => {
    assert.deepEqual(meanStd([1, 3]), { mean: 2, std: Math.SQRT2 });
    assert.deepEqual(meanStd([5]), { mean: 5, std: null });
    assert.deepEqual(meanStd([]), { mean: null, std: null });
    assert.throws(() => meanStd([1, NaN]), /values: expected finite numbers \(count a diverged run separately\), got NaN/);
    const r = collectReport(def, 'small', { resultsDir: root });
    assert.deepEqual(r.seeds, [0, 1]);
    const ape = r.rows.find((x) => x.variant === 'ape')!;
    assert.equal(ape.cells.test_ppl.mean, 2);
    assert.ok(Math.abs(ape.cells.test_ppl.std! - Math.SQRT2) < 1e-12);
    assert.equal(ape.cells.val_ppl.n, 2);
    assert.equal(formatCell(ape.cells.test_ppl), '2.00 ± 1.41 (n=2)');
    assert.equal(r.wallSec, 3 * 12 + 6, 'wall time: finished runs (train + test) plus the unfinished run so far');
  });

  it('a cell including an unfinished run is marked, from its last validation; test metrics only from finished runs', () => {
    const r = collectReport(def, 'small', { resultsDir: root });
    const lrpe = r.rows.find((x) => x.variant === 'lrpe')!;
    assert.deepEqual(lrpe.cells.val_ppl, { mean: 8.5, std: Math.sqrt(0.5), n: 2, unfinished: 1, diverged: 0, missing: 0, planned: 2 });
    assert.deepEqual(lrpe.cells.test_ppl, { mean: 7, std: null, n: 1, unfinished: 0, diverged: 0, missing: 1, planned: 2 });
    assert.equal(formatCell(lrpe.cells.val_ppl), '8.50 ± 0.71* (n=2)');
    assert.equal(formatCell(lrpe.cells.test_ppl), '7.00 (n=1 of 2, 1 missing)');
    assert.deepEqual(lrpe.values.test_ppl, { 0: 7 }, 'per-seed values of finished runs only');
    assert.deepEqual(
      lrpe.runs.map((x) => x.status),
      ['finished', 'unfinished'],
    );
    assert.equal(lrpe.runs[1].step, 3);
    const spe = r.rows.find((x) => x.variant === 'spe')!;
    assert.deepEqual(
      spe.runs.map((x) => x.status),
      ['missing', 'missing'],
    );
    assert.equal(formatCell(spe.cells.val_ppl), '— (n=0 of 2, 2 missing)');
    assert.equal(r.runsFinished, 3);
    assert.equal(r.runsTotal, 6);
  });

  it('the table puts the paper number beside ours where known, "—" elsewhere, and states scale, seeds, wall time', () => {
    const text = formatReports([collectReport(def, 'small', { resultsDir: root })], 'table');
    const lines = text.split('\n');
    const header = lines.find((l) => l.startsWith('variant'))!;
    assert.match(header, /val ppl\s+test ppl\s+paper test ppl/);
    const apeLine = lines.find((l) => l.startsWith('sinusoidal APE'))!;
    assert.match(apeLine, /11\.00 ± 1\.41 \(n=2\)\s+2\.00 ± 1\.41 \(n=2\)\s+62\.58 ± 0\.22 \(n=3\)/);
    assert.match(
      lines.find((l) => l.startsWith('LRPE rotation'))!,
      /8\.50 ± 0\.71\* \(n=2\)\s+7\.00 \(n=1 of 2, 1 missing\)\s+—/,
    );
    assert.match(text, /scale small · seeds 0,1 · 3\/6 runs finished · wall 42s/);
    assert.match(text, /\* includes unfinished runs .*lrpe seed 1 at step 3\/6/);
    const starts = (l: string) => (l.indexOf('val ppl') >= 0 ? l.indexOf('val ppl') : l.search(/\d/));
    assert.equal(starts(apeLine), starts(header), 'columns are aligned');
  });

  it('csv has one line per variant and metric; json round-trips the report', () => {
    const reports = [collectReport(def, 'small', { resultsDir: root })];
    const csv = formatReports(reports, 'csv').split('\n');
    assert.equal(csv.length, 1 + 3 * 2);
    assert.equal(csv[0], 'experiment,scale,variant,label,metric,mean,std,n,unfinished,diverged,missing,planned,paper_mean,paper_std,paper_n');
    assert.match(csv[2], /^test-report-lm,small,ape,sinusoidal APE,test_ppl,2,1\.414\d*,2,0,0,0,2,62\.58,0\.22,3$/);
    const json = JSON.parse(formatReports(reports, 'json'));
    assert.equal(json[0].rows[1].cells.val_ppl.unfinished, 1);
    assert.throws(() => formatReports(reports, 'xml' as never), /expected one of table, csv, json/);
  });

  it('rows no claim compares (supportSeeds) are planned with their own seeds: n=1 is not "2 missing", and the table says why', () => {
    const sroot = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-report-support-'));
    try {
      const base = tinyLmDefinition('test-report-support');
      const sdef = { ...base, scales: { ...base.scales, small: { ...base.scales.small, seeds: [0, 1, 2], supportSeeds: 1 } } };
      const write = (variant: string, seed: number, v: number) => {
        const dir = path.join(sroot, 'test-report-support', 'small', variant, `seed-${seed}`);
        fs.mkdirSync(dir, { recursive: true });
        const summary = {
          experiment: sdef.name,
          variant,
          scale: 'small',
          seed,
          dir,
          status: 'finished',
          metrics: { val_ppl: v, test_ppl: v },
          steps: 6,
          trainSec: 1,
          evalSec: 1,
        };
        fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(summary));
      };
      write('ape', 0, 10);
      write('ape', 1, 12); // a second seed run on request (--seeds): reported, not dropped
      write('lrpe', 0, 8);
      const r = collectReport(sdef, 'small', { resultsDir: sroot });
      const cell = (v: string) => r.rows.find((row) => row.variant === v)!.cells.test_ppl;
      assert.deepEqual([cell('ape').n, cell('ape').planned, cell('ape').missing], [2, 2, 0]);
      assert.deepEqual([cell('lrpe').n, cell('lrpe').planned, cell('lrpe').missing], [1, 1, 0]);
      assert.deepEqual([cell('spe').n, cell('spe').planned, cell('spe').missing], [0, 1, 1]);
      assert.equal(r.runsTotal, 4);
      const text = formatReports([r], 'table');
      assert.match(text, /LRPE rotation +8\.00 \(n=1\) /);
      assert.match(text, /1 run\(s\) not started/);
      assert.match(text, /fewer seeds by design \(no claim compares these rows; supportSeeds\): LRPE rotation, convSPE/);
    } finally {
      fs.rmSync(sroot, { recursive: true, force: true });
    }
  });
});
