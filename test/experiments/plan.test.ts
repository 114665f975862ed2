import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  planRuns,
  runExperiments,
  registerExperiment,
  unregisterExperiment,
  scaleDirName,
  claimRows,
  getExperiment,
  validateSettings,
  remainingWork,
} from '../../src/experiments';
import { tinyLmDefinition } from './fixtures';
import { specKnobs } from '../../src/attention';
import { getEncoding, registerEncoding, unregisterEncoding, type EncodingDefinition } from '../../src/encodings';

function refused(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: Error) => patterns.every((p) => p.test(e.message)) || assert.fail(`message was: ${e.message}`));
}

describe('experiments: requests are checked before any training', () => {
  before(() => registerExperiment(tinyLmDefinition('test-plan-lm')));
  after(() => unregisterExperiment('test-plan-lm'));

  it('an unknown experiment is refused, listing the experiments', () => {
    refused(() => planRuns({ experiments: ['lrpe-nope'] }), /unknown experiment 'lrpe-nope'/, /lrpe-alm/, /spe-lra-text/);
  });

  it('an unknown variant is refused, listing the variants', () => {
    refused(() => planRuns({ experiments: ['test-plan-lm'], only: ['rope'] }), /unknown variant 'rope'/, /ape, lrpe, spe/);
  });

  it('an unknown scale is refused, listing the scales', () => {
    refused(() => planRuns({ experiments: ['test-plan-lm'], scale: 'huge' }), /unknown scale "huge"/, /smoke, quick, small, full/);
  });

  it('bad seeds are refused: negative, fractional, repeated or none', () => {
    for (const seeds of [[-1], [0.5], [1, 1], []]) refused(() => planRuns({ experiments: ['test-plan-lm'], seeds }), /seeds: expected/);
  });

  it('R < 1 is refused', () => {
    refused(() => planRuns({ experiments: ['test-plan-lm'], scale: 'smoke', overrides: { encoding: { R: 0 } } }), /encoding\.R/, />= 1/);
  });

  it('a conv kernel longer than the training length is refused', () => {
    refused(
      () => planRuns({ experiments: ['test-plan-lm'], scale: 'smoke', overrides: { encoding: { P: 17 } } }),
      /kernel size \(17\) is larger than the training length \(16\)/,
      /P <= 16/,
    );
    assert.equal(planRuns({ experiments: ['test-plan-lm'], scale: 'smoke', overrides: { encoding: { P: 16 } } }).length, 3);
  });

  it('an unknown override is refused, listing the settings', () => {
    refused(() => planRuns({ experiments: ['test-plan-lm'], overrides: { colour: 3 } as never }), /unknown setting 'colour'/, /steps/);
  });

  it("encoding knobs are the declared integer parameters: a new encoding's parameter is a knob of --set and of the scales without touching the experiments", () => {
    const knobs = specKnobs();
    for (const [k, where] of [
      ['R', 'spe.numRealizations'],
      ['K', 'spe.numSines'],
      ['P', 'spe.kernelSize'],
      ['F', 'linear.features'],
      ['max', 'relbias.maxDistance'],
    ])
      assert.equal(knobs.get(k), where);
    refused(
      () => planRuns({ experiments: ['test-plan-lm'], scale: 'smoke', overrides: { encoding: { Q: 3 } } }),
      /overrides.encoding: unknown knob 'Q'/,
      /R, /,
    );
    refused(
      () => planRuns({ experiments: ['test-plan-lm'], scale: 'smoke', overrides: { encoding: { K: 2.5 } } }),
      /overrides.encoding.K \(spe.numSines\): expected an integer >= 1, got 2.5/,
    );
    const rope = getEncoding('rope');
    const def = {
      ...rope,
      name: 'test-knob',
      params: [...rope.params, { name: 'zeta', type: 'int', aliases: ['Z'], min: 1, default: 3, doc: 'a test knob' }],
    } as EncodingDefinition;
    registerEncoding(def);
    const lm = tinyLmDefinition('test-knob-lm');
    lm.variants = { knob: { label: 'knob', attention: 'linear:elu+test-knob(Z={Z})', ape: 'none' } };
    lm.paperNumbers = {};
    lm.scales = Object.fromEntries(Object.entries(lm.scales).map(([k, v]) => [k, { ...v, encoding: { ...v.encoding, Z: 5 } }])) as unknown as typeof lm.scales;
    try {
      assert.equal(specKnobs().get('Z'), 'test-knob.zeta');
      registerExperiment(lm);
      assert.deepEqual(
        planRuns({ experiments: ['test-knob-lm'], scale: 'smoke' }).map((p) => p.spec),
        ['linear:elu+test-knob(Z=5)'],
      );
      assert.deepEqual(
        planRuns({ experiments: ['test-knob-lm'], scale: 'smoke', overrides: { encoding: { Z: 7 } } }).map((p) => p.spec),
        ['linear:elu+test-knob(Z=7)'],
      );
    } finally {
      unregisterExperiment('test-knob-lm');
      unregisterEncoding('test-knob');
    }
    assert.equal(specKnobs().has('Z'), false);
  });

  it('runExperiments rejects a bad request without creating anything', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-plan-'));
    try {
      await assert.rejects(
        runExperiments({ experiments: ['test-plan-lm'], scale: 'smoke', overrides: { encoding: { R: 0 } }, resultsDir: dir }),
        /encoding\.R/,
      );
      assert.deepEqual(fs.readdirSync(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rows that no claim compares run the scale's first supportSeeds seeds, claim rows every seed; an explicit --seeds list runs every row at each", () => {
    const def = getExperiment('spe-lra-image');
    const claimed = claimRows('spe-lra-image');
    assert.ok(claimed.has('relu-sinespe') && claimed.has('relu-ape') && !claimed.has('relu-convspe'), `claim rows: ${[...claimed].join(', ')}`);
    const small = def.scales.small;
    assert.equal(small.supportSeeds, 1);
    const seedsOf = (plans: ReturnType<typeof planRuns>, v: string) => plans.filter((p) => p.variantName === v).map((p) => p.seed);
    const plans = planRuns({ experiments: ['spe-lra-image'], scale: 'small', resultsDir: '/tmp/rpelab-plan-test' });
    assert.deepEqual(seedsOf(plans, 'relu-sinespe'), small.seeds);
    assert.deepEqual(seedsOf(plans, 'relu-convspe'), small.seeds.slice(0, 1));
    const explicit = planRuns({ experiments: ['spe-lra-image'], scale: 'small', seeds: [0, 1], resultsDir: '/tmp/rpelab-plan-test' });
    assert.deepEqual(seedsOf(explicit, 'relu-convspe'), [0, 1]);
    for (const bad of [0, 4, 1.5]) {
      refused(
        () => validateSettings(def, 'small', { ...small, supportSeeds: bad }),
        new RegExp(`small.supportSeeds: expected an integer in \\[1, 3\\] \\(the number of seeds\\), got ${bad}`),
      );
    }
  });

  it('plans variant x seed runs under <results>/<experiment>/<scale>/<variant>/seed-<n>', () => {
    const plans = planRuns({ experiments: ['test-plan-lm'], scale: 'small', resultsDir: '/r' });
    // Seed-major: every variant at seed 0, then every variant at seed 1.
    assert.deepEqual(
      plans.map((p) => path.relative('/r', p.dir)),
      [0, 1].flatMap((s) => ['ape', 'lrpe', 'spe'].map((v) => `test-plan-lm/small/${v}/seed-${s}`)),
    );
    assert.equal(plans[2].spec, 'linear:elu+spe(conv,P=4,R=4,gated)');
    assert.equal(scaleDirName('small', { steps: 20, encoding: { R: 4 } }), 'small+R=4,steps=20');
  });

  it('remainingWork predicts each unfinished run by the finished runs of its row (other seeds); rows with none are counted apart', () => {
    const plans = planRuns({ experiments: ['test-plan-lm'], scale: 'small', resultsDir: '/r' });
    const measured: Record<string, number> = { 'ape/seed-0': 10, 'lrpe/seed-0': 30, 'lrpe/seed-1': 50 };
    const w = remainingWork(plans, (dir) => measured[path.relative('/r/test-plan-lm/small', dir)] ?? null);
    // ape seed 1 is predicted at 10 s; spe has no finished run: seeds 0 and 1 unknown.
    assert.deepEqual(w, { finished: 3, finishedSec: 90, predicted: 1, predictedSec: 10, unknown: 2 });
    const none = remainingWork(plans, () => null);
    assert.deepEqual(none, { finished: 0, finishedSec: 0, predicted: 0, predictedSec: 0, unknown: 6 });
  });
});
