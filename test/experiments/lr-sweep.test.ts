import { strict as assert } from 'assert';
import { chooseRates, formatSweep, checkRates, type SweepRow } from '../../src/experiments';
import { rowRanks, atChance } from '../../src/experiments/lr-sweep';
import { applyOverrides } from '../../src/experiments/plan';
import { SMALL } from '../../src/experiments/scales';
import { assertThrowsNaming } from '../helpers';

const row = (experiment: string, family: string, variant: string, better: 'higher' | 'lower', values: Array<number | null | 'diverged'>): SweepRow => ({
  experiment,
  family,
  variant,
  metric: better === 'lower' ? 'val_ppl' : 'val_acc',
  better,
  cells: values.map((v, i) => ({
    lr: [3e-3, 1e-2, 3e-2][i],
    value: typeof v === 'number' ? v : null,
    n: typeof v === 'number' ? 1 : 0,
    diverged: v === 'diverged' ? 1 : 0,
  })),
});

describe('experiments: learning-rate sweep', () => {
  it('picks per task family the rate with the best mean rank on the validation metric; diverged ranks last, missing does not vote', () => {
    const rows = [
      row('lrpe-alm', 'causal-lm', 'nope', 'lower', [12, 10, 11]),
      row('lrpe-alm', 'causal-lm', 'rope', 'lower', [12, 9, 'diverged']),
      row('lrpe-imdb', 'classification', 'nope', 'higher', [60, 70, 80]),
      row('lrpe-mnist', 'classification', 'nope', 'higher', [90, 'diverged', 95]),
      row('spe-lra-text', 'classification', 'nope', 'higher', [null, null, null]),
    ];
    const choices = chooseRates(rows);
    assert.deepEqual(
      choices.map((c) => [c.family, c.lr, c.rows]),
      [
        ['causal-lm', 1e-2, 2],
        ['classification', 3e-2, 2],
      ],
    );
    // causal-lm: nope ranks 3e-3, 1e-2, 3e-2 as 3, 1, 2; rope as 2, 1, 3 (diverged last).
    assert.deepEqual(choices[0].meanRank, { '0.003': 2.5, '0.01': 1, '0.03': 2.5 });
    const text = formatSweep(rows, choices);
    assert.match(text, /lrpe-alm\/rope\s+val_ppl \(lower\)\s+12\.00\s+9\.000\s+diverged \(1\)/);
    assert.match(text, /causal-lm: lr 0\.01 \(mean rank over 2 row\(s\)/);
    // A family with no finished run chooses nothing.
    assert.deepEqual(chooseRates([row('x', 'retrieval', 'a', 'higher', [null, null, null])]), [
      { family: 'retrieval', lr: null, meanRank: {}, rows: 0, atChance: 0 },
    ]);
  });

  it('ties share their mean rank; rows at chance at every rate do not vote; a family all at chance chooses nothing', () => {
    assert.deepEqual(rowRanks(row('a', 'f', 'x', 'higher', [34.77, 34.77, 17.77])), [1.5, 1.5, 3]);
    assert.deepEqual(rowRanks(row('a', 'f', 'x', 'lower', [5, 'diverged', 'diverged'])), [1, 2.5, 2.5]);
    assert.deepEqual(rowRanks(row('a', 'f', 'x', 'higher', [null, 70, null])), [2.5, 1, 2.5]);
    const chance = (r: SweepRow, c: number): SweepRow => ({ ...r, chance: c });
    const flat = chance(row('spe-lra-text', 'classification', 'relu-ape', 'higher', [49.41, 49.41, 49.41]), 50);
    const noisy = chance(row('spe-lra-text', 'classification', 'relu-spe', 'higher', [52, 49, 64.9]), 50);
    const learns = chance(row('lrpe-imdb', 'classification', 'ape', 'higher', [62, 75, 78]), 50);
    const listops = chance(row('spe-lra-listops', 'classification', 'ape', 'higher', [34.77, 34.77, 17.77]), 10);
    assert.deepEqual([flat, noisy, learns, listops].map(atChance), [true, true, false, false]);
    assert.equal(rowRanks(flat), null);
    const [c] = chooseRates([flat, noisy, learns, listops]);
    assert.deepEqual([c.lr, c.rows, c.atChance], [1e-2, 2, 2]);
    assert.deepEqual(c.meanRank, { '0.003': 2.25, '0.01': 1.75, '0.03': 2 });
    assert.match(
      formatSweep([flat, noisy, learns, listops], [c]),
      /classification: lr 0\.01 \(mean rank over 2 row\(s\): .*; 2 row\(s\) at chance at every rate do not vote\)/,
    );
    const [none] = chooseRates([flat, noisy]);
    assert.deepEqual([none.lr, none.rows, none.atChance], [null, 0, 2]);
    assert.match(
      formatSweep([flat, noisy], [none]),
      /classification: no choice: every row is at chance at every rate \(2 row\(s\)\); the rate cannot be chosen at this scale/,
    );
  });

  it('the lr override scales the schedule (floor with it); rates are checked', () => {
    const s = applyOverrides(SMALL, { lr: 3e-3 });
    assert.equal(s.schedule.kind, 'cosine');
    const base = SMALL.schedule as { lr: number; floor: number };
    const got = s.schedule as { lr: number; floor: number };
    assert.equal(got.lr, 3e-3);
    assert.ok(Math.abs(got.floor / got.lr - base.floor / base.lr) < 1e-12, `floor ${got.floor} keeps its ratio to the peak`);
    assert.deepEqual({ ...s.schedule, lr: base.lr, floor: base.floor }, SMALL.schedule, 'nothing else of the schedule changes');
    assert.deepEqual(SMALL.schedule.lr, base.lr, 'the scale itself is unchanged');
    assertThrowsNaming(() => applyOverrides(SMALL, { lr: 2 }), /overrides\.lr: expected a learning rate in \(0, 1\)/);
    assert.deepEqual(checkRates([1e-2, 3e-3]), [3e-3, 1e-2]);
    assertThrowsNaming(() => checkRates([1e-2]), /lrs: expected at least two/);
    assertThrowsNaming(() => checkRates([1e-2, 1e-2]), /lrs: expected distinct/);
    assertThrowsNaming(() => checkRates([1e-2, -1]), /lrs: expected learning rates in \(0, 1\)/);
  });
});
