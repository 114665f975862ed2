import { strict as assert } from 'assert';
import { tf } from '../../src/backend';
import { runLayerCase } from '../../bench/suites/layer';
import { ENCODING_CASES } from '../../bench/cases';
import { RssSampler } from '../../bench/measure';

describe('bench layer suite', () => {
  let rss: RssSampler;
  before(() => {
    rss = new RssSampler();
  });
  after(async () => {
    await rss.stop();
  });

  // Every linear encoding the suite times measures at a short length: the leak check allows what a
  // layer keeps between calls (LRPE's constant tables) as long as the timed calls add nothing and
  // disposing the layer frees it (the LRPE points once failed the check for their cache).
  for (const name of ['none', 'lrpe-rotation', 'lrpe-permutation', 'lrpe-unitary', 'spe-sine']) {
    it(`${name}: a point is measured and the layer leaves no tensor behind`, async () => {
      const c = ENCODING_CASES.find((x) => x.name === name)!;
      const before = tf.memory().numTensors;
      const lines: string[] = [];
      const opts = { lengths: [32], reps: 2, budget: 30, caseSeconds: 5, topKernels: 0, backend: tf.getBackend(), log: (l: string) => lines.push(l) };
      const [p] = await runLayerCase(c, 'causal', opts, rss);
      assert.equal(p.error, undefined, lines.join('\n'));
      assert.equal(p.ms?.length, 2);
      assert.ok(p.msMedian! > 0);
      assert.equal(tf.memory().numTensors, before);
    });
  }
});
