import { strict as assert } from 'assert';
import { Throughput, formatCount, formatDuration, formatLr, formatProgress } from '../../src/train';
import { assertThrowsNaming } from '../helpers';

describe('train/progress', () => {
  it('formats a step event as one line', () => {
    const line = formatProgress({
      kind: 'step',
      step: 120,
      totalSteps: 500,
      loss: 2.3104,
      lr: 3e-4,
      gradNorm: 0.82345,
      tokensPerSec: 5123,
      etaSec: 72,
      elapsedSec: 30,
    });
    assert.equal(line, 'step 120/500 [##........] loss 2.31 lr 3e-4 |g| 0.823 tok/s 5.1k ETA 1m12s');
    const bare = formatProgress({ kind: 'step', step: 500, totalSteps: 500, loss: 0.01234, lr: 2.5e-4, gradNorm: 12, elapsedSec: 1 });
    assert.equal(bare, 'step 500/500 [##########] loss 0.0123 lr 2.5e-4 |g| 12');
  });

  it('formats the other events', () => {
    assert.equal(formatProgress({ kind: 'start', step: 0, totalSteps: 10, resumedFrom: null }), 'start at step 0/10');
    assert.equal(formatProgress({ kind: 'start', step: 4, totalSteps: 10, resumedFrom: 'ck/step-00000004' }), 'resume at step 4/10 from ck/step-00000004');
    assert.equal(formatProgress({ kind: 'eval', step: 10, totalSteps: 10, metrics: { acc: 0.81234, nll: 1.5 } }), 'eval step 10/10 acc 0.812 nll 1.5');
    assert.equal(formatProgress({ kind: 'checkpoint', step: 10, totalSteps: 10, path: 'ck/step-00000010' }), 'checkpoint step 10/10 -> ck/step-00000010');
    assert.equal(formatProgress({ kind: 'done', step: 7, totalSteps: 10, aborted: true, elapsedSec: 3725 }), 'stopped at step 7/10 in 1h02m');
    assertThrowsNaming(() => formatProgress({ kind: 'nope' } as never), /ev.kind/);
  });

  it('number formats', () => {
    assert.deepEqual([5, 72, 600, 3725, 0.4].map(formatDuration), ['5s', '1m12s', '10m00s', '1h02m', '0s']);
    assert.deepEqual([950, 5123, 2.3e6, 12.34, 0.5].map(formatCount), ['950', '5.1k', '2.3M', '12.3', '0.5']);
    assert.deepEqual([3e-4, 2.5e-4, 1e-7, 0.0125, 0].map(formatLr), ['3e-4', '2.5e-4', '1e-7', '1.25e-2', '0']);
  });

  it('throughput and ETA are smoothed ratios of moving sums', () => {
    const t = new Throughput(0.3);
    assert.equal(t.tokensPerSec(), undefined);
    t.update(10, 5000, 1);
    assert.equal(t.tokensPerSec(), 5000);
    assert.equal(t.eta(100), 10);
    t.update(10, 5000, 2); // slower interval: sums become 0.7·old + 0.3·new
    assert.ok(Math.abs(t.tokensPerSec()! - 5000 / 1.3) < 1e-9);
    assert.ok(Math.abs(t.eta(100)! - 100 * 0.13) < 1e-9);
    // Intervals of different lengths combine by their sums, not by per-interval rates.
    const u = new Throughput(1);
    u.update(5, 1000, 0.5);
    assert.equal(u.secondsPerStep(), 0.1);
    assertThrowsNaming(() => new Throughput(0), /smoothing/);
  });
});
