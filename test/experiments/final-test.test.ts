import { strict as assert } from 'assert';
import { getExperiment } from '../../src/experiments';
import { resolveSpec } from '../../src/experiments/registry';
import { buildTask, type TaskInput } from '../../src/experiments/tasks';

describe("experiments: the final test reuses the loop's last validation", function () {
  this.timeout(120000);
  const input = (key: string): TaskInput => {
    const experiment = getExperiment(key);
    const variant = Object.values(experiment.variants)[0];
    const settings = experiment.scales.smoke;
    return { experiment, variant, settings, spec: resolveSpec(variant.attention, settings.encoding), seed: 0 };
  };

  // One experiment per task family: causal LM, masked LM, classification, retrieval.
  for (const key of ['lrpe-alm', 'lrpe-blm', 'spe-lra-listops', 'spe-lra-retrieval']) {
    it(`${key}: test(validated) keeps the given validation numbers; test() recomputes the same ones`, () => {
      const run = buildTask(input(key));
      try {
        const validated = run.validate();
        const keys = Object.keys(validated);
        assert.ok(keys.length > 0 && keys.every((k) => k.startsWith('val_')), `validation keys ${keys}`);
        const recomputed = run.test().metrics;
        for (const k of keys) assert.equal(recomputed[k], validated[k], `${k}: a second evaluation of the same model gives the same number`);
        const sentinel = Object.fromEntries(keys.map((k) => [k, -1]));
        const reused = run.test(sentinel).metrics;
        for (const k of keys) assert.equal(reused[k], -1, `${k} is taken from the loop, not recomputed`);
        const testKeys = Object.keys(recomputed).filter((k) => !k.startsWith('val_'));
        assert.ok(testKeys.length > 0, 'the test numbers are still computed');
        for (const k of testKeys) assert.equal(reused[k], recomputed[k], k);
      } finally {
        run.model.dispose();
      }
    });
  }
});
