import { strict as assert } from 'assert';
import { styleFeatures, cosineSimilarity, segmentSimilarity, median } from '../../src/experiments/continuation';
import { midiVocab } from '../../src/data';

describe('experiments: groove-continuation style similarity', () => {
  const v = midiVocab();
  const on = (p: number) => v.noteOn + p;
  const shift = (k: number) => v.timeShift + k - 1;

  it('style features: pitch-class and time-shift shares, each summing to 1', () => {
    const f = styleFeatures([on(60), on(72), on(64), shift(3), shift(3), shift(6), v.noteOff + 60, v.velocity + 4], v);
    assert.equal(f.length, 12 + v.maxShiftSteps);
    assert.ok(Math.abs(f[0] - 2 / 3) < 1e-12, 'C (60 and 72) is two of three notes');
    assert.ok(Math.abs(f[4] - 1 / 3) < 1e-12);
    assert.ok(Math.abs(f[12 + 2] - 2 / 3) < 1e-12, 'TIME_SHIFT 3 is two of three shifts');
    assert.equal(
      styleFeatures([v.bos, v.eos], v).reduce((a, b) => a + b, 0),
      0,
    );
  });

  it("a continuation in the prompt's style scores 1 in every segment; another style scores lower", () => {
    const groove = [on(60), shift(3), on(64), shift(3), on(67), shift(6)];
    const prompt = [...groove, ...groove];
    assert.deepEqual(
      segmentSimilarity(prompt, [...groove, ...groove], 2, v).map((x) => Math.round(x * 1e12) / 1e12),
      [1, 1],
    );
    const other = [on(61), shift(1), on(66), shift(1), on(68), shift(1)];
    const [same, diff] = segmentSimilarity(prompt, [...groove, ...other], 2, v);
    assert.ok(diff < same - 0.5, `${same} vs ${diff}`);
    assert.equal(cosineSimilarity([0, 0], [1, 0]), 0);
    assert.throws(() => segmentSimilarity(prompt, groove, 7, v), /segments: expected an integer in \[1, 6\]/);
    assert.throws(() => cosineSimilarity([1], [1, 2]), /b: expected 1 values/);
  });

  it('median of finite values', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, NaN, 2, 3]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });
});
