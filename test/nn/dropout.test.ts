import { strict as assert } from 'assert';
import { tf, Rng } from '../../src/backend';
import { dropout } from '../../src/nn';
import { assertThrowsNaming } from '../helpers';

describe('nn/dropout', () => {
  it('zeroes a fraction rate of elements and scales the rest by 1/(1-rate)', () => {
    tf.tidy(() => {
      const n = 20000;
      const y = dropout(tf.ones([n]), 0.3, new Rng(1), true).dataSync();
      let zeros = 0;
      for (const v of y) {
        if (v === 0) zeros++;
        else assert.ok(Math.abs(v - 1 / 0.7) < 1e-6, `kept value ${v}`);
      }
      const se = Math.sqrt((0.3 * 0.7) / n);
      assert.ok(Math.abs(zeros / n - 0.3) < 4 * se, `zero fraction ${zeros / n}`);
    });
  });

  it('repeats exactly from the same generator state; identity when not training', () => {
    tf.tidy(() => {
      const x = tf.tensor(new Rng(5).normalArray(2 * 3 * 4), [2, 3, 4]);
      const a = dropout(x, 0.5, new Rng(9), true).dataSync();
      const b = dropout(x, 0.5, new Rng(9), true).dataSync();
      assert.deepEqual(Array.from(a), Array.from(b));
      assert.notDeepEqual(Array.from(dropout(x, 0.5, new Rng(10), true).dataSync()), Array.from(a));
      const r = new Rng(3);
      const st = r.getState();
      assert.deepEqual(Array.from(dropout(x, 0.5, r, false).dataSync()), Array.from(x.dataSync()));
      assert.deepEqual(r.getState(), st, 'no draws in eval mode');
    });
  });

  it('gradient is the mask', () => {
    tf.tidy(() => {
      const x = tf.ones([50]);
      const y = dropout(x, 0.5, new Rng(2), true).dataSync();
      const g = tf
        .grad((t: tf.Tensor) => dropout(t, 0.5, new Rng(2), true).sum())(x)
        .dataSync();
      assert.deepEqual(Array.from(g), Array.from(y));
    });
  });

  it('rejects a bad rate, naming it, and does not leak', () => {
    tf.tidy(() => {
      assertThrowsNaming(() => dropout(tf.ones([2]), 1, new Rng(0), true), /rate: expected a finite number >= 0 and <= 0.999999, got 1/);
      assertThrowsNaming(() => dropout(tf.ones([2], 'int32'), 0.1, new Rng(0), true), /x: expected a float32 tensor/);
    });
    const x = tf.ones([8, 8]);
    const rng = new Rng(0);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) {
      tf.grad((t: tf.Tensor) => dropout(t, 0.2, rng, true).square().sum())(x).dispose();
      dropout(x, 0.2, rng, false).dispose();
    }
    assert.equal(tf.memory().numTensors, before);
    x.dispose();
  });
});
