import { strict as assert } from 'assert';
import { parseArgs, childArgv } from '../../bench/args';
import { QUICK_LENGTHS, DEFAULT_LENGTHS, ENCODING_NAMES } from '../../bench/cases';

describe('bench/args', () => {
  it('defaults run every suite, encoding and direction on every available backend', () => {
    const a = parseArgs([]);
    assert.deepEqual(a.suites, ['layer', 'overhead', 'train', 'micro', 'vs-torch']);
    assert.equal(a.backends, 'auto');
    assert.deepEqual(a.encodings, ENCODING_NAMES);
    assert.deepEqual(a.lengths, DEFAULT_LENGTHS);
    assert.equal(a.reps, 3);
    assert.equal(a.pairs, 9);
    assert.equal(a.baseline, false);
    assert.equal(a.pointTimeout, 3 * 30 + 60);
    assert.equal(parseArgs(['--budget', '10', '--point-timeout', '99']).pointTimeout, 99);
  });

  it('--quick shortens lengths, reps, budget and steps; explicit flags still win', () => {
    const q = parseArgs(['--quick']);
    assert.deepEqual(q.lengths, QUICK_LENGTHS);
    assert.equal(q.reps, 1);
    assert.equal(q.trainSteps, 2);
    assert.equal(q.pairs, 2);
    assert.equal(parseArgs(['--pairs', '5']).pairs, 5);
    assert.equal(parseArgs(['--quick', '--reps', '4']).reps, 4);
  });

  it('parses subsets and sorts lengths', () => {
    const a = parseArgs([
      '--suites',
      'layer,micro',
      '--backends',
      'wasm,cpu',
      '--encodings',
      'none,softmax',
      '--directions',
      'causal',
      '--lengths',
      '4096,1024',
    ]);
    assert.deepEqual(a.suites, ['layer', 'micro']);
    assert.deepEqual(a.backends, ['wasm', 'cpu']);
    assert.deepEqual(a.encodings, ['none', 'softmax']);
    assert.deepEqual(a.directions, ['causal']);
    assert.deepEqual(a.lengths, [1024, 4096]);
  });

  it('--targets collects result or summary files to read instead of running (repeatable)', () => {
    assert.deepEqual(parseArgs([]).targetsOf, []);
    assert.deepEqual(parseArgs(['--targets', 'a.json', '--targets', 'b.json']).targetsOf, ['a.json', 'b.json']);
    assert.throws(() => parseArgs(['--targets']), /--targets: expected a value/);
  });

  it('rejects unknown options and values, naming them', () => {
    assert.throws(() => parseArgs(['--fast']), /--fast: unknown option/);
    assert.throws(() => parseArgs(['--encodings', 'lrpe']), /--encodings: unknown 'lrpe'/);
    assert.throws(() => parseArgs(['--backends', 'gpu']), /--backends: unknown 'gpu'/);
    assert.throws(() => parseArgs(['--reps', '0']), /--reps: expected an integer >= 1, got '0'/);
    assert.throws(() => parseArgs(['--budget']), /--budget: expected a value/);
    assert.throws(() => parseArgs(['--tag', 'a/b']), /--tag: expected letters/);
  });

  it('childArgv round-trips the options for one backend, suite subset and part file', () => {
    const a = parseArgs(['--quick', '--encodings', 'none,rope', '--lengths', '512,2048', '--baseline', '--tag', 'x1']);
    const c = parseArgs(childArgv(a, 'wasm', '/tmp/p.json'));
    assert.equal(c.child, true);
    assert.equal(c.part, '/tmp/p.json');
    assert.deepEqual(c.backends, ['wasm']);
    const one = parseArgs(childArgv(a, 'cpu', 'x.json', { suites: ['layer'], encodings: ['rope'], directions: ['causal'] }));
    assert.deepEqual([one.suites, one.encodings, one.directions, one.backends], [['layer'], ['rope'], ['causal'], ['cpu']]);
    assert.equal(one.microIndex, null);
    assert.equal(parseArgs(childArgv(a, 'wasm', 'y.json', { suites: ['micro'], microIndex: 0 })).microIndex, 0);
    assert.equal(one.torchPart, null);
    assert.equal(parseArgs(childArgv(a, 'wasm', 'z.json', { suites: ['vs-torch'], torchPart: 'train' })).torchPart, 'train');
    assert.throws(() => parseArgs(['--torch-part', 'both']), /--torch-part: unknown 'both'; expected some of layer, train/);
    for (const k of [
      'quick',
      'suites',
      'encodings',
      'directions',
      'lengths',
      'reps',
      'pairs',
      'budget',
      'caseSeconds',
      'pointTimeout',
      'trainSteps',
      'baseline',
      'out',
      'topKernels',
      'tag',
    ] as const) {
      assert.deepEqual(c[k], a[k], k);
    }
  });
});
