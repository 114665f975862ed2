import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { getExperiment } from '../../src/experiments';
import { buildTask, type TaskInput } from '../../src/experiments/tasks';
import { SUBWORD_MASK } from '../../src/data';
import { assertThrowsNaming } from '../helpers';

describe('experiments: pretrain, then fine-tune (lrpe-imdb)', function () {
  this.timeout(120000);
  const input = (over: Partial<TaskInput['settings']> = {}, dataset?: string): TaskInput => {
    const experiment = getExperiment('lrpe-imdb');
    return {
      experiment: dataset ? { ...experiment, dataset: dataset as never } : experiment,
      variant: experiment.variants.nope,
      settings: { ...experiment.scales.smoke, ...over },
      spec: 'linear:elu+none',
      seed: 0,
    };
  };

  it('updates before pretrainSteps are masked-LM batches on the training reviews, later ones labelled batches; both losses train', () => {
    const t = input();
    const pre = t.settings.pretrainSteps!;
    assert.ok(pre > 0 && pre < t.settings.steps, `smoke pretrains ${pre} of ${t.settings.steps} updates`);
    const run = buildTask(t);
    const rng = new Rng(1);
    const before = tf.memory().numTensors;
    for (const step of [0, pre - 1, pre, t.settings.steps - 1]) {
      tf.tidy(() => {
        const b = run.nextBatch(step, rng) as { kind: string; inputs?: tf.Tensor; positions?: tf.Tensor; targets?: tf.Tensor; labels?: tf.Tensor };
        assert.equal(b.kind, step < pre ? 'mlm' : 'class', `step ${step}`);
        if (b.kind === 'mlm') {
          const ids = b.inputs!.dataSync();
          const positions = Array.from(b.positions!.dataSync());
          assert.ok(positions.length > 0 && positions.length === b.targets!.size, 'one target per masked position');
          assert.ok(
            positions.some((p) => ids[p] === SUBWORD_MASK),
            'the mask id appears at masked positions',
          );
          assert.ok(
            Array.from(ids).every((id, i) => id !== SUBWORD_MASK || positions.includes(i)),
            'the mask id appears nowhere else',
          );
        } else assert.deepEqual(b.labels!.shape, [t.settings.batchSize]);
        const loss = run.loss(b, { step, rng, training: true }).dataSync()[0];
        assert.ok(Number.isFinite(loss) && loss > 0, `step ${step}: loss ${loss}`);
        // The masked LM's loss is over the vocabulary, the classifier's over two classes.
        if (b.kind === 'mlm') assert.ok(loss > Math.log(2) * 2, `masked-LM loss ${loss} looks like a 2-class loss`);
      });
    }
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks from the batches');
    run.model.dispose();
  });

  it('pretrainSteps needs text to pretrain on and room to fine-tune', () => {
    assertThrowsNaming(() => buildTask(input({ pretrainSteps: 2, length: 16 }, 'listops')), /pretrainSteps: dataset 'listops' has no text/);
    assertThrowsNaming(() => buildTask(input({ pretrainSteps: 4, steps: 4 })), /pretrainSteps: expected fewer than the 4 updates/);
    assertThrowsNaming(() => buildTask(input({ vocabSize: undefined })), /vocabSize: dataset 'imdb-subwords' needs/);
  });
});
