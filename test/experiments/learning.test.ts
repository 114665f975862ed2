import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runExperiments, registerExperiment, unregisterExperiment, type ExperimentDefinition } from '../../src/experiments';
import { gutenberg, unigramEntropy } from '../../src/data';
import { tinyLmDefinition } from './fixtures';

describe('experiments: a tiny LM learns real text', function () {
  this.timeout(240000);
  const NAME = 'test-learning-lm';
  let root = '';
  before(() => {
    const base = tinyLmDefinition(NAME);
    const def: ExperimentDefinition = {
      ...base,
      // NoPE: with unscaled token embeddings (std 0.02) a unit-amplitude sinusoidal APE swamps the
      // token signal and delays learning by hundreds of updates.
      variants: { nope: { label: 'NoPE', attention: 'linear:elu+none', ape: 'none' } },
      paperNumbers: undefined,
      scales: {
        ...base.scales,
        smoke: {
          ...base.scales.smoke,
          model: 16,
          hidden: 32,
          length: 32,
          batchSize: 4,
          steps: 250,
          evalEvery: 250,
          evalSize: 32,
          schedule: { kind: 'constant', lr: 2e-2 },
        },
      },
    };
    registerExperiment(def);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'rpelab-learning-'));
  });
  after(() => {
    unregisterExperiment(NAME);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('after 250 updates on Gutenberg bytes, validation bits/byte are clearly below the unigram entropy', async () => {
    const out = await runExperiments({ experiments: [NAME], scale: 'smoke', resultsDir: root });
    const m = out.finished[0].metrics;
    const h = unigramEntropy(gutenberg('valid').bytes);
    assert.ok(h > 4 && h < 5, `unigram entropy ${h} bits`);
    const hTest = unigramEntropy(gutenberg('test').bytes);
    assert.ok(m.val_bpb < h - 0.2, `val ${m.val_bpb.toFixed(3)} bits/byte vs unigram ${h.toFixed(3)}`);
    assert.ok(m.test_bpb < hTest - 0.2, `test ${m.test_bpb.toFixed(3)} bits/byte vs unigram ${hTest.toFixed(3)}`);
  });
});
