import { strict as assert } from 'assert';
import * as os from 'os';
import * as path from 'path';
import {
  CLAIMS,
  collectClaims,
  judgeComparison,
  combineVerdicts,
  validateClaims,
  claimExperiments,
  formatLedger,
  getExperiment,
  meanStd,
  type Comparison,
  type ExperimentReport,
  type ClaimDefinition,
  type ReportRow,
} from '../../src/experiments';

/**
 * A report of `experiment` from per-seed values of one metric: `rows[variant] = [v0, v1, ...]`,
 * a null value standing for a diverged seed.
 */
function fakeReport(experiment: string, metric: string, rows: Record<string, Array<number | null>>): ExperimentReport {
  const def = getExperiment(experiment);
  const seeds = [0, 1, 2];
  const reportRows: ReportRow[] = Object.keys(def.variants).map((variant) => {
    const vals = rows[variant] ?? [];
    const finite = vals.map((v, seed) => [seed, v] as const).filter((x): x is readonly [number, number] => x[1] !== null);
    const diverged = vals.filter((v) => v === null).length;
    return {
      variant,
      label: def.variants[variant].label,
      cells: {
        [metric]: {
          ...meanStd(finite.map(([, v]) => v)),
          n: finite.length,
          unfinished: 0,
          diverged,
          missing: seeds.length - finite.length - diverged,
          planned: seeds.length,
        },
      },
      values: { [metric]: Object.fromEntries(finite) },
      paper: {},
      runs: seeds.map((seed) => ({
        seed,
        status: seed >= vals.length ? ('missing' as const) : vals[seed] === null ? ('diverged' as const) : ('finished' as const),
        step: null,
        totalSteps: null,
        wallSec: null,
      })),
      support: false,
    };
  });
  return {
    experiment,
    paper: def.paper,
    title: def.title,
    source: def.source,
    task: def.task,
    dataset: def.dataset,
    scale: 'small',
    seeds,
    runsFinished: 0,
    runsTotal: 0,
    wallSec: 0,
    metrics: def.metrics,
    rows: reportRows,
    curves: {},
    curveSeeds: {},
    notes: [],
  };
}

const ALM: Comparison = { experiment: 'lrpe-alm', metric: 'test_ppl', treatment: 'lrpe-unitary-learned', baseline: 'rope', expect: 'better' };

describe('experiments: the claims ledger (verdicts computed from results)', () => {
  it('a clear win is supported: paired by seed, the improvement interval excludes 0', () => {
    const r = judgeComparison(ALM, fakeReport('lrpe-alm', 'test_ppl', { 'lrpe-unitary-learned': [9.0, 9.5, 9.2], rope: [10.0, 10.6, 10.1] }));
    assert.equal(r.verdict, 'supported', r.reason);
    assert.equal(r.interval!.method, 'paired');
    // Differences 1.0, 1.1, 0.9: mean 1.0, sd 0.1, t(0.975, 2) = 4.3027 -> half-width 0.2484.
    assert.ok(Math.abs(r.interval!.estimate - 1.0) < 1e-9);
    assert.ok(Math.abs(r.interval!.hi - r.interval!.estimate - (4.302652729749464 * 0.1) / Math.sqrt(3)) < 1e-9);
  });

  it('a clear loss is contradicted; for accuracy, higher is better', () => {
    const loss = judgeComparison(ALM, fakeReport('lrpe-alm', 'test_ppl', { 'lrpe-unitary-learned': [11.0, 11.6, 11.1], rope: [10.0, 10.6, 10.1] }));
    assert.equal(loss.verdict, 'contradicted', loss.reason);
    const acc: Comparison = { experiment: 'lrpe-fashion-mnist', metric: 'test_acc', treatment: 'lrpe-unitary-learned', baseline: 'nope', expect: 'better' };
    const win = judgeComparison(acc, fakeReport('lrpe-fashion-mnist', 'test_acc', { 'lrpe-unitary-learned': [80, 81, 82], nope: [70, 70.5, 72] }));
    assert.equal(win.verdict, 'supported', win.reason);
    assert.ok(win.interval!.estimate > 0);
  });

  it('overlapping results are inconclusive: the interval contains 0', () => {
    const r = judgeComparison(ALM, fakeReport('lrpe-alm', 'test_ppl', { 'lrpe-unitary-learned': [9.0, 10.5, 9.8], rope: [9.9, 9.6, 10.0] }));
    assert.equal(r.verdict, 'inconclusive');
    assert.match(r.reason, /contains 0/);
  });

  it('a classification task at chance is inconclusive "at chance", whatever the intervals say', () => {
    const c: Comparison = { experiment: 'lrpe-imdb', metric: 'test_acc', treatment: 'lrpe-unitary-learned', baseline: 'nope', expect: 'better' };
    const r = judgeComparison(c, fakeReport('lrpe-imdb', 'test_acc', { 'lrpe-unitary-learned': [52.0, 52.1, 52.2], nope: [50.0, 50.1, 50.0] }));
    assert.equal(r.verdict, 'inconclusive');
    assert.match(r.reason, /^at chance: the best row reaches 52\.10 % against chance 50 % \(needs 65 %\)/);
    const combined = combineVerdicts([r, r]);
    assert.equal(combined.verdict, 'inconclusive');
    assert.match(combined.reason, /^at chance/);
  });

  it('a diverged seed is counted and left out of the interval; too few seeds left is inconclusive', () => {
    const two = judgeComparison(ALM, fakeReport('lrpe-alm', 'test_ppl', { 'lrpe-unitary-learned': [9.0, null, 9.2], rope: [10.0, 10.6, 10.1] }));
    assert.deepEqual(two.diverged, [1, 0]);
    assert.equal(two.interval!.n, 2, 'paired over the two seeds both sides finished');
    assert.match(two.reason, /diverged runs: 1 of the treatment, 0 of the baseline/);
    const one = judgeComparison(ALM, fakeReport('lrpe-alm', 'test_ppl', { 'lrpe-unitary-learned': [9.0, null, null], rope: [10.0, 10.6, 10.1] }));
    assert.equal(one.verdict, 'inconclusive');
    assert.match(one.reason, /fewer than 2 finished seeds \(1 and 3\)/);
    const none = judgeComparison(ALM, fakeReport('lrpe-alm', 'test_ppl', { rope: [10.0, 10.6, 10.1] }));
    assert.equal(none.verdict, 'not run');
    assert.match(none.reason, /^no finished run of LRPE unitary \(learned θ\)/);
  });

  it('finished runs that lack the compared metric (a scale that does not measure it) are "not run", saying so', () => {
    // Runs finished with test_ppl only; the comparison asks for test_bpb.
    const report = fakeReport('lrpe-alm', 'test_ppl', { 'lrpe-unitary-learned': [9.0, 9.5, 9.2], rope: [10.0, 10.6, 10.1] });
    const r = judgeComparison({ ...ALM, metric: 'test_bpb' }, report);
    assert.equal(r.verdict, 'not run');
    assert.match(r.reason, /^the finished runs of LRPE unitary \(learned θ\) have no test_bpb: not measured at this scale/);
    assert.match(combineVerdicts([r, r]).reason, /have no test_bpb: not measured at this scale/);
  });

  it('equivalence: inside the margin is supported, clearly outside contradicted; derived metrics subtract per seed', () => {
    const eq: Comparison = {
      experiment: 'lrpe-p-ablation',
      metric: 'test_ppl',
      treatment: 'rotation-householder',
      baseline: 'rotation-identity',
      expect: 'equivalent',
      margin: 0.02,
    };
    const same = judgeComparison(
      eq,
      fakeReport('lrpe-p-ablation', 'test_ppl', { 'rotation-householder': [10.0, 10.1, 10.05], 'rotation-identity': [10.02, 10.08, 10.06] }),
    );
    assert.equal(same.verdict, 'supported', same.reason);
    const far = judgeComparison(
      eq,
      fakeReport('lrpe-p-ablation', 'test_ppl', { 'rotation-householder': [12.0, 12.1, 12.05], 'rotation-identity': [10.02, 10.08, 10.06] }),
    );
    assert.equal(far.verdict, 'contradicted', far.reason);
    // nll_8x − nll_1x per seed: the APE model's NLL rises by 1.0 past L, SPE's by 0.1.
    const rep = fakeReport('extrapolation-midi', 'nll_8x', { 'sinespe-ungated': [2.1, 2.2, 2.15], ape: [3.0, 3.1, 3.05] });
    for (const row of rep.rows) row.values.nll_1x = { 0: 2.0, 1: 2.1, 2: 2.05 };
    const ex: Comparison = {
      experiment: 'extrapolation-midi',
      metric: 'nll_8x',
      minus: 'nll_1x',
      better: 'lower',
      treatment: 'sinespe-ungated',
      baseline: 'ape',
      expect: 'better',
    };
    const r = judgeComparison(ex, rep);
    assert.equal(r.verdict, 'supported', r.reason);
    assert.ok(Math.abs(r.interval!.estimate - 0.9) < 1e-9);
  });

  it('a claim is contradicted by any contradicted comparison, supported only when all are', () => {
    const win = judgeComparison(ALM, fakeReport('lrpe-alm', 'test_ppl', { 'lrpe-unitary-learned': [9.0, 9.5, 9.2], rope: [10.0, 10.6, 10.1] }));
    const loss = judgeComparison(ALM, fakeReport('lrpe-alm', 'test_ppl', { 'lrpe-unitary-learned': [11.0, 11.6, 11.1], rope: [10.0, 10.6, 10.1] }));
    const tie = judgeComparison(ALM, fakeReport('lrpe-alm', 'test_ppl', { 'lrpe-unitary-learned': [9.0, 10.5, 9.8], rope: [9.9, 9.6, 10.0] }));
    assert.equal(combineVerdicts([win, win]).verdict, 'supported');
    assert.equal(combineVerdicts([win, loss, tie]).verdict, 'contradicted');
    assert.equal(combineVerdicts([win, tie]).verdict, 'inconclusive');
    assert.match(combineVerdicts([win, tie]).reason, /1 supported, 1 inconclusive/);
  });

  it('every claim names existing experiments, rows and metrics; the claim tables run 3 seeds at small scale', () => {
    validateClaims();
    for (const name of claimExperiments()) assert.ok(getExperiment(name).scales.small.seeds.length >= 3, name);
    const bad: ClaimDefinition = { id: 'x', paper: 'rpelab', claim: 'x', where: 'x', comparisons: [{ ...ALM, baseline: 'nope-nope' }] };
    assert.throws(() => validateClaims([bad]), /claims\.x: experiment 'lrpe-alm' has no variant 'nope-nope'/);
    const ids = CLAIMS.map((c) => c.id);
    for (const id of [
      'lrpe-causal-lm',
      'lrpe-bidirectional-lm',
      'lrpe-text-classification',
      'lrpe-image-classification',
      'lrpe-p-ablation',
      'lrpe-learned-theta',
      'spe-lra-listops',
      'spe-lra-text',
      'spe-lra-retrieval',
      'spe-lra-image',
      'spe-extrapolation',
      'spe-gating',
      'spe-expected-kernel',
      'linear-complexity',
    ]) {
      assert.ok(ids.includes(id), id);
    }
  });

  it('the ledger reads the reports it is given and formats every claim with its verdict', async () => {
    const reports = { 'lrpe-alm': fakeReport('lrpe-alm', 'test_ppl', { 'lrpe-unitary-learned': [9.0, 9.5, 9.2], rope: [10.0, 10.6, 10.1] }) };
    const claims = CLAIMS.filter((c) => c.id === 'lrpe-causal-lm' || c.id === 'spe-groove-continuation');
    const ledger = await collectClaims('small', { claims, reports, exact: false, resultsDir: path.join(os.tmpdir(), 'rpelab-no-results') });
    assert.equal(ledger.claims[0].comparisons.find((c) => c.comparison.baseline === 'rope')!.verdict, 'supported');
    assert.equal(ledger.claims[0].verdict, 'inconclusive', 'the other baselines have no runs');
    assert.equal(ledger.claims[1].verdict, 'not run');
    assert.equal(ledger.counts['not run'], 1);
    const text = formatLedger(ledger, 'table');
    assert.match(text, /^\[INCONCLUSIVE\] lrpe-causal-lm \(LRPE\)/m);
    assert.match(text, /supported\s+lrpe-alm test_ppl: LRPE unitary \(learned θ\) better than RoPE: 1\.00 \[0\.752, 1\.25\] \(paired, n 3\)/);
    assert.match(formatLedger(ledger, 'markdown'), /\| \*\*not run\*\* \|/);
    assert.equal(JSON.parse(formatLedger(ledger, 'json')).claims.length, 2);
  });
});
